"""Occlusion sensitivity (Fig. 7): slide a grey square over an image and record, per occluder position, the total
activity of the layer-5 map strongest on the unoccluded image, the correct-class probability and the top label."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch import nn

from zfviz.core.params import check_int
from zfviz.data.sets import center_crop
from zfviz.evidence import claims
from zfviz.evidence.stats import hierarchical_mean, sign_flip_pvalue, spread_note
from zfviz.model.deconv import project_many, receptive_field
from zfviz.model.layers import layer_name, trace
from zfviz.model.models import eval_mode, readouts, to_model_device


def occluder_positions(image_size: int, window: int, stride: int) -> list[int]:
    """Top/left offsets of the occluder along one axis: 0, stride, ... until the image is covered; the last square
    may stick out and is clipped at the border (captum's grid: ceil((size - window) / stride) + 1 positions).

    A stride larger than the window would leave strips never occluded and place squares outside the image: an error.
    """
    if not (isinstance(window, int) and isinstance(stride, int)) or window < 1 or stride < 1:
        raise ValueError(f"occluder size and stride must be positive ints, got size={window!r}, stride={stride!r}")
    if window > image_size:
        raise ValueError(f"occluder size {window} exceeds the image size {image_size}")
    if stride > window:
        raise ValueError(f"occluder stride {stride} exceeds its size {window}: parts of the image would never be "
                         "covered; use a stride of at most the size")
    return [i * stride for i in range(math.ceil((image_size - window) / stride) + 1)]


@torch.no_grad()
def occlusion(model: nn.Module, image: torch.Tensor, label: int, size: int, stride: int, *, layer: str = "conv5",
              fill: float = 0.0, batch_size: int = 64) -> pd.DataFrame:
    """Occlude a mean-subtracted (3, H, W) ``image`` with a ``size`` square every ``stride`` pixels.

    ``layer``: a conv module of ``model`` or its dotted name (``features.10`` of torchvision's AlexNet).
    ``fill`` 0 is the grey of the mean image (inputs are mean-subtracted). Returns one row per occluder position:
    row, col, y, x, prob_true (softmax of ``label``), pred, pred_prob, map_activity (sum of the ``layer`` map that
    is strongest on the unoccluded image), with that map's channel in ``df.attrs["channel"]`` and the unoccluded
    values in ``df.attrs["unoccluded"]``.

    >>> from zfviz.model.models import zfnet
    >>> m = zfnet(10, width=0.125, input_size=64).eval()
    >>> len(occlusion(m, torch.randn(3, 64, 64), 1, 16, 16))  # a 4 x 4 grid of positions
    16
    """
    if image.dim() != 3:
        raise ValueError(f"image must be (3, H, W), got shape {tuple(image.shape)}")
    layer = layer_name(model, layer)
    image = to_model_device(model, image)
    h, w = image.shape[-2:]
    ys, xs = occluder_positions(h, size, stride), occluder_positions(w, size, stride)
    with eval_mode(model):
        # one pass gives both P(class) and the map: the readout of the last op is the model's output, bit for bit
        logits = trace(model, (h, w))[-1].name
        base = image[None]
        out = readouts(model, base, [layer, logits])
        p0, act0 = out[logits].softmax(-1)[0], out[layer]
        channel = int(act0[0].flatten(1).max(1).values.argmax())  # the map with the strongest activation
        if not 0 <= label < p0.numel():
            raise ValueError(f"label {label} out of range: valid 0..{p0.numel() - 1}")
        grid = [(i, j, y, x) for i, y in enumerate(ys) for j, x in enumerate(xs)]
        rows = []
        for s in range(0, len(grid), batch_size):
            part = grid[s:s + batch_size]
            batch = base.repeat(len(part), 1, 1, 1)
            for b, (_, _, y, x) in enumerate(part):
                batch[b, :, y:y + size, x:x + size] = fill
            out = readouts(model, batch, [layer, logits])
            prob, activity = out[logits].softmax(-1), out[layer][:, channel].sum((1, 2))
            top = prob.max(1)
            for b, (i, j, y, x) in enumerate(part):
                rows.append((i, j, y, x, float(prob[b, label]), int(top.indices[b]), float(top.values[b]),
                             float(activity[b])))
    df = pd.DataFrame(rows, columns=["row", "col", "y", "x", "prob_true", "pred", "pred_prob", "map_activity"])
    df.attrs.update(channel=channel, unoccluded=dict(prob_true=float(p0[label]), pred=int(p0.argmax()),
                                                     map_activity=float(act0[0, channel].sum())),
                    size=size, stride=stride, layer=layer)
    return df


def object_occlusion(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, boxes: torch.Tensor, size: int,
                     stride: int, *, fill: float = 0.0) -> pd.DataFrame:
    """Fig. 7d's claim over many images: does covering the object lower P(correct) more than covering the rest at the
    same distance from the image centre, and is the most sensitive position on the object?

    For each mean-subtracted image (N, 3, H, W) with its label and object box (N, 4) = (y0, x0, y1, x1) in the same
    pixels, slide the ``occlusion`` grid; a position is *on* the object when the occluder's centre lies in the box and
    *off* it when the occluder does not touch the box (positions in between count for neither). Positions are put in
    rings of width ``stride`` by the distance of the occluder's centre from the image centre. Returns one row per
    image: P(correct) unoccluded, the number of on/off positions, the mean drop of P(correct) on and off the object
    (drop = unoccluded - occluded), ``difference`` = drop_on - drop_off (all positions: the pre-2026-11-30 statistic),
    ``matched`` = the mean over rings holding both kinds of drop_on - drop_off in the ring, weighted by the ring's
    on positions (C7a; NaN where no ring holds both), and for the position of the largest drop: ``worst_on`` (1 if
    it is on the object) and ``worst_chance`` (the share of its ring's positions on the object); ``worst_on -
    worst_chance`` is C7c's per-image value.
    """
    if images.dim() != 4 or boxes.shape != (len(images), 4) or len(labels) != len(images):
        raise ValueError(f"images (N, 3, H, W), labels (N,) and boxes (N, 4) must agree; got shapes "
                         f"{tuple(images.shape)}, {tuple(labels.shape)}, {tuple(boxes.shape)}")
    h, w = images.shape[-2:]
    rows = []
    for i, (image, label, box) in enumerate(zip(images, labels.tolist(), boxes.tolist())):
        df = occlusion(model, image, int(label), size, stride, fill=fill)
        y0, x0, y1, x1 = box
        top, left = df.y.to_numpy(), df.x.to_numpy()
        bottom, right = (top + size).clip(max=h), (left + size).clip(max=w)
        cy, cx = (top + bottom) / 2, (left + right) / 2
        on = (cy >= y0) & (cy < y1) & (cx >= x0) & (cx < x1)
        off = (bottom <= y0) | (top >= y1) | (right <= x0) | (left >= x1)
        ring = (np.hypot(cy - h / 2, cx - w / 2) // stride).astype(int)
        p0 = df.attrs["unoccluded"]["prob_true"]
        drop = p0 - df.prob_true.to_numpy()
        d_on = float(drop[on].mean()) if on.any() else math.nan
        d_off = float(drop[off].mean()) if off.any() else math.nan
        gaps, weights = [], []
        for r in np.unique(ring):
            a, b = on & (ring == r), off & (ring == r)
            if a.any() and b.any():
                gaps.append(drop[a].mean() - drop[b].mean())
                weights.append(a.sum())
        matched = float(np.average(gaps, weights=weights)) if gaps else math.nan
        k = int(np.argmax(drop))
        rows.append({"image": i, "prob_true": p0, "on": int(on.sum()), "off": int(off.sum()), "drop_on": d_on,
                     "drop_off": d_off, "difference": d_on - d_off, "matched": matched,
                     "rings": len(gaps), "worst_on": float(on[k]), "worst_chance": float(on[ring == ring[k]].mean())})
    return pd.DataFrame(rows, columns=["image", "prob_true", "on", "off", "drop_on", "drop_off", "difference",
                                       "matched", "rings", "worst_on", "worst_chance"])


def object_occlusion_models(experiments: list, seeds: list[int], raw: torch.Tensor, labels: torch.Tensor,
                            boxes: torch.Tensor, size: int, stride: int) -> tuple[pd.DataFrame, torch.Tensor]:
    """``object_occlusion`` for each trained model (an ``Experiment``) on the images that every one of them classifies
    correctly: the rows (a ``seed`` column added) and that mask over ``raw`` (uint8 images, resized, uncropped)."""
    crops = [center_crop(raw.to(x.device), x.mean, x.crop) for x in experiments]
    correct = torch.stack([x.model(c).argmax(1).cpu() == labels for x, c in zip(experiments, crops)]).all(0)
    df = pd.concat([object_occlusion(x.model, c[correct], labels[correct], boxes[correct], size, stride).assign(seed=s)
                    for s, x, c in zip(seeds, experiments, crops)], ignore_index=True)
    return df, correct


def projection_occlusion_models(experiments: list, seeds: list[int], images: torch.Tensor, size: int, *,
                                layer: str = "conv5", n_random: int = 4, seed: int = 0) -> pd.DataFrame:
    """``projection_occlusion`` for each trained model (an ``Experiment``) on the same uint8 ``images``, each centre-
    cropped and mean-subtracted for its model: the rows with a ``seed`` column."""
    return pd.concat([projection_occlusion(x.model, center_crop(images, x.mean.cpu(), x.crop), size, layer=layer,
                                           n_random=n_random, seed=seed).assign(seed=s)
                      for s, x in zip(seeds, experiments)], ignore_index=True)


def c7_object_evidence(df: pd.DataFrame, profile: str, chapter: str = "06_fig7_occlusion") -> list:
    """C7a and C7c from ``object_occlusion`` results of several models (a ``seed`` column, the same images): a
    (seeds, images) table each, images without a ring holding both kinds of position dropped from C7a."""
    out = []
    for cid, values in (("C7a", df.matched), ("C7c", df.worst_on - df.worst_chance)):
        table = df.assign(v=values).pivot(index="seed", columns="image", values="v").dropna(axis=1)
        est, lo, hi, n = hierarchical_mean(table.to_numpy())
        out.append(claims.evidence(cid, est, (lo, hi), table.shape[1], profile, seeds=n, chapter=chapter,
                                   note=spread_note(table.mean(1)) + "."))
    return out


def as_grid(df: pd.DataFrame, column: str) -> torch.Tensor:
    """One column of an ``occlusion`` result as a 2-D (rows, cols) map for plotting."""
    grid = df.pivot(index="row", columns="col", values=column)
    return torch.tensor(grid.to_numpy())


def box_sums(energy: torch.Tensor, size: int) -> torch.Tensor:
    """Sum of ``energy`` (N, H, W) inside every ``size`` square: (N, H - size + 1, W - size + 1), by top-left."""
    return torch.nn.functional.avg_pool2d(energy[:, None], size, stride=1)[:, 0] * size * size


def _square_at(centre: torch.Tensor, size: int, h: int, w: int) -> torch.Tensor:
    """Top-left corners (N, 2) of ``size`` squares centred (as near as the image allows) on ``centre`` (N, 2)."""
    corner = torch.round(centre.float() - (size - 1) / 2).long()
    return torch.stack([corner[:, 0].clamp(0, h - size), corner[:, 1].clamp(0, w - size)], 1)


def _best_square(energy: torch.Tensor, size: int) -> torch.Tensor:
    """Top-left corners (N, 2) of the ``size`` square holding the most ``energy`` (N, H, W)."""
    sums = box_sums(energy, size)
    best = sums.flatten(1).argmax(1)
    return torch.stack([best // sums.shape[-1], best % sums.shape[-1]], 1)


SQUARES = ("projection", "rf_centre", "gradient")  # where projection_occlusion places its non-random squares


@torch.no_grad()
def projection_occlusion(model: nn.Module, images: torch.Tensor, size: int, *, layer: str = "conv5",
                         n_random: int = 4, seed: int = 0, fill: float = 0.0, batch_size: int = 32) -> pd.DataFrame:
    """Fig. 7's argument, measured: does covering what a map's projection highlights silence the map, more than
    covering what simpler pointers highlight?

    For each mean-subtracted image (N, 3, H, W): take the ``layer`` map strongest on it and that map's strongest unit.
    Place a ``size`` square (a) where the unit's deconvnet projection has most energy (sum of |pixels|), (b) centred on
    the unit's receptive-field centre (``rf_centre``), (c) where the unit's input gradient has most energy
    (``gradient``), and (d) at ``n_random`` uniformly random places. Returns one row per image: the map's channel, its
    total activity unoccluded, the relative drop of that activity under each square (``drop_<square>``, drop = 1 -
    occluded / unoccluded; ``drop_random`` is the mean over the random draws), and the projection square's corner.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, 3, H, W), got shape {tuple(images.shape)}")
    layer = layer_name(model, layer)
    images = to_model_device(model, images)
    if not bool(torch.isfinite(images).all()):
        raise ValueError("images contain NaN or infinite values")
    h, w = images.shape[-2:]
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= min(h, w):
        raise ValueError(f"size must be an int in 1..{min(h, w)}, got {size!r}")
    check_int("n_random", n_random)
    g = torch.Generator().manual_seed(seed)
    rand = torch.stack([torch.randint(0, h - size + 1, (len(images), n_random), generator=g),
                        torch.randint(0, w - size + 1, (len(images), n_random), generator=g)], 2)  # (N, R, 2)
    fixed = len(SQUARES)
    rows = []
    with eval_mode(model):
        for s in range(0, len(images), batch_size):
            x = images[s:s + batch_size]
            i = torch.arange(len(x), device=x.device)
            with torch.enable_grad():  # one forward pass: the maps, and the strongest unit's input gradient
                xg = x.detach().requires_grad_(True)
                act_g = readouts(model, xg, [layer])[layer]
                act = act_g.detach()
                channel = act.flatten(2).amax(2).argmax(1)  # (B,) the strongest map of each image
                flat = act[i, channel].flatten(1).argmax(1)
                pos = torch.stack([flat // act.shape[-1], flat % act.shape[-1]], 1)  # its strongest unit
                (grad,) = torch.autograd.grad(act_g[i, channel, pos[:, 0], pos[:, 1]].sum(), xg)
            base = act[i, channel].sum((1, 2))
            proj = project_many(model, x, layer, channel, positions=pos).pixels
            box = receptive_field(model, layer, pos.cpu(), (h, w), clip=False).float()
            corners = torch.cat([torch.stack([_best_square(proj.abs().sum(1), size).cpu(),
                                              _square_at((box[:, :2] + box[:, 2:] - 1) / 2, size, h, w),
                                              _best_square(grad.abs().sum(1), size).cpu()], 1),
                                 rand[s:s + batch_size]], 1)  # (B, 3 + R, 2)
            occluded = x[:, None].repeat(1, fixed + n_random, 1, 1, 1)  # (B, 3 + R, 3, H, W)
            for b in range(len(x)):
                for r, (y0, x0) in enumerate(corners[b].tolist()):
                    occluded[b, r, :, y0:y0 + size, x0:x0 + size] = fill
            a = readouts(model, occluded.flatten(0, 1), [layer])[layer].unflatten(0, (len(x), fixed + n_random))
            activity = a[i, :, channel].sum((2, 3))  # (B, 3 + R)
            drop = (1 - activity / base[:, None].clamp_min(1e-12)).cpu()
            for b in range(len(x)):
                rows.append({"image": s + b, "channel": int(channel[b]), "activity": float(base[b]),
                             **{f"drop_{name}": float(drop[b, k]) for k, name in enumerate(SQUARES)},
                             "drop_random": float(drop[b, fixed:].mean()) if n_random else math.nan,
                             "y": int(corners[b, 0, 0]), "x": int(corners[b, 0, 1])})
    return pd.DataFrame(rows)


def projection_advantage(drops: pd.DataFrame, baselines: tuple[str, ...] = ("rf_centre", "gradient", "random")
                         ) -> tuple[str, pd.DataFrame]:
    """C7b's evidence from ``projection_occlusion`` results of several models (a ``seed`` column, the same images):
    the best baseline (highest mean drop) and a (seeds, images) table of the projection's drop minus that baseline's."""
    means = {b: drops[f"drop_{b}"].mean() for b in baselines}
    best = max(means, key=means.get)
    diff = drops.assign(d=drops.drop_projection - drops[f"drop_{best}"]).pivot(index="seed", columns="image",
                                                                              values="d")
    return best, diff


def c7b_evidence(drops: pd.DataFrame, profile: str, chapter: str = "13_fig7_occlusion_statistic"):
    """C7b: the projection's square against the best baseline (``projection_advantage``), seeds x images, with the
    per-seed values and the sign-flip p-value in the note."""
    best, diff = projection_advantage(drops)
    est, lo, hi, n = hierarchical_mean(diff.to_numpy())
    return claims.evidence("C7b", est, (lo, hi), diff.shape[1], profile, seeds=n, chapter=chapter,
                           note=f"Best baseline: {best}; {spread_note(diff.mean(1))}; sign-flip p over images "
                           f"{sign_flip_pvalue(diff.mean(0)):.2g}.")


def object_occlusion_by_class(df: pd.DataFrame, names: list[str], labels: list[int]) -> pd.DataFrame:
    """``object_occlusion`` rows of several seeds, averaged per class (``labels[i]`` is image i's class, ``names`` the
    class names), with readable columns and the number of images per class."""
    d = df.assign(cls=[names[labels[i]] for i in df.image])
    cols = {"prob_true": "P(correct)", "drop_on": "drop on", "drop_off": "drop off",
            "difference": "on - off (all positions)", "matched": "on - off (same rings)",
            "worst_on": "most sensitive on object", "worst_chance": "... by chance in its ring"}
    out = d.groupby("cls")[list(cols)].mean().rename(columns=cols)
    out["images"] = d[d.seed == d.seed.iloc[0]].groupby("cls").size()
    return out.rename_axis("class")
