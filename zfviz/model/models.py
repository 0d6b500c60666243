"""The ZF model (paper Fig. 3), the dense single-tower AlexNet replica, and the Table 3 ablation variants.

Every model is an ``nn.Sequential`` of named layers, so any layer is reachable with
``model.get_submodule("conv3")``. Per conv block the order is the paper's: conv -> ReLU -> [max pool] ->
[local response normalization]. Max pooling uses ``ceil_mode=True`` (Caffe's convention, which the paper's
cuda-convnet lineage shares); with ZF's conv1 padding of 1 and conv2 padding of 0 this gives exactly the paper's
map sizes at 224 input: 110 -> 55 (conv1, pool1), 26 -> 13 (conv2, pool2), 13, 13, 13 -> 6 (conv5, pool5).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from zfviz.core.names import INITS, VARIANTS
from zfviz.model import layers as _layers
from zfviz.model.external import load_network

CONV_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5")
FC_LAYERS = ("fc6", "fc7", "fc8")
LRN = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)  # Krizhevsky et al. 2012, Sec. 3.3


def _channel_window_sum(t: torch.Tensor, size: int) -> torch.Tensor:
    """Sum of ``t`` over a window of ``size`` channels at each channel: ``size // 2`` before, ``(size - 1) // 2``
    after, zeros beyond the edges (``nn.LocalResponseNorm``'s window). For odd ``size`` the window is symmetric."""
    c = t.shape[1]
    out = t.clone()
    for off in range(1, min(size // 2, c - 1) + 1):
        out[:, off:] += t[:, :c - off]
    for off in range(1, min((size - 1) // 2, c - 1) + 1):
        out[:, :c - off] += t[:, off:]
    return out


def _neg_pow(d: torch.Tensor, beta: float) -> torch.Tensor:
    # d ** -0.75 as rsqrt(d * sqrt(d)): two cheap roots instead of pow's exp and log (the LRN's own beta)
    return d.sqrt().mul_(d).rsqrt_() if beta == 0.75 else d.pow(-beta)


class _LRNFunction(torch.autograd.Function):
    """y = x * d ** -beta with d = k + alpha / size * (window sum of x^2), and its gradient written out:
    dx = g * d ** -beta - (2 alpha beta / size) * x * (window sum of g * y / d), the window being symmetric.

    PyTorch's own LRN builds d from ``avg_pool3d`` over a padded copy and lets autograd differentiate ``pow`` and
    ``div``: about 20% of a ZF training step on CPU. This is 5-6x faster for the same numbers (to float rounding).
    """

    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):  # noqa: D102 (autograd API)
        d = _channel_window_sum(x * x, size).mul_(alpha / size).add_(k)
        p = _neg_pow(d, beta)
        ctx.save_for_backward(x, p, d)
        ctx.hyper = (size, alpha, beta)
        return x * p

    @staticmethod
    def backward(ctx, g):  # noqa: D102 (autograd API)
        x, p, d = ctx.saved_tensors
        size, alpha, beta = ctx.hyper
        t = _channel_window_sum(g * x * p / d, size)
        return torch.addcmul(g * p, x, t, value=-2.0 * alpha * beta / size), None, None, None, None


class LocalResponseNorm(nn.LocalResponseNorm):
    """``nn.LocalResponseNorm`` with a fused forward and a hand-written backward (same numbers, 5-6x faster on CPU).

    >>> x = torch.randn(2, 8, 5, 5)
    >>> torch.allclose(LocalResponseNorm(5)(x), nn.LocalResponseNorm(5)(x), atol=1e-6)
    True
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.dim() != 4 or self.size % 2 == 0 or x.dtype not in (torch.float32, torch.float64):
            return super().forward(x)  # the general case: PyTorch's own (an even window is not symmetric)
        return _LRNFunction.apply(x, self.size, self.alpha, self.beta, self.k)


@dataclass(frozen=True)
class ConvSpec:
    """One conv block: convolution geometry and whether it pools and normalizes."""

    name: str
    out_channels: int
    kernel: int
    stride: int
    padding: int
    pool: bool
    lrn: bool


@dataclass(frozen=True)
class Arch:
    """A full architecture description; ``ConvNet`` builds exactly this."""

    name: str
    num_classes: int
    convs: tuple[ConvSpec, ...]
    fc_units: tuple[int, ...]  # widths of the hidden fc layers present (fc6, fc7 or a subset)
    fc_names: tuple[str, ...]
    input_size: int = 224
    dropout: float = 0.5

    def to_dict(self) -> dict:
        """A JSON-serializable description (stored with every checkpoint)."""
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "Arch":
        """Inverse of ``to_dict``."""
        d = {k: v for k, v in d.items() if k != "extra"}  # a field of early checkpoints, never used
        d["convs"] = tuple(ConvSpec(**c) for c in d["convs"])
        d["fc_units"] = tuple(d["fc_units"])
        d["fc_names"] = tuple(d["fc_names"])
        return Arch(**d)


class ConvNet(nn.Sequential):
    """A Zeiler-Fergus style convnet built from an ``Arch``; layers are named ``conv1`` ... ``fc8``."""

    def __init__(self, arch: Arch, init: str = "paper") -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        in_ch, size = 3, arch.input_size
        for spec in arch.convs:
            i = spec.name[-1]
            layers[spec.name] = nn.Conv2d(in_ch, spec.out_channels, spec.kernel, spec.stride, spec.padding)
            layers[f"relu{i}"] = nn.ReLU(inplace=False)
            size = (size + 2 * spec.padding - spec.kernel) // spec.stride + 1
            if spec.pool:
                layers[f"pool{i}"] = nn.MaxPool2d(3, 2, ceil_mode=True)
                size = math.ceil((size - 3) / 2) + 1
            if spec.lrn:
                layers[f"norm{i}"] = LocalResponseNorm(**LRN)
            in_ch = spec.out_channels
            if size < 1:
                raise ValueError(f"input_size {arch.input_size} is too small for {arch.name}: {spec.name} map vanishes")
        layers["flatten"] = nn.Flatten()
        features = in_ch * size * size
        for name, units in zip(arch.fc_names, arch.fc_units):
            i = name[-1]
            layers[name] = nn.Linear(features, units)
            layers[f"relu{i}"] = nn.ReLU(inplace=False)
            layers[f"drop{i}"] = nn.Dropout(arch.dropout)
            features = units
        layers["fc8"] = nn.Linear(features, arch.num_classes)
        super().__init__(layers)
        self.arch = arch
        init_weights(self, init)




def _fan_in(m: nn.Module) -> int:
    return m.weight[0].numel()


def paper_twin(arch: Arch) -> "ConvNet | None":
    """The same variant at the paper's geometry (width 1, 224 px input, 1000 classes), or None if unnamed."""
    if arch.name not in VARIANTS:
        return None
    return ConvNet(make_arch(**VARIANTS[arch.name], dropout=arch.dropout), init="kaiming")


def init_stds(model: "ConvNet", scheme: str) -> dict[str, float]:
    """The weight standard deviation of every conv/fc layer under ``scheme`` (``paper`` and ``transported``).

    ``paper``: N(0, 1e-2) everywhere (Sec. 3). ``transported``: the paper's init carried to a reduced geometry, each
    layer's std scaled by sqrt(fan-in of the paper-geometry layer / fan-in here), so that every layer multiplies the
    signal variance by the same factor as in the paper's full-width 224 px model. At paper geometry the two agree
    (fc8 excepted, whose fan-in does not depend on the class count).
    """
    layers = {n: m for n, m in model.named_children() if isinstance(m, (nn.Conv2d, nn.Linear))}
    if scheme == "paper":
        return {n: 1e-2 for n in layers}
    twin = paper_twin(model.arch)
    if twin is None:
        raise ValueError(f"init 'transported' needs a named variant ({', '.join(VARIANTS)}), got {model.arch.name!r}")
    ref = dict(twin.named_children())
    return {n: 1e-2 * math.sqrt(_fan_in(ref[n]) / _fan_in(m)) for n, m in layers.items()}


def init_weights(model: nn.Module, scheme: str = "paper") -> None:
    """Initialize in place, zero biases: ``paper`` N(0, 1e-2) (Sec. 3), ``transported`` (see ``init_stds``), or
    ``kaiming`` (He-normal).

    At half width and 112 px the paper's N(0, 1e-2) shrinks the signal 3-5x more per layer than in the paper's
    model, and training sits near chance for about two epochs; ``transported`` restores the paper's per-layer gains.
    He init on the paper's [-128, 128] inputs gives huge logits and diverges at lr 1e-2 (the unit tests use it with
    a small lr on synthetic data).
    """
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}; valid: {', '.join(map(repr, INITS))}")
    stds = init_stds(model, scheme) if scheme != "kaiming" else {}
    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if scheme == "kaiming":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                nn.init.normal_(m.weight, 0.0, stds.get(name, 1e-2))
            nn.init.zeros_(m.bias)


def _ch(n: int, width: float) -> int:
    return max(1, int(round(n * width)))


# (kernel, stride, padding) of conv1 and conv2: the only place the two architectures differ (Sec. 4.1)
FIRST_LAYERS = {"zf": ((7, 2, 1), (5, 2, 0)), "alexnet": ((11, 4, 2), (5, 1, 2))}


def _convs(base: str, width: float, conv345: tuple[int, int, int], drop_conv34: bool) -> tuple[ConvSpec, ...]:
    (k1, s1, p1), (k2, s2, p2) = FIRST_LAYERS[base]
    c3, c4, c5 = conv345
    convs = [
        ConvSpec("conv1", _ch(96, width), k1, s1, p1, pool=True, lrn=True),
        ConvSpec("conv2", _ch(256, width), k2, s2, p2, pool=True, lrn=True),
        ConvSpec("conv3", _ch(c3, width), 3, 1, 1, pool=False, lrn=False),
        ConvSpec("conv4", _ch(c4, width), 3, 1, 1, pool=False, lrn=False),
        ConvSpec("conv5", _ch(c5, width), 3, 1, 1, pool=True, lrn=False),
    ]
    return tuple(c for c in convs if not (drop_conv34 and c.name in ("conv3", "conv4")))


def make_arch(
    base: str = "zf",
    num_classes: int = 1000,
    *,
    width: float = 1.0,
    input_size: int = 224,
    fc_width: int = 4096,
    conv345: tuple[int, int, int] = (384, 384, 256),
    remove: tuple[str, ...] = (),
    dropout: float = 0.5,
) -> Arch:
    """Describe a ZF (``base='zf'``) or AlexNet (``'alexnet'``) model with optional ablations."""
    if base not in FIRST_LAYERS:
        raise ValueError(f"unknown base architecture {base!r}; valid: {', '.join(map(repr, FIRST_LAYERS))}")
    bad = set(remove) - {"conv3", "conv4", "fc6", "fc7"}
    if bad:
        raise ValueError(f"cannot remove {sorted(bad)}; removable layers: conv3, conv4, fc6, fc7")
    if not (isinstance(width, (int, float)) and width > 0):
        raise ValueError(f"width must be a positive number, got {width!r}")
    if not (isinstance(input_size, int) and input_size >= 32):
        raise ValueError(f"input_size must be an int >= 32, got {input_size!r}")
    drop34 = "conv3" in remove or "conv4" in remove
    convs = _convs(base, width, conv345, drop34)
    fc_names = tuple(n for n in ("fc6", "fc7") if n not in remove)
    units = tuple(_ch(fc_width, width) for _ in fc_names)
    return Arch(base, num_classes, convs, units, fc_names, input_size, dropout)


def build_model(
    variant: str,
    num_classes: int,
    *,
    width: float = 1.0,
    input_size: int = 224,
    dropout: float = 0.5,
    init: str = "paper",
) -> ConvNet:
    """Build a named variant (see ``VARIANTS``) at a given width multiplier and input size; a torchvision network
    (``torchvision:alexnet``) is built as torchvision builds it, with its own init, for ``num_classes`` (width,
    dropout and init do not apply), and remembers its name for snapshots (``model.arch``)."""
    if variant.startswith("torchvision:"):

        net = load_network(variant, num_classes=num_classes).train()
        net.arch = ExternalArch(variant, num_classes, input_size)
        return net
    if variant not in VARIANTS:
        raise ValueError(f"unknown model {variant!r}; valid models: {', '.join(VARIANTS)}")
    arch = make_arch(num_classes=num_classes, width=width, input_size=input_size, dropout=dropout,
                     **VARIANTS[variant])
    return ConvNet(replace(arch, name=variant), init=init)


def zfnet(num_classes: int = 1000, **kwargs) -> ConvNet:
    """The ZF model of Fig. 3 (7x7/2 conv1, 5x5/2 conv2); ``width`` and ``input_size`` scale it down."""
    return build_model("zf", num_classes, **kwargs)


def alexnet(num_classes: int = 1000, **kwargs) -> ConvNet:
    """The dense single-tower replica of Krizhevsky et al. 2012 (11x11/4 conv1, 5x5/1 conv2)."""
    return build_model("alexnet", num_classes, **kwargs)


def without_lrn(model: ConvNet) -> ConvNet:
    """A copy of ``model`` with the same weights and no local response normalization (for exact deconvnet checks)."""
    arch = replace(model.arch, convs=tuple(replace(c, lrn=False) for c in model.arch.convs))
    m = ConvNet(arch)
    m.load_state_dict(model.state_dict())
    return m.train(model.training)


@dataclass(frozen=True)
class ExternalArch:
    """What a snapshot records of a torchvision network trained by zfviz's loop: enough to rebuild it."""

    name: str
    num_classes: int
    input_size: int

    def to_dict(self) -> dict:
        """A JSON-serializable description (``model_from_arch`` rebuilds the network from it)."""
        return {"external": self.name, "num_classes": self.num_classes, "input_size": self.input_size}


def model_from_arch(arch: Arch | dict, init: str = "paper") -> nn.Module:
    """Rebuild a model from the architecture stored with a checkpoint."""
    if isinstance(arch, dict) and "external" in arch:
        return build_model(arch["external"], arch["num_classes"], input_size=arch["input_size"])
    return ConvNet(arch if isinstance(arch, Arch) else Arch.from_dict(arch), init=init)


def filter_rms(weight: torch.Tensor) -> torch.Tensor:
    """Each filter's RMS of a conv weight (C, in, kh, kw), shaped (C, 1, 1, 1): what feature scale clipping bounds."""
    return weight.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()


@torch.no_grad()
def clip_feature_scale(model: nn.Module, radius: float = 0.1) -> torch.Tensor:
    """Feature scale clipping (Sec. 3): renormalize conv filters whose RMS exceeds ``radius``.

    Returns how many filters were clipped as a 0-d tensor on the weights' device (no host sync).
    """
    clipped = None
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            w = m.weight
            scale = (radius / filter_rms(w)).clamp(max=1.0)
            n = (scale < 1.0).sum()
            clipped = n if clipped is None else clipped + n
            w.mul_(scale)
    return clipped if clipped is not None else torch.zeros((), dtype=torch.long)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for a block and restore its previous mode afterwards, even on error."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def walk(model: nn.Module, x: torch.Tensor, until: str | None = None) -> Iterator[tuple[str, nn.Module, torch.Tensor]]:
    """Run ``model`` module by module on ``x``, yielding (name, module, output) after each, up to ``until``.

    The one walk through a model's layers: readouts, forward_to, feature_shapes and the deconvnet all use it.
    """
    for name, module in model.named_children():
        x = module(x)
        yield name, module, x
        if name == until:
            return


def readouts(model: nn.Module, x: torch.Tensor, layers: list) -> dict:
    """The readout activation of each of ``layers`` (modules of ``model`` or their names; see ``layers.readout_name``) from
    one forward pass, keyed as given; the pass stops after the last one needed.

    ``x`` is moved to the model's device first (the device rule of every analysis function).

    >>> m = zfnet(10, width=0.125, input_size=64).eval()
    >>> readouts(m, torch.randn(2, 3, 64, 64), ["conv5", "fc8"])["fc8"].shape
    torch.Size([2, 10])
    """
    x = to_model_device(model, x)
    ops = _layers.trace(model, tuple(x.shape[-2:]))
    stops: dict[int, object] = {}
    for layer in layers:
        stops.setdefault(_layers.readout_index(ops, model, layer), []).append(layer)
    got = _layers.run_to(model, x, {k: k for k in stops}, ops)
    return {layer: got[k] for k, names in stops.items() for layer in names}


def forward_to(model: nn.Module, x: torch.Tensor, layer) -> torch.Tensor:
    """Run ``model`` on ``x`` up to ``layer``'s readout (see ``layers.readout_name``) and return that activation."""
    return readouts(model, x, [layer])[layer]


def feature_shapes(model: nn.Module, input_size: int | None = None) -> dict[str, tuple[int, ...]]:
    """Output shape (C, H, W) of every named module for one input of the model's size."""
    size = input_size or model.arch.input_size
    x = torch.zeros(1, 3, size, size, device=model_device(model))
    with torch.no_grad():
        return {name: tuple(y.shape[1:]) for name, _, y in walk(model, x)}


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's parameters (CPU for a model without any)."""
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def to_model_device(model: nn.Module, *tensors: torch.Tensor):
    """Move tensors to the model's device (one tensor in, one out; several in, a tuple out)."""
    dev = model_device(model)
    moved = tuple(t.to(dev) if isinstance(t, torch.Tensor) else t for t in tensors)
    return moved[0] if len(moved) == 1 else moved
