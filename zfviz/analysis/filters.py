"""Architecture selection (Sec. 4.1, Fig. 6), measured: dominant filters, structureless filters and conv2 aliasing.

- Dominance (claim C5): the share of a layer's filter energy (sum of squared weights) in its 3 largest filters.
  The comparison with and without clipping tests something only where clipping engages: ``filters_over_radius`` of
  the unclipped models counts the filters it would have renormalized (``C5_ENGAGED``: the registered testability
  rule), ``max_weight_difference`` shows whether the clipped and unclipped runs of a seed differ at all.
- Structureless ("dead") filters (C6a): a conv1 filter whose mean-removed weights have a lag-1 spatial
  autocorrelation under ``STRUCTURELESS_BELOW`` along both x and y looks like noise, as the paper's dead filters do;
  every edge, grating or colour-blob filter is far above it. An untrained bank is the control: all noise.
- Aliasing (C6b): the conv2 maps of both architectures are sampled every 8 px of the input. Evaluating them at all
  64 sub-stride shifts of the input and interleaving gives the dense map the sampling takes every 8th value of;
  the share of its spectral energy above the sampling's Nyquist frequency (1/16 cycle per px) is what aliases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from zfviz.data.sets import center_crop
from zfviz.evidence import claims
from zfviz.evidence.stats import group_difference, paired_difference, spread_note
from zfviz.model.models import eval_mode, filter_rms, model_device, readouts

DEAD_BELOW = 0.01  # active on under 1% of positions (the pre-2026-11-30 criterion, still shown)
SHIFTS = (1, 2, 3)  # px at the model's input
STRUCTURELESS_BELOW = 0.25  # C6a: |lag-1 autocorrelation| along x and y both under this (registry: C6a)
C5_ENGAGED = 1  # C5 is testable only if every unclipped model ends with at least this many filters over the radius


def filter_energy(weight: torch.Tensor) -> torch.Tensor:
    """Each filter's energy: the sum of its squared weights, (C,) for a (C, ...) weight."""
    return weight.detach().float().pow(2).flatten(1).sum(1)


def filters_over_radius(model: nn.Module, radius: float) -> int:
    """How many conv filters of ``model`` have an RMS above ``radius``: those feature scale clipping renormalizes."""
    return sum(int((filter_rms(m.weight.detach()) > radius).sum()) for m in model.modules() if isinstance(m, nn.Conv2d))


def max_weight_difference(a: nn.Module, b: nn.Module) -> float:
    """The largest absolute difference between corresponding parameters of two models of the same architecture."""
    pa, pb = list(a.parameters()), list(b.parameters())
    if [p.shape for p in pa] != [p.shape for p in pb]:
        raise ValueError("the two models have different architectures (parameter shapes differ)")
    return max(float((p.detach() - q.detach()).abs().max()) for p, q in zip(pa, pb))


def top_energy_share(weight: torch.Tensor, top: int = 3) -> float:
    """Share of the total filter energy (sum of squared weights) held by the ``top`` most energetic filters."""
    energy = filter_energy(weight)
    return float(energy.topk(min(top, len(energy))).values.sum() / energy.sum().clamp_min(1e-30))


@torch.no_grad()
def filter_stats(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, layer: str = "conv1",
                 batch_size: int = 256) -> pd.DataFrame:
    """Per filter of a conv ``layer``: weight energy share, the share of validation positions where its rectified
    readout is positive (``active``), and ``dead`` (active on under ``DEAD_BELOW`` of them)."""
    dev = model_device(model)
    on = total = 0
    with eval_mode(model):
        for s in range(0, len(images), batch_size):
            a = readouts(model, center_crop(images[s:s + batch_size].to(dev), mean.to(dev), crop), [layer])[layer]
            on = on + (a > 0).sum(dim=(0, 2, 3)).double()
            total += a.shape[0] * a.shape[2] * a.shape[3]
    energy = filter_energy(model.get_submodule(layer).weight)
    df = pd.DataFrame({"filter": range(len(energy)), "energy_share": (energy / energy.sum()).cpu().numpy(),
                       "active": (on / max(total, 1)).cpu().numpy()})
    return df.assign(dead=df.active < DEAD_BELOW)


