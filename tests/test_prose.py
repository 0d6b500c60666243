"""No stale prose: the counts still typed in the book's prose are checked against what they describe (the data on
disk, the chapters' declared parameters, the committed results). Every other number a reader sees is rendered by a
cell from parameters or results."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pytest

from zfviz.book import execute as book

REPO = Path(__file__).resolve().parents[1]


def _files(split: Path) -> int:
    return sum(1 for p in split.rglob("*") if p.is_file() and p.suffix.lower() in (".jpeg", ".jpg", ".png"))


def _data() -> Path:
    root = Path(os.environ.get("ZFVIZ_DATA") or REPO.parent / "shared" / "data")
    if not (root / "imagenette-224").is_dir():
        pytest.skip("no offline data beside the checkout to count")
    return root


def _param(chapter: str, name: str):
    return ast.literal_eval(book.declared_parameters(chapter)[name])


# (file, the text as typed, what it must equal)
TYPED = [
    ("book/intro.md", "9,469 train / 3,925 val images",
     lambda d: f"{_files(d / 'imagenette-224' / 'train'):,} train / {_files(d / 'imagenette-224' / 'val'):,} val images"),
    ("notebooks/10_tables4_6_transfer.py", "Imagewoof (10 dog breeds, 3,929 images)",
     lambda d: f"Imagewoof (10 dog breeds, {_files(d / 'imagewoof-224' / 'val'):,} images)"),
    ("notebooks/10_tables4_6_transfer.py", "1 / 2 / 5 / 10 training images per class",
     lambda d: " / ".join(map(str, _param("10_tables4_6_transfer", "per_class"))) + " training images per class"),
    ("notebooks/11_table7_probes.py", "with 30 and 60 images per class",
     lambda d: "with " + " and ".join(map(str, _param("11_table7_probes", "per_class"))) + " images per class"),
    ("notebooks/11_table7_probes.py", "5 random splits",
     lambda d: f"{_param('11_table7_probes', 'splits')} random splits"),
]


@pytest.mark.parametrize("path,typed,truth", TYPED, ids=[t[1][:30] for t in TYPED])
def test_typed_counts_are_true(path, typed, truth):
    text = (REPO / path).read_text()
    assert typed in text, f"{path} no longer says {typed!r}: update this test's list"
    assert typed == truth(_data()), f"{path}: typed {typed!r}, true {truth(_data())!r}"


def test_the_atlas_shows_the_chapters_network():
    """The committed atlas's run is the run the committed chapters use (chapter 02 names it)."""
    prov = json.loads((REPO / "book" / "atlas" / "provenance.json").read_text())
    nb = json.loads((book.RESULTS / "02_fig2_top9.ipynb").read_text())
    shown = "\n".join("".join(o.get("data", {}).get("text/markdown", "")) for c in nb["cells"]
                      for o in c.get("outputs", []))
    runs = set(re.findall(r"`(zf-[a-z-]+-s0-[0-9a-f]{10})`", shown))
    assert runs == {prov["run"]}, (runs, prov)
    for page in ("index.md", "conv1.md", "conv5.md"):
        assert prov["run"] in (REPO / "book" / "atlas" / page).read_text()


def test_captions_do_not_start_with_a_figure_number():
    """Sphinx numbers every figure; a caption that starts with the paper's number reads 'Fig. 7 Fig. 4 ...'. The
    paper's number goes at the end, as '(the paper's Fig. 4)'."""
    import re
    from pathlib import Path

    bad = [(p.name, m.group(1)[:40]) for p in sorted(Path(__file__).parents[1].glob("notebooks/*.py"))
           for m in re.finditer(r'"caption": "([^"]*)"', p.read_text())
           if re.match(r"(Fig\.|Figure|Table)s? ?\d", m.group(1))]
    assert not bad, bad
