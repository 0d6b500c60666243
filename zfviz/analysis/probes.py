"""Linear probes (Tables 4-7): features of a layer, then linear classifiers trained on k images per class over
repeated random splits (scikit-learn), mean +- std."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from torch import nn
from tqdm import tqdm

from zfviz.core.params import check_int
from zfviz.data.sets import center_crop, few_shot_split
from zfviz.evidence import claims
from zfviz.evidence.stats import hierarchical_mean, spread_note, within
from zfviz.model.models import eval_mode, model_device, readouts


@torch.no_grad()
def features(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, layers: list[str],
             pool_to: int | None = None, batch_size: int = 256, progress: bool = True) -> dict[str, torch.Tensor]:
    """Flattened readout features {layer: (N, D)} of several layers in one pass over uint8 images (centre crop, mean
    subtracted). ``pool_to``: adaptive max-pool conv maps to ``pool_to`` x ``pool_to`` first."""
    dev = model_device(model)
    out = {layer: [] for layer in layers}
    with eval_mode(model):
        for s in tqdm(range(0, len(images), batch_size), disable=not progress, desc=f"{', '.join(layers)} features"):
            x = center_crop(images[s:s + batch_size].to(dev), mean.to(dev), crop)
            for layer, f in readouts(model, x, layers).items():
                if pool_to is not None and f.dim() == 4:
                    f = F.adaptive_max_pool2d(f, pool_to)
                out[layer].append(f.flatten(1).cpu())
    return {layer: torch.cat(fs) for layer, fs in out.items()}


def layer_features(model: nn.Module, images: torch.Tensor, mean: torch.Tensor, crop: int, layer: str,
                   pool_to: int | None = None, batch_size: int = 256, progress: bool = True) -> torch.Tensor:
    """Flattened readout features (N, D) of one ``layer`` (see ``features``)."""
    return features(model, images, mean, crop, [layer], pool_to, batch_size, progress)[layer]


def span_basis(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both feature sets in an orthonormal basis of the span of the training rows, when that is smaller than the
    feature count (else unchanged). An L2-regularized linear model's weights lie in that span (representer theorem),
    and the basis keeps norms and dot products there, so the fit and its test scores are those on the full features."""
    if train.shape[1] <= train.shape[0]:
        return train, test
    q, r = np.linalg.qr(train.T.astype(np.float64))  # train.T = q r: train = r.T q.T, coordinates r.T
    return r.T, test.astype(np.float64) @ q


C_GRID = (0.01, 0.1, 1.0, 10.0)  # C on unit-norm features; cross-validated per split and layer


def probe(features: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, k: int, *, classifier: str = "svm",
          splits: int = 5, seed: int = 0, max_test: int | None = None, C: float | str = "cv") -> pd.DataFrame:
    """Accuracy (%) of a linear SVM or softmax classifier on ``k`` images per class, one row per split (with whether
    the solver converged and the ``C`` used).

    ``C="cv"`` chooses C per split by 3-fold cross-validation inside the training images, over ``C_GRID``.
    Split ``s`` is ``few_shot_split(labels, k, seed, s)``: the one a from-scratch run with that seed and split uses.
    Features are standardized with the training images' statistics; ``C`` is divided by the feature count, which is
    ``C`` for standardized features scaled to about unit norm per sample, so one ``C`` regularizes a 30,000-d conv1
    and a 2,000-d fc7 alike. With more features than training images, both classifiers are fitted in the span of the
    training images (``span_basis``): exactly the same L2-regularized solution, at a fraction of the cost.
    """
    if classifier not in ("svm", "softmax"):
        raise ValueError(f"unknown classifier {classifier!r}; valid: 'svm', 'softmax'")
    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(f"features must be (N, D) with one row per label: got shape {x.shape} for {len(y)} labels")
    splits = check_int("splits", splits)
    if not (C == "cv" or (isinstance(C, (int, float)) and C > 0)):
        raise ValueError(f"C must be a positive number or 'cv', got {C!r}")
    if C != "cv":
        grid = (float(C),)
    else:
        grid = C_GRID if k >= 3 else (1.0,)  # 3-fold CV needs 3 training images per class
    rows = []
    for s in range(splits):
        tr, te = few_shot_split(y, k, seed, s, max_test)
        rows.append(fit_probe(x, y, tr, te, classifier=classifier, grid=grid, cv_seed=seed + s) | {"k": k, "split": s})
    return pd.DataFrame(rows)[["classifier", "k", "split", "accuracy", "train", "test", "converged", "C"]]


