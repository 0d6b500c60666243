"""Training as in Sec. 3: SGD + momentum, lr 1e-2 annealed twice, dropout, feature scale clipping.

Data lives in memory as uint8 (on the GPU when it fits; otherwise batches are gathered from the memory-mapped cache by
``DataLoader`` workers); crops, flips and mean subtraction happen on the batch, on its device. The step keeps loss
and accuracy counts on the device: the host waits for the device once per epoch (the counts and a finiteness check),
never per step. Everything random is seeded from ``(seed, epoch)``, so a run resumed from its checkpoint ends with the
same weights as an uninterrupted one (exactly on CPU at the same thread count; on GPU, cuDNN's non-deterministic
backward kernels and bf16 make runs differ in the last bits).

Reading order: ``train`` (one run: resolve, lock, load or start), ``_run_epochs`` (the epochs, with evaluation and
saving), ``train_one_epoch`` (the steps, as in torchvision's reference script), ``train_step``.

Multi-GPU: launch the same command under ``torchrun``; each process takes a strided share of every global batch and
DDP averages gradients, which equals single-process training with the same global batch.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from zfviz.core import checkpoint, machine
from zfviz.core.locks import RUN_MARKERS, exclusive, refuse_foreign, sweep_temporaries
from zfviz.data.sets import ImageSet, batch_indices, crop_flip, crop_params, pixel_mean
from zfviz.model.models import build_model, clip_feature_scale
from zfviz.runs.config import identity_diff
from zfviz.runs.evaluate import all_reduce, autocast, dist_info, evaluate, fmt, topk_correct
from zfviz.runs.store import (
    ResolvedConfig,
    TrainConfig,
    finished,
    load_data,
    load_run,
    mark_finished,
    run_dir,
    snapshot_epochs,
    snapshot_path,
    snapshot_problem,
)

CHECKPOINT_SECONDS = 30.0  # the resumable checkpoint is written at least this often (and after every longer epoch)
# clipped_per_step: conv filters feature scale clipping renormalized per step, averaged over the epoch (0: clipping
# never engaged, and the run equals its unclipped twin: the registered testability check of C5 reads it)
METRICS = ["model", "profile", "seed", "epoch", "lr", "train_loss", "train_top1", "train_top5", "val_loss", "val_top1",
           "val_top5", "val10_top1", "val10_top5", "train_images_per_s", "epoch_seconds", "clipped_per_step"]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/"auto": the local GPU if there is one, else the CPU; a bad or unavailable device is a clear error."""
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) if dist.is_initialized() else 0)
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but CUDA is not available here; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    return dev


@dataclass
class _Run:
    """One run being trained: its resolved config, where it is written, the process group, and the state that
    evolves (model, optimizer, schedule, metrics rows)."""

    cfg: ResolvedConfig
    out: Path
    identity: dict
    dev: torch.device
    rank: int
    world: int
    model: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    mean: torch.Tensor
    classes: list[str]
    rows: list[dict] = field(default_factory=list)
    start: int = 0
    # the machines this run's epochs were trained on, in order, each with the first epoch it trained
    # (``machine.signature``): one entry for a run trained in one go; a resume elsewhere appends one
    machines: list[dict] = field(default_factory=list)

    def state(self, epoch: int) -> dict:
        """What a checkpoint holds: everything to resume, and what identifies the run."""
        return dict(model=self.model.state_dict(), optimizer=self.opt.state_dict(), scheduler=self.sched.state_dict(),
                    epoch=epoch, metrics=self.rows, config=dataclasses.asdict(self.cfg), identity=self.identity,
                    arch=self.model.arch.to_dict(), mean=self.mean.cpu(), classes=self.classes,
                    threads=torch.get_num_threads(), machines=self.machines)


