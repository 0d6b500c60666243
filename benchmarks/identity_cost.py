"""What content-true identities cost: the run identity of a cpu-profile run (SHA-256 of every train and val file of
Imagenette) cold (no digest index) and warm (the index says every file is unchanged), and opening the decoded caches
with their checksums verified (first open in a process) and again (already verified).

    python benchmarks/identity_cost.py [--profile cpu] [--dataset imagenette]

Results: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from zfviz.core.profiles import get_profile
from zfviz.data import sets as data
from zfviz.data.files import _index_path
from zfviz.runs.store import TrainConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--dataset", default="imagenette")
    args = ap.parse_args()
    p = get_profile(args.profile)
    cfg = TrainConfig(profile=p.name, dataset=args.dataset).resolved()
    folders = [data.find_split(cfg.dataset, s) for s in cfg.splits()]
    files = sum(len(data._list_folder(f)[0]) for f in folders)
    for f in folders:
        _index_path(f).unlink(missing_ok=True)
    t = time.perf_counter()
    key = cfg.key()
    cold = time.perf_counter() - t
    t = time.perf_counter()
    assert cfg.key() == key
    warm = time.perf_counter() - t
    for split in cfg.splits():  # the caches exist after this (decoded once if they did not)
        data.load_split(cfg.dataset, split, p.resize, progress=False)
    data._VERIFIED.clear()
    t = time.perf_counter()
    sets = [data.load_split(cfg.dataset, s, p.resize, progress=False) for s in cfg.splits()]
    first_open = time.perf_counter() - t
    t = time.perf_counter()
    [data.load_split(cfg.dataset, s, p.resize, progress=False) for s in cfg.splits()]
    again = time.perf_counter() - t
    mb = sum(s.images.numel() for s in sets) / 2**20
    print(f"machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}; torch {torch.__version__}")
    print(f"{args.dataset}, {files} files: run identity cold (hash every file) {cold:.2f} s, warm (stat only) "
          f"{warm:.2f} s")
    print(f"decoded caches at {p.resize} px ({mb:.0f} MB): first open with full checksum check {first_open:.2f} s, "
          f"again in the same process {again:.3f} s")


if __name__ == "__main__":
    main()
