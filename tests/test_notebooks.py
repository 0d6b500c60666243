"""Every chapter notebook executes end to end in the smoke profile (papermill), and the site builds from them."""

import os

import nbformat
import pytest

from zfviz import book
from zfviz.data import find_split


def _data_or_skip():
    try:
        find_split("imagenette", "train")
    except FileNotFoundError as e:
        if os.environ.get("ZFVIZ_REQUIRE_DATA"):
            raise
        pytest.skip(f"no Imagenette found ({e}); set ZFVIZ_DATA")


@pytest.mark.slow
@pytest.mark.parametrize("name", book.chapters())
def test_chapter_runs_in_smoke_profile(name, tmp_path):
    _data_or_skip()
    out = book.execute(name, tmp_path, {"profile": "smoke"}, progress=False)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    text = "".join(str(o.get("data", {}).get("text/markdown", "")) for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "Verdict:" in text, "every chapter ends with a verdict"
    assert any("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_chapters_have_parameters_cell():
    import jupytext

    for name in book.chapters():
        nb = jupytext.read(book.NOTEBOOKS / f"{name}.py")
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and "profile" in tagged[0].source, name


def test_unknown_chapter_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown chapter 'fig99'; chapters: 01_training"):
        book.execute("fig99", tmp_path, {})


def test_bad_parameter_stops_with_one_clear_error(tmp_path):
    import papermill

    _data_or_skip()
    with pytest.raises(papermill.PapermillExecutionError, match="unknown profile 'laptop'; valid profiles"):
        book.execute("01_training", tmp_path, {"profile": "laptop"}, progress=False)
    assert not list(tmp_path.glob("*.ipynb")), "no half-written notebook is left behind"
