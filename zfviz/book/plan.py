"""What executing the book costs at a profile, before any work: the runs its chapters train (with the chapters'
default parameters, and a non-deciding profile's small ones), their training and evaluation FLOPs, the disk their
snapshots and checkpoints take, and the time that comes to on this machine's device.

The run lists are the chapters' own designs (``zfviz.studies``: the study a chapter builds from its parameters says
which runs it reads), at their declared default parameters (``chapters.chapter_study``). FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on one image of each
architecture at the profile's geometry (forward + backward for training: 2 FLOPs per multiply-add); time is FLOPs
over a rate measured here (CPU: training steps of ZF at the profile's geometry, 3-10 s, cached per machine) or assumed (CUDA:
35% of the device's dense bf16 peak, the MFU a well-fed H100/H200 reaches on these convnets).

>>> print(plan_table("smoke", ["02_fig2_top9"]).splitlines()[0])  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import time
from functools import cache, lru_cache
from pathlib import Path
from typing import Callable

import pandas as pd
from tqdm import tqdm

from zfviz.core.paths import cache_root, runs_root
from zfviz.core.profiles import get_profile
from zfviz.runs.config import TrainConfig

# train, val images and classes per dataset (ImageNet-1k's ILSVRC-2012 counts for the imagenet profile's folder)
IMAGES = {"imagenette": (9469, 3925, 10), "imagewoof": (0, 3929, 10), "imagenet": (1281167, 50000, 1000)}
GPU_MFU = 0.35
# Seconds each run costs beyond its FLOPs (building the model, the data on the device, evaluation set-up, snapshots):
# a smoke book from nothing trained 35 runs in 52 s, 6 s of them FLOPs at the measured rate (2026-12-07, 2-core EPYC;
# benchmarks/RESULTS.md). Negligible for a cpu run of 20 minutes, most of a smoke run.
RUN_OVERHEAD_S = 1.3
# Dense tensor-core peaks (FLOP/s) by the precision a run trains in: bf16 autocast, or fp32 with TF32 allowed
PEAK = {"bf16": {"H100": 989e12, "H200": 989e12, "A100": 312e12},
        "fp32": {"H100": 494e12, "H200": 494e12, "A100": 156e12}}
PEAK_BF16 = PEAK["bf16"]
REFERENCE_GPU = "H100"  # the GPU a plan made without one quotes


def metrics_only() -> set[str]:
    """The chapters (by number) whose study reads only its runs' metrics (``Study.metrics_only``): a run only they
    need is done once it is recorded."""
    from zfviz.studies import STUDIES  # the models (torch): only when a plan is made

    return {name[:2] for name, s in STUDIES.items() if s.metrics_only}


def chapter_runs(name: str, profile: str) -> list[tuple[TrainConfig, int]]:
    """The runs chapter ``name`` trains at ``profile``: (resolved config, epochs it is trained to) pairs, few-shot runs
    and take-off probes (trained through the first quarter of their budget only) included: its study's
    (``zfviz.studies``) ``runs()``, with its default parameters and the profile's small ones."""
    from zfviz.book.chapters import chapter_study  # the studies import the models (torch): only when runs are listed

    return [(c, until or c.epochs) for c, until in chapter_study(name, profile).runs()]


@lru_cache(maxsize=None)
def _flops(model: str, width: float, size: int) -> tuple[float, float, int]:
    """(training FLOPs per image, forward FLOPs per image, parameters) of ``model`` at a geometry."""
    import torch  # torch: only when a plan is made, not when plan is imported
    from torch.utils.flop_counter import FlopCounterMode  # torch

    from zfviz.model.models import build_model  # torch: only when a plan is made, not when plan is imported

    with torch.device("meta"):  # shapes only: the same counts without allocating or initializing 230M weights
        net = build_model(model, 10, width=width, input_size=size, init="kaiming")
        x = torch.zeros(1, 3, size, size)
        with FlopCounterMode(display=False) as fwd:
            with torch.no_grad():
                net.eval()(x)
        with FlopCounterMode(display=False) as both:
            torch.nn.functional.cross_entropy(net.train()(x), torch.zeros(1, dtype=torch.long)).backward()
    return float(both.get_total_flops()), float(fwd.get_total_flops()), sum(p.numel() for p in net.parameters())


