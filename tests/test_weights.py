"""A finished run is read back verified (its snapshot's SHA-256 against DONE.json, its recorded identity against the
run's), caches derived from a model are keyed by its weights, and records carry the weights and the machine.
The reliability review's cases R01-R04 and R10 (2026-12-07) each fail on the code before this check existed."""

import json
import shutil

import pytest
import torch

from zfviz.core import machine
from zfviz.experiment import experiment_of, load_experiment
from zfviz.runs.records import WEIGHTS, record_run, record_weights
from zfviz.runs.store import DONE, TrainConfig, done_record, load_run, run_dir, run_predictions, snapshot_path
from zfviz.runs.train import train

CFG = dict(model="zf", profile="smoke", init="kaiming", lr=1e-3, batch_size=8, epochs=2)


@pytest.fixture(scope="module")
def _runs(tiny_folder, tmp_path_factory):
    """Finished 2-epoch runs: zf seeds 0 and 1, alexnet seed 0, trained once for this module."""
    runs = tmp_path_factory.mktemp("weights-runs")
    cfgs = {"zf0": TrainConfig(dataset=str(tiny_folder), seed=0, **CFG),
            "zf1": TrainConfig(dataset=str(tiny_folder), seed=1, **CFG),
            "alex0": TrainConfig(dataset=str(tiny_folder), seed=0, **(CFG | {"model": "alexnet"}))}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZFVIZ_CACHE", str(runs.parent / "weights-cache"))
        for c in cfgs.values():
            train(c, run_dir(c, runs), progress=False)
    return cfgs, runs


@pytest.fixture
def runs(_runs, tmp_path):
    cfgs, src = _runs
    shutil.copytree(src, tmp_path / "runs")
    return cfgs, tmp_path / "runs"


def test_done_json_and_record_carry_every_snapshots_hash_and_the_machine(runs, tmp_path):
    cfgs, root = runs
    run = run_dir(cfgs["zf0"], root)
    done = done_record(run)
    assert set(done["snapshots"]) == {"1", "2"} and done["snapshots"]["2"] == done["snapshot_sha256"]
    assert done["machines"][0]["cpu"] == machine.cpu_model() and done["machines"][0]["from_epoch"] == 1
    assert done["realization"] == machine.realization([machine.signature("cpu")]) and done["precision"] == "fp32"
    rec = record_run(run, tmp_path / "records")
    assert record_weights(rec)["snapshots"] == done["snapshots"]
    assert json.loads((rec / WEIGHTS).read_text())["machines"][0]["threads"] == torch.get_num_threads()


def test_a_record_is_replaced_by_another_realization_of_its_run(runs, tmp_path):
    cfgs, root = runs
    run = run_dir(cfgs["zf0"], root)
    rec = record_run(run, tmp_path / "records")
    assert record_run(run, tmp_path / "records") is None  # the same weights: nothing to do
    weights = json.loads((rec / WEIGHTS).read_text())
    (rec / WEIGHTS).write_text(json.dumps(weights | {"snapshot_sha256": "0" * 64}))  # as if trained elsewhere
    assert record_run(run, tmp_path / "records") == rec
    assert record_weights(rec)["snapshot_sha256"] == done_record(run)["snapshot_sha256"]


def test_R01_a_run_copied_under_another_seeds_name_is_refused(runs):
    cfgs, root = runs
    s1 = run_dir(cfgs["zf1"], root)
    shutil.rmtree(s1)
    shutil.copytree(run_dir(cfgs["zf0"], root), s1)
    with pytest.raises(ValueError, match=r"another run's weights \(model zf, seed 0.*this run is model zf, seed 1.*"
                                         r"differs in \['seed'\]"):
        experiment_of(cfgs["zf1"], runs_dir=root, train=False)
    with pytest.raises(ValueError, match="another run's weights"):
        run_predictions(s1, 2, experiment_of(cfgs["zf0"], runs_dir=root, train=False).val)


def test_R02_a_zf_run_holding_an_alexnet_snapshot_and_its_done_json_is_refused(runs):
    cfgs, root = runs
    zf, alex = run_dir(cfgs["zf0"], root), run_dir(cfgs["alex0"], root)
    shutil.copy(snapshot_path(alex, 2), snapshot_path(zf, 2))
    shutil.copy(alex / DONE, zf / DONE)
    (zf / "checkpoint.pt").unlink()  # (the training CLI would refuse the ZF checkpoint's mismatch on its own)
    with pytest.raises(ValueError, match="model alexnet.*this run is model zf"):
        load_experiment(runs_dir=root, **{k: v for k, v in vars(cfgs["zf0"]).items() if v is not None})


def test_R03_a_forged_done_json_over_another_seeds_snapshot_is_refused_by_readers_and_train(runs):
    cfgs, root = runs
    s0, s1 = run_dir(cfgs["zf0"], root), run_dir(cfgs["zf1"], root)
    shutil.copy(snapshot_path(s1, 2), snapshot_path(s0, 2))
    done = json.loads((s0 / DONE).read_text())
    forged = json.loads((s1 / DONE).read_text())["snapshot_sha256"]
    (s0 / DONE).write_text(json.dumps(done | {"snapshot_sha256": forged, "snapshots": {"2": forged}}))
    with pytest.raises(ValueError, match="seed 1.*this run is model zf, seed 0"):
        experiment_of(cfgs["zf0"], runs_dir=root, train=False)
    with pytest.raises(ValueError, match="seed 1.*this run is model zf, seed 0"):
        train(cfgs["zf0"], s0, progress=False)


