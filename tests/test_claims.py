"""The claims registry: every claim has a rule, the rule decides, and a CI that straddles a threshold is inconclusive."""

import math

import pytest

from zfviz import claims
from zfviz.claims import REGISTRY, decide, evidence


def test_registry_covers_the_papers_claims_with_reasons():
    for cid in [f"C{i}" for i in range(1, 12)] + ["companion", "S1"]:
        assert cid in REGISTRY
    for c in REGISTRY.values():
        assert c.kind in ("greater", "less") and c.reason and c.statistic and c.chapters and c.min_n >= 1
        assert c.kind == "less" or c.min_effect >= c.null
        for part in c.parts:
            assert part in REGISTRY and not REGISTRY[part].parts


@pytest.mark.parametrize("ci,n,expected", [
    ((0.3, 2.0), 3, "reproduced"),         # whole CI above the null
    ((-0.4, 1.0), 3, "inconclusive"),      # straddles 0
    ((-2.0, 0.3), 3, "not reproduced"),    # whole CI below the smallest effect of interest (0.5)
    ((0.1, 0.4), 3, "reproduced"),         # small but reliable
    ((0.3, 2.0), 1, "inconclusive"),       # never decided on one seed
])
def test_greater_rule(ci, n, expected):
    est = sum(ci) / 2
    assert decide(REGISTRY["C1"], evidence("C1", est, ci, n, "cpu", seeds=n)) == expected


def test_one_trained_model_never_decides():
    ev = evidence("S1", 0.45, (0.40, 0.50), 300, "cpu", seeds=1)
    assert decide(REGISTRY["S1"], ev) == "inconclusive" and "the rule needs 3 seeds" in claims.verdict_line(ev)
    assert REGISTRY["companion"].min_seeds == 1


def test_less_rule_and_flags():
    c2b = REGISTRY["C2b"]
    assert decide(c2b, evidence("C2b", 1.0, (0.5, 1.5), 3, "cpu", seeds=3)) == "reproduced"
    assert decide(c2b, evidence("C2b", 3.0, (2.5, 3.5), 3, "cpu", seeds=3)) == "not reproduced"
    assert decide(c2b, evidence("C2b", 2.0, (1.5, 2.5), 3, "cpu", seeds=3)) == "inconclusive"
    assert decide(c2b, evidence("C2b", 1.0, (0.5, 1.5), 3, "cpu", testable=False)) == "not testable at this scale"
    assert decide(c2b, evidence("C2b", 1.0, (0.5, 1.5), 3, "cpu", comparable=False)) == "not comparable"


def test_moving_evidence_across_the_threshold_turns_the_verdict_inconclusive():
    """Evidence as a chapter records it, shifted until its CI straddles the rule's threshold."""
    ev = evidence("S1", 0.45, (0.40, 0.50), 100, "cpu", seeds=3)
    assert decide(REGISTRY["S1"], ev) == "reproduced"
    null = REGISTRY["S1"].null
    shift = ev.ci_low - null + 0.01  # move the CI down so that it contains the threshold
    moved = evidence("S1", ev.estimate - shift, (ev.ci_low - shift, ev.ci_high - shift), ev.n, "cpu", seeds=3)
    assert moved.ci_low < null < moved.ci_high
    assert decide(REGISTRY["S1"], moved) == "inconclusive"


def test_composites_and_the_claims_table():
    parts = {"C2a": (1.0, 3.0), "C2b": (0.5, 1.5), "C2c": (0.2, 0.9), "C2d": (2.5, 4.0), "C2e": (1.5, 2.0)}
    evs = [evidence(p, sum(ci) / 2, ci, 3, "cpu", seeds=3) for p, ci in parts.items()]
    df = claims.table(evs)
    assert list(df.columns) == claims.COLUMNS
    assert set(df.verdict) <= set(claims.VERDICTS)
    row = df.set_index("claim").loc["C2"]
    assert row.verdict == "reproduced" and row.n == 3
    assert df.set_index("claim").loc["C1"].verdict == "inconclusive" and df.set_index("claim").loc["C1"].n == 0
    evs[0] = evidence("C2a", -1.0, (-2.0, 0.5), 3, "cpu", seeds=3)  # one part fails: the composite fails
    assert claims.table(evs).set_index("claim").loc["C2", "verdict"] == "not reproduced"
    assert claims.combine(["not testable at this scale"] * 2) == "not testable at this scale"
    assert claims.combine(["reproduced", "inconclusive"]) == "inconclusive"


def test_evidence_is_checked():
    with pytest.raises(ValueError, match="unknown claim 'C99'; the registry has: C1"):
        evidence("C99", 0, (0, 1), 3, "cpu")
    with pytest.raises(ValueError, match="outside its CI"):
        evidence("C1", 5.0, (0.0, 1.0), 3, "cpu")
    ev = evidence("C1", math.nan, (math.nan, math.nan), 0, "cpu")
    assert decide(REGISTRY["C1"], ev) == "inconclusive"
    assert claims.Evidence.from_dict(ev.to_dict()).claim == "C1"


def test_verdict_line_names_the_rule_and_the_registry():
    line = claims.verdict_line(evidence("C1", 1.0, (0.2, 1.8), 3, "cpu", seeds=3))
    assert line.startswith("**Verdict (C1, from the claims registry): reproduced.**") and "95% CI" in line


def test_stats_cover_the_truth():
    import numpy as np

    from zfviz.stats import bootstrap_mean, paired_difference, permutation_pvalue

    rng = np.random.default_rng(0)
    m, lo, hi, n = bootstrap_mean(rng.normal(1.0, 1.0, 400))
    assert lo < 1.0 < hi and n == 400 and hi - lo < 0.3
    a = rng.normal(0, 1, (3, 500)) + 0.5
    b = a - 0.5 + rng.normal(0, 0.01, (3, 500))
    d, lo, hi, n = paired_difference(a, b)
    assert lo < 0.5 < hi and n == 3 and hi - lo < 0.3  # pairing removes the image-to-image spread
    assert permutation_pvalue(rng.normal(1, 1, 50), rng.normal(0, 1, 50)) < 0.01
    assert permutation_pvalue(rng.normal(0, 1, 50), rng.normal(0, 1, 50), seed=1) > 0.01


def test_no_items_give_no_estimate_and_no_warning():
    import warnings

    import numpy as np

    from zfviz import claims
    from zfviz.stats import hierarchical_mean

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est, lo, hi, n = hierarchical_mean(np.empty((3, 0)))
    assert np.isnan([est, lo, hi]).all() and n == 3
    ev = claims.evidence("C7a", est, (lo, hi), 0, "smoke", seeds=n, chapter="06_fig7_occlusion")
    assert claims.decide(claims.REGISTRY["C7a"], ev) == "inconclusive"
