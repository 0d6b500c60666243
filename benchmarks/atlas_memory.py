"""Peak memory and time of the own-model atlas (``python -m zfviz atlas --model torchvision:<net>``): the README's
recipe, run in a child process so its peak RSS is its own. The target (issue 48): under 3 GB for torchvision's AlexNet
and VGG16 over 100 images at 224 px, with every conv layer's sheets written as they are made.

    python benchmarks/atlas_memory.py --model torchvision:alexnet --images 100
    python benchmarks/atlas_memory.py --model torchvision:vgg16 --images 100 --layers features.28

Results: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def _subset(images: int, size: int) -> Path:
    """An ImageFolder of ``images`` Imagenette val images (10 classes), the offline copy's."""
    from zfviz.data.sets import find_split

    src = find_split("imagenette", "val")
    out = Path(tempfile.mkdtemp(prefix="atlas-bench-"))
    classes = sorted(p for p in src.iterdir() if p.is_dir())
    per = -(-images // len(classes))
    n = 0
    for c in classes:
        (out / c.name).mkdir()
        for f in sorted(c.iterdir())[:per]:
            if n < images:
                shutil.copy(f, out / c.name / f.name)
                n += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="torchvision:alexnet")
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--crop", type=int, default=224)
    ap.add_argument("--layers", nargs="+", default=None)
    args = ap.parse_args()
    folder = _subset(args.images, args.crop)
    out = Path(tempfile.mkdtemp(prefix="atlas-out-")) / "atlas"
    cmd = [sys.executable, "-m", "zfviz", "atlas", "--model", args.model, "--dataset", str(folder), "--crop",
           str(args.crop), "--resize", str(round(args.crop * 256 / 224)), "--out", str(out), "--no-progress"]
    cmd += ["--layers", *args.layers] if args.layers else []
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB -> GiB (Linux)
    sheets = len(list(out.rglob("*.webp")))
    print(f"{args.model}: {args.images} images at {args.crop} px, {sheets} sheets, peak RSS {peak:.2f} GiB, "
          f"{seconds:.0f} s ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__})")
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
