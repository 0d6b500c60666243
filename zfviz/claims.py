"""The claims registry: every claim the book tests, the statistic that tests it, and the decision rule, fixed before
any result is looked at. Chapters compute *evidence* (an estimate with its CI and n); only ``decide`` turns evidence
into a verdict, so two chapters cannot disagree about a claim, and no chapter types a verdict in.

The rule, for a statistic oriented so that the paper's claim is ``statistic > null`` ("greater" claims):
- ``reproduced`` when the whole CI lies above ``null`` (the effect is reliably in the paper's direction);
- ``not reproduced`` when the whole CI lies below ``min_effect``, the smallest effect that would support the claim
  (reversed effects included);
- ``inconclusive`` otherwise: the effect is within its uncertainty.
For "less" claims (the paper says an effect is small: ``statistic < bound``): ``reproduced`` when the CI lies below
``bound``, ``not reproduced`` when it lies above it, else ``inconclusive``. Before any of that: ``not comparable`` when
the quantity has no counterpart here, ``not testable at this scale`` when the evidence says the scale cannot test it
(with the scale that would), and ``inconclusive`` when n is below the claim's minimum (never decided on n = 1).
A composite claim (C2, C4, C6, C7) is reproduced when all its parts are, not reproduced when any part is, not
testable when all are, and inconclusive otherwise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "not testable at this scale", "not comparable")
COLUMNS = ["claim", "verdict", "statistic", "estimate", "ci_low", "ci_high", "n", "profile", "chapters"]


@dataclass(frozen=True)
class Claim:
    """One claim: the paper's words and numbers, the statistic, the decision thresholds with their reasons."""

    id: str
    title: str
    paper: str
    statistic: str
    kind: str  # "greater" (paper: statistic > null) or "less" (paper: statistic < bound)
    null: float  # greater: the no-effect value; less: the bound
    min_effect: float  # greater: smallest effect that would support the claim; less: unused (= null)
    reason: str  # why these thresholds
    min_n: int
    n_unit: str  # what n counts
    chapters: tuple[str, ...]
    scale_needed: str  # the scale that tests it where this one cannot
    parts: tuple[str, ...] = ()  # composite claims: the ids of their parts
    min_seeds: int = 3  # trained models (seeds) the evidence must pool: one model is an anecdote


