"""Training as in Sec. 3: SGD + momentum, lr 1e-2 annealed on validation plateau, dropout, feature scale clipping.

Data lives in memory as uint8 (on the GPU when there is one); crops, flips and mean subtraction happen on the
batch, on its device. Everything that draws random numbers is seeded from ``(seed, epoch)``, so a run resumed from
its per-epoch checkpoint ends with the same weights as an uninterrupted one (exactly on CPU; on GPU, cuDNN's
non-deterministic backward kernels make runs differ in the last bits).

Multi-GPU: launch the same command under ``torchrun``; each process takes a strided share of every global batch and
DDP averages gradients, which equals single-process training with the same global batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from . import checkpoint
from .data import ImageSet, batch_indices, center_crop, crop_flip, crop_params, few_shot_split, load_split, \
    per_class_subset, pixel_mean, ten_crop
from .models import ConvNet, build_model, clip_feature_scale, eval_mode, model_from_arch
from .profiles import get_profile

SNAPSHOT_EPOCHS = (1, 2, 5, 10, 20, 30, 40, 64)  # Fig. 4
CHECKPOINT_SECONDS = 30.0  # the resumable checkpoint is written at least this often (and after every longer epoch)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (and so its cache key)."""

    model: str = "zf"
    profile: str = "cpu"
    dataset: str = "imagenette"
    epochs: int | None = None  # None: the profile's
    batch_size: int | None = None  # None: the profile's
    lr: float = 1e-2
    momentum: float = 0.9
    weight_decay: float = 5e-4  # not stated by ZF; Krizhevsky et al.'s value, whose code theirs was based on
    dropout: float = 0.5
    clip_radius: float | None = 0.1  # feature scale clipping; None turns it off (Fig. 6a)
    init: str = "paper"
    plateau_patience: int | None = None  # None: the profile's
    seed: int = 0
    # Few-shot runs (Tables 4-6, trained from scratch): ``train_per_class`` images per class of the dataset's val
    # split train, the rest are the test set; ``split`` picks the random split (``data.few_shot_split``). The test
    # set is evaluated once, after the last epoch, and the lr schedule watches training accuracy, never the test.
    train_per_class: int | None = None
    split: int = 0

    def resolved(self) -> "TrainConfig":
        """Fill the profile's defaults in and validate every field."""
        p = get_profile(self.profile)
        c = dataclasses.replace(
            self,
            epochs=p.epochs if self.epochs is None else self.epochs,
            batch_size=p.batch_size if self.batch_size is None else self.batch_size,
            plateau_patience=p.plateau_patience if self.plateau_patience is None else self.plateau_patience,
        )
        for name in ("epochs", "batch_size", "seed", "plateau_patience"):
            v = getattr(c, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if name in ("seed", "plateau_patience") else 1):
                raise ValueError(f"{name} must be a {'non-negative' if name == 'seed' else 'positive'} int, got {v!r}")
        for name in ("lr", "momentum", "weight_decay", "dropout"):
            v = getattr(c, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite non-negative number, got {v!r}")
        k = c.train_per_class
        if k is not None and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
            raise ValueError(f"train_per_class must be a positive int or None, got {c.train_per_class!r}")
        if not isinstance(c.split, int) or isinstance(c.split, bool) or c.split < 0:
            raise ValueError(f"split must be a non-negative int, got {c.split!r}")
        if c.clip_radius is not None and not (isinstance(c.clip_radius, (int, float)) and c.clip_radius > 0):
            raise ValueError(f"clip_radius must be a positive number or None (off), got {c.clip_radius!r}")
        return c

    def identity(self) -> dict:
        """The resolved config minus ``epochs``: a longer run of the same identity extends a shorter one."""
        return _identity(dataclasses.asdict(self.resolved()))

    @property
    def few_shot(self) -> bool:
        """Whether this run trains on ``train_per_class`` images per class (Tables 4-6)."""
        return self.train_per_class is not None

    def key(self) -> str:
        """A short hash of ``identity()``: the run directory's name ends with it."""
        blob = json.dumps(self.identity(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]

    def run_name(self) -> str:
        """``<model>-<profile>-s<seed>-<key>``."""
        return f"{self.model}-{self.profile}-s{self.seed}-{self.key()}"


def _identity(config: dict) -> dict:
    d = {k: v for k, v in config.items() if k != "epochs"}
    if d.get("train_per_class") is None:  # runs from before few-shot fields existed keep their keys
        d.pop("train_per_class", None)
        d.pop("split", None)
    return d


def default_runs_dir() -> Path:
    """``$ZFVIZ_RUNS`` or ``./runs``."""
    return Path(os.environ.get("ZFVIZ_RUNS", "runs"))


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _device(device: str | None) -> torch.device:
    if device in (None, "auto"):
        if dist.is_initialized() and torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _allreduce(values: list[float], device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


def prepare_data(cfg: TrainConfig, root: str | None = None, progress: bool = True,
                 download: bool = True) -> tuple[ImageSet, ImageSet, torch.Tensor]:
    """The profile's train and val splits (uint8, cached) and the training split's per-pixel mean.

    Few-shot configs split the dataset's val split instead: ``train_per_class`` per class to train, the rest to test.

    Imagenette is downloaded (torchvision, checksum-verified) when no local copy is found and ``download`` is set.
    """
    p = get_profile(cfg.profile)
    val = load_split(cfg.dataset, "val", p.resize, root=root, progress=progress, download=download)
    if cfg.few_shot:
        tr, te = few_shot_split(val.labels, cfg.train_per_class, cfg.seed, cfg.split, max_test=p.val_per_class)
        train = val.subset(torch.as_tensor(tr))
        val = val.subset(torch.as_tensor(te))
        return train, val, pixel_mean(train.images)
    train = load_split(cfg.dataset, "train", p.resize, root=root, progress=progress, download=download)
    if p.train_per_class is not None:
        train = train.subset(per_class_subset(train.labels, p.train_per_class))
    if p.val_per_class is not None:
        val = val.subset(per_class_subset(val.labels, p.val_per_class))
    return train, val, pixel_mean(train.images)


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor, crop: int, *,
             ten: bool = False, batch_size: int = 256, device: torch.device | None = None) -> dict[str, float]:
    """Loss, top-1 and top-5 accuracy (%) with the centre crop, or averaging softmax over the paper's 10 crops."""
    device = device or next(model.parameters()).device
    rank, world = _dist_info()
    loss_sum = top1 = top5 = n = 0.0
    if ten:
        batch_size = max(1, batch_size // 8)  # 10 crops per image: keep the forward batch near batch_size
    with eval_mode(model):
        for idx in batch_indices(len(labels), batch_size, shuffle=False, rank=rank, world=world):
            x = images[idx].to(device, non_blocking=True)
            y = labels[idx].to(device)
            prob = _probs(model, x, mean, crop, ten, device)
            loss_sum += float(F.nll_loss(prob.clamp_min(1e-12).log(), y, reduction="sum"))
            k = min(5, prob.shape[1])
            pred = prob.topk(k, dim=1).indices
            top1 += float((pred[:, 0] == y).sum())
            top5 += float((pred == y[:, None]).any(1).sum())
            n += len(y)
    loss_sum, top1, top5, n = _allreduce([loss_sum, top1, top5, n], device)
    return dict(loss=loss_sum / n, top1=100 * top1 / n, top5=100 * top5 / n)


def _probs(model: nn.Module, x: torch.Tensor, mean: torch.Tensor, crop: int, ten: bool,
           device: torch.device) -> torch.Tensor:
    with _autocast(device):
        if ten:
            crops = ten_crop(x, mean, crop)  # (10, B, 3, c, c)
            logits = model(_fmt(crops.flatten(0, 1), device)).float().view(10, len(x), -1)
            return logits.softmax(-1).mean(0)
        return model(_fmt(center_crop(x, mean, crop), device)).float().softmax(-1)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, *, ten: bool = True,
            batch_size: int = 256, progress: bool = False) -> torch.Tensor:
    """Class probabilities (N, classes) for uint8 images: the centre crop, or the softmax averaged over 10 crops.

    Averaging these over models gives the paper's ensembles (Table 2).
    """
    device = next(model.parameters()).device
    if ten:
        batch_size = max(1, batch_size // 8)
    out = []
    with eval_mode(model):
        for idx in tqdm(batch_indices(len(images), batch_size, shuffle=False), disable=not progress, desc="predict"):
            out.append(_probs(model, images[idx].to(device), mean.to(device), crop, ten, device).cpu())
    return torch.cat(out)


def accuracy(probs: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Top-``k`` accuracy (%) of class probabilities (or scores) against labels."""
    k = min(k, probs.shape[1])
    return 100 * int((probs.topk(k, dim=1).indices == labels[:, None]).any(1).sum()) / len(labels)


def _autocast(device: torch.device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)


def _fmt(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if device.type == "cuda" else x


def train(cfg: TrainConfig, out_dir: str | os.PathLike | None = None, *, root: str | None = None,
          device: str | None = None, progress: bool = True, stop_after: int | None = None,
          ten_crop_every_snapshot: bool = True) -> pd.DataFrame:
    """Train (or resume) the run ``cfg`` into ``out_dir``; returns the per-epoch metrics as a tidy DataFrame.

    ``stop_after`` ends this call after that epoch (the run stays resumable), e.g. to time-box a session.
    ``ten_crop_every_snapshot=False`` scores 10-crop validation only after the last epoch (snapshots are still saved;
    the weights are the same either way): a saving when only the final number is wanted, as for Table 3's rows.
    """
    cfg = cfg.resolved()
    p = get_profile(cfg.profile)
    rank, world = _dist_info()
    dev = _device(device)
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the number of processes {world}")
    out = Path(out_dir) if out_dir is not None else default_runs_dir() / cfg.run_name()
    ckpt_path = out / "checkpoint.pt"
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)

    train_set, val_set, mean = prepare_data(cfg, root, progress and rank == 0)
    num_classes = len(train_set.classes)
    torch.manual_seed(cfg.seed)  # initial weights
    model = build_model(cfg.model, num_classes, width=p.width, input_size=p.input_size, dropout=cfg.dropout,
                        init=cfg.init)
    arch = model.arch
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.1, patience=cfg.plateau_patience)
    rows: list[dict] = []
    start = 0
    if ckpt_path.exists():
        state = checkpoint.load(ckpt_path)
        saved = _identity(state["config"])
        if saved != cfg.identity():
            diff = sorted(k for k in saved if saved[k] != cfg.identity().get(k))
            raise ValueError(f"{ckpt_path} belongs to a different config (differs in {diff}); "
                             "use another out_dir or delete it")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        rows, start = list(state["metrics"]), int(state["epoch"])
    model.to(dev)
    if dev.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    # Data resident on the device when it fits (GPU: whole uint8 tensor; CPU: already in memory / memory-mapped).
    train_x, train_y = _resident(train_set.images, dev), train_set.labels.to(dev)
    val_x, val_y = _resident(val_set.images, dev), val_set.labels.to(dev)
    mean = mean.to(dev)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)

    last = cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)
    nan = float("nan")
    saved_at = time.perf_counter()
    for epoch in range(start + 1, last + 1):
        t0 = time.perf_counter()
        gen = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        torch.manual_seed(cfg.seed * 100_003 + epoch + rank * 7_919)  # dropout masks
        net.train()
        loss_sum = top1 = top5 = n = 0.0
        batches = batch_indices(len(train_y), cfg.batch_size, shuffle=True, generator=gen,
                                drop_last=len(train_y) >= cfg.batch_size)
        bar = tqdm(batches, disable=not (progress and rank == 0), desc=f"epoch {epoch}/{cfg.epochs}", leave=False)
        for global_idx in bar:
            # augmentation is drawn for the global batch, so every process count sees the same crops
            params = crop_params(len(global_idx), train_x.shape[-1], p.input_size, gen)[rank::world]
            idx = global_idx[rank::world].to(train_x.device)
            x = crop_flip(train_x[idx].to(dev, non_blocking=True), mean, p.input_size, params)
            y = train_y[idx.to(dev)]
            loss, logits = train_step(net, opt, x, y, cfg.clip_radius)
            with torch.no_grad():
                loss_value = loss.item()
                k = min(5, logits.shape[1])
                pred = logits.topk(k, dim=1).indices
                loss_sum += loss_value * len(y)
                top1 += float((pred[:, 0] == y).sum())
                top5 += float((pred == y[:, None]).any(1).sum())
                n += len(y)
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"loss became {loss_value} at epoch {epoch}; lower lr or check clip_radius")
        loss_sum, top1, top5, n = _allreduce([loss_sum, top1, top5, n], dev)
        train_time = time.perf_counter() - t0
        final = epoch == cfg.epochs
        is_snapshot = final or (epoch in SNAPSHOT_EPOCHS and not cfg.few_shot)
        val = evaluate(model, val_x, val_y, mean, p.input_size, device=dev) if final or not cfg.few_shot else {}
        val10 = evaluate(model, val_x, val_y, mean, p.input_size, ten=True, device=dev) \
            if is_snapshot and not cfg.few_shot and (final or ten_crop_every_snapshot) else {}
        row = dict(model=cfg.model, profile=cfg.profile, seed=cfg.seed, epoch=epoch, lr=opt.param_groups[0]["lr"],
                   train_loss=loss_sum / n, train_top1=100 * top1 / n, train_top5=100 * top5 / n,
                   val_loss=val.get("loss", nan), val_top1=val.get("top1", nan), val_top5=val.get("top5", nan),
                   val10_top1=val10.get("top1", nan), val10_top5=val10.get("top5", nan),
                   train_images_per_s=n / train_time, epoch_seconds=time.perf_counter() - t0)
        rows.append(row)
        sched.step(row["train_top1"] if cfg.few_shot else val["top1"])
        if rank == 0:
            state = dict(model=model.state_dict(), optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                         epoch=epoch, metrics=rows, config=dataclasses.asdict(cfg), arch=arch.to_dict(),
                         mean=mean.cpu(), classes=train_set.classes)
            if is_snapshot:
                checkpoint.save(_snapshot(state), out / "snapshots" / f"epoch_{epoch:03d}.pt")
            pd.DataFrame(rows).to_csv(out / "metrics.csv.tmp", index=False)
            os.replace(out / "metrics.csv.tmp", out / "metrics.csv")
            # Resumable state after every epoch, except that epochs of a few seconds (few-shot runs) save at most
            # every CHECKPOINT_SECONDS: a resume then redoes those epochs and ends with the same weights.
            if epoch == last or is_snapshot or time.perf_counter() - saved_at >= CHECKPOINT_SECONDS:
                checkpoint.save(state, ckpt_path)  # last: a checkpoint implies its snapshot and metrics exist
                saved_at = time.perf_counter()
        if world > 1:
            dist.barrier()
    return pd.DataFrame(rows)


def train_step(net: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               clip_radius: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step (bf16 autocast and channels_last on GPU), then feature scale clipping; returns loss, logits."""
    dev = x.device
    with _autocast(dev):
        logits = net(_fmt(x, dev))
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


def _snapshot(state: dict) -> dict:
    return {k: state[k] for k in ("model", "epoch", "config", "arch", "mean", "classes")} | {
        "metrics": state["metrics"][-1:]}


def load_trained(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[ConvNet, dict]:
    """Load a snapshot or checkpoint: the model in eval mode and its metadata (config, mean, classes, epoch)."""
    state = checkpoint.load(path, map_location="cpu")
    for key in ("model", "arch"):
        if key not in state:
            raise ValueError(f"{path} is not a zfviz checkpoint (no {key!r} entry)")
    model = model_from_arch(state["arch"])
    model.load_state_dict(state["model"])
    meta = {k: v for k, v in state.items() if k not in ("model", "optimizer", "scheduler")}
    return model.to(device).eval(), meta


def ensure_trained(cfg: TrainConfig, runs_dir: str | os.PathLike | None = None, **kwargs) -> Path:
    """The run directory of ``cfg``, training (or finishing) it first if its final snapshot is missing."""
    cfg = cfg.resolved()
    out = Path(runs_dir or default_runs_dir()) / cfg.run_name()
    if not (out / "snapshots" / f"epoch_{cfg.epochs:03d}.pt").exists():
        train(cfg, out, **kwargs)
    return out
