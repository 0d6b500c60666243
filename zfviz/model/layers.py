"""Layers of any plain feed-forward CNN, addressed the way captum addresses them: by module, or by its dotted name from
``named_modules()``. zfviz's own models keep their names ``conv1`` ... ``fc8``.

A model is *plain feed-forward* when its leaf modules run one after another, each on the previous one's output (a
flatten between the conv stack and the classifier allowed, as torchvision's AlexNet and VGG do in their ``forward``).
``trace`` checks that once per model and input size with forward hooks, and records the order; a model with residual
connections or branches (ResNet, Inception), a module called twice, or a module type the deconvnet does not define is
one clear error naming the module, before any work.

The *readout* of a layer is where the paper reads it: for a conv layer, its output after the batch norm and ReLU that
follow it and after one max pooling if one follows (before local response normalization); for a linear layer, after
its ReLU; for the last linear layer, the logits. zfviz's ``<conv>_prepool`` names the rectified map before pooling.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch
from torch import nn

SUPPORTED = (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.LocalResponseNorm, nn.BatchNorm2d, nn.Dropout, nn.Flatten,
             nn.Linear, nn.AdaptiveAvgPool2d, nn.Identity)
PREPOOL = "_prepool"
_PASS = (nn.ReLU, nn.BatchNorm2d)  # what a conv layer's readout includes before its pooling


@dataclass(frozen=True)
class Op:
    """One leaf module of a traced model, in execution order, with its input and output shapes (batch dim dropped)."""

    name: str
    module: nn.Module
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


class NotPlain(ValueError):
    """A model the deconvnet does not define (branches, residuals, reused or unknown modules)."""


_TRACES: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def leaves(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(dotted name, module) of every module without children, in registration order."""
    return [(n, m) for n, m in model.named_modules() if not list(m.children()) and n]


def trace(model: nn.Module, image_size: tuple[int, int] | None = None) -> list[Op]:
    """The model's leaf modules in execution order for an input of ``image_size`` (default: a zfviz model's own, else
    224), checked to be plain feed-forward (module docstring). Cached per model and size."""
    if image_size is None:
        size = getattr(getattr(model, "arch", None), "input_size", 224)
        image_size = (size, size)
    cache = _TRACES.setdefault(model, {})
    key = tuple(image_size)
    if key in cache:
        return cache[key]
    for name, m in leaves(model):
        if not isinstance(m, SUPPORTED):
            raise NotPlain(f"module {name!r} ({type(m).__name__}) is not one the deconvnet defines; supported: "
                           f"{', '.join(t.__name__ for t in SUPPORTED)}")
    calls: list[list] = []
    names = {id(m): n for n, m in leaves(model)}

    def pre(module, inputs):  # before the module runs: an in-place ReLU would overwrite its input
        calls.append([names[id(module)], module, inputs[0].detach().clone(), None])

    def hook(module, inputs, output):
        calls[-1][3] = output.detach().clone()

    handles = [m.register_forward_pre_hook(pre) for _, m in leaves(model)]
    handles += [m.register_forward_hook(hook) for _, m in leaves(model)]
    p = next(model.parameters(), None)
    x = torch.randn(1, 3, *image_size, device=p.device if p is not None else "cpu",
                    dtype=p.dtype if p is not None else torch.float32)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        model.train(was)
        for h in handles:
            h.remove()
    _check_plain(calls)
    ops = [Op(n, m, tuple(i.shape[1:]), tuple(o.shape[1:])) for n, m, i, o in calls]
    cache[key] = ops
    return ops


def _check_plain(calls: list) -> None:
    seen = set()
    for k, (name, module, inp, _) in enumerate(calls):
        if id(module) in seen:
            raise NotPlain(f"module {name!r} runs more than once in the forward pass (a shared or residual block): "
                           "the deconvnet is defined for plain feed-forward CNNs (Conv2d, ReLU, MaxPool2d, LRN, "
                           "BatchNorm2d, Dropout, Flatten, Linear, AdaptiveAvgPool2d in a row)")
        seen.add(id(module))
        if k and not _same(calls[k - 1][3], inp):
            raise NotPlain(f"module {name!r} does not take the output of the module before it ({calls[k - 1][0]!r}): "
                           "residual connections or branches are not defined for the deconvnet, which needs a plain "
                           "feed-forward CNN")


