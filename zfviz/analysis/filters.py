"""Architecture selection (Sec. 4.1, Fig. 6), measured: dominant filters, dead filters and conv2 aliasing.

- Dominance (claim C5): the share of a layer's filter energy (sum of squared weights) in its 3 largest filters.
  The comparison with and without clipping tests something only where clipping engages: ``filters_over_radius`` of
  the unclipped models counts the filters it would have renormalized, ``max_weight_difference`` shows whether the
  clipped and unclipped runs of a seed differ at all.
- Dead filters (C6a): a filter is dead when its rectified readout is positive on under 1% of validation positions
  (a criterion that fires: a filter that never turns on, whatever its weights).
- Aliasing (C6b): the relative change of a layer's globally averaged features when the input crop moves by 1-3 px.
  Global averaging removes the shift itself; what remains is what sub-sampling without enough smoothing lets through.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from ..data import center_crop
from ..models import eval_mode, filter_rms, model_device, readouts

DEAD_BELOW = 0.01  # active on under 1% of positions
SHIFTS = (1, 2, 3)  # px at the model's input


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


__all__ = ["DEAD_BELOW", "SHIFTS", "filter_energy", "top_energy_share", "filter_stats", "shift_change"]
