"""Top-k mining against a brute-force search, and projections of the mined activations."""

import pytest
import torch

from zfviz.analysis.topk import cut, project_top, readouts, top_activations
from zfviz.data.sets import center_crop, pixel_mean
from zfviz.model.deconv import project_many
from zfviz.model.models import zfnet


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = zfnet(5, width=0.125, input_size=64, init="kaiming").eval()
    images = torch.randint(0, 256, (37, 3, 72, 72), dtype=torch.uint8)
    return model, images, pixel_mean(images)


def test_streaming_topk_equals_brute_force(setup):
    model, images, mean = setup
    layers = ["conv1", "conv3", "conv5"]
    df = top_activations(model, images, mean, 64, layers, k=4, batch_size=10, progress=False)
    acts = readouts(model, center_crop(images, mean, 64), layers)
    assert list(df.columns) == ["layer", "channel", "rank", "image", "y", "x", "value"]
    for layer in layers:
        a = acts[layer]
        per_image = a.flatten(2).max(2).values  # (N, C)
        sub = df[df.layer == layer]
        assert len(sub) == a.shape[1] * 4
        for c in range(a.shape[1]):
            rows = sub[sub.channel == c].sort_values("rank")
            expected = per_image[:, c].topk(4).values
            assert torch.allclose(torch.tensor(rows.value.to_numpy()), expected, rtol=1e-5)
            assert rows.image.nunique() == 4
            for r in rows.itertuples():  # the stored position holds the stored value
                assert torch.isclose(a[r.image, c, r.y, r.x], torch.tensor(r.value), rtol=1e-5)


def test_projections_of_mined_rows(setup):
    model, images, mean = setup
    df = top_activations(model, images, mean, 64, ["conv2"], k=3, progress=False)
    df = df[df.channel < 4]
    tp = project_top(model, images, mean, 64, df)
    assert tp.projection.pixels.shape == (12, 3, 64, 64) and tp.inputs.shape == (12, 3, 64, 64)
    r = tp.table.iloc[5]
    x = center_crop(images[[r.image]], mean, 64)
    single = project_many(model, x, "conv2", [r.channel], torch.tensor([[r.y, r.x]]))
    assert torch.allclose(tp.projection.pixels[5], single.pixels[0], atol=1e-5)
    assert torch.allclose(tp.projection.values, torch.tensor(tp.table.value.to_numpy()), rtol=1e-5)
    patch = cut(tp.inputs[5], tp.projection.boxes[5])
    y0, x0, y1, x1 = tp.projection.boxes[5].tolist()
    assert patch.shape == (3, y1 - y0, x1 - x0)


def test_bad_k(setup):
    model, images, mean = setup
    with pytest.raises(ValueError, match="k must be a positive int"):
        top_activations(model, images, mean, 64, ["conv1"], k=0)
    with pytest.raises(ValueError, match="unknown layer 'conv9'"):
        top_activations(model, images, mean, 64, ["conv9"], progress=False)


def _table(groups: dict[tuple[str, int], list[int]]):
    import pandas as pd

    return pd.DataFrame([{"layer": layer, "channel": ch, "rank": r, "image": img}
                         for (layer, ch), imgs in groups.items() for r, img in enumerate(imgs)])


def test_class_purity_counts_the_commonest_class_and_purity_gain_compares_layers_over_seeds():
    import numpy as np

    from zfviz.analysis.topk import class_purity, map_purity, purity_gain

    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])  # image i has class i // 3
    mixed, pure = [0, 3, 6], [3, 4, 5]  # one image of each class; three of class 1
    t = _table({("conv1", 0): mixed, ("conv1", 1): mixed, ("conv5", 0): pure, ("conv5", 1): [6, 7, 0]})
    per = map_purity(t, labels).set_index(["layer", "channel"]).purity
    assert per[("conv1", 0)] == pytest.approx(1 / 3) and per[("conv5", 0)] == 1
    assert per[("conv5", 1)] == pytest.approx(2 / 3)
    summary = class_purity(t, labels).set_index("layer")
    assert summary.loc["conv5", "mean"] == pytest.approx(5 / 6) and 1 / 3 <= summary.chance.iloc[0] <= 1
    est, lo, hi, n = purity_gain([t, t, t], labels)  # three identical seeds: the CI comes from the maps only
    assert est == pytest.approx(5 / 6 - 1 / 3) and lo <= est <= hi and n == 3 and np.isfinite([lo, hi]).all()
    with pytest.raises(ValueError, match="every table needs layer 'conv5'"):
        purity_gain([t[t.layer == "conv1"]], labels)


def test_projections_in_image_batches_match_one_batch(monkeypatch):
    """project_top forwards only as many images at once as ACTIVATION_BUDGET allows (VGG16 at 224 px: a few); the rows,
    their order and their projections are the same as in one batch (to float rounding)."""
    import zfviz.analysis.topk as tk
    from zfviz.model.models import zfnet

    m = zfnet(10, width=0.125, input_size=64).eval()
    imgs = torch.randint(0, 255, (40, 3, 73, 73), dtype=torch.uint8)
    mean = imgs.float().mean(0)
    t = tk.top_activations(m, imgs, mean, 64, ["conv3", "conv5"], k=9, progress=False)
    whole = tk.project_top(m, imgs, mean, 64, t)
    monkeypatch.setitem(tk.ACTIVATION_BUDGET, "cpu", 1 << 19)
    assert tk.fitting_batch(m, torch.randn(1, 3, 64, 64), 40) < 40
    parts = tk.project_top(m, imgs, mean, 64, t)
    assert parts.table.equals(whole.table) and torch.equal(parts.inputs, whole.inputs)
    for f in ("pixels", "values"):
        torch.testing.assert_close(getattr(parts.projection, f), getattr(whole.projection, f))
    for f in ("boxes", "positions", "image_index", "channels"):
        assert torch.equal(getattr(parts.projection, f), getattr(whole.projection, f)), f
