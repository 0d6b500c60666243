"""Images/s of training: zfviz's pipeline (uint8 cache in memory / on the GPU, batched crops on the device) versus
two baselines in the same run, same model and optimizer step: a ``DataLoader`` with workers over the *same decoded
uint8 data* (per-sample torchvision crops and flips: isolates batched on-device augmentation), and the plain
torchvision ``ImageFolder`` + ``DataLoader`` + transforms v2 loop (also decodes JPEGs every epoch).

    python benchmarks/train_throughput.py --profile cpu [--batches 30] [--workers 2]
    python benchmarks/train_throughput.py --profile cpu --step-only   # today's step against the 2026-11-22 step
    python benchmarks/train_throughput.py --profile cpu --few-shot    # one-step epochs against normal epochs

Each pipeline runs ``--warmup`` batches untimed, then ``--batches`` timed ones (0 = a full epoch).

``--step-only`` times the training step alone on a fixed batch: zfviz's (channels-last, the fused LRN) against the
step as it was before 2026-11-30 (NCHW, ``nn.LocalResponseNorm``), same model, weights and batch.
``--few-shot`` times whole ``train`` calls: a few-shot run whose epochs are one SGD step each (as Tables 4-6's
from-scratch networks are), against a run of the same images and batch with many steps per epoch; per-epoch
overhead (evaluation, checkpoints, metrics, host syncs) shows as the gap in images/s.

FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` over one real training step (forward + backward,
convolutions and matmuls; 2 FLOPs per multiply-add), divided by the batch. MFU = achieved FLOP/s over the device's
dense bf16 peak (``--peak-tflops``; defaults known for H100/H200), printed on GPU only.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision import datasets
from torchvision.transforms import v2

from zfviz.core.profiles import get_profile
from zfviz.data.sets import batch_indices, crop_flip, crop_params, find_split, pixel_mean
from zfviz.model.models import build_model
from zfviz.runs.store import TrainConfig, load_data
from zfviz.runs.train import train_step


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _timed(batches, step, warmup: int, dev: torch.device) -> tuple[float, int]:
    it = iter(batches)
    for x, y in itertools.islice(it, warmup):
        step(x, y)
    _sync(dev)
    t0, n = time.perf_counter(), 0
    for x, y in it:
        step(x, y)
        n += len(y)
    _sync(dev)
    return n / (time.perf_counter() - t0), n


PEAK_BF16_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0}  # dense, SXM


def flops_per_image(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Training FLOPs per image of one forward + backward pass, counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--model", default="zf")
    ap.add_argument("--dataset", default="imagenette")
    ap.add_argument("--batches", type=int, default=30, help="timed batches per pipeline; 0 = one full epoch")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="DataLoader workers for the baseline")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--compile", action="store_true", help="also time zfviz's step under torch.compile")
    ap.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU (default: known GPUs)")
    ap.add_argument("--step-only", action="store_true", help="only today's step against the 2026-11-22 step")
    ap.add_argument("--few-shot", action="store_true", help="only one-step epochs against normal epochs")
    args = ap.parse_args()
    if args.step_only:
        return step_comparison(args)
    if args.few_shot:
        return few_shot_overhead(args)
    p = get_profile(args.profile)
    dev = torch.device(args.device)
    cfg = TrainConfig(model=args.model, profile=p.name, dataset=args.dataset).resolved()
    train_set, _ = load_data(cfg)
    mean = pixel_mean(train_set.images)
    steps = (args.batches or len(train_set) // p.batch_size) + args.warmup

    def fresh_step(compiled: bool = False, sync: bool = False):
        torch.manual_seed(0)
        model = build_model(args.model, len(train_set.classes), width=p.width, input_size=p.input_size)
        model = model.to(dev, memory_format=torch.channels_last)  # as train() does, on every device
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True
        opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, weight_decay=5e-4)
        net = torch.compile(model) if compiled else model

        def step(x, y):
            loss, _ = train_step(net, opt, x.to(dev, non_blocking=True), y.to(dev, non_blocking=True), 0.1)
            if sync:
                float(loss)  # what a loop that logs the loss every step pays: the host waits for the device
        return step

    # zfviz: the decoded uint8 tensor, resident on the device, augmented there in batches
    images, labels, mean_d = train_set.images, train_set.labels, mean.to(dev)
    if dev.type == "cuda":
        images, labels = images.to(dev), labels.to(dev)
    gen = torch.Generator().manual_seed(0)

    def zfviz_batches():
        for idx in batch_indices(len(labels), p.batch_size, shuffle=True, generator=gen, drop_last=True)[:steps]:
            idx = idx.to(images.device)
            yield crop_flip(images[idx], mean_d, p.input_size,
                            crop_params(len(idx), images.shape[-1], p.input_size, gen)), labels[idx]

    ours, n_ours = _timed(zfviz_batches(), fresh_step(), args.warmup, dev)
    synced, _ = _timed(zfviz_batches(), fresh_step(sync=True), args.warmup, dev)
    compiled = _timed(zfviz_batches(), fresh_step(compiled=True), args.warmup, dev)[0] if args.compile else None

    # fair baseline: the same decoded uint8 tensor, per-sample crops and flips in DataLoader workers
    class Decoded(torch.utils.data.Dataset):
        tf = v2.Compose([v2.RandomCrop(p.input_size), v2.RandomHorizontalFlip()])

        def __len__(self):
            return len(train_set.labels)

        def __getitem__(self, i):
            return self.tf(train_set.images[i].float() - mean), train_set.labels[i]

    decoded = DataLoader(Decoded(), batch_size=p.batch_size, shuffle=True, num_workers=args.workers, drop_last=True,
                         pin_memory=dev.type == "cuda")
    same, _ = _timed(itertools.islice(decoded, steps), fresh_step(), args.warmup, dev)

    # baseline: decode JPEGs every epoch in DataLoader workers with torchvision transforms v2
    tf = v2.Compose([v2.PILToTensor(), v2.Resize(p.resize, antialias=True), v2.CenterCrop(p.resize),
                     v2.ToDtype(torch.float32), v2.Lambda(lambda x: x - mean), v2.RandomCrop(p.input_size),
                     v2.RandomHorizontalFlip()])
    folder = datasets.ImageFolder(str(find_split(args.dataset, "train")), transform=tf)
    loader = DataLoader(folder, batch_size=p.batch_size, shuffle=True, num_workers=args.workers, drop_last=True,
                        pin_memory=dev.type == "cuda", persistent_workers=False)
    base, n_base = _timed(itertools.islice(loader, steps), fresh_step(), args.warmup, dev)

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"
    print(f"device: {name}; torch {torch.__version__}; model {args.model}, profile {p.name} "
          f"(width {p.width}, {p.input_size}px, batch {p.batch_size}); {n_ours} timed images each")
    print(f"zfviz pipeline (uint8 cache on {images.device.type}): {ours:9.1f} images/s")
    print(f"  the same with a host sync every step (float(loss)): {synced:9.1f} images/s "
          f"(sync-free / this: {ours / synced:.2f}x)")
    if compiled is not None:
        print(f"  the same under torch.compile: {compiled:9.1f} images/s (this / eager: {compiled / ours:.2f}x)")
    print(f"DataLoader over the same decoded uint8 data ({args.workers} workers): {same:9.1f} images/s "
          f"(zfviz / this: {ours / same:.2f}x)")
    print(f"torchvision ImageFolder+DataLoader ({args.workers} workers): {base:9.1f} images/s "
          f"(zfviz / this: {ours / base:.2f}x)")
    torch.manual_seed(0)
    probe = build_model(args.model, len(train_set.classes), width=p.width, input_size=p.input_size)
    x = torch.randn(8, 3, p.input_size, p.input_size)
    fpi = flops_per_image(probe, x, torch.zeros(8, dtype=torch.long))
    print(f"model FLOPs per training image (fwd+bwd, FlopCounterMode): {fpi / 1e9:.3f} GFLOP; "
          f"achieved by zfviz: {fpi * ours / 1e12:.3f} TFLOP/s")
    peak = args.peak_tflops or next((v for k, v in PEAK_BF16_TFLOPS.items() if k in name), None)
    if dev.type == "cuda" and peak:
        print(f"MFU (bf16 dense peak {peak:.0f} TFLOP/s): {100 * fpi * ours / (peak * 1e12):.1f}%")


def _reference(model: torch.nn.Module) -> torch.nn.Module:
    """The same model as the step before 2026-11-30 ran it: PyTorch's own LRN, NCHW."""
    for name, m in list(model.named_children()):
        if isinstance(m, torch.nn.LocalResponseNorm):
            setattr(model, name, torch.nn.LocalResponseNorm(m.size, m.alpha, m.beta, m.k))
    return model.to(memory_format=torch.contiguous_format)


