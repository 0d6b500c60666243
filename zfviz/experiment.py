"""What every chapter starts from: a trained model of a profile (trained and cached if missing) and its data."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from zfviz.core.profiles import Profile, get_profile, px_at_crop
from zfviz.data.sets import ImageSet
from zfviz.model.models import ConvNet, build_model
from zfviz.runs.store import (
    TrainConfig,
    finished,
    load_data,
    load_run,
    run_dir,
    run_predictions,
    snapshot_epochs,
    snapshot_path,
)
from zfviz.runs.train import resolve_device
from zfviz.runs.trained import ensure_trained, run_metrics, split_trained


@dataclass
class Experiment:
    """A trained model (eval mode) with its run directory, profile, data splits and training pixel mean.

    The pixel mean travels with the snapshot; the training split is read only when a chapter asks for ``train``.
    """

    model: ConvNet
    run: Path
    profile: Profile
    config: TrainConfig
    val: ImageSet
    mean: torch.Tensor
    epoch: int
    data_root: str | None = None
    _train: ImageSet | None = field(default=None, repr=False)

    @property
    def crop(self) -> int:
        """The input size the model was trained on."""
        return self.profile.input_size

    @property
    def device(self) -> torch.device:
        """The device of the model (and of ``mean``)."""
        return self.mean.device

    @property
    def train(self) -> ImageSet:
        """The training split (decoded on first use)."""
        if self._train is None:
            self._train, _ = load_data(self.config, self.data_root, progress=False)
        return self._train

    def px(self, at_224: int) -> int:
        """A length given in pixels of the paper's 224 px crop, at this profile's crop (at least 1)."""
        return px_at_crop(at_224, self.crop)

    def snapshots(self) -> dict[int, Path]:
        """The snapshots of this run by epoch: the paper's Fig. 4 epochs within the run's budget, and the last."""
        return {e: snapshot_path(self.run, e) for e in snapshot_epochs(self.config, self.epoch)}

    def untrained(self, seed: int | None = None) -> ConvNet:
        """A freshly initialized model of the same architecture and init (eval mode, on the experiment's device): the
        control that tells what the architecture alone does. ``seed`` defaults to the run's."""
        torch.manual_seed(self.config.seed if seed is None else seed)
        net = build_model(self.config.model, len(self.val.classes), width=self.profile.width, input_size=self.crop,
                          init=self.config.init)
        return net.to(self.device).eval()

    def at_epoch(self, epoch: int) -> ConvNet:
        """The model as it was after ``epoch`` (a snapshot epoch), on the experiment's device."""
        snaps = self.snapshots()
        if epoch not in snaps:
            raise ValueError(f"no snapshot for epoch {epoch}; saved epochs: {sorted(snaps)} (runs of "
                             f"{self.config.model} keep Fig. 4's epochs only if the profile lists the model in "
                             f"fig4_models: {self.profile.fig4_models})")
        return load_run(self.run, epoch, self.device)[0]


def load_experiment(model: str = "zf", profile: str = "cpu", seed: int = 0, *, data_root: str | None = None,
                    runs_dir: str | None = None, device: str | None = None, progress: bool = False,
                    **config) -> Experiment:
    """The final model of the run (``model``, ``profile``, ``seed``, further ``TrainConfig`` fields), training it
    first if it is not finished in ``runs_dir``, with the run's validation split and pixel mean."""
    return experiment_of(TrainConfig(model=model, profile=profile, seed=seed, **config), data_root=data_root,
                         runs_dir=runs_dir, device=device, progress=progress)


def experiment_of(cfg: TrainConfig, *, data_root: str | os.PathLike | None = None,
                  runs_dir: str | os.PathLike | None = None, device: str | None = None, progress: bool = False,
                  train: bool = True) -> Experiment:
    """``load_experiment`` of one run's config; ``train=False`` reads only a run finished in ``runs_dir`` and raises
    ``FileNotFoundError`` for any other (a run known only by its record has no weights)."""
    cfg = cfg.resolved()
    dev = resolve_device(device)
    identity = cfg.identity(data_root)
    if train:
        run = ensure_trained(cfg, runs_dir, root=data_root, progress=progress)
    else:
        run = run_dir(cfg, runs_dir, data_root, data=identity["data"])
        if not finished(run, cfg.epochs):
            raise FileNotFoundError(f"{run} is not a finished run of {cfg.epochs} epochs; train it with python -m "
                                    f"zfviz train --model {cfg.model} --profile {cfg.profile} --seed {cfg.seed}, or "
                                    "pass train=True")
    net, meta = load_run(run, cfg.epochs, dev, identity=identity)  # this run's weights, verified, or one error
    train_split, val = load_data(cfg, data_root, progress=progress, with_train=cfg.few_shot)
    if list(meta["classes"]) != list(val.classes):
        raise ValueError(f"{run} was trained on classes {meta['classes']} but the data now has {val.classes}; "
                         "the run no longer matches its data")
    return Experiment(net, run, get_profile(cfg.profile), cfg, val, meta["mean"].to(dev), int(meta["epoch"]),
                      None if data_root is None else str(data_root), train_split)


def load_experiments(model: str = "zf", profile: str = "cpu", seeds: list[int] | tuple[int, ...] = (0,), *,
                     data_root: str | None = None, runs_dir: str | None = None, device: str | None = None,
                     progress: bool = False, **config) -> list[Experiment]:
    """``load_experiment`` for each seed (one trained model per seed; a claim pools them), checked: a non-empty list
    of distinct ints."""
    if not (isinstance(seeds, (list, tuple)) and seeds and all(isinstance(s, int) for s in seeds)
            and len(set(seeds)) == len(seeds)):
        raise ValueError(f"seeds must be a non-empty list of distinct ints, e.g. [0, 1, 2]; got {seeds!r}")
    return [load_experiment(model, profile, s, data_root=data_root, runs_dir=runs_dir, device=device,
                            progress=progress, **config) for s in seeds]


def _correct(exps: list[Experiment]) -> torch.Tensor:
    """(N,) whether every model in ``exps`` classifies each validation image correctly (centre crop, cached)."""
    val = exps[0].val
    ok = torch.ones(len(val), dtype=torch.bool)
    for x in exps:
        ok &= run_predictions(x.run, x.epoch, val, ten=False).argmax(1) == val.labels
    return ok


def correct_images(exps: list[Experiment], per_class: int | dict[str, int], *, pick_seed: int = 0) -> torch.Tensor:
    """Validation indices that every model in ``exps`` classifies correctly (centre crop), ``per_class`` of each class
    (an int, or {wnid: count} for the classes wanted), drawn in a seeded random order; fewer where a class has fewer
    (none at all from models at chance, e.g. the smoke profile's: the claims then have n = 0).

    The models must share one validation split; images are paired across seeds, as the CIs that pool seeds need.
    """
    val = exps[0].val
    if any(list(x.val.paths) != list(val.paths) for x in exps[1:]):
        raise ValueError("the experiments were evaluated on different validation images; pass models of one dataset")
    counts = per_class if isinstance(per_class, dict) else {c: per_class for c in val.classes}
    unknown = sorted(set(counts) - set(val.classes))
    if unknown:
        raise ValueError(f"unknown classes {unknown}; valid: {val.classes}")
    ok = _correct(exps)
    order = torch.randperm(len(val), generator=torch.Generator().manual_seed(pick_seed))
    picked = []
    for wnid, n in counts.items():
        c = val.classes.index(wnid)
        picked.append(order[(ok[order]) & (val.labels[order] == c)][:n])
    return torch.cat(picked)


def first_correct(exp: Experiment, classes: list[int]) -> torch.Tensor:
    """Per class, the first validation image the model classifies correctly (centre crop), else the class's first
    image (a model at chance): one index per class, in the order given."""
    val, ok = exp.val, _correct([exp])
    picked = []
    for c in classes:
        of_class = torch.nonzero(val.labels == c).flatten()
        if len(of_class) == 0:
            raise ValueError(f"class {c} has no validation images; valid classes: 0..{len(val.classes) - 1}")
        hit = of_class[ok[of_class]]
        picked.append(hit[0] if len(hit) else of_class[0])
    return torch.stack(picked)


LONG_FACTOR = 2  # the convergence check: one seed of each main model trained to twice the profile's budget


def convergence_gap(models: list[str], profile: str, seed: int = 0, *, factor: int = LONG_FACTOR,
                    runs_dir: str | None = None, data_root: str | None = None, dataset: str | None = None,
                    train: bool = False) -> pd.DataFrame:
    """How far each model's run at the profile's budget is from the same seed trained ``factor`` times longer: one
    row per model with both runs' final 10-crop val top-1 (%) and the gap. ``train``: train the runs that are missing
    first; else nothing is trained and a model without both runs (finished or recorded) has NaN gap and an empty
    ``long_run`` (and NaN ``val10_top1`` too when its budget run is missing)."""
    rows = []
    for m in models:
        base = TrainConfig(model=m, profile=profile, seed=seed, dataset=dataset).resolved()
        long = dataclasses.replace(base, epochs=base.epochs * factor)
        # train=False must train nothing: a chapter executed with train=False quotes this (chapter 09, 2026-12-01)
        ready = [base, long] if train else split_trained([base, long], runs_dir=runs_dir, data_root=data_root)[0]
        got = run_metrics(ready, runs_dir=runs_dir, data_root=data_root).set_index("epochs") if ready else None
        short = got.loc[base.epochs] if ready and base in ready else None
        far = got.loc[long.epochs] if short is not None and long in ready else None
        rows.append({"model": m, "seed": seed, "epochs": base.epochs,
                     "val10_top1": short.val10_top1 if short is not None else math.nan,
                     "long epochs": long.epochs, "long val10_top1": far.val10_top1 if far is not None else math.nan,
                     "gap (points)": (far.val10_top1 - short.val10_top1) if far is not None else math.nan,
                     "long_run": far.run if far is not None else ""})
    return pd.DataFrame(rows)


def convergence_note(profile: str, seed: int = 0, models: tuple[str, ...] = ("zf", "alexnet"), **kwargs) -> str:
    """A sentence for the verdicts that name converged models: how much ``models`` gain from twice the budget
    (measured in the training chapter; not trained here)."""
    return describe_convergence(convergence_gap(list(models), profile, seed, **kwargs))


def describe_convergence(gap: pd.DataFrame) -> str:
    """``convergence_gap``'s rows in one sentence: each model's 10-crop top-1 at the budget and at the longer budget,
    and the gain; a model whose long run is not trained is named as such.

    >>> import pandas as pd
    >>> describe_convergence(pd.DataFrame([{"model": "zf", "seed": 0, "epochs": 20, "val10_top1": 77.0,
    ...     "long epochs": 40, "long val10_top1": 81.8, "gap (points)": 4.8, "long_run": "zf-long"}]))[:89]
    'Convergence (10-crop val top-1, seed 0): zf 77.0% at 20 epochs, 81.8% at 40 (+4.8 points)'
    """
    seed = int(gap.seed.iloc[0])
    have = gap[gap.long_run != ""]
    if have.empty:
        return (f"Convergence: the {LONG_FACTOR}x-budget runs of seed {seed} are not trained yet (chapter 01 trains "
                "them), so how far these models are from converged is not measured.")
    parts = [f"{r.model} {r.val10_top1:.1f}% at {r.epochs} epochs, {r['long val10_top1']:.1f}% at {r['long epochs']} "
             f"({r['gap (points)']:+.1f} points)" for _, r in have.iterrows()]
    missing = list(gap.model[gap.long_run == ""])
    tail = (": twice the budget moves their accuracy by that much, so the verdict is about models trained for this "
            "budget, not about converged ones.")
    return ("Convergence (10-crop val top-1, seed " + str(seed) + "): " + "; ".join(parts) + tail
            + (f" Not measured for {', '.join(missing)} (its two runs are not both trained)." if missing else ""))


__all__ = ["Experiment", "load_experiment", "load_experiments", "correct_images", "first_correct", "LONG_FACTOR",
           "convergence_gap", "convergence_note", "describe_convergence"]
