"""The machine a run is trained on, and the source commit it was trained from: what makes a run's weights one
*realization* of its name.

A run's name hashes what determines it in distribution (config, geometry, data). Its exact weights also depend on the
arithmetic: on a CPU the kernels oneDNN and ATen pick differ with the instruction set (AVX2, AVX-512) and split their
sums per thread, so the same run on another processor, at another thread count or under another torch is another,
statistically equivalent, model (DEVELOPERS.md, Determinism). ``signature()`` names those factors; two runs with the
same signature, config and code end bit-identical on a CPU. The book rests on one realization: every run it reads has
the same signature (``tests/test_consistency.py``).

>>> sorted(signature())
['cpu', 'device', 'isa', 'threads', 'torch']
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import subprocess
from pathlib import Path

import torch


@functools.cache
def cpu_model() -> str:
    """The processor as the OS reports it: ``/proc/cpuinfo``'s model name, with its family, model and stepping (a
    virtual machine may name only "AMD EPYC" for several generations), else ``platform``'s name."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if not key.strip():
                break  # the first processor's block is enough
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" not in fields:
        return platform.processor() or platform.machine()
    ids = " ".join(f"{k.split()[-1]} {fields[k]}" for k in ("cpu family", "model", "stepping") if k in fields)
    return fields["model name"] + (f" ({ids})" if ids else "")


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX-512 BF16 or AMX tiles), so that bf16 autocast is faster, not
    emulated and slower."""
    cpu = torch.cpu
    return bool(getattr(cpu, "_is_avx512_bf16_supported", lambda: False)()
                or getattr(cpu, "_is_amx_tile_supported", lambda: False)())


def signature(device: str | torch.device = "cpu") -> dict:
    """What decides a run's exact arithmetic here: the device (CPU model, or GPU name), the instruction set ATen
    dispatches to, the thread count and the torch version."""
    dev = torch.device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else cpu_model()
    return {"device": dev.type, "cpu": cpu_model() if dev.type == "cpu" else name,
            "isa": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(),
            "torch": str(torch.__version__)}


def realization(signatures: list[dict]) -> str:
    """A short name for the machine (or machines, in order) a run was trained on: the first 8 hex digits of the
    SHA-256 of their signatures. Runs with one realization name were trained with the same arithmetic.

    The commit and the epoch a machine took over are recorded beside a signature but are not its arithmetic: they are
    dropped, and a run resumed on the same machine (say after a commit) stays one machine, not two.

    >>> sig = {"device": "cpu", "cpu": "AMD EPYC", "isa": "AVX512", "threads": 2, "torch": "2.14"}
    >>> resumed = [sig | {"commit": "a", "from_epoch": 1}, sig | {"commit": "b", "from_epoch": 5}]
    >>> realization([sig]) == realization(resumed)
    True
    """
    kept: list[dict] = []
    for sig in signatures:
        sig = {k: v for k, v in sig.items() if k not in ("commit", "from_epoch")}
        if not kept or kept[-1] != sig:
            kept.append(sig)
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:8]


def source_commit() -> str | None:
    """The git commit of the zfviz checkout this process runs from, with ``+dirty`` when zfviz's code or the chapters
    differ from it (None for an installed package or without git). Not cached: the code may change under a long
    process, and a page or a record takes the commit when its work starts."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "zfviz", "notebooks"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


__all__ = ["cpu_model", "native_bf16", "signature", "realization", "source_commit"]
