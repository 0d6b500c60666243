"""The reliability review's matrix (shared/reviews/reliability.md) as a table: each case names its ID there, does the
bad thing, and asserts the exact behaviour: one clear error (and nothing left behind), or the right result.

CLI cases call ``zfviz.cli.main`` in process (exit code and the one ``error:`` line); training cases use the smoke
profile on the 3-class synthetic folder, one or two epochs.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_imagefolder
from PIL import Image

from zfviz import cli
from zfviz.core import checkpoint
from zfviz.runs.store import TrainConfig, finished, load_trained, snapshot_path
from zfviz.runs.trained import ensure_trained

REPO = Path(__file__).resolve().parents[1]
FAST = dict(model="zf", profile="smoke", init="kaiming", lr=1e-3, batch_size=8, epochs=2)


def _cli(capsys, *args) -> tuple[int, str]:
    rc = cli.main(["train", "--profile", "smoke", "--no-progress", "--device", "cpu", *map(str, args)])
    err = capsys.readouterr().err.strip()
    return rc, err


def _one_error(rc: int, err: str, pattern: str) -> None:
    import re

    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    assert re.search(pattern, lines[0]), lines[0]


@pytest.fixture
def folder(tmp_path) -> Path:
    return make_imagefolder(tmp_path / "ds", {"train": 8, "val": 4})


@pytest.fixture
def done_run(tiny_folder, tmp_path) -> tuple[TrainConfig, Path]:
    cfg = TrainConfig(dataset=str(tiny_folder), **FAST)
    return cfg, ensure_trained(cfg, tmp_path / "runs", progress=False)


# ---- CLI arguments: one line, exit 2, nothing written ------------------------------------------------------------

CLI_CASES = [
    ("C03", ["--epochs", 0], r"epochs must be a positive int, got 0"),
    ("C04", ["--epochs", -3], r"epochs must be a positive int, got -3"),
    ("C06", ["--batch-size", 0], r"batch_size must be a positive int, got 0"),
    ("C07", ["--epochs", 10**12], r"epochs must be at most 10000"),
    ("C08", ["--seed", 10**23], r"seed must be an int in 0\.\.2147483647"),
    ("C09", ["--lr", "nan"], r"lr must be a finite non-negative number, got nan"),
    ("C20", ["--device", "bogus"], r"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got 'bogus'"),
    ("C22", ["--dropout", 2], r"dropout must be a number in \[0, 1\), got 2\.0"),
    ("C23", ["--clip-radius", 0], r"clip_radius must be a positive number or None \(off\), got 0\.0"),
    ("C24", ["--split", -1, "--train-per-class", 2], r"split must be a non-negative int, got -1"),
    ("C26", ["--train-per-class", 0], r"train_per_class must be a positive int, got 0"),
    ("C11", ["--dataset", "/nonexistent/ds"], r"neither a known name \(imagenette, imagewoof, imagenet\) nor an"),
    ("C32", ["--data-root", "/nonexistent/typo"], r"data root '/nonexistent/typo' does not exist"),
]


@pytest.mark.parametrize("case,args,pattern", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_argument_errors(case, args, pattern, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ZFVIZ_RUNS", str(tmp_path / "runs"))
    rc, err = _cli(capsys, *args)
    _one_error(rc, err, pattern)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "nothing may be written"
    assert not Path("/nonexistent").exists()


def test_C21_cuda_without_a_gpu(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    _one_error(*_cli(capsys, "--device", "cuda"), r"CUDA is not available here; use --device cpu")


# ---- datasets ----------------------------------------------------------------------------------------------------

def test_C12_no_val_split(capsys, tmp_path):
    make_imagefolder(tmp_path / "d", {"train": 2})
    _one_error(*_cli(capsys, "--dataset", tmp_path / "d"), r"has no 'val' split; subdirectories found: \['train'\]")


def test_C13_empty_class_folder(capsys, folder):
    (folder / "train" / "d_empty").mkdir()
    (folder / "val" / "d_empty").mkdir()
    _one_error(*_cli(capsys, "--dataset", folder), r"Found no valid file for the classes d_empty")


def test_C15_undecodable_image_is_named(capsys, folder, tmp_path, monkeypatch):
    monkeypatch.setenv("ZFVIZ_RUNS", str(tmp_path / "runs"))
    (folder / "train" / "a_red" / "fake.JPEG").write_bytes(b"garbage bytes")
    _one_error(*_cli(capsys, "--dataset", folder), r"cannot decode image .*fake\.JPEG.*Remove or replace the file")
    assert not any((tmp_path / "runs").glob("*")), "X01: no empty run directory is left behind"


def test_C17_one_class_is_an_error(capsys, tmp_path):
    make_imagefolder(tmp_path / "one", {"train": 2, "val": 2})
    for c in ("b_green", "c_blue"):
        shutil.rmtree(tmp_path / "one" / "train" / c)
        shutil.rmtree(tmp_path / "one" / "val" / c)
    _one_error(*_cli(capsys, "--dataset", tmp_path / "one"), r"has 1 class folder .*needs at least 2")


def test_C30_train_and_val_class_folders_must_match(capsys, folder, tmp_path, monkeypatch):
    monkeypatch.setenv("ZFVIZ_RUNS", str(tmp_path / "runs"))
    shutil.rmtree(folder / "val" / "b_green")
    _one_error(*_cli(capsys, "--dataset", folder), r"different class folders \(only in train: \['b_green'\]")


def test_C19_16_bit_png_keeps_its_range(tmp_path):
    from zfviz.data.sets import load_image

    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    img = load_image(tmp_path / "g16.png", 64)
    assert (img == 255).float().mean() < 0.05 and img.float().std() > 50  # a ramp, not white
    eight = Image.fromarray((ramp // 257).astype(np.uint8))
    eight.save(tmp_path / "g8.png")
    assert (load_image(tmp_path / "g8.png", 64).int() - img.int()).abs().max() <= 1


def test_C18_odd_but_valid_images_decode(tmp_path):
    from zfviz.data.sets import load_image

    rgba = Image.new("RGBA", (30, 20), (10, 200, 30, 128))
    rgba.save(tmp_path / "a.png")
    Image.new("CMYK", (10, 10), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    assert load_image(tmp_path / "a.png", 16).shape == (3, 16, 16)
    assert load_image(tmp_path / "c.jpg", 16)[0].float().mean() > 200  # CMYK red comes out red


# ---- runs: identity, finishing, repair, locks ------------------------------------------------------------------

def test_D08_changed_classes_give_a_new_run(folder):
    before = TrainConfig(dataset=str(folder), **FAST).run_name()
    shutil.rmtree(folder / "train" / "c_blue")
    shutil.rmtree(folder / "val" / "c_blue")
    make_imagefolder(folder.parent / "other", {"train": 8, "val": 4})
    shutil.copytree(folder.parent / "other" / "train" / "c_blue", folder / "train" / "d_swapped")
    shutil.copytree(folder.parent / "other" / "val" / "c_blue", folder / "val" / "d_swapped")
    assert TrainConfig(dataset=str(folder), **FAST).run_name() != before


def test_D07_a_gained_class_gives_a_new_run(folder):
    before = TrainConfig(dataset=str(folder), **FAST).key()
    shutil.copytree(folder / "train" / "c_blue", folder / "train" / "d_new")
    shutil.copytree(folder / "val" / "c_blue", folder / "val" / "d_new")
    assert TrainConfig(dataset=str(folder), **FAST).key() != before


def test_D08_a_run_that_no_longer_matches_its_data_is_refused(done_run):
    from zfviz.runs.store import load_data, run_predictions

    cfg, run = done_run
    _, val = load_data(cfg, progress=False)
    val.classes = ["x", "y", "z"]
    with pytest.raises(ValueError, match=r"was trained on classes \['a_red', 'b_green', 'c_blue'\]"):
        run_predictions(run, 2, val)


def test_C07b_N11_a_shorter_budget_is_its_own_run(done_run, tmp_path):
    cfg, run = done_run
    short = TrainConfig(**{**FAST, "dataset": cfg.dataset, "epochs": 1})
    out = ensure_trained(short, tmp_path / "runs", progress=False)
    assert out != run and finished(out, 1) and snapshot_path(out, 1).exists()
    model, meta = load_trained(snapshot_path(out, 1))
    assert meta["epoch"] == 1
    assert sorted(pd.read_csv(out / "metrics.csv").epoch) == [1]


def test_K12_truncated_final_snapshot_is_rebuilt(done_run, tmp_path):
    cfg, run = done_run
    snap = snapshot_path(run, 2)
    good = checkpoint.load(snap)["model"]
    with open(snap, "r+b") as f:
        f.truncate(5000)
    assert not finished(run, 2)
    ensure_trained(cfg, tmp_path / "runs", progress=False)
    assert finished(run, 2)
    again = checkpoint.load(snap)["model"]
    assert all(torch.equal(good[k], again[k]) for k in good)


def test_K13_deleted_final_snapshot_is_rebuilt(done_run, tmp_path):
    cfg, run = done_run
    snapshot_path(run, 2).unlink()
    ensure_trained(cfg, tmp_path / "runs", progress=False)
    assert finished(run, 2) and load_trained(snapshot_path(run, 2))[1]["epoch"] == 2


def test_K08_kill_between_snapshot_and_metrics_repairs_itself(done_run, tmp_path):
    from zfviz.runs.trained import run_metrics

    cfg, run = done_run
    (run / "DONE.json").unlink()
    m = pd.read_csv(run / "metrics.csv")
    m[m.epoch < 2].to_csv(run / "metrics.csv", index=False)  # the snapshot exists, the metrics row does not
    row = run_metrics([cfg], runs_dir=tmp_path / "runs").iloc[0]
    assert row.epochs == 2 and finished(run, 2)


def test_K04_K06_stale_temporaries_are_swept(done_run, tmp_path):
    cfg, run = done_run
    (run / "checkpoint.pt.abcd1234.tmp").write_bytes(b"x" * 100)
    (run / "snapshots" / "epoch_002.pt.zz99ab12.tmp").write_bytes(b"x")
    (run / "DONE.json").unlink()  # force the writer to take the run again
    ensure_trained(cfg, tmp_path / "runs", progress=False)
    assert not list(run.rglob("*.tmp"))


def test_K14_K15_one_writer_per_run_directory(done_run, tmp_path):
    from zfviz.core.locks import BusyError, exclusive
    from zfviz.runs.train import train

    cfg, run = done_run
    with exclusive(run / ".lock", wait=False, what="test"):
        with pytest.raises(BusyError, match=r"run directory .* is being written by another process \(pid \d+\)"):
            train(cfg, run, progress=False)


def test_C29_K15_another_config_into_the_same_directory(done_run, capsys):
    cfg, run = done_run
    rc, err = _cli(capsys, "--dataset", cfg.dataset, "--init", "kaiming", "--lr", "2e-3", "--batch-size", 8,
                   "--epochs", 2, "--out", run)
    _one_error(rc, err, r"belongs to a different run \(differs in \['lr'\]\)")


def test_C28_out_is_a_file(capsys, folder, tmp_path):
    (tmp_path / "afile").write_text("x")
    _one_error(*_cli(capsys, "--dataset", folder, "--out", tmp_path / "afile"), r"exists and is not a directory")


def test_C10_divergence_is_one_line(capsys, folder, tmp_path):
    rc, err = _cli(capsys, "--dataset", folder, "--lr", "1e6", "--no-clip", "--epochs", 1, "--batch-size", 4,
                   "--out", tmp_path / "r")
    _one_error(rc, err, r"the training loss became (nan|inf) in epoch 1; lower the lr")


def test_C33_few_shot_summary_line_has_no_nan(capsys, folder, tmp_path):
    rc = cli.main(["train", "--profile", "smoke", "--no-progress", "--dataset", str(folder), "--train-per-class", "2",
                   "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "few")])
    out = capsys.readouterr().out
    assert rc == 0 and "finished at epoch 1/1" in out and "nan" not in out


def test_train_command_fingerprints_the_data_once(capsys, folder, tmp_path, monkeypatch):
    """The run's directory name and its identity hash the same data: hashing every file twice was wasted work."""
    from zfviz.data import sets as data

    calls = []
    real = data.dataset_identity
    monkeypatch.setattr(data, "dataset_identity", lambda *a, **k: calls.append(a) or real(*a, **k))
    monkeypatch.setenv("ZFVIZ_RUNS", str(tmp_path / "runs"))
    rc = cli.main(["train", "--profile", "smoke", "--no-progress", "--dataset", str(folder), "--train-per-class", "2",
                   "--epochs", "1", "--batch-size", "4"])
    assert rc == 0 and "finished at epoch 1/1" in capsys.readouterr().out
    assert len(calls) == 1 and len(list((tmp_path / "runs").iterdir())) == 1


