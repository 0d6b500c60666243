"""Data: split discovery, the decoded cache (built once, rebuilt on change), augmentation, clear errors."""

import pytest
import torch
from conftest import make_imagefolder
from torchvision.transforms.v2 import functional as TF

from zfviz.data import sets as data
from zfviz.data.sets import (
    batch_indices,
    center_crop,
    find_split,
    load_split,
    per_class_subset,
    pixel_mean,
    random_crop_flip,
    ten_crop,
)


def _caches():
    decoded = data.cache_root() / "decoded"
    return sorted(p for p in decoded.iterdir() if not p.name.startswith(".")) if decoded.exists() else []


def test_find_split_named_and_path(tiny_folder, tmp_path, monkeypatch):
    assert find_split(tiny_folder, "val") == tiny_folder / "val"
    (tmp_path / "imagenette-224" / "train").mkdir(parents=True)
    monkeypatch.setenv("ZFVIZ_DATA", str(tmp_path))
    assert find_split("imagenette", "train") == tmp_path / "imagenette-224" / "train"


def test_find_split_errors_say_what_is_valid(tiny_folder, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="known name"):
        find_split(tmp_path / "nope", "train")
    with pytest.raises(FileNotFoundError, match=r"subdirectories found: \['train', 'val'\]"):
        find_split(tiny_folder, "test")
    monkeypatch.setenv("ZFVIZ_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="allow the Imagenette download"):
        find_split("imagenette", "train")


def test_cache_built_once_and_rebuilt_when_source_changes(tmp_path):
    root = make_imagefolder(tmp_path / "ds", {"train": 3}, size=40)
    a = load_split(root, "train", 32, progress=False)
    assert a.images.shape == (9, 3, 32, 32) and a.images.dtype == torch.uint8
    assert a.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2] and a.classes == ["a_red", "b_green", "c_blue"]
    built = _caches()
    b = load_split(root, "train", 32, progress=False)
    assert torch.equal(a.images, b.images) and _caches() == built
    make_imagefolder(tmp_path / "ds", {"train": 4}, size=40, seed=1)  # one more image per class, others rewritten
    c = load_split(root, "train", 32, progress=False)
    assert len(c) == 12 and len(_caches()) == len(built) + 1
    # the decoded pixels are the resized, centre-cropped image
    assert torch.equal(c.images[0], data.load_image(root / "train" / "a_red" / c.paths[0].split("/")[-1], 32))


def test_corrupt_image_names_the_file_and_leaves_no_cache(tmp_path):
    root = make_imagefolder(tmp_path / "ds", {"train": 2}, size=40)
    bad = root / "train" / "b_green" / "train_001.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a jpeg")
    with pytest.raises(ValueError, match="cannot decode image .*train_001.jpg"):
        load_split(root, "train", 32, progress=False)
    assert _caches() == []  # no cache and no temporary folder (only the lock file)


def test_pixel_mean_and_crops():
    g = torch.Generator().manual_seed(0)
    imgs = torch.randint(0, 256, (5, 3, 12, 12), dtype=torch.uint8, generator=g)
    mean = pixel_mean(imgs)
    assert torch.allclose(mean, imgs.double().mean(0).float())
    x = random_crop_flip(imgs, mean, 8, torch.Generator().manual_seed(1))
    assert x.shape == (5, 3, 8, 8)
    full = imgs.float() - mean
    for i in range(5):  # every output is some 8x8 window of (image - mean), possibly x-flipped
        candidates = [w for dy in range(5) for dx in range(5)
                      for w in (full[i, :, dy:dy + 8, dx:dx + 8], full[i, :, dy:dy + 8, dx:dx + 8].flip(-1))]
        assert any(torch.equal(x[i], w) for w in candidates)
    assert torch.equal(center_crop(imgs, mean, 8), full[:, :, 2:10, 2:10])
    tc = ten_crop(imgs, mean, 8)
    assert tc.shape == (10, 5, 3, 8, 8)
    assert torch.equal(tc[0], full[..., :8, :8]) and torch.equal(tc[3], full[..., 4:, 4:])
    assert torch.equal(tc[4], full[..., 2:10, 2:10]) and torch.equal(tc[9], TF.hflip(full)[..., 2:10, 2:10])


def test_random_crops_are_seeded():
    imgs = torch.randint(0, 256, (4, 3, 10, 10), dtype=torch.uint8)
    mean = pixel_mean(imgs)
    a = random_crop_flip(imgs, mean, 6, torch.Generator().manual_seed(3))
    b = random_crop_flip(imgs, mean, 6, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_batches_partition_across_ranks():
    g = lambda: torch.Generator().manual_seed(0)
    single = batch_indices(10, 4, shuffle=True, generator=g(), drop_last=True)
    r0 = batch_indices(10, 4, shuffle=True, generator=g(), rank=0, world=2, drop_last=True)
    r1 = batch_indices(10, 4, shuffle=True, generator=g(), rank=1, world=2, drop_last=True)
    assert len(single) == 2
    for s, a, b in zip(single, r0, r1):
        assert sorted(torch.cat([a, b]).tolist()) == sorted(s.tolist()) and len(a) == len(b) == 2


def test_per_class_subset():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    assert per_class_subset(labels, 2).tolist() == [0, 1, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="positive int"):
        per_class_subset(labels, 0)


def test_class_index_by_name_or_wnid_and_a_clear_error():
    from zfviz.data.sets import class_index

    wnids = ["n01440764", "n02102040"]
    assert class_index("n02102040", wnids) == 1 and class_index("English springer", wnids) == 1
    with pytest.raises(ValueError, match="unknown class 'springer'; valid: tench, English springer"):
        class_index("springer", wnids)


def test_relative_to_slices_only_where_it_equals_relpath():
    import os

    from zfviz.data.files import relative_to

    cases = [("/a/b/c.jpg", "/a"), ("/a/b/c.jpg", "/a/"), ("a/b.jpg", "a"), ("./a/b.jpg", "."), ("/a//b.jpg", "/a"),
             ("/a/./b.jpg", "/a"), ("/a/../b.jpg", "/a"), ("/ab/c.jpg", "/a"), ("/a/b.jpg", "a"), ("/a", "/a"),
             ("/a/b/", "/a")]
    for path, folder in cases:
        assert relative_to(path, folder) == os.path.relpath(path, folder), (path, folder)
