"""Runs: what identifies a trained model, where it lives, when it is finished, and reading it back.

A run's identity is its resolved ``TrainConfig`` (every field, the epoch budget included), the profile's geometry and
lr schedule, and the identity of its data (class list and file fingerprint, ``data.sets.dataset_identity``). The run
directory ``<model>-<profile>-s<seed>-<hash>`` is named by a hash of it, so a changed dataset, profile or budget
trains a new run instead of silently reusing an old one.

A run is *finished* only when ``DONE.json``, written last, exists and agrees with the final snapshot and the metrics.
Anything short of that (a kill at any moment, a lost or truncated final snapshot) resumes or repairs itself when the
same run is asked for again (``trained.ensure_trained``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import pandas as pd
import torch

from zfviz.core import checkpoint
from zfviz.core.params import check_int
from zfviz.core.paths import runs_root
from zfviz.core.provenance import note_folder
from zfviz.data.files import sha256_file
from zfviz.data.sets import ImageSet, prepare_data
from zfviz.model.models import ConvNet, model_from_arch

# re-exported: what a run is
from zfviz.runs.config import KEY_VERSION, ResolvedConfig, TrainConfig, identity_diff, identity_key  # noqa: F401
from zfviz.runs.evaluate import predict

SNAPSHOT_EPOCHS = (1, 2, 5, 10, 20, 30, 40, 64)  # Fig. 4


def run_dir(cfg: TrainConfig, runs_dir: str | os.PathLike | None = None,
            root: str | os.PathLike | None = None, data: dict | None = None) -> Path:
    """Where the run of ``cfg`` lives (``paths.runs_root``); ``data``: the data's identity when already hashed."""
    return runs_root(runs_dir) / cfg.run_name(root, data)


def load_data(cfg: TrainConfig, root: str | os.PathLike | None = None, progress: bool = True,
              download: bool = True, with_train: bool = True) -> tuple[ImageSet | None, ImageSet]:
    """The train and val (or few-shot train and test) splits a run trains and is scored on; ``with_train=False``
    skips a full training split (None)."""
    c = cfg.resolved()
    p = c.spec
    train, val = prepare_data(c.dataset, p.resize, train_per_class=p.train_per_class, val_per_class=p.val_per_class,
                              few_shot=c.train_per_class, seed=c.seed, split=c.split, root=root, progress=progress,
                              download=download, with_train=with_train)
    if c.classes is not None:
        train, val = (None if s is None else restrict_classes(s, list(c.classes)) for s in (train, val))
    return train, val


def restrict_classes(data: ImageSet, classes: list[str]) -> ImageSet:
    """The images of ``classes`` only, relabelled 0..len(classes)-1 in that order."""
    unknown = [c for c in classes if c not in data.classes]
    if unknown:
        raise ValueError(f"unknown classes {unknown}; valid: {data.classes}")
    old = torch.tensor([data.classes.index(c) for c in classes])
    keep = torch.nonzero(torch.isin(data.labels, old)).flatten()
    sub = data.subset(keep)
    remap = torch.full((len(data.classes),), -1, dtype=torch.long)
    remap[old] = torch.arange(len(classes))
    return ImageSet(sub.images, remap[sub.labels], list(classes), sub.paths, sub.source)


# ---- finishing ---------------------------------------------------------------------------------------------------

DONE = "DONE.json"


def snapshot_path(run: Path, epoch: int) -> Path:
    """``<run>/snapshots/epoch_NNN.pt``."""
    return Path(run) / "snapshots" / f"epoch_{epoch:03d}.pt"


def finished(run: str | os.PathLike, epochs: int) -> bool:
    """Whether the run finished ``epochs``: its marker exists and matches the final snapshot's content (SHA-256) and
    the metrics. A snapshot replaced or edited after finishing (even at the same size) makes the run unfinished, and
    asking for it again repairs it (``train``'s finish step verifies and rewrites)."""
    run = Path(run)
    try:
        done = json.loads((run / DONE).read_text())
        snap = snapshot_path(run, epochs)
        return (done.get("epoch") == epochs and done.get("snapshot_sha256") == sha256_file(snap)
                and epochs in set(pd.read_csv(run / "metrics.csv").epoch))
    except (OSError, ValueError, KeyError, AttributeError, pd.errors.EmptyDataError):
        return False


