"""Records of trained runs: a run's per-epoch metrics and its identity, small enough to commit.

A run directory holds weights (tens of MB a snapshot) and lives in ``runs/``, which a machine may lose between
sessions. Some readers need only its metrics: Table 3's errors and take-off curves, the convergence gap, the
from-scratch baselines. A record (``<records>/<run name>/metrics.csv`` and ``identity.json``, a few kB) keeps exactly
that, so those readers, and a training queue that spans several sessions, survive the loss of ``runs/``: a run that is
recorded is not trained again for them. Weights are never recorded; a reader that needs them trains the run.

A record is trusted by content, like a run directory: its ``identity.json`` must hash to the key its name ends with
(``TrainConfig.key``), so a record renamed, edited or made under other data is refused, never read. A record of a run
that was not finished holds the epochs it got through, short of its budget's final epoch, so it stands for the run only
up to those epochs (the take-off probes); only a finished run's record holds the final epoch.

A finished run's record also holds ``weights.json``: the SHA-256 of every snapshot a chapter reads, the machines it
was trained on (``machine.signature``), the realization they name, the source commit and the precision (from its
``DONE.json``). A run name is a distribution; ``weights.json`` says which draw of it the book's numbers come from. A run
trained again elsewhere is another realization: recording it replaces the record, weights and metrics together.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd

from zfviz.core import checkpoint
from zfviz.core.paths import records_root, runs_root
from zfviz.runs.config import TrainConfig, identity_key
from zfviz.runs.store import done_record, finished

IDENTITY = "identity.json"
METRICS = "metrics.csv"
WEIGHTS = "weights.json"
PROVENANCE_KEYS = ("snapshot_sha256", "snapshots", "machines", "realization", "precision", "finished_utc")


def record_path(cfg: TrainConfig, records_dir: str | os.PathLike | None = None,
                root: str | os.PathLike | None = None, data: dict | None = None) -> Path:
    """Where the record of ``cfg``'s run lives (``paths.records_root``); ``data`` as in ``runs.store.run_dir``."""
    return records_root(records_dir) / cfg.resolved().run_name(root, data)


def recorded_epochs(record: str | os.PathLike) -> int:
    """How many epochs the record at ``record`` holds (0: none, or a record that is not this run's by content).

    >>> recorded_epochs("/nonexistent/zf-cpu-s0-0123456789")
    0
    """
    record = Path(record)
    try:
        identity = json.loads((record / IDENTITY).read_text())
        if not record.name.endswith("-" + identity_key(identity)):
            return 0
        epochs = pd.read_csv(record / METRICS).epoch
    except (OSError, ValueError, KeyError, pd.errors.EmptyDataError):
        return 0
    # the epochs must run 1..k without a gap: a record is a prefix of its run's curve, never a selection of it
    return int(epochs.max()) if len(epochs) and list(epochs) == list(range(1, int(epochs.max()) + 1)) else 0


