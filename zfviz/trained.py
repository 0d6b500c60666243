"""Runs on demand: the run of a config, trained, finished or repaired first if it is not finished, and the metrics
and curves of many runs read back as tidy frames. It joins ``runs`` (identity, finishing, reading) and ``train`` (the
loop), which do not import each other."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .params import check_int
from .runs import DONE, TrainConfig, epochs_done, finished, run_dir
from .train import train


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
                data_root: str | os.PathLike | None = None, progress: bool = False) -> pd.DataFrame:
    """The metrics of each config's last epoch (training the run first if it is not finished): one row per config."""
    rows = []
    for cfg, run in _runs_until(configs, runs_dir, data_root, progress, None):
        metrics = pd.read_csv(run / "metrics.csv")
        row = metrics[metrics.epoch == cfg.epochs]
        if row.empty:  # cannot happen for a finished run; say how to repair rather than fail obscurely
            raise ValueError(f"{run} has no metrics for epoch {cfg.epochs}; delete {run / DONE} and rerun to repair")
        rows.append({"model": cfg.model, "seed": cfg.seed, "epochs": cfg.epochs, "run": run.name, "run_dir": str(run),
                     "init": cfg.init, "clip_radius": cfg.clip_radius, "train_per_class": cfg.train_per_class,
                     "split": cfg.split} | row.iloc[-1].drop(["model", "profile", "seed", "epoch"]).to_dict())
    return pd.DataFrame(rows)


def _runs_until(configs: list[TrainConfig], runs_dir, data_root, progress: bool, until: int | None):
    """(resolved config, run directory) for each config, trained to its end, or at least to epoch ``until``."""
    for cfg in configs:
        cfg = cfg.resolved()
        if until is None or until >= cfg.epochs:
            yield cfg, ensure_trained(cfg, runs_dir, root=data_root, progress=progress)
            continue
        out = run_dir(cfg, runs_dir, data_root)
        if epochs_done(out) < until:
            train(cfg, out, root=data_root, wait=True, progress=progress, stop_after=until)
        yield cfg, out


def split_trained(configs: list[TrainConfig], *, runs_dir: str | os.PathLike | None = None,
                  data_root: str | os.PathLike | None = None, until: int | None = None
                  ) -> tuple[list[TrainConfig], list[TrainConfig]]:
    """(configs whose runs are finished, or have reached epoch ``until``; the others), without training anything."""
    done, missing = [], []
    for cfg in configs:
        c = cfg.resolved()
        out = run_dir(c, runs_dir, data_root)
        ok = finished(out, c.epochs) if until is None or until >= c.epochs else epochs_done(out) >= until
        (done if ok else missing).append(c)
    return done, missing


def run_curves(configs: list[TrainConfig], *, runs_dir: str | os.PathLike | None = None,
               data_root: str | os.PathLike | None = None, progress: bool = False,
               until: int | None = None) -> pd.DataFrame:
    """Every epoch's metrics of each config's run (trained first if needed), tidy: one row per (run, epoch), with
    the run's ``budget`` (its config's epochs).

    ``until``: a run need only reach that epoch (one that has not is trained that far and stays resumable, so a later
    full run continues it); its curve is what it has so far. None: every run is trained to its end.
    """
    if until is not None:
        check_int("until", until)
    parts = []
    for cfg, run in _runs_until(configs, runs_dir, data_root, progress, until):
        m = pd.read_csv(run / "metrics.csv")
        parts.append(m[m.epoch <= cfg.epochs].assign(run=run.name, init=cfg.init, clip_radius=cfg.clip_radius,
                                                     budget=cfg.epochs))
    return pd.concat(parts, ignore_index=True)


__all__ = ["ensure_trained", "run_metrics", "split_trained", "run_curves"]
