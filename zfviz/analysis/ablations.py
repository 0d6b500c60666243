"""Table 3 (claims C2a-C2e): the epoch each ablation run leaves chance, whether a row trained long enough past it to be
compared, the registry's five statistics with CIs from resampling every row's seeds, and the dead units of each
trained row (the measured reason a run can stay at chance)."""

from __future__ import annotations

import os
import zlib
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from zfviz.core.names import INITS
from zfviz.core.params import check_int
from zfviz.data.sets import center_crop
from zfviz.evidence import claims
from zfviz.evidence.paper import TABLE3
from zfviz.evidence.stats import DRAWS, LEVEL
from zfviz.experiment import experiment_of
from zfviz.model.models import eval_mode, to_model_device
from zfviz.runs.store import TrainConfig

FC_ROWS = ("alexnet-fc2048", "alexnet-fc8192", "zf-fc2048", "zf-fc8192")


def _fc_changes(v: dict, t: dict) -> np.ndarray:
    """C2b's four changes: each fc-size row's val error minus its base's (alexnet or zf)."""
    return np.array([v[m] - v[m.split("-fc")[0]] for m in FC_ROWS])


# part -> (the rows it compares, its statistic from val (v) and train (t) top-1 errors (%) by row). A statistic that
# returns several changes (C2b) is decided by an intersection-union rule on their own CIs (``_iut``).
PARTS: dict[str, tuple[tuple[str, ...], Callable[[dict, dict], float]]] = {
    "C2a": (("alexnet-no-conv34-fc67", "alexnet-no-conv34", "alexnet-no-fc67"),
            lambda v, t: v["alexnet-no-conv34-fc67"] - max(v["alexnet-no-conv34"], v["alexnet-no-fc67"])),
    "C2b": (FC_ROWS + ("alexnet", "zf"), _fc_changes),
    "C2c": (("zf", "zf-wide"), lambda v, t: v["zf"] - v["zf-wide"]),
    "C2d": (("zf-wide", "zf-wide-fc8192"),
            lambda v, t: (v["zf-wide-fc8192"] - t["zf-wide-fc8192"]) - (v["zf-wide"] - t["zf-wide"])),
    "C2e": (("alexnet-no-conv34", "alexnet-no-fc67", "alexnet"),
            lambda v, t: max(v["alexnet-no-conv34"], v["alexnet-no-fc67"]) - v["alexnet"]),
}
MAX_TAKEOFF_SHARE = 0.25  # a row is compared only if every seed left chance within the first quarter of its budget
# C2d's registered testability check reads this row's training error (claims.REGISTRY["C2d"].check)
FIT_ROW = "zf-wide-fc8192"


def _iut(est: np.ndarray, samples: np.ndarray, a: float) -> tuple[float, float, float, str]:
    """Several changes (``est``, their pivot draws ``samples`` (draws, k)) as one interval for a "less" rule on their
    largest |change|: each change's own (1 - 2a) CI, then [the largest distance from 0 of a CI's nearest end, the
    largest distance of a CI's farthest end]. Its upper end is below a bound exactly when every CI lies inside
    +-bound, its lower end above it exactly when some CI lies wholly outside: the intersection-union test, with each
    row's own coverage (not a CI of the maximum, whose lower end never covers 0)."""
    lo, hi = np.quantile(samples, [a, 1 - a], axis=0)
    lo, hi = np.minimum(lo, est), np.maximum(hi, est)
    nearest = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    farthest = np.maximum(np.abs(lo), np.abs(hi))
    rows = "; ".join(f"{m} {e:+.2f} [{x:+.2f}, {y:+.2f}]" for m, e, x, y in zip(FC_ROWS, est, lo, hi))
    return float(np.abs(est).max()), float(nearest.max()), float(farthest.max()), rows


def takeoff_epochs(curves: pd.DataFrame, chance: float, margin: float = 5.0) -> pd.DataFrame:
    """Per run of ``trained.run_curves``: the first epoch whose centre-crop val top-1 (%) exceeds ``chance + margin``
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


def _mean_draws(values: np.ndarray, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Generalized-pivot draws of the mean of a row's (seeds, 2) errors: mean - chol(S / n) z / sqrt(chi2 / (n - 1)),
    so a function of several rows' means gets a CI that does not shrink with 3 seeds (``stats``)."""
    n = len(values)
    mean = values.mean(0)
    if n < 2:
        return np.repeat(mean[None], draws, 0)
    cov = np.cov(values, rowvar=False) / n + 1e-12 * np.eye(values.shape[1])
    z = rng.standard_normal((draws, values.shape[1])) @ np.linalg.cholesky(cov).T
    return mean - z / np.sqrt(rng.chisquare(n - 1, (draws, 1)) / (n - 1))


