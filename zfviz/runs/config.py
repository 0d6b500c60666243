"""What a training run is: its config (every field that determines it), resolved once against its profile, and its
identity (config, geometry, schedule and the data's content), which names its directory. Importable without torch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass

from zfviz.core.names import INITS, VARIANTS
from zfviz.core.params import check_int
from zfviz.core.profiles import PRECISIONS, Profile, anneal_epochs, get_profile

KEY_VERSION = 3  # 1: config minus epochs (before run identity included geometry and data); 2: file sizes, not content
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (with the profile's geometry and the data: its identity)."""

    model: str = "zf"
    profile: str = "cpu"
    dataset: str | None = None  # None: the profile's
    epochs: int | None = None  # None: the profile's
    batch_size: int | None = None  # None: the profile's
    lr: float = 1e-2
    momentum: float = 0.9
    weight_decay: float = 5e-4  # not stated by ZF; Krizhevsky et al.'s value, whose code theirs was based on
    dropout: float = 0.5
    clip_radius: float | None = 0.1  # feature scale clipping; None turns it off (Fig. 6a)
    init: str | None = None  # None: the profile's (models.INITS)
    seed: int = 0
    # Few-shot runs (Tables 4-6, trained from scratch): ``train_per_class`` images per class of the dataset's val
    # split train, the rest are the test set; ``split`` picks the random split (``data.sets.few_shot_split``). The test
    # set is evaluated once, after the last epoch.
    train_per_class: int | None = None
    split: int = 0
    # Train on these class folders only (e.g. a source model on 5 classes for held-out-class transfer).
    classes: tuple[str, ...] | None = None
    # The training step's arithmetic (``profiles.PRECISIONS``); None: the profile's. A bf16 run is another run: its
    # name, directory and checkpoint are its own, never an fp32 run's.
    precision: str | None = None

    def resolved(self) -> "ResolvedConfig":
        """Fill the profile's defaults in and validate every field (one clear error each), once: the result is a
        ``ResolvedConfig`` that carries its profile, and resolving it again returns it unchanged."""
        if isinstance(self, ResolvedConfig):
            return self
        p = get_profile(self.profile)
        c = ResolvedConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(TrainConfig)})
        c = dataclasses.replace(
            c,
            dataset=p.dataset if self.dataset is None else str(self.dataset),
            epochs=p.epochs if self.epochs is None else self.epochs,
            batch_size=p.batch_size if self.batch_size is None else self.batch_size,
            init=p.init if self.init is None else self.init,
            precision=p.precision if self.precision is None else self.precision,
            classes=None if self.classes is None else tuple(self.classes),
        )
        _check_counts(c)
        _check_rates(c)
        _check_choices(c)
        return c

    @property
    def few_shot(self) -> bool:
        """Whether this run trains on ``train_per_class`` images per class (Tables 4-6)."""
        return self.train_per_class is not None

    def splits(self) -> tuple[str, ...]:
        """The dataset splits this run reads."""
        return ("val",) if self.few_shot else ("train", "val")

    def identity(self, root: str | os.PathLike | None = None, data: dict | None = None) -> dict:
        """The run's identity: resolved config, profile geometry and lr schedule, and the data's identity (``data``:
        ``dataset_identity`` of this run's dataset and splits when the caller has it, as ``plan`` does for many runs
        of one dataset)."""
        c = self.resolved()
        p = c.spec
        # fields at their neutral value stay out, so adding one (few-shot, classes, precision) kept every older run's
        # name: an fp32 run is named as before precision existed, a bf16 run gets a name of its own
        config = {k: v for k, v in dataclasses.asdict(c).items()
                  if not (k in ("train_per_class", "classes") and v is None) and not (k == "split" and not c.few_shot)
                  and not (k == "precision" and v == "fp32")}
        if c.classes is not None:
            config["classes"] = list(c.classes)
        from zfviz.data.sets import KNOWN, dataset_identity  # torch: only when an identity is asked for

        if c.dataset not in KNOWN:  # a folder: the data identity below says what it holds, wherever it is
            config["dataset"] = "<folder>"
        return {"key_version": KEY_VERSION, "config": config, "geometry": p.geometry(), "anneal": c.anneal,
                "data": dataset_identity(c.dataset, c.splits(), root) if data is None else data}

    def key(self, root: str | os.PathLike | None = None, data: dict | None = None) -> str:
        """A short hash of ``identity()``: the run directory's name ends with it."""
        return identity_key(self.identity(root, data))

    def run_name(self, root: str | os.PathLike | None = None, data: dict | None = None) -> str:
        """``<model>-<profile>-s<seed>-<key>``."""
        return f"{self.model}-{self.profile}-s{self.seed}-{self.key(root, data)}"


