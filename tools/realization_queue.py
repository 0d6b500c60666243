"""Train every run the book reads at a profile as ONE realization: on this machine, at one thread count, from one
commit, in priority order, each finished run recorded (with its weights' SHA-256) as soon as it ends.

Why: a run's name fixes its distribution, not its weights; a retrain on another processor or thread count is another
draw (``zfviz/core/machine.py``). The book must rest on one draw of every run it reads (issue "one book, one set of
weights"), so this queue trains all of them here, including the runs whose older records came from another machine
(Table 3's rows), and refuses to go on where another machine started the folder.

Order: the runs chapters load weights from, most-read first (ZF seeds 0-2 feed 13 chapters), then the cheaper
single-chapter runs, then the metrics-only rows of Table 3. Resumable: a finished run of this realization is skipped,
an unfinished one resumes from its checkpoint (bit-identical at the same thread count).

    OMP_NUM_THREADS=2 ZFVIZ_RUNS=/work/runs nohup .venv/bin/python tools/realization_queue.py --profile cpu \
        >/dev/null 2>&1 &
    tail -f /work/runs/queue.log

Run it from a checkout that nobody edits while it runs (a ``git worktree`` at the commit to train from): the process
imports zfviz lazily, so edits to the tree it runs from would change the code mid-queue.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's zfviz, not another editable install

from zfviz.book.plan import metrics_only, plan  # noqa: E402
from zfviz.core import machine  # noqa: E402
from zfviz.core.paths import runs_root  # noqa: E402
from zfviz.runs.records import record_path, record_run, record_weights  # noqa: E402
from zfviz.runs.store import done_record, epochs_done, finished, run_dir  # noqa: E402
from zfviz.runs.train import train  # noqa: E402

REALIZATION = "REALIZATION.json"


def this_realization() -> str:
    """The realization name a run trained here in one go gets (``train._finish`` computes the same)."""
    return machine.realization([machine.signature("cpu")])


def ordered(df):
    """Weight-reading runs first (most chapters first), then by cost; metrics-only runs (Table 3) last."""
    df = df.assign(metrics_only=df.chapters.map(lambda c: set(c.split()) <= metrics_only()),
                   readers=df.chapters.map(lambda c: len(c.split())),
                   cost=df.train_flops + df.eval_flops)
    return df.sort_values(["metrics_only", "readers", "cost"], ascending=[True, False, True], kind="stable")


def done_here(c, epochs: int, realization: str) -> bool:
    """Whether this realization of the run is finished (its run directory) or, for a take-off probe, far enough."""
    out = run_dir(c)
    if epochs < c.epochs:  # a probe: its first epochs only, recorded from this realization's run
        return epochs_done(out) >= epochs
    if finished(out, c.epochs):
        return done_record(out).get("realization") == realization
    return record_weights(record_path(c)).get("realization") == realization and not out.exists()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--dry-run", action="store_true", help="print the order and stop")
    args = ap.parse_args()
    root = runs_root()
    root.mkdir(parents=True, exist_ok=True)
    log = open(root / "queue.log", "a", buffering=1)
    here = machine.signature("cpu")
    name = this_realization()
    marker = root / REALIZATION
    if marker.exists():
        started = json.loads(marker.read_text())
        if started["realization"] != name:
            print(f"{root} holds realization {started['realization']} ({started['signature']}); this machine is "
                  f"{name} ({here}): a run continued here would mix two. Use another $ZFVIZ_RUNS to start a new "
                  "realization.", file=sys.stderr)
            return 2
    else:
        marker.write_text(json.dumps({"realization": name, "signature": here, "commit": machine.source_commit(),
                                      "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, indent=1))
    df = ordered(plan(args.profile))
    todo = [r for r in df.itertuples() if not done_here(r.config.resolved(), r.epochs, name)]
    def to_train(r) -> float:  # the FLOPs of the epochs still to train: a run resumed from its checkpoint costs less
        return r.cost * max(0, r.epochs - epochs_done(run_dir(r.config.resolved()))) / r.epochs

    total = sum(to_train(r) for r in todo)
    print(f"{time.strftime('%T')} realization {name} ({here}, commit {machine.source_commit()}): {len(todo)} runs "
          f"to train, {total / 1e15:.2f} PFLOP", file=log)
    if args.dry_run:
        for r in todo:
            print(f"{r.run:<34} s{r.config.seed} {r.epochs:>4} ep  {r.chapters}", file=sys.stdout)
        return 0
    t0, flops_done = time.time(), 0.0
    for k, r in enumerate(todo):
        c = r.config.resolved()
        print(f"{time.strftime('%T')} start {k + 1}/{len(todo)} {r.run} s{c.seed} ({r.epochs} epochs; "
              f"chapters {r.chapters})", file=log)
        cost = to_train(r)
        train(c, progress=False, wait=True, stop_after=r.epochs if r.epochs < c.epochs else None)
        out = run_dir(c)
        recorded = record_run(out) if finished(out, c.epochs) or r.epochs < c.epochs else None
        flops_done += cost  # the rate counts only the epochs trained by this process, so the ETA holds after a resume
        rate = flops_done / max(1.0, time.time() - t0)
        left = (total - flops_done) / rate / 3600
        print(f"{time.strftime('%T')} end {r.run} s{c.seed}: {out.name}"
              f"{'; recorded' if recorded else ''}; about {left:.1f} h left at {rate / 1e9:.0f} GFLOP/s", file=log)
    print(f"{time.strftime('%T')} queue done: {len(todo)} runs in {(time.time() - t0) / 3600:.1f} h", file=log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
