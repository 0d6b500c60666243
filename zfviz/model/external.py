"""A researcher's own network for zfviz's analyses: built from a factory (``torchvision:vgg16`` or
``my.module:factory``), its weights loaded with ``weights_only=True``, and, for networks trained on ImageNet-normalized
inputs, wrapped so that zfviz's images (mean-subtracted pixels, as the paper's) reach it normalized.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import torch
from torch import nn

from zfviz.core import checkpoint

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetNormalized(nn.Module):
    """``net`` fed (pixels / 255 - mean) / std, from zfviz's inputs (pixels minus ``pixel_mean``), for networks such as
    torchvision's pretrained ones. The normalization is a per-channel affine map ahead of the first layer, so layer
    names, readouts and the deconvnet are those of ``net`` (prefixed ``net.``)."""

    def __init__(self, net: nn.Module, pixel_mean: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("pixel_mean", pixel_mean.float(), persistent=False)
        self.register_buffer("m", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("s", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        mean = self.pixel_mean
        if mean.shape[-1] != x.shape[-1]:  # the centre crop the images went through
            top = (mean.shape[-2] - x.shape[-2]) // 2
            left = (mean.shape[-1] - x.shape[-1]) // 2
            mean = mean[..., top:top + x.shape[-2], left:left + x.shape[-1]]
        return self.net(((x + mean) / 255 - self.m) / self.s)


def _factory(spec: str):
    if not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"a model is 'torchvision:<name>' or '<module.path>:<factory>', got {spec!r}")
    where, name = spec.split(":", 1)
    if where == "torchvision":
        import torchvision  # torchvision (a second): only for a torchvision name

        if name not in torchvision.models.list_models(torchvision.models):
            raise ValueError(f"torchvision has no classification model {name!r}; e.g. alexnet, vgg11, vgg16_bn")
        return lambda **kw: torchvision.models.get_model(name, weights=None, **kw)
    try:
        module = importlib.import_module(where)
    except ImportError as e:
        raise ValueError(f"cannot import {where!r} for the model {spec!r}: {e}") from None
    if not callable(getattr(module, name, None)):
        raise ValueError(f"{where} has no callable {name!r} to build the model {spec!r}")
    return getattr(module, name)


def _state_dict(weights: str | Path) -> dict:
    state = checkpoint.load(weights, advice="save the weights as a plain state dict: "
                                            "torch.save(model.state_dict(), path)")
    if isinstance(state, dict) and isinstance(state.get("model"), dict):  # a zfviz snapshot or a common wrapper
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{weights} holds no state dict (a dict of tensors, or one under 'model')")
    return state


def _classes(state: dict) -> int | None:
    """The class count a state dict's last 2-D weight gives (the classifier's rows)."""
    last = [v for k, v in state.items() if k.endswith("weight") and v.dim() == 2]
    return int(last[-1].shape[0]) if last else None


def load_network(spec: str, weights: str | Path | None = None, num_classes: int | None = None) -> nn.Module:
    """The network ``spec`` (``torchvision:vgg16`` or ``my.module:factory``) in eval mode, with ``weights`` (a state
    dict, loaded with ``weights_only=True``) if given; the class count comes from the weights unless given. A state
    dict that does not fit the network is one clear error.

    >>> load_network("torchvision:alexnet", num_classes=10).classifier[6].out_features
    10
    """
    make = _factory(spec)
    state = _state_dict(weights) if weights is not None else None
    n = num_classes or (_classes(state) if state is not None else None)
    kwargs = {"num_classes": n} if n and "num_classes" in inspect.signature(make).parameters or (
        n and spec.startswith("torchvision:")) else {}
    net = make(**kwargs)
    if not isinstance(net, nn.Module):
        raise ValueError(f"{spec} built a {type(net).__name__}, not a torch.nn.Module")
    if state is not None:
        own = net.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        shapes = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                  if k in state and state[k].shape != v.shape]
        if missing or unexpected or shapes:
            raise ValueError(f"the state dict in {weights} does not fit {spec}: missing keys {missing[:3]}, unexpected "
                             f"keys {unexpected[:3]}, other shapes {shapes[:3]}")
        net.load_state_dict(state)
    return net.eval()


__all__ = ["ImageNetNormalized", "load_network"]