@dataclass
class Evidence:
    """What a chapter measured for one claim at one profile."""

    claim: str
    estimate: float
    ci_low: float
    ci_high: float
    n: int
    profile: str
    seeds: int = 1  # trained models (seeds) the evidence pools
    testable: bool = True
    comparable: bool = True
    note: str = ""
    chapter: str = ""

    def to_dict(self) -> dict:
        """A JSON-friendly dict (NaN as None)."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}

    @staticmethod
    def from_dict(d: dict) -> "Evidence":
        """Inverse of ``to_dict``."""
        return Evidence(**{k: (math.nan if v is None and k in ("estimate", "ci_low", "ci_high") else v)
                           for k, v in d.items()})


def _c(id, title, paper, statistic, kind, null, min_effect, reason, min_n, n_unit, chapters, scale, parts=(),
       min_seeds=3):
    return Claim(id, title, paper, statistic, kind, null, min_effect, reason, min_n, n_unit, tuple(chapters), scale,
                 tuple(parts), min_seeds)


SEEDS_3 = "at least 3 seeds per model: one seed cannot separate an architecture from its initialization"
COMPANION_REFERENCE = 97.0  # % test accuracy: the report's "about 98%", less a point
IMAGES_50 = "at least 50 images, so an image-level CI is informative"

REGISTRY: dict[str, Claim] = {c.id: c for c in [
    _c("C1", "ZF beats the AlexNet replica",
       "Table 2: 38.4% vs 40.5% top-1 val error (ImageNet, 10-crop)",
       "AlexNet minus ZF 10-crop val top-1 error (points), paired over val images, seeds resampled", "greater",
       0.0, 0.5, "any reliable gain counts (the paper's is 2.1 points); under 0.5 points would not support 'better'",
       3, "seeds per architecture", ("08_table2_imagenet",), "any profile with converged models (3 seeds)"),
    _c("C2", "Table 3: depth matters, fc size matters little, wider conv3-5 helps, widest overfits",
       "Table 3 (12 rows)", "all of C2a-C2e", "greater", 0.0, 0.0, "composite: see parts", 1, "parts",
       ("09_table3_ablations",), "gpu (30 epochs per row)", ("C2a", "C2b", "C2c", "C2d", "C2e")),
    _c("C2a", "removing layers 3,4,6,7 is far worse than removing either pair",
       "Table 3: 71.3% vs 45.4% / 44.8% val top-1 error",
       "error(no 3,4,6,7) minus the worse of error(no 3,4), error(no 6,7) (points)", "greater", 0.0, 2.0,
       "'far worse': the paper's gap is 25.9 points; under 2 points is not far", 3, "seeds per row",
       ("09_table3_ablations",), "gpu (30 epochs per row)"),
    _c("C2b", "fc layer size (2048 or 8192 units) matters little",
       "Table 3: at most 1.8 points between fc sizes", "largest |error change| of the four fc-size rows (points)",
       "less", 2.0, 2.0, "the paper's largest change is 1.8 points; 2 points is its bound rounded up", 3,
       "seeds per row", ("09_table3_ablations",), "gpu (30 epochs per row)"),
    _c("C2c", "wider layers 3,4,5 help", "Table 3: 37.5% vs 38.4%",
       "error(ZF) minus error(wide ZF) (points)", "greater", 0.0, 0.5,
       "any reliable gain counts (the paper's is 0.9 points)", 3, "seeds per row", ("09_table3_ablations",),
       "gpu (30 epochs per row)"),
    _c("C2d", "making everything wider overfits", "Table 3: train 10.0% vs val 38.3% error",
       "train-val gap of wide ZF with fc 8192 minus that of wide ZF (points)", "greater", 0.0, 2.0,
       "the paper's gap grows by 9.6 points; under 2 points is no overfitting", 3, "seeds per row",
       ("09_table3_ablations",), "gpu (rows trained long enough to fit their training set)"),
    _c("C2e", "removing either pair of layers hurts", "Table 3: +4.9 (3,4) and +4.3 (6,7) points over the replica",
       "the smaller of error(no 3,4) and error(no 6,7) minus error(replica) (points)", "greater", 0.0, 1.0,
       "the paper's smaller cost is 4.3 points; under 1 point would not be a cost", 3, "seeds per row",
       ("09_table3_ablations",), "gpu (30 epochs per row)"),
    _c("C3", "lower layers converge within a few epochs, upper layers only after many",
       "Fig. 4: layers 1-2 settle early, 4-5 after 40-50 of 70 epochs",
       "epoch at which conv4-5 maps reach 50% top-9 overlap with the final model, minus that of conv1-2 (epochs)",
       "greater", 0.0, 1.0, "at least one epoch later; the paper's gap is tens of epochs", 3, "seeds",
       ("03_fig4_evolution",), "any profile with converged models (3 seeds)"),
    _c("C4", "invariance: layer 7 more stable than layer 1; output stable to translation/scale, not rotation",
       "Fig. 5", "all of C4a-C4c", "greater", 0.0, 0.0, "composite: see parts", 1, "parts",
       ("04_fig5_invariance",), "gpu (paper geometry)", ("C4a", "C4b", "C4c")),
    _c("C4a", "small transformations change layer 7 less than layer 1",
       "Fig. 5 (a2-a3, b2-b3, c2-c3)", "relative change of conv1 minus that of fc7 at the smallest step", "greater",
       0.0, 0.05, "a difference under 5% of the feature norm would be invisible in the paper's plots", 50,
       "images", ("04_fig5_invariance",), "gpu (paper geometry)"),
    _c("C4b", "the output is more stable to translation and scale than to rotation",
       "Fig. 5 (a4, b4, c4)", "mean drop of P(true) under rotation minus under translation and scale", "greater",
       0.0, 0.05, "5 points of probability is the smallest difference visible in the paper's plots", 50,
       "correctly classified images", ("04_fig5_invariance",), "gpu (paper geometry)"),
    _c("C4c", "rotationally symmetric objects are the exception",
       "Fig. 5: rotation hurts except for symmetric objects",
       "mean drop of P(true) under rotation: other classes minus golf balls", "greater", 0.0, 0.05,
       "as C4b", 20, "golf balls", ("04_fig5_invariance",), "gpu (paper geometry)"),
    _c("C5", "without feature scale clipping a few conv1 filters dominate",
       "Fig. 6a (qualitative)", "share of conv1 filter energy in the top 3 filters: without minus with clipping",
       "greater", 0.0, 0.02, "top-3 share of 48-96 filters by chance is ~6%; a 2-point rise is the smallest visible",
       3, "seeds per model", ("05_fig6_architecture",),
       "a scale at which conv filters outgrow the clipping radius without it (the paper's ImageNet training)"),
    _c("C6", "7x7/2 first layer: fewer dead filters and no conv2 aliasing",
       "Fig. 6 (b-e)", "all of C6a-C6b", "greater", 0.0, 0.0, "composite: see parts", 1, "parts",
       ("05_fig6_architecture",), "gpu (paper geometry)", ("C6a", "C6b")),
    _c("C6a", "ZF has fewer dead conv1 filters than AlexNet",
       "Fig. 6 (b) vs (c)", "dead conv1 filters (active on under 1% of val positions): AlexNet minus ZF, share",
       "greater", 0.0, 0.02, "one filter in 48 is 2%", 3, "seeds per model", ("05_fig6_architecture",),
       "gpu (paper geometry)"),
    _c("C6b", "AlexNet's stride-4 conv1 aliases in conv2, ZF's does not",
       "Fig. 6 (d) vs (e)", "relative change of conv2 under 1-3 px input shifts: AlexNet minus ZF", "greater",
       0.0, 0.02, "a 2% difference of relative change is the smallest we would call aliasing", 3,
       "seeds per model", ("05_fig6_architecture",), "gpu (paper geometry)"),
    _c("C7", "occlusion: covering the object matters; the strongest layer-5 map's projection is where it needs",
       "Fig. 7", "all of C7a-C7b", "greater", 0.0, 0.0, "composite: see parts", 1, "parts",
       ("06_fig7_occlusion", "13_fig7_occlusion_statistic"), "any", ("C7a", "C7b")),
    _c("C7a", "P(correct) drops more with the occluder on the object than off it",
       "Fig. 7d (pomeranian, car, scene)", "drop of P(correct): occluder on the object minus off it", "greater",
       0.0, 0.05, "5 points of probability", 100, "correctly classified images with an object region",
       ("06_fig7_occlusion",), "any"),
    _c("C7b", "covering what the projection shows silences the map more than the strongest baseline",
       "Fig. 7b-c", "relative drop of the map's activity: projection's square minus the best baseline's", "greater",
       0.0, 0.02, "2% of the map's activity", 100, "images", ("13_fig7_occlusion_statistic",), "any"),
    _c("C8", "occluding the same part changes conv5 more consistently than random parts of the object",
       "Table 1: layer 5, eyes/nose 0.067-0.079 vs random 0.107",
       "mean pairwise sign-change distance: random object parts minus landmarks (conv5)", "greater", 0.0, 0.005,
       "the paper's gap is 0.035; under 0.005 is invisible", 20, "dog faces", ("07_fig8_correspondence",),
       "gpu (conv5 13x13 before pooling)"),
    _c("C9", "pretrained features beat training from scratch, most with few examples",
       "Tables 4-5: Caltech-101 83.8/86.5 vs 22.8/46.5", "accuracy: pretrained minus from scratch (points), "
       "at the fewest images per class", "greater", 0.0, 2.0, "2 points", 3, "splits",
       ("10_tables4_6_transfer",), "a source task that covers the target's concepts (ImageNet-1k)"),
    _c("C10", "higher layers give more discriminative features",
       "Table 7: SVM accuracy rises from layer 1 to 7 (Caltech-256 24.6 -> 71.7)",
       "Spearman correlation of linear-SVM accuracy with depth", "greater", 0.0, 0.5,
       "a correlation above 0.5 is a clear rising trend over six layers", 3, "splits", ("11_table7_probes",),
       "a source task that covers the target's concepts (ImageNet-1k)"),
    _c("C11", "higher layers are more class-specific",
       "Fig. 2 / Sec. 4: layers 1-2 respond to edges and colours, layer 4 to class-specific parts, layer 5 to objects",
       "class purity of conv5 maps minus conv1 maps (share of the commonest class in a map's top-9 val images)",
       "greater", 0.0, 0.05, "5 points of purity: with 10 classes a random 9-image set already has about 0.3", 3,
       "seeds", ("02_fig2_top9",), "any profile with 3 trained seeds"),
    _c("companion", "the report's small CNN reaches about 98% on MNIST",
       "seed 004: ~98% test accuracy", f"test accuracy minus {COMPANION_REFERENCE:g}% (points)", "greater", 0.0,
       0.0,
       "'about 98%': within a point", 1000, "test digits", ("12_companion_gradients",), "MNIST (any profile)",
       min_seeds=1),
    _c("S1", "a projection reveals what the unit encodes, not only the image and the switches",
       "Zeiler & Fergus Sec. 2.1 (implicit); questioned by Adebayo et al. 2018, Mahendran & Vedaldi 2016",
       "1 minus the rank correlation of |projection| of the trained model's strongest conv5 unit before and after "
       "randomizing every layer (fc8 down to conv1)", "greater", 0.2, 0.2,
       "a method that shows the unit must change its picture when the weights do; Adebayo et al. call a "
       "correlation above 0.8 (a dissimilarity below 0.2) a failed check", 50, "images", ("14_sanity_checks",),
       "any"),
]}


def decide(claim: Claim, ev: Evidence) -> str:
    """The verdict the registry's rule gives ``ev`` for ``claim`` (see the module docstring)."""
    if not ev.comparable:
        return "not comparable"
    if not ev.testable:
        return "not testable at this scale"
    lo, hi = ev.ci_low, ev.ci_high
    if ev.n < claim.min_n or ev.seeds < claim.min_seeds or not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive"
    if claim.kind == "greater":
        if lo > claim.null:
            return "reproduced"
        return "not reproduced" if hi < claim.min_effect else "inconclusive"
    if hi < claim.null:
        return "reproduced"
    return "not reproduced" if lo > claim.null else "inconclusive"