def part_statistics(errors: pd.DataFrame, *, seeds: int = 1, seed: int = 0, draws: int = DRAWS) -> pd.DataFrame:
    """The registry's C2a-C2e from per-run errors (columns model, seed, val_err, train_err in %): the estimate on the
    seed means, a 95% CI from generalized-pivot draws of every row's mean (``_mean_draws``, rows independent), and
    n = the fewest seeds of the rows a part compares. A part with a row trained with fewer than ``seeds`` seeds gets
    NaNs, n = 0 and those rows in ``missing``."""
    by_row = {m: g[["val_err", "train_err"]].to_numpy(float) for m, g in errors.groupby("model")}
    # one generator per row, seeded by its name: a part's CI depends on its own rows only, not on which other rows
    # happen to be trained (one shared generator shifted every row's draws when a row was added)
    sampled = {m: _mean_draws(v, draws, np.random.default_rng([seed, 3, zlib.crc32(m.encode())]))
               for m, v in by_row.items()}
    a = (1 - LEVEL) / 2
    out = []
    for part, (rows, fn) in PARTS.items():
        missing = [r for r in rows if len(by_row.get(r, ())) < seeds]  # a queue half-way through a row: not run
        if missing:
            out.append({"part": part, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "seeds": 0,
                        "rows": ", ".join(rows), "missing": ", ".join(missing), "per_row": "", "fit": np.nan})
            continue
        mean = {r: by_row[r].mean(0) for r in rows}
        est = fn({r: m[0] for r, m in mean.items()}, {r: m[1] for r, m in mean.items()})
        samples = np.array([fn({r: sampled[r][k, 0] for r in rows}, {r: sampled[r][k, 1] for r in rows})
                            for k in range(draws)])
        per_row = ""
        if np.ndim(est):  # several changes: the intersection-union interval
            est, lo, hi, per_row = _iut(np.asarray(est), samples, a)
        else:
            lo, hi = np.quantile(samples, [a, 1 - a])
            lo, hi = min(lo, est), max(hi, est)
        fit = float(mean[FIT_ROW][1]) if FIT_ROW in rows else np.nan
        out.append({"part": part, "estimate": est, "ci_low": lo, "ci_high": hi,
                    "seeds": min(len(by_row[r]) for r in rows), "rows": ", ".join(rows), "missing": "",
                    "per_row": per_row, "fit": fit})
    return pd.DataFrame(out, columns=["part", "estimate", "ci_low", "ci_high", "seeds", "rows", "missing", "per_row",
                                      "fit"])


def part_evidence(stats: pd.DataFrame, compared: pd.Series, profile: str, *, seeds: int = 3,
                  chapter: str = "09_table3_ablations", convergence: str = "") -> list[claims.Evidence]:
    """The registry's evidence for C2a-C2e from ``part_statistics``: a part with a row not trained (or with fewer
    than ``seeds`` seeds) is *not run*, naming the rows; a part is testable only if every row it compares left chance
    early enough (``compared``, by row: the registered take-off rule), and says which rows were not compared. A part
    that is run says how far the main models are from converged (``convergence``, e.g. ``convergence_note``): the
    rows train for the main budget, so a ranking may still move with a longer one."""
    out = []
    for r in stats.itertuples():
        rows = list(PARTS[r.part][0])
        if r.missing or r.seeds < seeds:
            what = r.missing or ", ".join(rows)
            out.append(claims.not_run(r.part, profile, f"rows not trained with {seeds} seeds: {what}",
                                      chapter=chapter))
            continue
        c = compared.reindex(rows)
        known = c.dropna().astype(bool)
        late = list(known.index[~known])
        note = f"Rows not compared (left chance late or never): {', '.join(late)}. " if late else ""
        if r.per_row:
            note += f"Each fc row's change against its base, with its own 95% CI: {r.per_row}. "
        # the registered testability checks (claims.REGISTRY): C2a's take-off share, C2d's training fit
        check = {"C2a": float(known.mean()) if len(known) else np.nan, "C2d": r.fit}.get(r.part, np.nan)
        note = (note + convergence).strip()
        out.append(claims.evidence(r.part, r.estimate, (r.ci_low, r.ci_high), r.seeds, profile, seeds=r.seeds,
                                   testable=not late, chapter=chapter, note=note, check_value=check))
    return out


