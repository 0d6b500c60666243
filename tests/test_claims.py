"""The claims registry: every claim has a rule, the rule is symmetric around the smallest meaningful effect, a CI that
straddles it is inconclusive, and missing compute is "not run"."""

import math

import pytest

from zfviz.evidence import claims
from zfviz.evidence.claims import REGISTRY, decide, evidence


def test_registry_covers_the_papers_claims_with_reasons():
    for cid in [f"C{i}" for i in range(1, 12)] + ["companion", "S1", "S1a", "S1b"]:
        assert cid in REGISTRY
    for c in REGISTRY.values():
        assert c.kind in ("greater", "less") and c.reason and c.statistic and c.chapters and c.min_n >= 1
        assert c.where and c.registered and c.basis
        assert c.kind == "less" and c.min_effect == c.null or c.kind == "greater" and c.min_effect >= c.null
        assert c.parts or c.unit, f"{c.id} has no unit"
        for part in c.parts:
            assert part in REGISTRY and not REGISTRY[part].parts


@pytest.mark.parametrize("ci,n,expected", [
    ((0.6, 2.0), 3, "reproduced"),         # whole CI above the smallest effect of interest (0.5)
    ((0.3, 2.0), 3, "inconclusive"),       # clears 0 but not 0.5: reliably non-zero is not big enough
    ((-0.4, 1.0), 3, "inconclusive"),      # straddles 0 and 0.5
    ((-2.0, 0.3), 3, "not reproduced"),    # whole CI below 0.5
    ((0.1, 0.4), 3, "not reproduced"),     # small but reliable: below the smallest effect that would support it
    ((0.6, 2.0), 1, "not run"),            # never decided on one seed: the other seeds are compute still missing
])
def test_greater_rule(ci, n, expected):
    est = sum(ci) / 2
    assert decide(REGISTRY["C1"], evidence("C1", est, ci, n, "cpu", seeds=n)) == expected


def test_one_trained_model_never_decides():
    """Fewer seeds than the rule pools is missing compute ("not run"), never "inconclusive"; the row says why."""
    ev = evidence("S1a", 0.45, (0.40, 0.50), 300, "cpu", seeds=1)
    assert decide(REGISTRY["S1a"], ev) == "not run"
    assert "rests on 1 trained model(s) and the rule pools 3 seeds" in claims.verdict_line(ev)
    row = claims.table([ev]).set_index("claim").loc["S1a"]
    assert row.verdict == "not run" and "pools 3 seeds" in row.note and row.estimate == 0.45
    from zfviz.evidence.report import verdict_box

    assert "not run: it rests on 1 trained model(s)" in verdict_box([ev], "cpu")  # the box says what is missing
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
    ev = evidence("S1a", 0.45, (0.40, 0.50), 100, "cpu", seeds=3)
    assert decide(REGISTRY["S1a"], ev) == "reproduced"
    line = REGISTRY["S1a"].min_effect
    shift = ev.ci_low - line + 0.01  # move the CI down so that it contains the threshold
    moved = evidence("S1a", ev.estimate - shift, (ev.ci_low - shift, ev.ci_high - shift), ev.n, "cpu", seeds=3)
    assert moved.ci_low < line < moved.ci_high
    assert decide(REGISTRY["S1a"], moved) == "inconclusive"


def test_the_rule_is_symmetric_around_min_effect():
    """Every decided verdict can be checked against its rule from the CI and min_effect alone."""
    import numpy as np

    rng = np.random.default_rng(0)
    for c in (c for c in REGISTRY.values() if not c.parts):
        for _ in range(50):
            lo = c.min_effect + rng.normal(0, 2)
            hi = lo + abs(rng.normal(0, 2))
            v = decide(c, evidence(c.id, (lo + hi) / 2, (lo, hi), 10_000, "cpu", seeds=5))
            if c.kind == "greater":
                assert v == ("reproduced" if lo > c.min_effect else "not reproduced" if hi < c.min_effect
                             else "inconclusive"), (c.id, lo, hi, v)
            else:
                assert v == ("reproduced" if hi < c.min_effect else "not reproduced" if lo > c.min_effect
                             else "inconclusive"), (c.id, lo, hi, v)


def test_missing_compute_is_not_run():
    ev = claims.not_run("C2c", "cpu", "rows zf-wide (seeds 1, 2) not trained")
    assert decide(REGISTRY["C2c"], ev) == "not run" and decide(REGISTRY["C2c"], None) == "not run"
    assert "zf-wide (seeds 1, 2)" in claims.verdict_line(ev)
    df = claims.table([ev]).set_index("claim")
    assert df.loc["C2c", "verdict"] == "not run" and df.loc["C2", "verdict"] == "not run"
    assert df.loc["C1", "verdict"] == "not run" and df.loc["C1", "n"] == 0
    assert claims.combine(["reproduced", "not run"]) == "not run"
    assert claims.combine(["not reproduced", "not run"]) == "not reproduced"
    assert set(claims.MEANING) == set(claims.VERDICTS)


def test_composites_and_the_claims_table():
    parts = {"C2a": (3.0, 5.0), "C2b": (0.5, 1.5), "C2c": (0.6, 0.9), "C2d": (2.5, 4.0), "C2e": (1.5, 2.0)}
    evs = [evidence(p, sum(ci) / 2, ci, 3, "cpu", seeds=3) for p, ci in parts.items()]
    df = claims.table(evs)
    assert list(df.columns) == claims.COLUMNS
    assert set(df.verdict) <= set(claims.VERDICTS)
    row = df.set_index("claim").loc["C2"]
    assert row.verdict == "reproduced" and row.n == 3
    assert df.set_index("claim").loc["C1"].verdict == "not run" and df.set_index("claim").loc["C1"].n == 0
    assert {"null", "min_effect", "unit", "where"} <= set(df.columns)
    evs[0] = evidence("C2a", -1.0, (-2.0, 0.5), 3, "cpu", seeds=3)  # one part fails: the composite fails
    assert claims.table(evs).set_index("claim").loc["C2", "verdict"] == "not reproduced"
    assert claims.combine(["not testable at this scale"] * 2) == "not testable at this scale"
    assert claims.combine(["reproduced", "inconclusive"]) == "inconclusive"


