"""Three ways to ask a convnet "where" for the same image: the deconvnet projection of the strongest map, saliency,
and occlusion; and how far the first two agree with the third, window by window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from torch import nn

from zfviz.analysis.gradients import saliency
from zfviz.analysis.occlusion import as_grid, box_sums, occlusion
from zfviz.model.deconv import project
from zfviz.model.models import to_model_device


def _window_sums(energy: torch.Tensor, occ: pd.DataFrame, size: int) -> np.ndarray:
    """The sum of a (H, W) map inside each occluder window of ``occ`` (top-left corners ``x``, ``y``; the last
    windows may stick out of the image, where the zero padding adds nothing)."""
    sums = box_sums(F.pad(energy.detach().float().cpu()[None], (0, size - 1, 0, size - 1)), size)[0]
    return sums.numpy()[occ.y.to_numpy(), occ.x.to_numpy()]


def method_agreement(model: nn.Module, images: torch.Tensor, targets: list[int], size: int, stride: int,
                     layer: str = "conv5",
                     names: list[str] | None = None) -> tuple[pd.DataFrame, list[dict[str, torch.Tensor]]]:
    """For each image (model scale) and its class: the occlusion map (P(correct) per occluder position), the
    deconvnet projection of ``layer``'s strongest map, and saliency; one row per image with P(correct) and the Spearman
    correlation, over occluder windows, of each map's energy in the window with the drop in P(correct) it causes.
    Rows are indexed by class (``names[class]`` when given)."""
    images = to_model_device(model, images)
    rows, maps = [], []
    for x, c in zip(images, targets):
        occ = occlusion(model, x, c, size, stride, layer=layer)
        proj = project(model, x[None], layer, occ.attrs["channel"])[0].cpu()
        sal = saliency(model, x[None], [c])[0].cpu()
        p0 = occ.attrs["unoccluded"]["prob_true"]
        drop = p0 - occ.prob_true.to_numpy()
        rows.append({"class": names[c] if names else c, "P(correct)": p0,
                     "saliency vs occlusion": spearmanr(_window_sums(sal, occ, size), drop).statistic,
                     "projection vs occlusion":
                         spearmanr(_window_sums(proj.abs().sum(0), occ, size), drop).statistic})
        maps.append({"deconvnet": proj, "channel": occ.attrs["channel"], "saliency": sal,
                     "occlusion": as_grid(occ, "prob_true")})
    return pd.DataFrame(rows).set_index("class"), maps


__all__ = ["method_agreement"]