def combine(verdicts: list[str]) -> str:
    """A composite claim's verdict from its parts' (see the module docstring)."""
    if verdicts and all(v == "reproduced" for v in verdicts):
        return "reproduced"
    if "not reproduced" in verdicts:
        return "not reproduced"
    if verdicts and all(v == "not testable at this scale" for v in verdicts):
        return "not testable at this scale"
    if verdicts and all(v == "not comparable" for v in verdicts):
        return "not comparable"
    return "inconclusive"


def evidence(claim: str, estimate: float, ci: tuple[float, float], n: int, profile: str, *, seeds: int = 1,
             testable: bool = True, comparable: bool = True, note: str = "", chapter: str = "") -> Evidence:
    """Evidence for ``claim`` (an id in ``REGISTRY``), checked for a known id and a CI that contains the estimate."""
    if claim not in REGISTRY:
        raise ValueError(f"unknown claim {claim!r}; the registry has: {', '.join(REGISTRY)}")
    lo, hi = (float(v) for v in ci)
    est = float(estimate)
    if all(math.isfinite(v) for v in (lo, hi, est)) and not lo - 1e-9 <= est <= hi + 1e-9:
        raise ValueError(f"{claim}: the estimate {est} lies outside its CI [{lo}, {hi}]")
    return Evidence(claim, est, lo, hi, int(n), profile, int(seeds), testable, comparable, note, chapter)


