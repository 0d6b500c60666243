"""Shared fixtures: a tiny synthetic ImageFolder (learnable, 3 classes) and an isolated cache directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

CLASSES = ("a_red", "b_green", "c_blue")


def make_imagefolder(root: Path, per_class: dict[str, int], size: int = 48, seed: int = 0) -> Path:
    """Write JPEGs whose class is visible (a bright square of the class colour at a random place)."""
    g = torch.Generator().manual_seed(seed)
    for split, n in per_class.items():
        for c, name in enumerate(CLASSES):
            d = root / split / name
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = (torch.rand(3, size, size, generator=g) * 90).to(torch.uint8)
                y, x = torch.randint(0, size // 2, (2,), generator=g).tolist()
                img[c, y:y + size // 2, x:x + size // 2] = 250
                Image.fromarray(img.permute(1, 2, 0).numpy()).save(d / f"{split}_{i:03d}.jpg", quality=95)
    return root


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZFVIZ_CACHE", str(tmp_path / "zfviz-cache"))
    monkeypatch.setenv("ZFVIZ_RUNS", str(tmp_path / "zfviz-runs"))
    monkeypatch.setenv("ZFVIZ_RECORDS", str(tmp_path / "zfviz-records"))


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One decoded-image cache for the whole session, for tests that decode the same large split (it is keyed by
    content, so sharing it changes no result: only the decoding, 2.5 GB and about a minute each time, is done once)."""
    return tmp_path_factory.mktemp("shared-cache")


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    """train: 16 images per class, val: 6 per class, 48x48."""
    return make_imagefolder(tmp_path_factory.mktemp("tiny"), {"train": 16, "val": 6})


@pytest.fixture
def imagenette_here():
    """Skip a test that needs the Imagenette data when none is found (unless CI requires it: then fail)."""
    import os

    from zfviz.data.sets import find_split

    try:
        find_split("imagenette", "train")
    except FileNotFoundError as e:
        if os.environ.get("ZFVIZ_REQUIRE_DATA"):
            raise
        pytest.skip(f"no Imagenette found ({e}); set ZFVIZ_DATA")
