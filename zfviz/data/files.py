"""What an ImageFolder split holds, found safely, and what its files contain.

``list_images`` finds a split's images the way ``torchvision.datasets.ImageFolder`` does (class folders sorted, files
with an image extension, symlinks followed), with three rules that make hostile folders harmless:

- a directory is entered at most once per class, and never one that holds the split (its ancestors), so a symlink
  loop (``cls/loop -> ..``) or a link to ``/`` adds nothing;
- each regular file is counted once per split (by device and inode): a second path to it in the same class is
  skipped; a file reachable from two class folders is an error naming both paths (its label would be ambiguous);
- FIFOs, sockets, devices and broken links named like images are skipped, with one warning naming them (reading a
  FIFO would block forever).

``file_digests`` gives every file's SHA-256. Digests are kept in an index beside the decoded caches, keyed by each
file's device, inode, size, mtime and ctime: a file whose stat differs in any of these is hashed again (ctime
changes on every write and cannot be set back, so an edit at the same size with its mtime restored, as ``cp -p``
does, is caught). An entry is trusted only if the file last changed well before the index looked at it (git's
answer to its "racily clean" index): on a file system with 1- or 2-second timestamps, an edit at the same size within
the second of the last look leaves the stat unchanged, so a file whose mtime or ctime falls within ``RACY_NS`` of
that look is hashed again next time. On Imagenette (13,394 files, 161 MB) the cold pass hashes everything once and the warm pass only
stats (``benchmarks/identity_cost.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
import warnings
from pathlib import Path

from torchvision.datasets.folder import IMG_EXTENSIONS

from zfviz.core.paths import cache_root

DIGEST_INDEX_VERSION = 1
RACY_NS = 2_000_000_000  # the coarsest timestamp granularity covered (FAT's 2 s; ext3, HFS+ and many NFS mounts: 1 s)


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMG_EXTENSIONS)


def _dir_key(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def list_images(folder: str | os.PathLike) -> tuple[list[tuple[str, int]], list[str]]:
    """(path, class index) of every image of an ImageFolder split, and the sorted class folder names.

    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for c in ("a", "b"): (root / c).mkdir(); _ = (root / c / "x.jpg").write_bytes(b"")
    >>> (root / "a" / "loop").symlink_to("..")
    >>> [(pathlib.Path(p).relative_to(root).as_posix(), y) for p, y in list_images(root)[0]]
    [('a/x.jpg', 0), ('b/x.jpg', 1)]
    """
    folder = Path(folder)
    try:
        classes = sorted(e.name for e in os.scandir(folder) if e.is_dir())
    except OSError as e:
        raise FileNotFoundError(f"cannot list {folder}: {e.strerror or e}") from None
    if not classes:
        raise FileNotFoundError(f"no class folders under {folder}; an ImageFolder split holds one folder per class")
    ancestors = set()
    for p in [Path(os.path.realpath(folder)), *Path(os.path.realpath(folder)).parents]:
        key = _dir_key(str(p))
        if key is not None:
            ancestors.add(key)
    owner: dict[tuple[int, int], tuple[str, str]] = {}  # file (dev, ino) -> (class, path) that counted it
    samples: list[tuple[str, int]] = []
    skipped: list[str] = []
    for label, cls in enumerate(classes):
        seen_dirs = set(ancestors)
        stack = [str(folder / cls)]
        while stack:
            d = stack.pop()
            key = _dir_key(d)
            if key is None or key in seen_dirs:
                continue  # a loop, a second link to a folder already read, or one that holds the split
            seen_dirs.add(key)
            try:
                entries = sorted(os.scandir(d), key=lambda e: e.name)
            except OSError:
                skipped.append(f"{d} (unreadable folder)")
                continue
            subdirs = []
            for e in entries:
                try:
                    st = os.stat(e.path)  # follows symlinks
                except OSError:
                    if _is_image_name(e.name):
                        skipped.append(f"{e.path} (broken link)")
                    continue
                if stat.S_ISDIR(st.st_mode):
                    subdirs.append(e.path)
                elif _is_image_name(e.name):
                    if not stat.S_ISREG(st.st_mode):
                        skipped.append(f"{e.path} (not a regular file)")
                        continue
                    fkey = (st.st_dev, st.st_ino)
                    if fkey in owner:
                        first_cls, first_path = owner[fkey]
                        if first_cls != cls:
                            raise ValueError(f"{e.path} and {first_path} are the same file in class folders {cls!r} "
                                             f"and {first_cls!r}; each image needs one label: remove the link")
                        continue  # a second path to a file this class already holds
                    owner[fkey] = (cls, e.path)
                    samples.append((e.path, label))
            stack.extend(reversed(subdirs))  # depth first, in name order
    if skipped:
        shown = "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        warnings.warn(f"skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} under {folder} that "
                      f"cannot be read as images: {shown}", stacklevel=2)
    if not samples:
        raise FileNotFoundError(f"no images ({', '.join(IMG_EXTENSIONS)}) under {folder}")
    empty = sorted(set(classes) - {classes[y] for _, y in samples})
    if empty:
        raise FileNotFoundError(f"Found no valid file for the classes {', '.join(empty)} under {folder}. Supported "
                                f"extensions are: {', '.join(IMG_EXTENSIONS)}")
    samples.sort(key=lambda s: (s[1], s[0]))
    return samples, classes


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def relative_to(path: str, folder: str | os.PathLike) -> str:
    """``os.path.relpath(path, folder)``, by slicing when ``path`` is ``folder`` plus a plain relative part, as every
    path ``list_images`` returns is (Imagenette's identity: 0.66 -> 0.49 CPU s, 2026-12-01)."""
    prefix = os.path.join(os.fspath(folder), "")
    rest = path[len(prefix):] if path.startswith(prefix) else ""
    parts = rest.split(os.sep)
    if rest and "" not in parts and "." not in parts and ".." not in parts:
        return rest
    return os.path.relpath(path, folder)


def _index_path(folder: Path) -> Path:
    tag = hashlib.sha256(os.path.realpath(folder).encode()).hexdigest()[:16]
    return cache_root() / "digests" / f"{folder.parent.name}-{folder.name}-{tag}.json"


def file_digests(folder: str | os.PathLike, paths: list[str]) -> list[tuple[str, str]]:
    """Each file in ``paths`` (under ``folder``) as its path relative to ``folder`` and its SHA-256, re-hashing only
    files whose stat changed since the digest index beside the caches last saw them (see the module docstring)."""
    folder = Path(folder)
    index_file = _index_path(folder)
    looked = time.time_ns()  # before any stat: an edit after this gets a timestamp of this second or later
    try:
        saved = json.loads(index_file.read_text())
        index = saved["files"] if saved.get("version") == DIGEST_INDEX_VERSION else {}
        saved_at = int(saved.get("looked_ns", 0))
    except (OSError, ValueError, KeyError, TypeError):
        index, saved_at = {}, 0
    out, fresh, changed, base = [], {}, False, str(folder)
    for path in paths:
        rel = relative_to(path, base)
        try:
            key = _stat_key(os.stat(path))
        except OSError as e:
            raise FileNotFoundError(f"cannot read {path}: {e.strerror or e}") from None
        entry = index.get(rel)
        # racily clean: changed within RACY_NS of the last look, so a same-size edit may hide behind the same stat
        racy = max(key[3], key[4]) + RACY_NS > saved_at
        if isinstance(entry, list) and len(entry) == 2 and entry[0] == key and not racy:
            digest = entry[1]
        else:
            try:
                digest = sha256_file(path)
            except OSError as e:
                raise FileNotFoundError(f"cannot read {path}: {e.strerror or e}") from None
            changed = True
        fresh[rel] = [key, digest]
        out.append((rel, digest))
        changed |= racy
    if changed or len(fresh) != len(index):
        _save_index(index_file, fresh, looked)
    return out


def _save_index(index_file: Path, files: dict, looked_ns: int) -> None:
    """Write the digest index atomically, with the time its stats were taken (``looked_ns``); a cache folder that
    cannot be written only costs a re-hash next time."""
    from zfviz.core.checkpoint import atomic_write  # torch (checkpoint): listing files needs none

    try:
        atomic_write(index_file, lambda tmp: Path(tmp).write_text(
            json.dumps({"version": DIGEST_INDEX_VERSION, "looked_ns": looked_ns, "files": files})))
    except OSError:
        pass


def content_fingerprint(folder: str | os.PathLike, samples: list[tuple[str, int]], prefix: str = "") -> str:
    """A hash of every sample's path relative to ``folder``, label and content digest (16 hex digits)."""
    h = hashlib.sha256(prefix.encode())
    for (_, label), (rel, digest) in zip(samples, file_digests(folder, [p for p, _ in samples])):
        h.update(f"{rel}:{label}:{digest}\n".encode())
    return h.hexdigest()[:16]
