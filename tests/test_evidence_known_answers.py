"""Known answers for every claim's evidence function and for the registry's rules: a synthetic input whose statistic,
direction and verdict are known. A flipped sign, a swapped rule direction, a population sd, a sign error in the
unequal-seed pivot or an off-by-one in the seed count each fails here (the 2026-12-07 audit's surviving mutations)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats as sps

from zfviz.evidence import claims, stats
from zfviz.evidence.claims import REGISTRY, decide

# ---- the rules, pinned: changing one is a registration, and must show here -----------------------------------------

RULES = {  # claim: (kind, null, min_effect, min_n, min_seeds)
    "C1": ("greater", 0.0, 0.5, 3, 3), "C2a": ("greater", 0.0, 2.0, 3, 3), "C2b": ("less", 2.0, 2.0, 3, 3),
    "C2c": ("greater", 0.0, 0.5, 3, 3), "C2d": ("greater", 0.0, 2.0, 3, 3), "C2e": ("less", 6.0, 6.0, 3, 3),
    "C3": ("greater", 0.0, 1.0, 3, 3), "C4a": ("greater", 0.0, 0.05, 50, 3), "C4b": ("greater", 0.0, 0.05, 50, 3),
    "C4c": ("greater", 0.0, 0.05, 20, 3), "C5": ("greater", 0.0, 0.02, 3, 3), "C6a": ("greater", 0.0, 0.02, 3, 3),
    "C6b": ("greater", 0.0, 0.02, 3, 3), "C7a": ("greater", 0.0, 0.05, 100, 3),
    "C7b": ("greater", 0.0, 0.02, 100, 3), "C7c": ("greater", 0.0, 0.1, 100, 3),
    "C8": ("greater", 0.0, 0.005, 20, 3), "C9": ("greater", 0.0, 2.0, 3, 3), "C10": ("greater", 0.0, 0.5, 3, 3),
    "C11": ("greater", 0.0, 0.05, 3, 3), "companion": ("greater", 0.0, 0.0, 1000, 1),
    "S1a": ("greater", 0.2, 0.2, 50, 3), "S1b": ("greater", 0.0, 0.05, 50, 3),
}
CHECKS = {"C2a": (1.0, None), "C2d": (None, 10.0), "C5": (0.01, None), "C10": (0.5, None), "companion": (60000, None)}


@pytest.mark.parametrize("cid", sorted(RULES))
def test_every_rule_is_pinned(cid):
    c = REGISTRY[cid]
    assert (c.kind, c.null, c.min_effect, c.min_n, c.min_seeds) == RULES[cid]
    assert (c.check_min, c.check_max) == CHECKS.get(cid, (None, None))
    assert c.rule_status in claims.RULE_STATUSES and c.rule_fixed[:4] == "2026"


@pytest.mark.parametrize("cid", sorted(RULES))
def test_every_rule_decides_its_own_direction(cid):
    c = REGISTRY[cid]
    m, sign = c.min_effect, (1 if c.kind == "greater" else -1)
    n, seeds = max(c.min_n, 1), c.min_seeds
    side = lambda d: claims.evidence(cid, m + sign * d, (m + sign * d - 0.001, m + sign * d + 0.001), n, "cpu",  # noqa
                                     seeds=seeds)
    assert decide(c, side(1.0)) == "reproduced" and decide(c, side(-1.0)) == "not reproduced"
    straddle = claims.evidence(cid, m, (m - 1, m + 1), n, "cpu", seeds=seeds)
    assert decide(c, straddle) == "inconclusive"


def test_one_seed_fewer_than_the_rule_pools_is_not_run():
    c = REGISTRY["C1"]
    for seeds, verdict in ((2, "not run"), (3, "reproduced")):
        assert decide(c, claims.evidence("C1", 3.0, (2.0, 4.0), 3, "cpu", seeds=seeds)) == verdict


def test_a_failed_registered_check_is_not_testable_and_shows_its_value():
    ev = claims.evidence("C2d", 5.0, (4.0, 6.0), 3, "cpu", seeds=3, check_value=19.3)  # reproduced by its CI ...
    assert decide(REGISTRY["C2d"], ev) == "not testable at this scale"  # ... but no row fits its training set
    assert "measured 19.3" in claims.verdict_line(ev)
    ok = claims.evidence("C2d", 5.0, (4.0, 6.0), 3, "cpu", seeds=3, check_value=9.0)
    assert decide(REGISTRY["C2d"], ok) == "reproduced"
    row = claims.table([ev]).set_index("claim").loc["C2d"]
    assert row.check_value == 19.3 and "at most 10" in row.check and row.rule_fixed == "2026-12-07"


# ---- the statistics: exact answers where the design makes them exact -----------------------------------------------

def test_group_difference_uses_the_sample_sd_of_per_seed_differences():
    # items constant: the interval is Student's t with 2 df on the seed differences 0, 1, 2 (sd 1, not 0.816)
    a = np.array([[0.0] * 40, [1.0] * 40, [2.0] * 40])
    est, lo, hi, n = stats.group_difference(a, np.zeros((3, 30)))
    half = sps.t.ppf(0.975, 2) * 1 / math.sqrt(3)
    assert est == 1.0 and n == 3 and abs(hi - (1 + half)) < 0.25 and abs(lo - (1 - half)) < 0.25


def test_paired_difference_unequal_seeds_subtracts_the_residual_each_seed_mean_square_carries(monkeypatch):
    rng = np.random.default_rng(3)
    a = rng.normal(0, 1, (3, 50)) + rng.normal(0, 0.5, (3, 1))
    b = rng.normal(0, 1, (5, 50))
    seen = {}

    def spy(est, seed_terms, rest, n, seed, level=stats.LEVEL):
        seen.update(seed_terms=seed_terms, rest=rest)
        return est, 0.0, 0.0, n

    monkeypatch.setattr(stats, "_generalized", spy)
    stats.paired_difference(a, b)
    m = a.shape[1]

    def anova(x):  # two-way crossed mean squares, written out
        s = len(x)
        g, rows, cols = x.mean(), x.mean(1), x.mean(0)
        ms_s = m * ((rows - g) ** 2).sum() / (s - 1)
        ms_r = ((x - rows[:, None] - cols[None] + g) ** 2).sum() / ((s - 1) * (m - 1))
        return ms_s, ms_r

    d = a.mean(0) - b.mean(0)
    rest = d.var(ddof=1) / m - sum(anova(x)[1] / (len(x) * m) for x in (a, b))
    assert seen["rest"] == pytest.approx(rest)
    assert [t for t, _ in seen["seed_terms"]] == pytest.approx([anova(x)[0] / (len(x) * m) for x in (a, b)])


# ---- each evidence function on a synthetic input -------------------------------------------------------------------

def _probs(correct: np.ndarray, classes: int = 4) -> torch.Tensor:
    """(seeds, images, classes) probabilities right (label 0) where ``correct`` is True."""
    p = torch.full((*correct.shape, classes), 0.1)
    p[..., 0] = torch.where(torch.as_tensor(correct), 0.7, 0.0)
    p[..., 1] = torch.where(torch.as_tensor(correct), 0.1, 0.7)
    return p


def test_c1_alexnet_worse_than_zf_is_a_positive_gap():
    from zfviz.analysis.comparison import c1_evidence

    rng = np.random.default_rng(0)
    zf = rng.random((3, 2000)) > 0.20
    alex = rng.random((3, 2000)) > 0.25
    ev = c1_evidence({"AlexNet replica": _probs(alex), "ZF": _probs(zf)}, torch.zeros(2000, dtype=torch.long), "cpu")
    assert ev.estimate == pytest.approx(100 * ((~alex).mean() - (~zf).mean()))
    assert ev.estimate > 3 and decide(REGISTRY["C1"], ev) == "reproduced"


def test_c11_pure_conv5_and_mixed_conv1():
    from zfviz.analysis.topk import c11_evidence

    labels = torch.arange(90) % 10  # image i has class i % 10
    tables = []
    for s in range(3):
        rows = [("conv5", ch, 10 * j + ch % 10) for ch in range(20) for j in range(9)]  # one class per map
        rows += [("conv1", ch, (ch + j + s) % 90) for ch in range(20) for j in range(9)]  # nine classes per map
        tables.append(pd.DataFrame(rows, columns=["layer", "channel", "image"]))
    ev = c11_evidence(tables, labels, "cpu")
    assert ev.estimate == pytest.approx(1 - 1 / 9) and decide(REGISTRY["C11"], ev) == "reproduced"


def test_c5_not_testable_where_clipping_never_acts_and_signed_where_it_does():
    from zfviz.analysis.filters import c5_evidence

    top3 = {"ZF": [0.10, 0.11, 0.12], "ZF, no clipping": [0.30, 0.32, 0.31]}
    idle = c5_evidence(top3, [5, 5, 5], [0.1, 0.1, 0.1], "cpu", clipped_per_step=0.0)
    assert decide(REGISTRY["C5"], idle) == "not testable at this scale" and idle.check_value == 0.0
    acting = c5_evidence(top3, [5, 5, 5], [0.1, 0.1, 0.1], "cpu", clipped_per_step=2.5)
    assert acting.estimate == pytest.approx(0.2) and decide(REGISTRY["C5"], acting) == "reproduced"


def test_c6a_alexnet_with_more_structureless_filters_is_positive():
    from zfviz.analysis.filters import c6a_evidence

    rows = [(m, s, f, f < dead) for m, dead in (("AlexNet", 20), ("ZF", 2)) for s in range(3) for f in range(48)]
    filters = pd.DataFrame(rows, columns=["model", "seed_index", "filter", "structureless"])
    ev = c6a_evidence(filters, "cpu")
    assert ev.estimate == pytest.approx((20 - 2) / 48) and decide(REGISTRY["C6a"], ev) == "reproduced"


def test_c6b_more_aliasing_in_alexnet_is_positive():
    from zfviz.analysis.filters import c6b_evidence

    rng = np.random.default_rng(1)
    base = rng.random((3, 60)) * 0.01
    ev = c6b_evidence({"AlexNet": base + 0.05, "ZF": base}, "cpu")
    assert ev.estimate == pytest.approx(0.05) and decide(REGISTRY["C6b"], ev) == "reproduced"


def test_c4_wraps_each_part_with_its_sign():
    from zfviz.analysis.invariance import c4_evidence

    st = pd.DataFrame([("C4a", 0.2, 0.15, 0.25, 100, 3), ("C4b", -0.2, -0.25, -0.15, 60, 3),
                       ("C4c", 0.01, -0.1, 0.12, 50, 3)],
                      columns=["part", "estimate", "ci_low", "ci_high", "images", "seeds"])
    v = {e.claim: decide(REGISTRY[e.claim], e) for e in c4_evidence(st, "cpu")}
    assert v == {"C4a": "reproduced", "C4b": "not reproduced", "C4c": "inconclusive"}


def test_c7a_on_object_drop_larger_is_positive_and_c7c_chance_corrected():
    from zfviz.analysis.occlusion import c7_object_evidence

    rng = np.random.default_rng(2)
    rows = [(s, i, 0.2 + rng.normal(0, 0.01), 1.0, 0.4) for s in range(3) for i in range(120)]
    df = pd.DataFrame(rows, columns=["seed", "image", "matched", "worst_on", "worst_chance"])
    ev = {e.claim: e for e in c7_object_evidence(df, "cpu")}
    assert ev["C7a"].estimate == pytest.approx(df.matched.mean()) and ev["C7a"].estimate > 0
    assert ev["C7c"].estimate == pytest.approx(0.6)
    assert decide(REGISTRY["C7a"], ev["C7a"]) == decide(REGISTRY["C7c"], ev["C7c"]) == "reproduced"
    flipped = {e.claim: e for e in c7_object_evidence(df.assign(matched=-df.matched), "cpu")}
    assert decide(REGISTRY["C7a"], flipped["C7a"]) == "not reproduced"


def test_c7b_projection_against_the_strongest_baseline():
    from zfviz.analysis.occlusion import c7b_evidence

    rows = [(s, i, 0.5, 0.3, 0.2, 0.1) for s in range(3) for i in range(120)]
    drops = pd.DataFrame(rows, columns=["seed", "image", "drop_projection", "drop_rf_centre", "drop_gradient",
                                        "drop_random"])
    ev = c7b_evidence(drops, "cpu")
    assert ev.estimate == pytest.approx(0.2) and "Best baseline: rf_centre" in ev.note
    assert decide(REGISTRY["C7b"], ev) == "reproduced"


def test_c8_random_parts_farther_than_landmarks_is_positive():
    from zfviz.analysis.correspondence import c8_evidence

    rows = []
    for net_shift in (0.0,):
        for s in range(3):
            for i in range(25):
                j = (i + 1) % 25
                rows += [(s, i, j, "conv5", "eyes", 0.40 + net_shift), (s, i, j, "conv5", "random 1", 0.45)]
    pairs = pd.DataFrame(rows, columns=["seed", "i", "j", "layer", "location", "distance"])
    control = pairs.assign(distance=0.5)
    gaps, ev = c8_evidence(pairs, control, ["conv5"], "cpu")
    assert ev.estimate == pytest.approx(0.05) and decide(REGISTRY["C8"], ev) == "reproduced"
    _, rev = c8_evidence(pairs.assign(distance=np.where(pairs.location == "eyes", 0.45, 0.40)), control, ["conv5"],
                         "cpu")
    assert decide(REGISTRY["C8"], rev) == "not reproduced"


def test_c10_coverage_check_and_the_rising_trend():
    from zfviz.analysis.probes import c10_evidence

    layers = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6"]
    rows = [(s, sp, "svm", 5, layer, 20 + 10 * i + sp) for s in range(3) for sp in range(5)
            for i, layer in enumerate(layers)]
    results = pd.DataFrame(rows, columns=["seed", "split", "classifier", "k", "layer", "accuracy"])
    seen = c10_evidence(results, layers, 5, "cpu", 1.0, None, "imagenette", source_classes=["a", "b"],
                        target_classes=["a", "b"])
    assert seen.estimate == pytest.approx(1.0) and decide(REGISTRY["C10"], seen) == "reproduced"
    unseen = c10_evidence(results, layers, 5, "cpu", 1.0, None, "imagewoof", source_classes=["a", "b"],
                          target_classes=["c", "d"])
    assert unseen.check_value == 0 and decide(REGISTRY["C10"], unseen) == "not testable at this scale"


def test_s1_a_and_b_from_their_tables():
    from zfviz.analysis.sanity import s1_evidence

    cascade = pd.DataFrame([(s, i, "deconvnet", r, 1.0 if r == 0 else 0.3) for s in range(3) for i in range(60)
                            for r in (0, 5)], columns=["seed", "image", "method", "randomized", "spearman"])
    switches = pd.DataFrame([(s, i, c, v) for s in range(3) for i in range(60) for c, v in
                             (("same unit, other switches", 0.8), ("other unit, same switches", 0.5))],
                            columns=["seed", "image", "comparison", "spearman"])
    ev = {e.claim: e for e in s1_evidence(cascade, switches, "cpu")}
    assert ev["S1a"].estimate == pytest.approx(0.7) and ev["S1b"].estimate == pytest.approx(0.3)
    assert decide(REGISTRY["S1a"], ev["S1a"]) == decide(REGISTRY["S1b"], ev["S1b"]) == "reproduced"


# ---- C2b's intersection-union rule: size and power by simulation ---------------------------------------------------

def _table3(changes: dict[str, float], sd: float, rng) -> pd.DataFrame:
    base = {"alexnet": 26.5, "zf": 22.6}
    rows = []
    for m, v in base.items():
        rows += [(m, s, v + rng.normal(0, sd), 20.0) for s in range(3)]
    for m, d in changes.items():
        rows += [(m, s, base[m.split("-fc")[0]] + d + rng.normal(0, sd), 20.0) for s in range(3)]
    return pd.DataFrame(rows, columns=["model", "seed", "val_err", "train_err"])


def test_c2b_iut_rarely_calls_a_real_fc_effect_reproduced_and_covers_each_row():
    from zfviz.analysis.ablations import FC_ROWS, part_statistics

    rng = np.random.default_rng(7)
    false_pass, covered, reps = 0, 0, 150
    for k in range(reps):
        truth = {m: (2.6 if m == "zf-fc2048" else 0.0) for m in FC_ROWS}  # one row truly outside the bound
        st = part_statistics(_table3(truth, 0.6, rng), draws=1000, seed=k).set_index("part").loc["C2b"]
        ev = claims.evidence("C2b", st.estimate, (st.ci_low, st.ci_high), 3, "cpu", seeds=3)
        false_pass += decide(REGISTRY["C2b"], ev) == "reproduced"
        lo, hi = [float(x) for x in st.per_row.split("zf-fc2048 ")[1].split("[")[1].split("]")[0].split(",")]
        covered += lo <= 2.6 <= hi
    assert false_pass / reps <= 0.03  # the IUT's size: at most 2.5% per side, conservative with t(2) pivots
    assert covered / reps >= 0.93  # each row's own 95% CI covers its true change


def test_c3_on_a_layer_subset_is_not_run_and_names_the_missing_layers():
    import pandas as pd

    from zfviz.analysis.evolution import c3_evidence
    from zfviz.evidence import claims

    overlap = pd.DataFrame([(s, layer, c, e, 1.0) for s in range(3) for layer in ("conv2", "conv4") for c in range(3)
                            for e in (1, 2, 5, 10, 20)], columns=["seed", "layer", "channel", "epoch", "overlap"])
    ev = c3_evidence(overlap, "cpu", 20, "imagenette")
    assert claims.decide(claims.REGISTRY["C3"], ev) == "not run"
    assert "conv1" in ev.missing and "conv5" in ev.missing and "conv2," not in ev.missing