def mark_finished(run: Path, epochs: int, provenance: dict | None = None) -> None:
    """Write ``DONE.json`` (last, atomically): the run's final snapshot (by content) and metrics are complete. It also
    holds the SHA-256 of every snapshot (the weights each reader loads are checked against it) and ``provenance``:
    the machines the run was trained on, the source commit, the precision (``train._finish``)."""
    snaps = {str(int(p.stem.split("_")[1])): sha256_file(p) for p in sorted((Path(run) / "snapshots").glob("epoch_*.pt"))}
    done = {"epoch": epochs, "snapshot_sha256": sha256_file(snapshot_path(run, epochs)), "snapshots": snaps}
    done |= provenance or {}
    checkpoint.atomic_write(run / DONE, lambda tmp: Path(tmp).write_text(json.dumps(done, sort_keys=True, indent=1)))


def done_record(run: str | os.PathLike) -> dict:
    """The run's ``DONE.json`` ({} when it has none or it is unreadable)."""
    try:
        done = json.loads((Path(run) / DONE).read_text())
    except (OSError, ValueError):
        return {}
    return done if isinstance(done, dict) else {}


def snapshot_problem(state: object, identity: dict | None, epoch: int | None) -> str | None:
    """Why a loaded snapshot or checkpoint cannot stand for a run at ``epoch`` with ``identity`` (None: it can): not a
    zfviz state, another run's (its recorded identity differs), another epoch, or weights that are not finite."""
    if not isinstance(state, dict) or "model" not in state:
        return "it is not a zfviz snapshot"
    if identity is not None and state.get("identity") != identity:
        return "it belongs to another run (its recorded identity differs)"
    if epoch is not None and int(state.get("epoch", -1)) != epoch:
        return f"it is from epoch {state.get('epoch')}, not {epoch}"
    bad = [k for k, v in state["model"].items() if torch.is_tensor(v) and v.is_floating_point()
           and not bool(torch.isfinite(v).all())]
    if bad:
        return f"its weights are not finite ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''})"
    return None


# ---- reading runs back --------------------------------------------------------------------------------------------