def step_comparison(args) -> None:
    """Images/s of zfviz's training step against the 2026-11-22 step, ``--batches`` steps each, per model."""
    p = get_profile(args.profile)
    dev = torch.device(args.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    print(f"device: {name}; torch {torch.__version__}; profile {p.name} (width {p.width}, {p.input_size}px, "
          f"batch {p.batch_size}); {args.batches} timed steps after {args.warmup}")
    for variant in ("zf", "alexnet"):
        rates = {}
        for label, prepare, layout in (("2026-11-22 step (NCHW, nn.LocalResponseNorm)", _reference,
                                        torch.contiguous_format),
                                       ("zfviz step (channels-last, fused LRN)", lambda m: m, torch.channels_last)):
            torch.manual_seed(0)
            model = prepare(build_model(variant, 10, width=p.width, input_size=p.input_size, init="transported")
                            .to(dev, memory_format=torch.channels_last))
            opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, weight_decay=5e-4)
            x = (torch.randn(p.batch_size, 3, p.input_size, p.input_size, device=dev) * 50).contiguous(
                memory_format=layout)
            y = torch.randint(0, 10, (p.batch_size,), device=dev)
            if label.startswith("2026"):  # the old step did not format the batch on CPU
                import zfviz.runs.train as zt
                old_fmt, zt.fmt = zt.fmt, (lambda t, d: t)
            try:
                rates[label], _ = _timed(((x, y) for _ in range(args.warmup + args.batches)),
                                         lambda a, b: train_step(model, opt, a, b, 0.1), args.warmup, dev)
            finally:
                if label.startswith("2026"):
                    zt.fmt = old_fmt
        (old, o), (new, n) = rates.items()
        print(f"{variant}: {old} {o:7.1f} images/s; {new} {n:7.1f} images/s; speedup {n / o:.2f}x")


