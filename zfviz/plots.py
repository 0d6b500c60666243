"""Figures in the paper's layout: projection grids beside image patches, filter banks, maps. Return matplotlib figures."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .analysis.topk import TopProjections, cut
from .data import crop_of


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
                cols: int = 4, cell: float = 0.5, title: str | None = None) -> plt.Figure:
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
    fig = plt.figure(figsize=(cols * 2 * side * cell + cols * 0.3, grid_rows * side * cell + 0.4))
    outer = fig.add_gridspec(grid_rows, cols, wspace=0.08, hspace=0.12)
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
                ax.set_title(f"{layer} map {ch}", fontsize=7, loc="left", x=-1.25 * side)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


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
    return fig


def evolution_figure(by_epoch: dict[int, TopProjections], layer: str, channels: list[int], cell: float = 0.7,
                     title: str | None = None) -> plt.Figure:
    """Fig. 4 style: for each channel (rows), the projection of its strongest activation at every epoch (columns)."""
    epochs = sorted(by_epoch)
    fig, axes = plt.subplots(len(channels), len(epochs), figsize=(len(epochs) * cell + 0.6, len(channels) * cell + 0.5),
                             squeeze=False)
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
                axes[i, j].set_title(f"ep {e}", fontsize=7)
            if j == 0:
                axes[i, j].set_ylabel(f"map {ch}", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.2)
    return fig


def invariance_figure(df: pd.DataFrame, images: torch.Tensor, layers: list[str], names: list[str],
                      crop: int) -> plt.Figure:
    """Fig. 5's layout: per transformation (rows), three example inputs, the two layers' distances and P(true) against
    the amount, one line per image. ``df`` holds ``invariance`` rows of the images in ``images`` (same order)."""
    from .analysis.invariance import PAPER_SWEEPS, transform

    kinds = [("translate", "vertical shift (px at 224)"), ("scale", "scale factor"), ("rotate", "rotation (degrees)")]
    if df.empty:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no image to show: no model classified one correctly", ha="center", va="center")
        return fig
    fig, axes = plt.subplots(3, 4, figsize=(13, 8.5))
    first = int(df.image.min())
    for r, (kind, xlabel) in enumerate(kinds):
        amounts = PAPER_SWEEPS[kind]
        shown = (amounts[0], amounts[len(amounts) // 2], amounts[-1])
        ex = [transform(images[0], kind, a * (crop / 224 if kind == "translate" else 1)) for a in shown]
        axes[r, 0].imshow(np.concatenate([crop_of(e, crop).permute(1, 2, 0).numpy() for e in ex], 1))
        axes[r, 0].set_axis_off()
        axes[r, 0].set_title(f"{kind}: " + ", ".join(f"{a:g}" for a in shown), fontsize=9)
        cols = [(f"dist_{layers[0]}", f"{layers[0]} distance"), (f"dist_{layers[1]}", f"{layers[1]} distance"),
                ("prob_true", "P(true label)")]
        for c, (col, ylab) in enumerate(cols):
            ax = axes[r, c + 1]
            for k, (img, part) in enumerate(df[df.transformation == kind].groupby("image")):
                ax.plot(part.amount, part[col], marker=".", label=names[k] if k < len(names) else str(img - first))
            ax.set(xlabel=xlabel, ylabel=ylab)
    axes[0, 3].legend(fontsize=8)
    fig.tight_layout()
    return fig


def masks_figure(x: torch.Tensor, mean: torch.Tensor, masks: dict[str, list[tuple[int, int]]], size: int,
                 shown: list[str]) -> plt.Figure:
    """Fig. 8's layout: each mean-subtracted image (rows) unmasked and with each of the ``shown`` masks."""
    from .analysis.correspondence import mask_square

    mean_img = crop_of(mean.cpu(), x.shape[-1])
    fig, axes = plt.subplots(len(x), len(shown) + 1, figsize=(1.6 * (len(shown) + 1), 1.6 * len(x)), squeeze=False)
    for i in range(len(x)):
        axes[i, 0].imshow(show_image(x[i].cpu(), mean_img))
        for c, name in enumerate(shown):
            axes[i, c + 1].imshow(show_image(mask_square(x[i].cpu(), masks[name][i], size), mean_img))
            axes[0, c + 1].set_title(name.replace("_", " "), fontsize=8)
    for ax in axes.flat:
        ax.set_axis_off()
    axes[0, 0].set_title("original", fontsize=8)
    fig.tight_layout()
    return fig


