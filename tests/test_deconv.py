"""The explicit deconvnet against independent implementations (captum, autograd), and its failure modes."""


import pytest
import torch
from captum.attr import NeuronDeconvolution
from torch import nn

from zfviz.model import deconv
from zfviz.model.deconv import Deconvnet, project, project_many, receptive_field
from zfviz.model.layers import readout_name
from zfviz.model.models import alexnet, without_lrn, zfnet


def _rel(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


class _DeconvReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, g):
        return g.clamp_min(0)  # the deconvnet rectifies the signal coming down, whatever the forward mask was


class _PassThrough(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, module):
        return module(x)

    @staticmethod
    def backward(ctx, g):
        return g, None  # contrast normalization is not inverted


def reference_projection(model, images, layer, channel, position):
    """An independent deconvnet: autograd through the model with the deconvnet's backward rules, times the value."""
    x = images.clone().requires_grad_(True)
    h, stop = x, readout_name(model, layer)
    for name, m in model.named_children():
        if isinstance(m, nn.ReLU):
            h = _DeconvReLU.apply(h)
        elif isinstance(m, nn.LocalResponseNorm):
            h = _PassThrough.apply(h, m)
        else:
            h = m(h)
        if name == stop:
            break
    y, xx = position
    value = h[:, channel, y, xx]
    (g,) = torch.autograd.grad(value.sum(), x)
    return g * value.detach()[:, None, None, None]


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(0)
    return torch.randn(3, 3, 96, 96, dtype=torch.float64) * 60


def _random_model(builder=zfnet, **kw):
    torch.manual_seed(1)
    m = builder(10, width=0.25, input_size=96, init="kaiming", **kw).double().eval()
    return m


