"""Runs at once on a CPU: training images/s of the whole machine when ``jobs`` runs train side by side, each in its
own process with ``threads`` intra-op threads, against one run using all the threads (the question: should a queue of
CPU runs train several at a time?).

    python benchmarks/parallel_runs.py --profile cpu --model zf [--steps 6] [--layouts 1x2 2x1 3x1]

A layout ``JxT`` starts J processes with T threads each; every process builds the model at the profile's geometry,
takes 2 untimed steps on a fixed batch of the profile's size, waits at a barrier, then times ``--steps`` steps. The
machine's rate is all processes' images over the time from the barrier to the last process's end.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time


def _worker(profile: str, model: str, threads: int, steps: int, barrier, out) -> None:
    import torch

    from zfviz.book.plan import fixed_batch_step
    from zfviz.core.profiles import get_profile

    torch.set_num_threads(threads)
    batch = get_profile(profile).batch_size
    step = fixed_batch_step(model, profile)  # the profile's batch
    for _ in range(2):
        step()
    barrier.wait()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    out.put((t0, time.perf_counter(), steps * batch))


def machine_rate(profile: str, model: str, jobs: int, threads: int, steps: int) -> float:
    """Images/s of ``jobs`` processes training at once, ``threads`` threads each."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(jobs), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(profile, model, threads, steps, barrier, out)) for _ in range(jobs)]
    for q in procs:
        q.start()
    got = [out.get() for _ in procs]
    for q in procs:
        q.join()
    return sum(n for _, _, n in got) / (max(e for _, e, _ in got) - min(s for s, _, _ in got))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--model", default="zf")
    ap.add_argument("--steps", type=int, default=6, help="timed steps per process")
    ap.add_argument("--layouts", nargs="+", default=None, help="JxT: J processes of T threads (default, N cores: 1xN Nx1 N+1x1)")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    layouts = args.layouts or [f"1x{cores}", f"{cores}x1", f"{cores + 1}x1"]
    base = None
    print(f"{args.model} at the {args.profile} profile, {cores} CPU cores, {args.steps} timed steps per process")
    print("| layout | images/s (machine) | vs one run |\n|---|---|---|")
    for lay in layouts:
        jobs, threads = (int(v) for v in lay.split("x"))
        rate = machine_rate(args.profile, args.model, jobs, threads, args.steps)
        base = base or rate
        print(f"| {jobs} run(s) x {threads} thread(s) | {rate:.1f} | {rate / base:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
