"""The book's hand annotations (``zfviz/resources/*.csv``) and their mapping into a profile's crop.

Each annotation is in pixels of the 224x224 copies in ``../shared/data``, which are plain resizes of the whole photo,
so a coordinate is read as a fraction of the photo's height or width and follows our preprocessing from there:
shorter side to ``resize``, centre square, centre ``crop``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import torch
from PIL import Image

from zfviz.data.sets import load_image

FILES = {"dog_landmarks": "dog_landmarks.csv", "object_boxes": "object_boxes.csv"}
BOX = ("y0", "x0", "y1", "x1")


def read(name: str) -> pd.DataFrame:
    """One annotation table as committed (``FILES``)."""
    if name not in FILES:
        raise ValueError(f"unknown annotation {name!r}; valid: {', '.join(FILES)}")
    with resources.files("zfviz.resources").joinpath(FILES[name]).open() as f:
        return pd.read_csv(f, comment="#")


def to_crop(df: pd.DataFrame, columns: list[str], resize: int, crop: int,
            sizes: list[tuple[int, int]] | None = None) -> pd.DataFrame:
    """``df`` with ``columns`` (y columns end in ``_y``, ``y0`` or ``y1``; the rest are x) mapped from source pixels into
    the ``crop``; ``sizes`` is each photo's (height, width) as the caller has it (default: square)."""
    if sizes is None:
        sizes = [(1, 1)] * len(df)
    if len(sizes) != len(df):
        raise ValueError(f"sizes has {len(sizes)} entries for {len(df)} annotated images")
    df = df.reset_index(drop=True).copy()
    h = pd.Series([float(hw[0]) for hw in sizes])
    w = pd.Series([float(hw[1]) for hw in sizes])
    scale = resize / pd.concat([h, w], axis=1).min(axis=1)  # shorter side -> resize
    for col in columns:
        extent = h if col.endswith(("_y", "y0", "y1")) else w
        offset = (extent * scale - resize) / 2 + (resize - crop) / 2
        df[col] = (df[col] / df.source_size * extent * scale - offset).round().astype(int)
    return df


def load_annotated(name: str, columns: list[str], resize: int, crop: int, roots: dict[str, str | Path]
                   ) -> tuple[torch.Tensor, pd.DataFrame]:
    """The annotated images whose files exist under ``roots`` ({dataset name in the annotation: its folder}): uint8
    images (n, 3, S, S) at ``resize`` and the annotation with ``columns`` mapped into the ``crop`` (``to_crop``)."""
    ann = read(name)
    paths = [Path(roots[d]) / f if d in roots else None for d, f in zip(ann.dataset, ann.file)]
    keep = [p is not None and p.is_file() for p in paths]
    paths = [p for p, k in zip(paths, keep) if k]
    sizes = [Image.open(p).size[::-1] for p in paths]  # (height, width) as this copy of the data has them
    marks = to_crop(ann[keep], columns, resize, crop, sizes)
    images = torch.stack([load_image(p, resize) for p in paths]) if paths else \
        torch.empty(0, 3, resize, resize, dtype=torch.uint8)
    return images, marks


def object_boxes(resize: int, crop: int, roots: dict[str, str | Path]) -> tuple[torch.Tensor, pd.DataFrame]:
    """The images with annotated object boxes (Fig. 7's test) and their boxes in the ``crop``: columns dataset, file,
    y0, x0, y1, x1 (end-exclusive; may reach past the crop where the object does)."""
    images, df = load_annotated("object_boxes", list(BOX), resize, crop, roots)
    return images, df[["dataset", "file", *BOX]]