def verdict_line(ev: Evidence) -> str:
    """The Markdown line a chapter shows: the registry's verdict, the statistic and its CI, n, and the rule."""
    c = REGISTRY[ev.claim]
    v = decide(c, ev)
    if c.kind == "greater":
        rule = f"reproduced if the CI is above {c.null:g}, not reproduced if below {c.min_effect:g}"
    else:
        rule = f"reproduced if the CI is below {c.null:g}, not reproduced if above it"
    est = "n/a" if not math.isfinite(ev.estimate) else f"{ev.estimate:.3g}"
    ci = "" if not math.isfinite(ev.ci_low) else f", 95% CI [{ev.ci_low:.3g}, {ev.ci_high:.3g}]"
    extra = f" {ev.note}" if ev.note else ""
    why = {"not testable at this scale": f" This scale cannot test it; {c.scale_needed} would.",
           "inconclusive": (f" n = {ev.n} {c.n_unit}, below the minimum of {c.min_n}." if ev.n < c.min_n else
                            f" It rests on {ev.seeds} trained model(s); the rule needs {c.min_seeds} seeds."
                            if ev.seeds < c.min_seeds else " The effect is within its uncertainty.")}.get(v, "")
    return (f"**Verdict ({c.id}, from the claims registry): {v}.** {c.title}: {c.statistic} = {est}{ci}, "
            f"n = {ev.n} {c.n_unit}, {ev.seeds} seed(s) (rule: {rule}; {c.reason}).{why}{extra}")