@torch.no_grad()
def shift_change(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, layer: str = "conv2",
                 shifts: tuple[int, ...] = SHIFTS, batch_size: int = 128) -> torch.Tensor:
    """Per image: the relative change of ``layer``'s globally averaged features between the centre crop and crops
    moved diagonally by each of ``shifts`` px, averaged over shifts. Needs images at least crop + 2 max(shifts)."""
    size = images.shape[-1]
    if size < crop + 2 * max(shifts):
        raise ValueError(f"images of {size} px leave no room for {max(shifts)} px shifts of a {crop} px crop")
    dev = model_device(model)
    off = (size - crop) // 2
    out = []
    with eval_mode(model):
        for s in range(0, len(images), batch_size):
            x = images[s:s + batch_size].to(dev).float() - mean.to(dev)
            feats = [readouts(model, x[..., off + d:off + d + crop, off + d:off + d + crop], [layer])[layer].mean((2, 3))
                     for d in (0, *shifts)]
            ref = feats[0]
            rel = torch.stack([(f - ref).norm(dim=1) / ref.norm(dim=1).clamp_min(1e-12) for f in feats[1:]])
            out.append(rel.mean(0).cpu())
    return torch.cat(out)


def spatial_autocorrelation(weight: torch.Tensor) -> torch.Tensor:
    """Per filter of a conv weight (C, in, kh, kw): the larger in size of the lag-1 autocorrelations of its
    mean-removed weights along x and along y, pooled over input channels, shape (C,). White noise gives about 0."""
    w = weight.detach().double()
    w = w - w.mean(dim=(2, 3), keepdim=True)
    var = w.pow(2).sum(dim=(1, 2, 3)).clamp_min(1e-300)
    rx = (w[..., :, 1:] * w[..., :, :-1]).sum(dim=(1, 2, 3)) / var
    ry = (w[..., 1:, :] * w[..., :-1, :]).sum(dim=(1, 2, 3)) / var
    return torch.maximum(rx.abs(), ry.abs()).float()


def structureless(weight: torch.Tensor, below: float = STRUCTURELESS_BELOW) -> torch.Tensor:
    """Which filters of a conv weight look like noise (``spatial_autocorrelation`` under ``below``), bool (C,)."""
    return spatial_autocorrelation(weight) < below


def conv1_filters(models: dict[str, list[nn.Module]]) -> pd.DataFrame:
    """Tidy per conv1 filter of every model: architecture, seed index, filter, energy share, autocorrelation and
    whether it is structureless. ``models``: {architecture: [model per seed]}."""
    rows = []
    for arch, nets in models.items():
        for i, net in enumerate(nets):
            w = net.get_submodule("conv1").weight
            e = filter_energy(w)
            rho = spatial_autocorrelation(w)
            rows += [{"model": arch, "seed_index": i, "filter": f, "energy_share": float(e[f] / e.sum()),
                      "autocorrelation": float(rho[f]), "structureless": bool(rho[f] < STRUCTURELESS_BELOW)}
                     for f in range(len(e))]
    return pd.DataFrame(rows)


@torch.no_grad()
def dense_map(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, layer: str = "conv2_prepool",
              stride: int = 8) -> torch.Tensor:
    """The ``layer`` maps of uint8 ``images`` (N, 3, S, S) at every one of the ``stride`` x ``stride`` sub-stride
    shifts of a ``crop`` window, interleaved into dense maps (N, C, stride * h, stride * w): value [c, stride * i + dy,
    stride * j + dx] is map position (i, j) of the window moved by (dy, dx) px. Needs S >= crop + stride."""
    size = images.shape[-1]
    if size < crop + stride:
        raise ValueError(f"images of {size} px leave no room for {stride} sub-stride shifts of a {crop} px crop")
    dev = model_device(model)
    x = images.to(dev).float() - mean.to(dev)
    base = (size - crop - stride) // 2
    out = None
    with eval_mode(model):
        for dy in range(stride):
            shifted = torch.stack([x[..., base + dy:base + dy + crop, base + dx:base + dx + crop]
                                   for dx in range(stride)], 1).flatten(0, 1)
            maps = readouts(model, shifted, [layer])[layer].unflatten(0, (len(x), stride))  # (N, dx, C, h, w)
            if out is None:
                n, _, c, h, w = maps.shape
                out = maps.new_zeros(n, c, stride * h, stride * w)
            for dx in range(stride):
                out[:, :, dy::stride, dx::stride] = maps[:, dx]
    return out


