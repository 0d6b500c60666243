"""Occlusion sensitivity (Fig. 7): slide a grey square over an image and record, per occluder position, the total
activity of the layer-5 map strongest on the unoccluded image, the correct-class probability and the top label."""

from __future__ import annotations

import math

import pandas as pd
import torch
from torch import nn

from ..deconv import project_many
from ..models import eval_mode, readouts, to_model_device
from ..params import check_int


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

    ``fill`` 0 is the grey of the mean image (inputs are mean-subtracted). Returns one row per occluder position:
    row, col, y, x, prob_true (softmax of ``label``), pred, pred_prob, map_activity (sum of the ``layer`` map that
    is strongest on the unoccluded image), with that map's channel in ``df.attrs["channel"]`` and the unoccluded
    values in ``df.attrs["unoccluded"]``.
    """
    if image.dim() != 3:
        raise ValueError(f"image must be (3, H, W), got shape {tuple(image.shape)}")
    image = to_model_device(model, image)
    h, w = image.shape[-2:]
    ys, xs = occluder_positions(h, size, stride), occluder_positions(w, size, stride)
    with eval_mode(model):
        base = image[None]
        p0 = model(base).softmax(-1)[0]
        act0 = readouts(model, base, [layer])[layer]
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
            prob = model(batch).softmax(-1)
            activity = readouts(model, batch, [layer])[layer][:, channel].sum((1, 2))
            top = prob.max(1)
            for b, (i, j, y, x) in enumerate(part):
                rows.append((i, j, y, x, float(prob[b, label]), int(top.indices[b]), float(top.values[b]),
                             float(activity[b])))
    df = pd.DataFrame(rows, columns=["row", "col", "y", "x", "prob_true", "pred", "pred_prob", "map_activity"])
    df.attrs.update(channel=channel, unoccluded=dict(prob_true=float(p0[label]), pred=int(p0.argmax()),
                                                     map_activity=float(act0[0, channel].sum())),
                    size=size, stride=stride, layer=layer)
    return df


def as_grid(df: pd.DataFrame, column: str) -> torch.Tensor:
    """One column of an ``occlusion`` result as a 2-D (rows, cols) map for plotting."""
    grid = df.pivot(index="row", columns="col", values=column)
    return torch.tensor(grid.to_numpy())


def _box_sums(energy: torch.Tensor, size: int) -> torch.Tensor:
    """Sum of ``energy`` (N, H, W) inside every ``size`` square: (N, H - size + 1, W - size + 1), by top-left."""
    return torch.nn.functional.avg_pool2d(energy[:, None], size, stride=1)[:, 0] * size * size


@torch.no_grad()
def projection_occlusion(model: nn.Module, images: torch.Tensor, size: int, *, layer: str = "conv5",
                         n_random: int = 4, seed: int = 0, fill: float = 0.0, batch_size: int = 32) -> pd.DataFrame:
    """Fig. 7's argument, measured: does covering what a map's projection highlights silence the map?

    For each mean-subtracted image (N, 3, H, W): take the ``layer`` map strongest on it, project that activation to
    pixels with the deconvnet, and place a ``size`` square where the projection's energy (sum of |pixels|) is largest;
    then place ``n_random`` squares of the same size uniformly at random. Returns one row per image: the map's channel,
    its total activity unoccluded, the relative drop under the projection square and the mean relative drop under the
    random ones (drop = 1 - occluded / unoccluded), and the projection square's top-left corner.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (N, 3, H, W), got shape {tuple(images.shape)}")
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
    rows = []
    with eval_mode(model):
        for s in range(0, len(images), batch_size):
            x = images[s:s + batch_size]
            act = readouts(model, x, [layer])[layer]
            channel = act.flatten(2).amax(2).argmax(1)  # (B,) the strongest map of each image
            base = act[torch.arange(len(x)), channel].sum((1, 2))
            proj = project_many(model, x, layer, channel).pixels
            sums = _box_sums(proj.abs().sum(1), size)
            best = sums.flatten(1).argmax(1)
            py, px = best // sums.shape[-1], best % sums.shape[-1]
            corners = torch.cat([torch.stack([py.cpu(), px.cpu()], 1)[:, None], rand[s:s + batch_size]], 1)
            occluded = x[:, None].repeat(1, 1 + n_random, 1, 1, 1)  # (B, 1 + R, 3, H, W)
            for b in range(len(x)):
                for r, (y0, x0) in enumerate(corners[b].tolist()):
                    occluded[b, r, :, y0:y0 + size, x0:x0 + size] = fill
            a = readouts(model, occluded.flatten(0, 1), [layer])[layer].unflatten(0, (len(x), 1 + n_random))
            activity = a[torch.arange(len(x)), :, channel].sum((2, 3))  # (B, 1 + R)
            drop = 1 - activity / base[:, None].clamp_min(1e-12)
            for b in range(len(x)):
                rows.append({"image": s + b, "channel": int(channel[b]), "activity": float(base[b]),
                             "drop_projection": float(drop[b, 0]), "drop_random": float(drop[b, 1:].mean()),
                             "y": int(corners[b, 0, 0]), "x": int(corners[b, 0, 1])})
    return pd.DataFrame(rows)