def _same(prev_out: torch.Tensor, inp: torch.Tensor) -> bool:
    if prev_out.is_meta or inp.is_meta:  # no values on the meta device: the shapes must chain
        return prev_out.numel() == inp.numel()
    if prev_out.shape != inp.shape:
        if prev_out.numel() != inp.numel():
            return False
        prev_out = prev_out.reshape(inp.shape)  # the flatten between the conv stack and the classifier
    return bool(torch.allclose(prev_out, inp, rtol=1e-5, atol=1e-6))


def layer_name(model: nn.Module, layer: str | nn.Module) -> str:
    """The dotted name of ``layer`` (a module of ``model``, or its name); one clear error for anything else."""
    if isinstance(layer, nn.Module):
        for n, m in model.named_modules():
            if m is layer and n:
                return n
        raise ValueError(f"the module {type(layer).__name__} passed as a layer is not a submodule of this model")
    if not isinstance(layer, str):
        raise ValueError(f"a layer is a module of the model or its dotted name, got {layer!r}")
    return layer


def layer_names(model: nn.Module) -> list[str]:
    """The addressable layers: every Conv2d and Linear module's dotted name, bottom to top."""
    return [n for n, m in leaves(model) if isinstance(m, (nn.Conv2d, nn.Linear))]


def readout_index(ops: list[Op], model: nn.Module, layer: str | nn.Module) -> int:
    """The position in ``ops`` (``trace``) of the module whose output is ``layer``'s readout (module docstring)."""
    name = layer_name(model, layer)
    prepool = name.endswith(PREPOOL)
    base = name[: -len(PREPOOL)] if prepool else name
    order = [op.name for op in ops]
    valid = [n for n in order if isinstance(dict(zip(order, (op.module for op in ops)))[n], (nn.Conv2d, nn.Linear))]
    if base not in valid or (prepool and not isinstance(ops[order.index(base)].module, nn.Conv2d)):
        raise ValueError(f"unknown layer {name!r} for this model; valid layers: {', '.join(valid)} (and "
                         f"<conv layer>{PREPOOL} for a map before pooling)")
    i = order.index(base)
    if isinstance(ops[i].module, nn.Linear):
        return i + 1 if i + 1 < len(ops) and isinstance(ops[i + 1].module, nn.ReLU) else i
    j = i
    while j + 1 < len(ops) and isinstance(ops[j + 1].module, _PASS):
        j += 1
    if not prepool and j + 1 < len(ops) and isinstance(ops[j + 1].module, nn.MaxPool2d):
        j += 1
    return j


class _Stop(Exception):
    pass


def readout_name(model: nn.Module, layer: str | nn.Module, image_size: tuple[int, int] | None = None) -> str:
    """The dotted name of the module whose output is ``layer``'s activation as the paper reads it (module docstring).

    Conv layers: the rectified map, after max pooling where the layer pools, before contrast normalization.
    Linear layers: after their ReLU (before dropout); the last one: the logits.
    """
    ops = trace(model, image_size)
    return ops[readout_index(ops, model, layer)].name


def run_to(model: nn.Module, x: torch.Tensor, stops: dict[int, str], ops: list[Op],
           on_op=None) -> dict[str, torch.Tensor]:
    """Run ``model`` on ``x`` with hooks: {label: output of ops[i]} for each i in ``stops``; the forward pass stops
    after the last of them. ``on_op(index, op, input, output)`` sees every op up to there (the deconvnet's trace)."""
    index = {id(op.module): k for k, op in enumerate(ops)}
    out: dict[str, torch.Tensor] = {}
    last = max(stops)

    def hook(module, inputs, output):
        k = index[id(module)]
        if on_op is not None:
            on_op(k, ops[k], inputs[0], output)
        if k in stops:
            out[stops[k]] = output
        if k == last:
            raise _Stop

    handles = [op.module.register_forward_hook(hook) for op in ops[: last + 1]]
    try:
        model(x)
    except _Stop:
        pass
    finally:
        for h in handles:
            h.remove()
    return out


__all__ = ["SUPPORTED", "PREPOOL", "Op", "NotPlain", "leaves", "trace", "layer_name", "layer_names", "readout_index",
           "run_to"]
