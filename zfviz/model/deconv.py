"""The deconvnet of Sec. 2.1: project one activation of a trained convnet back to pixel space.

Run the image forward, recording the *switches* (argmax locations) of every max pooling. Keep one activation of the
chosen layer and zero all others, then, layer by layer down to the pixels: **unpool** with the switches, **rectify**
(ReLU), **filter** with the transposed (flipped) filters of the same layer. Biases are not used and local contrast
normalization is not inverted (the signal passes through it unchanged), as in the paper.

The activation of a layer is read where the paper reads it: the rectified map, after max pooling where the layer
pools (conv1, conv2, conv5), before contrast normalization; ``position`` indexes that map (``layers.readout_name``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from zfviz.model import layers as _layers
from zfviz.model.layers import layer_names
from zfviz.model.models import eval_mode, to_model_device


class Unpool(nn.Module):
    """Place each pooled value at its recorded switch location (summing where switches coincide)."""

    def forward(self, x: torch.Tensor, switches: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        n, c = x.shape[:2]
        out = x.new_zeros(n, c, size[0] * size[1])
        return out.scatter_add_(2, switches.flatten(2), x.reshape(n, c, -1)).view(n, c, *size)


class Rectify(nn.Module):
    """ReLU on the reconstruction, keeping the signal non-negative as the forward maps are."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x)


