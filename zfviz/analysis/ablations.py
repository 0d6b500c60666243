"""Table 3 (claims C2a-C2e): the epoch each ablation run leaves chance, whether a row trained long enough past it to be
compared, and the registry's five statistics with CIs from resampling every row's seeds."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from .. import claims
from ..stats import BOOT, _pct

FC_ROWS = ("alexnet-fc2048", "alexnet-fc8192", "zf-fc2048", "zf-fc8192")


def _fc_change(v: dict, t: dict) -> float:
    return max(abs(v[m] - v[m.split("-fc")[0]]) for m in FC_ROWS)


# part -> (the rows it compares, its statistic from val (v) and train (t) top-1 errors (%) by row)
PARTS: dict[str, tuple[tuple[str, ...], Callable[[dict, dict], float]]] = {
    "C2a": (("alexnet-no-conv34-fc67", "alexnet-no-conv34", "alexnet-no-fc67"),
            lambda v, t: v["alexnet-no-conv34-fc67"] - max(v["alexnet-no-conv34"], v["alexnet-no-fc67"])),
    "C2b": (FC_ROWS + ("alexnet", "zf"), _fc_change),
    "C2c": (("zf", "zf-wide"), lambda v, t: v["zf"] - v["zf-wide"]),
    "C2d": (("zf-wide", "zf-wide-fc8192"),
            lambda v, t: (v["zf-wide-fc8192"] - t["zf-wide-fc8192"]) - (v["zf-wide"] - t["zf-wide"])),
    "C2e": (("alexnet-no-conv34", "alexnet-no-fc67", "alexnet"),
            lambda v, t: min(v["alexnet-no-conv34"], v["alexnet-no-fc67"]) - v["alexnet"]),
}
MAX_TAKEOFF_SHARE = 0.25  # a row is compared only if every seed left chance within the first quarter of its budget


def takeoff_epochs(curves: pd.DataFrame, chance: float, margin: float = 5.0) -> pd.DataFrame:
    """Per run of ``runs.run_curves``: the first epoch whose centre-crop val top-1 (%) exceeds ``chance + margin``
    (NaN if none: the run has not left chance in the ``seen`` epochs), with the run's model, init, seed and epoch
    budget (``epochs``: the curves' ``budget`` column, else the last epoch seen)."""
    rows = []
    for run, c in curves.groupby("run", sort=False):
        c = c.sort_values("epoch")
        above = c.epoch[c.val_top1 > chance + margin]
        seen = int(c.epoch.max())
        rows.append({"model": c.model.iloc[0], "init": c.init.iloc[0], "seed": int(c.seed.iloc[0]), "run": run,
                     "epochs": int(c.budget.iloc[0]) if "budget" in c else seen, "seen": seen,
                     "takeoff": float(above.iloc[0]) if len(above) else np.nan})
    return pd.DataFrame(rows)


def takeoff_label(t: pd.DataFrame) -> str:
    """Take-off epochs of some runs of ``takeoff_epochs`` as text: the epoch, ``never`` (not within the budget), or
    ``> k`` (not within the k epochs trained so far)."""
    return ", ".join(f"{r.takeoff:.0f}" if pd.notna(r.takeoff) else "never" if r.seen >= r.epochs else f"> {r.seen}"
                     for r in t.itertuples())


def comparable_rows(takeoff: pd.DataFrame, share: float = MAX_TAKEOFF_SHARE) -> pd.Series:
    """Per model (row): whether every seed left chance within ``share`` of its budget, so that rows compare what
    they learned rather than when they started learning."""
    ok = takeoff.takeoff <= share * takeoff.epochs
    return ok.groupby(takeoff.model).all()


def part_statistics(errors: pd.DataFrame, *, seed: int = 0, boot: int = BOOT) -> pd.DataFrame:
    """The registry's C2a-C2e from per-run errors (columns model, seed, val_err, train_err in %): estimate on the
    seed means, a percentile CI from resampling each row's seeds independently (widened to contain the estimate),
    and n = the fewest seeds of the rows a part compares. A part with a row not trained gets NaNs and n = 0."""
    rng = np.random.default_rng(seed)
    by_row = {m: g[["val_err", "train_err"]].to_numpy(float) for m, g in errors.groupby("model")}
    out = []
    for part, (rows, fn) in PARTS.items():
        if any(r not in by_row for r in rows):
            out.append({"part": part, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "seeds": 0,
                        "rows": ", ".join(rows)})
            continue
        mean = {r: by_row[r].mean(0) for r in rows}
        est = fn({r: m[0] for r, m in mean.items()}, {r: m[1] for r, m in mean.items()})
        samples = []
        for _ in range(boot):
            res = {r: by_row[r][rng.integers(0, len(by_row[r]), len(by_row[r]))].mean(0) for r in rows}
            samples.append(fn({r: m[0] for r, m in res.items()}, {r: m[1] for r, m in res.items()}))
        lo, hi = _pct(np.array(samples))
        out.append({"part": part, "estimate": est, "ci_low": min(lo, est), "ci_high": max(hi, est),
                    "seeds": min(len(by_row[r]) for r in rows), "rows": ", ".join(rows)})
    return pd.DataFrame(out, columns=["part", "estimate", "ci_low", "ci_high", "seeds", "rows"])


def part_evidence(stats: pd.DataFrame, compared: pd.Series, profile: str) -> list[claims.Evidence]:
    """The registry's evidence for C2a-C2e from ``part_statistics``: a part is testable only if every trained row it
    compares left chance early enough (``compared``, by row; NaN for a row not trained), and says which rows were
    not compared or not trained."""
    out = []
    for r in stats.itertuples():
        c = compared.reindex(list(PARTS[r.part][0]))
        known = c.dropna().astype(bool)
        late, missing = list(known.index[~known]), list(c.index[c.isna()])
        note = (f" Rows not compared (left chance late or never): {', '.join(late)}." if late else "") + (
            f" Rows not trained here: {', '.join(missing)}." if missing else "")
        out.append(claims.evidence(r.part, r.estimate, (r.ci_low, r.ci_high), r.seeds, profile, seeds=r.seeds,
                                   testable=not late, chapter="09_table3_ablations", note=note.strip()))
    return out