def train(cfg: TrainConfig, out_dir: str | os.PathLike | None = None, *, root: str | None = None,
          device: str | None = None, progress: bool = True, stop_after: int | None = None,
          ten_crop_every_snapshot: bool = False, wait: bool = False, workers: int = 2,
          compile: bool = False, data: dict | None = None) -> pd.DataFrame:
    """Train, resume, or finish the run ``cfg`` into ``out_dir``; returns the per-epoch metrics as a tidy DataFrame.

    One process writes a run directory at a time: ``wait`` waits for another writer, else a ``BusyError``.
    ``stop_after`` ends this call after that epoch (the run stays resumable), e.g. to time-box a session.
    ``ten_crop_every_snapshot`` also scores 10-crop validation at every snapshot epoch, not only after the last (no
    chapter reads it there, and at cpu it costs about a fifth of a run).
    ``compile`` runs the training step's forward and backward through ``torch.compile`` (worth it on a GPU; the run
    is the same run, its numbers equal up to kernel rounding).
    ``data``: the data's identity when the caller has already fingerprinted it (as for ``run_dir``).

    >>> from zfviz.runs.store import TrainConfig
    >>> df = train(TrainConfig("zf", "smoke", seed=0), progress=False)  # doctest: +SKIP
    """
    cfg = cfg.resolved()
    rank, world = dist_info()
    dev = resolve_device(device)
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the number of processes {world}")
    check_precision(cfg.precision, dev)
    if out_dir is not None:
        _check_output(Path(out_dir))
    identity = cfg.identity(root, data)  # checks the data (class folders) before anything is written
    # the run's name hashes the same identity: pass its data part on rather than fingerprint every file again
    out = Path(out_dir) if out_dir is not None else run_dir(cfg, root=root, data=identity["data"])
    if out_dir is None:  # an explicit out_dir was checked above, before any work
        _check_output(out)
    last = cfg.epochs if stop_after is None else min(cfg.epochs, int(stop_after))
    train_set, val_set = load_data(cfg, root, progress and rank == 0)
    created = not out.exists()
    try:
        with _run_lock(out, rank, wait):
            run = _start(cfg, out, identity, train_set, dev, rank, world)
            if run is None:  # finished already
                return pd.read_csv(out / "metrics.csv")
            _run_epochs(run, train_set, val_set, last, progress, ten_crop_every_snapshot, workers, compile)
    except BaseException:
        if created and rank == 0 and out.is_dir() and not (out / "checkpoint.pt").exists():
            shutil.rmtree(out, ignore_errors=True)  # nothing worth keeping: leave no empty run directory behind
        raise
    return pd.DataFrame(run.rows)


def _check_output(out: Path) -> None:
    """A run directory, or a new or empty folder: a file, or a user's folder, is refused before any work (zfviz never
    writes into, nor sweeps, a folder it did not make)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out} exists and is not a directory; give a run directory")
    refuse_foreign(out, RUN_MARKERS, "output")


def check_precision(precision: str, dev: torch.device) -> None:
    """One clear error, before any work, for bf16 asked of a CPU that would only emulate it (several times slower)."""
    if precision == "bf16" and dev.type == "cpu" and not machine.native_bf16():
        raise ValueError(f"precision bf16 asked for, but this CPU ({machine.cpu_model()}) has no native bf16 (AMX or "
                         "AVX-512 BF16), where autocast is emulated and slower; use --precision fp32")


def _run_lock(out: Path, rank: int, wait: bool):
    if rank != 0:  # rank 0 holds the directory's lock for the whole group
        return nullcontext()
    out.mkdir(parents=True, exist_ok=True)
    return exclusive(out / ".lock", wait=wait, what=f"run directory {out}")


def _load_checkpoint(path: Path, identity: dict) -> dict | None:
    """The run's resumable state, or None; another run's checkpoint is refused, naming what differs."""
    if not path.exists():
        return None
    state = checkpoint.load(path)
    if state.get("identity") != identity:
        raise ValueError(f"{path} belongs to a different run (differs in {identity_diff(state.get('identity'), identity)}"
                         "); use another output directory or delete it")
    return state


def _warn_thread_change(state: dict, out: Path, dev: torch.device) -> None:
    """Warn when a CPU run resumes at another thread count than it ran at: CPU kernels split their sums per thread,
    so the weights then differ in the last bits from an uninterrupted run's, and training grows that into a different
    (statistically equivalent) model (DEVELOPERS.md, Determinism, has the measurement)."""
    was, now = state.get("threads"), torch.get_num_threads()
    if dev.type == "cpu" and was is not None and was != now:
        warnings.warn(f"{out} ran at {was} CPU threads and resumes at {now}: it will not be bit-identical to an "
                      f"uninterrupted run (set OMP_NUM_THREADS={was} to keep it so)", stacklevel=3)


def _start(cfg: ResolvedConfig, out: Path, identity: dict, train_set: ImageSet, dev: torch.device, rank: int,
           world: int) -> _Run | None:
    """The run's model, optimizer and schedule, fresh or resumed from its checkpoint; None if it is finished."""
    if rank == 0:
        sweep_temporaries(out)
    if world > 1:
        dist.barrier()
    state = _load_checkpoint(out / "checkpoint.pt", identity)
    if finished(out, cfg.epochs):  # (a profile may drop a finished run's checkpoint: the marker is what counts)
        load_run(out, cfg.epochs, identity=identity)  # ...and the final weights must be this run's (one error if not)
        return None
    torch.manual_seed(cfg.seed)  # initial weights
    p = cfg.spec
    model = build_model(cfg.model, len(train_set.classes), width=p.width, input_size=p.input_size, dropout=cfg.dropout,
                        init=cfg.init)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, cfg.anneal, gamma=0.1)
    run = _Run(cfg, out, identity, dev, rank, world, model, opt, sched,
               state["mean"] if state else pixel_mean(train_set.images), train_set.classes)
    if state is not None:
        _warn_thread_change(state, out, dev)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        run.rows, run.start = list(state["metrics"]), int(state["epoch"])
        run.machines = list(state.get("machines") or [])
    here = machine.signature(dev) | {"commit": machine.source_commit()}
    if not run.machines or {k: v for k, v in run.machines[-1].items() if k != "from_epoch"} != here:
        run.machines.append(here | {"from_epoch": run.start + 1})
    # channels-last on every device: tensor cores on CUDA, oneDNN's blocked kernels on CPU (with the fused LRN,
    # 1.3-1.5x per CPU step over NCHW and PyTorch's LRN: benchmarks/RESULTS.md)
    run.model = model.to(dev, memory_format=torch.channels_last)
    # ReLUs in place while training: one buffer fewer per activation, 1.13x per cpu-profile ZF step (AVX-512 EPYC,
    # benchmarks/RESULTS.md) and the same weights to the bit (ReLU's backward reads its output either way:
    # tests/test_train.py). Only this process's copy: loaded snapshots keep PyTorch's default for the analyses' hooks.
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = True
    run.mean = run.mean.to(dev)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        # what stays in fp32 under autocast (the loss, clipping, SGD on the fp32 master weights, evaluation) may use
        # TF32 tensor cores; the bf16 matmuls and convolutions are autocast's
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    return run