def test_K09_K11_truncated_or_empty_checkpoint_is_a_clear_error(done_run, tmp_path):
    cfg, run = done_run
    (run / "DONE.json").unlink()
    (run / "checkpoint.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"cannot load checkpoint .*checkpoint\.pt.*delete the file"):
        ensure_trained(cfg, tmp_path / "runs", progress=False)


def test_K10_random_bytes_never_advise_unsafe_loading(tmp_path):
    (tmp_path / "r.pt").write_bytes(os.urandom(4096))
    with pytest.raises(ValueError) as e:
        checkpoint.load(tmp_path / "r.pt")
    assert "weights_only set to False" not in str(e.value) and "delete the file" in str(e.value)


def test_K18_pickled_code_is_refused_without_running(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'PWNED'}",))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"model": Evil()}, f)
    with pytest.raises(ValueError, match="cannot load checkpoint"):
        load_trained(tmp_path / "evil.pt")
    assert not (tmp_path / "PWNED").exists()


def test_K17_disk_full_is_named(tmp_path, monkeypatch):
    def full(tmp):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match=r"cannot write .*its disk is full"):
        checkpoint.atomic_write(tmp_path / "x.pt", full)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("obj,pattern", [(torch.ones(3), r"not a zfviz checkpoint \(it holds a Tensor"),
                                         ({"model": {}, "arch": {"name": "zf"}}, r"of a known architecture")],
                         ids=["L01", "L02"])