def aliased_share(dense: torch.Tensor, stride: int = 8) -> torch.Tensor:
    """Per map set (N, C, H, W): the share of spectral energy (mean removed per channel, summed over channels) at
    frequencies above the Nyquist frequency of sampling every ``stride`` px, i.e. outside |f| <= 1 / (2 stride)
    along both axes: what aliases when the dense map is sampled. Shape (N,)."""
    d = dense.double()
    d = d - d.mean(dim=(2, 3), keepdim=True)
    power = torch.fft.fft2(d).abs().pow(2).sum(1)  # (N, H, W)
    fy = torch.fft.fftfreq(d.shape[2], device=d.device).abs()[:, None]
    fx = torch.fft.fftfreq(d.shape[3], device=d.device).abs()[None, :]
    inside = (fy <= 0.5 / stride) & (fx <= 0.5 / stride)
    total = power.sum((1, 2)).clamp_min(1e-300)
    return ((power * ~inside).sum((1, 2)) / total).float()


def aliasing(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, layer: str = "conv2_prepool",
             stride: int = 8, batch_size: int = 16) -> torch.Tensor:
    """C6b's per-image measure: ``aliased_share`` of ``dense_map`` for each of ``images``, (N,)."""
    return torch.cat([aliased_share(dense_map(model, images[s:s + batch_size], mean, crop, layer, stride), stride).cpu()
                      for s in range(0, len(images), batch_size)])


def aliasing_shares(experiments: list, images: torch.Tensor, nets: list | None = None) -> np.ndarray:
    """``aliasing`` of each trained model (an ``Experiment``; or ``nets``, one per experiment, e.g. untrained copies)
    on the same uint8 ``images``, with the experiment's mean and crop: (models, images)."""
    nets = nets if nets is not None else [x.model for x in experiments]
    return np.stack([aliasing(net, images, x.mean, x.crop).numpy() for net, x in zip(nets, experiments)])


def untrained_control(shares: dict[str, np.ndarray], filters: pd.DataFrame) -> str:
    """The chapter's control in words: what the untrained AlexNet and ZF give for C6b's aliasing and C6a's
    structureless filters (``shares`` and ``filters`` keyed "AlexNet, untrained" and "ZF, untrained")."""
    dead = {m: filters[filters.model == f"{m}, untrained"].structureless.mean() for m in ("AlexNet", "ZF")}
    gap = shares["AlexNet, untrained"].mean() - shares["ZF, untrained"].mean()
    return (f"Control, untrained networks (no learning): AlexNet minus ZF conv2 energy above the Nyquist frequency "
            f"{gap:.3f}; share of structureless conv1 filters AlexNet {dead['AlexNet']:.2f}, ZF {dead['ZF']:.2f}.")


def clipping_activity(runs: list) -> float:
    """Filters feature scale clipping renormalized per training step, averaged over the runs' epochs and the runs
    (experiments or run directories; their ``metrics.csv``): C5's registered testability check. NaN for runs trained
    before the loop counted it."""
    values = []
    for r in runs:
        m = pd.read_csv(Path(getattr(r, "run", r)) / "metrics.csv")
        values.append(m.clipped_per_step.mean() if "clipped_per_step" in m else np.nan)
    return float(np.mean(values)) if values else np.nan


