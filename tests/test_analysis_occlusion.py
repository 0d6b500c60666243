"""Occlusion maps against captum's Occlusion with the same square, stride and grey fill."""

import math

import pytest
import torch
from captum.attr import Occlusion

from zfviz.analysis.occlusion import as_grid, occlusion
from zfviz.analysis.topk import readouts
from zfviz.model.models import zfnet


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return zfnet(4, width=0.125, input_size=64, init="kaiming").double().eval()


@pytest.mark.parametrize("size,stride", [(16, 16), (16, 8), (12, 10)])
def test_probability_map_agrees_with_captum(model, size, stride):
    torch.manual_seed(1)
    image = torch.randn(3, 64, 64, dtype=torch.float64)  # unit scale: He-init logits stay O(1), not saturated
    label = 2
    df = occlusion(model, image, label, size, stride, batch_size=7)
    p0 = df.attrs["unoccluded"]["prob_true"]
    # captum: per pixel, the mean over the windows covering it of (unoccluded - occluded) probability
    attr = Occlusion(lambda x: model(x).softmax(-1)).attribute(
        image[None], sliding_window_shapes=(3, size, size), strides=(3, stride, stride), baselines=torch.zeros_like(image[None]),
        target=label)[0]
    assert attr.dtype == torch.float32  # captum accumulates in float32, so compare at float32 precision
    total = torch.zeros(64, 64, dtype=torch.float64)
    count = torch.zeros(64, 64, dtype=torch.float64)
    for r in df.itertuples():
        total[r.y:r.y + size, r.x:r.x + size] += p0 - r.prob_true
        count[r.y:r.y + size, r.x:r.x + size] += 1
    ours = torch.where(count > 0, total / count.clamp_min(1), torch.zeros(()))
    assert torch.allclose(ours.float(), attr[0], atol=1e-6) and ours.abs().max() > 1e-3
    n = -(-(64 - size) // stride) + 1
    assert as_grid(df, "prob_true").shape == (n, n) and df.y.max() + size >= 64  # the whole image is covered


def test_map_activity_and_labels(model):
    torch.manual_seed(2)
    image = torch.randn(3, 64, 64, dtype=torch.float64) * 50
    df = occlusion(model, image, 0, 32, 32)
    ch = df.attrs["channel"]
    act = readouts(model, image[None], ["conv5"])["conv5"][0]
    assert ch == int(act.flatten(1).max(1).values.argmax())
    occluded = image.clone()
    occluded[:, 32:, :32] = 0
    r = df[(df.y == 32) & (df.x == 0)].iloc[0]
    assert r.map_activity == pytest.approx(float(readouts(model, occluded[None], ["conv5"])["conv5"][0, ch].sum()))
    assert r.pred == int(model(occluded[None]).argmax())


def test_bad_settings(model):
    image = torch.zeros(3, 64, 64, dtype=torch.float64)
    with pytest.raises(ValueError, match="positive ints"):
        occlusion(model, image, 0, 0, 4)
    with pytest.raises(ValueError, match="exceeds the image size 64"):
        occlusion(model, image, 0, 80, 4)
    with pytest.raises(ValueError, match=r"label 9 out of range: valid 0..3"):
        occlusion(model, image, 9, 16, 16)


def test_projection_occlusion_against_a_direct_computation(model):
    from zfviz.analysis.occlusion import projection_occlusion
    from zfviz.model.deconv import project, receptive_field

    torch.manual_seed(3)
    images = torch.randn(3, 3, 64, 64, dtype=torch.float64)
    size = 12
    df = projection_occlusion(model, images, size, n_random=2, seed=5, batch_size=2)
    assert len(df) == 3 and df.image.tolist() == [0, 1, 2]
    for row in df.itertuples():
        x = images[row.image]
        act = readouts(model, x[None], ["conv5"])["conv5"][0]
        ch = int(act.flatten(1).max(1).values.argmax())
        assert ch == row.channel and act[ch].sum().item() == pytest.approx(row.activity)
        energy = project(model, x[None], "conv5", ch)[0].abs().sum(0)
        # brute force: the square with the most projection energy
        best = max(((energy[y:y + size, x0:x0 + size].sum().item(), y, x0) for y in range(64 - size + 1)
                    for x0 in range(64 - size + 1)))
        assert (row.y, row.x) == best[1:]
        occluded = x.clone()
        occluded[:, row.y:row.y + size, row.x:row.x + size] = 0
        after = readouts(model, occluded[None], ["conv5"])["conv5"][0, ch].sum().item()
        assert row.drop_projection == pytest.approx(1 - after / row.activity, abs=1e-9)
        # the gradient baseline: the square with the most |d unit / d input|, brute force
        xg = x[None].clone().requires_grad_(True)
        a = readouts(model, xg, ["conv5"])["conv5"][0, ch]
        uy, ux = divmod(int(a.argmax()), a.shape[1])
        a[uy, ux].backward()
        genergy = xg.grad[0].abs().sum(0)
        gy, gx = max(((genergy[y:y + size, x0:x0 + size].sum().item(), y, x0) for y in range(64 - size + 1)
                      for x0 in range(64 - size + 1)))[1:]
        # the receptive-field baseline: a square centred on the unit's (unclipped) receptive field
        y0, x0, y1, x1 = receptive_field(model, "conv5", torch.tensor([[uy, ux]]), (64, 64), clip=False)[0].tolist()
        ry = min(max(round((y0 + y1 - 1) / 2 - (size - 1) / 2), 0), 64 - size)
        rx = min(max(round((x0 + x1 - 1) / 2 - (size - 1) / 2), 0), 64 - size)
        for (cy, cx), col in (((gy, gx), "drop_gradient"), ((ry, rx), "drop_rf_centre")):
            occluded = x.clone()
            occluded[:, cy:cy + size, cx:cx + size] = 0
            after = readouts(model, occluded[None], ["conv5"])["conv5"][0, ch].sum().item()
            assert getattr(row, col) == pytest.approx(1 - after / row.activity, abs=1e-9)
    again = projection_occlusion(model, images, size, n_random=2, seed=5)
    assert again.equals(df)  # seeded random squares, batch size does not matter
    with pytest.raises(ValueError, match="size must be an int in 1..64"):
        projection_occlusion(model, images, 65)


def test_projection_advantage_picks_the_strongest_baseline():
    import pandas as pd

    from zfviz.analysis.occlusion import projection_advantage

    drops = pd.DataFrame({"seed": [0, 0, 1, 1], "image": [5, 7, 5, 7], "drop_projection": [0.5, 0.6, 0.4, 0.7],
                          "drop_rf_centre": [0.3, 0.3, 0.2, 0.2], "drop_gradient": [0.45, 0.5, 0.5, 0.6],
                          "drop_random": [0.1, 0.1, 0.1, 0.1]})
    best, diff = projection_advantage(drops)
    assert best == "gradient"
    assert diff.shape == (2, 2) and diff.loc[1, 5] == pytest.approx(-0.1)


def test_object_occlusion_splits_positions_on_and_off_the_box(model):
    from zfviz.analysis.occlusion import object_occlusion

    torch.manual_seed(4)
    images = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    labels = torch.tensor([1, 3])
    boxes = torch.tensor([[8, 8, 40, 40], [0, 0, 64, 64]])
    df = object_occlusion(model, images, labels, boxes, 16, 8)
    grid = occlusion(model, images[0], 1, 16, 8)
    centre_y, centre_x = grid.y + 8, grid.x + 8  # no square sticks out at size 16, stride 8, 64 px
    on = centre_y.between(8, 39) & centre_x.between(8, 39)
    off = (grid.y + 16 <= 8) | (grid.y >= 40) | (grid.x + 16 <= 8) | (grid.x >= 40)
    p0 = grid.attrs["unoccluded"]["prob_true"]
    row = df.iloc[0]
    assert (row.on, row.off) == (int(on.sum()), int(off.sum())) and row.on > 0 and row.off > 0
    assert row.drop_on == pytest.approx((p0 - grid.prob_true[on]).mean())
    assert row.drop_off == pytest.approx((p0 - grid.prob_true[off]).mean())
    assert row.difference == pytest.approx(row.drop_on - row.drop_off)
    # a box covering the whole image leaves no position off the object: no difference, not a zero
    assert df.iloc[1].off == 0 and math.isnan(df.iloc[1].difference)
    with pytest.raises(ValueError, match="must agree"):
        object_occlusion(model, images, labels, boxes[:1], 16, 8)
    # no image (e.g. none classified correctly): an empty table with the same columns, which a chapter can pivot
    empty = object_occlusion(model, images[:0], labels[:0], boxes[:0], 16, 8)
    assert empty.empty and list(empty.columns) == list(df.columns)