def _composite_verdict(c: Claim, parts: list[Evidence | None]) -> str:
    """A composite's verdict from its parts' evidence in ``c.parts`` order (None: no evidence, inconclusive)."""
    return combine([decide(REGISTRY[p], e) if e else "inconclusive" for p, e in zip(c.parts, parts)])


def composite_line(claim: str, evidence_list: list[Evidence]) -> str:
    """The Markdown line a chapter shows for a composite claim: the registry's verdict from its parts' evidence."""
    c = REGISTRY[claim]
    if not c.parts:
        raise ValueError(f"{claim} is not a composite claim; composites: {[k for k, v in REGISTRY.items() if v.parts]}")
    by_part = {e.claim: e for e in evidence_list}
    verdict = _composite_verdict(c, [by_part.get(p) for p in c.parts])
    return (f"**Verdict ({claim}, from the claims registry): {verdict}.** {c.title}: reproduced when all of "
            f"{', '.join(c.parts)} are, not reproduced when any is; a part without evidence counts as inconclusive.")


def show(ev: Evidence) -> None:
    """Display the registry's verdict for ``ev`` in a chapter, carrying the evidence for the book's claims table."""
    from IPython.display import Markdown, display

    display(Markdown(verdict_line(ev)), metadata={"zfviz_evidence": ev.to_dict()})


def table(evidence_list: list[Evidence]) -> pd.DataFrame:
    """``claims.csv``: one row per claim and profile (composites from their parts; claims without evidence are
    ``inconclusive`` with n = 0), columns ``COLUMNS``."""
    by_key = {(e.claim, e.profile): e for e in evidence_list}
    profiles = sorted({e.profile for e in evidence_list}) or ["cpu"]
    rows = []
    for profile in profiles:
        for c in REGISTRY.values():
            if c.parts:
                parts = [by_key.get((p, profile)) for p in c.parts]
                n = min((e.n for e in parts if e), default=0)
                rows.append(dict(claim=c.id, verdict=_composite_verdict(c, parts), statistic=c.statistic,
                                 estimate=math.nan, ci_low=math.nan, ci_high=math.nan, n=n, profile=profile,
                                 chapters=" ".join(c.chapters)))
                continue
            e = by_key.get((c.id, profile))
            rows.append(dict(claim=c.id, verdict=decide(c, e) if e else "inconclusive", statistic=c.statistic,
                             estimate=e.estimate if e else math.nan, ci_low=e.ci_low if e else math.nan,
                             ci_high=e.ci_high if e else math.nan, n=e.n if e else 0, profile=profile,
                             chapters=" ".join(c.chapters)))
    return pd.DataFrame(rows, columns=COLUMNS)


def registry_frame() -> pd.DataFrame:
    """The registry as a table: the pre-registered rule of every claim."""
    return pd.DataFrame([{k: v for k, v in asdict(c).items() if k != "parts"} for c in REGISTRY.values()])


__all__ = ["VERDICTS", "COLUMNS", "COMPANION_REFERENCE", "Claim", "Evidence", "REGISTRY", "decide", "combine",
           "evidence", "verdict_line", "composite_line", "show", "table", "registry_frame"]