def run_cost(c: TrainConfig, epochs: int | None = None) -> dict:
    """Images, FLOPs and disk of one run (resolved config), trained to ``epochs`` (default: its budget)."""
    from zfviz.runs.store import snapshot_epochs  # torch: only when a plan is made, not when plan is imported

    c = c.resolved()
    p = c.spec
    train_n, val_n, classes = IMAGES.get(c.dataset, (0, 0, 10))
    if c.classes is not None:
        train_n, val_n, classes = train_n * len(c.classes) // classes, val_n * len(c.classes) // classes, len(c.classes)
    if c.few_shot:
        train_n, val_n = c.train_per_class * classes, val_n - c.train_per_class * classes
    if p.train_per_class is not None and not c.few_shot:
        train_n = min(train_n, p.train_per_class * classes)
    if p.val_per_class is not None:
        val_n = min(val_n, p.val_per_class * classes)
    epochs = epochs or c.epochs
    per_epoch = max(c.batch_size, train_n - train_n % c.batch_size) if train_n >= c.batch_size else train_n
    train_flops, fwd, params = _flops(c.model, p.width, p.input_size)
    evals = (1 if c.few_shot else epochs) * val_n + 10 * val_n
    snaps = len(snapshot_epochs(c))
    variant = c.model + ("" if c.clip_radius is not None else ", no clipping") + (
        "" if c.init == p.init else f", {c.init} init") + (f", {len(c.classes)} classes" if c.classes else "")
    return {"run": variant, "profile": c.profile, "seed": c.seed, "precision": c.precision,
            "epochs": epochs, "few_shot": c.train_per_class, "classes": len(c.classes or []) or classes,
            "train_images": epochs * per_epoch, "train_flops": epochs * per_epoch * train_flops,
            "eval_flops": evals * fwd, "disk_bytes": params * 4 * (snaps + (3 if p.keep_checkpoint else 0))}


def fixed_batch_step(model: str, profile: str, batch: int | None = None, *, inplace: bool = False,
                     precision: str = "fp32") -> Callable[[], object]:
    """One SGD step of ``model`` at ``profile``'s geometry (channels-last, CPU) on a fixed random batch of ``batch``
    images (default: the profile's), as a callable: what the speed probes here and in ``benchmarks/`` time.
    ``inplace``: ReLUs in place, as the training loop runs them; ``precision``: as ``train_step``'s."""
    import torch  # torch: only when a plan is made, not when plan is imported

    from zfviz.model.models import build_model  # torch: only when a plan is made, not when plan is imported
    from zfviz.runs.train import train_step  # torch: only when a plan is made, not when plan is imported

    p = get_profile(profile)
    torch.manual_seed(0)
    net = build_model(model, 10, width=p.width, input_size=p.input_size, init=p.init).to(
        memory_format=torch.channels_last)
    for m in net.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = inplace
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    n = batch or p.batch_size
    x, y = torch.randn(n, 3, p.input_size, p.input_size), torch.randint(0, 10, (n,))
    return lambda: train_step(net, opt, x, y, 0.1, precision)


def gpu_rate(precision: str, name: str = REFERENCE_GPU) -> tuple[float, str]:
    """FLOP/s assumed for a GPU called ``name`` training in ``precision``: ``GPU_MFU`` of its dense peak there."""
    peak = next((v for k, v in PEAK[precision].items() if k in name), 100e12)
    kind = "bf16" if precision == "bf16" else "TF32"
    return GPU_MFU * peak, f"{name}, {GPU_MFU:.0%} of its {peak / 1e12:.0f} TFLOP/s {kind} peak (assumed)"


RATE_CACHE = "plan-rate.json"  # under cache_root(): measured rates, keyed by machine signature and profile