class TransposedConv(nn.Module):
    """The transposed (vertically and horizontally flipped) filters of a forward conv layer, no bias."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        c = self.conv
        (k, _), (s, _), (p, _) = c.kernel_size, c.stride, c.padding
        extra = [size[i] - ((x.shape[2 + i] - 1) * s - 2 * p + k) for i in range(2)]
        # channels-last routes the transposed convolution to oneDNN / cuDNN's fast kernels (1.5x on CPU)
        cl = torch.channels_last
        return F.conv_transpose2d(x.contiguous(memory_format=cl), c.weight.contiguous(memory_format=cl), None,
                                  c.stride, c.padding, output_padding=tuple(extra))


@dataclass
class Projection:
    """Projections of T activations: pixels (T, 3, H, W), receptive-field boxes (T, 4) as (y0, x0, y1, x1) with
    exclusive ends, clipped to the image, activation values (T,), positions (T, 2) and image indices (T,)."""

    pixels: torch.Tensor
    boxes: torch.Tensor
    values: torch.Tensor
    positions: torch.Tensor
    image_index: torch.Tensor
    channels: torch.Tensor


class Deconvnet(nn.Module):
    """A deconvnet attached to a trained plain feed-forward CNN (``layers.trace``): shares its weights, learns nothing.

    Going down from a layer's readout, each module the forward pass went through is undone in reverse order: a max
    pooling by unpooling with the switches the forward pass recorded, a ReLU by rectifying, a convolution by its
    transposed (flipped) filters without bias. Local response normalization and dropout pass the signal unchanged, as
    in the paper. Batch norm (which the paper did not have) is, in eval mode, a per-channel affine map; the signal
    passes through its transpose, a per-channel scale gamma / sqrt(running var + eps), exactly as a gradient (and
    captum's ``Deconvolution``) would, so projections of ``vgg16_bn`` agree with captum's.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.unpool, self.rectify = Unpool(), Rectify()

    def conv_layers(self) -> list[str]:
        """The conv layers this model has, bottom to top (those a projection can start from)."""
        return [n for n in layer_names(self.model) if isinstance(self.model.get_submodule(n), nn.Conv2d)]

    @torch.no_grad()
    def up(self, images: torch.Tensor, layer) -> tuple[torch.Tensor, dict]:
        """Forward to ``layer``'s readout, recording switches and sizes; returns (activation, trace)."""
        ops = _layers.trace(self.model, tuple(images.shape[-2:]))
        stop = _layers.readout_index(ops, self.model, layer)
        record: dict = {"ops": ops, "stop": stop}

        def on_op(k, op, inp, out):
            if isinstance(op.module, nn.MaxPool2d):
                m = op.module
                _, switches = F.max_pool2d(inp, m.kernel_size, m.stride, m.padding, m.dilation, ceil_mode=m.ceil_mode,
                                           return_indices=True)
                record[k] = dict(switches=switches, pre_pool=tuple(inp.shape[-2:]))
            elif isinstance(op.module, nn.Conv2d):
                record[k] = dict(in_size=tuple(inp.shape[-2:]))

        act = _layers.run_to(self.model, images, {stop: "readout"}, ops, on_op)["readout"]
        return act, record

    def down(self, signal: torch.Tensor, layer, trace: dict, image_index: torch.Tensor) -> torch.Tensor:
        """Project a readout-shaped signal of ``layer`` to pixels; row t uses the switches of image_index[t]."""
        ops = trace["ops"]
        x = signal
        for k in range(trace["stop"], -1, -1):
            m = ops[k].module
            if isinstance(m, nn.MaxPool2d):
                x = self.unpool(x, trace[k]["switches"][image_index], trace[k]["pre_pool"])
            elif isinstance(m, nn.ReLU):
                x = self.rectify(x)
            elif isinstance(m, nn.Conv2d):
                x = TransposedConv(m)(x, trace[k]["in_size"])
            elif isinstance(m, nn.BatchNorm2d):
                scale = (m.weight if m.affine else torch.ones_like(m.running_var)) / torch.sqrt(m.running_var + m.eps)
                x = x * scale.view(1, -1, 1, 1)
            elif not isinstance(m, (nn.LocalResponseNorm, nn.Dropout, nn.Identity)):
                raise ValueError(f"the deconvnet cannot go down through {ops[k].name!r} ({type(m).__name__}): "
                                 "projections start from conv layers")
        return x.contiguous()


def _check_layer(deconv: Deconvnet, layer) -> str:
    name = _layers.layer_name(deconv.model, layer)
    base = name[: -len(_layers.PREPOOL)] if name.endswith(_layers.PREPOOL) else name
    if base not in deconv.conv_layers():
        raise ValueError(f"unknown layer {name!r}; the deconvnet projects from: {', '.join(deconv.conv_layers())}")
    return name


def _check_images(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"images must be a float tensor (N, 3, H, W) of mean-subtracted pixels, got {shape}")
    if images.dtype != dtype:
        raise ValueError(f"images must be mean-subtracted pixels of the model's dtype {dtype}, got {images.dtype}"
                         + ("; use data.center_crop on uint8 images" if not images.is_floating_point() else ""))
    if images.device.type != "meta" and not bool(torch.isfinite(images).all()):
        raise ValueError("images contain NaN or infinite values")
    return images


def receptive_field(model: nn.Module, layer, positions: torch.Tensor, image_size: tuple[int, int],
                    clip: bool = True) -> torch.Tensor:
    """Input boxes (T, 4) = (y0, x0, y1, x1), end-exclusive, seen by readout ``positions`` (T, 2) of ``layer``; clipped
    to the image unless ``clip`` is False (the unclipped box's centre is the unit's receptive-field centre)."""
    ops = _layers.trace(model, tuple(image_size))
    stop = _layers.readout_index(ops, model, layer)
    geometry = []
    for op in ops[: stop + 1]:
        if isinstance(op.module, (nn.Conv2d, nn.MaxPool2d)):
            k, s_, p = (op.module.kernel_size, op.module.stride, op.module.padding)
            geometry.append(tuple(v if isinstance(v, int) else v[0] for v in (k, s_, p)))
    lo = positions.long().clone()
    hi = positions.long().clone()
    for k, s_, p in reversed(geometry):
        lo, hi = lo * s_ - p, hi * s_ - p + k - 1
    hi = hi + 1
    if clip:
        lo, hi = lo.clamp(min=0), torch.minimum(hi, torch.tensor(image_size))
    return torch.stack([lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1]], 1)


