"""Which weights a page rests on: every run a chapter reads is noted as it is read (its weights' SHA-256, its
realization, the quantities a chapter may quote from its metrics), and the executed notebook carries them with the
commit, date, profile and machine that made it (``book.execute.execute``), shown in a short footer.

The note is a JSON line appended to the file ``$ZFVIZ_PROVENANCE`` names, set by ``book.execute.execute`` for the chapter's
kernel; outside a book execution nothing is written. ``tests/test_consistency.py`` reads the committed notes back:
every chapter, the atlas and the records must agree on the weights of every run they name.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

ENV = "ZFVIZ_PROVENANCE"
QUOTED = ("val_top1", "val10_top1", "train_top1")  # what chapters quote of a run: the consistency check compares them


def note_run(folder: str | os.PathLike, epoch: int, *, sha256: str | None = None, realization: str | None = None,
             metrics: dict | None = None, source: str = "weights") -> None:
    """Note that the running chapter read the run (or record) ``folder`` at ``epoch``: its weights' SHA-256 and
    realization, and the quoted quantities of that epoch (``metrics``). A no-op outside a book execution."""
    path = os.environ.get(ENV)
    if not path:
        return
    row = {"run": Path(folder).name, "epoch": int(epoch), "sha256": sha256, "realization": realization,
           "source": source} | {k: (None if v != v else round(float(v), 4)) for k, v in (metrics or {}).items()
                                if k in QUOTED}
    with open(path, "a") as f:
        f.write(json.dumps(row, sort_keys=True) + "\n")


def note_folder(folder: str | os.PathLike, epoch: int, source: str) -> None:
    """``note_run`` for a finished run directory or a record: reads its DONE.json or weights.json and its metrics."""
    if not os.environ.get(ENV):
        return
    import pandas as pd  # heavy (pandas, torch via machine): noting a run read stays cheap

    folder = Path(folder)
    for name in ("DONE.json", "weights.json"):
        try:
            done = json.loads((folder / name).read_text())
            break
        except (OSError, ValueError):
            done = {}
    snaps = dict(done.get("snapshots") or {})
    sha = snaps.get(str(epoch)) or (done.get("snapshot_sha256") if done.get("epoch", epoch) == epoch else None)
    try:
        m = pd.read_csv(folder / "metrics.csv")
        row = m[m.epoch == epoch].iloc[-1].to_dict() if (m.epoch == epoch).any() else {}
    except (OSError, ValueError, pd.errors.EmptyDataError):
        row = {}
    note_run(folder, epoch, sha256=sha, realization=done.get("realization"), metrics=row, source=source)


def read_notes(path: str | os.PathLike) -> list[dict]:
    """The distinct runs noted in ``path``, in the order first read (one entry per run and epoch)."""
    seen: dict[tuple, dict] = {}
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        row = json.loads(line)
        seen.setdefault((row["run"], row["epoch"]), row)
    return list(seen.values())


def started() -> dict:
    """What a page's provenance takes when its execution starts: the commit (the code the kernel imports then) and the
    date. Taken at the end instead, an edit made while a chapter runs would be credited with numbers it did not make."""
    from zfviz.core.machine import source_commit  # heavy (pandas, torch via machine): noting a run read stays cheap

    return {"commit": source_commit(), "executed_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def page(runs: list[dict], profile: str, start: dict | None = None) -> dict:
    """A page's provenance: commit and date at its start (``started()``; now if not given), profile, the machine that
    executed it, and the runs it read."""
    from zfviz.core.machine import signature  # heavy (pandas, torch via machine): noting a run read stays cheap

    return (start or started()) | {"profile": profile, "machine": signature("cpu"), "runs": runs,
                                   "realizations": sorted({r["realization"] for r in runs if r.get("realization")})}


def footer(prov: dict) -> str:
    """The provenance as a short Markdown footer: 12 hex digits of each weights hash are enough on the page."""
    m = prov["machine"]
    commit = (prov.get("commit") or "an unknown commit")[:12]

    def read(r: dict) -> str:  # "weights 04c7172a368c" when the page loaded them, else what it read of which weights
        sha = f"weights {(r.get('sha256') or 'unrecorded')[:12]}"
        return sha if r["source"] == "weights" else f"{r['source']}, {sha}"

    runs = "; ".join(f"`{r['run']}` epoch {r['epoch']} ({read(r)})" for r in prov["runs"]) or "none"
    real = ", ".join(prov["realizations"]) or "none recorded"
    return (f"<small>Executed {prov['executed_utc'][:10]} from commit `{commit}` at profile `{prov['profile']}` on "
            f"{m['cpu']} ({m['isa']}, {m['threads']} threads, torch {m['torch']}). Runs read: {runs}. Realization: "
            f"{real}.</small>")


__all__ = ["ENV", "QUOTED", "note_run", "note_folder", "read_notes", "started", "page", "footer"]
