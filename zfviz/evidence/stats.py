"""Uncertainty for the book's verdicts: 95% intervals for means over images and over trained models (seeds), paired
differences on the same images, and sign-flip and permutation tests. Deterministic (seeded), numpy and scipy only.

Why not a percentile bootstrap over seeds: with 3 seeds there are 10 distinct resamples, the bootstrap's seed
variance is (s - 1) / s of the sample's, and normal quantiles ignore that the seed-to-seed spread is itself estimated
from 3 values. Where seeds disagree (C7b at cpu: 0.001, 0.039, 0.041) its interval covers the truth far less often
than 95% (``tests/test_stats.py`` simulates it). Nor Satterthwaite's t: with 3 seeds its degrees of freedom follow
the sampled seed spread, and it covered 90-92% in the same simulations.

A seeds x items table in which every seed scores the same items is a crossed random-effects design. The variance of
its grand mean is sigma_seed^2 / S + sigma_item^2 / M + sigma_resid^2 / (S M) = (E_seeds + E_items - E_resid) / (S M),
the E being the expected two-way ANOVA mean squares. The interval is a generalized confidence interval (Weerahandi
1993): the seed mean square, which has only S - 1 degrees of freedom, enters through its pivot MS_seeds / (chi^2_{S-1}
/ (S - 1)), drawn ``DRAWS`` times from a fixed stream; the item and residual mean squares (M - 1 >= 19 and (S - 1)(M -
1) degrees of freedom) enter as estimates. When seeds disagree, the interval widens as a t with S - 1 degrees of
freedom would; when they agree, it is the usual interval over images. With one seed it is the t interval over items.
Coverage is tested by simulation: 94-97% over designs of 3 and 5 seeds, 20-300 items, with and without seed spread.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

LEVEL = 0.95  # every CI in the book
BOOT = 2000  # bootstrap resamples (bootstrap_mean)
DRAWS = 4000  # draws of the generalized pivot (hierarchical_mean, paired_difference, group_difference)

Interval = tuple[float, float, float, int]  # (estimate, CI low, CI high, n)
_NAN4 = (math.nan, math.nan, math.nan)


def _pct(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of draws."""
    a = (1 - level) / 2
    return float(np.quantile(samples, a)), float(np.quantile(samples, 1 - a))


def _t_interval(est: float, var: float, df: float, n: int, level: float = LEVEL) -> Interval:
    if not (math.isfinite(var) and var >= 0 and df > 0):
        return est, math.nan, math.nan, n
    half = float(sps.t.ppf(0.5 + level / 2, df)) * math.sqrt(var)
    return float(est), float(est - half), float(est + half), n


def _crossed(v: np.ndarray) -> tuple[float, float, float, float, int, int]:
    """Two-way ANOVA of a complete (seeds, items) table: grand mean, MS_seeds, MS_items, MS_residual, S, M."""
    s, m = v.shape
    grand = float(v.mean())
    seed_means, item_means = v.mean(1), v.mean(0)
    ms_seed = m * float(((seed_means - grand) ** 2).sum()) / (s - 1) if s > 1 else 0.0
    ms_item = s * float(((item_means - grand) ** 2).sum()) / (m - 1) if m > 1 else 0.0
    resid = v - seed_means[:, None] - item_means[None, :] + grand
    ms_res = float((resid ** 2).sum()) / ((s - 1) * (m - 1)) if s > 1 and m > 1 else 0.0
    return grand, ms_seed, ms_item, ms_res, s, m


def _generalized(est: float, seed_terms: list[tuple[float, int]], rest: float, n: int, seed: int,
                 level: float = LEVEL) -> Interval:
    """The generalized interval for ``est`` with variance sum(term / (chi^2_df / df)) + ``rest``: one pivot per seed
    term (a mean-square share with few degrees of freedom), ``rest`` the well-estimated item and residual share.
    The variance never falls below the seed terms alone (the residual correction cannot make seeds agree)."""
    rng = np.random.default_rng([seed, 20140101])
    z = rng.standard_normal(DRAWS)
    seeds = np.zeros(DRAWS)
    for term, df in seed_terms:
        seeds += term / (rng.chisquare(df, DRAWS) / df) if df > 0 else term
    var = np.maximum(seeds + rest, seeds)
    if not np.isfinite(var).all():
        return est, math.nan, math.nan, n
    r = est - z * np.sqrt(np.maximum(var, 0.0))
    a = (1 - level) / 2
    return float(est), float(np.quantile(r, a)), float(np.quantile(r, 1 - a)), n


def _complete(v) -> np.ndarray:
    """A (seeds, items) float table with the items some seed lacks (NaN) dropped: the design must stay crossed."""
    a = np.atleast_2d(np.asarray(v, dtype=float))
    if a.ndim != 2:
        raise ValueError(f"expected a (seeds, items) table, got shape {a.shape}")
    return a[:, np.isfinite(a).all(0)] if a.size else a