def load_trained(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[ConvNet, dict]:
    """Load a snapshot or checkpoint: the model in eval mode and its metadata (config, mean, classes, epoch, identity).
    Weights that are not finite are refused with one line naming the file."""
    state = checkpoint.load(path, map_location="cpu")
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a zfviz checkpoint (it holds a {type(state).__name__}, not a dict)")
    for key in ("model", "arch"):
        if key not in state:
            raise ValueError(f"{path} is not a zfviz checkpoint (no {key!r} entry)")
    problem = snapshot_problem(state, None, None)
    if problem:
        raise ValueError(f"refusing {path}: {problem}; delete it (a run repairs it from its checkpoint when asked "
                         "for again)")
    try:
        model = model_from_arch(state["arch"])
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise ValueError(f"{path} is not a zfviz checkpoint of a known architecture: {type(e).__name__}: "
                         f"{str(e).splitlines()[0]}") from None
    meta = {k: v for k, v in state.items() if k not in ("model", "optimizer", "scheduler")}
    return model.to(device).eval(), meta


def snapshot_sha256(run: str | os.PathLike, epoch: int) -> str:
    """The SHA-256 that the finished run's ``DONE.json`` recorded for its epoch-``epoch`` snapshot; one error when the
    run is not finished or recorded no such snapshot."""
    run = Path(run)
    done = done_record(run)
    if not done:
        raise FileNotFoundError(f"{run} is not a finished run (no readable {DONE}); train it (python -m zfviz train) "
                                "before reading its weights")
    recorded = dict(done.get("snapshots") or {})
    if done.get("epoch") is not None:
        recorded.setdefault(str(done["epoch"]), done.get("snapshot_sha256"))
    if recorded.get(str(epoch)) is None:
        raise FileNotFoundError(f"{run}'s {DONE} vouches for no snapshot of epoch {epoch} (it lists epochs "
                                f"{sorted(int(e) for e in recorded)}); delete {DONE} and run the same train command "
                                "again to re-finish it from its checkpoint")
    return recorded[str(epoch)]


def load_run(run: str | os.PathLike, epoch: int, device: str | torch.device = "cpu", *,
             identity: dict | None = None) -> tuple[ConvNet, dict]:
    """A finished run's weights at a snapshot epoch, verified before use: the file's SHA-256 must be the one
    ``DONE.json`` recorded, and the snapshot's recorded identity and epoch the run's (``identity``, else the identity
    whose key the run directory's name ends with). A mismatch is one error naming both; another run's model is never
    returned.

    >>> model, meta = load_run("runs/zf-cpu-s0-d7614ff488", 20)  # doctest: +SKIP
    """
    run = Path(run)
    path = snapshot_path(run, epoch)
    expected = snapshot_sha256(run, epoch)
    actual = sha256_file(path) if path.is_file() else None
    if actual != expected:
        raise ValueError(f"{path} is not the snapshot {run / DONE} vouches for (SHA-256 "
                         f"{'missing file' if actual is None else actual[:12]}, recorded {expected[:12]}); delete "
                         f"{run / DONE} and run the same train command again to repair it")
    model, meta = load_trained(path, device)
    saved = meta.get("identity")
    if identity is not None and saved != identity:
        raise ValueError(f"{path} holds another run's weights ({_who(saved)}; this run is {_who(identity)}: differs "
                         f"in {identity_diff(saved, identity)}); it was copied or renamed into {run.name}: delete it "
                         "and train this run")
    if identity is None and (not isinstance(saved, dict) or not run.name.endswith("-" + identity_key(saved))):
        raise ValueError(f"{path} holds another run's weights ({_who(saved)}, key "
                         f"{identity_key(saved) if isinstance(saved, dict) else 'none'}), not {run.name}'s: the folder "
                         "was copied or renamed; delete it and train this run")
    if int(meta.get("epoch", -1)) != epoch:
        raise ValueError(f"{path} holds epoch {meta.get('epoch')}, not {epoch}; delete {run / DONE} and rerun to "
                         "repair it")
    note_folder(run, epoch, "weights")  # the page being executed rests on these weights (provenance)
    return model, meta


def _who(identity: object) -> str:
    """A run identity in a few words: model, seed, epochs (for error messages)."""
    c = identity.get("config", {}) if isinstance(identity, dict) else {}
    return f"model {c.get('model')}, seed {c.get('seed')}, {c.get('epochs')} epochs" if c else "no run identity"


def few_shot_epochs(steps: int, per_class: int, classes: int, batch_size: int) -> int:
    """Epochs that give a from-scratch few-shot run about ``steps`` SGD steps on ``per_class`` images of each of
    ``classes`` (full batches only; a training set smaller than a batch is one batch per epoch)."""
    for name, v in (("steps", steps), ("per_class", per_class), ("classes", classes), ("batch_size", batch_size)):
        check_int(name, v)
    return max(1, math.ceil(steps / max(1, (per_class * classes) // batch_size)))


PAPER_BATCH = 128  # the batch the paper's lr (``TrainConfig.lr``, 1e-2) belongs to (Sec. 3)


def scaled_lr(batch_size: int, lr: float = TrainConfig.lr, reference_batch: int = PAPER_BATCH) -> float:
    """The lr for a smaller batch by the linear scaling rule (Goyal et al. 2017): ``lr * batch_size / reference_batch``.

    Few-shot runs from scratch need it: at batch 10 (1 image per class), lr 1e-2 left every network at chance (loss
    ln 10 after 400 steps), while 1e-2 * 10 / 128 fits the 10 images (train top-1 99.5%, cpu profile, Imagewoof).
    """
    check_int("batch_size", batch_size)
    return lr * batch_size / reference_batch


def scratch_configs(model: str, profile: str, dataset: str | None, classes: int, per_class: list[int], splits: int,
                    seed: int, steps: int, batch: int, restrict: tuple[str, ...] | None = None) -> list[TrainConfig]:
    """The from-scratch few-shot runs of a transfer table: for each k and split, about ``steps`` SGD steps on k images
    per class (the lr scaled to a batch capped at the training set: the linear scaling rule)."""
    out = []
    for k in per_class:
        b = min(batch, k * classes)
        out += [TrainConfig(model, profile, dataset=dataset, classes=restrict, train_per_class=k, split=s, seed=seed,
                            batch_size=b, lr=scaled_lr(b), epochs=few_shot_epochs(steps, k, classes, b))
                for s in range(splits)]
    return out


def epochs_done(run: str | os.PathLike) -> int:
    """The last epoch in the run's ``metrics.csv`` (0 if it has none yet)."""
    try:
        return int(pd.read_csv(Path(run) / "metrics.csv").epoch.max())
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return 0


def convergence(curves: pd.DataFrame, last: int = 3, tolerance: float = 1.0) -> pd.DataFrame:
    """Per run of ``trained.run_curves``: final 10-crop and centre val top-1, the number of lr annealings, and whether the
    centre-crop val top-1 of the ``last`` epochs varies by less than ``tolerance`` points (``flat``)."""
    rows = []
    for run, c in curves.groupby("run", sort=False):
        c = c.sort_values("epoch")
        tail = c.val_top1.tail(last)
        rows.append({"model": c.model.iloc[0], "seed": int(c.seed.iloc[0]), "epochs": int(c.epoch.max()),
                     "val10_top1": c.val10_top1.dropna().iloc[-1] if c.val10_top1.notna().any() else math.nan,
                     "val_top1": c.val_top1.iloc[-1], "last_epochs_range": float(tail.max() - tail.min()),
                     "annealings": int((c.lr.diff() < 0).sum()), "run": run})
    df = pd.DataFrame(rows)
    return df.assign(flat=df.last_epochs_range < tolerance)


def accuracy_summary(table: pd.DataFrame) -> str:
    """One phrase per model of a ``convergence`` table: mean 10-crop val top-1, with its sd when there are 2+ seeds.

    >>> accuracy_summary(pd.DataFrame({"model": ["zf", "zf", "alexnet"], "val10_top1": [77.0, 78.0, 72.25]}))
    'zf 77.5% (sd 0.7 over 2 seeds); alexnet 72.2% (one seed)'
    """
    return "; ".join(f"{m} {g.val10_top1.mean():.1f}% "
                     + (f"(sd {g.val10_top1.std():.1f} over {len(g)} seeds)" if len(g) > 1 else "(one seed)")
                     for m, g in table.groupby("model", sort=False))


def final_accuracy(metrics: pd.DataFrame, digits: int = 1) -> str:
    """A run's last validation top-1 from its metrics (10-crop too where that epoch scored it), as one phrase.

    >>> final_accuracy(pd.DataFrame({"val_top1": [70.0, 75.04], "val10_top1": [float("nan"), 76.99]}))
    'val top-1 75.0%, 10-crop 77.0%'
    """
    last = metrics.iloc[-1]
    ten = last.get("val10_top1")
    return f"val top-1 {last.val_top1:.{digits}f}%" + (f", 10-crop {ten:.{digits}f}%" if pd.notna(ten) else "")


def run_predictions(run: str | os.PathLike, epoch: int, data: ImageSet, *, ten: bool = True,
                    device: str | None = None, progress: bool = False) -> torch.Tensor:
    """Class probabilities of the run's epoch-``epoch`` snapshot on ``data`` (10-crop by default), cached in the run.

    The cache is keyed by the snapshot's SHA-256 and the images' paths, so another model, split or profile never
    reads a stale file. The model runs on
    ``device`` (default: the GPU when there is one); the probabilities come back on the CPU.
    """
    # keyed by the weights (the verified snapshot's SHA-256) and the images: a run retrained under the same name (a
    # repair, another thread count, a GPU) never serves the old model's probabilities
    weights = snapshot_sha256(run, epoch)
    key = hashlib.sha256("\n".join([weights, *data.paths]).encode()).hexdigest()[:12]
    cache = Path(run) / "predictions" / f"{'ten' if ten else 'centre'}_epoch_{epoch:03d}_{key}.pt"
    if cache.exists():
        try:
            return checkpoint.load(cache)
        except ValueError:
            pass  # unreadable: recompute
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, meta = load_run(run, epoch, dev)
    if meta.get("classes") is not None and list(meta["classes"]) != list(data.classes):
        raise ValueError(f"{run} was trained on classes {meta['classes']}, the data has {data.classes}")
    probs = predict(model, data.images, meta["mean"], model.arch.input_size, ten=ten, progress=progress)
    checkpoint.save(probs, cache)
    return probs


def snapshot_epochs(cfg: TrainConfig, epochs: int | None = None) -> list[int]:
    """The epochs a run saves weights at: the last, and the paper's Fig. 4 epochs within the budget for the models the
    profile keeps them for (``Profile.fig4_models``: the ones chapter 03 reads); few-shot runs only the last."""
    c = cfg.resolved()
    last = c.epochs if epochs is None else epochs
    if c.few_shot or c.model not in c.spec.fig4_models:
        return [last]
    return sorted({e for e in SNAPSHOT_EPOCHS if e <= last} | {last})


def lr_at(epoch: int, cfg: TrainConfig) -> float:
    """The learning rate of a run during ``epoch`` (1-based) under its profile's schedule."""
    c = cfg.resolved()
    return c.lr * 0.1 ** sum(epoch > e for e in c.anneal)
