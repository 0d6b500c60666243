"""Where the ZF training step's time goes on this CPU, and what cutting it gains (issue 50 item 5).

    python benchmarks/zf_step.py --profile cpu [--steps 12] [--profile-ops]

Prints, on the cpu profile's fixed batch (128 images, 112 px, channels-last, ``plan.fixed_batch_step``'s model):
- the measured dense matmul peak here, fp32 and bf16 (4096^3 ``torch.mm``), the roofline the step is read against;
- the step's time and FLOP/s for variants: zfviz's step; in-place ReLUs; bf16 autocast (only where ``machine``
  says the CPU has native bf16: an AMX or AVX-512-BF16 unit);
- with ``--profile-ops``, the top operators of one profiled fp32 step (forward and backward).

A variant is worth keeping in the training loop when it gains at least 5% and leaves the arithmetic the same.
Results: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from zfviz.book.plan import _flops, fixed_batch_step
from zfviz.core import machine
from zfviz.core.profiles import get_profile


def matmul_peak(dtype: torch.dtype, n: int = 4096, reps: int = 5) -> float:
    """FLOP/s of an n x n x n ``torch.mm`` in ``dtype`` (median of ``reps`` after one warm-up)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times)


def time_step(step, steps: int) -> float:
    """Median seconds of ``step()`` over ``steps`` calls, after two warm-up calls."""
    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def variant(profile: str, inplace: bool = False, precision: str = "fp32"):
    """ZF's step at ``profile``'s batch (``plan.fixed_batch_step``), ReLUs in place or not, in ``precision``."""
    return fixed_batch_step("zf", profile, inplace=inplace, precision=precision)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--profile-ops", action="store_true")
    args = ap.parse_args()
    p = get_profile(args.profile)
    flops = _flops("zf", p.width, p.input_size)[0] * p.batch_size
    sig = machine.signature()
    print(f"{sig['cpu']}, {sig['isa']}, {sig['threads']} threads, torch {sig['torch']}; native bf16: "
          f"{machine.native_bf16()}")
    peaks = {"fp32": matmul_peak(torch.float32)}
    if machine.native_bf16():
        peaks["bf16"] = matmul_peak(torch.bfloat16)
    print("matmul peak (4096^3 torch.mm): " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()))
    rows = [("zfviz step (fp32)", False, "fp32"), ("in-place ReLU (fp32)", True, "fp32")]
    if machine.native_bf16():
        rows.append(("bf16 autocast", False, "bf16"))
    base = None
    for name, inplace, precision in rows:
        s = time_step(variant(args.profile, inplace, precision), args.steps)
        base = base or s
        rate = flops / s
        print(f"{name:<24} {s * 1000:7.0f} ms/step  {p.batch_size / s:6.0f} images/s  {rate / 1e9:6.0f} GFLOP/s  "
              f"{rate / peaks['fp32']:5.0%} of the fp32 matmul peak  {base / s:5.2f}x")
    if args.profile_ops:
        step = variant(args.profile)
        step()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14))


if __name__ == "__main__":
    main()
