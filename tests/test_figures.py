"""Every figure legible at the book's text width: each plotting function, fed small real inputs, draws a figure no
wider than the text column (or scaled to it) whose smallest text is at least 8 pt there. Chapters draw no figure
of their own, so these are all the book's figures."""

from __future__ import annotations

import re

import jupytext
import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

matplotlib.use("Agg")

from zfviz import book, plots  # noqa: E402
from zfviz.analysis.topk import project_top, top_activations  # noqa: E402
from zfviz.models import zfnet  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    m = zfnet(10, width=0.125, input_size=64, init="kaiming").eval()
    images = torch.randint(0, 255, (12, 3, 73, 73), dtype=torch.uint8)
    mean = images.float().mean(0)
    t = top_activations(m, images, mean, 64, ["conv2"], k=4, progress=False)
    return m, images, mean, project_top(m, images, mean, 64, t[t.channel.isin([0, 1, 2, 3])])


def _figures(tiny):
    m, images, mean, tp = tiny
    rng = np.random.default_rng(0)
    curves = pd.DataFrame([{"model": mo, "seed": s, "epoch": e, "val_top1": 50 + e, "val10_top1": np.nan,
                            "train_top1": 40 + e, "lr": 0.01, "init": "paper"}
                           for mo in ("zf", "alexnet") for s in range(3) for e in range(1, 6)])
    summaries = {k: pd.DataFrame([{"method": me, "randomized": r, "stage": st, "mean": 0.5, "ci_low": 0.4,
                                   "ci_high": 0.6} for me in ("deconvnet", "saliency")
                                  for r, st in enumerate(["trained", "fc8", "fc7", "conv1"])])
                 for k in ("spearman", "ssim")}
    occ = pd.DataFrame([{"row": i, "col": j, "y": 8 * i, "x": 8 * j, "prob_true": rng.random(), "pred": i % 3,
                         "pred_prob": 0.5, "map_activity": rng.random()} for i in range(6) for j in range(6)])
    occ.attrs.update(channel=3, unoccluded={"prob_true": 0.9, "pred": 1, "map_activity": 2.0})
    filters = pd.DataFrame({"model": ["AlexNet", "ZF", "AlexNet, untrained", "ZF, untrained"] * 10,
                            "autocorrelation": rng.random(40)})
    table = pd.DataFrame({"pretrained": [30, 40], "pretrained sd": [2, 2], "from scratch": [12, 15],
                          "from scratch sd": [1, 1]}, index=[1, 5])
    drops = pd.DataFrame({c: rng.random(20) for c in ("drop_rf_centre", "drop_gradient", "drop_random",
                                                      "drop_projection")})
    yield "topk_figure", plots.topk_figure(tp, mean, "conv2", [0, 1, 2, 3], k=4, title="conv2")
    yield "filter_bank", plots.filter_bank(m.conv1.weight, title="conv1")
    yield "evolution_figure", plots.evolution_figure({1: tp, 2: tp, 5: tp, 10: tp, 20: tp}, "conv2", [0, 1],
                                                     title="conv2 over epochs")
    yield "masks_figure", plots.masks_figure(torch.randn(2, 3, 64, 64), mean, {"eye": [(10, 10), (20, 20)],
                                             "nose": [(30, 30), (30, 30)], "mouth": [(40, 40), (40, 40)],
                                             "random 0": [(5, 5), (6, 6)], "left eye": [(9, 9), (9, 9)]}, 8,
                                             ["eye", "nose", "mouth", "left eye", "random 0"])
    yield "occlusion_panels", plots.occlusion_panels(rng.random((64, 64, 3)), occ, torch.randn(3, 64, 64),
                                                     [torch.randn(3, 64, 64)] * 3,
                                                     [f"long class name {c} of a dataset" for c in range(10)], 1,
                                                     16)
    yield "randomization_figure", plots.randomization_figure(summaries, title="cascading randomization")
    yield "panel_grid", plots.panel_grid([[(rng.random((8, 8, 3)), "a"), (rng.random((8, 8)), "b")] * 3] * 2,
                                         title="grid")
    yield "feature_maps_figure", plots.feature_maps_figure(rng.random((28, 28)), "digit",
                                                           {"conv1": torch.rand(32, 13, 13),
                                                            "conv2": torch.rand(64, 6, 6)})
    yield "curves_by_layer", plots.curves_by_layer({"ours": (pd.Series([30, 40], ["conv1", "fc7"]), None)},
                                                   ["conv1", "fc7"], {"paper": pd.Series([40, 70], ["conv1", "fc7"])},
                                                   chance=10, title="by layer")
    yield "autocorrelation_histogram", plots.autocorrelation_histogram(filters)
    yield "on_off_scatter", plots.on_off_scatter(pd.DataFrame({"drop_off": rng.random(9), "drop_on": rng.random(9)}))
    yield "learning_curves", plots.learning_curves(curves, "zf")
    yield "line_chart", plots.line_chart(pd.DataFrame({"conv1": [0.2, 0.5], "conv5": [0.1, 1]}, index=[1, 20]),
                                         "epoch", "overlap", hline=0.5)
    yield "seed_spread", plots.seed_spread({"ZF": np.array([22.6, 23.0]), "AlexNet": np.array([26.0, 26.5])}, "err")
    yield "takeoff_curves", plots.takeoff_curves(curves, ["paper"], 15)
    yield "transfer_chart", plots.transfer_chart(table, 10, "imagewoof")
    yield "drop_scatter", plots.drop_scatter(drops, "conv5")
    inv = pd.DataFrame([{"transformation": k, "amount": a, "image": i, "dist_conv1": rng.random(),
                         "dist_fc7": rng.random(), "prob_true": rng.random()}
                        for k, amounts in (("translate", [-60, 0, 60]), ("scale", [1, 1.5]), ("rotate", [0, 90]))
                        for a in amounts for i in range(5)])
    yield "invariance_figure", plots.invariance_figure(inv, torch.randn(5, 3, 73, 73) * 40, ["conv1", "fc7"],
                                                       [f"image {i}" for i in range(5)], 64)