def bootstrap_mean(values, *, seed: int = 0, boot: int = BOOT) -> Interval:
    """(mean, CI low, CI high, n) of independent values (e.g. one per image): a studentized (bootstrap-t) interval,
    which keeps its coverage at 20 items and on skewed values where the percentile bootstrap falls short.

    >>> m, lo, hi, n = bootstrap_mean([0.1, 0.3, 0.2, 0.4, 0.25, 0.35] * 5)
    >>> lo < m < hi and n == 30
    True
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return (*_NAN4, 0)
    mean = float(v.mean())
    if n == 1:
        return mean, math.nan, math.nan, 1
    se = float(v.std(ddof=1)) / math.sqrt(n)
    if se == 0:
        return mean, mean, mean, n
    rng = np.random.default_rng(seed)
    res = v[rng.integers(0, n, size=(boot, n))]
    se_b = res.std(1, ddof=1) / math.sqrt(n)
    ok = se_b > 0
    t = (res.mean(1)[ok] - mean) / se_b[ok]
    a = (1 - LEVEL) / 2
    return mean, float(mean - np.quantile(t, 1 - a) * se), float(mean - np.quantile(t, a) * se), n


def hierarchical_mean(values, *, seed: int = 0, boot: int = BOOT) -> Interval:
    """(mean, CI low, CI high, n seeds) of a (seeds, items) table in which every seed scored the same items: the
    generalized interval of the module docstring. Items missing for some seed (NaN) are dropped. ``boot`` is unused
    (kept for callers).

    >>> rng = np.random.default_rng(0)
    >>> table = 1.0 + rng.normal(0, 0.5, (3, 1)) + rng.normal(0, 1, (3, 100))  # seeds disagree
    >>> m, lo, hi, n = hierarchical_mean(table)
    >>> n, bool(hi - lo > 2 * 1.96 * table.std() / np.sqrt(300))  # wider than an interval over 300 pooled values
    (3, True)
    """
    v = _complete(values)
    s, m = v.shape if v.ndim == 2 else (0, 0)
    if s == 0 or m == 0:
        return (*_NAN4, s)
    if s == 1:
        return _t_interval(float(v.mean()), float(v[0].var(ddof=1)) / m if m > 1 else math.nan, m - 1, 1)
    grand, ms_s, ms_i, ms_r, s, m = _crossed(v)
    return _generalized(grand, [(ms_s / (s * m), s - 1)], (ms_i - ms_r) / (s * m), s, seed)


def paired_difference(a, b, *, seed: int = 0, boot: int = BOOT) -> Interval:
    """Mean of a minus mean of b, where a (seeds_a, items) and b (seeds_b, items) are scored on the same items (e.g.
    per-image errors of two architectures on one validation split), each side's seeds independent models.

    With as many seeds on each side, the (S, items) table of differences a_k - b_k is a crossed design
    (``hierarchical_mean``). Otherwise Var = sigma_seed_a^2 / S_a + sigma_seed_b^2 / S_b + Var(item differences) / M,
    with a pivot for each side's seed mean square (module docstring). n = the smaller seed count.

    >>> rng = np.random.default_rng(0)
    >>> item = rng.normal(0, 1, 200)
    >>> d, lo, hi, n = paired_difference(item + 0.5 + rng.normal(0, .1, (3, 200)), item + rng.normal(0, .1, (3, 200)))
    >>> bool(lo < 0.5 < hi)
    True
    """
    a, b = np.atleast_2d(np.asarray(a, dtype=float)), np.atleast_2d(np.asarray(b, dtype=float))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired items differ: {a.shape[1]} against {b.shape[1]}")
    keep = np.isfinite(a).all(0) & np.isfinite(b).all(0)
    a, b = a[:, keep], b[:, keep]
    sa, sb, m = len(a), len(b), a.shape[1]
    if m == 0 or sa == 0 or sb == 0:
        return (*_NAN4, min(sa, sb))
    est = float(a.mean() - b.mean())
    if sa == sb:
        # Equal seed counts: seed k of a against seed k of b is as good a pairing as any (the seeds are independent
        # draws), and the table of differences is one crossed design with a single seed pivot: exactly Student's t
        # over the S seed differences when the items cancel, as they nearly do for two models scored on one image set.
        return hierarchical_mean(a - b, seed=seed)
    d = a.mean(0) - b.mean(0)
    rest = float(d.var(ddof=1)) / m if m > 1 else 0.0  # items, with each side's residual / S once
    seed_terms = []
    for x in (a, b):
        if len(x) > 1:
            _, ms_s, _, ms_r, s, _ = _crossed(x)
            seed_terms.append((ms_s / (s * m), s - 1))
            rest -= ms_r / (s * m)  # the residual / (S M) the seed mean square already carries
    return _generalized(est, seed_terms, rest, min(sa, sb), seed)


def group_difference(a, b, *, seed: int = 0, boot: int = BOOT) -> Interval:
    """Mean of group a minus group b, where a (seeds, items_a) and b (seeds, items_b) hold different items measured
    by the same seeds (e.g. golf balls against other images).

    Var = Var(per-seed differences) / S (a pivot, S - 1 degrees of freedom) + sum over groups of sigma_item^2 / M
    (estimates). n = seeds.

    >>> rng = np.random.default_rng(1)
    >>> d, lo, hi, n = group_difference(rng.normal(1, 1, (3, 80)), rng.normal(0, 1, (3, 60)))
    >>> bool(lo > 0) and n == 3
    True
    """
    a, b = _complete(a), _complete(b)
    if len(a) != len(b):
        raise ValueError(f"the groups were measured by different seeds: {len(a)} against {len(b)}")
    s = len(a)
    if s == 0 or a.shape[1] == 0 or b.shape[1] == 0:
        return (*_NAN4, 0)
    est = float(a.mean() - b.mean())
    if s == 1:
        var = sum(float(x[0].var(ddof=1)) / x.shape[1] for x in (a, b) if x.shape[1] > 1)
        df = min(x.shape[1] for x in (a, b)) - 1
        return _t_interval(est, var, df, 1)
    per_seed = a.mean(1) - b.mean(1)
    rest = 0.0
    for x in (a, b):
        _, _, ms_i, ms_r, _, m = _crossed(x)
        rest += (ms_i - ms_r) / (s * m)
    return _generalized(est, [(float(per_seed.var(ddof=1)) / s, s - 1)], rest, s, seed)


def within(interval: Interval, low: float, high: float) -> Interval:
    """An interval cut to the range its statistic can take (a mean of correlations lies in [-1, 1]): the part cut off
    holds no possible value, so coverage is unchanged, and a reader is never shown a correlation of 1.02.

    >>> within((0.98, 0.93, 1.02, 3), -1.0, 1.0)
    (0.98, 0.93, 1.0, 3)
    """
    est, lo, hi, n = interval
    return est, max(lo, low), min(hi, high), n


def sign_flip_pvalue(values, *, seed: int = 0, permutations: int = 10000) -> float:
    """One-sided p-value that the mean of paired differences is above 0: flip each value's sign at random (under the
    null each difference is as likely negative as positive). Exact (every flip) for up to 14 values.

    >>> sign_flip_pvalue([0.5, 0.7, 0.2, 0.9, 0.4, 0.6]) < 0.05
    True
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return math.nan
    observed = v.mean()
    if len(v) <= 14:
        signs = 1.0 - 2.0 * ((np.arange(2 ** len(v))[:, None] >> np.arange(len(v))) & 1)
        return float(((signs * v).mean(1) >= observed - 1e-12).mean())
    rng = np.random.default_rng(seed)
    flips = rng.choice([-1.0, 1.0], size=(permutations, len(v)))
    hits = int(((flips * v).mean(1) >= observed - 1e-12).sum())
    return (hits + 1) / (permutations + 1)


