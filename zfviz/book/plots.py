"""Figures in the paper's layout: projection grids beside image patches, filter banks, maps. Return matplotlib figures.

Every figure is made for the book's text width: at most ``PAGE_IN`` inches wide at ``DPI`` (so the page shows it at
its natural size), no text under ``MIN_PT`` points (``fit_to_page``, which every function here ends with;
``tests/test_figures.py`` checks each one with ``legibility``). Chapters draw no figure of their own.
"""

from __future__ import annotations

import math
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from zfviz.analysis.correspondence import mask_square
from zfviz.analysis.invariance import PAPER_SWEEPS, transform
from zfviz.analysis.occlusion import as_grid
from zfviz.analysis.topk import TopProjections, cut
from zfviz.core.profiles import at_crop
from zfviz.data.sets import crop_of

PAGE_IN = 7.4  # the book's text column at 1366 px (about 740 px) in inches at DPI
DPI = 100
MIN_PT = 8.0
BOOK_STYLE = {"figure.dpi": DPI, "savefig.dpi": DPI, "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9,
              "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 10,
              "legend.title_fontsize": 8, "axes.prop_cycle": matplotlib.cycler(color=list(plt.get_cmap("tab20").colors))}
matplotlib.rcParams.update(BOOK_STYLE)


def fit_to_page(fig: plt.Figure) -> plt.Figure:
    """Make ``fig`` legible at the book's text width: at most ``PAGE_IN`` wide (scaled down, aspect kept), every text
    at least ``MIN_PT``, the layout redone."""
    w, h = fig.get_size_inches()
    if w > PAGE_IN:
        fig.set_size_inches(PAGE_IN, h * PAGE_IN / w)
    fig.canvas.draw()
    for t in fig.findobj(matplotlib.text.Text):
        if t.get_text() and t.get_fontsize() < MIN_PT:
            t.set_fontsize(MIN_PT)
    if fig.get_layout_engine() is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tight_layout warns on axes it cannot fit; the figure stays usable
            fig.tight_layout(pad=0.4)
    return fig


def legibility(fig: plt.Figure, page_in: float = PAGE_IN) -> float:
    """The smallest text size (points) of ``fig`` as shown at a text column ``page_in`` inches wide (a wider figure
    is scaled down to fit, and its text with it)."""
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text() and t.get_visible()]
    return min(sizes, default=math.inf) * min(1.0, page_in / fig.get_size_inches()[0])


def show_projection(x: torch.Tensor, quantile: float = 0.995) -> np.ndarray:
    """A projection (3, h, w) as an RGB array: zero is grey; contrast enhanced as in the paper, by scaling the
    ``quantile`` of |x| to full range and clipping the few pixels above it."""
    m = torch.quantile(x.detach().abs().flatten().float(), quantile).clamp_min(1e-12)
    return (x / (2 * m) + 0.5).clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def show_image(x: torch.Tensor, mean: torch.Tensor | None = None) -> np.ndarray:
    """A mean-subtracted (3, h, w) input crop (or its patch) back as an RGB array in [0, 1]."""
    if mean is not None:
        x = x + mean
    return (x / 255).clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def resized_patch(x: torch.Tensor, box: torch.Tensor, size: int) -> torch.Tensor:
    """The part of an image or projection inside a receptive-field box, resized to ``size`` x ``size``."""
    return F.interpolate(cut(x, box)[None].float(), size=(size, size), mode="bilinear", align_corners=False)[0]


