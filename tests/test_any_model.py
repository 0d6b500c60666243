"""zfviz on torchvision's plain CNNs (random weights, no download): the deconvnet equals captum's Deconvolution (times
the unit's value), top-k mining does not depend on how the model is wrapped, and what the deconvnet does not define
is one clear error before any work."""

from __future__ import annotations

import pytest
import torch
import torchvision
from captum.attr import NeuronDeconvolution
from torch import nn

from zfviz.analysis.topk import top_activations
from zfviz.model.deconv import project_many
from zfviz.model.layers import NotPlain, layer_names, readout_index, readout_name, trace
from zfviz.model.models import readouts

MODELS = {"alexnet": (torchvision.models.alexnet, 96), "vgg11": (torchvision.models.vgg11, 64),
          "vgg16_bn": (torchvision.models.vgg16_bn, 64)}


@pytest.fixture(scope="module", params=list(MODELS))
def model_and_size(request):
    factory, size = MODELS[request.param]
    torch.manual_seed(0)
    m = factory(num_classes=10).eval()
    if request.param == "vgg16_bn":  # batch norm with non-trivial statistics, so its pass-through is tested
        for bn in (x for x in m.modules() if isinstance(x, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.data.uniform_(0.5, 1.5)
    return m, size


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 1e-5)])
def test_projections_equal_captum_deconvolution(model_and_size, dtype, tol):
    """In double precision the two agree to rounding; in float32 the transposed convolutions and captum's conv
    backward round differently, about 1e-7 per layer (1.3e-6 relative after vgg16_bn's 13 conv layers)."""
    model, size = model_and_size
    model = model.to(dtype)
    torch.manual_seed(1)
    x = torch.randn(1, 3, size, size, dtype=dtype)
    convs = [n for n in layer_names(model) if isinstance(model.get_submodule(n), nn.Conv2d)]
    for name in (convs[0], convs[len(convs) // 2], convs[-1]):
        readout = model.get_submodule(readout_name(model, name, (size, size)))
        act = readouts(model, x, [name])[name][0]
        for channel in torch.argsort(act.flatten(1).amax(1), descending=True)[:2].tolist():
            p = project_many(model, x, name, [channel])  # at the channel's strongest position
            y, xx = p.positions[0].tolist()
            ref = NeuronDeconvolution(model, readout).attribute(x, neuron_selector=(channel, y, xx))
            expected = ref[0] * p.values[0]
            err = (p.pixels[0] - expected).abs().max() / expected.abs().max().clamp_min(1e-30)
            assert err < tol, (name, channel, float(err))


def test_layers_by_module_equal_layers_by_name(model_and_size):
    model, size = model_and_size
    x = torch.randn(2, 3, size, size)
    name = layer_names(model)[1]
    a = readouts(model, x, [name])[name]
    b = readouts(model, x, [model.get_submodule(name)])[model.get_submodule(name)]
    assert torch.equal(a, b)


class Renamed(nn.Module):
    """The same network under other names: top-k mining must not care."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.backbone = net

    def forward(self, x):
        return self.backbone(x)


def test_topk_mining_does_not_depend_on_the_wrapper():
    torch.manual_seed(2)
    m = torchvision.models.alexnet(num_classes=10).eval()
    images = torch.randint(0, 255, (10, 3, 100, 100), dtype=torch.uint8)
    mean = images.float().mean(0)
    a = top_activations(m, images, mean, 96, ["features.10"], k=3, progress=False)
    b = top_activations(Renamed(m), images, mean, 96, ["backbone.features.10"], k=3, progress=False)
    cols = ["channel", "rank", "image", "y", "x", "value"]
    assert a[cols].equals(b[cols])


@pytest.mark.parametrize("factory,pattern", [
    (torchvision.models.resnet18, r"module 'layer1\.0\.relu' runs more than once|does not take the output"),
    (lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.GELU()), r"module '1' \(GELU\) is not one the deconvnet defines"),
])
def test_what_the_deconvnet_does_not_define_is_one_clear_error(factory, pattern):
    m = factory().eval()
    with pytest.raises(NotPlain, match=pattern):
        project_many(m, torch.randn(1, 3, 64, 64), layer_names(m)[0], [0])


def test_a_branch_is_refused_naming_the_module():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 3, padding=1)

        def forward(self, x):
            return self.a(x) + self.b(x)

    with pytest.raises(NotPlain, match=r"module 'b' does not take the output of the module before it \('a'\)"):
        trace(Branchy(), (16, 16))


def test_readout_rules():
    m = torchvision.models.vgg11_bn(num_classes=10).eval()
    ops = trace(m, (64, 64))
    assert ops[readout_index(ops, m, "features.0")].name == "features.3"  # conv, bn, relu, pool
    assert ops[readout_index(ops, m, "classifier.0")].name == "classifier.1"  # linear, relu (before dropout)
    assert ops[readout_index(ops, m, "classifier.6")].name == "classifier.6"  # the logits


def test_the_atlas_of_a_torchvision_network_from_the_command_line(tmp_path, capsys):
    import json

    from conftest import make_imagefolder

    from zfviz import cli

    data = make_imagefolder(tmp_path / "ds", {"val": 3}, size=72)
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(num_classes=3).state_dict(), tmp_path / "w.pt")
    args = ["atlas", "--model", "torchvision:alexnet", "--weights", tmp_path / "w.pt", "--dataset", data,
            "--crop", "64", "--resize", "72", "--layers", "features.0", "features.10", "--no-progress"]
    assert cli.main([str(a) for a in args + ["--out", tmp_path / "atlas"]]) == 0
    prov = json.loads((tmp_path / "atlas" / "provenance.json").read_text())
    assert prov["model"] == "torchvision:alexnet" and len(prov["weights_sha256"]) == 64
    assert (tmp_path / "atlas" / "features_10.md").exists()
    capsys.readouterr()
    assert cli.main(["atlas", "--model", "torchvision:resnet18", "--dataset", str(data), "--crop", "64"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "runs more than once" in err[0]
    assert cli.main(["atlas", "--model", "torchvision:vgg11", "--weights", str(tmp_path / "w.pt"), "--dataset",
                     str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not fit torchvision:vgg11" in err[0]


def test_the_sanity_checks_run_on_a_torchvision_network():
    from zfviz.analysis.sanity import cascading_randomization, unit_and_switches

    torch.manual_seed(3)
    # torchvision's AlexNet, not VGG-11: the same kinds of layers, a quarter of the time (VGG's 103M-weight fc6 is
    # re-initialised and copied at every stage of the cascade)
    m = torchvision.models.alexnet(num_classes=4).eval()
    x = torch.randn(2, 3, 64, 64)
    df = cascading_randomization(m, x, torch.tensor([0, 1]), layer=m.features[10], scheme="kaiming", occluder=16)
    assert set(df.stage) == {"trained"} | set(layer_names(m)) and df.spearman.notna().all()
    assert df[df.stage == "trained"].spearman.eq(1).all()
    assert set(unit_and_switches(m, x, layer="features.10", others=1).comparison) == {
        "other unit, same switches", "same unit, other switches"}
