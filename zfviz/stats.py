"""Uncertainty for the book's verdicts: percentile bootstrap CIs over images (and over seeds where models differ),
paired differences on the same validation images, and permutation tests. All seeded, all numpy."""

from __future__ import annotations

import numpy as np

LEVEL = 0.95  # every CI in the book
BOOT = 2000  # bootstrap resamples


def _pct(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    a = (1 - level) / 2
    return float(np.quantile(samples, a)), float(np.quantile(samples, 1 - a))


def bootstrap_mean(values, *, seed: int = 0, boot: int = BOOT) -> tuple[float, float, float, int]:
    """(mean, CI low, CI high, n) of independent values (e.g. one per image), percentile bootstrap."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan"), 0
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(boot, len(v)))].mean(1)
    lo, hi = _pct(means)
    return float(v.mean()), lo, hi, len(v)


def hierarchical_mean(values: np.ndarray, *, seed: int = 0, boot: int = BOOT) -> tuple[float, float, float, int]:
    """(mean, CI low, CI high, n seeds) of a (seeds, items) array: resample seeds, then items (paired across seeds).

    With one seed the CI is the item-level CI only, and n = 1 says so (the registry does not decide on n < 3).
    """
    v = np.asarray(values, dtype=float)
    if v.ndim == 1:
        v = v[None]
    s, m = v.shape
    if s == 0 or m == 0:
        return float("nan"), float("nan"), float("nan"), s
    rng = np.random.default_rng(seed)
    si = rng.integers(0, s, size=(boot, s))
    ii = rng.integers(0, m, size=(boot, m))
    means = np.array([v[si[b]][:, ii[b]].mean() for b in range(boot)])
    lo, hi = _pct(means)
    return float(v.mean()), lo, hi, s


def paired_difference(a: np.ndarray, b: np.ndarray, *, seed: int = 0,
                      boot: int = BOOT) -> tuple[float, float, float, int]:
    """Mean of a - b where a (seeds_a, items) and b (seeds_b, items) are scored on the same items (e.g. per-image
    errors of two architectures on one validation split): resample each side's seeds and one shared set of items.

    This combines the seed-to-seed spread with the image sampling, and pairs the images. n = the smaller seed count.
    """
    a = np.atleast_2d(np.asarray(a, dtype=float))
    b = np.atleast_2d(np.asarray(b, dtype=float))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"paired items differ: {a.shape[1]} against {b.shape[1]}")
    rng = np.random.default_rng(seed)
    m = a.shape[1]
    out = np.empty(boot)
    for k in range(boot):
        items = rng.integers(0, m, m)
        sa = rng.integers(0, len(a), len(a))
        sb = rng.integers(0, len(b), len(b))
        out[k] = a[sa][:, items].mean() - b[sb][:, items].mean()
    lo, hi = _pct(out)
    return float(a.mean() - b.mean()), lo, hi, min(len(a), len(b))


def group_difference(a: np.ndarray, b: np.ndarray, *, seed: int = 0,
                     boot: int = BOOT) -> tuple[float, float, float, int]:
    """Mean of group a minus group b, where a (seeds, items_a) and b (seeds, items_b) hold different items measured
    by the same seeds (e.g. golf balls against other images): resample seeds jointly, items within each group."""
    a = np.atleast_2d(np.asarray(a, dtype=float))
    b = np.atleast_2d(np.asarray(b, dtype=float))
    if len(a) != len(b):
        raise ValueError(f"the groups were measured by different seeds: {len(a)} against {len(b)}")
    if a.shape[1] == 0 or b.shape[1] == 0:
        return float("nan"), float("nan"), float("nan"), 0
    rng = np.random.default_rng(seed)
    out = np.empty(boot)
    for k in range(boot):
        s = rng.integers(0, len(a), len(a))
        out[k] = (a[s][:, rng.integers(0, a.shape[1], a.shape[1])].mean()
                  - b[s][:, rng.integers(0, b.shape[1], b.shape[1])].mean())
    lo, hi = _pct(out)
    return float(a.mean() - b.mean()), lo, hi, len(a)


def sign_flip_pvalue(values, *, seed: int = 0, permutations: int = 10000) -> float:
    """One-sided p-value that the mean of paired differences is above 0: flip each value's sign at random (under the
    null each difference is as likely negative as positive)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan")
    rng = np.random.default_rng(seed)
    flips = rng.choice([-1.0, 1.0], size=(permutations, len(v)))
    hits = int(((flips * v).mean(1) >= v.mean()).sum())
    return (hits + 1) / (permutations + 1)


def permutation_pvalue(x, y, *, seed: int = 0, permutations: int = 5000) -> float:
    """One-sided p-value that mean(x) > mean(y), from relabelling the pooled values (x and y independent)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    pooled = np.concatenate([x, y])
    rng = np.random.default_rng(seed)
    observed = x.mean() - y.mean()
    hits = 0
    for _ in range(permutations):
        p = rng.permutation(pooled)
        hits += p[:len(x)].mean() - p[len(x):].mean() >= observed
    return (hits + 1) / (permutations + 1)
