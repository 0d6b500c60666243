"""Gradient-based visualization (the companion report): activation maximization, class model visualization
(Simonyan et al. 2014) and vanilla-gradient saliency. Inputs live on the model's scale (mean-subtracted pixels)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import torch
from torch import nn

from zfviz.model.models import eval_mode, forward_to, model_device, to_model_device


def _check_steps(steps: int, step_size: float) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if not isinstance(step_size, (int, float)) or not math.isfinite(step_size) or step_size <= 0:
        raise ValueError(f"step_size must be a finite positive number, got {step_size!r}")


@contextmanager
def _frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no weight gradients for a block; each parameter's own requires_grad is restored afterwards."""
    flags = [p.requires_grad for p in model.parameters()]
    with eval_mode(model):
        try:
            for p in model.parameters():
                p.requires_grad_(False)
            yield model
        finally:
            for p, flag in zip(model.parameters(), flags):
                p.requires_grad_(flag)


def activation_maximization(model: nn.Module, layer: str, channel: int, size: int, *, steps: int = 20,
                            step_size: float = 1.0, noise_std: float = 1.0,
                            seed: int = 0) -> tuple[torch.Tensor, pd.DataFrame]:
    """Gradient ascent from N(0, noise_std) noise on the mean activation of one channel (a unit for fc layers).

    Each step moves the image by ``step_size`` along the RMS-normalized gradient. Returns the image (3, size, size)
    and the objective per step.
    """
    _check_steps(steps, step_size)
    dev = model_device(model)
    with torch.no_grad():
        n = forward_to(model, torch.zeros(1, 3, size, size, device=dev), layer).shape[1]
    if isinstance(channel, bool) or not isinstance(channel, int) or not 0 <= channel < n:
        raise ValueError(f"channel {channel!r} out of range for {layer}: valid 0..{n - 1}")
    g = torch.Generator(device="cpu").manual_seed(seed)
    x = (torch.randn(1, 3, size, size, generator=g) * noise_std).to(dev).requires_grad_(True)
    history = []
    with _frozen(model):
        for t in range(steps):
            objective = forward_to(model, x, layer)[0, channel].mean()
            (grad,) = torch.autograd.grad(objective, x)
            history.append({"step": t, "objective": float(objective.detach())})
            with torch.no_grad():
                x += step_size * grad / grad.pow(2).mean().sqrt().clamp_min(1e-12)
    return x.detach()[0], pd.DataFrame(history)


def class_model(model: nn.Module, target: int, size: int, *, steps: int = 100, step_size: float = 0.5,
                alpha: float = 0.1, init: torch.Tensor | None = None, input_scale: float = 1.0,
                seed: int = 0) -> tuple[torch.Tensor, pd.DataFrame]:
    """Class model visualization: gradient ascent on S_c(I) - alpha * ||I||_1, S_c the unnormalized class score.

    The model sees ``input_scale * I``: with the data's pixel standard deviation there, ``I`` is in standardized
    units, where the report's step 0.5, alpha 0.1 and N(0, 1) noise were chosen. ``init``: a starting model input
    (3, size, size), e.g. the class's mean image; default N(0, 1) noise in ``I`` units.
    Returns the model input (``input_scale * I``) and per step the score and the objective.
    """
    if not isinstance(input_scale, (int, float)) or not math.isfinite(input_scale) or input_scale <= 0:
        raise ValueError(f"input_scale must be a finite positive number, got {input_scale!r}")
    _check_steps(steps, step_size)
    if not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha must be a finite non-negative number, got {alpha!r}")
    dev = model_device(model)
    with torch.no_grad():
        c = model(torch.zeros(1, 3, size, size, device=dev)).shape[1]
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < c:
        raise ValueError(f"unknown class {target!r}: valid 0..{c - 1}")
    if init is None:
        x = torch.randn(3, size, size, generator=torch.Generator().manual_seed(seed))
    else:
        x = init.detach().clone().float() / input_scale
    x = x.to(dev)[None].requires_grad_(True)
    history = []
    with _frozen(model):
        for t in range(steps):
            score = model(input_scale * x)[0, target]
            objective = score - alpha * x.abs().sum()
            (grad,) = torch.autograd.grad(objective, x)
            history.append({"step": t, "score": float(score.detach()), "objective": float(objective.detach())})
            with torch.no_grad():
                x += step_size * grad
    return input_scale * x.detach()[0], pd.DataFrame(history)


