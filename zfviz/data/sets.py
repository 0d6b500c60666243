"""Data: find an ImageFolder split, decode it once into a uint8 cache, and feed batches from memory.

Preprocessing follows Sec. 3 of the paper: resize the shorter side to ``resize`` (256 in the paper), take the
centre ``resize`` x ``resize`` square, subtract the per-pixel mean of the *training* split (inputs end up roughly in
[-128, 128]), then random ``crop`` x ``crop`` crops with horizontal flips for training and the 10 crops
(4 corners + centre, with and without x-flip) for evaluation.

Where the data comes from (first match wins):
  1. a directory path given as ``dataset`` (any ImageFolder root with ``train/`` and ``val/``, e.g. ImageNet);
  2. ``$ZFVIZ_DATA`` (or ``root=``): ``imagenette-224/``, ``imagewoof-224/`` (the offline copies in
     ``../shared/data``), or ``imagenette2-160/`` as torchvision downloads it;
  3. ``download=True``: ``torchvision.datasets.Imagenette`` fetches Imagenette (checksum-verified by torchvision).

The decoded split is stored under ``$ZFVIZ_CACHE`` (default ``~/.cache/zfviz``) as ``images.npy`` (uint8,
N x 3 x S x S, memory-mapped on load so an ImageNet-sized cache need not fit in RAM) and ``meta.json``. Its
directory name carries a hash of the file list (paths, labels, the SHA-256 of every file's bytes) and the resize, so a
changed source rebuilds it, and ``meta.json`` holds SHA-256 checksums of the decoded array, checked when the cache is
opened (``CACHE_CHECK_BYTES``), so a cache damaged in place is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms.v2 import functional as TF
from tqdm import tqdm

from zfviz.core.locks import BusyError, exclusive
from zfviz.core.params import check_int
from zfviz.core.paths import cache_root, data_root
from zfviz.data.files import content_fingerprint, list_images, relative_to

CACHE_VERSION = 2  # 2: meta.json checksummed and checked against the folder it describes; float images, EXIF
KNOWN = {
    "imagenette": ("imagenette-224", "imagenette2-160", "imagenette2-320", "imagenette2"),
    "imagewoof": ("imagewoof-224", "imagewoof2-160", "imagewoof2-320", "imagewoof2"),
    "imagenet": ("imagenet", "ILSVRC2012"),
}
DOWNLOAD_HOST = "s3.amazonaws.com"  # where torchvision's Imagenette archives live


CLASS_NAMES = {  # Imagenette and Imagewoof (see ../shared/data/README.md)
    "n01440764": "tench", "n02102040": "English springer", "n02979186": "cassette player", "n03000684": "chain saw",
    "n03028079": "church", "n03394916": "French horn", "n03417042": "garbage truck", "n03425413": "gas pump",
    "n03445777": "golf ball", "n03888257": "parachute",
    "n02086240": "Shih-Tzu", "n02087394": "Rhodesian ridgeback", "n02088364": "beagle", "n02089973": "English foxhound",
    "n02093754": "Border terrier", "n02096294": "Australian terrier", "n02099601": "golden retriever",
    "n02105641": "Old English sheepdog", "n02111889": "Samoyed", "n02115641": "dingo",
}


def class_name(wnid: str) -> str:
    """A readable name for a WordNet id (the id itself if unknown)."""
    return CLASS_NAMES.get(wnid, wnid)


def find_split(dataset: str | os.PathLike, split: str, root: str | os.PathLike | None = None,
               download: bool = False, min_size: int = 0) -> Path:
    """Locate the ImageFolder directory of ``split`` for a named dataset or a dataset directory.

    ``download``: fetch Imagenette with torchvision if no copy is found (the 320 px release when ``min_size`` > 160).
    """
    if not isinstance(split, str) or not split:
        raise ValueError(f"split must be a non-empty string such as 'train' or 'val', got {split!r}")
    path = Path(dataset).expanduser()
    if str(dataset) not in KNOWN:
        if not path.is_dir():
            raise FileNotFoundError(
                f"dataset {str(dataset)!r} is neither a known name ({', '.join(KNOWN)}) nor an existing directory")
        if not (path / split).is_dir():
            found = sorted(p.name for p in path.iterdir() if p.is_dir())
            raise FileNotFoundError(f"{path} has no {split!r} split; subdirectories found: {found}")
        return path / split
    base = data_root(root)
    for name in KNOWN[str(dataset)]:
        if (base / name / split).is_dir():
            return base / name / split
    tried = ", ".join(str(base / n / split) for n in KNOWN[str(dataset)])
    where = (f"no {dataset} {split!r} split found (tried {tried}); point --data-root or $ZFVIZ_DATA at a folder "
             f"holding {KNOWN[str(dataset)][0]}/")
    if download and str(dataset) == "imagenette":
        if not online():
            raise FileNotFoundError(f"{where}; offline, so torchvision cannot download Imagenette either")
        from torchvision.datasets import Imagenette  # fetches the archive and checks its md5

        base.mkdir(parents=True, exist_ok=True)
        size = "320" if min_size > 160 else "160"
        Imagenette(str(base), split=split, size=f"{size}px", download=True)
        return base / f"imagenette2-{size}" / split
    raise FileNotFoundError(where + (" (or allow the Imagenette download)" if str(dataset) == "imagenette" else ""))


# Imagenette's class folders, sorted as ``class_folders`` gives them (the plan names held-out runs without the data)
IMAGENETTE_CLASSES = ("n01440764", "n02102040", "n02979186", "n03000684", "n03028079", "n03394916", "n03417042",
                      "n03425413", "n03445777", "n03888257")


def heldout_split(classes: list[str] | tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The held-out-class design (C9, C10): the first half of the sorted class folders trains the source models, the
    other half is the target they never saw.

    >>> [len(part) for part in heldout_split(IMAGENETTE_CLASSES)]
    [5, 5]
    """
    classes = tuple(classes)
    return classes[:len(classes) // 2], classes[len(classes) // 2:]


def class_folders(dataset: str | os.PathLike, root: str | os.PathLike | None = None, split: str = "val",
                  download: bool = False, min_size: int = 0) -> list[str]:
    """The class folder names of a split, sorted, without reading any image (to validate a parameter up front);
    ``download``, ``min_size``: as ``find_split`` (fetch Imagenette when no copy is found, as the loader would)."""
    folder = find_split(dataset, split, root, download, min_size=min_size)
    return sorted(e.name for e in os.scandir(folder) if e.is_dir())


def online(host: str = DOWNLOAD_HOST, timeout: float = 3.0) -> bool:
    """Whether ``host`` resolves and accepts a connection on 443 (so a download can be tried)."""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class ImageSet:
    """A decoded split: uint8 images (N, 3, S, S), int64 labels (N,), class names and relative file paths."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    paths: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor | list[int]) -> "ImageSet":
        """The images at ``index`` (a copy, in memory)."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return ImageSet(self.images[idx].clone(), self.labels[idx].clone(), self.classes,
                        [self.paths[i] for i in idx.tolist()], self.source)


