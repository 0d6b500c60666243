"""Tables 4-6 (claim C9): features of a pretrained network with a new softmax, against the same architecture trained
from scratch on the same few images per class."""

from __future__ import annotations

import pandas as pd

from zfviz.analysis.probes import heldout_transfer, layer_features
from zfviz.data.sets import heldout_split
from zfviz.experiment import load_experiments
from zfviz.runs.store import scratch_configs
from zfviz.runs.trained import run_metrics


def heldout_comparison(model: str, profile: str, source_seeds: list[int], per_class: list[int], *, splits: int,
                       seed: int, steps: int, batch: int, runs_dir: str | None = None, data_root: str | None = None,
                       dataset: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """C9's design: sources trained on the first half of the dataset's classes (``source_seeds``), the other half as
    the target. Returns the pretrained rows (``heldout_transfer``, a ``source_seed`` column), the from-scratch rows
    (``run_metrics`` with k and accuracy) on exactly the same images, and the source experiments."""
    first = load_experiments(model, profile, [source_seeds[0]], data_root=data_root, runs_dir=runs_dir,
                             dataset=dataset)[0]
    full = first.val
    half, held = heldout_split(full.classes)
    src = load_experiments(model, profile, source_seeds, data_root=data_root, runs_dir=runs_dir, dataset=dataset,
                           classes=half)
    idx = [full.classes.index(c) for c in held]
    pre = pd.concat([heldout_transfer(layer_features(x.model, full.images, x.mean, x.crop, "fc7", progress=False),
                                      full.labels, idx, per_class, splits=splits, seed=seed,
                                      max_test=first.profile.val_per_class).assign(source_seed=s)
                     for s, x in zip(source_seeds, src)], ignore_index=True)
    configs = scratch_configs(model, profile, dataset, len(held), per_class, splits, seed, steps, batch, held)
    scratch = run_metrics(configs, runs_dir=runs_dir, data_root=data_root).rename(
        columns={"train_per_class": "k", "val_top1": "accuracy"})
    return pre, scratch, src


def transfer_table(pre: pd.DataFrame, scratch: pd.DataFrame, index: str) -> pd.DataFrame:
    """Mean accuracy (%) per k of both arms, the spread over splits and sources, and how well the from-scratch
    networks fit their images (training top-1)."""
    t = pd.DataFrame({"pretrained": pre.groupby("k").accuracy.mean(), "pretrained sd": pre.groupby("k").accuracy.std(),
                      "from scratch": scratch.groupby("k").accuracy.mean(),
                      "from scratch sd": scratch.groupby("k").accuracy.std(),
                      "from scratch, train top-1": scratch.groupby("k").train_top1.mean(),
                      "from scratch, epochs": scratch.groupby("k").epochs.first()})
    t.index.name = index
    return t


__all__ = ["heldout_comparison", "transfer_table"]