def device_rate(profile: str, remeasure: bool = False, log: Callable[[str], object] | None = None) -> tuple[float, str]:
    """FLOP/s this machine's device reaches on these convnets: measured on CPU (once per machine signature and profile,
    then cached; ``remeasure`` measures again), assumed on CUDA (at the peak of the precision the profile trains in)."""
    import torch  # torch: only when a plan is made, not when plan is imported

    from zfviz.core.machine import signature  # torch: only when a plan is made, not when plan is imported

    if torch.cuda.is_available():
        return gpu_rate(get_profile(profile).precision, torch.cuda.get_device_name(0))
    sig = signature()
    key = f"{profile}|{json.dumps(sig, sort_keys=True)}"
    path = cache_root() / RATE_CACHE
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    where = f"this CPU ({sig['cpu']}, {sig['threads']} threads)"
    if not remeasure and isinstance(cached.get(key), dict):
        c = cached[key]
        return c["rate"], (f"{where}, {c['rate'] / 1e9:.3g} GFLOP/s measured on ZF steps on {c['utc'][:10]} "
                           f"(cached in {path}; --remeasure measures again)")
    if log:
        log(f"measuring this CPU's training rate at profile {profile} (3-10 s; once per machine, then cached)")
    before = _cpu_seconds()
    rate, n, seconds = _measure_cpu(profile)
    busy = _others_busy(before, seconds)
    # A measurement beside other work reads low: it is shown but not cached, so the next plan on a quiet machine
    # measures again rather than repeating a number that was wrong for reasons that have passed.
    if busy < 0.25:
        from zfviz.core.checkpoint import atomic_write  # torch: only when a plan is made, not when plan is imported

        cached[key] = {"rate": rate, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "steps": n}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(cached, indent=1)))
        tail = f"; cached in {path}"
    else:
        tail = (f"; other work used {busy:.0%} of the CPU meanwhile, so the time below is too long (not cached; "
                "--remeasure on a quiet machine)")
    return rate, f"{where}, {rate / 1e9:.3g} GFLOP/s measured on {n} ZF steps in {seconds:.1f} s{tail}"


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by the whole machine (every core, from /proc/stat; nan elsewhere) and by this process."""
    own = sum(os.times()[:2])
    try:
        fields = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0.0)  # all but idle and iowait
        return busy / os.sysconf("SC_CLK_TCK"), own
    except (OSError, ValueError, IndexError):
        return float("nan"), own


def _others_busy(before: tuple[float, float], seconds: float) -> float:
    """The share of this machine's cores that other processes used since ``before`` (``_cpu_seconds``), over
    ``seconds``: what slowed a measurement down. Where /proc/stat is missing, the 1-minute load average stands in."""
    machine, own = _cpu_seconds()
    cores = os.cpu_count() or 1
    if machine != machine:  # nan: not Linux
        return os.getloadavg()[0] / cores if hasattr(os, "getloadavg") else 0.0
    return max(0.0, (machine - before[0]) - (own - before[1])) / (seconds * cores)


def _measure_cpu(profile: str) -> tuple[float, int, float]:
    """FLOP/s of ZF training steps at ``profile``'s geometry here, the steps timed, and the seconds it took."""
    p = get_profile(profile)
    began = time.perf_counter()
    # The profile's own batch (small batches run below the rate a run sustains), two warm-up steps (allocator and
    # oneDNN kernel choice), then the median of the steps timed in about three seconds: one step after one warm-up
    # read 70 GFLOP/s on a machine whose runs sustained 140 (2026-12-01).
    batch = 8 if p.input_size > 150 else min(p.batch_size, 64)
    step = fixed_batch_step("zf", profile, batch)
    for _ in range(2):
        step()
    times, start = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < 3.0 and len(times) < 20):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    rate = _flops("zf", p.width, p.input_size)[0] * batch / statistics.median(times)
    return rate, len(times), time.perf_counter() - began


def plan(profile: str, chapters: list[str] | None = None, data_root: str | None = None) -> pd.DataFrame:
    """One row per distinct run the chapters train at ``profile``, with the chapters that need it and its cost."""
    from zfviz.book.chapters import (  # the studies import the models (torch): only when runs are listed
        chapters as all_chapters,
    )
    from zfviz.data.sets import dataset_identity  # torch: only when a plan is made, not when plan is imported
    from zfviz.runs.records import (  # torch: only when a plan is made, not when plan is imported
        record_path,
        recorded_epochs,
    )
    from zfviz.runs.store import epochs_done, run_dir  # torch: only when a plan is made, not when plan is imported

    seen: dict[tuple, dict] = {}
    for name in chapters or all_chapters():
        for c, epochs in chapter_runs(name, profile):
            key = tuple(sorted((k, str(v)) for k, v in dataclasses.asdict(c).items()))
            row = seen.setdefault(key, run_cost(c, epochs) | {"chapters": [], "config": c})
            if epochs > row["epochs"]:  # a take-off probe that another chapter trains in full
                row.update(run_cost(c, epochs))
            row["chapters"].append(name[:2])

    @cache
    def data_of(dataset: str, splits: tuple[str, ...]) -> dict | None:
        """The data's identity, hashed once per dataset and splits rather than once per run (0.5 s each)."""
        try:
            return dataset_identity(dataset, splits, data_root)
        except (OSError, ValueError):  # no data here: nothing can be trained either; the plan still prints
            return None

    for row in seen.values():
        c = row["config"].resolved()
        data = data_of(c.dataset, c.splits())
        row["run"] = c.run_name(data_root, data) if data is not None else ""
        if data is None:
            row["trained"] = False
            continue
        row["trained"] = epochs_done(run_dir(c, root=data_root, data=data)) >= row["epochs"] or (
            set(row["chapters"]) <= metrics_only()
            and recorded_epochs(record_path(c, root=data_root, data=data)) >= row["epochs"])
    df = pd.DataFrame(list(seen.values()))
    if not df.empty:
        df["chapters"] = df.chapters.map(lambda v: " ".join(sorted(set(v))))
    return df


