"""Feature evolution (Fig. 4), measured: how far each map's top-k images at an epoch agree with the final model's.

A map has *settled* at an epoch when the set of its k strongest images then overlaps the final set. The overlap of
two top-k sets is tie-robust where "same strongest image" is not: a map whose first and second images swap keeps an
overlap near 1. A layer group reaches ``level`` at the first snapshot epoch at which its mean overlap is at least
``level``; claim C3 compares that epoch between the upper (conv4-5) and lower (conv1-2) layers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from zfviz.analysis.topk import TopProjections, project_top, top_activations
from zfviz.evidence import claims
from zfviz.evidence.stats import BOOT, _pct


def top_tables(models: dict[int, nn.Module], images: torch.Tensor, mean: torch.Tensor, crop: int,
               layers: list[str], k: int = 9) -> dict[int, pd.DataFrame]:
    """One mining pass per snapshot: ``top_activations`` of every layer at each epoch of ``models`` ({epoch: model}).
    Both the overlap statistic and Fig. 4's panels (rank 0) read these tables."""
    return {e: top_activations(m, images, mean, crop, layers, k=k, progress=False) for e, m in sorted(models.items())}


def top_overlap(tables: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Overlap of every map's top-k image set at each epoch of ``tables`` (``top_tables``) with the last epoch's.

    Returns columns layer, channel, epoch, overlap (a share of k, 1 = the final set).
    """
    if len(tables) < 2:
        raise ValueError(f"need snapshots at two epochs or more to compare, got epochs {sorted(tables)}")
    sets = {e: t.groupby(["layer", "channel"]).image.agg(frozenset) for e, t in sorted(tables.items())}
    final = sets[max(sets)]
    k = int(tables[max(tables)]["rank"].max()) + 1
    return pd.concat([pd.DataFrame({"layer": s.index.get_level_values(0), "channel": s.index.get_level_values(1),
                                    "epoch": e, "overlap": [len(a & final[key]) / k for key, a in s.items()]})
                      for e, s in sets.items()], ignore_index=True)


def reach_epochs(overlap: pd.DataFrame, level: float = 0.5) -> pd.DataFrame:
    """The first snapshot epoch at which each (seed, layer)'s mean overlap reaches ``level``; columns seed, layer,
    epoch."""
    mean = overlap.groupby(["seed", "layer", "epoch"]).overlap.mean().reset_index()
    first = mean[mean.overlap >= level].groupby(["seed", "layer"]).epoch.min()
    return first.reset_index()


def _reach(curve: np.ndarray, epochs: np.ndarray, level: float) -> float:
    hit = np.nonzero(curve >= level)[0]
    return float(epochs[hit[0]]) if len(hit) else float(epochs[-1])


def _reach_bounds(curve: np.ndarray, epochs: np.ndarray, level: float) -> tuple[float, float]:
    """The interval a reach epoch is known to lie in: (the snapshot before the first one at ``level``, that one]; a
    curve first at ``level`` at the first snapshot reached it somewhere in (0, that epoch]."""
    hit = np.nonzero(curve >= level)[0]
    k = int(hit[0]) if len(hit) else len(epochs) - 1
    return (float(epochs[k - 1]) if k > 0 else 0.0), float(epochs[k])


C3_LOW, C3_HIGH = ("conv1", "conv2"), ("conv4", "conv5")  # the layers C3's statistic compares


def settle_gap(overlap: pd.DataFrame, low: tuple[str, ...] = C3_LOW,
               high: tuple[str, ...] = C3_HIGH, level: float = 0.5, *, seed: int = 0,
               boot: int = BOOT) -> tuple[float, float, float, int]:
    """(gap, CI low, CI high, seeds): epoch at which the ``high`` layers' mean overlap reaches ``level`` minus that of
    the ``low`` layers, averaged over seeds; the CI resamples seeds and, within each layer, maps.

    A reach epoch is only known to lie between the snapshot before it and its snapshot (interval-censored: reached at
    the epoch-10 snapshot means somewhere in (5, 10]). The gap's estimate uses the snapshot epochs; the CI's lower end
    comes from the smallest gap the grid allows (high layers at the start of their interval, low layers at the end),
    its upper end from the largest, so a coarse grid widens the CI instead of hiding behind it.

    >>> grid = pd.DataFrame([(0, l, c, e, float(e >= r)) for l, r in (("conv1", 5), ("conv2", 5), ("conv4", 20),
    ...                      ("conv5", 20)) for c in range(4) for e in (1, 2, 5, 10, 20)],
    ...                     columns=["seed", "layer", "channel", "epoch", "overlap"])
    >>> settle_gap(pd.concat([grid.assign(seed=s) for s in range(3)]), boot=200)  # seen 15; (2, 5] against (10, 20]
    (15.0, 5.0, 18.0, 3)
    """
    need = set(low) | set(high)
    missing = need - set(overlap.layer)
    if missing:
        raise ValueError(f"the overlap table lacks layers {sorted(missing)}; it has {sorted(set(overlap.layer))}")
    epochs = np.array(sorted(overlap.epoch.unique()))
    # cube[seed][layer]: (channels, epochs) overlaps
    cube = {s: {layer: g.pivot(index="channel", columns="epoch", values="overlap")[epochs].to_numpy()
                for layer, g in part.groupby("layer") if layer in need}
            for s, part in overlap.groupby("seed")}
    seeds = sorted(cube)

    def gap(pick_seeds, pick_maps, end: str = "seen") -> float:
        """The mean gap over seeds, with each reach at its snapshot ("seen"), or at the grid's smallest ("min") or
        largest ("max") value."""
        out = []
        for s in pick_seeds:
            curves = {g: np.mean([cube[s][layer][pick_maps(cube[s][layer])].mean(0) for layer in group], axis=0)
                      for g, group in (("low", low), ("high", high))}
            (hl, hh), (ll, lh) = (_reach_bounds(curves[g], epochs, level) for g in ("high", "low"))
            out.append({"seen": hh - lh, "min": hl - lh, "max": hh - ll}[end])
        return float(np.mean(out))

    est = gap(seeds, lambda a: slice(None))
    # The CI: within each seed, maps resampled (the bootstrap); across seeds, a Student-t pivot on the per-seed gaps,
    # so 3 seeds that happen to agree do not make a certainty (stats' rationale); each end from its censoring bound.
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, 10**9, 1) for _ in range(boot)]
    t = rng.standard_t(max(len(seeds) - 1, 1), boot) if len(seeds) > 1 else np.zeros(boot)
    ends = []
    for end in ("min", "max"):
        per_seed = np.array([gap([s], lambda a: slice(None), end) for s in seeds])
        spread = per_seed.std(ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else 0.0
        draws = np.array([gap(seeds, lambda a, r=np.random.default_rng(p): r.integers(0, len(a), len(a)), end)
                          for p in picks])  # the same map resamples for both ends
        ends.append(_pct(draws - t * spread))
    lo, hi = ends[0][0], ends[1][1]
    return est, min(lo, est), max(hi, est), len(seeds)


def c3_evidence(overlap: pd.DataFrame, profile: str, epochs: int, dataset: str, chapter: str = "03_fig4_evolution",
                convergence: str = ""):
    """C3 from ``top_overlap`` rows of several seeds (a ``seed`` column): ``settle_gap`` with the per-seed reach epochs,
    the budget and how far the models are from converged (``convergence``, e.g. ``convergence_note``) in the note."""
    missing = [layer for layer in C3_LOW + C3_HIGH if layer not in set(overlap.layer)]
    if missing:  # a chapter run on a layer subset draws its figures; the claim it cannot compute is not run
        return claims.not_run("C3", profile, f"layers {', '.join(missing)} not computed (C3 compares "
                              f"{'-'.join(C3_HIGH)} with {'-'.join(C3_LOW)})", chapter=chapter)
    est, lo, hi, n = settle_gap(overlap)
    reach = reach_epochs(overlap).pivot(index="layer", columns="seed", values="epoch")
    per = "; ".join(f"{layer}: {', '.join(str(int(v)) for v in row.dropna())}" for layer, row in reach.iterrows())
    return claims.evidence("C3", est, (lo, hi), n, profile, seeds=n, chapter=chapter,
                           note=(f"Epoch at 50% overlap per seed, {per}. The budget is {epochs} epochs of {dataset} "
                                 "against the paper's 70 of ImageNet: epochs compare in order, not in number; "
                                 "snapshots exist only at the paper's Fig. 4 epochs, so a reach epoch is known only "
                                 "between two snapshots, and the CI spans that resolution. "
                                 + convergence).strip())


def strongest_by_epoch(models: dict[int, nn.Module], tables: dict[int, pd.DataFrame], images: torch.Tensor,
                       mean: torch.Tensor, crop: int, layer: str, channels: list[int]) -> dict[int, TopProjections]:
    """Fig. 4's panels: for each epoch, the projection of each chosen map's strongest activation (rank 0 of the
    epoch's ``top_tables`` table) over ``images``."""
    out = {}
    for e, m in sorted(models.items()):
        t = tables[e]
        out[e] = project_top(m, images, mean, crop, t[(t.layer == layer) & t.channel.isin(channels) & (t["rank"] == 0)])
    return out


__all__ = ["top_tables", "top_overlap", "reach_epochs", "settle_gap", "c3_evidence", "strongest_by_epoch"]
