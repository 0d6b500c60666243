"""One writer per directory: an advisory lock file (``fcntl.flock``, released by the OS when its holder dies), and
the sweep of temporary files that a killed writer left behind, done while the lock is held."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class BusyError(RuntimeError):
    """Another process is writing the directory this one wants."""


@contextmanager
def exclusive(lock_file: str | os.PathLike, *, wait: bool, what: str) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` for a block; ``wait=False`` raises ``BusyError`` if it is taken."""
    path = Path(lock_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise BusyError(f"{what} is being written by another process (pid {holder}); wait for it to finish or "
                            "use another output directory") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def sweep_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the ``*.tmp`` files and ``*.tmp-*`` / ``.staging-*`` folders directly in ``folder`` (and its
    ``snapshots/``). Call it only while holding the folder's lock: then nobody else is writing them."""
    removed = []
    folder = Path(folder)
    for d in (folder, folder / "snapshots", folder / "predictions"):
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if p.name.endswith(".tmp") or ".tmp-" in p.name or p.name.startswith(".staging-"):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
                removed.append(p)
    return removed


@contextmanager
def staged(out: str | os.PathLike, *, what: str, copy_existing: bool = False) -> Iterator[Path]:
    """Build a folder's new content in a staging folder beside it, under the folder's lock (one writer, no waiting),
    and swap it in only if the block succeeds: a failure or a kill leaves ``out`` as it was. ``copy_existing``
    starts the staging folder as a copy of ``out`` (to replace part of it). Leftovers of a killed build are removed.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{what} {out} exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(out.parent / f".{out.name}.lock", wait=False, what=f"{what} {out}"):
        for stale in out.parent.glob(f".staging-{out.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        stage = Path(tempfile.mkdtemp(prefix=f".staging-{out.name}-", dir=out.parent))
        try:
            if copy_existing and out.is_dir():
                shutil.copytree(out, stage, dirs_exist_ok=True)
            yield stage
            os.chmod(stage, 0o755)  # mkdtemp makes 0700
            old = out.with_name(f".staging-{out.name}-old")
            if out.exists():
                os.replace(out, old)
            os.replace(stage, out)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
