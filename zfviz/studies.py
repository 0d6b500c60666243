"""Each chapter's design, once: a small frozen dataclass holding the chapter's papermill parameters (validated, one
clear error each), ``runs()`` (the training runs it reads) and, where the chapter decides claims, ``evidence(...)``.

Four places build a study, so a design is written here only:
- the chapter, from its parameters cell: ``study = Architecture.from_namespace(globals())``;
- ``plan``: ``STUDIES[chapter](**parameters).runs()``, with no per-chapter branch;
- ``book``'s small (smoke, paper-smoke) parameters, checked by building each chapter's study from them;
- the unit tests: a study with synthetic tables gives known evidence.

The parameters' defaults live in each chapter's ``parameters`` cell only (papermill reads them there);
``chapters.chapter_study(name, profile)`` builds a chapter's study from those defaults with the profile's small parameters
on top. No field has a default here, so a parameter added to a chapter and not to its study (or the reverse) fails at
once.

>>> s = Architecture("cpu", None, None, seeds=[0, 1, 2], no_clip_seeds=[], confirm_seeds=None, dataset=None,
...                  layer2_maps=8, k=4, n_images=100, pick_seed=0)
>>> s.fresh, sorted({(c.model, c.seed) for c, _ in s.runs()})[:2]
([3, 4, 5, 6, 7], [('alexnet', 0), ('alexnet', 1)])
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from zfviz.analysis.ablations import MAX_TAKEOFF_SHARE, part_evidence
from zfviz.analysis.comparison import c1_evidence
from zfviz.analysis.correspondence import c8_evidence
from zfviz.analysis.evolution import c3_evidence
from zfviz.analysis.filters import c5_evidence, c6a_evidence, c6b_evidence
from zfviz.analysis.invariance import c4_evidence
from zfviz.analysis.occlusion import c7_object_evidence, c7b_evidence
from zfviz.analysis.probes import c9_evidence, c10_evidence
from zfviz.analysis.sanity import s1_evidence
from zfviz.analysis.topk import c11_evidence
from zfviz.core.params import check_int, check_int_list, check_names, check_paired_seeds, reject_unknown_parameters
from zfviz.core.profiles import PAPER_CROP, get_profile
from zfviz.data.mnist import companion_evidence
from zfviz.data.sets import IMAGENETTE_CLASSES, class_name, heldout_split
from zfviz.evidence import claims
from zfviz.evidence.paper import TABLE3
from zfviz.experiment import LONG_FACTOR, convergence_note
from zfviz.model.layers import layer_names
from zfviz.model.models import CONV_LAYERS, FC_LAYERS, INITS, VARIANTS, build_model
from zfviz.runs.config import TrainConfig
from zfviz.runs.store import scratch_configs

CONV = list(CONV_LAYERS)
READOUTS = CONV + list(FC_LAYERS[:2])  # the layers a feature readout (invariance, correspondence, probes) may name

Run = tuple[TrainConfig, "int | None"]  # a resolved config and the epoch it is trained to (None: its whole budget)


@dataclass(frozen=True)
class Study:
    """The parameters every chapter has, and what building a study does: validate, then nothing until asked."""

    chapter: ClassVar[str] = ""
    # Whether the chapter reads only its runs' metrics, never weights: a run that only such chapters need is done once
    # it is recorded (``records``), so a queue that spans sessions resumes from the committed records.
    metrics_only: ClassVar[bool] = False
    profile: str
    data_root: str | None
    runs_dir: str | None

    @classmethod
    def from_namespace(cls, namespace: dict) -> "Study":
        """Inside a chapter: its study from the papermill parameters in ``namespace`` (the notebook's ``globals()``);
        a misspelled injected parameter is one clear error (``params.reject_unknown_parameters``)."""
        reject_unknown_parameters(namespace)
        return cls(**{f.name: namespace[f.name] for f in dataclasses.fields(cls)})

    def __post_init__(self) -> None:
        get_profile(self.profile)
        self.check()

    def check(self) -> None:
        """Validate the chapter's own parameters (and normalize them with ``_set``); each error names the parameter."""

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)  # a normalized value (sorted, defaulted) in a frozen study

    @property
    def loads(self) -> dict:
        """Where the chapter's runs and data are: the keywords ``load_experiments`` and the run readers take."""
        out = dict(data_root=self.data_root, runs_dir=self.runs_dir)
        return out | ({"dataset": self.dataset} if hasattr(self, "dataset") else {})

    def config(self, model: str, seed: int, **kw) -> TrainConfig:
        """A run of this study: ``model`` at ``seed`` at its profile (and dataset), resolved."""
        return TrainConfig(model, self.profile, seed=seed, dataset=getattr(self, "dataset", None), **kw).resolved()

    def runs(self) -> list[Run]:
        """Every training run the chapter reads (deduplicated by ``plan``), with the epoch each is trained to."""
        return [(self.config(self.model, s), None) for s in self.seeds]

    def convergence(self, seed: int) -> str:
        """The convergence sentence a verdict's note carries (``experiment.convergence_note``) for ``seed``'s run."""
        return convergence_note(self.profile, seed, **self.loads)


