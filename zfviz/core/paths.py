"""Where zfviz finds data and keeps its caches and runs, whatever the working directory.

- data: ``root=`` / ``--data-root``, else ``$ZFVIZ_DATA``; either must exist (a typo is an error, never created).
  Else ``../shared/data`` beside a source checkout (the offline copies CI uses), else ``~/.cache/zfviz/data``
  (the only folder a download may create).
- decoded caches: ``$ZFVIZ_CACHE``, else ``~/.cache/zfviz``.
- trained runs: ``$ZFVIZ_RUNS``, else ``runs/`` of the source checkout, else ``~/.cache/zfviz/runs``.
- records of trained runs (metrics and identity, committed: ``records``): ``$ZFVIZ_RECORDS``, else ``book/records/``
  of the source checkout, else ``~/.cache/zfviz/records``.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV, CACHE_ENV, RUNS_ENV, RECORDS_ENV = "ZFVIZ_DATA", "ZFVIZ_CACHE", "ZFVIZ_RUNS", "ZFVIZ_RECORDS"


def repo_root() -> Path | None:
    """The source checkout zfviz runs from (an editable install), or None for an installed package."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def home_cache() -> Path:
    """``~/.cache/zfviz``."""
    return Path.home() / ".cache" / "zfviz"


def data_root(root: str | os.PathLike | None = None) -> Path:
    """The data root (see the module docstring); an explicit root or ``$ZFVIZ_DATA`` that does not exist is an error."""
    for value, what in ((root, "data root"), (os.environ.get(DATA_ENV) or None, f"${DATA_ENV}")):
        if value is not None:
            path = Path(value).expanduser()
            if not path.is_dir():
                raise FileNotFoundError(f"{what} {str(path)!r} does not exist; give an existing folder that holds "
                                        "imagenette-224/ (or imagenette2-160/, imagewoof-224/), or unset it")
            return path
    repo = repo_root()
    if repo is not None and (repo.parent / "shared" / "data").is_dir():
        return repo.parent / "shared" / "data"
    return home_cache() / "data"


def cache_root() -> Path:
    """Where decoded caches live: ``$ZFVIZ_CACHE`` or ``~/.cache/zfviz``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else home_cache()


def runs_root(runs_dir: str | os.PathLike | None = None) -> Path:
    """Where trained runs live: ``runs_dir``, ``$ZFVIZ_RUNS``, ``<checkout>/runs``, or ``~/.cache/zfviz/runs``."""
    if runs_dir is not None:
        return Path(runs_dir).expanduser()
    if os.environ.get(RUNS_ENV):
        return Path(os.environ[RUNS_ENV]).expanduser()
    repo = repo_root()
    return repo / "runs" if repo is not None else home_cache() / "runs"


def records_root(records_dir: str | os.PathLike | None = None) -> Path:
    """Where records of trained runs live: ``records_dir``, ``$ZFVIZ_RECORDS``, ``<checkout>/book/records``, or
    ``~/.cache/zfviz/records``."""
    if records_dir is not None:
        return Path(records_dir).expanduser()
    if os.environ.get(RECORDS_ENV):
        return Path(os.environ[RECORDS_ENV]).expanduser()
    repo = repo_root()
    return repo / "book" / "records" if repo is not None else home_cache() / "records"
