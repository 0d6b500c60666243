"""Paper geometry on a CPU: the chapters whose code depends on the crop, the width or the map sizes, executed at the
``paper-smoke`` profile (the gpu profile's 224 px crops of 256 px, full width, the paper's init, on 2 images per
class), one seed each. ``make test-paper`` executes every chapter at it."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

from zfviz.book import execute as book


@pytest.fixture(scope="module")
def paper_runs(tmp_path_factory) -> Path:
    """One runs folder for the module: the chapters read the same few paper-smoke runs (ZF s0 above all), which the
    first chapter that needs one trains and the others load, as in a book build (each chapter training its own copy
    cost chapter 04 58 s against 28 s loading it, 2026-12-01)."""
    return tmp_path_factory.mktemp("paper-runs")


@pytest.mark.slow
@pytest.mark.parametrize("name", book.PAPER_GEOMETRY_CHAPTERS)
def test_chapter_runs_at_paper_geometry(name, imagenette_here, tmp_path, shared_cache, paper_runs, monkeypatch):
    monkeypatch.setenv("ZFVIZ_CACHE", str(shared_cache))  # every chapter decodes the same 224 px splits
    monkeypatch.setenv("ZFVIZ_RUNS", str(paper_runs))
    t0 = time.perf_counter()
    params = {"profile": "paper-smoke"} | book.PAPER_SMOKE_PARAMETERS.get(name, {})
    path = book.execute(name, tmp_path, params, progress=False)
    nb = nbformat.read(path, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("**Verdict" in o.get("data", {}).get("text/markdown", "") for o in outputs)
    # the page says which weights it rests on (the verified runs it loaded), and no path of this machine
    prov = nb.metadata["zfviz"]["provenance"]
    assert prov["profile"] == "paper-smoke" and prov["runs"] and all(len(r["sha256"]) == 64 for r in prov["runs"])
    assert "zfviz-provenance" in nb.cells[-1].metadata["tags"] and prov["runs"][0]["sha256"][:12] in nb.cells[-1].source
    assert str(tmp_path) not in path.read_text() and not nb.metadata["papermill"]["input_path"].startswith("/")
    print(f"{name} at paper geometry: {time.perf_counter() - t0:.0f} s")