def test_L01_L02_not_a_checkpoint(obj, pattern, tmp_path):
    torch.save(obj, tmp_path / "x.pt")
    with pytest.raises(ValueError, match=pattern):
        load_trained(tmp_path / "x.pt")


# ---- the decoded cache -------------------------------------------------------------------------------------------

def _cache_dir(split):
    from zfviz.core.paths import cache_root

    return next(p for p in (cache_root() / "decoded").iterdir() if p.is_dir() and f"-{split}-" in p.name
                and not p.name.startswith("."))


@pytest.mark.parametrize("damage", ["D01", "D02", "D03"])
def test_D01_D03_a_damaged_cache_is_rebuilt(damage, folder):
    from zfviz.data.sets import load_split

    a = load_split(folder, "train", 32, progress=False)
    expected = a.images.clone()  # a copy: truncating a mapped file under a live mapping would crash this process
    del a
    d = _cache_dir("train")
    if damage == "D01":
        with open(d / "images.npy", "r+b") as f:
            f.truncate(2000)
    elif damage == "D02":
        (d / "meta.json").write_text('{"classes": [')
    else:
        (d / "labels.npy").unlink()
    b = load_split(folder, "train", 32, progress=False)
    assert torch.equal(expected, b.images) and b.classes == ["a_red", "b_green", "c_blue"]


