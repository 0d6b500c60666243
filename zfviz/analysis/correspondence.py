"""Correspondence analysis (Sec. 4.3, Fig. 8, Table 1): occlude the same object part in several images and measure
how consistently the feature vectors change.

For image i and layer l, eps_i = x_i - x~_i (features of the original minus those of the occluded image). For every
unordered pair i < j, the Hamming distance between sign(eps_i) and sign(eps_j) is divided by the feature dimension D,
giving the fraction of features whose change has a different sign (0 = identical change). The paper's
Delta_l = sum over i != j of H(sign eps_i, sign eps_j); we report its normalized form, mean +- std over the
n(n-1)/2 pairs: Delta_l / (n (n - 1) D) is exactly that mean. Lower = more consistent = implicit correspondence.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from zfviz.data import annotations
from zfviz.evidence import claims
from zfviz.evidence.stats import hierarchical_mean, sign_flip_pvalue
from zfviz.model.layers import layer_name
from zfviz.model.models import eval_mode, readouts, to_model_device


def mask_square(image: torch.Tensor, center: tuple[int, int], size: int, fill: float = 0.0) -> torch.Tensor:
    """A copy of a mean-subtracted (3, H, W) image with a ``size`` square around ``center`` (y, x) set to ``fill``."""
    h, w = image.shape[-2:]
    y, x = (int(round(v)) for v in center)
    if not (0 <= y < h and 0 <= x < w):
        raise ValueError(f"mask centre ({y}, {x}) lies outside the {h}x{w} image")
    out = image.clone()
    out[:, max(0, y - size // 2):y - size // 2 + size, max(0, x - size // 2):x - size // 2 + size] = fill
    return out


def sign_change_consistency(eps: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """Mean and std over pairs of the normalized Hamming distance between sign(eps_i) and sign(eps_j); eps (n, D)."""
    s = torch.sign(eps.flatten(1))
    d = torch.tensor([float((s[i] != s[j]).float().mean()) for i, j in itertools.combinations(range(len(s)), 2)])
    return float(d.mean()), float(d.std()) if len(d) > 1 else 0.0, d


@torch.no_grad()
def correspondence(model: nn.Module, images: torch.Tensor, masks: dict[str, list[tuple[int, int]]], size: int,
                   layers: tuple[str, ...] = ("conv5", "fc7")) -> pd.DataFrame:
    """Table 1, tidy: for each mask (one centre per image), layer and pair i < j, the normalized Hamming distance.

    ``images``: mean-subtracted (n, 3, H, W); ``masks[name][i]`` is the (y, x) centre for image i. Returns columns
    location, layer, i, j, distance; ``summarize`` turns it into Table 1's mean +- std.
    """
    layers = tuple(layer_name(model, layer) for layer in layers)  # modules or dotted names
    rows = []
    images = to_model_device(model, images)
    with eval_mode(model):
        base = readouts(model, images, list(layers))
        for name, centres in masks.items():
            if len(centres) != len(images):
                raise ValueError(f"mask {name!r} has {len(centres)} centres for {len(images)} images")
            occluded = torch.stack([mask_square(images[i], c, size) for i, c in enumerate(centres)])
            occ = readouts(model, occluded, list(layers))
            pairs = list(itertools.combinations(range(len(images)), 2))
            for layer in layers:
                _, _, d = sign_change_consistency(base[layer] - occ[layer])
                rows += [{"location": name, "layer": layer, "i": i, "j": j, "distance": float(v)}
                         for (i, j), v in zip(pairs, d)]
    return pd.DataFrame(rows)


def summarize(pairs: pd.DataFrame, group: dict[str, str] | None = None) -> pd.DataFrame:
    """Mean +- std of the pair distances per (location, layer); ``group`` renames locations (e.g. random draws)."""
    df = pairs.assign(location=pairs.location.map(lambda n: (group or {}).get(n, n)))
    return df.groupby(["location", "layer"], sort=False).distance.agg(["mean", "std", "count"]).reset_index()


def random_centres(n: int, image_size: int, size: int, generator: torch.Generator) -> list[tuple[int, int]]:
    """One random mask centre per image, with the whole square inside the image (the paper's random-location row)."""
    lo, hi = size // 2, image_size - (size - size // 2)
    ys = torch.randint(lo, hi + 1, (n,), generator=generator)
    xs = torch.randint(lo, hi + 1, (n,), generator=generator)
    return list(zip(ys.tolist(), xs.tolist()))


PARTS = ("right_eye", "left_eye", "nose")
BOX = ("face_y0", "face_x0", "face_y1", "face_x1")
_COLUMNS = [f"{p}_{a}" for p in PARTS for a in ("y", "x")] + list(BOX)  # the annotated coordinates


def dog_landmarks(resize: int, crop: int, sizes: list[tuple[int, int]] | None = None,
                  keep: list[bool] | None = None) -> pd.DataFrame:
    """The annotated dog faces (the rows where ``keep``), each landmark and face box mapped into a profile's crop
    (``annotations.to_crop``; ``sizes``: each kept photo's (height, width) as the caller has it, default square).
    Columns: dataset, file (relative to that dataset's root), <part>_y, <part>_x for each part, and the face box.
    """
    df = annotations.read("dog_landmarks")
    if keep is not None:
        df = df[list(keep)]
    return annotations.to_crop(df, _COLUMNS, resize, crop, sizes)[["dataset", "file"] + _COLUMNS]


def dog_faces(resize: int, crop: int, roots: dict[str, str | Path]) -> tuple[torch.Tensor, pd.DataFrame]:
    """The annotated dogs whose files exist under ``roots`` ({dataset name in the annotation: its folder}): uint8
    images (n, 3, S, S) at ``resize`` and their landmarks and face boxes in the ``crop`` (``dog_landmarks``)."""
    images, df = annotations.load_annotated("dog_landmarks", _COLUMNS, resize, crop, roots)
    return images, df[["dataset", "file"] + _COLUMNS]


def centres_in_boxes(boxes: torch.Tensor, image_size: int, size: int, generator: torch.Generator
                     ) -> list[tuple[int, int]]:
    """One random mask centre per image inside its (y0, x0, y1, x1) box, kept so the whole square lies in the image
    (the paper's control: "random parts of the object")."""
    lo, hi = size // 2, image_size - (size - size // 2)
    out = []
    for y0, x0, y1, x1 in boxes.tolist():
        u = torch.rand(2, generator=generator).tolist()
        y = min(max(round(y0 + u[0] * (y1 - y0)), lo), hi)
        x = min(max(round(x0 + u[1] * (x1 - x0)), lo), hi)
        out.append((y, x))
    return out


def part_consistency(pairs: pd.DataFrame, layer: str, random_prefix: str = "random") -> np.ndarray:
    """Per dog: the mean over the pairs it belongs to of (random-part distance minus landmark distance) at ``layer``,
    the random draws and the landmarks each averaged first. Positive: landmarks change the layer more consistently.
    With a ``seed`` column, returns (seeds, dogs); else (1, dogs)."""
    df = pairs[pairs.layer == layer].copy()
    if "seed" not in df:
        df["seed"] = 0
    df["kind"] = np.where(df.location.str.startswith(random_prefix), "random", "landmark")
    per_pair = df.groupby(["seed", "i", "j", "kind"]).distance.mean().unstack("kind")
    gap = (per_pair.random - per_pair.landmark).reset_index(name="gap")
    both = pd.concat([gap.rename(columns={"i": "dog"}), gap.rename(columns={"j": "dog"})])
    return both.groupby(["seed", "dog"]).gap.mean().unstack("dog").sort_index().to_numpy()


def c8_evidence(pairs: pd.DataFrame, control: pd.DataFrame, layers: list[str], profile: str,
                chapter: str = "07_fig8_correspondence") -> tuple[pd.DataFrame, "claims.Evidence"]:
    """Table 1's gaps (random parts minus landmarks) per network and layer, with CIs over seeds and dogs and a
    sign-flip p-value, for the trained models (``pairs``) and an untrained control; and C8's evidence (conv5)."""
    rows = []
    for net, p in (("trained", pairs), ("untrained (same architecture)", control)):
        for layer in layers:
            gap = part_consistency(p, layer)
            est, lo, hi, n = hierarchical_mean(gap)
            rows.append({"network": net, "layer": layer, "random minus landmarks": est, "ci_low": lo, "ci_high": hi,
                         "dogs": gap.shape[1], "seeds": n, "p (sign flip)": sign_flip_pvalue(gap.mean(0))})
    gaps = pd.DataFrame(rows)
    if "conv5" not in layers:  # a layer subset: its table is drawn, the claim (read at conv5) is not run
        return gaps, claims.not_run("C8", profile, f"layer conv5 not computed (C8 is read at conv5; the chapter "
                                    f"computed {', '.join(layers)})", chapter=chapter)
    c8 = gaps.set_index(["network", "layer"]).loc[("trained", "conv5")]
    untrained = gaps.set_index(["network", "layer"]).loc[("untrained (same architecture)", "conv5")]
    ev = claims.evidence("C8", c8["random minus landmarks"], (c8.ci_low, c8.ci_high), int(c8.dogs), profile,
                         seeds=int(c8.seeds), chapter=chapter,
                         note=f"The paper's gap at layer 5 is 0.107 - 0.072 = 0.035 (its mean over the three parts); "
                         f"an untrained network of the same architecture gives {untrained['random minus landmarks']:.4f}.")
    return gaps, ev