def class_index(c: str, wnids: list[str]) -> int:
    """A class given by display name or WordNet id, as an index into ``wnids``; a clear error lists the valid ones."""
    names = [class_name(w) for w in wnids]
    if c in wnids:
        return wnids.index(c)
    if c in names:
        return names.index(c)
    raise ValueError(f"unknown class {c!r}; valid: {', '.join(names)} (or their WordNet ids {', '.join(wnids)})")


def per_class_subset(labels: torch.Tensor, per_class: int | None) -> torch.Tensor:
    """Indices of the first ``per_class`` items of every class (all items if ``per_class`` is None)."""
    if per_class is None:
        return torch.arange(len(labels))
    if not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class must be a positive int or None, got {per_class!r}")
    keep = []
    for c in torch.unique(labels).tolist():
        keep.append(torch.nonzero(labels == c).flatten()[:per_class])
    return torch.sort(torch.cat(keep)).values


def few_shot_split(labels: torch.Tensor | np.ndarray, k: int, seed: int, split: int,
                   max_test: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Random split ``split`` of ``seed``: ``k`` training indices per class, the rest (or ``max_test``) for testing.

    The same ``(labels, k, seed, split)`` always gives the same indices, so a network trained from scratch on a split
    and a probe on pretrained features of that split see exactly the same images (Tables 4-7).
    """
    check_int("k", k)
    check_int("seed", seed, minimum=0)
    check_int("split", split, minimum=0)
    y = np.asarray(labels)
    rng = np.random.default_rng([int(seed), int(split)])
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) <= k:
            raise ValueError(f"class {c} has {len(idx)} images; need more than k={k}")
        train.append(idx[:k])
        test.append(idx[k:] if max_test is None else idx[k:k + max_test])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _list_folder(folder: Path) -> tuple[list[tuple[str, int]], list[str]]:
    return list_images(folder)


def _cache_key(folder: Path, samples: list[tuple[str, int]], resize: int) -> str:
    """The decoded cache's key: the folder, the resize, and every file's path, label and content (not its size or
    time: ``data.files.file_digests``)."""
    return content_fingerprint(folder, samples, prefix=f"v{CACHE_VERSION}:{resize}:{folder.resolve()}\n")


def load_image(path: str | os.PathLike, resize: int) -> torch.Tensor:
    """Decode one image to RGB uint8, resize its shorter side to ``resize`` and centre-crop a square."""
    try:
        with Image.open(path) as im:
            im.draft("RGB", (resize, resize))  # JPEG: decode at a reduced scale >= resize (fast for ImageNet)
            img = TF.pil_to_tensor(_to_rgb(im))
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as e:
        raise ValueError(f"cannot decode image {path}: {e}. Remove or replace the file and retry.") from None
    img = TF.resize(img, [resize], antialias=True)
    return TF.center_crop(img, [resize, resize])


def _to_rgb(im: Image.Image) -> Image.Image:
    """RGB 8 bit, upright. 16- and 32-bit integer greyscale (PIL modes I;16*, I) are scaled to 0..255, not clipped to
    white; 32-bit float greyscale (mode F, e.g. a float TIFF) is read as 0..1 when its values lie there, as 0..255
    when they lie there, else scaled by its maximum, never clipped to a constant. The EXIF orientation a camera wrote
    is applied, as an image viewer would."""
    im = ImageOps.exif_transpose(im)
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        a = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if im.mode == "F":
            a = a - min(lo, 0.0)  # a float image may hold negative values: shift them into range
            hi = hi - min(lo, 0.0)
            top = 1.0 if hi <= 1.0 else 255.0 if hi <= 255.0 else hi
        else:
            top = 65535.0 if im.mode.startswith("I;16") or hi > 255 else 255.0
        return Image.fromarray(np.clip(a / top * 255 + 0.5, 0, 255).astype(np.uint8)).convert("RGB")
    return im.convert("RGB")


CACHE_CHECK_BYTES = 8 * 2**30  # caches up to this size are checked in full when opened (465 MB: about 0.4 s)
CHECK_CHUNK_BYTES = 64 * 2**20  # the decoded array is checksummed in chunks of about this many bytes
SAMPLED_CHUNKS = 32  # a larger cache (ImageNet: about 235 GB at 256 px) checks this many random chunks per open


class CacheDamaged(ValueError):
    """A decoded cache whose array does not match its checksums (edited or damaged in place)."""


def _chunk_rows(arr: np.ndarray) -> int:
    return max(1, CHECK_CHUNK_BYTES // max(1, arr[0].nbytes if len(arr) else 1))


def _chunk_digests(arr: np.ndarray, which: list[int] | None = None) -> list[str]:
    rows = _chunk_rows(arr)
    chunks = range(0, (len(arr) + rows - 1) // rows) if which is None else which
    return [hashlib.sha256(memoryview(np.ascontiguousarray(arr[i * rows:(i + 1) * rows])).cast("B")).hexdigest()
            for i in chunks]


def _reserve(path: Path, out: Path) -> None:
    """Allocate the memory-mapped file's blocks now: a full disk is then one ``OSError`` here, not a SIGBUS ("Bus
    error") when a write through the map finds no block."""
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            os.posix_fallocate(f.fileno(), 0, size)
        except OSError as e:
            free = shutil.disk_usage(path.parent).free
            raise OSError(f"cannot build the decoded cache {out}: it needs {size / 2**20:.0f} MB and its disk has "
                          f"{free / 2**20:.0f} MB free ({e.strerror}); free space or point $ZFVIZ_CACHE elsewhere") \
                from None


def _build_cache(folder: Path, samples, classes, resize: int, out: Path, progress: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    try:
        arr = np.lib.format.open_memmap(tmp / "images.npy", mode="w+", dtype=np.uint8,
                                        shape=(len(samples), 3, resize, resize))
        _reserve(tmp / "images.npy", out)

        def work(i: int) -> None:
            arr[i] = load_image(samples[i][0], resize).numpy()

        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            list(tqdm(pool.map(work, range(len(samples))), total=len(samples), disable=not progress,
                      desc=f"decoding {folder.parent.name}/{folder.name} at {resize}px", unit="img"))
        arr.flush()
        checksums = {"chunk_rows": _chunk_rows(arr), "sha256": _chunk_digests(arr)}
        arr = None  # close the memmap before the rename
        labels = np.array([s[1] for s in samples], dtype=np.int64)
        np.save(tmp / "labels.npy", labels)
        meta = dict(classes=classes, paths=[relative_to(s[0], folder) for s in samples],
                    source=str(folder.resolve()), resize=resize, version=CACHE_VERSION, checksums=checksums,
                    labels_sha256=hashlib.sha256(labels.tobytes()).hexdigest(), key=out.name)
        (tmp / "meta.json").write_text(json.dumps(meta | {"meta_sha256": _meta_digest(meta)}))
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700; a shared cache should be readable like any other folder
        os.replace(tmp, out)  # atomic: a reader sees the whole cache or none
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_VERIFIED: set[tuple] = set()  # caches this process has checked, by (path, stat): checked once per process


def _verify(out: Path, images: np.ndarray, labels: np.ndarray, meta: dict) -> None:
    st = os.stat(out / "images.npy")
    key = (str(out), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key in _VERIFIED:
        return
    sums = meta.get("checksums") or {}
    expected = sums.get("sha256")
    if not expected or sums.get("chunk_rows") != _chunk_rows(images) or len(expected) != -(-len(images) //
                                                                                          sums["chunk_rows"]):
        raise CacheDamaged(f"the decoded cache {out} has no valid checksums")
    if hashlib.sha256(labels.tobytes()).hexdigest() != meta.get("labels_sha256"):
        raise CacheDamaged(f"the labels of the decoded cache {out} do not match their checksum")
    if images.nbytes <= CACHE_CHECK_BYTES:
        which = list(range(len(expected)))
    else:  # too large to read at every open: random chunks, a different sample each time
        which = sorted({0, len(expected) - 1} | set(np.random.default_rng().choice(
            len(expected), size=min(SAMPLED_CHUNKS, len(expected)), replace=False).tolist()))
    got = _chunk_digests(images, which)
    bad = [i for i, g in zip(which, got) if g != expected[i]]
    if bad:
        raise CacheDamaged(f"the decoded cache {out} does not match its checksums (chunk {bad[0]} of "
                           f"{len(expected)} differs)")
    _VERIFIED.add(key)


def _meta_digest(meta: dict) -> str:
    """The SHA-256 of a cache's ``meta.json`` content (without the digest itself): classes, paths, source, key."""
    return hashlib.sha256(json.dumps({k: v for k, v in meta.items() if k != "meta_sha256"},
                                     sort_keys=True).encode()).hexdigest()


def _check_meta(out: Path, meta: dict, folder: Path | None, samples: list | None, classes: list | None) -> None:
    """A cache's ``meta.json`` must be intact (its own checksum) and describe this cache folder and the split being
    loaded: its key, source folder, class list and file list. A cache copied under another key, or with its class
    names edited, is damaged (rebuilt), never served."""
    if meta.get("meta_sha256") != _meta_digest(meta):
        raise CacheDamaged(f"the decoded cache {out}'s meta.json does not match its checksum (edited or damaged)")
    if meta.get("key") != out.name:
        raise CacheDamaged(f"the decoded cache {out} was built as {meta.get('key')} (a folder copied or renamed)")
    if folder is not None and meta.get("source") != str(folder.resolve()):
        raise CacheDamaged(f"the decoded cache {out} holds {meta.get('source')}, not {folder.resolve()}")
    if classes is not None and meta.get("classes") != list(classes):
        raise CacheDamaged(f"the decoded cache {out} lists other classes than {folder} holds")
    if samples is not None and meta.get("paths") != [relative_to(p, folder) for p, _ in samples]:
        raise CacheDamaged(f"the decoded cache {out} lists other files than {folder} holds")


def _read_cache(out: Path, folder: Path | None = None, samples: list | None = None,
                classes: list | None = None) -> ImageSet:
    meta = json.loads((out / "meta.json").read_text())
    _check_meta(out, meta, folder, samples, classes)
    array = np.load(out / "images.npy", mmap_mode="c", allow_pickle=False)
    labels = np.load(out / "labels.npy", allow_pickle=False)
    if len(array) != len(labels) or len(labels) != len(meta["paths"]):
        raise ValueError(f"{len(array)} images, {len(labels)} labels and {len(meta['paths'])} paths")
    _verify(out, array, labels, meta)
    return ImageSet(torch.from_numpy(array), torch.from_numpy(labels), meta["classes"], meta["paths"], meta["source"])


def _sweep_orphans(decoded: Path) -> None:
    """Remove the temporary folders of killed cache builds, of any key: a temp whose key's lock nobody holds is one."""
    for tmp in decoded.glob("*.tmp-*"):
        name = tmp.name.split(".tmp-")[0]
        try:
            with exclusive(decoded / f".{name}.lock", wait=False, what="the decoded cache"):
                shutil.rmtree(tmp, ignore_errors=True)
        except BusyError:
            pass  # being built right now


def load_folder(folder: str | os.PathLike, resize: int, *, progress: bool = True) -> ImageSet:
    """The images of an ImageFolder: ``folder/val`` if it has one, else ``folder`` itself (class folders in it),
    decoded and cached as ``load_split`` does.

    >>> load_folder("my_images", 256).images.shape  # doctest: +SKIP
    torch.Size([N, 3, 256, 256])
    """
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"dataset folder {str(path)!r} does not exist; give an ImageFolder (class folders, or a "
                                "val/ split holding them)")
    if (path / "val").is_dir():
        return load_split(path, "val", resize, progress=progress)
    return load_split(path.parent, path.name, resize, progress=progress)


def load_split(dataset: str | os.PathLike, split: str, resize: int, *, root: str | os.PathLike | None = None,
               download: bool = False, progress: bool = True) -> ImageSet:
    """Decode (once, then from cache) every image of a split to uint8 ``resize`` x ``resize``.

    One process builds a cache at a time (a lock per cache); a cache that cannot be read (truncated, edited) is
    rebuilt, and the leftovers of a killed build are removed.
    """
    if not isinstance(resize, int) or isinstance(resize, bool) or resize < 8:
        raise ValueError(f"resize must be an int >= 8, got {resize!r}")
    folder = find_split(dataset, split, root, download, min_size=resize)
    samples, classes = _list_folder(folder)
    key = _cache_key(folder, samples, resize)
    out = cache_root() / "decoded" / f"{folder.parent.name}-{split}-{resize}-{key}"
    out.parent.mkdir(parents=True, exist_ok=True)
    expect = (folder, samples, classes)
    try:
        return _read_cache(out, *expect)
    except CacheDamaged as e:
        warnings.warn(f"{e}; rebuilding it", stacklevel=2)
    except (OSError, ValueError, KeyError):
        pass
    with exclusive(out.parent / f".{out.name}.lock", wait=True, what=f"the decoded cache {out}"):
        for stale in out.parent.glob(f"{out.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        try:
            return _read_cache(out, *expect)  # built by another process while this one waited
        except (OSError, ValueError, KeyError):
            shutil.rmtree(out, ignore_errors=True)  # missing, unreadable or damaged: rebuild
        _sweep_orphans(out.parent)
        _build_cache(folder, samples, classes, resize, out, progress)
    return _read_cache(out, *expect)


def dataset_identity(dataset: str | os.PathLike, splits: tuple[str, ...], root: str | os.PathLike | None = None,
                     download: bool = False) -> dict:
    """What a run's identity records of its data: the class list and a fingerprint of every file (path relative to
    the split, class, SHA-256 of its bytes) of the ``splits`` it reads. Train and val class lists must agree.

    Unlike the decode cache's key, this ignores where the folder is, so the same data copied elsewhere reuses the same
    runs, while a swapped class or a replaced image (even one of the same size and time) gives new ones.
    """
    h = hashlib.sha256()
    classes = None
    for split in splits:
        folder = find_split(dataset, split, root, download)
        samples, cls = _list_folder(folder)
        if classes is not None:
            _same_classes(dataset, (splits[0], classes), (split, cls))
        classes = cls
        h.update(f"{split}:{content_fingerprint(folder, samples)}\n".encode())
    if len(classes) < 2:
        raise ValueError(f"{dataset} has {len(classes)} class folder ({classes}); classification needs at least 2")
    return {"classes": classes, "files": h.hexdigest()[:16]}


def _same_classes(dataset, a: tuple[str, list[str]], b: tuple[str, list[str]]) -> None:
    """One clear error when two splits have different class folders (their labels would not line up)."""
    (na, ca), (nb, cb) = a, b
    if ca != cb:
        raise ValueError(f"the {na!r} and {nb!r} splits of {dataset} have different class folders (only in {na}: "
                         f"{sorted(set(ca) - set(cb))}; only in {nb}: {sorted(set(cb) - set(ca))}); labels would not "
                         "line up")


def prepare_data(dataset: str | os.PathLike, resize: int, *, train_per_class: int | None = None,
                 val_per_class: int | None = None, few_shot: int | None = None, seed: int = 0, split: int = 0,
                 root: str | os.PathLike | None = None, progress: bool = True, download: bool = True,
                 with_train: bool = True) -> tuple[ImageSet | None, ImageSet]:
    """A run's train and val splits (uint8, cached), with the profile's per-class caps.

    ``few_shot`` k: split the dataset's val split instead, k images per class to train and the rest (capped at
    ``val_per_class``) to test (``few_shot_split``). Train and val must have the same class folders.
    ``with_train=False`` skips reading a full training split (returned as None).
    """
    val = load_split(dataset, "val", resize, root=root, progress=progress, download=download)
    if few_shot is not None:
        tr, te = few_shot_split(val.labels, few_shot, seed, split, max_test=val_per_class)
        return val.subset(torch.as_tensor(tr)), val.subset(torch.as_tensor(te))
    train = load_split(dataset, "train", resize, root=root, progress=progress, download=download) if with_train \
        else None
    if val_per_class is not None:
        val = val.subset(per_class_subset(val.labels, val_per_class))
    if train is None:
        return None, val
    _same_classes(dataset, ("train", train.classes), ("val", val.classes))
    if train_per_class is not None:
        train = train.subset(per_class_subset(train.labels, train_per_class))
    return train, val


def pixel_mean(images: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """The per-pixel mean image (3, S, S), float32, of a uint8 image tensor (computed in chunks)."""
    total = torch.zeros(images.shape[1:], dtype=torch.float64)
    for i in range(0, len(images), chunk):
        total += images[i:i + chunk].to(torch.float64).sum(0)
    return (total / len(images)).float()


def crop_params(n: int, size: int, crop: int, generator: torch.Generator) -> torch.Tensor:
    """Random crop offsets and x-flips for ``n`` images: an (n, 3) int tensor of (dy, dx, flip)."""
    if crop > size:
        raise ValueError(f"crop {crop} is larger than the cached image size {size}")
    oy = torch.randint(0, size - crop + 1, (n,), generator=generator)
    ox = torch.randint(0, size - crop + 1, (n,), generator=generator)
    flip = (torch.rand(n, generator=generator) < 0.5).long()
    return torch.stack([oy, ox, flip], 1)


def crop_flip(images: torch.Tensor, mean: torch.Tensor, crop: int, params: torch.Tensor) -> torch.Tensor:
    """Mean-subtract a uint8 batch, then cut each image's crop and flip it as ``params`` (from ``crop_params``) say."""
    n, c, _, _ = images.shape
    dev = images.device
    oy, ox, flip = params.to(dev).unbind(1)
    ar = torch.arange(crop, device=dev)
    rows = (oy[:, None] + ar)[:, None, :, None]
    cols = ox[:, None] + ar
    cols = torch.where(flip.bool()[:, None], cols.flip(1), cols)[:, None, None, :]
    x = images.float() - mean.to(dev)
    return x[torch.arange(n, device=dev)[:, None, None, None], torch.arange(c, device=dev)[None, :, None, None],
             rows, cols]


def random_crop_flip(images: torch.Tensor, mean: torch.Tensor, crop: int, generator: torch.Generator) -> torch.Tensor:
    """Mean-subtract a uint8 batch, then one random ``crop`` square and a random x-flip per image (on its device)."""
    return crop_flip(images, mean, crop, crop_params(len(images), images.shape[-1], crop, generator))


def center_crop(images: torch.Tensor, mean: torch.Tensor, crop: int) -> torch.Tensor:
    """Mean-subtract a uint8 batch and take the centre ``crop`` square."""
    x = images.float() - mean.to(images.device)
    return TF.center_crop(x, [crop, crop])


def crop_of(image: torch.Tensor, crop: int) -> torch.Tensor:
    """The centre ``crop`` square of an image or of the mean image: the region ``center_crop`` gives the model."""
    return TF.center_crop(image, [crop, crop])


def ten_crop(images: torch.Tensor, mean: torch.Tensor, crop: int) -> torch.Tensor:
    """The paper's 10 test crops: (10, N, 3, crop, crop) = 4 corners + centre, then the same x-flipped."""
    x = images.float() - mean.to(images.device)
    return torch.stack(TF.ten_crop(x, [crop, crop]))


def batch_indices(n: int, batch_size: int, *, shuffle: bool, generator: torch.Generator | None = None,
                  rank: int = 0, world: int = 1, drop_last: bool = False) -> list[torch.Tensor]:
    """Global batches of ``batch_size`` over ``n`` items; rank ``r`` of ``world`` gets its strided share of each."""
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    stop = n - n % batch_size if drop_last else n
    return [order[i:i + batch_size][rank::world] for i in range(0, stop, batch_size)]
