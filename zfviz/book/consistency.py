"""Is the committed book one artifact? Every executed chapter, the atlas and the records must agree on the weights of
every run they name, rest on one realization, and quote the same numbers for the same run; no page may carry a path
of the machine that executed it. Reads committed files only (seconds), so CI runs it.

>>> check_book()  # doctest: +SKIP
[]
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from zfviz.core.paths import records_root
from zfviz.core.provenance import QUOTED

_ABSOLUTE = re.compile(r'"(/(?:home|root|tmp|work|Users|mnt|private|var)/[^"]*)"')


def _chapter_notes(results: Path) -> tuple[dict[str, list[dict]], list[str]]:
    import nbformat  # heavy (nbformat, pandas): only when the book is checked

    from zfviz.book.execute import chapters  # the book's module at call time (a test points it at other chapters)

    notes, problems = {}, []
    for name in chapters():
        path = results / f"{name}.ipynb"
        if not path.exists():
            problems.append(f"{name}: not executed")
            continue
        text = path.read_text()
        nb = nbformat.reads(text, as_version=4)
        prov = nb.metadata.get("zfviz", {}).get("provenance")
        if prov is None:
            problems.append(f"{name}: no provenance (executed before pages recorded their weights): re-execute it")
        else:
            notes[name] = prov.get("runs", [])
        bad = sorted({m for m in _ABSOLUTE.findall(text)})
        if bad:
            problems.append(f"{name}: carries paths of the machine that executed it: {', '.join(bad[:3])}")
    return notes, problems


def _record(records: Path, run: str, epoch: int) -> dict | None:
    """What the record of ``run`` says of ``epoch``: its weights' SHA-256, realization and quoted metrics."""
    folder = records / run
    if not folder.is_dir():
        return None
    import pandas as pd  # heavy (nbformat, pandas): only when the book is checked

    from zfviz.core import machine  # heavy (torch): only when the book is checked

    try:
        weights = json.loads((folder / "weights.json").read_text())
    except (OSError, ValueError):
        weights = {}
    m = pd.read_csv(folder / "metrics.csv")
    row = m[m.epoch == epoch]
    quoted = {k: round(float(row[k].iloc[-1]), 4) for k in QUOTED if k in row and len(row) and row[k].notna().any()}
    named = weights.get("realization")
    # the realization its machines make, not only the one it names: a record may not name another than its own
    made = machine.realization(weights["machines"]) if weights.get("machines") else named
    return {"sha256": (weights.get("snapshots") or {}).get(str(epoch)), "realization": made, "named": named, **quoted}


def _run_problems(run: str, epoch: int, seen: list[tuple[str, dict]]) -> list[str]:
    """What the pages, the atlas and the record (``seen``: (who, what it says)) disagree on for one run's epoch."""
    problems = []
    hashes = {w: s.get("sha256") for w, s in seen if s.get("sha256")}
    if len(set(hashes.values())) > 1:
        problems.append(f"{run} epoch {epoch}: different weights in "
                        + ", ".join(f"{w} ({h[:12]})" for w, h in hashes.items()))
    # weights a page loaded must be named by their hash; a metrics-only read of an unfinished run (Table 3's
    # take-off probes read the first epochs of a run still training) has none to name
    if not hashes and any(w == "atlas" or s.get("source") == "weights" for w, s in seen):
        problems.append(f"{run} epoch {epoch}: no weights' SHA-256 recorded ({', '.join(w for w, _ in seen)})")
    for q in QUOTED:
        values = {w: s[q] for w, s in seen if s.get(q) is not None}
        if len(set(values.values())) > 1:
            problems.append(f"{run} epoch {epoch}: {q} differs: " + ", ".join(f"{w} {v:g}" for w, v in values.items()))
    return problems


def check_book(results: str | os.PathLike | None = None, atlas: str | os.PathLike | None = None,
               records: str | os.PathLike | None = None) -> list[str]:
    """The committed book's inconsistencies, one line each ([] when it is one artifact)."""
    from zfviz.book.execute import ATLAS, RESULTS  # the book's module at call time (a test points it at other chapters)

    results, atlas = Path(results or RESULTS), Path(atlas or ATLAS)
    records = records_root(records)
    notes, problems = _chapter_notes(results)
    sources: dict[tuple[str, int], list[tuple[str, dict]]] = {}
    for name, runs in notes.items():
        for r in runs:
            sources.setdefault((r["run"], r["epoch"]), []).append((name, r))
    try:
        prov = json.loads((atlas / "provenance.json").read_text())
        sources.setdefault((prov["run"], prov["epochs"]), []).append(("atlas", prov))
    except (OSError, ValueError, KeyError):
        problems.append(f"atlas: no readable provenance.json in {atlas}")
    realizations = set()
    for (run, epoch), seen in sorted(sources.items()):
        rec = _record(records, run, epoch)
        seen = seen + ([("record", rec)] if rec is not None else [])
        if rec is not None and rec["named"] != rec["realization"]:
            problems.append(f"{run}: its record names realization {rec['named']}, but the machines it records make "
                            f"{rec['realization']}")
        problems += _run_problems(run, epoch, seen)
        realizations |= {s.get("realization") for _, s in seen if s.get("realization")}
    if len(realizations) > 1:
        problems.append(f"the book rests on {len(realizations)} realizations: {', '.join(sorted(realizations))}")
    return problems


__all__ = ["check_book"]
