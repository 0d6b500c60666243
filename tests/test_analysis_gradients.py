"""Gradient-based visualization: objectives rise, saliency equals captum's, bad inputs stop clearly."""

import math

import pytest
import torch
from captum.attr import Saliency

from zfviz.analysis.gradients import activation_maximization, class_model, class_model_runs, live_channels, saliency
from zfviz.model.models import forward_to, zfnet


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return zfnet(5, width=0.125, input_size=64, init="kaiming").eval()


@pytest.mark.parametrize("layer", ["conv1", "conv2", "conv5", "fc7"])
def test_activation_maximization_raises_the_activation(model, layer):
    noise = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))  # the function's own start
    act = forward_to(model, noise, layer)[0]
    ch = int(act.flatten(1).mean(1).argmax() if act.dim() == 3 else act.argmax())  # a channel alive at the start
    img, hist = activation_maximization(model, layer, ch, 64, steps=15, step_size=0.5)
    assert img.shape == (3, 64, 64) and len(hist) == 15
    final = float(forward_to(model, img[None], layer)[0, ch].mean())
    assert final > hist.objective.iloc[0] and final > 0
    assert all(p.requires_grad for p in model.parameters()) and not model.training


def test_class_model_raises_the_score_and_alpha_shrinks_the_image(model):
    img, hist = class_model(model, 2, 64, steps=30, step_size=0.5, alpha=0.0)
    assert hist.score.iloc[-1] > hist.score.iloc[0] + 1
    small, _ = class_model(model, 2, 64, steps=30, step_size=0.5, alpha=5.0)
    assert small.abs().sum() < img.abs().sum()
    mean_init = torch.full((3, 64, 64), 0.5)
    started, h = class_model(model, 2, 64, steps=1, step_size=1e-9, init=mean_init)
    assert torch.allclose(started, mean_init, atol=1e-5)


def test_saliency_equals_captum(model):
    torch.manual_seed(1)
    x = torch.randn(4, 3, 64, 64)
    ours = saliency(model, x, [0, 1, 2, 3])
    ref = Saliency(model).attribute(x, target=torch.tensor([0, 1, 2, 3]), abs=True).amax(1)
    assert torch.allclose(ours, ref, atol=1e-7) and ours.abs().max() > 0


def test_bad_inputs(model):
    with pytest.raises(ValueError, match=r"channel 999 out of range for conv5: valid 0..31"):
        activation_maximization(model, "conv5", 999, 64)
    with pytest.raises(ValueError, match="step_size must be a finite positive number, got nan"):
        activation_maximization(model, "conv1", 0, 64, step_size=math.nan)
    with pytest.raises(ValueError, match=r"unknown class 7: valid 0..4"):
        class_model(model, 7, 64)
    with pytest.raises(ValueError, match="unknown layer 'conv9'"):
        activation_maximization(model, "conv9", 0, 64)
    with pytest.raises(ValueError, match="unknown class in targets"):
        saliency(model, torch.zeros(1, 3, 64, 64), [9])


def test_class_model_input_scale_is_a_change_of_units(model):
    class Scaled(torch.nn.Module):
        def __init__(self, inner, s):
            super().__init__()
            self.inner, self.s = inner, s

        def forward(self, x):
            return self.inner(self.s * x)

    s = 37.0
    x0 = torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(2)) * 20
    a, ha = class_model(model, 1, 64, steps=5, init=x0, input_scale=s)
    b, hb = class_model(Scaled(model, s), 1, 64, steps=5, init=x0 / s)
    assert torch.allclose(a, s * b, rtol=1e-4, atol=1e-3) and ha.score.tolist() == pytest.approx(hb.score.tolist())
    with pytest.raises(ValueError, match="input_scale must be a finite positive number"):
        class_model(model, 1, 64, input_scale=float("inf"))


def test_live_channels_stops_at_enough_live_ones_and_keeps_their_images(model):
    rows, images = live_channels(model, ["conv1", "conv2"], 2, 64, steps=3, report_steps=5, seed=0)
    for layer in ("conv1", "conv2"):
        tried = rows[rows.layer == layer]
        assert tried.live.sum() == 2 and tried.live.iloc[-1]  # stops at the second live channel
        assert sorted(k for k in images if k[0] == layer) == [(layer, c) for c in tried.channel[tried.live]]
    assert (rows.at_report_steps == rows.end).all()  # report_steps beyond the ascent: read at its end
    assert all(img.shape == (3, 64, 64) for img in images.values())


def test_class_model_runs_names_rows_and_keys_images(model):
    inits = {1: {"noise": None, "class mean": torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(1))}}
    rows, images = class_model_runs(model, inits, 64, steps=3, names=["a", "b", "c", "d", "e"])
    assert rows["class"].tolist() == ["b", "b"] and rows.init.tolist() == ["noise", "class mean"]
    assert set(images) == {(1, "noise"), (1, "class mean")} and rows["P(class) after"].between(0, 1).all()
    assert (rows["score after"] > rows["score before"]).all()  # 3 steps of ascent raise the score


def test_method_agreement_rows_and_maps(model):
    from zfviz.analysis.agreement import method_agreement

    x = torch.randn(2, 3, 64, 64)
    rows, maps = method_agreement(model, x, [0, 3], 16, 16, names=["a", "b", "c", "d", "e"])
    assert rows.index.tolist() == ["a", "d"] and rows.columns.tolist() == [
        "P(correct)", "saliency vs occlusion", "projection vs occlusion"]
    assert rows.drop(columns="P(correct)").abs().le(1).all().all()
    assert maps[0]["deconvnet"].shape == (3, 64, 64) and maps[0]["saliency"].shape == (64, 64)
    assert maps[0]["occlusion"].shape == (4, 4)  # 64 px, a 16 px square every 16 px


def test_companion_summary_keeps_a_negative_gain_and_each_start():
    import pandas as pd

    from zfviz.analysis.gradients import companion_summary, score_gains

    runs = pd.DataFrame({"init": ["noise", "noise", "class mean"], "score before": [0.0, 1.0, 2.0],
                         "score after": [1.0, 0.5, 1.0]})
    am = pd.DataFrame({"live": [True, False, True]})
    agree = pd.DataFrame({"saliency vs occlusion": [0.1, 0.3], "projection vs occlusion": [-0.2, 0.0]})
    text = companion_summary(am, score_gains(runs), agree)
    assert "2 live channels of 3 tried" in text
    assert "1 of 2 runs from noise (median gain +0.25); 0 of 1 runs from class mean (median gain -1.00)" in text
    assert text.endswith("saliency 0.20, deconvnet projection -0.10.")
