"""One device rule: every analysis function moves its inputs to the model's device at entry.

A model on the ``meta`` device with CPU inputs catches a violation on a CPU-only machine: a function that forgets
to move an input fails with a device-mismatch error. (A meta tensor has no values, so a function may still stop
later, when it needs numbers; that is not a device error.)
"""

import re

import pandas as pd
import pytest
import torch

from zfviz.analysis import agreement, correspondence, filters, gradients, invariance, occlusion, probes, sanity, topk
from zfviz.model.deconv import project, project_many
from zfviz.model.models import build_model, forward_to, readouts
from zfviz.runs.evaluate import evaluate, predict

MISMATCH = re.compile(r"same device|expected device|on the meta device|device meta is not|different device|"
                      r"should be either on|Expected .* device", re.I)

U8 = torch.randint(0, 256, (4, 3, 73, 73), dtype=torch.uint8)
X = torch.randn(4, 3, 64, 64)
MEAN = torch.zeros(3, 73, 73)
Y = torch.tensor([0, 1, 2, 0])
CALLS = {
    "readouts": lambda m: readouts(m, X, ["conv5", "fc7"]),
    "forward_to": lambda m: forward_to(m, X, "conv3"),
    "top_activations": lambda m: topk.top_activations(m, U8, MEAN, 64, ["conv1"], k=2, progress=False),
    "project_top": lambda m: topk.project_top(m, U8, MEAN, 64, pd.DataFrame(
        {"layer": ["conv2"], "channel": [0], "rank": [0], "image": [1], "y": [0], "x": [0], "value": [1.0]})),
    "project_many": lambda m: project_many(m, X, "conv3", [0, 1], image_index=[0, 1]),
    "project": lambda m: project(m, X, "conv5", 0),
    "occlusion": lambda m: occlusion.occlusion(m, X[0], 1, 16, 16),
    "projection_occlusion": lambda m: occlusion.projection_occlusion(m, X, 16, n_random=1),
    "invariance": lambda m: invariance.invariance(m, U8[:1], Y[:1], MEAN, 64, {"rotate": [0.0, 10.0]}),
    "correspondence": lambda m: correspondence.correspondence(m, X[:3], {"a": [(10, 10)] * 3}, 8),
    "filter_stats": lambda m: filters.filter_stats(m, U8, MEAN, 64),
    "layer_features": lambda m: probes.layer_features(m, U8, MEAN, 64, "conv2", progress=False),
    "activation_maximization": lambda m: gradients.activation_maximization(m, "conv2", 0, 64, steps=1),
    "class_model": lambda m: gradients.class_model(m, 0, 64, steps=1, init=X[0]),
    "saliency": lambda m: gradients.saliency(m, X, Y),
    "live_channels": lambda m: gradients.live_channels(m, ["conv2"], 1, 64, steps=1),
    "class_model_runs": lambda m: gradients.class_model_runs(m, {0: {"mean": X[0]}}, 64, steps=1),
    "method_agreement": lambda m: agreement.method_agreement(m, X[:1], [0], 32, 32),
    "sanity.method_maps": lambda m: sanity.method_maps(m, X, Y, torch.tensor([0, 1, 0, 1]), torch.zeros(4, 2).long(),
                                                       occluder=32),
    "sanity.unit_and_switches": lambda m: sanity.unit_and_switches(m, X, others=1),
    "evaluate": lambda m: evaluate(m, U8, Y, MEAN, 64),
    "predict": lambda m: predict(m, U8, MEAN, 64, ten=False),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_inputs_follow_the_model_to_its_device(name):
    torch.manual_seed(0)
    model = build_model("zf", 3, width=0.125, input_size=64).to("meta")
    try:
        CALLS[name](model)
    except Exception as e:  # values of meta tensors cannot be read: fine; a device mismatch is not
        assert not MISMATCH.search(str(e)), f"{name} left an input on another device: {e}"


def test_the_check_itself_catches_a_violation():
    model = build_model("zf", 3, width=0.125, input_size=64).to("meta")
    with pytest.raises(Exception) as e:
        model(X)  # a function that forgot the rule
    assert MISMATCH.search(str(e.value))