def record_weights(record: str | os.PathLike) -> dict:
    """The record's ``weights.json`` (weights' SHA-256 per snapshot epoch, machines, realization...); {} for a record
    of an unfinished run or one made before records held weights."""
    try:
        out = json.loads((Path(record) / WEIGHTS).read_text())
    except (OSError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def training_spent(names: list[str], records_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The training time the runs ``names`` took, from their records' epoch times: one row per realization and CPU
    (columns realization, cpu, runs, epochs, hours); runs without a record are left out. Wall time with pauses and
    evaluation is longer.

    >>> training_spent([], "/nonexistent").columns.tolist()
    ['realization', 'cpu', 'runs', 'epochs', 'hours']
    """
    root = records_root(records_dir)
    rows = []
    for name in names:
        try:
            m = pd.read_csv(root / name / METRICS)
        except (OSError, ValueError):
            continue
        w = record_weights(root / name)
        cpus = sorted({x.get("cpu", "?") for x in w.get("machines", [])}) or ["not recorded"]
        rows.append(dict(realization=w.get("realization", "not recorded"), cpu=", ".join(cpus), runs=1,
                         epochs=len(m), hours=float(m.epoch_seconds.sum()) / 3600))
    cols = ["realization", "cpu", "runs", "epochs", "hours"]
    if not rows:
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(rows).groupby(["realization", "cpu"], as_index=False)[["runs", "epochs", "hours"]].sum()[cols]


def _run_identity(run: Path) -> dict:
    """The identity a run directory was trained under (its checkpoint's, else its newest snapshot's)."""
    candidates = [run / "checkpoint.pt"] + sorted((run / "snapshots").glob("epoch_*.pt"), reverse=True)
    for path in candidates:
        if path.is_file():
            return checkpoint.load(path)["identity"]
    raise ValueError(f"{run} has no checkpoint or snapshot to read its identity from; it is not a run directory")


def record_run(run: str | os.PathLike, records_dir: str | os.PathLike | None = None) -> Path | None:
    """Record the run directory ``run`` (its metrics and identity); returns the record, or None when the record there
    already holds as many epochs. A finished run is recorded whole; an unfinished one as far as it got, but never with
    its budget's final epoch (only ``DONE.json`` vouches for that one).

    >>> record_run("runs/zf-cpu-s0-7dcc15a9f4")  # doctest: +SKIP
    PosixPath('book/records/zf-cpu-s0-7dcc15a9f4')
    """
    run = Path(run)
    if not (run / METRICS).is_file():
        raise FileNotFoundError(f"{run} has no {METRICS}; give a run directory (under runs/, named "
                                "<model>-<profile>-s<seed>-<key>)")
    identity = _run_identity(run)
    if not run.name.endswith("-" + identity_key(identity)):
        raise ValueError(f"{run.name} does not end with its identity's key {identity_key(identity)}: the directory "
                         "was renamed or holds another run's files; it cannot be recorded")
    budget = int(identity["config"]["epochs"])
    metrics = pd.read_csv(run / METRICS)
    if not finished(run, budget):  # only a finished run vouches for its last epoch
        metrics = metrics[metrics.epoch < budget]
    out = records_root(records_dir) / run.name
    done = done_record(run) if finished(run, budget) else {}
    weights = {k: done[k] for k in PROVENANCE_KEYS if k in done}
    same_provenance = all(record_weights(out).get(k) == weights.get(k) for k in PROVENANCE_KEYS)
    if len(metrics) == 0 or (recorded_epochs(out) >= int(metrics.epoch.max()) and same_provenance):
        return None
    # a new folder filled, then renamed into place: a reader sees the old record or the new one, never half of one
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / IDENTITY).write_text(json.dumps(identity, sort_keys=True, indent=1) + "\n")
    metrics.to_csv(tmp / METRICS, index=False)
    if weights:
        (tmp / WEIGHTS).write_text(json.dumps(weights, sort_keys=True, indent=1) + "\n")
    old = out.with_name(out.name + ".old")
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return out


def record_runs(runs_dir: str | os.PathLike | None = None, records_dir: str | os.PathLike | None = None,
                profile: str | None = None) -> list[Path]:
    """Record every run directory under ``runs_dir`` (``paths.runs_root``) that has trained epochs not yet recorded,
    optionally of one ``profile`` only; returns the records written."""
    root = runs_root(runs_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"no runs folder at {root}; train a run first (python -m zfviz train) or set "
                                "$ZFVIZ_RUNS")
    written = []
    for run in sorted(p for p in root.iterdir() if (p / METRICS).is_file()):
        if profile is not None and f"-{profile}-s" not in run.name:
            continue
        if not (run / "checkpoint.pt").is_file() and not (run / "snapshots").is_dir():
            continue  # a run killed before its first checkpoint: nothing to vouch for its metrics
        out = record_run(run, records_dir)
        if out is not None:
            written.append(out)
    return written


__all__ = ["identity_key", "record_path", "recorded_epochs", "record_weights", "record_run", "record_runs"]