def dead_units(model: nn.Module, images: torch.Tensor, layers: dict[str, nn.Module] | None = None,
               batch_size: int = 128) -> pd.DataFrame:
    """Per layer (default: every ``nn.ReLU``, by name): its units and the share of them never positive on ``images``
    (a conv unit is a channel, positive anywhere in the map); a layer whose units are all dead passes nothing on.

    >>> import torch
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2), nn.ReLU())
    >>> with torch.no_grad():
    ...     _ = net[0].bias.fill_(-1e3)  # every conv unit below zero on any input in [0, 1]
    ...     _ = net[3].bias.fill_(1.0)  # so the linear layer outputs its bias alone, and it is positive
    >>> dead_units(net, torch.rand(5, 3, 8, 8)).to_dict("list")["dead"]
    [1.0, 0.0]
    """
    if len(images) == 0:
        raise ValueError("dead_units needs at least one image: a unit is dead only if no image makes it positive")
    layers = layers if layers is not None else {n: m for n, m in model.named_modules() if isinstance(m, nn.ReLU)}
    if not layers:
        raise ValueError("dead_units needs a layer: the model has no nn.ReLU; pass layers={name: module}")
    peak: dict[str, torch.Tensor] = {}

    def keep(name):
        def hook(_module, _inputs, out):
            top = out.detach().amax(dim=(0, 2, 3) if out.dim() == 4 else 0)
            peak[name] = top if name not in peak else torch.maximum(peak[name], top)
        return hook

    handles = [m.register_forward_hook(keep(n)) for n, m in layers.items()]
    try:
        with eval_mode(model), torch.no_grad():
            for x in images.split(batch_size):
                model(to_model_device(model, x))
    finally:
        for h in handles:
            h.remove()
    return pd.DataFrame([{"layer": n, "units": len(peak[n]), "dead": (peak[n] <= 0).float().mean().item()}
                         for n in layers if n in peak])


def run_dead_units(configs: list[TrainConfig], images: int = 256, *, runs_dir: str | os.PathLike | None = None,
                   data_root: str | os.PathLike | None = None) -> pd.DataFrame:
    """``dead_units`` of each finished run's last snapshot on ``images`` centre crops spread evenly over its
    validation split: columns model, seed, layer, units, dead. Runs whose weights are not here (only a record) are
    left out."""
    images = check_int("images", images)
    rows = []
    for c in configs:
        try:
            exp = experiment_of(c, runs_dir=runs_dir, data_root=data_root, train=False)  # told not to train
        except FileNotFoundError:
            continue  # not finished here, or known only by its record: no weights to measure
        pick = torch.linspace(0, len(exp.val) - 1, min(images, len(exp.val))).long()
        x = center_crop(exp.val.images[pick], exp.mean, exp.model.arch.input_size)
        rows.append(dead_units(exp.model, x).assign(model=c.model, seed=c.seed))
    cols = ["model", "seed", "layer", "units", "dead"]
    return pd.concat(rows)[cols].reset_index(drop=True) if rows else pd.DataFrame(columns=cols)


def dead_unit_table(dead: pd.DataFrame, rows: list[str]) -> pd.DataFrame:
    """``run_dead_units`` as a reader reads it: one row per Table 3 row, one column per layer with at least 0.5% of
    its units dead in some run (the others would read all 0.00), the share of dead units per seed to two decimals (a
    layer the row lacks is blank)."""
    if dead.empty:
        return pd.DataFrame(index=pd.Index([], name="model"))
    order = [n for n in dict.fromkeys(dead.layer) if (dead.dead[dead.layer == n].round(2) > 0).any()]
    per = dead.sort_values("seed").groupby(["model", "layer"], sort=False).dead.agg(
        lambda d: ", ".join(f"{v:.2f}" for v in d)).unstack("layer")
    return per.reindex(index=[r for r in rows if r in per.index], columns=order).fillna("")


