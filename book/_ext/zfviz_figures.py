"""A Sphinx transform for the book: myst-nb wraps *every* output of a cell with a figure caption in a numbered figure,
so a table or a line of text shown beside the figure got its own copy of the caption and a figure number. This keeps
the figure (and its number) for image outputs only and unwraps the others."""

from docutils import nodes
from sphinx.transforms import SphinxTransform


class TextIsNotAFigure(SphinxTransform):
    default_priority = 200  # while reading, before Sphinx numbers the figures

    def apply(self) -> None:
        for fig in list(self.document.findall(nodes.figure)):
            # at read time a notebook output is a mime bundle (its children carry "mime_type"), not yet an image
            if not any(isinstance(n, nodes.image) or str(n.get("mime_type", "")).startswith("image/")
                       for n in fig.findall(nodes.Element)):
                fig.replace_self([c for c in fig.children if not isinstance(c, (nodes.caption, nodes.legend))])


def setup(app):
    app.add_transform(TextIsNotAFigure)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
