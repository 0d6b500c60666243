"""Filter statistics for architecture selection (Sec. 4.1, Fig. 6): dominant and dead filters."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from ..data import center_crop
from ..models import eval_mode, model_device, readouts


@torch.no_grad()
def filter_stats(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, layer: str = "conv1",
                 batch_size: int = 256, dead_fraction: float = 0.01) -> pd.DataFrame:
    """Per filter of a conv ``layer``: weight RMS, strongest readout activation over ``images``, and ``dead``.

    A filter is dead when its strongest activation over all images is below ``dead_fraction`` of the median
    filter's strongest activation (it never responds noticeably).
    """
    dev = model_device(model)
    peak = None
    with eval_mode(model):
        for s in range(0, len(images), batch_size):
            x = center_crop(images[s:s + batch_size].to(dev), mean.to(dev), crop)
            a = readouts(model, x, [layer])[layer].amax(dim=(0, 2, 3))
            peak = a if peak is None else torch.maximum(peak, a)
    w = model.get_submodule(layer).weight
    rms = w.pow(2).mean(dim=(1, 2, 3)).sqrt()
    df = pd.DataFrame({"filter": range(len(rms)), "rms": rms.cpu().numpy(), "peak": peak.cpu().numpy()})
    return df.assign(dead=df.peak < dead_fraction * df.peak.median())