def _run_epochs(run: _Run, train_set: ImageSet, val_set: ImageSet, last: int, progress: bool, ten_every: bool,
                workers: int, compile: bool) -> None:
    """Epochs ``run.start + 1`` .. ``last``: train, evaluate where asked, save; finish the run at its last epoch."""
    cfg, dev = run.cfg, run.dev
    # Data resident on the device when it fits (GPU: the whole uint8 tensor); otherwise workers gather batches.
    train_x, train_y = _resident(train_set.images, dev), train_set.labels.to(dev)
    val_x, val_y = _resident(val_set.images, dev), val_set.labels.to(dev)
    net: nn.Module = run.model
    if run.world > 1:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[dev.index] if dev.type == "cuda" else None)
    if compile:
        net = torch.compile(net)  # clipping walks net.modules(), which reach the compiled model's own modules
    snaps = set(snapshot_epochs(cfg))
    saver = _Saver(run)
    for epoch in range(run.start + 1, last + 1):
        t0 = time.perf_counter()
        loss_sum, top1, top5, n, clipped = train_one_epoch(net, run.opt, train_x, train_y, run.mean, cfg, epoch,
                                                           run.rank, run.world, workers, progress)
        train_time = time.perf_counter() - t0
        final = epoch == cfg.epochs
        val = evaluate(run.model, val_x, val_y, run.mean, cfg.spec.input_size) if final or not cfg.few_shot else {}
        ten = epoch in snaps and not cfg.few_shot and (final or ten_every)
        val10 = evaluate(run.model, val_x, val_y, run.mean, cfg.spec.input_size, ten=True) if ten else {}
        nan = float("nan")
        run.rows.append(dict(model=cfg.model, profile=cfg.profile, seed=cfg.seed, epoch=epoch,
                             lr=run.opt.param_groups[0]["lr"], train_loss=loss_sum / n, train_top1=100 * top1 / n,
                             train_top5=100 * top5 / n, val_loss=val.get("loss", nan), val_top1=val.get("top1", nan),
                             val_top5=val.get("top5", nan), val10_top1=val10.get("top1", nan),
                             val10_top5=val10.get("top5", nan), train_images_per_s=n / train_time,
                             epoch_seconds=time.perf_counter() - t0, clipped_per_step=clipped))
        run.sched.step()
        if run.rank == 0:
            saver.epoch_done(epoch, epoch in snaps, epoch == last)
        if run.world > 1:
            dist.barrier()
    if run.rank == 0 and last == cfg.epochs:
        saver.flush()
        _finish(run.out, cfg.epochs, keep_checkpoint=cfg.spec.keep_checkpoint)


