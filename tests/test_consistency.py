"""The committed book as one artifact (issue 45): every chapter, the atlas and the records agree on the weights of every
run they name and on the numbers they quote, rest on one realization, and carry no path of the executing machine."""

from __future__ import annotations

import json

import nbformat
import pandas as pd
import pytest

from zfviz.book import execute as book
from zfviz.book.consistency import check_book


@pytest.mark.xfail(strict=True, reason="the book is not yet re-executed on one realization (issue 45 item 5): the "
                   "retrained runs are still in the queue; remove this mark when the re-execution lands")
def test_the_committed_book_is_one_artifact():
    assert check_book() == []


def _page(folder, name, runs):
    nb = nbformat.v4.new_notebook()
    nb.metadata["zfviz"] = {"provenance": {"runs": runs}}
    nb.metadata["papermill"] = {"input_path": f"notebooks/{name}.py"}
    nbformat.write(nb, folder / f"{name}.ipynb")


def _record(records, run, sha, realization, val10):
    (records / run).mkdir(parents=True)
    (records / run / "weights.json").write_text(json.dumps({"snapshots": {"20": sha}, "realization": realization}))
    pd.DataFrame([{"epoch": 20, "val_top1": 75.0, "val10_top1": val10, "train_top1": 80.0}]).to_csv(
        records / run / "metrics.csv", index=False)


@pytest.fixture
def one_book(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "chapters", lambda: ["01_a", "02_b"])
    results, atlas, records = tmp_path / "results", tmp_path / "atlas", tmp_path / "records"
    for d in (results, atlas):
        d.mkdir()
    run = {"run": "zf-cpu-s0-0123456789", "epoch": 20, "sha256": "a" * 64, "realization": "r1", "source": "weights",
           "val10_top1": 77.0}
    _page(results, "01_a", [run])
    _page(results, "02_b", [run])
    (atlas / "provenance.json").write_text(json.dumps({"run": run["run"], "epochs": 20, "sha256": "a" * 64,
                                                       "realization": "r1"}))
    _record(records, run["run"], "a" * 64, "r1", 77.0)
    return results, atlas, records, run


def test_a_consistent_book_passes(one_book):
    results, atlas, records, _ = one_book
    assert check_book(results, atlas, records) == []


def test_other_weights_another_realization_or_another_number_are_each_named(one_book):
    results, atlas, records, run = one_book
    _page(results, "02_b", [run | {"sha256": "b" * 64, "realization": "r2", "val10_top1": 76.9}])
    problems = "\n".join(check_book(results, atlas, records))
    assert "different weights in 01_a (aaaaaaaaaaaa), 02_b (bbbbbbbbbbbb)" in problems
    assert "rests on 2 realizations: r1, r2" in problems and "val10_top1 differs" in problems


def test_a_page_without_provenance_or_with_a_machines_path_fails(one_book):
    results, atlas, records, run = one_book
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"input_path": "/work/main/runs/par/.01_a.input.ipynb"}
    nbformat.write(nb, results / "01_a.ipynb")
    problems = "\n".join(check_book(results, atlas, records))
    assert "01_a: no provenance" in problems and "01_a: carries paths of the machine" in problems


def test_a_page_names_the_commit_its_execution_started_from(tmp_path, monkeypatch):
    """An edit landed while a chapter runs must not be credited with that chapter's numbers: the footer names the
    commit (and date) at the start, not at the end."""
    import papermill

    from zfviz.core import machine

    ran = []
    monkeypatch.setattr(machine, "source_commit", lambda: "bad-at-end" if ran else "c0ffee-at-start")

    def fake_execute(src, out, **kw):  # the chapter runs; meanwhile the code moves on
        ran.append(1)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
        nbformat.write(nb, out)

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    name = book.chapters()[0]
    out = book.execute(name, tmp_path, {"profile": "smoke"}, progress=False)
    prov = nbformat.read(out, as_version=4).metadata["zfviz"]["provenance"]
    assert prov["commit"] == "c0ffee-at-start"
    assert "c0ffee-at-start"[:12] in nbformat.read(out, as_version=4).cells[-1].source


def test_a_record_naming_another_realization_than_its_machines_make_is_named(one_book):
    """The record of a run resumed on the same machine after a commit once named a realization of its own (the
    commit was hashed in): the check recomputes the realization from the machines it records."""
    from zfviz.core import machine

    results, atlas, records, run = one_book
    sig = {"device": "cpu", "cpu": "AMD EPYC", "isa": "AVX512", "threads": 2, "torch": "2.14"}
    machines = [sig | {"commit": "a", "from_epoch": 1}, sig | {"commit": "b", "from_epoch": 5}]
    made = machine.realization(machines)
    assert made == machine.realization([sig])  # one machine, whatever the commits
    path = records / run["run"] / "weights.json"
    path.write_text(json.dumps({"snapshots": {"20": "a" * 64}, "realization": "8cbc7280", "machines": machines}))
    problems = "\n".join(check_book(results, atlas, records))
    assert f"its record names realization 8cbc7280, but the machines it records make {made}" in problems