def test_D06_a_killed_decode_leaves_nothing_for_long(folder):
    from zfviz.core.paths import cache_root
    from zfviz.data.sets import load_split

    load_split(folder, "val", 32, progress=False)
    d = _cache_dir("val")
    shutil.rmtree(d)
    orphan = d.with_name(d.name + ".tmp-killed")
    orphan.mkdir()
    (orphan / "images.npy").write_bytes(b"x")
    load_split(folder, "val", 32, progress=False)
    assert not orphan.exists() and not list((cache_root() / "decoded").glob("*.tmp-*"))


# ---- the Python API ----------------------------------------------------------------------------------------------

def _net():
    from zfviz.model.models import build_model

    torch.manual_seed(0)
    return build_model("zf", 3, width=0.125, input_size=64)


X = torch.randn(4, 3, 64, 64)
API_CASES = [
    ("A01", lambda: __import__("zfviz.model.deconv").model.deconv.project(_net(), X, "conv6", 0), r"unknown layer 'conv6'"),
    ("A02", lambda: __import__("zfviz.model.deconv").model.deconv.project(_net(), X, "conv5", -1), r"channel out of range"),
    ("A04", lambda: __import__("zfviz.model.deconv").model.deconv.project(_net(), X, "conv5", True), r"channel must be an int"),
    ("A05", lambda: __import__("zfviz.model.deconv").model.deconv.project(_net(), X, "conv1", 0, (100, 100)),
     r"outside the conv1 map"),
    ("A07", lambda: __import__("zfviz.model.deconv").model.deconv.project_many(_net(), X, "conv1", [0], torch.tensor([0]), [0]),
     r"positions must be \(y, x\) pairs"),
    ("A08", lambda: __import__("zfviz.model.deconv").model.deconv.project(_net(), X.to(torch.uint8), "conv1", 0),
     r"model's dtype torch.float32, got torch.uint8; use data.center_crop"),
    ("A09", lambda: __import__("zfviz.model.deconv").model.deconv.project(_net(), X.double(), "conv1", 0),
     r"model's dtype torch.float32, got torch.float64"),
    ("A11", lambda: __import__("zfviz.model.deconv").model.deconv.project(_net(), X[0], "conv1", 0), r"\(N, 3, H, W\)"),
    ("A12", lambda: __import__("zfviz.model.deconv").model.deconv.project(_net(), X[:, :1], "conv1", 0), r"\(N, 3, H, W\)"),
    ("A14", lambda: __import__("zfviz.model.deconv").model.deconv.project(_net(), torch.randn(1, 3, 16, 16), "conv5", 0),
     r"images of 16x16 px are too small for this model up to conv5"),
    ("A15", lambda: __import__("zfviz.model.deconv").model.deconv.project(_net(), torch.full((1, 3, 64, 64), float("nan")),
                                                              "conv1", 0), r"NaN or infinite"),
    ("T02", lambda: __import__("zfviz.analysis.topk").analysis.topk.top_activations(
        _net(), torch.zeros(0, 3, 73, 73, dtype=torch.uint8), torch.zeros(3, 73, 73), 64, ["conv1"]),
     r"no images to mine"),
    ("T03", lambda: __import__("zfviz.analysis.topk").analysis.topk.top_activations(
        _net(), torch.zeros(2, 3, 73, 73, dtype=torch.uint8), torch.zeros(3, 73, 73), 100, ["conv1"]),
     r"crop 100 is larger than the images \(73x73 px\)"),
    ("O01", lambda: __import__("zfviz.analysis.occlusion").analysis.occlusion.occlusion(_net(), X[0], 0, 0, 8),
     r"must be positive ints"),
    ("O02", lambda: __import__("zfviz.analysis.occlusion").analysis.occlusion.occlusion(_net(), X[0], 0, 100, 8),
     r"exceeds the image size 64"),
    ("O04", lambda: __import__("zfviz.analysis.occlusion").analysis.occlusion.occlusion(_net(), X[0], 9, 16, 8),
     r"label 9 out of range: valid 0\.\.2"),
    ("O05", lambda: __import__("zfviz.analysis.occlusion").analysis.occlusion.occlusion(_net(), X[0], 0, 16, 40),
     r"stride 40 exceeds its size 16"),
    ("O07", lambda: __import__("zfviz.analysis.occlusion").analysis.occlusion.projection_occlusion(
        _net(), torch.full((2, 3, 64, 64), float("nan")), 16), r"NaN or infinite"),
    ("P02", lambda: __import__("zfviz.analysis.probes").analysis.probes.probe(
        torch.randn(30, 4), torch.arange(3).repeat_interleave(10), 2, classifier="knn"), r"valid: 'svm', 'softmax'"),
    ("P03", lambda: __import__("zfviz.analysis.probes").analysis.probes.probe(
        torch.randn(30, 4), torch.arange(3).repeat_interleave(10), 2, splits=0), r"splits must be a positive int"),
    ("P04", lambda: __import__("zfviz.analysis.probes").analysis.probes.probe(
        torch.randn(30, 4), torch.arange(3).repeat_interleave(10)[:20], 2), r"one row per label: got shape \(30, 4\)"),
    ("P01", lambda: __import__("zfviz.analysis.probes").analysis.probes.probe(
        torch.randn(30, 4), torch.arange(3).repeat_interleave(10), 50), r"class 0 has 10 images; need more than k=50"),
]


