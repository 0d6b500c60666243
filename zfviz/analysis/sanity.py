"""Sanity checks for the deconvnet (beyond the paper): does a projection show the network, or the image?

- Cascading randomization (Adebayo et al. 2018): re-initialize the weights from the top layer down, one layer at a
  time, and compare each method's map of the same (image, unit) before and after (Spearman rank correlation of the
  absolute maps, SSIM). A map that does not change when the weights it depends on are random cannot be showing
  what those weights learned.
- Unit against switches (Mahendran & Vedaldi 2016): projections of different units at the same place of the same
  image, against the same unit projected through another image's pooling switches.
- Maps compared: the deconvnet projection of the strongest conv5 unit, the plain gradient of that same unit (the
  deconvnet differs from it only in how ReLUs pass the signal down), the gradient saliency of the class score, and
  occlusion of the class probability (expected to change: it depends on every weight).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from torch import nn

from zfviz.evidence import claims
from zfviz.evidence.stats import bootstrap_mean, hierarchical_mean, spread_note
from zfviz.model import layers as _layers
from zfviz.model.deconv import Deconvnet
from zfviz.model.layers import layer_names
from zfviz.model.models import eval_mode, init_stds, readouts, to_model_device

METHODS = ("deconvnet", "unit gradient", "saliency", "occlusion")


def randomize_layers(model: nn.Module, layers: list[str], *, scheme: str = "transported", seed: int = 0) -> nn.Module:
    """A copy of ``model`` with ``layers`` re-initialized as at the start of training (``models.init_stds``)."""
    m = copy.deepcopy(model)
    try:
        stds = init_stds(m, scheme) if scheme != "kaiming" else {}
    except (ValueError, AttributeError):  # not a zfviz architecture: He-normal, as most CNNs start
        stds = {}
    g = torch.Generator().manual_seed(seed)
    for name in layers:
        layer = m.get_submodule(name)
        std = stds[name] if name in stds else (2.0 / layer.weight[0].numel()) ** 0.5
        w = torch.randn(layer.weight.shape, generator=g) * std
        with torch.no_grad():
            layer.weight.copy_(w.to(layer.weight))
            layer.bias.zero_()
    return m


def cascade(model: nn.Module) -> list[str]:
    """Adebayo et al.'s order: the model's conv/fc layers from the top (fc8) down to conv1."""
    return list(reversed(layer_names(model)))


def strongest_units(model: nn.Module, images: torch.Tensor, layer: str = "conv5") -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, the channel with the largest readout activation of ``layer`` and its (y, x) position."""
    images = to_model_device(model, images)
    with torch.no_grad(), eval_mode(model):
        act = readouts(model, images, [layer])[layer]
    n, c, h, w = act.shape
    flat = act.flatten(1).argmax(1)
    channel = flat // (h * w)
    pos = flat % (h * w)
    return channel, torch.stack([pos // w, pos % w], 1)


@torch.no_grad()
def deconv_unit(model: nn.Module, images: torch.Tensor, layer: str, channels: torch.Tensor,
                positions: torch.Tensor) -> torch.Tensor:
    """The deconvnet projection of a unit signal (value 1) at each image's (channel, position): (N, 3, H, W).

    Started from 1 rather than the activation's value, so a unit that a randomized network leaves silent still has a
    picture (the down pass never looks at the forward activation's sign); rank correlations ignore the scale anyway.
    """
    images = to_model_device(model, images)
    deconv = Deconvnet(model)
    with eval_mode(model):
        act, trace = deconv.up(images, layer)
    sig = torch.zeros_like(act)
    idx = torch.arange(len(images), device=images.device)
    sig[idx, channels.to(images.device), positions[:, 0].to(images.device), positions[:, 1].to(images.device)] = 1.0
    return deconv.down(sig, layer, trace, idx)


def unit_gradient(model: nn.Module, images: torch.Tensor, layer: str, channels: torch.Tensor,
                  positions: torch.Tensor) -> torch.Tensor:
    """The plain gradient of one readout unit per image with respect to the input: (N, 3, H, W)."""
    x = to_model_device(model, images).detach().clone().requires_grad_(True)
    with eval_mode(model):
        act = readouts(model, x, [layer])[layer]
        idx = torch.arange(len(x), device=x.device)
        unit = act[idx, channels.to(x.device), positions[:, 0].to(x.device), positions[:, 1].to(x.device)]
        (grad,) = torch.autograd.grad(unit.sum(), x)
    return grad.detach()


def class_saliency(model: nn.Module, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The gradient of each image's class score with respect to the input: (N, 3, H, W) (signed, all channels)."""
    x = to_model_device(model, images).detach().clone().requires_grad_(True)
    with eval_mode(model):
        scores = model(x)
        (grad,) = torch.autograd.grad(scores.gather(1, targets.to(x.device)[:, None]).sum(), x)
    return grad.detach()


@torch.no_grad()
def occlusion_maps(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, size: int,
                   batch_size: int = 256) -> torch.Tensor:
    """Drop of P(target) with a grey square at each non-overlapping ``size`` tile, upsampled to pixels: (N, H, W)."""
    images = to_model_device(model, images)
    n, _, h, w = images.shape
    ys, xs = range(0, h, size), range(0, w, size)
    out = torch.zeros(n, len(ys), len(xs), device=images.device)
    with eval_mode(model):
        p0 = model(images).softmax(-1).gather(1, targets.to(images.device)[:, None])[:, 0]
        for i, y in enumerate(ys):
            for j, x in enumerate(xs):
                occ = images.clone()
                occ[:, :, y:y + size, x:x + size] = 0.0
                probs = torch.cat([model(occ[s:s + batch_size]).softmax(-1) for s in range(0, n, batch_size)])
                out[:, i, j] = p0 - probs.gather(1, targets.to(images.device)[:, None])[:, 0]
    return F.interpolate(out[:, None], size=(h, w), mode="nearest")[:, 0]


def _tiles(h: int, w: int, size: int) -> list[tuple[int, int]]:
    return [(y, x) for y in range(0, h, size) for x in range(0, w, size)]


@torch.no_grad()
def occlusion_cascade(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, size: int,
                      stages: list[tuple[str, list[str]]], *, scheme: str = "transported", seed: int = 0,
                      chunk: int = 64) -> dict[str, torch.Tensor]:
    """``occlusion_maps`` for every randomization stage at once: {stage: (N, H, W)}.

    Randomizing from the top down leaves every layer below a stage's lowest randomized layer as trained, so the
    trained model's activations entering that layer serve every stage that starts there: the occluded images go
    through the trained network once (inputs of each layer kept), and each stage runs only its randomized layers on
    top. At paper geometry this is about 2.5 forward passes per occluded image instead of one per stage (10 with
    ZF's 8 layers and the trained model).
    """
    images = to_model_device(model, images)
    n, _, h, w = images.shape
    tiles = _tiles(h, w, size)
    ops = _layers.trace(model, (h, w))
    names = [op.name for op in ops]  # leaf modules in execution order (any plain feed-forward CNN)
    nets = {stage: (randomize_layers(model, layers, scheme=scheme, seed=seed), min(names.index(x) for x in layers))
            if layers else (model, None) for stage, layers in stages}
    t = targets.to(images.device)
    drops = {stage: [] for stage in nets}
    with eval_mode(model):
        for i in range(n):
            variants = images[i:i + 1].repeat(len(tiles) + 1, 1, 1, 1)  # row 0 unoccluded
            for k, (y, x) in enumerate(tiles):
                variants[k + 1, :, y:y + size, x:x + size] = 0.0
            p = {stage: [] for stage in nets}
            for part in variants.split(chunk):
                entering, a = {}, part
                for op in ops:  # the trained pass, keeping each layer's input
                    entering[op.name] = a
                    a = _apply(op.module, a)
                for stage, (net, start) in nets.items():
                    z = a
                    if start is not None:
                        z = entering[names[start]]
                        for name in names[start:]:
                            z = _apply(net.get_submodule(name), z)
                    p[stage].append(z.softmax(-1)[:, t[i]])
            for stage in nets:
                pt = torch.cat(p[stage])
                drops[stage].append(pt[0] - pt[1:])
    ny, nx = len(range(0, h, size)), len(range(0, w, size))
    return {stage: F.interpolate(torch.stack(d).view(n, 1, ny, nx), size=(h, w), mode="nearest")[:, 0].float().cpu()
            for stage, d in drops.items()}


def _apply(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """One leaf module of a traced model; the flatten a model's forward does between its conv stack and its
    classifier happens where a linear layer meets a map."""
    if isinstance(module, nn.Linear) and x.dim() > 2:
        x = x.flatten(1)
    return module(x)


def method_maps(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, channels: torch.Tensor,
                positions: torch.Tensor, *, layer: str = "conv5", occluder: int = 16,
                methods: tuple[str, ...] = METHODS) -> dict[str, torch.Tensor]:
    """Each method's importance map (N, H, W), absolute values summed over colour channels (occlusion: the drop)."""
    out = {}
    if "deconvnet" in methods:
        out["deconvnet"] = deconv_unit(model, images, layer, channels, positions).abs().sum(1)
    if "unit gradient" in methods:
        out["unit gradient"] = unit_gradient(model, images, layer, channels, positions).abs().sum(1)
    if "saliency" in methods:
        out["saliency"] = class_saliency(model, images, targets).abs().sum(1)
    if "occlusion" in methods:
        out["occlusion"] = occlusion_maps(model, images, targets, occluder)
    return {k: v.detach().float().cpu() for k, v in out.items()}


def spearman_maps(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """Spearman rank correlation of two batches of maps (N, H, W), one value per image (1 for identical maps)."""
    out = []
    for x, y in zip(a.flatten(1).numpy(), b.flatten(1).numpy()):
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            out.append(1.0 if np.array_equal(x, y) else 0.0)
        else:
            out.append(float(spearmanr(x, y).statistic))
    return np.asarray(out)


def ssim_maps(a: torch.Tensor, b: torch.Tensor, window: int = 7) -> np.ndarray:
    """Structural similarity (Wang et al. 2004, uniform window) of maps (N, H, W), each scaled to [0, 1] first."""
    def norm(t: torch.Tensor) -> torch.Tensor:
        lo = t.flatten(1).amin(1)[:, None, None]
        hi = t.flatten(1).amax(1)[:, None, None]
        return ((t - lo) / (hi - lo).clamp_min(1e-12))[:, None].double()

    x, y = norm(a), norm(b)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu = lambda t: F.avg_pool2d(t, window, 1)
    mx, my = mu(x), mu(y)
    vx, vy, cxy = mu(x * x) - mx ** 2, mu(y * y) - my ** 2, mu(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1).numpy()


def cascading_randomization(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, *, layer: str = "conv5",
                            scheme: str = "transported", seed: int = 0, occluder: int = 16,
                            methods: tuple[str, ...] = METHODS) -> pd.DataFrame:
    """Adebayo et al.'s Fig. 2 as a tidy table: for every randomization stage (``trained``, then each layer from the
    top, cumulatively), method and image, the similarity (Spearman, SSIM) of its map to the trained model's map.

    The unit stays the trained model's strongest ``layer`` unit of each image (same channel, same position).
    ``layer``: a conv module of ``model`` or its dotted name; any plain feed-forward CNN (``layers``).
    """
    layer = _layers.layer_name(model, layer)
    images = to_model_device(model, images)
    channels, positions = strongest_units(model, images, layer)
    stages = [("trained", [])] + [(name, cascade(model)[:i + 1]) for i, name in enumerate(cascade(model))]
    occ = occlusion_cascade(model, images, targets, occluder, stages, scheme=scheme, seed=seed) \
        if "occlusion" in methods else {}
    others = tuple(m for m in methods if m != "occlusion")
    ref = method_maps(model, images, targets, channels, positions, layer=layer, methods=others) | (
        {"occlusion": occ["trained"]} if occ else {})
    rows = []
    for stage, layers in stages:
        m = randomize_layers(model, layers, scheme=scheme, seed=seed) if layers else model
        maps = method_maps(m, images, targets, channels, positions, layer=layer, methods=others) | (
            {"occlusion": occ[stage]} if occ else {})
        for method in methods:
            rho, ss = spearman_maps(ref[method], maps[method]), ssim_maps(ref[method], maps[method])
            empty = (maps[method].flatten(1).abs().amax(1) == 0).numpy()
            rows += [{"stage": stage, "randomized": len(layers), "method": method, "image": i, "spearman": r,
                      "ssim": s, "empty": bool(e)} for i, (r, s, e) in enumerate(zip(rho, ss, empty))]
    return pd.DataFrame(rows)


@torch.no_grad()
def unit_and_switches(model: nn.Module, images: torch.Tensor, *, layer: str = "conv5", others: int = 4,
                      seed: int = 0) -> pd.DataFrame:
    """How much of a projection the unit explains, and how much the pooling switches.

    For image i and its strongest unit (channel c at position p): (a) ``other unit``: the ``others`` next strongest
    channels at the same position of the same image, projected with the same switches, against the projection of c;
    (b) ``other switches``: channel c at p with its own activation value, projected through the switches of
    ``others`` random other images, against the projection with image i's switches. Tidy rows: image, comparison,
    spearman (of |projection|).
    """
    layer = _layers.layer_name(model, layer)
    images = to_model_device(model, images)
    deconv = Deconvnet(model)
    with eval_mode(model):
        act, trace = deconv.up(images, layer)
    n, c, h, w = act.shape
    channels, positions = strongest_units(model, images, layer)
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        y, x = positions[i].tolist()
        col = act[i, :, y, x]
        order = col.argsort(descending=True)
        chans = [int(channels[i])] + [int(k) for k in order.tolist() if k != int(channels[i])][:others]
        sig = act.new_zeros(len(chans), c, h, w)
        for t, ch in enumerate(chans):
            sig[t, ch, y, x] = col[ch]
        same = deconv.down(sig, layer, trace, torch.full((len(chans),), i, device=images.device))
        base = same[:1].abs().sum(1).cpu()
        for t in range(1, len(chans)):
            rows.append({"image": i, "comparison": "other unit, same switches",
                         "spearman": float(spearman_maps(base, same[t:t + 1].abs().sum(1).cpu())[0])})
        pool = [j for j in range(n) if j != i]
        pick = [pool[k] for k in torch.randperm(len(pool), generator=g)[:others].tolist()]
        if pick:
            sig2 = sig[:1].repeat(len(pick), 1, 1, 1)
            moved = deconv.down(sig2, layer, trace, torch.tensor(pick, device=images.device))
            for t in range(len(pick)):
                rows.append({"image": i, "comparison": "same unit, other switches",
                             "spearman": float(spearman_maps(base, moved[t:t + 1].abs().sum(1).cpu())[0])})
    return pd.DataFrame(rows)


def stage_maps(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, stages: list[str], *,
               layer: str = "conv5", scheme: str = "transported", seed: int = 0, occluder: int = 16,
               methods: tuple[str, ...] = METHODS) -> dict[str, dict[str, torch.Tensor]]:
    """Every method's maps at some stages of the cascade (``trained`` or a layer name: that layer and all above it
    randomized), for the example figure. The unit is the trained model's strongest ``layer`` unit."""
    images = to_model_device(model, images)
    channels, positions = strongest_units(model, images, layer)
    order = cascade(model)
    bad = [s for s in stages if s != "trained" and s not in order]
    if bad:
        raise ValueError(f"unknown stages {bad}; valid: trained, {', '.join(order)}")
    out = {}
    for stage in stages:
        layers = [] if stage == "trained" else order[:order.index(stage) + 1]
        m = randomize_layers(model, layers, scheme=scheme, seed=seed) if layers else model
        out[stage] = method_maps(m, images, targets, channels, positions, layer=layer, occluder=occluder,
                                 methods=methods)
    return out


def similarity_summary(df: pd.DataFrame, metric: str = "spearman") -> pd.DataFrame:
    """Mean similarity per (stage, method) with its 95% bootstrap CI over images, in the cascade's order."""
    rows = []
    for (stage, method), part in df.groupby(["stage", "method"], sort=False):
        m, lo, hi, n = bootstrap_mean(part[metric].to_numpy())
        rows.append({"stage": stage, "randomized": int(part.randomized.iloc[0]), "method": method, "mean": m,
                     "ci_low": lo, "ci_high": hi, "images": n, "empty maps": int(part.get("empty", 0).sum())})
    return pd.DataFrame(rows).sort_values(["method", "randomized"], kind="stable", ignore_index=True)


def s1_evidence(cascade: pd.DataFrame, switches: pd.DataFrame, profile: str, chapter: str = "14_sanity_checks"):
    """S1a and S1b from ``cascading_randomization`` rows and ``unit_and_switches`` rows of several models (a ``seed``
    column, the same images). S1a: 1 - Spearman of the deconvnet map after every layer is randomized, (seeds, images).
    S1b: per image, the mean Spearman of "same unit, other switches" minus that of "other unit, same switches"."""
    last = cascade[(cascade.method == "deconvnet") & (cascade.randomized == cascade.randomized.max())]
    a = 1 - last.pivot(index="seed", columns="image", values="spearman")
    per = switches.groupby(["seed", "image", "comparison"]).spearman.mean().unstack("comparison")
    b = (per["same unit, other switches"] - per["other unit, same switches"]).unstack("image")
    out = []
    for cid, table in (("S1a", a), ("S1b", b)):
        table = table.dropna(axis=1)
        est, lo, hi, n = hierarchical_mean(table.to_numpy())
        out.append(claims.evidence(cid, est, (lo, hi), table.shape[1], profile, seeds=n, chapter=chapter,
                                   note=spread_note(table.mean(1)) + "."))
    return out


__all__ = ["s1_evidence", "deconv_unit", "similarity_summary", "stage_maps", "METHODS", "randomize_layers", "cascade", "strongest_units", "unit_gradient", "class_saliency",
           "occlusion_maps", "method_maps", "spearman_maps", "ssim_maps", "cascading_randomization",
           "unit_and_switches"]
