"""Comparing trained architectures on one validation split (Table 2): per-image errors over seeds, ensembles, and
the paired difference that claim C1 is decided on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from zfviz.evidence import claims
from zfviz.evidence.stats import paired_difference
from zfviz.experiment import Experiment
from zfviz.runs.evaluate import in_topk
from zfviz.runs.store import run_predictions


def ten_crop_probs(exps: list[Experiment]) -> torch.Tensor:
    """(seeds, images, classes) 10-crop softmax of each experiment's final model on its validation split (cached)."""
    return torch.stack([run_predictions(x.run, x.epoch, x.val) for x in exps])


def errors(probs: torch.Tensor, labels: torch.Tensor, k: int = 1) -> np.ndarray:
    """(seeds, images) 0/1 top-``k`` errors of (seeds, images, classes) probabilities."""
    return (~in_topk(probs, labels, k)).numpy().astype(float)


def error_table(probs: dict[str, torch.Tensor], labels: torch.Tensor,
                paper: dict[str, tuple[tuple[float, float], tuple[float, float]]] | None = None) -> pd.DataFrame:
    """Table 2, tidy: per architecture the mean and seed std of top-1 / top-5 error % of single networks, and of the
    ensemble that averages its seeds' softmax (the paper's 5-network rows); ``paper`` gives each architecture's
    printed ((single top-1, top-5), (ensemble top-1, top-5)) errors for columns beside ours."""
    rows = []
    nan2 = (np.nan, np.nan)
    for name, p in probs.items():
        single, ens_ref = (paper or {}).get(name, (nan2, nan2))
        e1, e5 = errors(p, labels).mean(1) * 100, errors(p, labels, 5).mean(1) * 100
        ens = p.mean(0, keepdim=True)
        rows.append({"model": name, "networks": "1", "top-1 err %": e1.mean(),
                     "top-1 sd": e1.std(ddof=1) if len(e1) > 1 else np.nan, "paper top-1 err %": single[0],
                     "top-5 err %": e5.mean(), "top-5 sd": e5.std(ddof=1) if len(e5) > 1 else np.nan,
                     "paper top-5 err %": single[1]})
        if len(p) > 1:
            rows.append({"model": f"{name}, {len(p)} averaged", "networks": f"{len(p)} (paper: 5)",
                         "top-1 err %": errors(ens, labels).mean() * 100, "top-1 sd": np.nan,
                         "paper top-1 err %": ens_ref[0], "top-5 err %": errors(ens, labels, 5).mean() * 100,
                         "top-5 sd": np.nan, "paper top-5 err %": ens_ref[1]})
    return pd.DataFrame(rows)


def error_gap(worse: torch.Tensor, better: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, float, int]:
    """(points, CI low, CI high, seeds): top-1 error % of ``worse`` minus ``better``, paired over validation images,
    each side's seeds resampled (``stats.paired_difference``)."""
    est, lo, hi, n = paired_difference(errors(worse, labels), errors(better, labels))
    return est * 100, lo * 100, hi * 100, n


def c1_evidence(probs: dict[str, torch.Tensor], labels: torch.Tensor, profile: str, convergence: str = "",
                chapter: str = "08_table2_imagenet"):
    """C1 from 10-crop probabilities {"AlexNet replica": (seeds, N, C), "ZF": (seeds, N, C)}: the error gap with
    its CI, and in the note the per-seed errors and how far the models are from converged (``convergence``)."""
    est, lo, hi, n = error_gap(probs["AlexNet replica"], probs["ZF"], labels)
    per_seed = {m: ", ".join(f"{e:.1f}" for e in errors(p, labels).mean(1) * 100) for m, p in probs.items()}
    note = (f"Top-1 error per seed (%): AlexNet replica {per_seed['AlexNet replica']}; ZF {per_seed['ZF']}. Absolute "
            "errors are not comparable with ImageNet's (10 classes, other width and crops). " + convergence).strip()
    return claims.evidence("C1", est, (lo, hi), n, profile, seeds=n, chapter=chapter, note=note)


__all__ = ["ten_crop_probs", "errors", "error_table", "error_gap", "c1_evidence"]
