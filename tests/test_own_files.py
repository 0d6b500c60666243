"""zfviz deletes and replaces only what it made, and reads a cache or a digest only when it still describes its
source: the reliability review's bad cases R07-R09, C02, C06, N20 and N01 (2026-12-07), each failing on the code
before the fix, and two poor cases (EXIF orientation, float images)."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from conftest import make_imagefolder
from PIL import Image

from zfviz.core.locks import staged
from zfviz.data import files as datafiles
from zfviz.data.sets import load_image, load_split
from zfviz.runs.store import TrainConfig
from zfviz.runs.train import train


@pytest.fixture
def folder(tmp_path):
    return make_imagefolder(tmp_path / "ds", {"train": 4, "val": 2}, size=40)


def test_R07_train_into_a_users_folder_is_refused_and_touches_nothing(folder, tmp_path):
    user = tmp_path / "userdir"
    (user / "snapshots").mkdir(parents=True)
    files = {"notes.tmp": "notes", "draft.tmp-1": "k", "report.txt": "r", "snapshots/old.tmp": "s",
             ".staging-photos/a.jpg": "p"}
    for name, text in files.items():
        (user / name).parent.mkdir(parents=True, exist_ok=True)
        (user / name).write_text(text)
    cfg = TrainConfig("zf", "smoke", dataset=str(folder), epochs=1, batch_size=4, init="kaiming")
    with pytest.raises(ValueError, match="non-empty folder zfviz did not make .*give a new or empty folder"):
        train(cfg, user, progress=False)
    assert {p: (user / p).read_text() for p in files} == files


def test_R07_a_run_directory_keeps_files_that_only_look_like_temporaries(folder, tmp_path):
    cfg = TrainConfig("zf", "smoke", dataset=str(folder), epochs=1, batch_size=4, init="kaiming")
    run = tmp_path / "run"
    train(cfg, run, progress=False, stop_after=0)  # a run directory zfviz made, nothing trained yet
    (run / "checkpoint.pt.abcd1234.tmp").write_text("killed writer's")
    (run / "my notes.tmp").write_text("a user's")
    train(cfg, run, progress=False)
    assert not (run / "checkpoint.pt.abcd1234.tmp").exists() and (run / "my notes.tmp").read_text() == "a user's"


def test_R08_the_atlas_never_replaces_a_users_folder(folder, tmp_path):
    from zfviz.book.atlas import build_model_atlas
    from zfviz.data.sets import load_folder
    from zfviz.model.models import build_model

    user = tmp_path / "useratlas"
    user.mkdir()
    (user / "thesis.tex").write_text("important")
    val = load_folder(folder, 64, progress=False)
    net = build_model("zf", 3, width=0.125, input_size=64, init="kaiming").eval()
    with pytest.raises(ValueError, match="useratlas is a non-empty folder zfviz did not make .*thesis.tex"):
        build_model_atlas(net, val, val.images.float().mean(0), 64, user, {"model": "zf"}, layers=["conv1"],
                          progress=False)
    assert (user / "thesis.tex").read_text() == "important" and sorted(p.name for p in user.iterdir()) == [
        "thesis.tex"]


def test_R09_a_build_sweeps_its_own_staging_folders_only(tmp_path):
    sibling = tmp_path / ".staging-atlas-torchvision-alexnet-ab12cd34"  # another build's, live
    sibling.mkdir()
    (sibling / "b.md").write_text("the other build's page")
    stale = tmp_path / ".staging-atlas-zz99yy88"  # a killed build of this folder
    stale.mkdir()
    with staged(tmp_path / "atlas", what="the atlas folder") as stage:
        (stage / "a.md").write_text("x")
    assert (sibling / "b.md").read_text() == "the other build's page" and not stale.exists()
    assert (tmp_path / "atlas" / "a.md").exists()


def _cache(split: str):
    from zfviz.core.paths import cache_root

    return next(p for p in (cache_root() / "decoded").iterdir() if f"-{split}-" in p.name and p.is_dir()
                and not p.name.startswith("."))


def test_C06_class_names_edited_in_the_caches_meta_are_rebuilt_not_trained_on(folder):
    first = load_split(folder, "train", 32, progress=False)
    classes = list(first.classes)
    del first
    meta_file = _cache("train") / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["classes"] = meta["classes"][::-1]
    meta_file.write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match="meta.json does not match its checksum.*rebuilding"):
        again = load_split(folder, "train", 32, progress=False)
    assert list(again.classes) == classes


def test_C02_a_cache_folder_copied_under_another_keys_name_is_rebuilt(tmp_path):
    good = make_imagefolder(tmp_path / "good", {"train": 3, "val": 1}, size=40, seed=1)
    other = make_imagefolder(tmp_path / "px", {"train": 3, "val": 1}, size=40, seed=2)
    expected = load_split(other, "train", 32, progress=False).images.clone()
    px_cache = _cache("train")
    load_split(good, "train", 32, progress=False)
    good_cache = next(p for p in px_cache.parent.iterdir() if p.is_dir() and p != px_cache and "-train-" in p.name)
    shutil.rmtree(px_cache)
    shutil.copytree(good_cache, px_cache)
    with pytest.warns(UserWarning, match="was built as .*rebuilding"):
        served = load_split(other, "train", 32, progress=False)
    assert torch.equal(served.images, expected) and served.source == str((other / "train").resolve())


def test_N20_a_same_size_edit_within_the_second_of_the_last_look_is_seen(tmp_path, monkeypatch):
    f = tmp_path / "img.jpg"
    f.write_bytes(b"a" * 100)
    coarse = [1, 2, 100, 1_000 * 10**9, 1_000 * 10**9]  # a file system whose timestamps did not move
    monkeypatch.setattr(datafiles, "_stat_key", lambda st: coarse)
    monkeypatch.setattr(datafiles.time, "time_ns", lambda: 1_000 * 10**9 + 300_000_000)  # same second
    first = datafiles.file_digests(tmp_path, [str(f)])
    f.write_bytes(b"b" * 100)  # same size, same (coarse) stat
    second = datafiles.file_digests(tmp_path, [str(f)])
    assert first != second  # re-hashed: the entry was racily clean
    hashed = []
    monkeypatch.setattr(datafiles, "sha256_file", lambda p: hashed.append(p) or "d")
    monkeypatch.setattr(datafiles.time, "time_ns", lambda: 1_010 * 10**9)
    datafiles.file_digests(tmp_path, [str(f)])  # racy once more (last look was in the same second): re-hashed
    datafiles.file_digests(tmp_path, [str(f)])  # looked at 10 s after its change: trusted, not re-hashed
    assert len(hashed) == 1


@pytest.mark.parametrize("scale", [1 / 255, 1.0, 1000.0])
def test_N01_float_images_keep_their_range(tmp_path, scale):
    ramp = np.tile(np.linspace(0, 255, 64, dtype=np.float32), (64, 1))
    path = tmp_path / "f.tif"
    Image.fromarray(ramp * scale, mode="F").save(path)
    img = load_image(path, 64)
    assert img.shape == (3, 64, 64) and img.min() <= 2 and img.max() >= 250  # the ramp, not a constant ...
    assert abs(img[:, :, 32].float().mean() - 128) < 10  # ... and not clipped: mid-grey in the middle


def test_exif_orientation_is_applied(tmp_path):
    wide = np.zeros((20, 40, 3), dtype=np.uint8)
    wide[:, :20] = 255  # left half white
    im = Image.fromarray(wide)
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    path = tmp_path / "r.jpg"
    im.save(path, exif=exif, quality=95)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        img = load_image(path, 20)
    assert img[:, :10].float().mean() > 200 and img[:, -10:].float().mean() < 50  # white on top after rotating
