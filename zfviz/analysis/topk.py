"""Top-k mining: the k strongest activations of every channel of chosen layers over a dataset, in one streaming pass,
and their deconvnet projections with the matching image patches (Fig. 2; Fig. 4 with k=1 on the training set)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from zfviz.data.sets import center_crop
from zfviz.evidence import claims
from zfviz.evidence.stats import group_difference
from zfviz.model.deconv import Projection, project_many
from zfviz.model.layers import layer_name
from zfviz.model.models import eval_mode, model_device, readouts

# Host memory a top-k pass may give one batch's activations on CPU (on CUDA, more): a batch of 256 images through
# VGG16 at 224 px holds 3.3 GB in its first conv's output alone, so the batch shrinks to what fits (issue 48).
ACTIVATION_BUDGET = {"cpu": 1 << 30, "cuda": 8 << 30}


@torch.no_grad()
def fitting_batch(model: nn.Module, x1: torch.Tensor, most: int) -> int:
    """The largest batch (at most ``most``) whose activations fit ``ACTIVATION_BUDGET`` on ``x1``'s device: one image
    ``x1`` (1, 3, H, W) goes through ``model`` with a hook on every leaf module, and the sum of their outputs sets the
    per-image cost: an upper bound on what a forward pass that keeps every layer's readout holds at once.

    >>> from zfviz.model.models import zfnet
    >>> fitting_batch(zfnet(10, width=0.125, input_size=64).eval(), torch.randn(1, 3, 64, 64), 256)
    256
    """
    total = [0]

    def note(_module, _inputs, out) -> None:
        if isinstance(out, torch.Tensor):
            total[0] += out.numel() * out.element_size()

    hooks = [m.register_forward_hook(note) for m in model.modules() if not list(m.children())]
    try:
        model(x1)
    finally:
        for h in hooks:
            h.remove()
    budget = ACTIVATION_BUDGET.get(x1.device.type, ACTIVATION_BUDGET["cpu"])
    return int(max(1, min(most, budget // max(1, total[0]))))


@torch.no_grad()
def top_activations(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, layers: list,
                    k: int = 9, batch_size: int = 256, progress: bool = True) -> pd.DataFrame:
    """For every (layer, channel): the ``k`` images whose strongest activation of that channel is largest.

    ``layers``: modules of ``model`` or their dotted names (zfviz's ``conv1`` ... ``conv5``; ``features.10`` of
    torchvision's AlexNet).

    >>> from zfviz.model.models import zfnet
    >>> m = zfnet(10, width=0.125, input_size=64).eval()
    >>> imgs = torch.randint(0, 255, (6, 3, 73, 73), dtype=torch.uint8)
    >>> t = top_activations(m, imgs, imgs.float().mean(0), 64, [m.conv5], k=2, progress=False)
    >>> sorted(t.columns), t.layer.iloc[0]
    (['channel', 'image', 'layer', 'rank', 'value', 'x', 'y'], 'conv5')

    ``images`` are uint8 (N, 3, S, S) and are centre-cropped and mean-subtracted batch by batch on the model's
    device. One activation per image (its maximum over positions), so the k come from k different images.
    Returns a tidy DataFrame: layer, channel, rank (0 = strongest), image, y, x, value.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    layers = [layer_name(model, layer) for layer in layers]  # modules or dotted names; the table holds names
    if len(images) == 0:
        raise ValueError("no images to mine: the image tensor is empty")
    if crop > images.shape[-1] or crop > images.shape[-2]:
        raise ValueError(f"crop {crop} is larger than the images ({images.shape[-2]}x{images.shape[-1]} px)")
    dev = model_device(model)
    best: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    widths: dict[str, int] = {}
    with eval_mode(model):
        batch_size = fitting_batch(model, center_crop(images[:1].to(dev), mean.to(dev), crop), batch_size)
        for start in tqdm(range(0, len(images), batch_size), disable=not progress, desc="top-k pass", unit="batch"):
            x = center_crop(images[start:start + batch_size].to(dev), mean.to(dev), crop)
            for layer, act in readouts(model, x, layers).items():
                b, c, h, w = act.shape
                val, flat = act.flatten(2).max(2)  # (b, c): each image's strongest activation per channel
                img = torch.arange(start, start + b, device=dev)[:, None].expand(b, c)
                if layer in best:
                    v0, i0, f0 = best[layer]
                    val, img, flat = torch.cat([v0, val]), torch.cat([i0, img]), torch.cat([f0, flat])
                top = val.topk(min(k, len(val)), dim=0)
                best[layer] = (top.values, img.gather(0, top.indices), flat.gather(0, top.indices))
                widths[layer] = w
    rows = []
    for layer in layers:
        val, img, flat = (t.cpu() for t in best[layer])
        w = widths[layer]
        kk, c = val.shape
        rows.append(pd.DataFrame({
            "layer": layer,
            "channel": torch.arange(c).repeat(kk).numpy(),
            "rank": torch.arange(kk).repeat_interleave(c).numpy(),
            "image": img.flatten().numpy(),
            "y": (flat // w).flatten().numpy(),
            "x": (flat % w).flatten().numpy(),
            "value": val.flatten().numpy(),
        }))
    return pd.concat(rows, ignore_index=True).sort_values(["layer", "channel", "rank"], ignore_index=True)


@dataclass
class TopProjections:
    """Projections of mined activations: the ``table`` rows, their ``projection`` and the matching image ``crops``."""

    table: pd.DataFrame
    projection: Projection
    inputs: torch.Tensor  # the mean-subtracted input crop of every row (T, 3, crop, crop)


@torch.no_grad()
def project_top(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, table: pd.DataFrame,
                chunk: int = 256) -> TopProjections:
    """Deconvnet projections of the rows of ``top_activations`` (one layer at a time, images forwarded once)."""
    dev = model_device(model)
    parts, inputs, projections = [], [], []
    with eval_mode(model):
        for layer, rows in table.groupby("layer", sort=False):
            uniq, local = torch.unique(torch.tensor(rows.image.to_numpy()), return_inverse=True)
            x = center_crop(images[uniq].to(dev), mean.to(dev), crop)
            pos = torch.tensor(rows[["y", "x"]].to_numpy(), device=dev)
            channels, local = torch.tensor(rows.channel.to_numpy()), local.to(dev)
            # the deconvnet keeps every forwarded image's trace: forward as many images at once as fit the budget
            # (all of them for the book's models; VGG16 at 224 px, a few), each row with its own image
            fits = fitting_batch(model, x[:1], max(len(x), chunk))  # one probe serves both bounds
            step = min(fits, len(x))
            # the deconvnet's way down holds about a forward pass's activations per triple: as many triples at once
            # as images (VGG16 at 224 px: 9, where 256 would hold about 15 GB)
            chunk = min(chunk, fits)
            sels, pieces = [], []
            for start in range(0, len(x), step):
                sel = ((local >= start) & (local < start + step)).nonzero().flatten()
                q = project_many(model, x[start:start + step], layer, channels[sel.cpu()], pos[sel], local[sel] - start,
                                 chunk)
                sels.append(sel)
                pieces.append(dataclasses.replace(q, image_index=q.image_index + start))
            back = torch.argsort(torch.cat(sels))  # the rows' own order again
            projections.append(Projection(**{f.name: torch.cat([getattr(q, f.name) for q in pieces])[
                back.to(getattr(pieces[0], f.name).device)] for f in dataclasses.fields(Projection)}))
            parts.append(rows)
            inputs.append(x[local])
    cat = lambda name: torch.cat([getattr(p, name) for p in projections])
    proj = Projection(cat("pixels"), cat("boxes"), cat("values"), cat("positions"), cat("image_index"),
                      cat("channels"))
    return TopProjections(pd.concat(parts, ignore_index=True), proj, torch.cat(inputs))


def cut(x: torch.Tensor, box: torch.Tensor | list[int]) -> torch.Tensor:
    """The (3, h, w) region of an image or projection inside a receptive-field box (y0, x0, y1, x1)."""
    y0, x0, y1, x1 = (int(v) for v in box)
    return x[..., y0:y1, x0:x1]


def map_purity(table: pd.DataFrame, labels: torch.Tensor) -> pd.DataFrame:
    """Per map of a ``top_activations`` table: ``purity``, the share of its top-k images from the most common class
    among them (columns layer, channel, purity)."""
    lab = labels.cpu().numpy()
    df = table.assign(label=lab[table.image.to_numpy()])
    return (df.groupby(["layer", "channel"], sort=False).label.agg(lambda s: s.value_counts().iloc[0] / len(s))
            .rename("purity").reset_index())


def class_purity(table: pd.DataFrame, labels: torch.Tensor, *, chance_draws: int = 2000,
                 seed: int = 0) -> pd.DataFrame:
    """Per layer: how class-specific the top-k images of its maps are.

    purity of a map = share of its top-k images from the most common class among them. Returns per layer the mean
    and std over maps, and ``chance``: the same statistic for random k-image sets from the same labels.
    """
    lab = labels.cpu().numpy()
    k = int(table.groupby(["layer", "channel"]).size().max())
    rng = np.random.default_rng(seed)
    draws = lab[rng.integers(0, len(lab), size=(chance_draws, k))]
    chance = float(np.mean([np.bincount(d).max() / k for d in draws]))
    out = map_purity(table, labels).groupby("layer", sort=False).purity.agg(["mean", "std", "count"]).reset_index()
    return out.assign(chance=chance)


def c11_evidence(tables: list[pd.DataFrame], labels: torch.Tensor, profile: str, chapter: str = "02_fig2_top9"):
    """C11 from one ``top_activations`` table per seed: conv5 minus conv1 purity, with chance in the note."""
    est, lo, hi, n = purity_gain(tables, labels)
    chance = class_purity(tables[0], labels).chance.iloc[0]
    k = int(tables[0].groupby(["layer", "channel"]).size().max())
    return claims.evidence("C11", est, (lo, hi), n, profile, seeds=n, chapter=chapter,
                           note=f"Chance purity of random {k}-image sets: {chance:.2f}. The figures are for the reader "
                           "to compare with the paper's Fig. 2 (10 classes here, not 1000).")


def purity_gain(tables: list[pd.DataFrame], labels: torch.Tensor, high: str = "conv5",
                low: str = "conv1") -> tuple[float, float, float, int]:
    """Claim C11: mean purity of ``high``'s maps minus ``low``'s, over one ``top_activations`` table per seed (all
    scored on the images ``labels`` belong to): (estimate, CI low, CI high, seeds), resampling seeds and maps."""
    per = [map_purity(t, labels) for t in tables]
    for layer in (high, low):
        if any(not (p.layer == layer).any() for p in per):
            raise ValueError(f"every table needs layer {layer!r}; the tables have {sorted(set(per[0].layer))}")
    return group_difference(np.stack([p.purity[p.layer == high].to_numpy() for p in per]),
                            np.stack([p.purity[p.layer == low].to_numpy() for p in per]))