def c5_evidence(top3: dict[str, list[float]], over_radius: list[int], weight_gaps: list[float], profile: str,
                chapter: str = "05_fig6_architecture", clipped_per_step: float = np.nan):
    """C5 from the top-3 energy shares of the clipped ("ZF") and unclipped ("ZF, no clipping") models per seed.
    Its registered check (``claims.REGISTRY["C5"]``) reads ``clipped_per_step`` (``clipping_activity`` of the
    clipped runs): where clipping never acted, the unclipped runs are the clipped ones and C5 is not testable, trained
    or not. The manipulation check of the unclipped models (filters over the radius at the end, ``C5_ENGAGED``) and
    the weight differences go in the note."""
    check = claims.REGISTRY["C5"]
    activity = f"Clipping renormalized {clipped_per_step:.3g} filters per training step of the clipped models. "
    if np.isfinite(clipped_per_step) and not check.check_passes(clipped_per_step):
        return claims.evidence("C5", np.nan, (np.nan, np.nan), len(top3.get("ZF", [])), profile,
                               seeds=len(top3.get("ZF", [])), chapter=chapter, check_value=clipped_per_step,
                               note=activity + "Without clipping acting, the unclipped runs would be the same runs.")
    if not top3.get("ZF, no clipping"):
        return claims.not_run("C5", profile, "no unclipped ZF models (no_clip_seeds is empty)", chapter=chapter)
    est, lo, hi, n = group_difference(np.array(top3["ZF, no clipping"])[:, None], np.array(top3["ZF"])[:, None])
    engaged = all(o >= C5_ENGAGED for o in over_radius)
    note = ((activity if np.isfinite(clipped_per_step) else "")
            + f"Manipulation check: filters over the clipping radius in the unclipped models at the end, per seed: "
            f"{', '.join(str(o) for o in over_radius)}; largest weight difference between the clipped and unclipped "
            f"model of each seed: {', '.join(f'{d:.2g}' for d in weight_gaps)}. C5 is tested only if clipping engages "
            "in every seed.")
    return claims.evidence("C5", est, (lo, hi), n, profile, seeds=n, chapter=chapter, testable=engaged, note=note,
                           check_value=clipped_per_step)


def c6a_evidence(filters: pd.DataFrame, profile: str, chapter: str = "05_fig6_architecture"):
    """C6a from ``conv1_filters`` of "AlexNet" and "ZF": share of structureless filters, AlexNet minus ZF, seeds
    paired by index, filters as items."""
    tab = {m: filters[filters.model == m].pivot(index="seed_index", columns="filter", values="structureless")
           .to_numpy(float) for m in ("AlexNet", "ZF")}
    est, lo, hi, n = group_difference(tab["AlexNet"], tab["ZF"])
    share = {m: ", ".join(f"{v:.3f}" for v in t.mean(1)) for m, t in tab.items()}
    return claims.evidence("C6a", est, (lo, hi), n, profile, seeds=n, chapter=chapter,
                           note=f"Share structureless per seed: AlexNet {share['AlexNet']}; ZF {share['ZF']}.")


def c6b_evidence(shares: dict[str, np.ndarray], profile: str, chapter: str = "05_fig6_architecture"):
    """C6b from ``aliasing`` shares {"AlexNet": (seeds, images), "ZF": (seeds, images)} on the same images."""
    a, z = np.asarray(shares["AlexNet"]), np.asarray(shares["ZF"])
    est, lo, hi, n = paired_difference(a, z)
    return claims.evidence("C6b", est, (lo, hi), n, profile, seeds=n, chapter=chapter,
                           note=f"AlexNet minus ZF {spread_note(a.mean(1) - z.mean(1))}.")


__all__ = ["DEAD_BELOW", "SHIFTS", "STRUCTURELESS_BELOW", "C5_ENGAGED", "clipping_activity", "filter_energy",
           "top_energy_share",
           "filter_stats", "shift_change", "spatial_autocorrelation", "structureless", "conv1_filters", "dense_map",
           "aliased_share", "aliasing", "aliasing_shares", "untrained_control", "c5_evidence", "c6a_evidence", "c6b_evidence"]