def topk_figure(tp: TopProjections, mean: torch.Tensor, layer: str, channels: list[int], k: int = 9,
                cols: int = 2, cell: float | None = None, title: str | None = None) -> plt.Figure:
    """Fig. 2 style: for each channel, k projections (cut to their receptive fields) beside the k image patches."""
    rows_t = tp.table.reset_index(drop=True)
    sel = rows_t[(rows_t.layer == layer) & rows_t.channel.isin(channels) & (rows_t["rank"] < k)]
    side = int(math.ceil(math.sqrt(k)))
    boxes = tp.projection.boxes[torch.tensor(sel.index.to_numpy())]
    size = int((boxes[:, 2:] - boxes[:, :2]).max())
    crop = tp.inputs.shape[-1]
    mean_c = crop_of(mean, crop)
    n = len(channels)
    grid_rows = int(math.ceil(n / cols))
    cell = cell or (PAGE_IN - cols * 0.3) / (cols * (2 * side + 0.25))
    head = 0.4 + (0.3 if title else 0.0)  # inches above the grid: the first maps' labels, and the title above them
    fig = plt.figure(figsize=(cols * (2 * side + 0.25) * cell + cols * 0.3, grid_rows * (side * cell + 0.3) + head))
    outer = fig.add_gridspec(grid_rows, cols, wspace=0.08, hspace=0.25, left=0.01, right=0.99, bottom=0.01,
                             top=1 - head / fig.get_size_inches()[1])
    for ci, ch in enumerate(channels):
        inner = outer[ci // cols, ci % cols].subgridspec(side, 2 * side + 1, wspace=0.03, hspace=0.03,
                                                         width_ratios=[1] * side + [0.25] + [1] * side)
        part = sel[sel.channel == ch].sort_values("rank")
        for r, idx in enumerate(part.index):
            box = tp.projection.boxes[idx]
            ax = fig.add_subplot(inner[r // side, r % side])
            ax.imshow(show_projection(resized_patch(tp.projection.pixels[idx], box, size)))
            ax.set_axis_off()
            ax = fig.add_subplot(inner[r // side, side + 1 + r % side])
            ax.imshow(show_image(resized_patch(tp.inputs[idx] + mean_c.to(tp.inputs.device), box, size)))
            ax.set_axis_off()
            if r == 0:
                ax.set_title(f"{layer} map {ch}: projections | patches", fontsize=MIN_PT, loc="left",
                             x=-1.25 * side)
    if title:
        fig.suptitle(title, fontsize=10, y=1 - 0.08 / fig.get_size_inches()[1], va="top")
    fig.set_layout_engine("none")  # the grid above is laid out by hand
    return _fit(fig)


def filter_bank(weight: torch.Tensor, cols: int = 16, title: str | None = None,
                common_scale: bool = False) -> plt.Figure:
    """Layer-1 filters (C, 3, k, k) as RGB tiles (Fig. 6): each scaled to its own range, or with ``common_scale``
    all on one symmetric scale around grey, so a dominant filter stands out and a weak one fades."""
    n = weight.shape[0]
    bound = weight.detach().float().abs().max().clamp_min(1e-12)
    rows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.45, rows * 0.45 + 0.3))
    for i, ax in enumerate(np.atleast_1d(axes).flat):
        ax.set_axis_off()
        if i < n:
            w = weight[i].detach().float()
            tile = (w / bound + 1) / 2 if common_scale else (w - w.min()) / (w.max() - w.min()).clamp_min(1e-12)
            ax.imshow(tile.permute(1, 2, 0).cpu().numpy(), interpolation="nearest")
    if title:
        fig.suptitle(title, fontsize=9)
    return fit_to_page(fig)


def evolution_figure(by_epoch: dict[int, TopProjections], layer: str, channels: list[int], cell: float = 0.9,
                     title: str | None = None) -> plt.Figure:
    """Fig. 4 style: for each channel (rows), the projection of its strongest activation at every epoch (columns)."""
    epochs = sorted(by_epoch)
    fig, axes = plt.subplots(len(channels), len(epochs), figsize=(len(epochs) * cell + 0.8, len(channels) * cell + 0.9),
                             squeeze=False, layout="constrained")
    for j, e in enumerate(epochs):
        tp = by_epoch[e]
        t = tp.table.reset_index(drop=True)
        for i, ch in enumerate(channels):
            idx = t.index[(t.layer == layer) & (t.channel == ch) & (t["rank"] == 0)][0]
            box = tp.projection.boxes[idx]
            size = int((box[2:] - box[:2]).max())
            axes[i, j].imshow(show_projection(resized_patch(tp.projection.pixels[idx], box, size)))
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if i == 0:
                axes[i, j].set_title(f"epoch {e}", fontsize=MIN_PT)
            if j == 0:
                axes[i, j].set_ylabel(f"map {ch}", fontsize=MIN_PT)
    if title:
        fig.suptitle(title, fontsize=9)  # constrained layout keeps it above the epoch titles
    return fit_to_page(fig)


def invariance_figure(df: pd.DataFrame, images: torch.Tensor, layers: list[str], names: list[str],
                      crop: int) -> plt.Figure:
    """Fig. 5's layout: per transformation (rows), three example inputs, the two layers' distances and P(true) against
    the amount, one line per image. ``df`` holds ``invariance`` rows of the images in ``images`` (same order)."""
    kinds = [("translate", "vertical shift (px at 224)"), ("scale", "scale factor"), ("rotate", "rotation (degrees)")]
    if df.empty:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no image to show: no model classified one correctly", ha="center", va="center")
        return fig
    fig, axes = plt.subplots(3, 4, figsize=(PAGE_IN, 6.6))
    first = int(df.image.min())
    for r, (kind, xlabel) in enumerate(kinds):
        amounts = PAPER_SWEEPS[kind]
        shown = (amounts[0], amounts[len(amounts) // 2], amounts[-1])
        ex = [transform(images[0], kind, at_crop(a, crop) if kind == "translate" else a) for a in shown]
        axes[r, 0].imshow(np.concatenate([crop_of(e, crop).permute(1, 2, 0).numpy() for e in ex], 1))
        axes[r, 0].set_axis_off()
        axes[r, 0].set_title(f"{kind}: " + ", ".join(f"{a:g}" for a in shown), fontsize=MIN_PT)
        cols = [(f"dist_{layers[0]}", f"{layers[0]} distance"), (f"dist_{layers[1]}", f"{layers[1]} distance"),
                ("prob_true", "P(true label)")]
        for c, (col, ylab) in enumerate(cols):
            ax = axes[r, c + 1]
            for k, (img, part) in enumerate(df[df.transformation == kind].groupby("image")):
                ax.plot(part.amount, part[col], marker=".", label=names[k] if k < len(names) else str(img - first))
            ax.set(xlabel=xlabel, ylabel=ylab)
            if r == 0:
                ax.set_title({0: f"layer {layers[0]}", 1: f"layer {layers[1]}", 2: "output"}[c], fontsize=9)
    fig.legend(*axes[0, 3].get_legend_handles_labels(), loc="lower center", ncol=5, fontsize=MIN_PT,
               bbox_to_anchor=(0.5, -0.04))
    fig.tight_layout()
    return fit_to_page(fig)


def masks_figure(x: torch.Tensor, mean: torch.Tensor, masks: dict[str, list[tuple[int, int]]], size: int,
                 shown: list[str]) -> plt.Figure:
    """Fig. 8's layout: each mean-subtracted image (rows) unmasked and with each of the ``shown`` masks."""
    mean_img = crop_of(mean.cpu(), x.shape[-1])
    cell = min(1.6, PAGE_IN / (len(shown) + 1))
    fig, axes = plt.subplots(len(x), len(shown) + 1, figsize=(cell * (len(shown) + 1), cell * len(x)), squeeze=False)
    for i in range(len(x)):
        axes[i, 0].imshow(show_image(x[i].cpu(), mean_img))
        for c, name in enumerate(shown):
            axes[i, c + 1].imshow(show_image(mask_square(x[i].cpu(), masks[name][i], size), mean_img))
            axes[0, c + 1].set_title(name.replace("_", " "), fontsize=8)
    for ax in axes.flat:
        ax.set_axis_off()
    axes[0, 0].set_title("original", fontsize=8)
    fig.tight_layout()
    return fit_to_page(fig)


def occlusion_panels(image: np.ndarray, occ: pd.DataFrame, own_projection: torch.Tensor,
                     other_projections: list[torch.Tensor], class_names: list[str], true_label: int,
                     size: int) -> plt.Figure:
    """Fig. 7 panels: (a) image with one occluder, (b) total activity of the strongest layer-5 map, (c) that map
    projected on this image and on other images, (d) P(correct class), (e) most probable label, per position."""
    fig = plt.figure(figsize=(PAGE_IN, 5.4))
    grid = fig.add_gridspec(2, 6)
    axes = np.array([fig.add_subplot(grid[0, 0:2]), fig.add_subplot(grid[0, 2:4]), fig.add_subplot(grid[0, 4:6]),
                     fig.add_subplot(grid[1, 0:2]), fig.add_subplot(grid[1, 2:4])])
    a = image.copy()
    y, x = int(occ.y.iloc[len(occ) // 2]), int(occ.x.iloc[len(occ) // 2])
    a[y:y + size, x:x + size] = 0.5
    axes[0].imshow(a)
    axes[0].set_title(f"(a) {class_names[true_label]}", fontsize=9)
    # each value belongs at its occluder's centre: cell edges half a stride either side of the centres
    cy, cx = sorted(occ.y.unique() + size / 2), sorted(occ.x.unique() + size / 2)
    sy = cy[1] - cy[0] if len(cy) > 1 else size
    sx = cx[1] - cx[0] if len(cx) > 1 else size
    extent = (cx[0] - sx / 2, cx[-1] + sx / 2, cy[-1] + sy / 2, cy[0] - sy / 2)
    im = axes[1].imshow(as_grid(occ, "map_activity").numpy(), cmap="viridis", extent=extent)
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    axes[1].set_title(f"(b) total activity, conv5 map {occ.attrs['channel']}", fontsize=9)
    tiles = [show_projection(own_projection)] + [show_projection(p) for p in other_projections]
    axes[2].imshow(np.concatenate([np.concatenate(tiles[:2], 1), np.concatenate((tiles[2:4] + tiles[:1])[:2], 1)], 0)
                   if len(tiles) >= 4 else np.concatenate(tiles, 1))
    axes[2].set_title("(c) map projected: this image (top left), others", fontsize=9)
    im = axes[3].imshow(as_grid(occ, "prob_true").numpy(), cmap="magma", vmin=0, vmax=1, extent=extent)
    fig.colorbar(im, ax=axes[3], fraction=0.046)
    axes[3].set_title("(d) P(correct class)", fontsize=9)
    pred = as_grid(occ, "pred").numpy().astype(int)
    labels = sorted(set(pred.flatten().tolist()))
    cmap = plt.get_cmap("tab10", len(class_names))
    axes[4].imshow(pred, cmap=cmap, vmin=-0.5, vmax=len(class_names) - 0.5, extent=extent, interpolation="nearest")
    for ax in axes[[1, 3, 4]]:
        ax.set_xlim(0, image.shape[1])
        ax.set_ylim(image.shape[0], 0)
    handles = [plt.Rectangle((0, 0), 1, 1, color=cmap(c)) for c in labels]
    # the key gets the grid's sixth cell: beside (e), long class names left tight_layout no room (a warning on stderr)
    key = fig.add_subplot(grid[1, 4:6])
    key.set_axis_off()
    key.legend(handles, [class_names[c] for c in labels], fontsize=MIN_PT, loc="center left", frameon=False,
               title="(e) labels", title_fontsize=MIN_PT)
    axes[4].set_title("(e) most probable label", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fit_to_page(fig)


def randomization_figure(summaries: dict[str, pd.DataFrame], title: str | None = None) -> plt.Figure:
    """Adebayo et al.'s Fig. 2 layout: similarity to the trained model's map (mean and 95% CI over images) as the
    layers are randomized from the top down; one panel per similarity metric, one line per method."""
    fig, axes = plt.subplots(len(summaries), 1, figsize=(PAGE_IN, 3.4 * len(summaries)), squeeze=False)
    for ax, (metric, df) in zip(axes[:, 0], summaries.items()):
        for method, part in df.groupby("method", sort=False):
            part = part.sort_values("randomized")
            ax.plot(part.randomized, part["mean"], marker="o", ms=3, label=method)
            ax.fill_between(part.randomized, part.ci_low, part.ci_high, alpha=0.2)
        stages = df.drop_duplicates("randomized").sort_values("randomized")
        ax.set_xticks(stages.randomized, stages.stage, rotation=30, fontsize=MIN_PT)
        ax.axhline(0, color="gray", lw=0.6)
        ax.set(xlabel="randomized down to (cumulative, from the top)", ylabel=f"{metric} to the trained map",
               ylim=(-0.3, 1.05))
        ax.legend(fontsize=MIN_PT, ncol=2)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fit_to_page(fig)


def maps_grid(images: torch.Tensor, mean: torch.Tensor, maps: dict[str, dict[str, torch.Tensor]],
              method: str) -> plt.Figure:
    """For a few images (rows): the image, then one method's map at each stage of randomization (columns)."""
    titles = ["image"] + [stage if stage == "trained" else f"random down to {stage}" for stage in maps]
    return panel_grid([[(show_image(images[i].cpu(), mean.cpu()), titles[0] if i == 0 else "")]
                       + [(maps[stage][method][i].numpy(), titles[j + 1] if i == 0 else "")
                          for j, stage in enumerate(maps)] for i in range(len(images))],
                      title=f"{method}: the trained model's strongest conv5 unit, as the weights are randomized")


def panel_grid(panels: list[list[tuple[np.ndarray | None, str]]], cell: float = 1.9, title: str | None = None,
               fontsize: int = 8) -> plt.Figure:
    """Rows of titled panels: an (H, W, 3) array is shown as an image, an (H, W) one as a heat map, None left blank."""
    rows, cols = len(panels), max(len(r) for r in panels)
    cell = min(cell, PAGE_IN / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols, cell * rows + (0.3 if title else 0)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, row in enumerate(panels):
        for j, (img, name) in enumerate(row):
            if img is not None:
                axes[i, j].imshow(img, cmap="magma" if img.ndim == 2 else None)
                axes[i, j].set_title(name, fontsize=max(fontsize, MIN_PT))
    if title:
        fig.suptitle(title, fontsize=max(fontsize, MIN_PT) + 1)
    fig.tight_layout()
    return fit_to_page(fig)


def feature_maps_figure(image: np.ndarray, image_title: str, maps: dict[str, torch.Tensor],
                        cols: int = 8) -> plt.Figure:
    """An input beside every feature map of a few layers (one block of ``cols`` columns per layer)."""
    fig = plt.figure(figsize=(PAGE_IN, 1.6 + 1.6 * len(maps)))
    grid = fig.add_gridspec(len(maps) + 1, 1, height_ratios=[1] + [1.3] * len(maps), hspace=0.35)
    ax = fig.add_subplot(grid[0])
    ax.imshow(image, cmap="gray")
    ax.set_title(image_title, fontsize=9)
    ax.set_axis_off()
    for k, (name, m) in enumerate(maps.items()):
        g = grid[k + 1]
        m = m.detach().cpu()
        inner = g.subgridspec(math.ceil(len(m) / (2 * cols)), 2 * cols, wspace=0.05, hspace=0.05)
        for i, fm in enumerate(m):
            a = fig.add_subplot(inner[i // (2 * cols), i % (2 * cols)])
            a.imshow(fm, cmap="viridis")
            a.set_axis_off()
            if i == 0:
                a.set_title(f"{name}: {len(m)} maps, {m.shape[-1]}x{m.shape[-1]}", fontsize=9, loc="left")
    fig.set_layout_engine("none")
    return _fit(fig)


def curves_by_layer(curves: dict[str, tuple[pd.Series, pd.Series | None]], layers: list[str],
                    reference: dict[str, pd.Series] | None = None, chance: float | None = None,
                    ylabel: str = "test accuracy %", title: str | None = None) -> plt.Figure:
    """Accuracy by layer: one line per named (mean, std or None) series indexed by layer, dashed reference lines
    (e.g. the paper's), and chance."""
    fig, ax = plt.subplots(figsize=(7, 4))
    x = range(len(layers))
    for label, (m, e) in curves.items():
        ax.errorbar(x, m.reindex(layers), yerr=None if e is None else e.reindex(layers), marker="o", capsize=3,
                    label=label)
    for (label, ref), ls in zip((reference or {}).items(), ("--", ":", "-.")):
        ax.plot(x, ref.reindex(layers), ls, color="gray", label=label)
    if chance is not None:
        ax.axhline(chance, color="gray", lw=0.8, ls="-.", label="chance")
    ax.set_xticks(list(x), layers)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.legend(fontsize=MIN_PT)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fit_to_page(fig)


def autocorrelation_histogram(filters: pd.DataFrame, models: tuple[str, ...] = ("AlexNet", "ZF"),
                              threshold: float = 0.25, title: str = ""):
    """Histogram of conv1 filters' spatial autocorrelation (``filters.conv1_filters``) per model, each model's untrained
    bank dashed, with the structureless threshold (C6a)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for m, color in zip(models, ("tab:orange", "tab:blue", "tab:green")):
        ax.hist(filters[filters.model == m].autocorrelation, bins=30, range=(0, 1), alpha=0.5, color=color, label=m)
        ax.hist(filters[filters.model == f"{m}, untrained"].autocorrelation, bins=30, range=(0, 1), histtype="step",
                color=color, ls="--", label=f"{m}, untrained")
    ax.axvline(threshold, color="k", lw=0.8, ls=":", label="structureless below")
    ax.set(xlabel="largest lag-1 spatial autocorrelation of a conv1 filter", ylabel="filters (all seeds)", title=title)
    ax.legend(fontsize=9)
    return fit_to_page(fig)


def on_off_scatter(df: pd.DataFrame, title: str = "One point per image and model (all positions)"):
    """C7's data at a glance: each image's mean drop of P(correct) with the occluder off the object (x) and on it
    (y), from ``occlusion.object_occlusion`` rows."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.scatter(df.drop_off, df.drop_on, s=8, alpha=0.5)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="mean drop of P(correct), occluder off the object", ylabel="... on the object", title=title)
    return fit_to_page(fig)


def _fit(fig: plt.Figure) -> plt.Figure:
    """``fit_to_page`` for a figure laid out by hand (no automatic layout to redo)."""
    w, h = fig.get_size_inches()
    if w > PAGE_IN:
        fig.set_size_inches(PAGE_IN, h * PAGE_IN / w)
    for t in fig.findobj(matplotlib.text.Text):
        if t.get_text() and t.get_fontsize() < MIN_PT:
            t.set_fontsize(MIN_PT)
    return fig


def learning_curves(curves: pd.DataFrame, highlight: str) -> plt.Figure:
    """Chapter 01: validation (centre crop per epoch; dot: the final 10-crop), training top-1 and the lr, per run."""
    fig, axes = plt.subplots(3, 1, figsize=(PAGE_IN, 8.4), sharex=True)
    blues, greys = plt.get_cmap("Blues"), plt.get_cmap("Oranges")
    for k, ((m, s), c) in enumerate(curves.groupby(["model", "seed"])):
        color = (blues if m == highlight else greys)(0.45 + 0.18 * (int(s) % 3))
        axes[0].plot(c.epoch, c.val_top1, color=color, label=f"{m} seed {s}")
        axes[0].plot(c.epoch, c.val10_top1, "o", color=color, ms=4)
        axes[1].plot(c.epoch, c.train_top1, color=color)
        axes[2].semilogy(c.epoch, c.lr, color=color)
    axes[0].set(ylabel="val top-1 %", title="validation (line: centre crop; dot: 10-crop after the last epoch)",
                ylim=(0, 100))
    axes[1].set(ylabel="train top-1 %", title="training (augmented crops, dropout on)", ylim=(0, 100))
    axes[2].set(xlabel="epoch", ylabel="learning rate", title="lr: /10 after 60% and 85% of the budget")
    axes[0].legend(ncol=3)
    fig.tight_layout()
    return fit_to_page(fig)


def line_chart(table: pd.DataFrame, xlabel: str, ylabel: str, *, hline: float | None = None, ylim=None,
               title: str = "") -> plt.Figure:
    """One line per column of ``table`` against its index (e.g. top-9 overlap per layer against the epoch)."""
    fig, ax = plt.subplots(figsize=(PAGE_IN * 0.8, 3.4))
    for col in table.columns:
        ax.plot(table.index, table[col], marker="o", label=str(col))
    if hline is not None:
        ax.axhline(hline, color="grey", lw=0.8, ls="--")
    ax.set(xlabel=xlabel, ylabel=ylabel, ylim=ylim, title=title)
    ax.legend()
    fig.tight_layout()
    return fit_to_page(fig)


def seed_spread(errors_by_model: dict[str, np.ndarray], xlabel: str) -> plt.Figure:
    """One dot per seed and a mark at the mean, a row per model (chapter 08)."""
    fig, ax = plt.subplots(figsize=(PAGE_IN * 0.8, 0.6 + 0.5 * len(errors_by_model)))
    for i, (m, e) in enumerate(errors_by_model.items()):
        ax.plot(e, [i] * len(e), "o", alpha=0.7)
        ax.plot([np.mean(e)], [i], "|", color="k", ms=18)
    ax.set_yticks(range(len(errors_by_model)), list(errors_by_model))
    ax.set(xlabel=xlabel, title="Seed-to-seed spread")
    fig.tight_layout()
    return fit_to_page(fig)


def takeoff_curves(curves: pd.DataFrame, inits: list[str], threshold: float) -> plt.Figure:
    """Chapter 09: validation top-1 (seed mean) per epoch of every row, a panel per init that has runs, the take-off
    line."""
    inits = [i for i in inits if (curves.init == i).any()] or inits[:1]  # an init with no run trained has no panel
    fig, axes = plt.subplots(len(inits), 1, figsize=(PAGE_IN, 3.6 * len(inits)), sharex=True, squeeze=False)
    for ax, i in zip(axes[:, 0], inits):
        for m, c in curves[curves.init == i].groupby("model", sort=False):
            mean = c.groupby("epoch").val_top1.mean()
            ax.plot(mean.index, mean.to_numpy(), label=m, lw=1.2)
        ax.axhline(threshold, color="gray", ls=":", lw=0.8)
        ax.set(title=f"{i} init", ylabel="val top-1 % (centre, seed mean)")
    axes[-1, 0].set_xlabel("epoch")
    axes[0, 0].legend(ncol=3, fontsize=MIN_PT)
    fig.tight_layout()
    return fit_to_page(fig)


def transfer_chart(table: pd.DataFrame, chance: float, target: str) -> plt.Figure:
    """Chapter 10: accuracy against training images per class, pretrained and from scratch (sd as error bars)."""
    fig, ax = plt.subplots(figsize=(PAGE_IN * 0.9, 4))
    for name, color in (("pretrained", "tab:blue"), ("from scratch", "tab:orange")):
        ax.errorbar(table.index, table[name], yerr=table[f"{name} sd"], marker="o", color=color, capsize=3,
                    label=f"ours, {target}: {name}")
    ax.axhline(chance, color="gray", lw=0.8, ls=":", label=f"chance ({chance:.0f}%)")
    ax.set_xscale("log")
    ax.set_xticks(table.index, [str(k) for k in table.index])
    ax.set(xlabel="training images per class", ylabel="test accuracy %", ylim=(0, 100),
           title="Accuracy against training images per class (sd over splits and source models)")
    ax.legend()
    fig.tight_layout()
    return fit_to_page(fig)


def drop_scatter(df: pd.DataFrame, layer: str) -> plt.Figure:
    """Chapter 13: the projection's square's drop against each baseline's, one point per image and model."""
    fig, axes = plt.subplots(1, 3, figsize=(PAGE_IN, 2.9), sharey=True)
    for ax, (col, name) in zip(axes, (("drop_rf_centre", "receptive-field centre"), ("drop_gradient", "gradient"),
                                      ("drop_random", "random"))):
        ax.scatter(df[col], df.drop_projection, s=5, alpha=0.4)
        lim = [min(df[col].min(), df.drop_projection.min()), 1]
        ax.plot(lim, lim, "k--", lw=0.8)
        ax.set_xlabel(f"drop, {name}")
    axes[0].set_ylabel("drop, projection's square")
    fig.suptitle(f"Relative drop of the strongest {layer} map's activity (one point per image and model)")
    fig.tight_layout()
    return fit_to_page(fig)