def test_every_figure_is_legible_at_the_text_width(tiny):
    """... and is laid out without a warning (a warning lands on a chapter's stderr, which the book must not show)."""
    import warnings

    bad = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figures = list(_figures(tiny))
    assert not [str(w.message) for w in caught if "layout" in str(w.message)]
    for name, fig in figures:
        w = fig.get_size_inches()[0]
        pt = plots.legibility(fig)
        if pt < plots.MIN_PT - 1e-6 or w > plots.PAGE_IN + 1e-6:
            bad[name] = (round(pt, 1), round(float(w), 2))
        matplotlib.pyplot.close(fig)
    assert not bad, f"figures under {plots.MIN_PT} pt at the text width, or wider than it: {bad}"


def test_legibility_fails_a_figure_with_small_text():
    fig, ax = matplotlib.pyplot.subplots(figsize=(14, 3))
    ax.set_title("tiny", fontsize=9)  # 9 pt on a 14-inch figure is 4.8 pt at the text width
    assert plots.legibility(fig) < plots.MIN_PT
    assert plots.legibility(plots.fit_to_page(fig)) >= plots.MIN_PT


@pytest.mark.parametrize("name", book.chapters())
def test_chapters_draw_no_figure_of_their_own(name):
    code = "\n".join(c.source for c in jupytext.read(book.NOTEBOOKS / f"{name}.py").cells if c.cell_type == "code")
    assert not re.search(r"plt\.(subplots|figure)\(|\.plot\(", code), f"{name} draws a figure itself: add it to plots"


def test_takeoff_curves_draw_no_empty_panel_for_an_init_without_runs():
    # chapter 09 with train=False and no run under the paper's init drew an empty "paper init" panel (2026-12-01)
    curves = pd.DataFrame([{"model": "zf", "seed": 0, "epoch": e, "val_top1": 20 + e, "init": "transported"}
                           for e in range(1, 4)])
    fig = plots.takeoff_curves(curves, ["transported", "paper"], 15)
    assert [ax.get_title() for ax in fig.axes] == ["transported init"]
    matplotlib.pyplot.close(fig)
