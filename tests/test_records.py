"""Records of trained runs: the metrics readers take a recorded run instead of training it when runs/ is lost, a
record is trusted only by content, and an unfinished run's record never vouches for its last epoch."""

import json
import shutil

import pandas as pd
import pytest

from zfviz.cli import main
from zfviz.experiment import convergence_gap
from zfviz.runs.records import IDENTITY, METRICS, record_path, record_run, record_runs, recorded_epochs
from zfviz.runs.store import TrainConfig, run_dir
from zfviz.runs.train import train
from zfviz.runs.trained import run_curves, run_metrics, split_trained

CFG = dict(model="zf", profile="smoke", init="kaiming", lr=1e-3, batch_size=8, seed=3)


@pytest.fixture(scope="module")
def _trained_once(tiny_folder, tmp_path_factory):
    """A finished 3-epoch run and a 3-epoch run stopped after epoch 2, trained once for this module."""
    done = TrainConfig(dataset=str(tiny_folder), epochs=3, **CFG)
    half = TrainConfig(dataset=str(tiny_folder), epochs=3, **(CFG | {"seed": 4}))
    runs = tmp_path_factory.mktemp("records-runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZFVIZ_CACHE", str(runs.parent / "records-cache"))
        train(done, run_dir(done, runs), progress=False)
        train(half, run_dir(half, runs), progress=False, stop_after=2)
    return done, half, runs


@pytest.fixture
def trained(_trained_once, tmp_path):
    """The module's two runs, copied under tmp_path/runs for a test to read, record, rename or delete."""
    done, half, runs = _trained_once
    shutil.copytree(runs, tmp_path / "runs")
    return done, half, tmp_path / "runs"


def test_records_stand_for_lost_runs_in_every_metrics_reader(trained, tmp_path):
    done, half, runs = trained
    records = tmp_path / "records"
    before = run_metrics([done], runs_dir=runs)
    curves_before = run_curves([done, half], runs_dir=runs, until=2)
    written = record_runs(runs, records)
    assert sorted(w.name for w in written) == sorted(run_dir(c, runs).name for c in (done, half))
    assert recorded_epochs(record_path(done, records)) == 3
    assert recorded_epochs(record_path(half, records)) == 2  # unfinished: recorded as far as it got
    assert record_runs(runs, records) == []  # nothing new: nothing rewritten
    shutil.rmtree(runs)  # runs/ lost between sessions
    assert split_trained([done, half], runs_dir=runs, records_dir=records)[1] == [half.resolved()]
    assert split_trained([half], runs_dir=runs, records_dir=records, until=2)[1] == []
    after = run_metrics([done], runs_dir=runs, records_dir=records)
    assert not runs.exists()  # read from the record: nothing was trained
    cols = ["model", "seed", "epochs", "run", "val10_top1", "train_top1"]
    pd.testing.assert_frame_equal(after[cols], before[cols])
    curves = run_curves([done], runs_dir=runs, records_dir=records)
    pd.testing.assert_frame_equal(curves.drop(columns="run"), curves_before[curves_before.seed == 3]
                                  .drop(columns="run").reset_index(drop=True))
    assert not runs.exists()
    probe = run_curves([half], runs_dir=runs, records_dir=records, until=2)  # a prefix is all a probe needs
    assert not runs.exists() and probe.epoch.tolist() == [1, 2]
    # the half run's record cannot stand for the finished run: asking for it trains the run
    assert run_metrics([half], runs_dir=runs, records_dir=records).epochs.iloc[0] == 3 and runs.exists()


def test_a_record_not_matching_its_name_or_with_gaps_is_refused(trained, tmp_path):
    done, _, runs = trained
    records = tmp_path / "records"
    out = record_run(run_dir(done, runs), records)
    identity = json.loads((out / IDENTITY).read_text())
    identity["config"]["lr"] = 0.5  # an edited identity no longer hashes to the name
    (out / IDENTITY).write_text(json.dumps(identity))
    assert recorded_epochs(out) == 0
    out = record_run(run_dir(done, runs), records)  # recording again repairs it
    assert recorded_epochs(out) == 3
    m = pd.read_csv(out / METRICS)
    m[m.epoch != 2].to_csv(out / METRICS, index=False)  # a curve with a hole is not a prefix of the run
    assert recorded_epochs(out) == 0
    renamed = run_dir(done, runs).with_name(run_dir(done, runs).name[:-1] + "x")
    run_dir(done, runs).rename(renamed)
    with pytest.raises(ValueError, match="does not end with its identity's key"):
        record_run(renamed, records)
    with pytest.raises(FileNotFoundError, match="has no metrics.csv"):
        record_run(tmp_path, records)


