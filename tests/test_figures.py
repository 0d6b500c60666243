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
import matplotlib.pyplot as plt  # noqa: E402

from zfviz.analysis.topk import project_top, top_activations  # noqa: E402
from zfviz.book import execute as book  # noqa: E402
from zfviz.book import plots
from zfviz.model.models import zfnet  # noqa: E402


def _tiny_top(layer: str, k: int, channels: list[int]):
    """A tiny untrained ZF on 12 random images: (model, images, mean, top-k projections of ``channels``)."""
    torch.manual_seed(0)
    m = zfnet(10, width=0.125, input_size=64, init="kaiming").eval()
    images = torch.randint(0, 255, (12, 3, 73, 73), dtype=torch.uint8)
    mean = images.float().mean(0)
    t = top_activations(m, images, mean, 64, [layer], k=k, progress=False)
    return m, images, mean, project_top(m, images, mean, 64, t[t.channel.isin(channels)])


@pytest.fixture(scope="module")
def tiny():
    return _tiny_top("conv2", 4, [0, 1, 2, 3])


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


def test_each_sheet_of_a_multi_sheet_cell_gets_its_own_captioned_figure(tmp_path):
    import nbformat

    from zfviz.book import execute as book
    from zfviz.evidence.report import SHEET_KEY

    png = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}
    cell = nbformat.v4.new_code_cell("for layer in layers: show_sheet(fig, layer)", metadata={
        "tags": ["hide-input"], "mystnb": {"figure": {"caption": "Layer {sheet}: the top nine."}}})
    cell.outputs = [nbformat.v4.new_output("display_data", data=png, metadata={SHEET_KEY: layer})
                    for layer in ("conv1", "conv2", "conv5")]
    cell.outputs.insert(1, nbformat.v4.new_output("stream", name="stdout", text="a note on conv1\n"))
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# t"), cell]), path)
    assert book.split_sheets(path) == 2
    cells = nbformat.read(path, as_version=4).cells[1:]
    assert [c.metadata["mystnb"]["figure"]["caption"] for c in cells] == [
        f"Layer {layer}: the top nine." for layer in ("conv1", "conv2", "conv5")]
    assert cells[0].source and [len(c.outputs) for c in cells] == [2, 1, 1]  # the note stays with its sheet
    assert all(c.source.startswith("# conv") and "remove-input" in c.metadata["tags"] for c in cells[1:])
    assert book.split_sheets(path) == 0  # once split, nothing more to do


@pytest.mark.parametrize("name", book.chapters())
def test_a_sheet_caption_template_goes_with_show_sheet(name):
    for cell in jupytext.read(book.NOTEBOOKS / f"{name}.py").cells:
        caption = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption", "")
        assert ("{sheet}" in caption) == ("show_sheet(" in cell.source), (name, caption[:60])


def test_no_figure_title_is_printed_over_a_label(tiny):
    """A sheet's title sits above its panels' own titles and labels, never on them (the reader review saw Fig. 2's
    layer title over its first maps' labels)."""
    for name, fig in _figures(tiny):
        title = fig._suptitle
        if title is None or not title.get_text():
            plt.close(fig)
            continue
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        box = title.get_window_extent(renderer)
        texts = [t for ax in fig.axes for t in (ax.title, ax._left_title, ax._right_title, ax.xaxis.label,
                                                 ax.yaxis.label) if t.get_text() and t.get_visible()]
        hit = [t.get_text() for t in texts if box.overlaps(t.get_window_extent(renderer))]
        plt.close(fig)
        assert not hit, f"{name}: its title overlaps {hit[:3]}"


def test_a_fig2_sheets_title_clears_its_first_maps_labels():
    """Fig. 2's layer title over the labels of its first two maps at k = 9 (overlapping before 2026-12-07)."""
    _, _, mean, tp = _tiny_top("conv1", 9, list(range(8)))
    fig = plots.topk_figure(tp, mean, "conv1", list(range(8)), k=9, title="conv1: top-9 projections beside patches")
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    box = fig._suptitle.get_window_extent(r)
    labels = [ax._left_title for ax in fig.axes if ax._left_title.get_text()]
    assert labels and not [t.get_text() for t in labels if box.overlaps(t.get_window_extent(r))]
    plt.close(fig)