def plan_table(profile: str, chapters: list[str] | None = None, data_root: str | None = None,
               remeasure: bool = False, log: Callable[[str], object] | None = None) -> str:
    """``plan`` as text for the terminal: the runs grouped by architecture, totals, and the estimated time here."""
    df = plan(profile, chapters, data_root)
    if df.empty:
        return f"profile {profile}: the chapters train no convnet run"
    rate, how = device_rate(profile, remeasure, log)
    g = df.groupby(["run", "epochs", "few_shot", "classes", "precision"], dropna=False).agg(
        runs=("seed", "size"), trained=("trained", "sum"), chapters=("chapters", "first"),
        train_flops=("train_flops", "sum"), eval_flops=("eval_flops", "sum"), disk=("disk_bytes", "sum")).reset_index()
    todo = df[~df.trained]
    lines = [f"profile {profile}: {len(df)} runs, {len(todo)} still to train (finished runs are reused)",
             f"{'model':<32}{'epochs':>7}{'few-shot k':>11}{'precision':>10}{'runs':>6}{'done':>6}{'PFLOP':>8}"
             f"{'disk GB':>9}  chapters"]
    for r in g.itertuples():
        k = "" if pd.isna(r.few_shot) else f"{int(r.few_shot)}"
        lines.append(f"{r.run:<32}{r.epochs:>7}{k:>11}{r.precision:>10}{r.runs:>6}{int(r.trained):>6}"
                     f"{(r.train_flops + r.eval_flops) / 1e15:>8.3f}{r.disk / 1e9:>9.2f}  {r.chapters}")
    if metrics_only() & set(" ".join(df.chapters).split()):
        lines.append(f"done: finished in {runs_root(None)}; a run that only chapter(s) "
                     f"{', '.join(sorted(metrics_only()))} read (their metrics, never weights) is also done once "
                     "its record is committed (book/records)")
    total = todo.train_flops.sum() + todo.eval_flops.sum()
    hours = (total / rate + len(todo) * RUN_OVERHEAD_S) / 3600
    unit, scale = ("PFLOP", 1e15) if total >= 1e14 else ("TFLOP", 1e12)  # a smoke book is a few TFLOP, not 0.000 PFLOP
    lines += [f"still to train: {total / scale:.3f} {unit} ({todo.train_flops.sum() / scale:.3f} training, "
              f"{todo.eval_flops.sum() / scale:.3f} evaluation); all runs: {df.disk_bytes.sum() / 2**30:.1f} GiB of "
              "snapshots and checkpoints",
              f"device: {how}; what is left takes " + _duration(hours)
              + f" (with {RUN_OVERHEAD_S:g} s of set-up per run), and the chapters' analyses come on top"]
    import torch  # torch: only when a plan is made, not when plan is imported

    if not torch.cuda.is_available():  # the same work on one GPU, from FLOPs, so a plan made here shows both
        gpu, gpu_how = gpu_rate(get_profile(profile).precision)
        lines.append(f"on one GPU ({gpu_how}): {_duration(total / gpu / 3600)}")
    return "\n".join(lines)


def _duration(hours: float) -> str:
    """'about 5.7 h', 'about 6.3 min', 'under 10 s'."""
    if hours >= 1:
        return f"about {hours:.1f} h"
    return f"about {hours * 60:.1f} min" if hours * 3600 >= 10 else "under 10 s"


def train_planned(profile: str, chapters: list[str] | None = None, *, data_root: str | None = None,
                  progress: bool = True, log=print) -> int:
    """Train every run the chapters need at ``profile`` that is not trained yet, in the plan's order, with a progress
    bar whose ETA weighs each run by its FLOPs; returns how many runs were trained. The chapters then find them
    finished. An interruption leaves every run resumable: the same command continues where it stopped."""
    from zfviz.runs.train import train  # torch: only when a plan is made, not when plan is imported

    df = plan(profile, chapters, data_root)
    todo = df[~df.trained] if len(df) else df
    if todo.empty:
        return 0
    total = float((todo.train_flops + todo.eval_flops).sum())
    unit, scale = ("TFLOP", 1e12) if total >= 1e13 else ("GFLOP", 1e9)  # a smoke book is GFLOPs: not "0/0 TFLOP"
    bar = tqdm(total=total / scale, unit=unit, disable=not progress, desc=f"training {len(todo)} runs",
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} " + unit + " [{elapsed}<{remaining}]")
    for k, r in enumerate(todo.itertuples()):
        c = r.config
        bar.set_description(f"run {k + 1} of {len(todo)}: {r.run}, seed {c.seed}, {r.epochs} epochs")
        train(c, root=data_root, progress=progress, wait=True, stop_after=r.epochs if r.epochs < c.epochs else None)
        bar.update((r.train_flops + r.eval_flops) / scale)
    bar.close()
    log(f"[zfviz book] trained {len(todo)} runs")
    return len(todo)


__all__ = ["chapter_runs", "metrics_only", "run_cost", "fixed_batch_step", "device_rate", "plan", "plan_table", "train_planned"]
