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

from zfviz import checkpoint
from zfviz.train import TrainConfig, load_trained, train

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
    assert df.val10_top1.notna().tolist() == [True, True, False, False, True]
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
    # a finished shorter run of the same identity is extended, not restarted
    short = TrainConfig(dataset=str(tiny_folder), epochs=2, **CFG)
    assert short.run_name() == cfg.run_name()
    train(short, tmp_path / "extended", progress=False)
    train(cfg, tmp_path / "extended", progress=False)
    _assert_same_weights(_weights(tmp_path / "straight" / "checkpoint.pt"),
                         _weights(tmp_path / "extended" / "checkpoint.pt"))


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
    with pytest.raises(ValueError, match=r"different config \(differs in \['seed'\]\)"):
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
