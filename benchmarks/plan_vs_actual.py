"""What `--plan` said against what the work took: finished runs, and a smoke book from nothing.

    python benchmarks/plan_vs_actual.py --profile cpu --runs /work/runs      # finished runs there, plan vs actual
    python benchmarks/plan_vs_actual.py --smoke-book                         # a smoke book in a fresh runs folder

For runs: the plan's FLOPs (training and evaluation) over the rate it measured on this machine, against the sum of
the run's `epoch_seconds` (metrics.csv: each epoch's training and validation). For the smoke book: the plan's
"what is left takes" against the training phase `python -m zfviz book` actually spent, and the whole book's time
(the chapters' analyses come on top of the plan's figure, as it says). Results: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from zfviz.book.plan import device_rate, plan
from zfviz.runs.store import run_dir

REPO = Path(__file__).resolve().parents[1]


def finished_runs(profile: str, root: str) -> pd.DataFrame:
    """One row per finished run of the plan in ``root``: planned seconds at the measured rate, and actual seconds."""
    os.environ["ZFVIZ_RUNS"] = root
    rate, how = device_rate(profile)
    rows = []
    for r in plan(profile).itertuples():
        metrics = run_dir(r.config) / "metrics.csv"
        if not (run_dir(r.config) / "DONE.json").exists() or not metrics.exists():
            continue
        m = pd.read_csv(metrics)
        m = m[m.epoch <= r.epochs]
        rows.append({"run": r.run, "seed": r.seed, "epochs": r.epochs, "PFLOP": (r.train_flops + r.eval_flops) / 1e15,
                     "planned_min": (r.train_flops + r.eval_flops) / rate / 60,
                     "actual_min": m.epoch_seconds.sum() / 60})
    df = pd.DataFrame(rows)
    if not df.empty:
        df["actual/planned"] = df.actual_min / df.planned_min
    print(f"rate: {how}")
    return df


def smoke_book() -> None:
    """Execute the smoke book from an empty runs folder; print the plan's estimate, the training phase and the total."""
    with tempfile.TemporaryDirectory() as runs, tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, ZFVIZ_RUNS=runs)
        t0 = time.perf_counter()
        p = subprocess.Popen([sys.executable, "-m", "zfviz", "book", "--profile", "smoke", "--no-build",
                              "--no-progress", "--out", out], cwd=REPO, env=env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        estimate, trained_at = None, None
        for line in p.stdout:
            if estimate is None and (m := re.search(r"what is left takes ([^,]+)", line)):
                estimate = m.group(1)
            if trained_at is None and "[zfviz book] trained" in line:
                trained_at = time.perf_counter() - t0
        p.wait()
        total = time.perf_counter() - t0
        if p.returncode:
            raise SystemExit(f"the smoke book failed (rc {p.returncode})")
        print(f"smoke book: plan said the training left takes {estimate}; training took "
              f"{trained_at or 0:.0f} s (plan, data decoding and training); the whole book took {total / 60:.1f} min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--runs", help="a runs folder holding finished runs of the profile")
    ap.add_argument("--smoke-book", action="store_true")
    args = ap.parse_args()
    if args.runs:
        print(finished_runs(args.profile, args.runs).to_string(index=False, float_format="%.2f"))
    if args.smoke_book:
        smoke_book()


if __name__ == "__main__":
    main()