def test_R04_train_into_another_finished_run_without_a_checkpoint_is_refused(runs, tmp_path):
    cfgs, root = runs
    out = tmp_path / "PS0"
    shutil.copytree(run_dir(cfgs["zf0"], root), out)
    (out / "checkpoint.pt").unlink()  # as a profile that keeps no finished checkpoint leaves it
    seed7 = TrainConfig(**(vars(cfgs["zf0"]) | {"seed": 7}))
    with pytest.raises(ValueError, match="seed 0.*this run is model zf, seed 7"):
        train(seed7, out, progress=False)
    train(cfgs["zf0"], out, progress=False)  # its own run: finished, verified, nothing trained


def test_a_snapshot_edited_after_finishing_is_refused_by_its_readers(runs):
    cfgs, root = runs
    run = run_dir(cfgs["zf0"], root)
    state = torch.load(snapshot_path(run, 1), weights_only=True)
    state["model"]["conv1.weight"] += 1e-3
    torch.save(state, snapshot_path(run, 1))
    with pytest.raises(ValueError, match="not the snapshot .*DONE.json vouches for"):
        load_run(run, 1)
    assert load_run(run, 2)[1]["epoch"] == 2


def test_R10_predictions_are_cached_by_the_weights_not_by_the_run_name(runs):
    cfgs, root = runs
    run = run_dir(cfgs["zf0"], root)
    val = experiment_of(cfgs["zf0"], runs_dir=root, train=False).val
    before = run_predictions(run, 2, val, ten=False)
    # the run trained again under the same name with other weights (a repair, another machine): new snapshot, new
    # DONE.json vouching for it
    torch.manual_seed(0)
    state = torch.load(snapshot_path(run, 2), weights_only=True)
    state["model"]["fc8.weight"] = torch.randn_like(state["model"]["fc8.weight"])
    torch.save(state, snapshot_path(run, 2))
    from zfviz.data.files import sha256_file

    new = sha256_file(snapshot_path(run, 2))
    done = done_record(run)
    (run / DONE).write_text(json.dumps(done | {"snapshot_sha256": new, "snapshots": done["snapshots"] | {"2": new}}))
    after = run_predictions(run, 2, val, ten=False)
    assert not torch.allclose(before, after)  # the new weights' probabilities, not the old model's cached ones


def test_bf16_is_its_own_run_and_refused_where_the_cpu_lacks_it(tiny_folder, monkeypatch):
    fp32 = TrainConfig(dataset=str(tiny_folder), seed=0, **CFG)
    bf16 = TrainConfig(dataset=str(tiny_folder), seed=0, precision="bf16", **CFG)
    assert fp32.key() != bf16.key() and "precision" not in fp32.identity()["config"]
    assert TrainConfig(profile="gpu").resolved().precision == "bf16"
    assert TrainConfig(profile="cpu").resolved().precision == "fp32"
    with pytest.raises(ValueError, match="unknown precision 'fp16'; valid: fp32, bf16"):
        TrainConfig(precision="fp16").resolved()
    monkeypatch.setattr(machine, "native_bf16", lambda: False)
    with pytest.raises(ValueError, match="has no native bf16"):
        train(bf16, progress=False)


@pytest.mark.slow
def test_bf16_training_learns_like_fp32_within_seed_noise(tiny_folder, tmp_path, monkeypatch):
    """The smoke geometry under bf16 autocast (CPU; native or not, forced here so any CI machine runs it) against
    fp32, 3 seeds each: the final training loss and the loss curve agree within the seeds' spread, with feature scale
    clipping engaging (a small radius) and the fused LRN on both paths."""
    import numpy as np
    import pandas as pd

    monkeypatch.setattr(machine, "native_bf16", lambda: True)
    curves = {}
    for precision in ("fp32", "bf16"):
        for seed in range(3):
            cfg = TrainConfig(dataset=str(tiny_folder), seed=seed, precision=precision, clip_radius=0.02,
                              **(CFG | {"epochs": 6, "lr": 5e-3}))
            df = train(cfg, tmp_path / f"{precision}-{seed}", progress=False)
            assert df.clipped_per_step.gt(0).any(), (precision, seed)  # clipping acted
            curves[(precision, seed)] = df.train_loss.to_numpy()
    final = pd.DataFrame([(p, s, c[-1], c[0]) for (p, s), c in curves.items()],
                         columns=["precision", "seed", "last", "first"])
    assert (final["last"] < final["first"]).all()  # every run learned
    means, sd = final.groupby("precision")["last"].mean(), final.groupby("precision")["last"].std().max()
    assert abs(means.bf16 - means.fp32) <= 3 * max(sd, 0.02)
    gap = np.abs(np.mean([curves[("bf16", s)] for s in range(3)], 0) - np.mean([curves[("fp32", s)] for s in range(3)], 0))
    spread = np.std([curves[("fp32", s)] for s in range(3)], 0, ddof=1)
    assert (gap <= 3 * np.maximum(spread, 0.02)).all()
