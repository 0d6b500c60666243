"""Training: metrics and snapshots, exact resume (in-process and after SIGKILL), DDP agreement, clear errors."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from zfviz.core import checkpoint
from zfviz.runs.store import TrainConfig, epochs_done, load_trained
from zfviz.runs.train import train
from zfviz.runs.trained import ensure_trained, run_curves

REPO = Path(__file__).resolve().parents[1]
# Tiny but real: the smoke profile's model (width 1/8, 64 px) on the 3-class synthetic folder.
CFG = dict(model="zf", profile="smoke", init="kaiming", lr=1e-3, batch_size=8, seed=3)


def _weights(path):
    return checkpoint.load(path)["model"]


def _assert_same_weights(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=atol, rtol=0), f"{k} differs by {(a[k] - b[k]).abs().max():.3g}"


def test_metrics_snapshots_and_learning(tiny_folder, tmp_path):
    df = train(TrainConfig(dataset=str(tiny_folder), epochs=5, **CFG), tmp_path / "run", progress=False)
    cols = {"epoch", "lr", "train_loss", "train_top1", "train_top5", "val_loss", "val_top1", "val_top5",
            "val10_top1", "val10_top5", "train_images_per_s", "epoch_seconds"}
    assert cols <= set(df.columns) and df.epoch.tolist() == [1, 2, 3, 4, 5]
    assert pd.read_csv(tmp_path / "run" / "metrics.csv").epoch.tolist() == [1, 2, 3, 4, 5]
    snaps = sorted(p.name for p in (tmp_path / "run" / "snapshots").iterdir())
    assert snaps == ["epoch_001.pt", "epoch_002.pt", "epoch_005.pt"]  # paper epochs within the run, + last
    assert df.val10_top1.notna().tolist() == [False, False, False, False, True]  # 10-crop: after the last epoch
    assert df.train_loss.iloc[-1] < df.train_loss.iloc[0]  # the colour-square task is learnable
    model, meta = load_trained(tmp_path / "run" / "snapshots" / "epoch_005.pt")
    assert meta["epoch"] == 5 and meta["classes"] == ["a_red", "b_green", "c_blue"] and not model.training


def test_resume_in_process_is_exact(tiny_folder, tmp_path):
    cfg = TrainConfig(dataset=str(tiny_folder), epochs=4, **CFG)
    train(cfg, tmp_path / "straight", progress=False)
    train(cfg, tmp_path / "resumed", progress=False, stop_after=2)
    assert checkpoint.load(tmp_path / "resumed" / "checkpoint.pt")["epoch"] == 2
    train(cfg, tmp_path / "resumed", progress=False)
    _assert_same_weights(_weights(tmp_path / "straight" / "checkpoint.pt"),
                         _weights(tmp_path / "resumed" / "checkpoint.pt"))
    # the budget is part of a run's identity (its lr schedule depends on it): a shorter budget is another run
    short = TrainConfig(dataset=str(tiny_folder), epochs=2, **CFG)
    assert short.run_name() != cfg.run_name()
    with pytest.raises(ValueError, match=r"belongs to a different run \(differs in \['epochs', 'anneal'\]\)"):
        train(short, tmp_path / "straight", progress=False)



def test_resuming_at_another_cpu_thread_count_warns(tiny_folder, tmp_path):
    """Bit-identical resume holds at the thread count the run started with; another count is said, not hidden."""
    import warnings

    cfg = TrainConfig(dataset=str(tiny_folder), epochs=2, **CFG)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        train(cfg, tmp_path / "run", progress=False, stop_after=1)
        assert checkpoint.load(tmp_path / "run" / "checkpoint.pt")["threads"] == 1
        torch.set_num_threads(2)
        with pytest.warns(UserWarning, match="ran at 1 CPU threads and resumes at 2: .* OMP_NUM_THREADS=1"):
            train(cfg, tmp_path / "run", progress=False)
        train(cfg, tmp_path / "again", progress=False, stop_after=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the same count: no warning
            train(cfg, tmp_path / "again", progress=False)
    finally:
        torch.set_num_threads(before)


def test_run_curves_until_trains_a_prefix_that_the_full_run_continues(tiny_folder, tmp_path):
    cfg = TrainConfig(dataset=str(tiny_folder), epochs=4, **CFG)
    first = run_curves([cfg], runs_dir=tmp_path / "runs", until=2)
    assert first.epoch.tolist() == [1, 2] and (first.budget == 4).all()
    run = ensure_trained(cfg, tmp_path / "runs", progress=False)  # continues the prefix, not a new run
    assert epochs_done(run) == 4 and run.name == first.run.iloc[0]
    train(cfg, tmp_path / "straight", progress=False)
    _assert_same_weights(_weights(tmp_path / "straight" / "checkpoint.pt"), _weights(run / "checkpoint.pt"))
    again = run_curves([cfg], runs_dir=tmp_path / "runs", until=2)  # a run past `until` is read, not trained
    assert again.epoch.tolist() == [1, 2, 3, 4]
    pd.testing.assert_frame_equal(again.iloc[:2].reset_index(drop=True), first, check_dtype=False)

def _cli(tiny_folder, out, epochs, extra=()):
    return [sys.executable, "-m", "zfviz", "train", "--profile", "smoke", "--dataset", str(tiny_folder),
            "--init", "kaiming", "--lr", "1e-3", "--batch-size", "8", "--seed", "3", "--epochs", str(epochs),
            "--device", "cpu", "--no-progress", "--out", str(out), *extra]


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tiny_folder, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    epochs = 12
    straight = tmp_path / "straight"
    subprocess.run(_cli(tiny_folder, straight, epochs), check=True, env=env, cwd=REPO)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cli(tiny_folder, killed, epochs), env=env, cwd=REPO)
    ckpt = killed / "checkpoint.pt"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and checkpoint.load(ckpt)["epoch"] >= 2:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed: make it longer"
    done = checkpoint.load(ckpt)["epoch"]
    assert 2 <= done < epochs
    subprocess.run(_cli(tiny_folder, killed, epochs), check=True, env=env, cwd=REPO)
    _assert_same_weights(_weights(straight / "checkpoint.pt"), _weights(killed / "checkpoint.pt"))
    assert pd.read_csv(killed / "metrics.csv").epoch.tolist() == list(range(1, epochs + 1))


@pytest.mark.slow
def test_ddp_two_processes_gloo_agree_with_one(tiny_folder, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    extra = ("--dropout", "0")  # dropout masks are per process, so compare the deterministic part of training
    subprocess.run(_cli(tiny_folder, tmp_path / "one", 3, extra), check=True, env=env, cwd=REPO)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    subprocess.run(torchrun + _cli(tiny_folder, tmp_path / "two", 3, extra)[1:], check=True, env=env, cwd=REPO)
    one, two = _weights(tmp_path / "one" / "checkpoint.pt"), _weights(tmp_path / "two" / "checkpoint.pt")
    changed = max((one[k] - checkpoint.load(tmp_path / "one" / "snapshots" / "epoch_001.pt")["model"][k]).abs().max()
                  for k in one)
    assert changed > 1e-4  # training moved the weights, so agreement below is not trivial
    _assert_same_weights(one, two, atol=1e-5)
    m1, m2 = pd.read_csv(tmp_path / "one" / "metrics.csv"), pd.read_csv(tmp_path / "two" / "metrics.csv")
    assert (m1.val_top1 - m2.val_top1).abs().max() < 1e-6 and (m1.train_loss - m2.train_loss).abs().max() < 1e-4


def test_config_and_checkpoint_errors(tiny_folder, tmp_path):
    with pytest.raises(ValueError, match="unknown profile 'laptop'; valid profiles: smoke, cpu, gpu"):
        TrainConfig(profile="laptop").resolved()
    with pytest.raises(ValueError, match="epochs must be a positive int, got '3'"):
        TrainConfig(epochs="3").resolved()
    with pytest.raises(ValueError, match="clip_radius"):
        TrainConfig(clip_radius=-1).resolved()
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_trained(tmp_path / "missing.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot load checkpoint"):
        load_trained(tmp_path / "garbage.pt")
    train(TrainConfig(dataset=str(tiny_folder), epochs=1, **CFG), tmp_path / "run", progress=False)
    other = TrainConfig(dataset=str(tiny_folder), epochs=1, **(CFG | {"seed": 4}))
    with pytest.raises(ValueError, match=r"different run \(differs in \['seed'\]\)"):
        train(other, tmp_path / "run", progress=False)


def test_cli_reports_bad_input_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "zfviz", "train", "--dataset", str(tmp_path / "nowhere"),
                        "--profile", "smoke"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and r.stderr.startswith("error: dataset") and "Traceback" not in r.stderr


def test_atomic_write_leaves_no_temporary_and_normal_permissions(tmp_path):
    target = tmp_path / "a.pt"
    checkpoint.save({"x": torch.ones(2)}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask

    def boom(tmp):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        checkpoint.atomic_write(tmp_path / "b.pt", boom)
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]  # nothing half-written left behind


def test_run_identity_covers_config_geometry_schedule_and_data(tiny_folder, tmp_path, monkeypatch):
    from conftest import make_imagefolder

    from zfviz.core import profiles

    base = TrainConfig(dataset=str(tiny_folder), **CFG)
    key = base.key()
    assert key == TrainConfig(dataset=str(tiny_folder), **CFG).key()  # stable
    assert base.run_name() == f"zf-smoke-s3-{key}"
    assert TrainConfig(dataset=str(tiny_folder), epochs=3, **CFG).key() != key  # budget (and so the schedule)
    assert TrainConfig(dataset=str(tiny_folder), **(CFG | {"lr": 2e-3})).key() != key
    few = TrainConfig(dataset=str(tiny_folder), train_per_class=2, split=1, **CFG)
    assert few.few_shot and few.key() not in (key, TrainConfig(dataset=str(tiny_folder), train_per_class=2, **CFG).key())
    # geometry: editing a profile never reuses runs trained at the old geometry
    monkeypatch.setitem(profiles.PROFILES, "smoke", profiles.PROFILES["smoke"].replace(input_size=60))
    assert TrainConfig(dataset=str(tiny_folder), **CFG).key() != key
    monkeypatch.undo()
    # data: the same files elsewhere keep the key; a changed file list gives a new one
    copy = make_imagefolder(tmp_path / "copy", {"train": 16, "val": 6})
    assert TrainConfig(dataset=str(copy), **CFG).key() == key
    (copy / "val" / "a_red" / "val_000.jpg").unlink()
    assert TrainConfig(dataset=str(copy), **CFG).key() != key


def test_few_shot_run_trains_on_its_split_and_tests_once_at_the_end(tiny_folder, tmp_path):
    from zfviz.data.sets import few_shot_split, load_split
    from zfviz.runs.store import load_data

    cfg = TrainConfig(dataset=str(tiny_folder), epochs=3, train_per_class=2, split=1,
                      **{k: v for k, v in CFG.items() if k != "batch_size"}, batch_size=4)
    train_set, test_set = load_data(cfg, progress=False)
    pool = load_split(str(tiny_folder), "val", 73, progress=False)
    tr, te = few_shot_split(pool.labels, 2, cfg.seed, 1)
    assert train_set.paths == [pool.paths[i] for i in tr] and test_set.paths == [pool.paths[i] for i in te]
    df = train(cfg, tmp_path / "few", progress=False)
    assert df.val_top1.isna().tolist() == [True, True, False]  # the test split is scored once, after training
    assert df.val10_top1.isna().all()
    assert sorted(p.name for p in (tmp_path / "few" / "snapshots").iterdir()) == ["epoch_003.pt"]
    with pytest.raises(ValueError, match="train_per_class must be a positive int, got 0"):
        TrainConfig(train_per_class=0).resolved()


def test_predict_matches_evaluate_and_run_metrics_reads_the_epoch(tiny_folder, tmp_path):
    from zfviz.runs.evaluate import accuracy, evaluate, predict
    from zfviz.runs.store import load_data, run_predictions
    from zfviz.runs.trained import run_metrics

    cfg = TrainConfig(dataset=str(tiny_folder), epochs=2, **CFG)
    runs = run_metrics([cfg], runs_dir=tmp_path)
    row = runs.iloc[0]
    assert row.epochs == 2 and row.run == cfg.run_name()
    logged = pd.read_csv(tmp_path / cfg.run_name() / "metrics.csv").set_index("epoch")
    assert row.val10_top1 == logged.loc[2, "val10_top1"]
    _, val = load_data(cfg, progress=False)
    probs = run_predictions(tmp_path / cfg.run_name(), 2, val)
    assert accuracy(probs, val.labels) == pytest.approx(row.val10_top1)
    model, meta = load_trained(tmp_path / cfg.run_name() / "snapshots" / "epoch_002.pt")
    e = evaluate(model, val.images, val.labels, meta["mean"], 64)
    assert accuracy(predict(model, val.images, meta["mean"], 64, ten=False), val.labels, 5) == pytest.approx(e["top5"])
    assert (tmp_path / cfg.run_name() / "predictions").is_dir()  # cached: a second call reads the file
    assert torch.equal(run_predictions(tmp_path / cfg.run_name(), 2, val), probs)


def test_ten_crop_only_at_the_end_changes_no_weights(tiny_folder, tmp_path):
    cfg = TrainConfig(dataset=str(tiny_folder), epochs=2, **CFG)
    every = train(cfg, tmp_path / "every", progress=False, ten_crop_every_snapshot=True)
    final = train(cfg, tmp_path / "final", progress=False)
    assert every.val10_top1.notna().tolist() == [True, True] and final.val10_top1.notna().tolist() == [False, True]
    assert final.val10_top1.iloc[-1] == every.val10_top1.iloc[-1]
    _assert_same_weights(_weights(tmp_path / "every" / "checkpoint.pt"), _weights(tmp_path / "final" / "checkpoint.pt"))


@pytest.mark.parametrize("compiled", [False, True])
def test_train_step_clips_and_returns_device_tensors_also_compiled(compiled):
    from zfviz.model.models import zfnet
    from zfviz.runs.train import train_step

    torch.manual_seed(0)
    model = zfnet(3, width=0.125, input_size=64, init="kaiming")
    opt = torch.optim.SGD(model.parameters(), lr=10.0)  # a huge step: filters leave the clipping radius
    net = torch.compile(model, backend="eager") if compiled else model  # eager backend: the wrapper, no C++ build
    loss, logits = train_step(net, opt, torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 0]), 0.1)
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0 and logits.shape == (4, 3)  # no host sync
    rms = [m.weight.detach().pow(2).mean(dim=(1, 2, 3)).sqrt() for m in model.modules()
           if isinstance(m, torch.nn.Conv2d)]
    assert max(float(r.max()) for r in rms) <= 0.1 + 1e-6  # clipping reached the compiled model's convs


def test_few_shot_epochs_and_the_batch_scaled_lr():
    from zfviz.runs.store import few_shot_epochs, scaled_lr

    assert few_shot_epochs(400, 1, 10, 10) == 400  # one full batch per epoch
    assert few_shot_epochs(400, 10, 10, 32) == 134  # 3 full batches of 32 per epoch
    assert scaled_lr(128) == pytest.approx(1e-2) and scaled_lr(10) == pytest.approx(1e-2 * 10 / 128)
    with pytest.raises(ValueError, match="batch_size"):
        scaled_lr(0)


def test_a_profile_that_drops_finished_checkpoints_keeps_the_run_finished(tiny_folder, tmp_path, monkeypatch):
    from zfviz.core import profiles
    from zfviz.runs.store import finished, snapshot_epochs

    lean = profiles.PROFILES["smoke"].replace(keep_checkpoint=False, fig4_models=())
    monkeypatch.setitem(profiles.PROFILES, "smoke", lean)
    cfg = TrainConfig(dataset=str(tiny_folder), epochs=3, **CFG)
    assert snapshot_epochs(cfg) == [3]  # not a Fig. 4 model at this profile: the last snapshot only
    train(cfg, tmp_path / "run", progress=False)
    assert finished(tmp_path / "run", 3) and not (tmp_path / "run" / "checkpoint.pt").exists()
    assert sorted(p.name for p in (tmp_path / "run" / "snapshots").iterdir()) == ["epoch_003.pt"]
    before = (tmp_path / "run" / "metrics.csv").read_text()
    train(cfg, tmp_path / "run", progress=False)  # finished: nothing is retrained
    assert (tmp_path / "run" / "metrics.csv").read_text() == before


def test_in_place_relus_train_the_same_weights_to_the_bit():
    """train() makes its model's ReLUs in-place (a faster step); ReLU's backward reads its output either way, so the
    weights are bitwise those of the default model, and the realization does not change."""
    from torch import nn

    from zfviz.model.models import build_model
    from zfviz.runs.train import train_step

    def weights(inplace: bool) -> dict:
        torch.manual_seed(0)
        net = build_model("zf", 10, width=0.125, input_size=64, init="transported").to(memory_format=torch.channels_last)
        for m in net.modules():
            if isinstance(m, nn.ReLU):
                m.inplace = inplace
        opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
        g = torch.Generator().manual_seed(1)
        for _ in range(3):
            train_step(net, opt, torch.randn(16, 3, 64, 64, generator=g), torch.randint(0, 10, (16,), generator=g), 0.1)
        return net.state_dict()

    a, b = weights(False), weights(True)
    assert all(torch.equal(a[k], b[k]) for k in a)
