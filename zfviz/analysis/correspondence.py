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
from importlib import resources

import pandas as pd
import torch
from torch import nn

from ..models import eval_mode, readouts, to_model_device


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


def dog_landmarks(resize: int, crop: int, sizes: list[tuple[int, int]] | None = None,
                  only_default: bool = True) -> pd.DataFrame:
    """The annotated dog faces, with each landmark mapped into a profile's input crop.

    The annotation is in pixels of the 224x224 copies, which are plain resizes of the whole photo, so it is read as a
    fraction of the photo's height and width. ``sizes`` gives each photo's (height, width) as the caller has it
    (e.g. torchvision's 160 px release keeps the aspect ratio); default: square. The mapping then follows our
    preprocessing: shorter side to ``resize``, centre square, centre ``crop``.
    Columns: file (relative to the dataset root), and <part>_y, <part>_x for right_eye, left_eye, nose.
    """
    with resources.files("zfviz.resources").joinpath("dog_landmarks.csv").open() as f:
        df = pd.read_csv(f, comment="#")
    if only_default:
        df = df[df["default"] == 1].reset_index(drop=True)
    if sizes is None:
        sizes = [(1, 1)] * len(df)
    if len(sizes) != len(df):
        raise ValueError(f"sizes has {len(sizes)} entries for {len(df)} annotated images")
    h = pd.Series([float(hw[0]) for hw in sizes])
    w = pd.Series([float(hw[1]) for hw in sizes])
    scale = resize / pd.concat([h, w], axis=1).min(axis=1)  # shorter side -> resize
    for part in PARTS:
        for axis, extent in (("y", h), ("x", w)):
            frac = df[f"{part}_{axis}"] / df.source_size
            offset = (extent * scale - resize) / 2 + (resize - crop) / 2
            df[f"{part}_{axis}"] = (frac * extent * scale - offset).round().astype(int)
    return df[["file"] + [f"{p}_{a}" for p in PARTS for a in ("y", "x")]]