def fit_probe(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, *, classifier: str = "softmax",
              grid: tuple[float, ...] = (1.0,), cv_seed: int = 0) -> dict:
    """Fit one linear probe on rows ``train`` of features ``x`` (N, D) and score it on rows ``test``: accuracy (%),
    sizes, whether the solver converged and the ``C`` used (3-fold CV over ``grid`` when it has several values).
    See ``probe`` for the standardization, the C scaling and the span basis."""
    scaler = StandardScaler().fit(x[train])
    x_tr, x_te = span_basis(scaler.transform(x[train]), scaler.transform(x[test]))
    clf = LinearSVC(max_iter=5000) if classifier == "svm" else LogisticRegression(max_iter=2000)
    # C / D = C on features scaled to unit norm per sample: one grid regularizes a 30,000-d conv1 and fc7 alike
    with warnings.catch_warnings(record=True) as caught:  # reported per split instead of printed
        warnings.simplefilter("always", ConvergenceWarning)
        if len(grid) > 1:
            folds = StratifiedKFold(3, shuffle=True, random_state=cv_seed)
            model = GridSearchCV(clf, {"C": [g / x.shape[1] for g in grid]}, cv=folds).fit(x_tr, y[train])
            chosen = model.best_params_["C"] * x.shape[1]
        else:
            model, chosen = clf.set_params(C=grid[0] / x.shape[1]).fit(x_tr, y[train]), grid[0]
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {"classifier": classifier, "accuracy": 100 * model.score(x_te, y[test]), "train": len(train),
            "test": len(test), "converged": converged, "C": chosen}


def heldout_transfer(features: torch.Tensor | np.ndarray, labels: torch.Tensor, classes: list[int], per_class: list[int],
                     *, splits: int, seed: int, max_test: int | None = None) -> pd.DataFrame:
    """C9's pretrained arm on held-out classes: a softmax on ``features`` (N, D) of a whole split (labels over all its
    classes) fitted on k images of each class in ``classes``, tested on the rest of those classes. The images are
    exactly those a from-scratch run with ``train_per_class=k``, ``split``, ``seed`` and ``classes`` trains and is
    tested on (``few_shot_split`` of the whole split, then restricted). One row per (k, split)."""
    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels)
    rows = []
    for k in per_class:
        for s in range(splits):
            tr, te = few_shot_split(y, k, seed, s, max_test)
            tr, te = tr[np.isin(y[tr], classes)], te[np.isin(y[te], classes)]
            rows.append(fit_probe(x, y, tr, te, classifier="softmax") | {"k": k, "split": s})
    return pd.DataFrame(rows)


FITS_TOP1 = 95.0  # training top-1 (%) from which a from-scratch network counts as having learned its few images


