import math

import numpy as np
import pandas as pd
import pytest

from zfviz.analysis.ablations import (
    PARTS,
    comparable_rows,
    part_evidence,
    part_statistics,
    takeoff_epochs,
    takeoff_label,
)
from zfviz.evidence import claims
from zfviz.evidence.paper import TABLE3


def test_parts_name_only_table3_rows():
    for rows, _ in PARTS.values():
        assert set(rows) <= set(TABLE3.index)


def test_takeoff_is_the_first_epoch_above_chance_and_rows_need_an_early_one():
    curves = pd.DataFrame({"run": ["a"] * 4 + ["b"] * 4, "model": ["zf"] * 4 + ["zf-wide"] * 4,
                           "init": "paper", "seed": 0, "epoch": [1, 2, 3, 4] * 2,
                           "val_top1": [10, 12, 40, 60, 10, 10, 11, 12]})
    t = takeoff_epochs(curves, chance=10.0, margin=5.0)
    assert t.set_index("run").takeoff["a"] == 3 and math.isnan(t.set_index("run").takeoff["b"])
    ok = comparable_rows(t, share=0.75)
    assert ok["zf"] and not ok["zf-wide"]  # never left chance: not comparable
    assert not comparable_rows(t, share=0.5)["zf"]  # epoch 3 of 4 is past half the budget



def test_takeoff_of_a_prefix_run_is_judged_against_its_budget_and_labelled():
    # runs trained only 2 epochs of a 10-epoch budget (a take-off probe), and one trained to its end
    curves = pd.DataFrame({"run": ["a", "a", "b", "b"] + ["c"] * 10, "model": ["zf"] * 2 + ["zf-wide"] * 12,
                           "init": "paper", "seed": [0, 0, 0, 0] + [1] * 10, "budget": 10,
                           "epoch": [1, 2, 1, 2] + list(range(1, 11)), "val_top1": [10, 30, 10, 11] + [10] * 10})
    t = takeoff_epochs(curves, chance=10.0, margin=5.0)
    assert t.epochs.tolist() == [10, 10, 10] and t.seen.tolist() == [2, 2, 10]
    ok = comparable_rows(t, share=0.25)
    assert ok["zf"] and not ok["zf-wide"]  # epoch 2 is within 2.5; "not yet" and "never" are not
    assert [takeoff_label(t.iloc[[i]]) for i in range(3)] == ["2", "> 2", "never"]
    assert takeoff_label(t[t.model == "zf-wide"]) == "> 2, never"

def test_part_statistics_match_the_paper_on_its_own_numbers_and_resample_seeds():
    # the paper's Table 3 as if it were three identical seeds per row: the CIs collapse onto the paper's statistics
    errs = pd.DataFrame([{"model": m, "seed": s, "val_err": r.val_top1_err, "train_err": r.train_top1_err}
                         for m, r in TABLE3.iterrows() for s in range(3)])
    st = part_statistics(errs).set_index("part")
    assert st.estimate["C2a"] == pytest.approx(71.3 - 45.4)
    assert st.estimate["C2c"] == pytest.approx(38.4 - 37.5)
    assert st.estimate["C2e"] == pytest.approx(45.4 - 40.5)  # the larger cost of removing one pair
    assert np.allclose(st.ci_low, st.estimate, atol=1e-3) and np.allclose(st.ci_high, st.estimate, atol=1e-3)
    assert (st.seeds == 3).all()
    # seed noise widens the CI around the seed mean, as a t with 2 degrees of freedom would (not a 3-seed bootstrap)
    rng = np.random.default_rng(0)
    noisy = errs.assign(val_err=errs.val_err + rng.normal(0, 1, len(errs)))
    st2 = part_statistics(noisy).set_index("part")
    assert (st2.ci_low < st2.estimate).all() and (st2.estimate < st2.ci_high).all()
    c2c = noisy[noisy.model.isin(["zf", "zf-wide"])].groupby("model").val_err
    se = np.sqrt((c2c.var() / 3).sum())
    assert st2.ci_high["C2c"] - st2.ci_low["C2c"] > 2 * 2.3 * se  # wider than a normal interval would be
    # a part's CI depends on its own rows only: training another row (here removing one) leaves it as it was
    fewer = part_statistics(noisy[noisy.model != "alexnet-fc2048"]).set_index("part")  # sorts before the rest
    assert fewer.ci_low["C2e"] == st2.ci_low["C2e"] and fewer.ci_high["C2c"] == st2.ci_high["C2c"]
    # a missing row leaves its parts without a statistic (n = 0), the others untouched
    part = part_statistics(errs[errs.model != "zf-wide"]).set_index("part")
    assert math.isnan(part.estimate["C2c"]) and part.seeds["C2c"] == 0 and part.seeds["C2e"] == 3
    assert part.missing["C2c"] == "zf-wide"
    # a row with fewer seeds than asked for is missing too: a part is not decided half-way through a row's seeds
    part = part_statistics(errs[(errs.model != "zf") | (errs.seed == 0)], seeds=3).set_index("part")
    assert part.missing["C2c"] == "zf" and part.missing["C2b"] == "zf" and part.seeds["C2b"] == 0
    assert part.missing["C2e"] == "" and part.seeds["C2e"] == 3