@pytest.mark.parametrize("case,call,pattern", API_CASES, ids=[c[0] for c in API_CASES])
def test_api_errors(case, call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


# ---- chapters, book and atlas ------------------------------------------------------------------------------------

def test_N12_misspelled_chapter_parameter_is_an_error(tmp_path):
    from zfviz.book import execute as book

    with pytest.raises(ValueError, match=r"unknown parameter \['n_imags'\] for chapter 13_fig7_occlusion_statistic; "
                                         r"valid: profile"):
        book.execute("13_fig7_occlusion_statistic", tmp_path, {"profile": "smoke", "n_imags": 10}, progress=False)
    assert not list(tmp_path.iterdir())


def test_N12_inside_a_chapter_run_by_papermill():
    from zfviz.core.params import reject_unknown_parameters

    history = ["", "import x", "profile = 'cpu'\nn_images = 500", "# Parameters\nprofile = \"smoke\"\nn_imags = 10\n",
               "reject_unknown_parameters(globals())"]
    with pytest.raises(ValueError, match=r"unknown parameter \['n_imags'\]; this chapter's parameters are: n_images"):
        reject_unknown_parameters({"In": history})
    reject_unknown_parameters({"In": history[:3]})  # not run by papermill: nothing to check


@pytest.mark.parametrize("value,pattern", [("conv3", r"must be a list .* got 'conv3'"),
                                           (["fc7"], r"unknown layers \['fc7'\]; valid: \['conv1'"),
                                           ([], r"at least 1")], ids=["N05", "N02", "empty"])
def test_N02_N05_layer_lists(value, pattern):
    from zfviz.core.params import check_names

    with pytest.raises(ValueError, match=pattern):
        check_names("layers", value, ["conv1", "conv2", "conv3", "conv4", "conv5"])


def test_N17_example_paths_must_stay_inside_the_split(tmp_path):
    from zfviz.core.params import check_files

    (tmp_path / "split" / "c").mkdir(parents=True)
    (tmp_path / "split" / "c" / "a.JPEG").write_bytes(b"x")
    (tmp_path / "secret").write_text("x")
    assert check_files("examples", ["c/a.JPEG"], str(tmp_path / "split")) == ["c/a.JPEG"]
    with pytest.raises(ValueError, match=r"are not files inside"):
        check_files("examples", ["../secret"], str(tmp_path / "split"))


def test_N03_N04_numbers(tmp_path):
    from zfviz.core.params import check_int

    for bad in ("abc", -1, 1.5, True):
        with pytest.raises(ValueError, match=r"maps_per_layer must be a positive int"):
            check_int("maps_per_layer", bad)


def test_B01_unknown_chapter(tmp_path):
    from zfviz.book import execute as book

    with pytest.raises(ValueError, match=r"unknown chapter 'bogus'; chapters: 01_training"):
        book.execute_book(["bogus"], {"profile": "smoke"}, tmp_path / "out")


def test_B04_interrupted_atlas_leaves_the_old_one_whole(tmp_path, tiny_folder, monkeypatch):
    from zfviz.book import atlas
    from zfviz.experiment import load_experiment

    exp = load_experiment("zf", "smoke", 0, dataset=str(tiny_folder), init="kaiming", lr=1e-3, batch_size=8,
                          runs_dir=str(tmp_path / "runs"))
    out = tmp_path / "atlas"
    atlas.build_atlas(exp, out, layers=["conv1"], progress=False)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    calls = {"n": 0}
    real = atlas.map_sheet

    def dies(*a, **k):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt  # a kill in the middle of writing sheets
        return real(*a, **k)

    monkeypatch.setattr(atlas, "map_sheet", dies)
    with pytest.raises(KeyboardInterrupt):
        atlas.build_atlas(exp, out, layers=["conv1", "conv2"], progress=False)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before and not list(tmp_path.glob(".staging-*"))


def test_B_results_folder_has_one_writer(tmp_path):
    from zfviz.book import execute as book
    from zfviz.core.locks import BusyError, exclusive

    out = tmp_path / "results"
    with exclusive(tmp_path / ".results.lock", wait=False, what="test"):
        with pytest.raises(BusyError, match="the results folder"):
            book.execute_book(["14_sanity_checks"], {"profile": "smoke"}, out)


def test_cli_failure_never_prints_a_traceback(tmp_path):
    """One case through a real subprocess: what a user sees."""
    r = subprocess.run([sys.executable, "-m", "zfviz", "train", "--profile", "smoke", "--device", "bogus"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_data_root_default_is_found_from_any_directory(tmp_path, monkeypatch):
    from zfviz.core.paths import data_root, repo_root, runs_root

    monkeypatch.delenv("ZFVIZ_DATA", raising=False)
    monkeypatch.delenv("ZFVIZ_RUNS", raising=False)
    monkeypatch.chdir(tmp_path)
    root = repo_root()
    assert runs_root() == root / "runs"
    expected = root.parent / "shared" / "data"
    assert data_root() == (expected if expected.is_dir() else Path.home() / ".cache" / "zfviz" / "data")


def test_offline_there_is_no_download_attempt(monkeypatch, tmp_path):
    from zfviz.data import sets as data

    monkeypatch.setenv("ZFVIZ_DATA", str(tmp_path))
    monkeypatch.setattr(data, "online", lambda *a, **k: False)
    with pytest.raises(FileNotFoundError, match=r"offline, so torchvision cannot download Imagenette either"):
        data.find_split("imagenette", "train", download=True)
    assert list(tmp_path.iterdir()) == []


# ---- 2026-11-30: identities that rest on content, snapshots that belong to their run, hostile folders --------------

def _replace_same_size(path: Path, other: Path) -> None:
    """Overwrite ``path`` with ``other``'s pixels padded to ``path``'s byte count (a JPEG ignores trailing bytes)."""
    data = other.read_bytes()
    size = path.stat().st_size
    assert len(data) <= size
    path.write_bytes(data + b"\0" * (size - len(data)))


def test_NEW28_same_size_replaced_image_gives_a_new_run(folder):
    from zfviz.data.sets import dataset_identity

    before = dataset_identity(folder, ("train", "val"))
    target = folder / "train" / "a_red" / "train_000.jpg"
    donor = min((folder / "train" / "b_green").iterdir(), key=lambda p: p.stat().st_size)
    if donor.stat().st_size > target.stat().st_size:
        target, donor = donor, target
    _replace_same_size(target, donor)
    assert dataset_identity(folder, ("train", "val")) != before


def test_NEW29_same_size_edit_with_restored_mtime_rebuilds_the_cache(folder):
    from zfviz.data.sets import load_split

    a = load_split(folder, "train", 32, progress=False).images.clone()
    target = folder / "train" / "a_red" / "train_001.jpg"
    st = target.stat()
    img = np.array(Image.open(target))
    img[:] = 255 - img  # different pixels
    Image.fromarray(img).save(target, quality=95)
    data = target.read_bytes()[:st.st_size]
    target.write_bytes(data + b"\0" * (st.st_size - len(data)))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # what cp -p and rsync -a do
    b = load_split(folder, "train", 32, progress=False).images
    assert not torch.equal(a, b)


def test_NEW30_a_cache_zeroed_in_place_is_detected_and_rebuilt(folder):
    from zfviz.data import sets as data

    a = data.load_split(folder, "train", 32, progress=False).images.clone()
    d = _cache_dir("train")
    arr = np.load(d / "images.npy", mmap_mode="r+")
    arr[:] = 0
    arr.flush()
    del arr
    data._VERIFIED.clear()  # as a new process would
    with pytest.warns(UserWarning, match=r"does not match its checksums.*rebuilding"):
        b = data.load_split(folder, "train", 32, progress=False)
    assert torch.equal(a, b.images)


@pytest.mark.slow
def test_NEW26_a_nan_final_snapshot_is_refused_and_repaired(done_run, tmp_path):
    cfg, run = done_run
    snap = snapshot_path(run, cfg.epochs)
    state = torch.load(snap, weights_only=True)
    good = {k: v.clone() for k, v in state["model"].items()}
    state["model"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                      for k, v in state["model"].items()}
    torch.save(state, snap)
    with pytest.raises(ValueError, match=r"refusing .*epoch_002\.pt: its weights are not finite"):
        load_trained(snap)
    assert not finished(run, cfg.epochs)
    ensure_trained(cfg, tmp_path / "runs", progress=False)  # repairs from the checkpoint
    model, _ = load_trained(snap)
    assert all(torch.equal(v, good[k]) for k, v in model.state_dict().items())


@pytest.mark.slow
def test_NEW27_another_runs_snapshot_is_not_this_runs_model(done_run, tmp_path):
    cfg, run = done_run
    other_cfg = TrainConfig(dataset=cfg.dataset, **(FAST | {"seed": 5}))
    other = ensure_trained(other_cfg, tmp_path / "runs", progress=False)
    snap = snapshot_path(run, cfg.epochs)
    mine = load_trained(snap)[0].state_dict()
    shutil.copyfile(snapshot_path(other, cfg.epochs), snap)
    assert not finished(run, cfg.epochs)
    ensure_trained(cfg, tmp_path / "runs", progress=False)
    model, meta = load_trained(snap)
    assert meta["config"]["seed"] == cfg.seed
    assert all(torch.equal(v, mine[k]) for k, v in model.state_dict().items())


def test_NEW11_symlink_loops_count_each_file_once(folder):
    from zfviz.data.files import list_images

    n = len(list_images(folder / "train")[0])
    (folder / "train" / "a_red" / "loopdir").symlink_to("..")
    (folder / "train" / "b_green" / "self").symlink_to(".")
    (folder / "train" / "c_blue" / "root").symlink_to("/")
    samples, classes = list_images(folder / "train")
    assert len(samples) == n and classes == ["a_red", "b_green", "c_blue"]


def test_NEW11_a_file_reachable_from_two_classes_is_refused(folder):
    from zfviz.data.files import list_images

    (folder / "train" / "a_red" / "borrowed").symlink_to(folder / "train" / "b_green")
    with pytest.raises(ValueError, match=r"same file in class folders 'b_green' and 'a_red'.*one label"):
        list_images(folder / "train")


def test_NEW10_a_fifo_named_like_an_image_is_skipped_not_read(folder):
    from zfviz.data.sets import load_split

    n = len(load_split(folder, "train", 32, progress=False))
    os.mkfifo(folder / "train" / "a_red" / "zz_pipe.jpg")
    with pytest.warns(UserWarning, match=r"skipped 1 entry .*zz_pipe\.jpg \(not a regular file\)"):
        assert len(load_split(folder, "train", 32, progress=False)) == n


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb to PIL)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_NEW09_a_decompression_bomb_names_the_file(folder, capsys):
    (folder / "train" / "a_red" / "zz_bomb.png").write_bytes(_png_claiming(60000, 60000))
    rc, err = _cli(capsys, "--dataset", folder)
    _one_error(rc, err, r"cannot decode image .*zz_bomb\.png: .*decompression bomb")


def test_NEW16_a_full_disk_during_the_decode_is_one_error_and_no_temp(folder, monkeypatch):
    from zfviz.core.paths import cache_root
    from zfviz.data.sets import load_split

    def full(fd, offset, length):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(OSError, match=r"cannot build the decoded cache .*disk has .* MB free"):
        load_split(folder, "train", 32, progress=False)
    assert not list((cache_root() / "decoded").glob("*.tmp-*"))


def test_D06_an_orphan_of_another_key_is_swept(folder):
    from zfviz.core.paths import cache_root
    from zfviz.data.sets import load_split

    load_split(folder, "val", 32, progress=False)
    orphan = cache_root() / "decoded" / "old-data-val-32-0123456789abcdef.tmp-killed"
    orphan.mkdir()
    load_split(folder, "train", 32, progress=False)  # builds another cache: sweeps what no live build holds
    assert not orphan.exists()


def test_K10_random_bytes_are_unreadable_not_dangerous(tmp_path):
    (tmp_path / "r.pt").write_bytes(os.urandom(4096))
    with pytest.raises(ValueError, match=r"the file is unreadable \(truncated, corrupt"):
        checkpoint.load(tmp_path / "r.pt")


def test_A07_project_position_is_validated():
    from zfviz.model.deconv import project
    from zfviz.model.models import zfnet

    m = zfnet(10, width=0.125, input_size=64, init="kaiming").eval()
    x = torch.randn(2, 3, 64, 64)
    for bad in [(0,), (1, 2, 3), [[0, 0], [1, 1], [2, 2]]]:
        with pytest.raises(ValueError, match=r"position must be \(y, x\)"):
            project(m, x, "conv5", 0, bad)


def _train_subprocess(out: Path, folder: Path, signal_name: str | None, after_s: float) -> int:
    code = ("import sys; from zfviz.runs.store import TrainConfig; from zfviz.runs.train import train; "
            f"train(TrainConfig(dataset={str(folder)!r}, model='zf', profile='smoke', init='kaiming', lr=1e-3, "
            f"batch_size=8, epochs=6), {str(out)!r}, progress=False)")
    p = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    if signal_name is None:
        return p.wait(timeout=600)
    import signal
    import time

    deadline = time.time() + 300
    while time.time() < deadline and not (out / "checkpoint.pt").exists():
        time.sleep(0.05)
    time.sleep(after_s)
    p.send_signal(getattr(signal, signal_name))
    return p.wait(timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGINT"])
def test_K01_a_killed_or_interrupted_training_resumes_to_the_same_weights(sig, tiny_folder, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert _train_subprocess(straight, tiny_folder, None, 0) == 0
    rc = _train_subprocess(resumed, tiny_folder, sig, 0.3)
    assert rc != 0 or finished(resumed, 6)  # killed (or, on a fast machine, already done)
    assert _train_subprocess(resumed, tiny_folder, None, 0) == 0
    a = load_trained(snapshot_path(straight, 6))[0].state_dict()
    b = load_trained(snapshot_path(resumed, 6))[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


class _Evil:
    def __init__(self, flag):
        self.flag = flag

    def __reduce__(self):
        return (os.system, (f"touch {self.flag}",))


def test_R13_pickled_code_names_the_right_cause(tmp_path):
    torch.save({"model": _Evil(tmp_path / "PWNED")}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError) as e:
        checkpoint.load(tmp_path / "checkpoint.pt")
    assert "pickled Python objects other than tensors" in str(e.value) and "system" in str(e.value)
    assert "unreadable" not in str(e.value)
    assert not (tmp_path / "PWNED").exists()


def test_R15_a_users_weights_file_gets_advice_for_a_user(tmp_path):
    from zfviz.model.external import _state_dict

    torch.save({"model": _Evil(tmp_path / "PWNED")}, tmp_path / "w.pt")
    with pytest.raises(ValueError) as e:
        _state_dict(tmp_path / "w.pt")
    assert "torch.save(model.state_dict(), path)" in str(e.value) and "resumes" not in str(e.value)
    assert not (tmp_path / "PWNED").exists()


_SLEEPY_DRIVER = """
import pathlib, sys
import zfviz.book.execute as book
book.NOTEBOOKS = pathlib.Path(sys.argv[1])
book.chapters = lambda: ["sleepy"]
book.check_parameters = lambda *a: None
try:
    book.execute("sleepy", pathlib.Path(sys.argv[2]), {}, progress=False)
except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    sys.exit(130)
"""


def test_K21_ctrl_c_during_a_chapter_prints_no_kernel_traceback(tmp_path):
    """Ctrl-C reaches the whole foreground process group; the kernel's ZMQError on its closed sockets stays out of
    the terminal (it went to the user's screen after the clean line)."""
    import signal
    import subprocess
    import time

    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "sleepy.py").write_text("# %%\nimport time\ntime.sleep(60)\n")
    (tmp_path / "driver.py").write_text(_SLEEPY_DRIVER)
    p = subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "nb"), str(tmp_path / "out")],
                         start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and not list((tmp_path / "out").glob(".sleepy.kernel.log")):
        time.sleep(0.2)
    time.sleep(4)  # the kernel is up and in its cell
    os.killpg(p.pid, signal.SIGINT)
    out = p.communicate(timeout=60)[0].decode()
    assert p.returncode == 130, out
    assert "Traceback" not in out and "ZMQError" not in out, out
    assert not [f for f in (tmp_path / "out").iterdir() if f.name.startswith(".sleepy")], "temporaries left"


def test_K21b_a_dead_kernels_orphan_task_is_not_logged_but_other_orphans_are(caplog):
    """The race K21 can lose in CI: papermill's shutdown kills the kernel while nbclient's liveness task still runs;
    that task's DeadKernelError is collected unretrieved and asyncio logs its traceback at exit."""
    import asyncio
    import gc

    from nbclient.exceptions import DeadKernelError

    from zfviz.book import execute as book

    book._quiet_dead_kernel_logs()

    def orphan(exc: Exception) -> None:
        async def fail():
            raise exc
        loop = asyncio.new_event_loop()
        task = loop.create_task(fail())
        loop.run_until_complete(asyncio.sleep(0.01))
        loop.close()
        del task
        gc.collect()

    caplog.set_level(logging.ERROR)
    orphan(DeadKernelError("Kernel died"))
    logging.getLogger("traitlets").error("Kernel died while waiting for execute reply.")
    assert "never retrieved" not in caplog.text and "Kernel died" not in caplog.text, caplog.text
    orphan(ValueError("something else"))
    assert "never retrieved" in caplog.text and "something else" in caplog.text, "other orphans must still show"
