"""What every chapter starts from: a trained model of a profile (trained and cached if missing) and its data."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from . import checkpoint
from .data import ImageSet
from .models import ConvNet
from .profiles import Profile, get_profile
from .train import SNAPSHOT_EPOCHS, TrainConfig, ensure_trained, load_trained, predict, prepare_data


@dataclass
class Experiment:
    """A trained model (eval mode) with its run directory, profile, data splits and training pixel mean."""

    model: ConvNet
    run: Path
    profile: Profile
    config: TrainConfig
    train: ImageSet
    val: ImageSet
    mean: torch.Tensor
    epoch: int

    @property
    def crop(self) -> int:
        """The input size the model was trained on."""
        return self.profile.input_size

    def snapshots(self) -> dict[int, Path]:
        """The saved snapshots of this run by epoch (the paper's epochs within the run, and the last)."""
        return {int(p.stem.split("_")[1]): p for p in sorted((self.run / "snapshots").glob("epoch_*.pt"))}

    def at_epoch(self, epoch: int) -> ConvNet:
        """The model as it was after ``epoch`` (a snapshot epoch)."""
        snaps = self.snapshots()
        if epoch not in snaps:
            raise ValueError(f"no snapshot for epoch {epoch}; saved epochs: {sorted(snaps)}")
        return load_trained(snaps[epoch], self.mean.device)[0]


def load_experiment(model: str = "zf", profile: str = "cpu", seed: int = 0, *, data_root: str | None = None,
                    runs_dir: str | None = None, device: str | None = None, progress: bool = False,
                    **config) -> Experiment:
    """The final model of the run (``model``, ``profile``, ``seed``, further ``TrainConfig`` fields), training it
    first if it is not cached in ``runs_dir``, plus the profile's data and pixel mean."""
    cfg = TrainConfig(model=model, profile=profile, seed=seed, **config).resolved()
    run = ensure_trained(cfg, runs_dir, root=data_root, progress=progress)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    net, meta = load_trained(run / "snapshots" / f"epoch_{cfg.epochs:03d}.pt", dev)
    train, val, mean = prepare_data(cfg, data_root, progress=progress)
    return Experiment(net, run, get_profile(profile), cfg, train, val, mean.to(dev), int(meta["epoch"]))


def run_predictions(run: Path, epoch: int, data: ImageSet, *, ten: bool = True, device: str | None = None,
                    progress: bool = False) -> torch.Tensor:
    """Class probabilities of the run's epoch-``epoch`` snapshot on ``data`` (10-crop by default), cached in the run.

    The cache is keyed by the images' paths, so another split or profile never reads a stale file. The model runs on
    ``device`` (default: the GPU when there is one); the probabilities come back on the CPU.
    """
    key = hashlib.sha256("\n".join(data.paths).encode()).hexdigest()[:12]
    cache = Path(run) / "predictions" / f"{'ten' if ten else 'centre'}_epoch_{epoch:03d}_{key}.pt"
    if cache.exists():
        return checkpoint.load(cache)
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model, meta = load_trained(Path(run) / "snapshots" / f"epoch_{epoch:03d}.pt", dev)
    probs = predict(model, data.images, meta["mean"], model.arch.input_size, ten=ten, progress=progress)
    checkpoint.save(probs, cache)
    return probs


def run_metrics(configs: list[TrainConfig], *, runs_dir: str | None = None, data_root: str | None = None,
                progress: bool = False) -> pd.DataFrame:
    """The metrics of each config's last epoch (training the run first if it is missing): one row per config.

    Runs are shared: a config whose identity matches a longer run reads that run's row for its own epoch.
    """
    rows = []
    for cfg in configs:
        cfg = cfg.resolved()
        run = ensure_trained(cfg, runs_dir, root=data_root, progress=progress)
        metrics = pd.read_csv(run / "metrics.csv")
        row = metrics[metrics.epoch == cfg.epochs]
        if row.empty:
            raise ValueError(f"{run} has no metrics for epoch {cfg.epochs}; epochs there: {metrics.epoch.tolist()}")
        rows.append({"model": cfg.model, "seed": cfg.seed, "epochs": cfg.epochs, "run": run.name, "run_dir": str(run),
                     "train_per_class": cfg.train_per_class, "split": cfg.split} | row.iloc[-1].drop(
                         ["model", "profile", "seed", "epoch"]).to_dict())
    return pd.DataFrame(rows)


__all__ = ["Experiment", "load_experiment", "run_metrics", "run_predictions", "SNAPSHOT_EPOCHS"]