def _paper_errors(models, seeds=3, shift=0.0):
    return pd.DataFrame([{"model": m, "seed": s, "val_err": TABLE3.val_top1_err[m] + shift * s,
                          "train_err": TABLE3.train_top1_err[m]} for m in models for s in range(seeds)])


def test_part_evidence_decides_parts_on_their_rows_only():
    # only the rows of C2a and C2e trained: those parts are decided, the others are "not run" naming their rows, and
    # the composite is not run while a part is
    rows = ["alexnet", "alexnet-no-conv34", "alexnet-no-fc67", "alexnet-no-conv34-fc67"]
    stats = part_statistics(_paper_errors(rows, shift=0.1))
    compared = pd.Series(True, index=rows).reindex(TABLE3.index)
    evs = {e.claim: e for e in part_evidence(stats, compared, "cpu")}
    verdict = {k: claims.decide(claims.REGISTRY[k], e) for k, e in evs.items()}
    assert verdict["C2a"] == verdict["C2e"] == "reproduced"
    assert verdict["C2c"] == "not run" and evs["C2c"].n == 0 and "zf, zf-wide" in evs["C2c"].missing
    assert "): not run." in claims.composite_line("C2", list(evs.values()))
    # the paper's own numbers upside down: removing a pair lowers the error, so C2e (and hence C2) is not reproduced
    flipped = _paper_errors(rows).assign(val_err=lambda d: 100 - d.val_err)
    evs = part_evidence(part_statistics(flipped), compared, "cpu")
    assert "not reproduced." in claims.composite_line("C2", evs)
    # a row that left chance late makes its parts not testable, whatever the numbers
    late = compared.copy()
    late["alexnet-no-conv34"] = False
    ev = {e.claim: e for e in part_evidence(stats, late, "cpu")}["C2e"]
    assert claims.decide(claims.REGISTRY["C2e"], ev) == "not testable at this scale"
    assert "(left chance late or never): alexnet-no-conv34" in ev.note
    # the convergence sentence goes into the note of a part that is run, never into a "not run" part's
    evs = {e.claim: e for e in part_evidence(stats, late, "cpu", convergence="Convergence: zf +3.8 points.")}
    assert evs["C2e"].note.endswith("alexnet-no-conv34. Convergence: zf +3.8 points.")
    evs = {e.claim: e for e in part_evidence(stats, compared, "cpu", convergence="Convergence: zf +3.8 points.")}
    assert evs["C2a"].note == "Convergence: zf +3.8 points." and "Convergence" not in evs["C2c"].note


def test_composite_line_rejects_a_simple_claim():
    with pytest.raises(ValueError, match="C1 is not a composite claim; composites: \\['C2'"):
        claims.composite_line("C1", [])


