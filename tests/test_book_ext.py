"""book/_ext/zfviz_figures.py: a table or text beside a captioned figure is not a numbered figure; an image is."""

import importlib.util
from pathlib import Path

from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

spec = importlib.util.spec_from_file_location("zfviz_figures", Path(__file__).parents[1] / "book" / "_ext" /
                                              "zfviz_figures.py")
ext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ext)


def _figure(mime: str) -> nodes.figure:
    bundle = nodes.container(nb_element="mime_bundle")
    bundle += nodes.container(mime_type=mime)
    bundle[0] += nodes.paragraph(text=f"an output of type {mime}")
    return nodes.figure("", bundle, nodes.caption(text="the caption"))


def test_only_image_outputs_stay_figures():
    doc = new_document("<test>", get_default_settings(Parser))
    doc += [_figure("text/html"), _figure("image/png"), _figure("text/markdown")]
    ext.TextIsNotAFigure(doc).apply()
    figures = list(doc.findall(nodes.figure))
    assert len(figures) == 1 and "image/png" in figures[0].astext()
    assert len(list(doc.findall(nodes.caption))) == 1
    assert "text/html" in doc.astext() and "text/markdown" in doc.astext()  # unwrapped, not dropped
