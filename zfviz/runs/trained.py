"""Runs on demand: the run of a config, trained, finished or repaired first if it is not finished, and the metrics
and curves of many runs read back as tidy frames. It joins ``runs`` (identity, finishing, reading) and ``train`` (the
loop), which do not import each other.

The metrics readers (``run_metrics``, ``run_curves``, ``split_trained``) also take a run's metrics from its record
(``records``) when its directory is missing or not far enough: they need no weights, so a recorded run is not
trained again for them. ``ensure_trained`` (weights) always trains.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from zfviz.core.params import check_int
from zfviz.core.provenance import note_folder
from zfviz.runs.records import record_path, recorded_epochs
from zfviz.runs.store import DONE, TrainConfig, epochs_done, finished, run_dir
from zfviz.runs.train import train


def ensure_trained(cfg: TrainConfig, runs_dir: str | os.PathLike | None = None, *,
                   root: str | os.PathLike | None = None, **kwargs) -> Path:
    """The run directory of ``cfg``, training, finishing or repairing it first unless it is finished.

    If another process is training the same run, this waits for it (then finds it finished).
    """
    cfg = cfg.resolved()
    out = run_dir(cfg, runs_dir, root)
    if not finished(out, cfg.epochs):
        train(cfg, out, root=root, wait=True, **kwargs)
    return out


def run_metrics(configs: list[TrainConfig], *, runs_dir: str | os.PathLike | None = None,
                data_root: str | os.PathLike | None = None, progress: bool = False,
                records_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """The metrics of each config's last epoch (from its finished run or its record, training the run first if it
    has neither): one row per config; ``source`` is the run directory or record they were read from."""
    rows = []
    for cfg, run in _runs_until(configs, runs_dir, data_root, progress, None, records_dir):
        metrics = pd.read_csv(run / "metrics.csv")
        row = metrics[metrics.epoch == cfg.epochs]
        if row.empty:  # cannot happen for a finished run; say how to repair rather than fail obscurely
            raise ValueError(f"{run} has no metrics for epoch {cfg.epochs}; delete {run / DONE} and rerun to repair")
        rows.append({"model": cfg.model, "seed": cfg.seed, "epochs": cfg.epochs, "run": run.name, "source": str(run),
                     "init": cfg.init, "clip_radius": cfg.clip_radius, "train_per_class": cfg.train_per_class,
                     "split": cfg.split} | row.iloc[-1].drop(["model", "profile", "seed", "epoch"]).to_dict())
    return pd.DataFrame(rows)


def _runs_until(configs: list[TrainConfig], runs_dir, data_root, progress: bool, until: int | None, records_dir):
    """(resolved config, folder holding its metrics) for each config: its run trained to its end (or at least to
    epoch ``until``), or, when the run directory has not got that far, a record that has (nothing is trained)."""
    for cfg in configs:
        cfg = cfg.resolved()
        need = cfg.epochs if until is None else min(until, cfg.epochs)
        out = run_dir(cfg, runs_dir, data_root)
        if not (finished(out, cfg.epochs) if need == cfg.epochs else epochs_done(out) >= need):
            record = record_path(cfg, records_dir, data_root)
            if recorded_epochs(record) >= need:
                note_folder(record, need, "record")
                yield cfg, record
                continue
            if need == cfg.epochs:
                ensure_trained(cfg, runs_dir, root=data_root, progress=progress)
            else:
                train(cfg, out, root=data_root, wait=True, progress=progress, stop_after=need)
        note_folder(out, need, "metrics")
        yield cfg, out


def split_trained(configs: list[TrainConfig], *, runs_dir: str | os.PathLike | None = None,
                  data_root: str | os.PathLike | None = None, until: int | None = None,
                  records_dir: str | os.PathLike | None = None) -> tuple[list[TrainConfig], list[TrainConfig]]:
    """(configs whose runs are finished, or have reached epoch ``until``, in their run directory or their record; the
    others), without training anything."""
    done, missing = [], []
    for cfg in configs:
        c = cfg.resolved()
        need = c.epochs if until is None else min(until, c.epochs)
        out = run_dir(c, runs_dir, data_root)
        ok = (finished(out, c.epochs) if need == c.epochs else epochs_done(out) >= need) or recorded_epochs(
            record_path(c, records_dir, data_root)) >= need
        (done if ok else missing).append(c)
    return done, missing


def run_curves(configs: list[TrainConfig], *, runs_dir: str | os.PathLike | None = None,
               data_root: str | os.PathLike | None = None, progress: bool = False,
               until: int | None = None, records_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """Every epoch's metrics of each config's run (trained first if needed), tidy: one row per (run, epoch), with
    the run's ``budget`` (its config's epochs).

    ``until``: a run need only reach that epoch (one that has not is trained that far and stays resumable, so a later
    full run continues it); its curve is what it has so far. None: every run is trained to its end.
    """
    if until is not None:
        check_int("until", until)
    parts = []
    for cfg, run in _runs_until(configs, runs_dir, data_root, progress, until, records_dir):
        m = pd.read_csv(run / "metrics.csv")
        parts.append(m[m.epoch <= cfg.epochs].assign(run=run.name, init=cfg.init, clip_radius=cfg.clip_radius,
                                                     budget=cfg.epochs))
    return pd.concat(parts, ignore_index=True)


__all__ = ["ensure_trained", "run_metrics", "split_trained", "run_curves"]