def permutation_pvalue(x, y, *, seed: int = 0, permutations: int = 5000) -> float:
    """One-sided p-value that mean(x) > mean(y), from relabelling the pooled values (x and y independent).

    >>> permutation_pvalue([3.1, 2.9, 3.3, 3.0, 3.2], [1.0, 1.2, 0.9, 1.1, 1.3]) < 0.01
    True
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    pooled = np.concatenate([x, y])
    rng = np.random.default_rng(seed)
    observed = x.mean() - y.mean()
    perm = np.argsort(rng.random((permutations, len(pooled))), axis=1)
    shuffled = pooled[perm]
    diffs = shuffled[:, :len(x)].mean(1) - shuffled[:, len(x):].mean(1)
    hits = int((diffs >= observed - 1e-12).sum())
    return (hits + 1) / (permutations + 1)


def spread_note(per_seed) -> str:
    """The per-seed values a pooled estimate comes from, as text ("per seed: 0.001, 0.039, 0.041"), so a reader sees
    whether the seeds agree."""
    vals = [float(x) for x in np.asarray(per_seed, dtype=float).ravel()]
    return "per seed: " + ", ".join(f"{x:.3g}" for x in vals)


def seeds_to_decide(estimate: float, ci_low: float, ci_high: float, seeds: int, min_effect: float,
                    power: float = 0.8, level: float = LEVEL, most: int = 1000) -> int | None:
    """Fresh seeds that would decide a claim, from a pilot's estimate, CI and seed count: the smallest S at which a
    t interval over S seed means excludes ``min_effect`` with probability ``power`` when the truth is the pilot's
    estimate. The pilot's seed-level sd is read back from its CI (half-width = t(S-1) * sd / sqrt(S)), which treats
    the pooled interval as seed-limited (where seeds disagree, it is). None when the estimate sits on the threshold
    or more than ``most`` seeds would be needed.

    >>> seeds_to_decide(0.0157, 0.0098, 0.0216, 3, 0.02)  # C6b's pilot (2026-11-30 realization)
    5
    """
    gap = abs(estimate - min_effect)
    if not (seeds >= 2 and gap > 0 and ci_high > ci_low):
        return None
    sd = (ci_high - ci_low) / 2 * math.sqrt(seeds) / float(sps.t.ppf(0.5 + level / 2, seeds - 1))
    for n in range(2, most + 1):
        need = float(sps.t.ppf(0.5 + level / 2, n - 1)) + float(sps.t.ppf(power, n - 1))
        if gap * math.sqrt(n) / sd >= need:
            return n
    return None
