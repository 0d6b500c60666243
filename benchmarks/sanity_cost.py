"""Chapter 14's cost per image: cascading randomization (9 stages, 4 methods) of ZF at a profile's geometry, with the
occlusion maps of every stage computed one stage at a time (as before 2026-11-30) and by ``occlusion_cascade``
(the trained pass shared by every stage; each stage runs only its randomized layers).

    python benchmarks/sanity_cost.py --profile paper-smoke [--images 2]

Results: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from zfviz.analysis import sanity
from zfviz.core.profiles import get_profile
from zfviz.model.models import build_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="paper-smoke")
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--occluder", type=int, default=32, help="px at 224, as chapter 14")
    args = ap.parse_args()
    p = get_profile(args.profile)
    torch.manual_seed(0)
    model = build_model("zf", 10, width=p.width, input_size=p.input_size, init=p.init).eval()
    x = torch.randn(args.images, 3, p.input_size, p.input_size) * 50
    t = torch.zeros(args.images, dtype=torch.long)
    size = max(1, round(args.occluder * p.input_size / 224))
    stages = [("trained", [])] + [(n, sanity.cascade(model)[:i + 1]) for i, n in enumerate(sanity.cascade(model))]
    t0 = time.perf_counter()
    for _, layers in stages:
        sanity.occlusion_maps(sanity.randomize_layers(model, layers) if layers else model, x, t, size)
    per_stage = (time.perf_counter() - t0) / args.images
    t0 = time.perf_counter()
    sanity.occlusion_cascade(model, x, t, size, stages)
    shared = (time.perf_counter() - t0) / args.images
    t0 = time.perf_counter()
    sanity.cascading_randomization(model, x, t, scheme=p.init, occluder=size)
    whole = (time.perf_counter() - t0) / args.images
    print(f"CPU {os.cpu_count()} cores; torch {torch.__version__}; ZF at profile {p.name} ({p.input_size} px, width "
          f"{p.width}); occluder {size} px; per image:")
    print(f"occlusion maps of 9 stages, one stage at a time: {per_stage:6.1f} s")
    print(f"occlusion maps of 9 stages, occlusion_cascade:  {shared:6.1f} s ({per_stage / shared:.1f}x less)")
    print(f"the whole cascading randomization (4 methods):  {whole:6.1f} s")


if __name__ == "__main__":
    main()