class Confirms:
    """A study with a registered confirmatory design (``claims.CONFIRMATORY``): its ``confirm_seeds`` resolved once
    into fresh seeds (the registered design's unless the caller chose; never a pilot seed), which its runs include."""

    confirms: ClassVar[str] = ""  # the claim whose confirmatory run the study trains

    def _resolve_fresh(self, pilot: list[int]) -> None:
        self._set("confirm_seeds", claims.confirm_seeds(self.confirms, self.profile, self.confirm_seeds, pilot=pilot))

    @property
    def fresh(self) -> list[int]:
        """The confirmatory run's fresh seeds."""
        return self.confirm_seeds

    def runs(self) -> list[Run]:
        return [(self.config(self.model, s), None) for s in self.seeds + self.fresh]


@dataclass(frozen=True)
class Training(Study):
    """Chapter 01: the models every later chapter reads, and one seed at twice the budget (how far from converged)."""

    chapter: ClassVar[str] = "01_training"
    models: list[str]
    seeds: list[int]
    long_seed: int | None

    def check(self) -> None:
        check_names("models", self.models, list(VARIANTS))
        check_int_list("seeds", self.seeds)
        if self.long_seed is not None:
            check_int("long_seed", self.long_seed, minimum=0)

    def budget_runs(self) -> list[TrainConfig]:
        """Every model at every seed, for the profile's budget: the runs later chapters read."""
        return [self.config(m, s) for m in self.models for s in self.seeds]

    def long_runs(self) -> list[TrainConfig]:
        """The twice-the-budget runs (none when ``long_seed`` is None)."""
        if self.long_seed is None:
            return []
        epochs = LONG_FACTOR * get_profile(self.profile).epochs
        return [self.config(m, self.long_seed, epochs=epochs) for m in self.models]

    def runs(self) -> list[Run]:
        return [(c, None) for c in self.budget_runs() + self.long_runs()]


