"""Atomic writes and safe loads of checkpoints and small result files."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        try:
            write(tmp)
        except (OSError, RuntimeError) as e:
            free = shutil.disk_usage(path.parent).free
            if free < 64 * 2**20 or "No space left" in str(e):
                raise OSError(f"cannot write {path}: its disk is full ({free / 2**20:.0f} MB free); free space "
                              "and rerun (the run resumes from its last checkpoint)") from None
            raise
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` atomically."""
    return atomic_write(path, lambda tmp: torch.save(obj, tmp))


RESUME_ADVICE = "delete the file (a run resumes from its last good checkpoint or starts again)"


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu", advice: str = RESUME_ADVICE) -> Any:
    """``torch.load(weights_only=True)`` with one clear error for a missing or unreadable file.

    ``advice`` ends the error: the default suits zfviz's own checkpoints; a caller reading a user's file passes its own.
    """
    path = Path(path)
    if not path.is_file():
        near = sorted(p.name for p in path.parent.glob("*.pt")) if path.parent.is_dir() else []
        raise FileNotFoundError(f"no checkpoint at {path}" + (f"; checkpoints there: {near}" if near else
                                                                  " (train a model first: python -m zfviz train)"))
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated file, not a torch file, or pickled objects the safe unpickler refuses
        raise ValueError(f"cannot load checkpoint {path}: {_load_cause(e)}; {advice}") from None


def _load_cause(e: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in the user's terms."""
    text = str(e)
    # The safe unpickler raises UnpicklingError("Weights only load failed ... GLOBAL posix.system ...") for any
    # class or function the file asks it to build; its wording changes between torch versions, so the type decides.
    found = re.search(r"GLOBAL ([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)", text)
    if isinstance(e, pickle.UnpicklingError) and found:
        return (f"it holds pickled Python objects other than tensors (it asks for {found.group(1)}), which zfviz "
                "never loads (torch.load with weights_only=True); nothing in it was run")
    return "the file is unreadable (truncated, corrupt or not a torch checkpoint)"
