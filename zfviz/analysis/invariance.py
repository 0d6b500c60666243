"""Invariance (Fig. 5): vertical translation, scale and rotation sweeps; Euclidean feature distance to the
untransformed image at two layers, and the true-label probability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

from zfviz.core.profiles import PAPER_CROP
from zfviz.evidence import claims
from zfviz.evidence.stats import group_difference, hierarchical_mean
from zfviz.model.models import eval_mode, model_device, readouts

TRANSFORMS = ("translate", "scale", "rotate")
# The paper's sweeps (Fig. 5): vertical shifts of -60..60 px at 224 px crops, scale 1..1.8, rotation 0..350 degrees.
PAPER_SWEEPS = {"translate": [float(v) for v in range(-60, 61, 10)],
                "scale": [1.0 + 0.1 * i for i in range(9)],
                "rotate": [float(v) for v in range(0, 360, 10)]}


def transform(image: torch.Tensor, kind: str, amount: float) -> torch.Tensor:
    """Apply one transformation to a uint8 (3, S, S) image; ``translate`` shifts down by ``amount`` pixels.

    Uncovered pixels are filled with the image's mean colour, so they carry no new structure after mean subtraction.
    """
    if kind not in TRANSFORMS:
        raise ValueError(f"unknown transform {kind!r}; valid: {', '.join(TRANSFORMS)}")
    fill = [float(v) for v in image.float().mean((1, 2))]
    if kind == "translate":
        return TF.affine(image, angle=0.0, translate=[0, int(round(amount))], scale=1.0, shear=[0.0, 0.0], fill=fill)
    if kind == "scale":
        if amount <= 0:
            raise ValueError(f"scale must be positive, got {amount}")
        return TF.affine(image, angle=0.0, translate=[0, 0], scale=float(amount), shear=[0.0, 0.0], fill=fill,
                         interpolation=TF.InterpolationMode.BILINEAR)
    return TF.rotate(image, float(amount), interpolation=TF.InterpolationMode.BILINEAR, fill=fill)


@torch.no_grad()
def invariance(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor, crop: int,
               sweeps: dict[str, list[float]] | None = None, layers: tuple[str, str] = ("conv1", "fc7"),
               scale_amounts_to: int = PAPER_CROP) -> pd.DataFrame:
    """Distances and true-label probability for every image, transformation and amount.

    ``images`` are uint8 (N, 3, S, S); each is transformed at full size, centre-cropped to ``crop`` and
    mean-subtracted. Translations in ``sweeps`` are in pixels of a ``scale_amounts_to`` crop (the paper's 224) and
    are rescaled to ``crop``. Returns columns: image, label, transformation, amount, and for both layers dist_<layer>
    (Euclidean distance to the untransformed image's features) and rel_<layer> (the same over that feature norm),
    then prob_true.
    """
    sweeps = sweeps or PAPER_SWEEPS
    dev = model_device(model)
    rows = []
    columns = ["image", "label", "transformation", "amount", *[f"{p}_{layer}" for p in ("dist", "rel")
                                                                for layer in layers], "prob_true"]
    with eval_mode(model):
        for i in range(len(images)):
            for kind, amounts in sweeps.items():
                factor = crop / scale_amounts_to if kind == "translate" else 1.0
                batch = torch.stack([transform(images[i], kind, a * factor) for a in amounts])
                x = TF.center_crop(batch.float().to(dev) - mean.to(dev), [crop, crop])
                ref = TF.center_crop(images[i:i + 1].float().to(dev) - mean.to(dev), [crop, crop])
                feats = readouts(model, torch.cat([ref, x]), list(layers))
                prob = model(torch.cat([ref, x])).softmax(-1)[:, int(labels[i])]
                dist = {layer: (feats[layer][1:] - feats[layer][:1]).flatten(1).norm(dim=1) for layer in layers}
                norm = {layer: feats[layer][0].norm().clamp_min(1e-12) for layer in layers}
                for j, a in enumerate(amounts):
                    rows.append({"image": i, "label": int(labels[i]), "transformation": kind, "amount": a,
                                 **{f"dist_{layer}": float(dist[layer][j]) for layer in layers},
                                 **{f"rel_{layer}": float(dist[layer][j] / norm[layer]) for layer in layers},
                                 "prob_true": float(prob[j + 1])})
    return pd.DataFrame(rows, columns=columns)


IDENTITY = {"translate": 0.0, "scale": 1.0, "rotate": 0.0}
# The smallest step of each sweep on either side of the identity (in the sweep's units: px at 224, factor, degrees).
SMALL = {"translate": (-10.0, 10.0), "scale": (1.1,), "rotate": (10.0, 350.0)}


def _per_image(values: pd.Series) -> np.ndarray:
    """(seeds, images) array of per-(seed, image) values; images paired across seeds."""
    return values.unstack("image").sort_index().to_numpy()


def invariance_statistics(df: pd.DataFrame, layers: tuple[str, str] = ("conv1", "fc7"),
                          symmetric: int | None = None) -> pd.DataFrame:
    """Claim C4's three statistics from ``invariance`` rows of several seeds (a ``seed`` column, the same images).

    C4a: relative change of the low layer minus the high layer at the smallest steps, per image. C4b: the mean drop of
    P(true) (identity minus the sweep's mean) under rotation minus that under translation and scale, over images not
    of class ``symmetric``. C4c: the rotation drop of the other images minus that of class ``symmetric`` (e.g. golf
    balls). CIs resample seeds and images. Returns columns part, estimate, ci_low, ci_high, images, seeds.
    """
    lo, hi = layers
    if df.empty:
        return pd.DataFrame({"part": ["C4a", "C4b", "C4c"], "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                             "images": 0, "seeds": 0})
    small = df[[a in SMALL[k] for k, a in zip(df.transformation, df.amount)]]
    if small.empty:
        raise ValueError(f"the sweeps hold none of the smallest steps {SMALL}")
    c4a = _per_image((small[f"rel_{lo}"] - small[f"rel_{hi}"]).groupby([small.seed, small.image]).mean())
    ident = [a == IDENTITY[k] for k, a in zip(df.transformation, df.amount)]
    p0 = df[ident].groupby(["seed", "image"]).prob_true.first()
    sweep = df[~np.array(ident)].groupby(["seed", "image", "transformation"]).prob_true.mean().unstack()
    drop = sweep.rsub(p0, axis=0)  # (seed, image) x transformation
    label = df.groupby("image").label.first()
    sym = label.index[label == symmetric] if symmetric is not None else label.index[:0]
    rest = drop[~drop.index.get_level_values("image").isin(sym)]
    c4b = _per_image(rest.rotate - (rest.translate + rest.scale) / 2)
    rows = [("C4a", *hierarchical_mean(c4a), c4a.shape[1]), ("C4b", *hierarchical_mean(c4b), c4b.shape[1])]
    golf = drop[drop.index.get_level_values("image").isin(sym)]
    c4c = group_difference(_per_image(rest.rotate), _per_image(golf.rotate)) if len(golf) else \
        (float("nan"),) * 3 + (0,)
    rows.append(("C4c", *c4c, golf.index.get_level_values("image").nunique()))
    out = pd.DataFrame(rows, columns=["part", "estimate", "ci_low", "ci_high", "seeds", "images"])
    return out[["part", "estimate", "ci_low", "ci_high", "images", "seeds"]]


REGISTERED_LAYERS = ("conv1", "fc7")  # C4a compares layer 1 with layer 7, as the paper's Fig. 5 does
REGISTERED_SYMMETRIC = "golf ball"  # C4c's rotationally symmetric class


def c4_evidence(stats: pd.DataFrame, profile: str, *, layers: tuple[str, str] = REGISTERED_LAYERS,
                symmetric: str = REGISTERED_SYMMETRIC, chapter: str = "04_fig5_invariance") -> list:
    """C4a-C4c's evidence from ``invariance_statistics`` computed on ``layers`` with ``symmetric`` as the symmetric
    class. A run on other layers leaves C4a not run (the claim is about layers 1 and 7); another symmetric class is
    computed and named in C4c's note."""
    out = []
    for r in stats.itertuples():
        if r.part == "C4a" and tuple(layers) != REGISTERED_LAYERS:
            out.append(claims.not_run("C4a", profile, f"this run compared {layers[0]} with {layers[1]}; C4a is about "
                                      f"{' and '.join(REGISTERED_LAYERS)}", chapter=chapter))
            continue
        note = (f"Computed with {symmetric}s as the symmetric class (the registered statistic names "
                f"{REGISTERED_SYMMETRIC}s)." if r.part == "C4c" and symmetric != REGISTERED_SYMMETRIC else "")
        note = note or (f"Layers compared: {layers[0]} and {layers[1]}." if r.part == "C4a" else "")
        out.append(claims.evidence(r.part, r.estimate, (r.ci_low, r.ci_high), r.images, profile, seeds=r.seeds,
                                   chapter=chapter, note=note))
    return out


def prob_range(df: pd.DataFrame, symmetric: int | None = None) -> dict[str, float]:
    """The statistic C4b replaced (2026-11-21): per transformation, the mean over images and seeds of the range
    (max - min) of P(true) over the sweep, images of class ``symmetric`` left out as in C4b."""
    keep = df if symmetric is None else df[df.label != symmetric]
    r = keep.groupby(["seed", "image", "transformation"]).prob_true.agg(lambda p: p.max() - p.min())
    return r.groupby("transformation").mean().to_dict()