def identity_key(identity: dict) -> str:
    """The short content hash of a run's identity that its directory's and its record's names end with (the one
    definition of a run key: ``TrainConfig.key``, the records and the read-back checks all call it)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:10]


def identity_diff(saved: dict | None, identity: dict) -> list[str]:
    """What differs between two run identities: config fields by name, then geometry, anneal, data, key_version."""
    saved = saved or {}
    config = sorted(k for k in set(saved.get("config", {})) | set(identity.get("config", {}))
                    if saved.get("config", {}).get(k) != identity.get("config", {}).get(k))
    return config + [k for k in ("geometry", "anneal", "data", "key_version") if saved.get(k) != identity.get(k)]


@dataclass(frozen=True)
class ResolvedConfig(TrainConfig):
    """A ``TrainConfig`` with the profile's defaults filled in and every field validated (``TrainConfig.resolved``):
    what the loop and every reader of runs take, resolved once and passed down."""

    @property
    def spec(self) -> Profile:
        """The profile this run is trained at (its geometry, schedule and data caps)."""
        return get_profile(self.profile)

    @property
    def anneal(self) -> list[int]:
        """The epochs after which the lr is divided by 10 (the profile's fractions of this budget)."""
        return anneal_epochs(self.epochs, self.spec.anneal_at)


def _check_counts(c: TrainConfig) -> None:
    """Epochs, batch size, seed, few-shot size and split: ints in range."""
    check_int("epochs", c.epochs)
    if c.epochs > 10_000:
        raise ValueError(f"epochs must be at most 10000, got {c.epochs}")
    check_int("batch_size", c.batch_size)
    check_int("seed", c.seed, minimum=0)
    if c.seed > MAX_SEED:
        raise ValueError(f"seed must be an int in 0..{MAX_SEED}, got {c.seed}")
    if c.train_per_class is not None:
        check_int("train_per_class", c.train_per_class)
    check_int("split", c.split, minimum=0)


def _check_rates(c: TrainConfig) -> None:
    """lr, weight decay, momentum, dropout and the clipping radius: finite numbers in range."""
    for name, hi in (("lr", math.inf), ("weight_decay", math.inf), ("momentum", 1.0), ("dropout", 1.0)):
        v = getattr(c, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v < hi:
            bound = "finite non-negative number" if hi == math.inf else f"number in [0, {hi:g})"
            raise ValueError(f"{name} must be a {bound}, got {v!r}")
    r = c.clip_radius
    if r is not None and (isinstance(r, bool) or not isinstance(r, (int, float)) or not math.isfinite(r) or r <= 0):
        raise ValueError(f"clip_radius must be a positive number or None (off), got {r!r}")


def _check_choices(c: TrainConfig) -> None:
    """Model, init and class list: known names."""
    if c.model not in VARIANTS and not c.model.startswith("torchvision:"):
        raise ValueError(f"unknown model {c.model!r}; valid models: {', '.join(VARIANTS)}, or torchvision:<name>")
    if c.init not in INITS:
        raise ValueError(f"unknown init {c.init!r}; valid: {', '.join(INITS)}")
    if c.precision not in PRECISIONS:
        raise ValueError(f"unknown precision {c.precision!r}; valid: {', '.join(PRECISIONS)}")
    if c.classes is not None and (len(c.classes) < 2 or len(set(c.classes)) != len(c.classes)):
        raise ValueError(f"classes must list at least 2 distinct class folders, got {list(c.classes)}")


