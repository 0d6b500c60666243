"""Occlusion sensitivity (Fig. 7): slide a grey square over an image and record, per occluder position, the total
activity of the layer-5 map strongest on the unoccluded image, the correct-class probability and the top label."""

from __future__ import annotations

import math

import pandas as pd
import torch
from torch import nn

from ..models import eval_mode
from .topk import readouts


def occluder_positions(size: int, image_size: int, window: int, stride: int) -> list[int]:
    """Top/left offsets of the occluder along one axis: 0, stride, ... until the image is covered; the last square
    may stick out and is clipped at the border (captum's grid: ceil((size - window) / stride) + 1 positions)."""
    if not (isinstance(window, int) and isinstance(stride, int)) or window < 1 or stride < 1:
        raise ValueError(f"occluder size and stride must be positive ints, got size={window!r}, stride={stride!r}")
    if window > image_size:
        raise ValueError(f"occluder size {window} exceeds the image size {image_size}")
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
    h, w = image.shape[-2:]
    ys, xs = occluder_positions(size, h, size, stride), occluder_positions(size, w, size, stride)
    with eval_mode(model):
        base = image[None]
        act0 = readouts(model, base, [layer])[layer]
        channel = int(act0[0].flatten(1).max(1).values.argmax())  # the map with the strongest activation
        p0 = model(base).softmax(-1)[0]
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