def occlusion_panels(image: np.ndarray, occ: pd.DataFrame, own_projection: torch.Tensor,
                     other_projections: list[torch.Tensor], class_names: list[str], true_label: int,
                     size: int) -> plt.Figure:
    """Fig. 7 panels: (a) image with one occluder, (b) total activity of the strongest layer-5 map, (c) that map
    projected on this image and on other images, (d) P(correct class), (e) most probable label, per position."""
    from .analysis.occlusion import as_grid

    fig, axes = plt.subplots(1, 5, figsize=(17, 3.4), gridspec_kw=dict(width_ratios=[1, 1.15, 1, 1.15, 1.5]))
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
    axes[4].legend(handles, [class_names[c] for c in labels], fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    axes[4].set_title("(e) most probable label", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def randomization_figure(summaries: dict[str, pd.DataFrame], title: str | None = None) -> plt.Figure:
    """Adebayo et al.'s Fig. 2 layout: similarity to the trained model's map (mean and 95% CI over images) as the
    layers are randomized from the top down; one panel per similarity metric, one line per method."""
    fig, axes = plt.subplots(1, len(summaries), figsize=(5.6 * len(summaries), 3.8), squeeze=False)
    for ax, (metric, df) in zip(axes[0], summaries.items()):
        for method, part in df.groupby("method", sort=False):
            part = part.sort_values("randomized")
            ax.plot(part.randomized, part["mean"], marker="o", ms=3, label=method)
            ax.fill_between(part.randomized, part.ci_low, part.ci_high, alpha=0.2)
        stages = df.drop_duplicates("randomized").sort_values("randomized")
        ax.set_xticks(stages.randomized, stages.stage, rotation=45, fontsize=8)
        ax.axhline(0, color="gray", lw=0.6)
        ax.set(xlabel="randomized down to (cumulative, from the top)", ylabel=f"{metric} to the trained map",
               ylim=(-0.3, 1.05))
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


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
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols, cell * rows + (0.3 if title else 0)), squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i, row in enumerate(panels):
        for j, (img, name) in enumerate(row):
            if img is not None:
                axes[i, j].imshow(img, cmap="magma" if img.ndim == 2 else None)
                axes[i, j].set_title(name, fontsize=fontsize)
    if title:
        fig.suptitle(title, fontsize=fontsize + 2)
    fig.tight_layout()
    return fig


def feature_maps_figure(image: np.ndarray, image_title: str, maps: dict[str, torch.Tensor],
                        cols: int = 8) -> plt.Figure:
    """An input beside every feature map of a few layers (one block of ``cols`` columns per layer)."""
    fig = plt.figure(figsize=(12, 5.2))
    grid = fig.add_gridspec(1, len(maps) + 1, width_ratios=[1] + [4] * len(maps), wspace=0.1)
    ax = fig.add_subplot(grid[0])
    ax.imshow(image, cmap="gray")
    ax.set_title(image_title, fontsize=9)
    ax.set_axis_off()
    for k, (name, m) in enumerate(maps.items()):
        g = grid[k + 1]
        m = m.detach().cpu()
        inner = g.subgridspec(math.ceil(len(m) / cols), cols, wspace=0.05, hspace=0.05)
        for i, fm in enumerate(m):
            a = fig.add_subplot(inner[i // cols, i % cols])
            a.imshow(fm, cmap="viridis")
            a.set_axis_off()
            if i == 0:
                a.set_title(f"{name}: {len(m)} maps, {m.shape[-1]}x{m.shape[-1]}", fontsize=9, loc="left")
    return fig


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
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


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
    return fig


def on_off_scatter(df: pd.DataFrame, title: str = "One point per image and model (all positions)"):
    """C7's data at a glance: each image's mean drop of P(correct) with the occluder off the object (x) and on it
    (y), from ``occlusion.object_occlusion`` rows."""
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.scatter(df.drop_off, df.drop_on, s=8, alpha=0.5)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="mean drop of P(correct), occluder off the object", ylabel="... on the object", title=title)
    return fig