def test_ablation_table_lists_every_row_when_an_init_has_no_run():
    """train=False with nothing trained under one init (chapter 09 at cpu, 2026-11-30): every row is listed, the
    paper's numbers beside ours, and the missing take-off reads "not run"."""
    from zfviz.analysis.ablations import ablation_table, reader_tables

    rows = list(TABLE3.index)
    final = pd.DataFrame([{"model": m, "seed": s, "epochs": 20, "val_err": 30.0 + s, "train_err": 20.0}
                          for m in ("zf", "alexnet") for s in range(3)])
    curves = pd.DataFrame({"run": [f"{m}{s}" for m in ("zf", "alexnet") for s in range(3)], "init": "transported",
                           "model": [m for m in ("zf", "alexnet") for _ in range(3)], "seed": [0, 1, 2] * 2,
                           "epoch": 1, "budget": 20, "val_top1": 40.0})
    takeoff = takeoff_epochs(curves, chance=10.0)
    table = ablation_table(final, takeoff, ["transported", "paper"], "transported", rows)
    assert list(table.index) == rows and table["paper val err %"].notna().all()
    assert (table["take-off epoch per seed (paper init)"] == "not run").all()
    assert table.loc["zf", "take-off epoch per seed (transported init)"] == "1, 1, 1"
    assert table.loc["zf-wide", "ours val range"] == "not run" and table.loc["zf", "ours val range"] == "30.0-32.0"
    # the reader's two tables: every row, the paper beside ours, a missing row and a missing take-off say "not run"
    errors, takeoff_table = reader_tables(table)
    assert list(errors.index) == list(takeoff_table.index) == rows
    assert errors.loc["zf", ("val top-1 error %", "ours")] == "31.0 (30.0-32.0)"
    assert errors.loc["zf", ("val top-1 error %", "paper")] == f"{TABLE3.val_top1_err['zf']:.1f}"
    assert errors.loc["zf-wide", ("val top-1 error %", "ours")] == "not run"
    assert (takeoff_table.loc["zf-wide", ("", "epochs x seeds")] == "not run"
            and takeoff_table.loc["zf", ("", "epochs x seeds")] == "20 x 3")
    assert takeoff_table.loc["zf", ("", "Table 3 row")] == TABLE3.row["zf"]
    assert errors.loc["zf", ("val change vs base, points", "ours")] == "base"
    assert errors.loc["zf-wide", ("val change vs base, points", "ours")] == "not run"  # not "base" (2026-12-01)
    assert errors.loc["alexnet-fc2048", ("val change vs base, points", "paper")].startswith(("+", "-"))
    assert takeoff_table.loc["zf", ("", "compared (take-off rule)")] == "yes"
    assert takeoff_table.loc["zf-wide", ("", "compared (take-off rule)")] == "not run"
    assert takeoff_table.loc["zf", ("take-off epoch per seed", "transported init")] == "1, 1, 1"


def test_dead_units_counts_channels_never_positive_and_leaves_the_model_as_it_was():
    import torch
    from torch import nn

    from zfviz.analysis.ablations import dead_units

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3), nn.ReLU())
    with torch.no_grad():
        net[0].weight[1:3] = 0
        net[0].bias[1:3] = torch.tensor([-0.1, 0.0])  # zero is not positive: dead too
        net[0].bias[[0, 3]] = 5.0  # positive whatever the input in [0, 1]
        net[3].weight.zero_()
        net[3].bias.copy_(torch.tensor([1.0, -1.0, 0.5]))
    net.train()
    got = dead_units(net, torch.rand(7, 3, 8, 8), batch_size=3)  # three batches: the peak is kept across them
    assert got.layer.tolist() == ["1", "4"] and got.units.tolist() == [4, 3]
    assert got.dead.tolist() == pytest.approx([0.5, 1 / 3])
    assert net.training and not net[1]._forward_hooks  # mode restored, hooks removed
    only = dead_units(net, torch.rand(2, 3, 8, 8), layers={"conv relu": net[1]})
    assert only.layer.tolist() == ["conv relu"]
    with pytest.raises(ValueError, match="at least one image"):
        dead_units(net, torch.rand(0, 3, 8, 8))
    with pytest.raises(ValueError, match="no nn.ReLU"):
        dead_units(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2)), torch.rand(2, 3, 8, 8))


def test_dead_unit_table_lists_seeds_per_layer_and_leaves_absent_layers_blank():
    from zfviz.analysis.ablations import dead_unit_table

    dead = pd.DataFrame({"model": ["alexnet"] * 4 + ["alexnet-no-conv34"] * 2, "seed": [1, 1, 0, 0, 0, 0],
                         "layer": ["relu2", "relu3", "relu2", "relu3", "relu2", "relu5"],
                         "units": 4, "dead": [0.5, 0.0, 0.25, 0.0, 1.0, 0.0]})
    t = dead_unit_table(dead, ["alexnet-no-conv34", "zf", "alexnet"])
    assert t.index.tolist() == ["alexnet-no-conv34", "alexnet"]  # the order asked for; rows without runs left out
    assert t.columns.tolist() == ["relu2"]  # relu3 and relu5 have no dead unit anywhere: left out
    assert t.loc["alexnet", "relu2"] == "0.25, 0.50" and t.loc["alexnet-no-conv34", "relu2"] == "1.00"
    dead.loc[5, "dead"], dead.loc[1, "dead"] = 0.1, 0.004  # relu3's 0.004 would read 0.00: still left out
    t = dead_unit_table(dead, ["alexnet-no-conv34", "alexnet"])
    assert t.columns.tolist() == ["relu2", "relu5"] and t.loc["alexnet", "relu5"] == ""  # a layer it lacks
    assert dead_unit_table(dead.iloc[:0], ["zf"]).empty