@dataclass(frozen=True)
class TopNine(Study):
    """Chapter 02 (Fig. 2, C11): top-k activations and their projections."""

    chapter: ClassVar[str] = "02_fig2_top9"
    model: str
    seeds: list[int]
    layers: list[str]
    maps_per_layer: int
    k: int
    pick_seed: int

    def check(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= 25:
            raise ValueError(f"k must be an int in 1..25, got {self.k!r}")
        check_int("maps_per_layer", self.maps_per_layer)
        check_int("pick_seed", self.pick_seed, minimum=0)
        check_int_list("seeds", self.seeds)
        check_names("layers", self.layers, CONV)

    def evidence(self, tables: list, labels) -> claims.Evidence:
        """C11 from each seed's ``top_activations`` table over all five layers and the validation labels."""
        return c11_evidence(tables, labels, self.profile)


@dataclass(frozen=True)
class Evolution(Study):
    """Chapter 03 (Fig. 4, C3): the top projections at the snapshot epochs."""

    chapter: ClassVar[str] = "03_fig4_evolution"
    model: str
    seeds: list[int]
    dataset: str | None
    layers: list[str]
    maps_per_layer: int
    pick_seed: int

    def check(self) -> None:
        check_names("layers", self.layers, CONV)
        check_int("maps_per_layer", self.maps_per_layer), check_int("pick_seed", self.pick_seed, minimum=0)

    def evidence(self, overlap, epochs: int, dataset: str) -> claims.Evidence:
        """C3 from the per-seed overlap of each layer's top images with the last epoch's (``top_overlap``)."""
        return c3_evidence(overlap, self.profile, epochs, dataset, convergence=self.convergence(self.seeds[0]))


@dataclass(frozen=True)
class Invariance(Study):
    """Chapter 04 (Fig. 5, C4): feature distances under translation, scaling and rotation."""

    chapter: ClassVar[str] = "04_fig5_invariance"
    model: str
    seeds: list[int]
    dataset: str | None
    per_class: int
    golf_balls: int
    symmetric_class: str
    layers: list[str]
    pick_seed: int

    def check(self) -> None:
        check_names("layers", self.layers, READOUTS, minimum=2)
        self._set("per_class", check_int("per_class", self.per_class))
        self._set("golf_balls", check_int("golf_balls", self.golf_balls, minimum=0))

    def evidence(self, stats) -> list[claims.Evidence]:
        """C4a-C4c from ``invariance_statistics``, on the two layers compared."""
        return c4_evidence(stats, self.profile, layers=tuple(self.layers[:2]),
                           symmetric=class_name(self.symmetric_class))


@dataclass(frozen=True)
class Architecture(Confirms, Study):
    """Chapter 05 (Fig. 6, C5, C6): ZF against the AlexNet replica, and ZF without clipping."""

    chapter: ClassVar[str] = "05_fig6_architecture"
    confirms: ClassVar[str] = "C6b"
    seeds: list[int]
    no_clip_seeds: list[int]
    confirm_seeds: list[int] | None
    dataset: str | None
    layer2_maps: int
    k: int
    n_images: int
    pick_seed: int

    def check(self) -> None:
        for name in ("n_images", "k", "layer2_maps"):
            self._set(name, check_int(name, getattr(self, name)))
        check_int_list("seeds", self.seeds), check_paired_seeds("no_clip_seeds", self.no_clip_seeds, self.seeds)
        self._resolve_fresh(self.seeds)

    def runs(self) -> list[Run]:
        return [(self.config(m, s), None) for m in ("zf", "alexnet") for s in self.seeds + self.fresh] + [
            (self.config("zf", s, clip_radius=None), None) for s in self.no_clip_seeds]

    def evidence(self, top3: dict, no_clip_over: list, weight_differences: list, clipped_per_step: float,
                 filters, shares: dict, fresh_shares: dict | None = None) -> list[claims.Evidence]:
        """C5, C6a and C6b; C6b from its confirmatory run (``fresh_shares``, on the fresh seeds) when there is one,
        with the pilot (``shares``, on ``seeds``) beside it."""
        c6b = claims.confirmatory(c6b_evidence(shares, self.profile),
                                  c6b_evidence(fresh_shares, self.profile) if self.fresh else None, self.fresh)
        return [c5_evidence(top3, no_clip_over, weight_differences, self.profile, clipped_per_step=clipped_per_step),
                c6a_evidence(filters, self.profile), c6b]


@dataclass(frozen=True)
class Occlusion(Confirms, Study):
    """Chapter 06 (Fig. 7, C7a, C7c): occluding the object against the rest of the image."""

    chapter: ClassVar[str] = "06_fig7_occlusion"
    confirms: ClassVar[str] = "C7a"
    model: str
    seeds: list[int]
    confirm_seeds: list[int] | None
    dataset: str | None
    examples: list[str]
    occluder: int
    stride: int
    others: int

    def check(self) -> None:
        for name in ("occluder", "stride", "others"):
            check_int(name, getattr(self, name))
        self._resolve_fresh(self.seeds)

    def evidence(self, table, fresh_table=None) -> list[claims.Evidence]:
        """C7a and C7c from ``object_occlusion_models``; C7a from its confirmatory run (``fresh_table``) when there is
        one. C7c's design is too large to run here, so its pilot decides, marked exploratory."""
        c7a, c7c = c7_object_evidence(table, self.profile)
        fresh = c7_object_evidence(fresh_table, self.profile)[0] if self.fresh else None
        return [claims.confirmatory(c7a, fresh, self.fresh), claims.confirmatory(c7c, None, [])]


@dataclass(frozen=True)
class Correspondence(Study):
    """Chapter 07 (Fig. 8, C8): masking eyes and noses of dog faces."""

    chapter: ClassVar[str] = "07_fig8_correspondence"
    model: str
    seeds: list[int]
    dataset: str | None
    mask: int
    random_draws: int
    layers: list[str]
    random_seed: int

    def check(self) -> None:
        self._set("mask", check_int("mask", self.mask))
        self._set("random_draws", check_int("random_draws", self.random_draws))
        if self.mask > PAPER_CROP:
            raise ValueError(f"mask must be at most the paper's {PAPER_CROP} px crop, got {self.mask}")
        check_names("layers", self.layers, READOUTS + [f"conv{i}_prepool" for i in (1, 2, 5)])

    def evidence(self, pairs, control) -> tuple:
        """C8 from the masked-pair distances and their random-mask control: (the gap table, the evidence)."""
        return c8_evidence(pairs, control, list(self.layers), self.profile)


@dataclass(frozen=True)
class ImageNetTable(Study):
    """Chapter 08 (Table 2, C1): ZF against the AlexNet replica, top-1 and top-5 error."""

    chapter: ClassVar[str] = "08_table2_imagenet"
    seeds: list[int]
    dataset: str | None

    def runs(self) -> list[Run]:
        return [(self.config(m, s), None) for m in ("zf", "alexnet") for s in self.seeds]

    def evidence(self, probs: dict, labels) -> claims.Evidence:
        """C1 from each model's 10-crop probabilities per seed."""
        return c1_evidence(probs, labels, self.profile, convergence=self.convergence(self.seeds[0]))


@dataclass(frozen=True)
class Ablations(Study):
    """Chapter 09 (Table 3, C2): the twelve rows, and the take-off probes that say which rows left chance."""

    chapter: ClassVar[str] = "09_table3_ablations"
    metrics_only: ClassVar[bool] = True  # Table 3: errors, take-off and dead units come from the runs' records
    seeds: list[int]
    rows: list[str] | None
    compare_inits: list[str]
    compare_seeds: list[int] | None
    takeoff_rows: list[str] | None
    epochs: int | None
    takeoff_margin: float
    dead_images: int
    train: bool
    dataset: str | None

    def check(self) -> None:
        p = get_profile(self.profile)
        self._set("epochs", check_int("epochs", p.ablation_epochs if self.epochs is None else self.epochs))
        check_int_list("seeds", self.seeds)
        self._set("dead_images", check_int("dead_images", self.dead_images))
        self._set("compare_seeds", check_int_list("compare_seeds",
                                                  self.seeds if self.compare_seeds is None else self.compare_seeds))
        rows = list(TABLE3.index)
        self._set("rows", rows if self.rows is None else check_names("rows", self.rows, rows))
        self._set("takeoff_rows", rows if self.takeoff_rows is None else check_names("takeoff_rows",
                                                                                     self.takeoff_rows, rows))
        check_names("compare_inits", self.compare_inits, list(INITS), minimum=0)
        if not isinstance(self.train, bool):
            raise ValueError(f"train must be True or False, got {self.train!r}")

    @property
    def inits(self) -> list[str]:
        """The profile's init first, then the other inits whose take-off is compared."""
        own = get_profile(self.profile).init
        return [own] + [i for i in self.compare_inits if i != own]

    @property
    def quarter(self) -> int:
        """The epoch a take-off probe is trained to: the first ``MAX_TAKEOFF_SHARE`` of the budget (at least 1)."""
        return max(1, int(MAX_TAKEOFF_SHARE * self.epochs))

    def main_runs(self) -> list[TrainConfig]:
        """Every row at every seed, under the profile's init, for the whole budget."""
        return [self.config(m, s, epochs=self.epochs, init=self.inits[0]) for m in self.rows for s in self.seeds]

    def probe_runs(self) -> list[TrainConfig]:
        """The take-off probes: ``takeoff_rows`` at ``compare_seeds`` under every init (read to ``quarter`` only)."""
        return [self.config(m, s, epochs=self.epochs, init=i) for i in self.inits for m in self.takeoff_rows
                for s in self.compare_seeds]

    def runs(self) -> list[Run]:
        return [(c, None) for c in self.main_runs()] + [(c, self.quarter) for c in self.probe_runs()
                                                        if c.init != self.inits[0]]

    def evidence(self, stats, compared) -> list[claims.Evidence]:
        """C2a-C2e from ``part_statistics`` and the rows the take-off rule compares."""
        return part_evidence(stats, compared, self.profile, seeds=len(self.seeds),
                             convergence=self.convergence(self.compare_seeds[0]))


@dataclass(frozen=True)
class Transfer(Confirms, Study):
    """Chapter 10 (Tables 4-6, C9): pretrained features with a new softmax against networks trained from scratch, on
    the target's few images and on classes the source never saw."""

    chapter: ClassVar[str] = "10_tables4_6_transfer"
    confirms: ClassVar[str] = "C9"  # fresh sources with fresh few-shot draws (claims.FRESH_DRAW_OFFSET)
    model: str
    model_seeds: list[int]
    seed: int
    splits: int
    per_class: list[int]
    target: str
    scratch_steps: int | None
    scratch_batch: int
    heldout_seeds: list[int]
    heldout_per_class: list[int]
    confirm_seeds: list[int] | None
    dataset: str | None

    TARGET_CLASSES: ClassVar[int] = 10  # Imagewoof's ten breeds: the plan names the from-scratch runs without the data

    def check(self) -> None:
        check_int("seed", self.seed, minimum=0), check_int("splits", self.splits)
        check_int("scratch_batch", self.scratch_batch)
        self._set("per_class", sorted(check_int_list("per_class", self.per_class, minimum=1)))
        self._set("heldout_per_class", sorted(check_int_list("heldout_per_class", self.heldout_per_class, minimum=1)))
        self.heldout_seeds == [] or check_int_list("heldout_seeds", self.heldout_seeds)  # []: C9 not run; 0: error
        if self.heldout_seeds:
            self._resolve_fresh(self.heldout_seeds)
        else:
            self._set("confirm_seeds", [])
        p = get_profile(self.profile)
        self._set("scratch_steps", check_int("scratch_steps", p.scratch_steps if self.scratch_steps is None
                                             else self.scratch_steps))

    def scratch_runs(self, classes: int = TARGET_CLASSES) -> list[TrainConfig]:
        """The from-scratch runs on the target's ``per_class`` images (``classes``: the target's class count)."""
        return scratch_configs(self.model, self.profile, self.target, classes, self.per_class, self.splits,
                               self.seed, self.scratch_steps, self.scratch_batch)

    def heldout_runs(self, classes: tuple[str, ...] = IMAGENETTE_CLASSES) -> list[TrainConfig]:
        """C9's runs: sources on the first half of ``classes`` (the source dataset's), from-scratch networks on the
        other half, for the pilot and, on fresh draws, the confirmatory seeds."""
        if not self.heldout_seeds:
            return []
        half, held = heldout_split(classes)
        few = lambda per_class, seed: [c.resolved() for c in scratch_configs(  # noqa: E731
            self.model, self.profile, None, len(held), per_class, self.splits, seed, self.scratch_steps,
            self.scratch_batch, held)]
        runs = [self.config(self.model, s, classes=half) for s in self.heldout_seeds]
        runs += few(self.heldout_per_class, self.seed)
        runs += [self.config(self.model, s, classes=half) for s in self.fresh]
        return runs + (few(self.heldout_per_class[:1], self.seed + claims.FRESH_DRAW_OFFSET) if self.fresh else [])

    def runs(self) -> list[Run]:
        return [(c, None) for c in [self.config(self.model, s) for s in self.model_seeds]
                + [c.resolved() for c in self.scratch_runs()] + self.heldout_runs()]

    def evidence(self, pilot: tuple | None, fresh: tuple | None = None) -> claims.Evidence:
        """C9 from ``heldout_comparison``'s (pretrained, from-scratch) rows: the confirmatory run's (``fresh``) when
        there is one, with the pilot beside it; not run without held-out sources."""
        if not self.heldout_seeds:
            return claims.not_run("C9", self.profile, "no held-out-class source models (heldout_seeds is empty)",
                                  chapter=self.chapter)
        return claims.confirmatory(c9_evidence(*pilot, self.profile),
                                   c9_evidence(*fresh, self.profile) if self.fresh else None, self.fresh)


@dataclass(frozen=True)
class Probes(Study):
    """Chapter 11 (Table 7, C10): linear probes of every layer, on the target and on held-out source classes."""

    chapter: ClassVar[str] = "11_table7_probes"
    model: str
    model_seeds: list[int]
    seed: int
    splits: int
    per_class: list[int]
    svm_layers: list[str]
    heldout_seeds: list[int]
    softmax_layers: list[str]
    target: str
    dataset: str | None

    def check(self) -> None:
        check_int("seed", self.seed, minimum=0)
        check_int("splits", self.splits)
        check_int_list("per_class", self.per_class, minimum=1)
        self.heldout_seeds == [] or check_int_list("heldout_seeds", self.heldout_seeds)  # []: skip; 0: an error
        p = get_profile(self.profile)
        valid = layer_names(build_model(self.model, 10, width=p.width, input_size=p.input_size))  # an untrained twin's
        check_names("svm_layers", self.svm_layers, valid)  # so a bad layer fails here, before any training
        check_names("softmax_layers", self.softmax_layers, valid)

    def evidence(self, results, control_rho: float, heldout, source_classes: list[str],
                 target_classes: list[str]) -> claims.Evidence:
        """C10 from the probes' ``results``, the source-task control's trend and the held-out-class table."""
        return c10_evidence(results, self.svm_layers, max(self.per_class), self.profile, control_rho,
                            heldout if self.heldout_seeds else None, self.target, source_classes=source_classes,
                            target_classes=target_classes)

    def runs(self) -> list[Run]:
        half = heldout_split(IMAGENETTE_CLASSES)[0]
        return [(self.config(self.model, s), None) for s in self.model_seeds] + [
            (self.config(self.model, s, classes=half), None) for s in self.heldout_seeds]


@dataclass(frozen=True)
class Companion(Study):
    """Chapter 12 (the companion report): a small CNN on digits, then activation maximization, class models, saliency
    and occlusion on one trained ZF."""

    chapter: ClassVar[str] = "12_companion_gradients"
    model: str
    seed: int
    digits: str
    digit_epochs: int
    am_layers: list[str]
    am_channels: int
    am_steps: int
    am_report_steps: int
    am_step_size: float
    class_models: list[str]
    cm_steps: int
    cm_step_size: float
    cm_alpha: float
    compare_classes: list[str]
    occluder: int
    stride: int

    def check(self) -> None:
        for name in ("digit_epochs", "am_channels", "cm_steps", "am_steps", "am_report_steps", "occluder", "stride"):
            check_int(name, getattr(self, name))

    def runs(self) -> list[Run]:
        return [(self.config(self.model, self.seed), None)]

    def evidence(self, small, data, n_train: int) -> claims.Evidence:
        """The companion's digit-accuracy check from the small CNN trained on ``n_train`` digits."""
        return companion_evidence(small, data, n_train, self.profile, chapter=self.chapter)


@dataclass(frozen=True)
class OcclusionStatistic(Confirms, Study):
    """Chapter 13 (Fig. 7 as a statistic, C7b): occluding where a unit's projection is strongest."""

    chapter: ClassVar[str] = "13_fig7_occlusion_statistic"
    confirms: ClassVar[str] = "C7b"  # measured on the next n_images images
    model: str
    seeds: list[int]
    confirm_seeds: list[int] | None
    n_images: int
    occluder: int
    n_random: int
    sample_seed: int
    layer: str
    dataset: str | None

    def check(self) -> None:
        for name in ("n_images", "occluder"):
            check_int(name, getattr(self, name))
        check_int("n_random", self.n_random, minimum=0)
        check_names("layer", [self.layer], CONV)
        if self.occluder > PAPER_CROP:
            raise ValueError(f"occluder must be at most the paper's {PAPER_CROP} px crop, got {self.occluder}")
        self._resolve_fresh(self.seeds)

    def evidence(self, drops, fresh_drops=None) -> claims.Evidence:
        """C7b from ``projection_occlusion_models``'s drops: the confirmatory run's (``fresh_drops``, fresh models on
        images the pilot did not use) when there is one, with the pilot beside it."""
        return claims.confirmatory(c7b_evidence(drops, self.profile),
                                   c7b_evidence(fresh_drops, self.profile) if self.fresh else None, self.fresh)


@dataclass(frozen=True)
class Sanity(Study):
    """Chapter 14 (S1, the companion's sanity checks): cascading randomization of the trained models."""

    chapter: ClassVar[str] = "14_sanity_checks"
    model: str
    seeds: list[int]
    n_images: int
    sample_seed: int
    occluder: int
    randomization_seed: int
    examples: int
    maps_shown: int

    def check(self) -> None:
        for name in ("n_images", "occluder", "examples", "maps_shown", "sample_seed", "randomization_seed"):
            check_int(name, getattr(self, name), minimum=0 if name.endswith("seed") else 1)

    def evidence(self, cascade, unit_signal) -> list[claims.Evidence]:
        """S1a and S1b from the cascading-randomization table and the unit-signal check."""
        return s1_evidence(cascade, unit_signal, self.profile)


STUDIES: dict[str, type[Study]] = {s.chapter: s for s in (
    Training, TopNine, Evolution, Invariance, Architecture, Occlusion, Correspondence, ImageNetTable, Ablations,
    Transfer, Probes, Companion, OcclusionStatistic, Sanity)}


__all__ = ["Study", "Confirms", "STUDIES", "MAX_TAKEOFF_SHARE", "CONV", "READOUTS",
           "Training", "TopNine", "Evolution", "Invariance", "Architecture", "Occlusion", "Correspondence",
           "ImageNetTable", "Ablations", "Transfer", "Probes", "Companion", "OcclusionStatistic", "Sanity"]
