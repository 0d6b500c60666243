"""One writer per directory: an advisory lock file (``fcntl.flock``, released by the OS when its holder dies), and
the sweep of temporary files that a killed writer left behind, done while the lock is held."""

from __future__ import annotations

import fcntl
import os
import re
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


# The temporaries zfviz itself makes in a run directory: ``checkpoint.atomic_write``'s ``<file>.<8 random>.tmp`` beside
# a run's own files. Only these are swept: a name a user chose never matches.
_RUN_FILES = r"(checkpoint\.pt|metrics\.csv|DONE\.json|epoch_\d{3}\.pt|(ten|centre)_epoch_\d{3}_[0-9a-f]{12}\.pt)"
_OWN_TEMPORARY = re.compile(_RUN_FILES + r"\.[A-Za-z0-9_]{8}\.tmp")
RUN_MARKERS = ("metrics.csv", "checkpoint.pt", "DONE.json", ".lock")  # one of these is in every run directory


def sweep_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files a killed writer of this run directory left (``<run file>.<random>.tmp``, directly
    in ``folder``, its ``snapshots/`` and ``predictions/``), and nothing else. Call it only while holding the
    folder's lock: then nobody else is writing them."""
    removed = []
    folder = Path(folder)
    for d in (folder, folder / "snapshots", folder / "predictions"):
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if _OWN_TEMPORARY.fullmatch(p.name) and p.is_file():
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def refuse_foreign(folder: str | os.PathLike, markers: tuple[str, ...], what: str) -> None:
    """One clear error when ``folder`` exists, is not empty and holds none of ``markers`` (what zfviz writes there):
    zfviz writes into, and replaces, only folders it made, never a user's."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    entries = sorted(p.name for p in folder.iterdir())
    if entries and not any((folder / m).exists() for m in markers):
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ValueError(f"{what} {folder} is a non-empty folder zfviz did not make (it holds {shown}); give a new or "
                         f"empty folder (zfviz's own holds one of {', '.join(markers)})")


def _own_staging(name: str) -> re.Pattern:
    """The staging folders ``staged`` makes for a folder called ``name``, and only those: ``mkdtemp``'s 8 random
    characters, or the ``-old`` copy of a swap. A sibling whose name starts with ``name`` (``atlas-torchvision-...``
    beside ``atlas``) never matches."""
    return re.compile(r"\.staging-" + re.escape(name) + r"-([a-z0-9_]{8}|old)")


@contextmanager
def staged(out: str | os.PathLike, *, what: str, copy_existing: bool = False,
           markers: tuple[str, ...] | None = None) -> Iterator[Path]:
    """Build a folder's new content in a staging folder beside it, under the folder's lock (one writer, no waiting),
    and swap it in only if the block succeeds: a failure or a kill leaves ``out`` as it was. ``copy_existing``
    starts the staging folder as a copy of ``out`` (to replace part of it). Leftovers of a killed build of this
    folder are removed, and nothing else. ``markers``: files one of which a folder zfviz made holds; a non-empty
    ``out`` with none of them is a user's folder and is refused, never replaced.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{what} {out} exists and is not a directory")
    if markers is not None:
        refuse_foreign(out, markers, what)
    out.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(out.parent / f".{out.name}.lock", wait=False, what=f"{what} {out}"):
        own = _own_staging(out.name)
        for stale in out.parent.iterdir():
            if own.fullmatch(stale.name):
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