@torch.no_grad()
def project_many(model: nn.Module, images: torch.Tensor, layer: str, channels: torch.Tensor | list[int],
                 positions: torch.Tensor | None = None, image_index: torch.Tensor | list[int] | None = None,
                 chunk: int = 256) -> Projection:
    """Project many (image, channel, position) triples of one layer in one forward pass per image.

    ``channels`` (T,), ``image_index`` (T,) into ``images`` (default: 0..T-1), ``positions`` (T, 2) in the
    layer's readout map (default: each channel's maximum in its image). Triples are projected ``chunk`` at a time.
    ``layer``: a conv module of ``model`` or its dotted name.

    >>> from zfviz.model.models import zfnet
    >>> m = zfnet(10, width=0.125, input_size=64).eval()
    >>> project_many(m, torch.randn(2, 3, 64, 64), "conv5", [0, 3]).pixels.shape
    torch.Size([2, 3, 64, 64])
    >>> import torchvision
    >>> vgg = torchvision.models.vgg11(num_classes=10).eval()
    >>> project_many(vgg, torch.randn(1, 3, 64, 64), vgg.features[18], [5]).pixels.shape
    torch.Size([1, 3, 64, 64])
    """
    deconv = Deconvnet(model)
    images = _check_images(to_model_device(model, images), next(model.parameters()).dtype)
    layer = _check_layer(deconv, layer)
    with eval_mode(model):
        try:
            act, trace = deconv.up(images, layer)
        except RuntimeError as e:
            if "size" not in str(e).lower():
                raise
            raise ValueError(f"images of {images.shape[-2]}x{images.shape[-1]} px are too small for this model up to "
                             f"{layer} (it was trained on {getattr(getattr(model, 'arch', None), 'input_size', '?')} "
                             "px crops)") from None
    n, c, h, w = act.shape
    channels = torch.as_tensor(channels, dtype=torch.long, device=images.device).flatten()
    idx = (torch.arange(len(channels), device=images.device) if image_index is None
           else torch.as_tensor(image_index, dtype=torch.long, device=images.device).flatten())
    if len(idx) != len(channels):
        raise ValueError(f"image_index has {len(idx)} entries but channels has {len(channels)}")
    if len(channels) and (channels.min() < 0 or channels.max() >= c):
        raise ValueError(f"channel out of range for {layer}: got {channels.min().item()}..{channels.max().item()}, "
                         f"valid 0..{c - 1}")
    if len(idx) and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"image_index out of range: valid 0..{n - 1}")
    maps = act[idx, channels]  # (T, h, w)
    if positions is None:
        flat = maps.flatten(1).argmax(1)
        positions = torch.stack([flat // w, flat % w], 1)
    else:
        positions = torch.as_tensor(positions, dtype=torch.long, device=images.device)
        if positions.numel() % 2 or (positions.dim() >= 1 and positions.shape[-1] != 2):
            raise ValueError(f"positions must be (y, x) pairs, shape (T, 2), got shape {tuple(positions.shape)}")
        positions = positions.reshape(-1, 2)
        if len(positions) != len(channels):
            raise ValueError(f"positions has {len(positions)} rows but channels has {len(channels)}")
        bad = (positions < 0).any(1) | (positions[:, 0] >= h) | (positions[:, 1] >= w)
        if bad.any():
            y, x = positions[bad][0].tolist()
            raise ValueError(f"position ({y}, {x}) is outside the {layer} map: valid rows 0..{h - 1}, "
                             f"columns 0..{w - 1}")
    t = torch.arange(len(channels), device=images.device)
    values = maps[t, positions[:, 0], positions[:, 1]]
    pixels = images.new_empty(len(channels), *images.shape[1:])
    for s in range(0, len(channels), chunk):
        sl = slice(s, s + chunk)
        signal = act.new_zeros(len(t[sl]), c, h, w)
        signal[torch.arange(len(t[sl]), device=images.device), channels[sl], positions[sl, 0], positions[sl, 1]] = values[sl]
        pixels[sl] = deconv.down(signal, layer, trace, idx[sl])
    boxes = receptive_field(model, layer, positions.cpu(), tuple(images.shape[-2:]))
    return Projection(pixels, boxes, values, positions, idx, channels)


def project(model: nn.Module, images: torch.Tensor, layer: str, channel: int,
            position: tuple[int, int] | torch.Tensor | None = None) -> torch.Tensor:
    """Project channel ``channel`` of ``layer`` for every image to pixels: a tensor shaped like ``images``.

    ``position``: None projects each image's strongest activation of that channel; (y, x) or an (N, 2) tensor picks
    a place in the layer's readout map. ``project_many`` also returns receptive-field boxes and values.

    >>> from zfviz.model.models import zfnet
    >>> m = zfnet(10, width=0.125, input_size=64).eval()
    >>> project(m, torch.randn(1, 3, 64, 64), m.conv3, 2, (1, 1)).shape
    torch.Size([1, 3, 64, 64])
    """
    if isinstance(channel, bool) or not isinstance(channel, int):
        raise ValueError(f"channel must be an int, got {channel!r}")
    n = len(images)
    pos = None
    if position is not None:
        pos = torch.as_tensor(position, dtype=torch.long)
        if pos.numel() == 0 or pos.shape[-1] != 2 or pos.dim() > 2 or (pos.dim() == 2 and len(pos) not in (1, n)):
            raise ValueError(f"position must be (y, x) or an ({n}, 2) tensor of (y, x) rows, got shape "
                             f"{tuple(pos.shape)}")
        pos = pos.reshape(-1, 2)
        pos = pos.expand(n, 2) if len(pos) == 1 else pos
    return project_many(model, images, layer, [channel] * n, pos, list(range(n))).pixels