def _positions(model, images, layer):
    act, _ = Deconvnet(model).up(images, layer)
    h, w = act.shape[-2:]
    return [(h // 2, w // 2), (0, w - 1), (h - 1, 0)]


@pytest.mark.parametrize("builder", [zfnet, alexnet])
@pytest.mark.parametrize("layer", ["conv1", "conv2", "conv3", "conv4", "conv5"])
def test_matches_captum_neuron_deconvolution_without_lrn(builder, layer, images):
    model = without_lrn(_random_model(builder)).double().eval()
    act, _ = Deconvnet(model).up(images, layer)
    for channel in (0, act.shape[1] - 1):
        for pos in _positions(model, images, layer):
            ours = project(model, images, layer, channel, pos)
            attr = NeuronDeconvolution(model, model.get_submodule(readout_name(model, layer))).attribute(
                images, neuron_selector=(channel, *pos))
            value = act[:, channel, pos[0], pos[1]]
            expected = attr * value[:, None, None, None]
            if expected.norm() == 0:
                continue
            assert _rel(ours, expected) < 1e-10, (layer, channel, pos)


@pytest.mark.parametrize("trained", [False, True])
@pytest.mark.parametrize("layer", ["conv1", "conv2", "conv3", "conv4", "conv5"])
def test_matches_independent_reference_with_lrn(layer, trained, images, trained_model):
    model = (trained_model if trained else _random_model()).double().eval()
    act, _ = Deconvnet(model).up(images, layer)
    w = act.shape[-1]
    checked = 0
    for channel in range(0, act.shape[1], max(1, act.shape[1] // 6)):
        for i in range(len(images)):  # each image at its own strongest position, and one fixed position
            flat = int(act[i, channel].flatten().argmax())
            for pos in ((flat // w, flat % w), _positions(model, images, layer)[0]):
                ref = reference_projection(model, images[i:i + 1], layer, channel, pos)
                if ref.norm() == 0:
                    continue
                assert _rel(project(model, images[i:i + 1], layer, channel, pos), ref) < 1e-4
                checked += 1
    assert checked >= 3


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """A ZF model trained a few epochs on the synthetic folder (weights far from their init)."""
    from conftest import make_imagefolder

    from zfviz.runs.store import TrainConfig, load_trained
    from zfviz.runs.train import train

    root = make_imagefolder(tmp_path_factory.mktemp("deconv-data"), {"train": 16, "val": 4}, size=96)
    out = tmp_path_factory.mktemp("deconv-run")
    cfg = TrainConfig(model="zf", profile="smoke", dataset=str(root), epochs=3, init="kaiming", lr=1e-3,
                      batch_size=8)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZFVIZ_CACHE", str(out / "cache"))
        train(cfg, out, progress=False)
    model, _ = load_trained(out / "checkpoint.pt")
    # the smoke profile trains 64 px crops; the model is fully convolutional up to pool5, fine for 96 px here
    m = zfnet(3, width=0.125, input_size=96)
    m.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("fc")}, strict=False)
    return m


def test_mutations_are_caught(images, monkeypatch):
    """Perturbing one step of the deconvnet must break agreement with captum."""
    model = without_lrn(_random_model()).double().eval()
    layer, channel = "conv2", 1
    images = images[:1]
    act, _ = Deconvnet(model).up(images, layer)
    flat, w = int(act[0, channel].flatten().argmax()), act.shape[-1]
    pos = (flat // w, flat % w)
    expected = NeuronDeconvolution(model, model.get_submodule("pool2")).attribute(
        images, neuron_selector=(channel, *pos)) * act[:, channel, pos[0], pos[1]][:, None, None, None]
    assert expected.norm() > 0 and _rel(project(model, images, layer, channel, pos), expected) < 1e-10

    original = deconv.Unpool.forward
    monkeypatch.setattr(deconv.Unpool, "forward",
                        lambda self, x, s, size: original(self, x, (s + 1) % (size[0] * size[1]), size))
    assert _rel(project(model, images, layer, channel, pos), expected) > 1e-3
    monkeypatch.undo()
    monkeypatch.setattr(deconv.Rectify, "forward", lambda self, x: x)
    assert _rel(project(model, images, layer, channel, pos), expected) > 1e-3


def test_batched_equals_one_at_a_time(images):
    model = _random_model().double().eval()
    channels, idx = [0, 3, 5, 3], [2, 0, 1, 0]
    batch = project_many(model, images, "conv3", channels, image_index=idx, chunk=3)
    for t, (c, i) in enumerate(zip(channels, idx)):
        single = project(model, images[i:i + 1], "conv3", c)[0]
        assert torch.allclose(batch.pixels[t], single, rtol=1e-9, atol=1e-12)
    act, _ = Deconvnet(model).up(images, "conv3")
    assert torch.allclose(batch.values, torch.stack([act[i, c].max() for c, i in zip(channels, idx)]))


def test_projection_lies_inside_its_receptive_field(images):
    model = _random_model().double().eval()
    for layer in ("conv1", "conv2", "conv5"):
        p = project_many(model, images, layer, [1, 2, 3, 4, 5, 6], image_index=[0, 1, 2, 0, 1, 2])
        assert (p.values > 0).sum() >= 2
        for t in torch.nonzero(p.values > 0).flatten().tolist():
            y0, x0, y1, x1 = p.boxes[t].tolist()
            support = p.pixels[t].abs().sum(0) > 0
            inside = torch.zeros_like(support)
            inside[y0:y1, x0:x1] = True
            assert support.any() and not (support & ~inside).any(), layer
    # conv1 of ZF: pool 3x3/2 over conv 7x7/2 (pad 1) sees an 11x11 window
    box = receptive_field(zfnet(10), "conv1", torch.tensor([[10, 10]]), (224, 224))
    assert box.tolist() == [[39, 39, 50, 50]]


def test_shape_and_clear_errors(images):
    model = _random_model().double().eval()
    assert project(model, images, "conv4", 0).shape == images.shape
    with pytest.raises(ValueError, match="unknown layer 'fc6'.*conv1, conv2, conv3, conv4, conv5"):
        project(model, images, "fc6", 0)
    with pytest.raises(ValueError, match=r"channel out of range for conv1: got 24..24, valid 0..23"):
        project(model, images, "conv1", 24)
    with pytest.raises(ValueError, match=r"position \(3, 0\) is outside the conv5 map: valid rows 0..1, columns 0..1"):
        project(model, images, "conv5", 0, (3, 0))
    with pytest.raises(ValueError, match="channel must be an int"):
        project(model, images, "conv5", 1.5)
