"""Scoring a model: loss and top-k accuracy with the centre crop or the paper's 10 crops, and class probabilities
(the paper's ensembles average them). Counts stay on the device until the end of a pass."""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from zfviz.data.sets import batch_indices, center_crop, ten_crop
from zfviz.model.models import eval_mode, model_device


def autocast(device: torch.device, precision: str = "fp32"):
    """bf16 autocast on ``device`` when ``precision`` is "bf16"; a no-op for "fp32". Scoring, the deconvnet and every
    analysis run in fp32 on the fp32 weights (a bf16 run keeps fp32 master weights); only training steps opt in."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def fmt(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch of images in channels-last layout: faster convolutions on CUDA (tensor cores) and on CPU (oneDNN's
    blocked kernels, 1.1-1.3x for a ZF step); ``device`` is kept for callers that format for a given device."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def in_topk(scores: torch.Tensor, labels: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Per row (over the last dim of ``scores``, e.g. (N, C) or (seeds, N, C)): is the label among the top-k scores."""
    return (scores.topk(min(k, scores.shape[-1]), dim=-1).indices == labels[..., None]).any(-1)


def topk_correct(scores: torch.Tensor, labels: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> torch.Tensor:
    """How many rows have their label among the top-k scores, for each k: a (len(ks),) tensor on the scores' device."""
    return torch.stack([in_topk(scores, labels, kk).sum() for kk in ks])


def dist_info() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside ``torchrun``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def all_reduce(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over processes (identity outside DDP)."""
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(t)
    return t


def probs(model: nn.Module, x: torch.Tensor, mean: torch.Tensor, crop: int, ten: bool) -> torch.Tensor:
    """Softmax of uint8 images ``x`` (on the model's device): the centre crop, or averaged over the paper's 10 crops."""
    device = model_device(model)
    with autocast(device):
        if ten:
            crops = ten_crop(x, mean, crop)  # (10, B, 3, c, c)
            logits = model(fmt(crops.flatten(0, 1), device)).float().view(10, len(x), -1)
            return logits.softmax(-1).mean(0)
        return model(fmt(center_crop(x, mean, crop), device)).float().softmax(-1)


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor, crop: int, *,
             ten: bool = False, batch_size: int = 256) -> dict[str, float]:
    """Loss, top-1 and top-5 accuracy (%) with the centre crop, or averaging softmax over the paper's 10 crops.

    Under DDP each process scores its share and the sums are reduced; one host sync at the end.
    """
    device = model_device(model)
    rank, world = dist_info()
    total = torch.zeros(4, dtype=torch.float64, device=device)  # loss sum, top-1, top-5, n
    if ten:
        batch_size = max(1, batch_size // 8)  # 10 crops per image: keep the forward batch near batch_size
    mean = mean.to(device)
    with eval_mode(model):
        for idx in batch_indices(len(labels), batch_size, shuffle=False, rank=rank, world=world):
            x = images[idx].to(device, non_blocking=True)
            y = labels[idx].to(device)
            p = probs(model, x, mean, crop, ten)
            total[0] += F.nll_loss(p.clamp_min(1e-12).log(), y, reduction="sum")
            total[1:3] += topk_correct(p, y)
            total[3] += len(y)
    loss, top1, top5, n = all_reduce(total).tolist()
    return dict(loss=loss / n, top1=100 * top1 / n, top5=100 * top5 / n)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, *, ten: bool = True,
            batch_size: int = 256, progress: bool = False) -> torch.Tensor:
    """Class probabilities (N, classes) on the CPU for uint8 images: the centre crop, or the 10-crop average.

    Averaging these over models gives the paper's ensembles (Table 2).
    """
    device = model_device(model)
    if ten:
        batch_size = max(1, batch_size // 8)
    mean = mean.to(device)
    out = []
    with eval_mode(model):
        for idx in tqdm(batch_indices(len(images), batch_size, shuffle=False), disable=not progress, desc="predict"):
            out.append(probs(model, images[idx].to(device), mean, crop, ten).cpu())
    return torch.cat(out) if out else torch.empty(0, 0)


def accuracy(scores: torch.Tensor, labels: torch.Tensor, k: int = 1) -> float:
    """Top-``k`` accuracy (%) of class probabilities (or scores) against labels."""
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} score rows for {len(labels)} labels")
    return 100 * int(topk_correct(scores, labels.to(scores.device), (k,))[0]) / len(labels)
