"""The plan printed before a book runs: which runs, their cost, the gpu profile's disk budget."""

from __future__ import annotations

from zfviz.book import plan
from zfviz.runs.store import TrainConfig


def test_chapter_runs_name_what_the_chapters_load():
    runs = plan.chapter_runs("02_fig2_top9", "cpu")
    assert [(c.model, c.seed, c.epochs) for c, _ in runs] == [("zf", s, 20) for s in (0, 1, 2)]
    ch05 = {(c.model, c.clip_radius, c.seed) for c, _ in plan.chapter_runs("05_fig6_architecture", "cpu")}
    assert ("zf", None, 2) in ch05 and ("alexnet", 0.1, 0) in ch05
    probes = [(c, e) for c, e in plan.chapter_runs("09_table3_ablations", "cpu") if c.init == "paper"]
    assert probes and all(e == 5 and c.epochs == 20 for c, e in probes)  # the first quarter of a 20-epoch budget
    # the companion chapter's small CNN is seconds, but its saliency and occlusion read a trained ZF (once missed)
    assert [(c.model, c.seed) for c, _ in plan.chapter_runs("12_companion_gradients", "cpu")] == [("zf", 0)]


def test_smoke_uses_the_small_parameters():
    seeds = {c.seed for c, _ in plan.chapter_runs("03_fig4_evolution", "smoke")}
    assert seeds == {0}  # book.SMOKE_PARAMETERS


def test_the_gpu_book_fits_a_30_gib_disk():
    df = plan.plan("gpu")
    assert df.disk_bytes.sum() <= 30 * 2**30, df.disk_bytes.sum() / 2**30
    assert (df.train_flops > 0).all() and len(df) >= 60


def test_run_cost_counts_a_few_shot_run_on_its_images():
    c = TrainConfig("zf", "cpu", dataset="imagewoof", train_per_class=1, batch_size=10, epochs=40)
    cost = plan.run_cost(c)
    assert cost["train_images"] == 400 and cost["few_shot"] == 1


def test_a_recorded_run_is_done_only_for_chapters_that_read_metrics_alone(monkeypatch):
    from pathlib import Path

    import zfviz.data.sets
    import zfviz.runs.records

    monkeypatch.setattr(zfviz.data.sets, "dataset_identity", lambda *a, **k: {})  # no data needed
    monkeypatch.setattr(TrainConfig, "run_name", lambda self, root=None, data=None: "lost")  # runs/ is empty
    monkeypatch.setattr(zfviz.runs.records, "recorded_epochs", lambda r: 10**6 if Path(r).name == "lost" else 0)
    alone = plan.plan("cpu", ["09_table3_ablations"])
    assert alone.trained.all()  # Table 3 reads metrics only: nothing to train
    both = plan.plan("cpu", ["01_training", "09_table3_ablations"])
    weights = both.chapters.str.contains("01")
    assert weights.any() and not both.trained[weights].any() and both.trained[~weights].all()
    monkeypatch.setattr(zfviz.runs.records, "recorded_epochs", lambda r: 0)
    assert not plan.plan("cpu", ["09_table3_ablations"]).trained.any()


def test_plan_hashes_each_dataset_once_and_names_runs_as_run_name_does(monkeypatch):
    import zfviz.data.sets

    calls, names = [], []
    fake = {"classes": ["a", "b"], "files": "0" * 16}
    monkeypatch.setattr(zfviz.data.sets, "dataset_identity", lambda *a, **k: calls.append(a[:2]) or fake)
    real_name = TrainConfig.run_name
    monkeypatch.setattr(TrainConfig, "run_name", lambda self, root=None, data=None: names.append(
        (self, data)) or real_name(self, root, data))
    df = plan.plan("cpu")
    assert len(calls) == len(set(calls)) == df.config.map(lambda c: (c.dataset, c.splits())).nunique() >= 2
    assert {c for c, _ in names} == set(df.config) and all(data is fake for _, data in names)
    c = df.config.iloc[0]
    assert real_name(c, None, fake) == real_name(c, None)  # the name a run directory gets from its own identity


def test_flops_counted_on_meta_weights_equal_a_built_models():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from zfviz.model.models import build_model

    train_flops, fwd, params = plan._flops("alexnet-no-conv34-fc67", 0.25, 64)
    net = build_model("alexnet-no-conv34-fc67", 10, width=0.25, input_size=64, init="kaiming")
    with FlopCounterMode(display=False) as counted, torch.no_grad():
        net.eval()(torch.zeros(1, 3, 64, 64))
    assert fwd == counted.get_total_flops() > 0 and params == sum(p.numel() for p in net.parameters())
    assert train_flops > 2 * fwd


def test_the_cpu_rate_is_measured_once_per_machine_and_says_so(tmp_path, monkeypatch):
    import zfviz.book.plan as plan_mod

    monkeypatch.setenv("ZFVIZ_CACHE", str(tmp_path))
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    calls, busy, notes = [], [0.0], []
    monkeypatch.setattr(plan_mod, "_measure_cpu", lambda profile: calls.append(profile) or (100e9, 7, 4.2))
    monkeypatch.setattr(plan_mod, "_others_busy", lambda before, seconds: busy[0])
    rate, how = plan_mod.device_rate("cpu", log=notes.append)
    assert rate == 100e9 and "in 4.2 s" in how and "cached in" in how and len(notes) == 1
    rate, how = plan_mod.device_rate("cpu", log=notes.append)
    assert len(calls) == 1 and "measured on ZF steps on " in how and "--remeasure" in how and len(notes) == 1
    busy[0] = 0.6  # a measurement beside other work is shown, flagged, and not cached
    rate, how = plan_mod.device_rate("cpu", remeasure=True)
    assert len(calls) == 2 and "60% of the CPU" in how and "not cached" in how
    assert plan_mod.device_rate("smoke")[0] == 100e9 and len(calls) == 3  # the cache is per profile



def test_the_summary_gives_the_route_to_paper_scale():
    import pandas as pd

    from zfviz.book import execute as book
    from zfviz.book.plan import plan

    box = book.paper_scale_box(pd.read_csv(book.RESULTS / "claims.csv"))
    gpu = plan("gpu")
    assert "`gpu`" in box and f"{(gpu.train_flops.sum() + gpu.eval_flops.sum()) / 1e15:,.0f} PFLOP" in box
    assert "`imagenet`" in box and "--profile gpu --plan" in box
    assert "## Reproduce at paper scale" in (book.RESULTS / "summary.md").read_text()
