"""Architecture: the paper's map sizes, named layers, Table 3 variants, init and feature scale clipping."""

import pytest
import torch
from torch import nn

from zfviz.model.layers import layer_names, readout_name
from zfviz.model.models import VARIANTS, alexnet, build_model, clip_feature_scale, feature_shapes, forward_to, zfnet


def test_zf_matches_fig3_at_224():
    m = zfnet(1000)
    s = feature_shapes(m)
    assert s["relu1"] == (96, 110, 110) and s["pool1"] == (96, 55, 55) and s["norm1"] == (96, 55, 55)
    assert s["relu2"] == (256, 26, 26) and s["pool2"] == (256, 13, 13)
    assert s["relu3"] == (384, 13, 13) and s["relu4"] == (384, 13, 13) and s["relu5"] == (256, 13, 13)
    assert s["pool5"] == (256, 6, 6) and s["flatten"] == (9216,)
    assert m.fc6.in_features == 9216 and m.fc6.out_features == 4096 and m.fc7.out_features == 4096
    assert m.conv1.kernel_size == (7, 7) and m.conv1.stride == (2, 2)
    assert m.conv2.kernel_size == (5, 5) and m.conv2.stride == (2, 2)
    assert s["fc8"] == (1000,)


def test_alexnet_replica_at_224():
    m = alexnet(1000)
    s = feature_shapes(m)
    assert [s[f"conv{i}"][1] for i in range(1, 6)] == [55, 27, 13, 13, 13]
    assert s["pool1"][1:] == (27, 27) and s["pool2"][1:] == (13, 13) and s["pool5"] == (256, 6, 6)
    assert m.conv1.kernel_size == (11, 11) and m.conv1.stride == (4, 4) and m.fc6.in_features == 9216


def test_layers_addressable_and_ordered():
    m = zfnet(10)
    for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"):
        assert isinstance(m.get_submodule(name), (nn.Conv2d, nn.Linear))
    order = [n for n, _ in m.named_children()]
    # conv -> ReLU -> pool -> LRN, as Sec. 2; LRN only after conv1 and conv2
    assert order[:8] == ["conv1", "relu1", "pool1", "norm1", "conv2", "relu2", "pool2", "norm2"]
    assert sum(isinstance(x, nn.LocalResponseNorm) for x in m.modules()) == 2
    assert sum(isinstance(x, nn.Dropout) for x in m.modules()) == 2
    assert layer_names(m) == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("size,width", [(224, 1.0), (112, 0.5), (64, 0.125)])
def test_every_variant_builds_and_runs(variant, size, width):
    if size == 224 and "8192" in variant:
        pytest.skip("huge fc at full size: covered by the width check below")
    m = build_model(variant, 7, width=width, input_size=size)
    out = m(torch.randn(2, 3, size, size))
    assert out.shape == (2, 7)


def test_variants_have_the_ablated_structure():
    names = lambda v: set(layer_names(build_model(v, 10)))
    assert names("zf") == {"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"}
    assert names("alexnet-no-conv34") == {"conv1", "conv2", "conv5", "fc6", "fc7", "fc8"}
    assert names("alexnet-no-fc7") == {"conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc8"}
    assert names("alexnet-no-fc67") == {"conv1", "conv2", "conv3", "conv4", "conv5", "fc8"}
    assert names("alexnet-no-conv34-fc67") == {"conv1", "conv2", "conv5", "fc8"}
    assert build_model("zf-fc2048", 10).fc6.out_features == 2048
    assert build_model("zf-fc8192", 10, width=0.25).fc7.out_features == 2048
    wide = build_model("zf-wide", 10)
    assert (wide.conv3.out_channels, wide.conv4.out_channels, wide.conv5.out_channels) == (512, 1024, 512)
    assert build_model("alexnet-no-fc67", 10).fc8.in_features == 9216
    half = zfnet(10, width=0.5, input_size=112)
    assert [half.get_submodule(f"conv{i}").out_channels for i in range(1, 6)] == [48, 128, 192, 192, 128]


def test_paper_init():
    m = zfnet(10, width=0.5, input_size=112)
    w = torch.cat([p.flatten() for n, p in m.named_parameters() if n.endswith("weight")])
    b = torch.cat([p.flatten() for n, p in m.named_parameters() if n.endswith("bias")])
    assert abs(w.std().item() - 1e-2) < 5e-4 and b.abs().max() == 0


def test_feature_scale_clipping_renormalizes_only_large_filters():
    m = zfnet(10, width=0.125, input_size=64)
    with torch.no_grad():
        m.conv1.weight[0].fill_(1.0)  # RMS 1.0 -> must become 0.1
        m.conv1.weight[1].fill_(0.05)  # RMS 0.05 -> unchanged
    before = m.conv1.weight[2:].clone()
    n = clip_feature_scale(m, 0.1)
    rms = m.conv1.weight.pow(2).mean(dim=(1, 2, 3)).sqrt()
    assert n == 1
    assert torch.allclose(rms[0], torch.tensor(0.1)) and torch.allclose(rms[1], torch.tensor(0.05))
    assert torch.equal(m.conv1.weight[2:], before)


def test_readout_and_forward_to():
    m = zfnet(10, width=0.125, input_size=64).eval()
    assert readout_name(m, "conv1") == "pool1" and readout_name(m, "conv3") == "relu3"
    assert readout_name(m, "fc7") == "relu7" and readout_name(m, "fc8") == "fc8"
    x = torch.randn(2, 3, 64, 64)
    a = forward_to(m, x, "conv2")
    assert a.shape[1] == m.conv2.out_channels and (a >= 0).all()
    assert torch.allclose(forward_to(m, x, "fc8"), m(x))


def test_bad_names_give_clear_errors():
    with pytest.raises(ValueError, match="valid models"):
        build_model("vgg16", 10)
    with pytest.raises(ValueError, match="valid layers: conv1, conv2, conv5"):
        readout_name(build_model("alexnet-no-conv34", 10), "conv3")
    with pytest.raises(ValueError, match="too small"):
        zfnet(10, input_size=32)
    with pytest.raises(ValueError, match="width"):
        zfnet(10, width=0)


@pytest.mark.parametrize("size,alpha,beta,k", [(5, 1e-4, 0.75, 2.0), (3, 0.5, 0.75, 1.0), (5, 1.0, 0.6, 1.0)])
def test_fused_lrn_backward_passes_gradcheck_and_matches_torch_in_float64(size, alpha, beta, k):
    """The hand-written backward, against finite differences and against autograd through nn.LocalResponseNorm.
    A large alpha makes the window's correction term large; at the paper's 1e-4 it is small, but float64 still sees
    it (halving it moves the gradient by about 1e-5)."""
    from zfviz.model.models import LocalResponseNorm, _LRNFunction

    torch.manual_seed(0)
    x = (2 * torch.randn(2, 7, 3, 3, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: _LRNFunction.apply(t, size, alpha, beta, k), (x,), eps=1e-6, atol=1e-8)
    g = torch.randn(2, 7, 3, 3, dtype=torch.float64)
    ours = torch.autograd.grad(LocalResponseNorm(size, alpha, beta, k)(x), x, g)[0]
    ref = torch.autograd.grad(torch.nn.LocalResponseNorm(size, alpha, beta, k)(x), x, g)[0]
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