def c9_evidence(pretrained: pd.DataFrame, scratch: pd.DataFrame, profile: str,
                chapter: str = "10_tables4_6_transfer"):
    """C9 from ``heldout_transfer`` rows of several source seeds (``source_seed``) and from-scratch ``run_metrics``
    rows (columns k, split, accuracy, train_top1) on the same splits: pretrained minus scratch at the fewest images
    per class, (source seeds, splits), scratch paired by split."""
    few = int(min(pretrained.k.min(), scratch.k.min()))
    pre, scr = pretrained[pretrained.k == few], scratch[scratch.k == few]
    diff = pre.pivot(index="source_seed", columns="split", values="accuracy") - scr.set_index("split").accuracy
    est, lo, hi, n = hierarchical_mean(diff.to_numpy())
    fit = scr.train_top1.min()
    # the from-scratch arm is a fair baseline only if it learned its own images; say so either way
    fits = (f"every from-scratch network fits its training images, training top-1 {fit:.0f}%" if fit >= FITS_TOP1 else
            f"a from-scratch network fits only {fit:.0f}% of its training images: the baseline is undertrained")
    return claims.evidence("C9", est, (lo, hi), diff.shape[1], profile, seeds=n, chapter=chapter,
                           note=f"At {few} image(s) per class; pretrained {pre.accuracy.mean():.1f}%, "
                           f"from scratch {scr.accuracy.mean():.1f}% ({fits}); "
                           f"{spread_note(diff.mean(1))}; {_limited_by(diff)}.")


def _limited_by(diff: pd.DataFrame) -> str:
    """Per few-shot draw (split) beside per source seed: which of the two spreads more, and so what would narrow the
    interval (a confirmatory design that adds only sources cannot narrow a draw-limited one)."""
    by_draw, by_seed = diff.mean(0), diff.mean(1)
    sd_draw, sd_seed = float(by_draw.std(ddof=1)), float(by_seed.std(ddof=1))
    text = f"per few-shot draw (split): {', '.join(f'{x:.3g}' for x in by_draw)}"
    if not (np.isfinite(sd_draw) and np.isfinite(sd_seed)):
        return text
    what = "the draws" if sd_draw > sd_seed else "the sources"
    return f"{text}; sd over draws {sd_draw:.2g} against {sd_seed:.2g} over sources: {what} limit the interval"


def class_coverage(source_classes: list[str], target_classes: list[str]) -> float:
    """The share of the target's classes that the source task trained on (same class id, e.g. WordNet id): C10's
    registered testability check.

    >>> class_coverage(["n01440764", "n02102040"], ["n02102040", "n02086240"])
    0.5
    """
    if not target_classes:
        raise ValueError("target_classes is empty; give the target dataset's class ids")
    return sum(c in set(source_classes) for c in target_classes) / len(target_classes)


def c10_evidence(results: pd.DataFrame, layers: list[str], k: int, profile: str, control_rho: float,
                 heldout: pd.DataFrame | None, target: str, chapter: str = "11_table7_probes", *,
                 source_classes: list[str] | None = None, target_classes: list[str] | None = None):
    """C10 from ``layer_probes`` rows of several seeds: the depth trend (``depth_trend``) at ``k`` per class, with the
    source-task control and the held-out-class test (``heldout_table``) in the note, and the registered check (the
    share of target classes the source saw, ``class_coverage``) when both class lists are given."""
    rho = depth_trend(results, layers, k)
    est, lo, hi, _ = trend_interval(rho)
    coverage = (class_coverage(source_classes, target_classes) if source_classes is not None
                and target_classes is not None else np.nan)
    seen = (f" The source task trained on {coverage:.0%} of {target}'s classes." if np.isfinite(coverage) else "")
    return claims.evidence("C10", est, (lo, hi), rho.shape[1], profile, seeds=rho.shape[0], chapter=chapter,
                           check_value=coverage,
                           note=f"Linear SVMs with {k} {target} images per class; on the source task (Imagenette val) "
                           f"the same correlation is {control_rho:.2f}." + seen
                           + (heldout_sentence(heldout) if heldout is not None else ""))


def depth_trend(results: pd.DataFrame, layers: list[str], k: int, classifier: str = "svm") -> np.ndarray:
    """(seeds, splits) Spearman correlation of accuracy with depth over ``layers`` (claim C10's statistic), per model
    seed (a ``seed`` column, else one) and split."""
    df = results[(results.classifier == classifier) & (results.k == k) & results.layer.isin(layers)]
    if "seed" not in df:
        df = df.assign(seed=0)
    depth = {layer: i for i, layer in enumerate(layers)}
    rho = df.groupby(["seed", "split"]).apply(
        lambda g: spearmanr(g.layer.map(depth), g.accuracy).statistic, include_groups=False)
    return rho.unstack("split").sort_index().to_numpy()