def live_channels(model: nn.Module, layers: list[str], per_layer: int, size: int, *, steps: int = 50,
                  report_steps: int = 20, step_size: float = 1.0,
                  seed: int = 0) -> tuple[pd.DataFrame, dict[tuple[str, int], torch.Tensor]]:
    """Activation maximization channel by channel, in order, until ``per_layer`` channels of each layer end live
    (objective > 0; the report skips dead ones). Returns one row per channel tried (objective at the start, after
    ``report_steps`` and at the end; whether it is live) and the live channels' images keyed by (layer, channel)."""
    rows, images = [], {}
    for layer in layers:
        n, live, ch = model.get_submodule(layer).out_channels, 0, 0
        while live < per_layer and ch < n:
            img, hist = activation_maximization(model, layer, ch, size, steps=steps, step_size=step_size, seed=seed)
            obj = hist.objective
            rows.append({"layer": layer, "channel": ch, "start": obj.iloc[0],
                         "at_report_steps": obj.iloc[min(report_steps, len(obj)) - 1], "end": obj.iloc[-1],
                         "live": bool(obj.iloc[-1] > 0)})
            if rows[-1]["live"]:
                images[layer, ch] = img.cpu()
                live += 1
            ch += 1
    return pd.DataFrame(rows), images


def class_model_runs(model: nn.Module, inits: dict[int, dict[str, torch.Tensor | None]], size: int, *,
                     steps: int = 100, step_size: float = 0.5, alpha: float = 0.1, input_scale: float = 1.0,
                     seed: int = 0, names: list[str] | None = None) -> tuple[pd.DataFrame, dict[tuple[int, str], torch.Tensor]]:
    """``class_model`` for each class and each named start ({class: {"noise": None, "class mean": image}}). Returns
    one row per (class, start) with the class score before and after and P(class) after (classes shown by
    ``names[class]`` when given), and the images keyed by (class index, start)."""
    rows, images = [], {}
    for c, starts in inits.items():
        for start, init in starts.items():
            img, hist = class_model(model, c, size, steps=steps, step_size=step_size, alpha=alpha, init=init,
                                    input_scale=input_scale, seed=seed)
            with torch.no_grad():
                prob = float(model(img[None]).softmax(-1)[0, c])
            rows.append({"class": names[c] if names else c, "init": start, "score before": hist.score.iloc[0],
                         "score after": hist.score.iloc[-1], "P(class) after": prob})
            images[c, start] = img.cpu()
    return pd.DataFrame(rows), images


def saliency(model: nn.Module, images: torch.Tensor, targets: torch.Tensor | list[int]) -> torch.Tensor:
    """Vanilla-gradient saliency (N, H, W): max over colour channels of |d S_c / d I| for each image's class."""
    images = to_model_device(model, images)
    targets = torch.as_tensor(targets, dtype=torch.long, device=images.device).flatten()
    if len(targets) != len(images):
        raise ValueError(f"{len(targets)} targets for {len(images)} images")
    x = images.detach().clone().requires_grad_(True)
    with _frozen(model):
        scores = model(x)
        if targets.min() < 0 or targets.max() >= scores.shape[1]:
            raise ValueError(f"unknown class in targets: valid 0..{scores.shape[1] - 1}")
        (grad,) = torch.autograd.grad(scores.gather(1, targets[:, None]).sum(), x)
    return grad.abs().amax(1)


def score_gains(runs: pd.DataFrame) -> pd.DataFrame:
    """Class model visualization, summarized without hiding a sign: per start (``init``), the number of runs, how many
    raised the class score, and every run's gain (score after minus before) with its median."""
    gain = runs["score after"] - runs["score before"]
    g = runs.assign(gain=gain).groupby("init", sort=False).gain
    return pd.DataFrame({"runs": g.size(), "raised the score": g.apply(lambda v: int((v > 0).sum())),
                         "median gain": g.median(),
                         "gain per run": g.apply(lambda v: ", ".join(f"{x:+.2f}" for x in v))})


def companion_summary(am: pd.DataFrame, gains: pd.DataFrame, agree: pd.DataFrame) -> str:
    """The companion chapter's closing sentence: live channels of activation maximization (``live_channels``), class
    model runs that raised the score per start (``score_gains``), and the median rank correlation of saliency and of
    the deconvnet projection with the occlusion drop (``method_agreement``)."""
    rho = agree.median(numeric_only=True)
    raised = "; ".join(f"{r['raised the score']} of {r.runs} runs from {start} (median gain {r['median gain']:+.2f})"
                       for start, r in gains.iterrows())
    return (f"Activation maximization found {int(am.live.sum())} live channels of {len(am)} tried. Class model "
            f"visualization raised the class score in {raised}. Median rank correlation with the occlusion drop: "
            f"saliency {rho['saliency vs occlusion']:.2f}, deconvnet projection {rho['projection vs occlusion']:.2f}.")


__all__ = ["activation_maximization", "class_model", "live_channels", "class_model_runs", "saliency", "score_gains",
           "companion_summary"]