def train_one_epoch(net: nn.Module, opt: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor,
                    mean: torch.Tensor, cfg: ResolvedConfig, epoch: int, rank: int = 0, world: int = 1,
                    workers: int = 2, progress: bool = False) -> tuple[float, float, float, float, float]:
    """One epoch of SGD over ``images`` (uint8, on any device) with the run's crops, flips and dropout masks seeded by
    ``(cfg.seed, epoch)``; returns (loss sum, top-1 count, top-5 count, images) summed over processes and the filters
    clipped per step, after the epoch's one host synchronization (which also checks that the loss stayed finite)."""
    dev = labels.device
    gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    torch.manual_seed(cfg.seed * 100_003 + epoch + rank * 7_919)  # dropout masks
    net.train()
    stats = torch.zeros(4, dtype=torch.float64, device=dev)  # loss sum, top-1, top-5, n: on the device
    clipped = torch.zeros((), dtype=torch.float64, device=dev)  # filters clipped, summed over the steps
    batches = batch_indices(len(labels), cfg.batch_size, shuffle=True, generator=gen,
                            drop_last=len(labels) >= cfg.batch_size)
    # augmentation is drawn for the global batch, so every process count sees the same crops
    crop = cfg.spec.input_size
    params = [crop_params(len(b), images.shape[-1], crop, gen)[rank::world] for b in batches]
    feed = _feed(images, [b[rank::world] for b in batches], dev, workers)
    bar = tqdm(zip(feed, params), total=len(batches), disable=not (progress and rank == 0),
               desc=f"epoch {epoch}/{cfg.epochs}", leave=False)
    for (x_u8, idx), prm in bar:
        y = labels[idx.to(labels.device)]
        loss, logits = train_step(net, opt, crop_flip(x_u8, mean, crop, prm), y, cfg.clip_radius, cfg.precision,
                                  clipped)
        with torch.no_grad():
            stats[0] += loss * len(y)
            stats[1:3] += topk_correct(logits, y)
            stats[3] += len(y)
    loss_sum, top1, top5, n = all_reduce(stats).tolist()  # the epoch's one host sync
    if not torch.isfinite(torch.tensor(loss_sum)):
        raise FloatingPointError(f"the training loss became {loss_sum} in epoch {epoch}; lower the lr or keep "
                                 "feature scale clipping on")
    # every process clips the same replicated weights: rank 0's count is the run's
    return loss_sum, top1, top5, n, float(clipped) / max(1, len(batches))


class _Saver:
    """Writes a run's files after each epoch (rank 0): the snapshot at snapshot epochs, the epoch's metrics row
    appended to ``metrics.csv``, and the resumable checkpoint after every epoch that took long enough. Epochs of a few
    seconds (few-shot runs) save their checkpoint at most every ``CHECKPOINT_SECONDS``: a resume then redoes those
    epochs and ends with the same weights. Nothing is rewritten per epoch, so an epoch's cost does not grow with the
    number of epochs before it."""

    def __init__(self, run: _Run) -> None:
        self.run, self.saved_at = run, time.perf_counter()
        self.metrics = run.out / "metrics.csv"
        _write_metrics(run.out, run.rows)  # the rows a resume starts from, and nothing after them
        self.written = len(run.rows)

    def epoch_done(self, epoch: int, snapshot: bool, last: bool) -> None:
        run = self.run
        state = None
        if snapshot:
            state = run.state(epoch)
            checkpoint.save(_snapshot(state), snapshot_path(run.out, epoch))
        if last or snapshot or time.perf_counter() - self.saved_at >= CHECKPOINT_SECONDS:
            self.flush()
            checkpoint.save(state or run.state(epoch), run.out / "checkpoint.pt")
            self.saved_at = time.perf_counter()

    def flush(self) -> None:
        """Append the metrics rows not written yet (the checkpoint written next holds them all)."""
        new = self.run.rows[self.written:]
        if new:
            pd.DataFrame(new, columns=METRICS).to_csv(self.metrics, mode="a", header=False, index=False)
            self.written = len(self.run.rows)