def test_convergence_gap_reads_a_recorded_long_run(tiny_folder, tmp_path, monkeypatch):
    runs, records = tmp_path / "runs", tmp_path / "records"
    base = TrainConfig("zf", "smoke", seed=0, dataset=str(tiny_folder)).resolved()
    long = TrainConfig("zf", "smoke", seed=0, dataset=str(tiny_folder), epochs=2 * base.epochs).resolved()
    for c in (base, long):
        train(c, run_dir(c, runs), progress=False)
    gap = convergence_gap(["zf"], "smoke", runs_dir=runs, dataset=str(tiny_folder))
    record_runs(runs, records)
    shutil.rmtree(run_dir(long, runs))
    assert convergence_gap(["zf"], "smoke", runs_dir=runs, dataset=str(tiny_folder)).long_run.iloc[0] == ""
    monkeypatch.setenv("ZFVIZ_RECORDS", str(records))
    again = convergence_gap(["zf"], "smoke", runs_dir=runs, dataset=str(tiny_folder))
    assert not run_dir(long, runs).exists()  # read from the record, not retrained
    pd.testing.assert_frame_equal(again, gap)


def test_convergence_gap_without_train_trains_nothing(tiny_folder, tmp_path):
    """Chapter 09 executed with train=False quotes the gap; with no ZF run there it trained one (2026-12-01)."""
    gap = convergence_gap(["zf"], "smoke", runs_dir=tmp_path / "runs", dataset=str(tiny_folder))
    assert not (tmp_path / "runs").exists()
    assert gap.long_run.iloc[0] == "" and gap.val10_top1.isna().all() and gap["gap (points)"].isna().all()


def test_cli_record_writes_and_reports(trained, tmp_path, capsys):
    _, _, runs = trained
    assert main(["record", "--records", str(tmp_path / "rec"), *map(str, sorted(runs.iterdir()))]) == 0
    assert "2 records written" in capsys.readouterr().out
    assert main(["record", "--records", str(tmp_path / "rec"), str(tmp_path)]) == 2
    assert "has no metrics.csv" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="no runs folder at"):
        record_runs(tmp_path / "nowhere", tmp_path / "rec")


def test_dead_units_read_finished_runs_weights_and_skip_the_rest(trained, tmp_path):
    from zfviz.analysis.ablations import run_dead_units

    done, half, runs = trained
    got = run_dead_units([done, half], images=5, runs_dir=runs)
    assert set(got.seed) == {done.seed}  # the unfinished run has no final snapshot to read
    assert got.layer.tolist()[0] == "relu1" and got.dead.between(0, 1).all() and (got.units > 0).all()
    record_runs(runs)
    shutil.rmtree(run_dir(done, runs))
    assert split_trained([done], runs_dir=runs)[0]  # the record stands for the run's metrics ...
    assert run_dead_units([done], runs_dir=runs).empty  # ... but holds no weights to measure


def test_experiment_of_without_training_reads_a_finished_run_and_refuses_the_rest(trained):
    from zfviz.experiment import experiment_of, load_experiment

    done, half, runs = trained
    exp = experiment_of(done, runs_dir=runs, train=False)
    assert exp.epoch == 3 and exp.run == run_dir(done, runs)
    ref = load_experiment(**{k: getattr(done, k) for k in ("model", "profile", "seed", "dataset", "epochs", "init",
                                                             "lr", "batch_size")}, runs_dir=runs)
    assert ref.run == exp.run and list(ref.val.paths) == list(exp.val.paths)
    metrics = (run_dir(half, runs) / "metrics.csv").read_text()
    with pytest.raises(FileNotFoundError, match="not a finished run of 3 epochs; train it with python -m zfviz"):
        experiment_of(half, runs_dir=runs, train=False)
    assert (run_dir(half, runs) / "metrics.csv").read_text() == metrics  # nothing trained
