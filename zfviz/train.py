"""Training as in Sec. 3: SGD + momentum, lr 1e-2 annealed twice, dropout, feature scale clipping.

Data lives in memory as uint8 (on the GPU when it fits; otherwise batches are gathered from the memory-mapped cache by
``DataLoader`` workers); crops, flips and mean subtraction happen on the batch, on its device. The step keeps loss
and accuracy counts on the device: the host waits for the GPU only every ``CHECK_EVERY`` steps (a finiteness check)
and once per epoch. Everything random is seeded from ``(seed, epoch)``, so a run resumed from its per-epoch checkpoint
ends with the same weights as an uninterrupted one (exactly on CPU; on GPU, cuDNN's non-deterministic backward kernels
and bf16 make runs differ in the last bits).

Multi-GPU: launch the same command under ``torchrun``; each process takes a strided share of every global batch and
DDP averages gradients, which equals single-process training with the same global batch.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from . import checkpoint
from .data import batch_indices, crop_flip, crop_params, pixel_mean
from .evaluate import all_reduce, autocast, dist_info, evaluate, fmt, topk_correct
from .locks import exclusive, sweep_temporaries
from .models import build_model, clip_feature_scale
from .paths import runs_root
from .profiles import anneal_epochs, get_profile
from .runs import (TrainConfig, finished, load_data, mark_finished, snapshot_epochs, snapshot_path,
                   snapshot_problem)

CHECKPOINT_SECONDS = 30.0  # the resumable checkpoint is written at least this often (and after every longer epoch)
CHECK_EVERY = 50  # steps between finiteness checks of the loss (the only per-step host sync)


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


def train(cfg: TrainConfig, out_dir: str | os.PathLike | None = None, *, root: str | None = None,
          device: str | None = None, progress: bool = True, stop_after: int | None = None,
          ten_crop_every_snapshot: bool = False, wait: bool = False, workers: int = 2,
          compile: bool = False) -> pd.DataFrame:
    """Train, resume, or finish the run ``cfg`` into ``out_dir``; returns the per-epoch metrics as a tidy DataFrame.

    One process writes a run directory at a time: ``wait`` waits for another writer, else a ``BusyError``.
    ``stop_after`` ends this call after that epoch (the run stays resumable), e.g. to time-box a session.
    ``ten_crop_every_snapshot`` also scores 10-crop validation at every snapshot epoch, not only after the last (no
    chapter reads it there, and at cpu it costs about a fifth of a run).
    ``compile`` runs the training step's forward and backward through ``torch.compile`` (worth it on a GPU; the run
    is the same run, its numbers equal up to kernel rounding).
    """
    cfg = cfg.resolved()
    p = get_profile(cfg.profile)
    rank, world = dist_info()
    dev = resolve_device(device)
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the number of processes {world}")
    out = Path(out_dir) if out_dir is not None else runs_root() / cfg.run_name(root)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out} exists and is not a directory; give a run directory")
    if stop_after is not None:
        stop_after = int(stop_after)
    identity = cfg.identity(root)  # checks the data (class folders) before anything is written
    train_set, val_set = load_data(cfg, root, progress and rank == 0)
    created = not out.exists()
    try:
        with _run_lock(out, rank, wait):
            return _train_locked(cfg, p, out, identity, train_set, val_set, dev, rank, world, progress, stop_after,
                                 ten_crop_every_snapshot, workers, compile)
    except BaseException:
        if created and rank == 0 and out.is_dir() and not (out / "checkpoint.pt").exists():
            shutil.rmtree(out, ignore_errors=True)  # nothing worth keeping: leave no empty run directory behind
        raise


def _run_lock(out: Path, rank: int, wait: bool):
    if rank != 0:  # rank 0 holds the directory's lock for the whole group
        from contextlib import nullcontext

        return nullcontext()
    out.mkdir(parents=True, exist_ok=True)
    return exclusive(out / ".lock", wait=wait, what=f"run directory {out}")


def _train_locked(cfg, p, out, identity, train_set, val_set, dev, rank, world, progress, stop_after, ten_every,
                  workers, compile) -> pd.DataFrame:
    ckpt_path = out / "checkpoint.pt"
    if rank == 0:
        sweep_temporaries(out)
    if world > 1:
        dist.barrier()
    state = checkpoint.load(ckpt_path) if ckpt_path.exists() else None
    if state is not None and state.get("identity") != identity:
        saved = state.get("identity") or {}
        diff = sorted(k for k in set(saved.get("config", {})) | set(identity["config"])
                      if saved.get("config", {}).get(k) != identity["config"].get(k))
        other = [k for k in ("geometry", "anneal", "data", "key_version") if saved.get(k) != identity[k]]
        raise ValueError(f"{ckpt_path} belongs to a different run (differs in {diff + other}); "
                         "use another output directory or delete it")
    if state is not None and finished(out, cfg.epochs):
        return pd.read_csv(out / "metrics.csv")
    torch.manual_seed(cfg.seed)  # initial weights
    model = build_model(cfg.model, len(train_set.classes), width=p.width, input_size=p.input_size, dropout=cfg.dropout,
                        init=cfg.init)
    arch = model.arch
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, anneal_epochs(cfg.epochs, p.anneal_at), gamma=0.1)
    rows: list[dict] = []
    start = 0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        rows, start = list(state["metrics"]), int(state["epoch"])
    mean = state["mean"] if start else pixel_mean(train_set.images)
    # channels-last on every device: tensor cores on CUDA, oneDNN's blocked kernels on CPU (with the fused LRN,
    # 1.3-1.5x per CPU step over NCHW and PyTorch's LRN: benchmarks/RESULTS.md)
    model = model.to(dev, memory_format=torch.channels_last)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    # Data resident on the device when it fits (GPU: the whole uint8 tensor); otherwise workers gather batches.
    train_x, train_y = _resident(train_set.images, dev), train_set.labels.to(dev)
    val_x, val_y = _resident(val_set.images, dev), val_set.labels.to(dev)
    mean = mean.to(dev)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    if compile:
        net = torch.compile(net)  # clipping walks net.modules(), which reach the compiled model's own modules

    def state_dict(epoch: int) -> dict:
        return dict(model=model.state_dict(), optimizer=opt.state_dict(), scheduler=sched.state_dict(), epoch=epoch,
                    metrics=rows, config=dataclasses.asdict(cfg), identity=identity, arch=arch.to_dict(),
                    mean=mean.cpu(), classes=train_set.classes)

    snaps = set(snapshot_epochs(cfg.epochs, cfg.few_shot))
    last = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
    nan = float("nan")
    saved_at = time.perf_counter()
    for epoch in range(start + 1, last + 1):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch + rank * 7_919)  # dropout masks
        net.train()
        stats = torch.zeros(4, dtype=torch.float64, device=dev)  # loss sum, top-1, top-5, n: on the device
        batches = batch_indices(len(train_y), cfg.batch_size, shuffle=True, generator=gen,
                                drop_last=len(train_y) >= cfg.batch_size)
        # augmentation is drawn for the global batch, so every process count sees the same crops
        params = [crop_params(len(b), train_x.shape[-1], p.input_size, gen)[rank::world] for b in batches]
        feed = _feed(train_x, [b[rank::world] for b in batches], dev, workers)
        bar = tqdm(zip(feed, params), total=len(batches), disable=not (progress and rank == 0),
                   desc=f"epoch {epoch}/{cfg.epochs}", leave=False)
        for step, ((images, idx), prm) in enumerate(bar):
            x = crop_flip(images, mean, p.input_size, prm)
            y = train_y[idx.to(train_y.device)]
            loss, logits = train_step(net, opt, x, y, cfg.clip_radius)
            with torch.no_grad():
                stats[0] += loss * len(y)
                stats[1:3] += topk_correct(logits, y)
                stats[3] += len(y)
            if (step + 1) % CHECK_EVERY == 0:
                _check_finite(stats[0], epoch)
        loss_sum, top1, top5, n = all_reduce(stats).tolist()
        _check_finite(torch.tensor(loss_sum), epoch)
        train_time = time.perf_counter() - t0
        final = epoch == cfg.epochs
        is_snapshot = epoch in snaps
        val = evaluate(model, val_x, val_y, mean, p.input_size) if final or not cfg.few_shot else {}
        val10 = evaluate(model, val_x, val_y, mean, p.input_size, ten=True) \
            if is_snapshot and not cfg.few_shot and (final or ten_every) else {}
        row = dict(model=cfg.model, profile=cfg.profile, seed=cfg.seed, epoch=epoch, lr=opt.param_groups[0]["lr"],
                   train_loss=loss_sum / n, train_top1=100 * top1 / n, train_top5=100 * top5 / n,
                   val_loss=val.get("loss", nan), val_top1=val.get("top1", nan), val_top5=val.get("top5", nan),
                   val10_top1=val10.get("top1", nan), val10_top5=val10.get("top5", nan),
                   train_images_per_s=n / train_time, epoch_seconds=time.perf_counter() - t0)
        rows.append(row)
        sched.step()
        if rank == 0:
            state = state_dict(epoch)
            if is_snapshot:
                checkpoint.save(_snapshot(state), snapshot_path(out, epoch))
            _write_metrics(out, rows)
            # Resumable state after every epoch, except that epochs of a few seconds (few-shot runs) save at most
            # every CHECKPOINT_SECONDS: a resume then redoes those epochs and ends with the same weights.
            if epoch == last or is_snapshot or time.perf_counter() - saved_at >= CHECKPOINT_SECONDS:
                checkpoint.save(state, out / "checkpoint.pt")
                saved_at = time.perf_counter()
        if world > 1:
            dist.barrier()
    if rank == 0 and last == cfg.epochs:
        _finish(out, cfg.epochs)
    return pd.DataFrame(rows)


def _finish(out: Path, epochs: int) -> None:
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
    mark_finished(out, epochs)


def _write_metrics(out: Path, rows: list[dict]) -> None:
    checkpoint.atomic_write(out / "metrics.csv", lambda tmp: pd.DataFrame(rows).to_csv(tmp, index=False))


def _check_finite(value: torch.Tensor, epoch: int) -> None:
    if not bool(torch.isfinite(value)):
        raise FloatingPointError(f"the training loss became {float(value)} in epoch {epoch}; lower the lr or keep "
                                 "feature scale clipping on")


def train_step(net: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               clip_radius: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step (channels-last; bf16 autocast on GPU), then feature scale clipping; returns loss, logits.

    No host synchronization: everything stays on the device.
    """
    dev = x.device
    with autocast(dev):
        logits = net(fmt(x, dev))
        loss = F.cross_entropy(logits.float(), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if clip_radius is not None:
        clip_feature_scale(getattr(net, "module", net), clip_radius)
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
        "metrics": state["metrics"][-1:]}