def reader_tables(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``ablation_table`` as a reader reads it, narrow enough for a page: the errors (the paper's beside ours, ours as
    the seed mean with its range; validation first), under two-level headers, one row per Table 3 row; and the rows:
    what each is, its budget, its take-off epochs and whether it is compared (the registered rule).

    >>> t = pd.DataFrame({"row": ["ZF model (Fig. 3)"], "epochs": [20.0], "seeds": [3], "paper train err %": [25.4],
    ...     "ours train err %": [19.3], "ours train range": ["19.0-19.6"], "paper val err %": [36.0],
    ...     "ours val err %": [22.8], "ours val range": ["22.5-23.1"], "paper val change vs base": [float("nan")],
    ...     "ours val change vs base": [float("nan")], "take-off epoch per seed (transported init)": ["1, 1, 1"],
    ...     "compared": [True]}, index=pd.Index(["zf"], name="model"))
    >>> reader_tables(t)[0].loc["zf", ("val top-1 error %", "ours")]
    '22.8 (22.5-23.1)'
    """
    def ours(col: str) -> pd.Series:
        return pd.Series([f"{m:.1f} ({r})" if r != "not run" else "not run"
                          for m, r in zip(table[f"ours {col} err %"], table[f"ours {col} range"])], index=table.index)

    def change(v: pd.Series) -> pd.Series:
        return pd.Series([f"{x:+.1f}" if pd.notna(x) else "base" if base_row(m) == m else "not run"
                          for m, x in v.items()], index=v.index)

    errors = pd.DataFrame({("val top-1 error %", "paper"): table["paper val err %"].map("{:.1f}".format),
                           ("val top-1 error %", "ours"): ours("val"),
                           ("val change vs base, points", "paper"): change(table["paper val change vs base"]),
                           ("val change vs base, points", "ours"): change(table["ours val change vs base"]),
                           ("train top-1 error %", "paper"): table["paper train err %"].map("{:.1f}".format),
                           ("train top-1 error %", "ours"): ours("train")}, index=table.index)
    errors.columns = pd.MultiIndex.from_tuples(errors.columns)
    inits = [i for c in table.columns for i in INITS if c == takeoff_column(i)]  # those measured, in table order
    rows = pd.DataFrame({("", "Table 3 row"): table.row,
                         ("", "epochs x seeds"): [f"{e:.0f} x {s}" if s else "not run"
                                                  for e, s in zip(table.epochs, table.seeds)]}
                        | {("take-off epoch per seed", f"{i} init"): table[takeoff_column(i)] for i in inits}
                        | {("", "compared (take-off rule)"): table.compared.map(
                            {True: "yes", False: "no (left chance late)"}).fillna("not run")}, index=table.index)
    rows.columns = pd.MultiIndex.from_tuples(rows.columns)
    return errors, rows


def takeoff_column(init: str) -> str:
    """``ablation_table``'s column of the take-off epochs under ``init``."""
    return f"take-off epoch per seed ({init} init)"


def base_row(model: str) -> str:
    """The row a Table 3 row is compared with: the replica for AlexNet variants, ZF for ZF variants."""
    return "alexnet" if model.startswith("alexnet") else "zf"


def ablation_table(final: pd.DataFrame, takeoff: pd.DataFrame, inits: list[str], profile_init: str,
                   rows: list[str]) -> pd.DataFrame:
    """Table 3 beside ours, one row per Table 3 row: the paper's train / val top-1 error and ours (mean and range over
    seeds, from ``final``: run_metrics rows with val_err, train_err and epochs), the change against the replica (or
    ZF) in both, each row's epochs and seeds, the take-off epoch per seed under each init (``takeoff_epochs``) and
    whether the row is compared (the registered take-off rule). Rows not trained show "not run"."""
    def rng(v: pd.Series) -> str:
        return f"{v.min():.1f}-{v.max():.1f}" if len(v) else ""

    g = final.groupby("model")
    out = pd.DataFrame(index=pd.Index(rows, name="model"))
    out["row"] = TABLE3.row.reindex(rows)
    out["epochs"] = g.epochs.max().reindex(rows)
    out["seeds"] = g.seed.nunique().reindex(rows).fillna(0).astype(int)
    for col, paper in (("train", "train_top1_err"), ("val", "val_top1_err")):
        out[f"paper {col} err %"] = TABLE3[paper].reindex(rows)
        out[f"ours {col} err %"] = g[f"{col}_err"].mean().reindex(rows)
        out[f"ours {col} range"] = g[f"{col}_err"].apply(rng).reindex(rows).fillna("not run")
    base = [base_row(m) for m in rows]
    out["paper val change vs base"] = [TABLE3.val_top1_err[m] - TABLE3.val_top1_err[b] if m != b else np.nan
                                       for m, b in zip(rows, base)]
    ours = g.val_err.mean()
    out["ours val change vs base"] = [ours.get(m, np.nan) - ours.get(b, np.nan) if m != b else np.nan
                                      for m, b in zip(rows, base)]
    for i in inits:
        t = takeoff[takeoff.init == i]
        # groupby().apply on an empty frame returns an empty frame, not a Series: an init with no run is "not run"
        labels = (t.groupby("model")[["takeoff", "seen", "epochs"]].apply(takeoff_label) if len(t)
                  else pd.Series(dtype=object))
        out[takeoff_column(i)] = labels.reindex(rows).fillna("not run")
    out["compared"] = comparable_rows(takeoff[(takeoff.init == profile_init) & takeoff.model.isin(
        final.model.unique())]).reindex(rows)
    return out