def _finish(out: Path, epochs: int, keep_checkpoint: bool = True) -> None:
    """Make the final snapshot and metrics agree with the checkpoint at the last epoch, then mark the run finished.

    Verifies before approving: the checkpoint must be this run's at the last epoch with finite weights; the final
    snapshot must be readable, this run's, of the last epoch and finite, else it is rewritten from the checkpoint
    (a kill, a lost file, a NaN-filled or another run's snapshot all repair here).
    """
    ckpt = out / "checkpoint.pt"
    state = checkpoint.load(ckpt)
    if int(state["epoch"]) != epochs:
        return
    problem = snapshot_problem(state, state.get("identity"), epochs)
    if problem:
        raise ValueError(f"cannot finish {out}: its checkpoint {ckpt} is unusable ({problem}); delete the run "
                         "directory to train it again")
    snap = snapshot_path(out, epochs)
    try:
        ok = snapshot_problem(checkpoint.load(snap), state["identity"], epochs) is None
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        checkpoint.save(_snapshot(state), snap)
    _write_metrics(out, state["metrics"])
    machines = list(state.get("machines") or [])
    mark_finished(out, epochs, {"machines": machines, "realization": machine.realization(machines),
        "precision": state["config"].get("precision") or "fp32",
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    if not keep_checkpoint:  # the profile's disk budget: a finished run keeps its snapshots only
        (out / "checkpoint.pt").unlink(missing_ok=True)


def _write_metrics(out: Path, rows: list[dict]) -> None:
    checkpoint.atomic_write(out / "metrics.csv", lambda tmp: pd.DataFrame(rows, columns=METRICS).to_csv(tmp,
                                                                                                       index=False))


def train_step(net: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               clip_radius: float | None, precision: str = "fp32",
               clipped: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step (channels-last; the forward under bf16 autocast when ``precision`` is "bf16", with the loss, the
    gradients' update and the weights in fp32), then feature scale clipping; returns loss, logits. ``clipped``, if
    given, is a 0-d tensor the number of filters clipped is added to.

    No host synchronization: everything stays on the device.
    """
    dev = x.device
    with autocast(dev, precision):
        logits = net(fmt(x, dev))
    loss = F.cross_entropy(logits.float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if clip_radius is not None:
        n = clip_feature_scale(getattr(net, "module", net), clip_radius)
        if clipped is not None:
            clipped += n.to(clipped.device)
    return loss.detach(), logits.detach()


def _resident(images: torch.Tensor, dev: torch.device) -> torch.Tensor:
    if dev.type != "cuda":
        return images
    free, _ = torch.cuda.mem_get_info(dev)
    return images.to(dev) if images.numel() < 0.5 * free else images


class _Rows(torch.utils.data.Dataset):
    """Batches of rows of a (memory-mapped) uint8 tensor, gathered in a worker."""

    def __init__(self, images: torch.Tensor, batches: list[torch.Tensor]) -> None:
        self.images, self.batches = images, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.batches[i]
        return self.images[idx], idx


def _feed(images: torch.Tensor, batches: list[torch.Tensor], dev: torch.device, workers: int):
    """Yield (uint8 batch on ``dev``, its indices). Device-resident images are indexed in place; on CUDA with the data
    left on the host, ``DataLoader`` workers gather batches from the memory map ahead of the GPU (pinned memory).
    On the CPU the batch is gathered directly (the cache is in the page cache; workers would only add copies)."""
    if images.device == dev or dev.type == "cpu":
        for idx in batches:
            yield images[idx.to(images.device)].to(dev, non_blocking=True), idx
        return
    loader = torch.utils.data.DataLoader(_Rows(images, batches), batch_size=None, shuffle=False,
                                         num_workers=workers, pin_memory=True, prefetch_factor=4 if workers else None,
                                         persistent_workers=False)
    for x, idx in loader:
        yield x.to(dev, non_blocking=True), idx


def _snapshot(state: dict) -> dict:
    return {k: state[k] for k in ("model", "epoch", "config", "identity", "arch", "mean", "classes")} | {
        "metrics": state["metrics"][-1:], "machines": state.get("machines") or []}