def test_evidence_is_checked():
    with pytest.raises(ValueError, match="unknown claim 'C99'; the registry has: C1"):
        evidence("C99", 0, (0, 1), 3, "cpu")
    with pytest.raises(ValueError, match="outside its CI"):
        evidence("C1", 5.0, (0.0, 1.0), 3, "cpu")
    ev = evidence("C1", math.nan, (math.nan, math.nan), 0, "cpu", seeds=3)  # three models, no finite estimate
    assert decide(REGISTRY["C1"], ev) == "inconclusive"
    assert claims.Evidence.from_dict(ev.to_dict()).claim == "C1"


def test_verdict_line_names_the_rule_and_the_registry():
    line = claims.verdict_line(evidence("C1", 1.2, (0.6, 1.8), 3, "cpu", seeds=3))
    assert line.startswith("**Verdict (C1, from the claims registry): reproduced.**") and "95% CI" in line
    assert "above 0.5 points of error" in line and "3 seeds per architecture" in line
    assert "seed(s)" not in line  # n already counts seeds


def test_stats_cover_the_truth():
    import numpy as np

    from zfviz.evidence.stats import bootstrap_mean, paired_difference, permutation_pvalue

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

    from zfviz.evidence import claims
    from zfviz.evidence.stats import hierarchical_mean

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est, lo, hi, n = hierarchical_mean(np.empty((3, 0)))
    assert np.isnan([est, lo, hi]).all() and n == 3
    ev = claims.evidence("C7a", est, (lo, hi), 0, "smoke", seeds=n, chapter="06_fig7_occlusion")
    assert claims.decide(claims.REGISTRY["C7a"], ev) == "inconclusive"


def _strip_x(svg: str) -> dict[str, float]:
    """The strip's geometry: zero's and the threshold's x, the CI bar's ends and the estimate's x."""
    import re

    lines = re.findall(r'<line x1="([\d.]+)" y1="\d+" x2="([\d.]+)"', svg)
    (zero, _), (thr, _), (lo, hi) = [(float(a), float(b)) for a, b in lines]
    return {"zero": zero, "threshold": thr, "low": lo, "high": hi,
            "estimate": float(re.search(r'cx="([\d.]+)"', svg).group(1))}


def test_the_ci_strip_draws_the_interval_where_the_verdict_says_it_is():
    from zfviz.evidence.report import ci_strip

    c1 = REGISTRY["C1"]  # greater than 0.5
    cleared = _strip_x(ci_strip(c1, 3.5, 2.5, 4.4, "reproduced"))
    assert cleared["zero"] < cleared["threshold"] < cleared["low"] < cleared["estimate"] < cleared["high"]
    straddles = _strip_x(ci_strip(c1, 0.5, -0.2, 1.3, "inconclusive"))
    assert straddles["low"] < straddles["zero"] < straddles["threshold"] < straddles["high"]
    below = _strip_x(ci_strip(c1, -1.0, -2.0, -0.5, "not reproduced"))
    assert below["high"] < below["zero"] < below["threshold"]
    assert ci_strip(c1, float("nan"), float("nan"), float("nan"), "not run") == ""
    assert ci_strip(REGISTRY["C2"], 1.0, 0.0, 2.0, "reproduced") == ""  # a composite has no interval of its own
    assert "#2e7d32" in ci_strip(c1, 3.5, 2.5, 4.4, "reproduced") and "#c62828" in ci_strip(c1, -1, -2, -0.5,
                                                                                         "not reproduced")


def test_the_verdict_box_shows_threshold_badge_strip_and_the_rules_date():
    from zfviz.evidence.report import verdict_box

    box = verdict_box([evidence("C1", 3.2, (2.2, 4.2), 3, "cpu", seeds=3),
                       claims.not_run("C6a", "cpu", "no AlexNet runs")], "cpu")
    c1 = REGISTRY["C1"]
    row = next(line for line in box.splitlines() if line.startswith("| **C1**"))
    assert c1.threshold_text() in row and 'zfviz-verdict zfviz-reproduced' in row and "<svg" in row
    assert f"{c1.rule_fixed}, {c1.rule_status}" in row
    not_run = next(line for line in box.splitlines() if line.startswith("| **C6a**"))
    assert "<svg" not in not_run and "zfviz-not-run" in not_run


def test_a_not_testable_verdict_shows_its_measured_check_beside_the_bound():
    """The box and the summary say why a claim is not testable here: the registered check's value and its bound."""
    from zfviz.book.execute import _summary_cell
    from zfviz.evidence.report import verdict_box

    ev = evidence("C10", -0.43, (-0.68, -0.19), 5, "cpu", seeds=3, check_value=0.0)
    assert claims.decide(REGISTRY["C10"], ev) == "not testable at this scale"
    row = next(line for line in verdict_box([ev], "cpu").splitlines() if line.startswith("| **C10**"))
    assert "testability check 0 (needs at least 0.5)" in row
    r = claims.table([ev]).set_index("claim", drop=False).loc["C10"]
    assert "testability check 0 (needs at least 0.5)" in _summary_cell(REGISTRY["C10"], r)
    assert "testability check" not in verdict_box([evidence("C1", 3.2, (2.2, 4.2), 3, "cpu", seeds=3)], "cpu")
