"""Sanity checks of the deconvnet: randomizing changes the model; identical maps score 1; a planted method that
ignores the weights fails the check."""

import numpy as np
import torch

from zfviz.analysis.sanity import (
    cascade,
    cascading_randomization,
    randomize_layers,
    similarity_summary,
    spearman_maps,
    ssim_maps,
    unit_and_switches,
)
from zfviz.evidence import claims
from zfviz.evidence.stats import bootstrap_mean
from zfviz.model.models import build_model


def _model():
    torch.manual_seed(0)
    return build_model("zf", 5, width=0.125, input_size=64, init="transported").eval()


def test_randomizing_a_layer_changes_the_outputs_and_nothing_else():
    m = _model()
    x = torch.randn(4, 3, 64, 64) * 40
    r = randomize_layers(m, ["fc8"], scheme="transported", seed=1)
    assert not torch.allclose(m(x), r(x))
    assert torch.equal(m.conv5.weight, r.conv5.weight) and not torch.equal(m.fc8.weight, r.fc8.weight)
    assert cascade(m)[:3] == ["fc8", "fc7", "fc6"] and cascade(m)[-1] == "conv1"


def test_identical_maps_score_one_and_different_maps_less():
    a = torch.rand(3, 16, 16)
    assert np.allclose(spearman_maps(a, a), 1) and np.allclose(ssim_maps(a, a), 1)
    b = torch.rand(3, 16, 16)
    assert (spearman_maps(a, b) < 0.5).all() and (ssim_maps(a, b) < 0.9).all()


def test_cascade_table_and_the_deconvnet_ignores_the_classifier():
    m = _model()
    x = torch.randn(6, 3, 64, 64) * 40
    df = cascading_randomization(m, x, torch.arange(6) % 5, occluder=16, methods=("deconvnet", "saliency"))
    s = similarity_summary(df)
    dec = s[s.method == "deconvnet"].set_index("stage")["mean"]
    assert dec["trained"] == 1.0 and dec["fc6"] == 1.0  # a conv5 projection never passes through fc layers
    assert dec["conv1"] < 0.95  # but it does change once the conv weights are random
    sal = s[s.method == "saliency"].set_index("stage")["mean"]
    assert sal["fc8"] < 1.0  # the class score's gradient depends on fc8
    us = unit_and_switches(m, x, others=2)
    assert set(us.comparison) == {"other unit, same switches", "same unit, other switches"}


def test_a_method_that_ignores_the_weights_fails_the_check():
    """A planted 'explanation' (the image's own gradient magnitude) is the same for every model: S1 must say so."""
    m = _model()
    x = torch.randn(60, 3, 64, 64) * 40

    def planted(model, images):
        return (images[..., 1:, :-1] - images[..., :-1, :-1]).abs().sum(1)

    rand = randomize_layers(m, cascade(m), scheme="transported", seed=2)
    rho = spearman_maps(planted(m, x), planted(rand, x))
    est, lo, hi, n = bootstrap_mean(1 - rho)
    ev = claims.evidence("S1a", est, (lo, hi), n, "smoke", seeds=3)
    assert claims.decide(claims.REGISTRY["S1a"], ev) == "not reproduced"


def test_occlusion_cascade_equals_one_occlusion_per_stage():
    from zfviz.analysis.sanity import cascade, occlusion_cascade, occlusion_maps, randomize_layers
    from zfviz.model.models import zfnet

    torch.manual_seed(0)
    m = zfnet(10, width=0.25, input_size=64, init="transported").eval()
    x, t = torch.randn(2, 3, 64, 64) * 40, torch.tensor([1, 3])
    stages = [("trained", [])] + [(name, cascade(m)[:i + 1]) for i, name in enumerate(cascade(m))]
    occ = occlusion_cascade(m, x, t, 16, stages, chunk=5)  # chunks smaller than the tiles: the seams are right
    for stage, layers in stages:
        ref = occlusion_maps(randomize_layers(m, layers) if layers else m, x, t, 16)
        assert torch.allclose(ref, occ[stage], atol=1e-6), stage
