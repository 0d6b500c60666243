"""Projections/s: zfviz's batched deconvnet versus captum's NeuronDeconvolution, called once per target and called
once for all targets (a batched ``attribute`` whose neuron selector picks each row's own unit).

    python benchmarks/deconv_throughput.py --profile cpu [--checkpoint runs/<run>/snapshots/epoch_020.pt]
    python benchmarks/deconv_throughput.py --profile cpu --model torchvision:vgg16 --layer features.28

Targets are the top-9 activations of every channel of ``--layer`` over ``--images`` validation images (the Fig. 2
workload). captum runs on the first ``--captum-targets`` of them, and the rate is projections per second for all
three. The results are also compared, as a check that the work is the same. Results: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from captum.attr import NeuronDeconvolution

from zfviz.analysis.topk import project_top, top_activations
from zfviz.core.profiles import get_profile
from zfviz.data.sets import center_crop, pixel_mean
from zfviz.model.layers import readout_name
from zfviz.model.models import build_model, without_lrn
from zfviz.runs.store import TrainConfig, load_data, load_trained


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--checkpoint", default=None, help="a trained snapshot (default: random weights)")
    ap.add_argument("--layer", default="conv5")
    ap.add_argument("--model", default="zf", help="zf, or torchvision:<name> (random weights, the profile's crop)")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--captum-targets", type=int, default=48)
    ap.add_argument("--channels", type=int, default=None, help="only the first N channels of the layer")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--all-layers", action="store_true",
                    help="instead: time top-9 mining + projections for every channel of conv1-conv5 over --images")
    args = ap.parse_args()
    p = get_profile(args.profile)
    dev = torch.device(args.device)
    train, val = load_data(TrainConfig(profile=p.name))
    mean = pixel_mean(train.images)
    if ":" in args.model:
        from zfviz.model.external import load_network

        model = load_network(args.model, num_classes=len(val.classes))
    elif args.checkpoint:
        model, _ = load_trained(args.checkpoint)
    else:
        torch.manual_seed(0)
        model = build_model("zf", len(val.classes), width=p.width, input_size=p.input_size)
    images = val.images[: args.images]
    if args.all_layers:
        return all_layers(model.to(dev).eval(), images, mean, p.input_size, dev)
    if ":" not in args.model:
        model = without_lrn(model)  # captum differentiates through LRN; the deconvnet passes it
    model = model.eval().to(dev)
    table = top_activations(model, images, mean, p.input_size, [args.layer], k=9, progress=False)
    if args.channels:
        table = table[table.channel < args.channels].reset_index(drop=True)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    sync()
    t0 = time.perf_counter()
    ours = project_top(model, images, mean, p.input_size, table)
    sync()
    t_ours = time.perf_counter() - t0
    rate_ours = len(table) / t_ours

    deconv = NeuronDeconvolution(model, model.get_submodule(readout_name(model, args.layer)))
    sub = table.head(args.captum_targets)
    x_all = center_crop(images[torch.tensor(sub.image.to_numpy())].to(dev), mean.to(dev), p.input_size)
    worst = 0.0
    sync()
    t0 = time.perf_counter()
    for t, r in enumerate(sub.itertuples()):
        attr = deconv.attribute(x_all[t:t + 1], neuron_selector=(int(r.channel), int(r.y), int(r.x)))
        ref = attr[0] * float(r.value)
        worst = max(worst, float((ours.projection.pixels[t] - ref).norm() / ref.norm().clamp_min(1e-12)))
    sync()
    rate_captum = len(sub) / (time.perf_counter() - t0)
    rows = torch.arange(len(sub), device=dev)
    ch, ys, xs = (torch.tensor(sub[c].to_numpy(), device=dev) for c in ("channel", "y", "x"))
    sync()
    t0 = time.perf_counter()
    batched = deconv.attribute(x_all, neuron_selector=lambda out: out[rows, ch, ys, xs])
    sync()
    rate_batched = len(sub) / (time.perf_counter() - t0)
    vals = torch.tensor(sub.value.to_numpy(), device=dev, dtype=batched.dtype)[:, None, None, None]
    worst_b = float(((ours.projection.pixels[: len(sub)] - batched * vals).flatten(1).norm(dim=1)
                     / (batched * vals).flatten(1).norm(dim=1).clamp_min(1e-12)).max())

    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    print(f"device: {name}; torch {torch.__version__}; {args.model}, profile {p.name}, layer {args.layer}, "
          f"{'trained' if args.checkpoint else 'random'} weights; {len(table)} targets (top-9 x "
          f"{table.channel.nunique()} channels over {len(images)} images)")
    print(f"zfviz batched deconvnet: {rate_ours:9.1f} projections/s ({len(table)} in {t_ours:.2f} s, incl. forward)")
    print(f"captum, one call/target: {rate_captum:9.1f} projections/s ({len(sub)} targets timed)")
    print(f"captum, one batched call: {rate_batched:8.1f} projections/s ({len(sub)} targets in one attribute)")
    print(f"ratio zfviz / captum per target: {rate_ours / rate_captum:.1f}x; zfviz / captum batched: "
          f"{rate_ours / rate_batched:.1f}x; max relative difference {max(worst, worst_b):.1e}")


def all_layers(model, images, mean, crop, dev) -> None:
    """The Fig. 2 workload in full: top-9 of every conv1-conv5 channel over the images, all projected."""
    layers = ["conv1", "conv2", "conv3", "conv4", "conv5"]
    t0 = time.perf_counter()
    table = top_activations(model, images, mean, crop, layers, k=9, progress=False)
    t_mine = time.perf_counter() - t0
    tp = project_top(model, images, mean, crop, table)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    total = time.perf_counter() - t0
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    print(f"device: {name}; torch {torch.__version__}; {table.channel.groupby(table.layer).nunique().sum()} maps, "
          f"{len(tp.table)} projections over {len(images)} images")
    print(f"top-9 mining: {t_mine:.1f} s; projections: {total - t_mine:.1f} s; total {total:.1f} s")


if __name__ == "__main__":
    main()