def trend_interval(rho: np.ndarray):
    """Mean and 95% CI of a (seeds, splits) table of depth trends (``hierarchical_mean``), cut to a correlation's
    range [-1, 1]."""
    return within(hierarchical_mean(rho), -1.0, 1.0)


def heldout_table(results: pd.DataFrame, layers: list[str]) -> pd.DataFrame:
    """Per set of probe classes (a ``probe_classes`` column): mean SVM accuracy % per layer over seeds and splits, and
    the depth trend (Spearman rho of accuracy with depth per seed and split; mean and 95% CI resampling seeds, then
    splits)."""
    rows = {}
    for name, df in results.groupby("probe_classes", sort=False):
        acc = df[df.classifier == "svm"].groupby("layer").accuracy.mean().reindex(layers)
        est, lo, hi, n = trend_interval(depth_trend(df, layers, int(df.k.max())))
        rows[name] = acc.to_dict() | {"depth trend (rho)": est, "rho CI low": lo, "rho CI high": hi, "seeds": n}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("probe classes")


def heldout_sentence(table: pd.DataFrame) -> str:
    """One sentence for a verdict's note from a ``heldout_table`` with "held out" and "source" rows."""
    h, s = table.loc["held out"], table.loc["source"]
    return (" Source models trained on half of the source's classes give a depth trend of "
            f"{h['depth trend (rho)']:.2f} [{h['rho CI low']:.2f}, {h['rho CI high']:.2f}] on the other half, "
            f"which they never saw, and {s['depth trend (rho)']:.2f} [{s['rho CI low']:.2f}, "
            f"{s['rho CI high']:.2f}] on their own classes.")


def summarize(results: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean and std of accuracy over splits, grouped by ``by``."""
    return results.groupby(by, sort=False)["accuracy"].agg(["mean", "std", "count"]).reset_index()


def probe_table(results: pd.DataFrame, layers: dict[str, list[str]]) -> pd.DataFrame:
    """Table 7's layout from ``layer_probes`` results: one row per (classifier, layer) in ``layers``' order, the mean
    and std accuracy over splits (and seeds) for each k, the feature count and the share of fits that converged."""
    s = summarize(results, ["classifier", "layer", "k"])
    table = s.pivot(index=["classifier", "layer"], columns="k", values=["mean", "std"])
    table.columns = [f"{k}/class {stat}" for stat, k in table.columns]
    table = table.reindex([(c, layer) for c, names in layers.items() for layer in names])
    table["features"] = results.groupby("layer").features.first().reindex(
        [layer for _, layer in table.index]).to_numpy()
    table["solver converged (share of fits)"] = results.groupby(["classifier", "layer"]).converged.mean().reindex(
        table.index)
    return table


def layer_probes(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, mean: torch.Tensor, crop: int,
                 layers: dict[str, list[str]], per_class: list[int], *, splits: int = 5, seed: int = 0,
                 max_test: int | None = None) -> pd.DataFrame:
    """Table 7: for each classifier (``"svm"``/``"softmax"``) and each of its layers, ``probe`` the layer's features
    with every k in ``per_class``; one row per split, with the layer and its feature count."""
    rows = []
    every = list(dict.fromkeys(name for names in layers.values() for name in names))
    for layer, f in features(model, images, mean, crop, every, progress=False).items():
        for classifier, names in layers.items():
            if layer in names:
                for k in per_class:
                    r = probe(f, labels, k, classifier=classifier, splits=splits, seed=seed, max_test=max_test)
                    rows.append(r.assign(layer=layer, features=f.shape[1]))
    return pd.concat(rows, ignore_index=True)