def few_shot_overhead(args) -> None:
    """Images/s of whole train() calls: one-step epochs (few-shot) against normal epochs, same images and batch."""
    import tempfile

    from zfviz.runs.train import train

    p = get_profile(args.profile)
    k, batch = 1, 10
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for label, cfg in (
                ("one-step epochs (1 image per class, batch 10, 200 epochs)",
                 TrainConfig(args.model, p.name, dataset="imagewoof", train_per_class=k, batch_size=batch, epochs=200)),
                ("normal epochs (20 images per class, batch 10, 10 epochs)",
                 TrainConfig(args.model, p.name, dataset="imagewoof", train_per_class=20, batch_size=batch,
                             epochs=10))):
            t0 = time.perf_counter()
            df = train(cfg, Path(d) / label[:3], progress=False, device=args.device)
            wall = time.perf_counter() - t0
            images = (k if label.startswith("one") else 20) * 10 * len(df)
            rows.append((label, images / wall, images))
    print(f"device: {args.device}; torch {torch.__version__}; {args.model}, profile {p.name}; whole train() calls, "
          "evaluation and saving included")
    for label, rate, images in rows:
        print(f"{label}: {rate:8.1f} images/s ({images} images)")
    print(f"one-step epochs reach {rows[0][1] / rows[1][1]:.2f}x the images/s of normal epochs")


if __name__ == "__main__":
    main()
