# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fig. 5: feature invariance
#
# ```{glue:md} verdict_box
# :format: myst
# ```
#
# **The paper (Sec. 4, Fig. 5).** Five images are translated vertically, scaled and rotated; for each amount the
# Euclidean distance between the feature vectors of the original and the transformed image is plotted at layer 1
# and layer 7, with the probability of the true label. **Small transformations change layer 1 a lot and layer 7
# much less; the output is stable to translation and scaling, but not to rotation, except for rotationally
# symmetric objects.**
#
# **Here.** The same sweeps (vertical shifts of -60..60 px measured at 224 px and scaled to the profile's crop; scale
# 1..1.8; rotation 0..350 degrees; uncovered borders filled with the image's mean colour) on validation images that
# *every* seed's model classifies correctly: a few of each class and more golf balls, the rotationally symmetric
# class (the counts are printed below). Claim C4 has three parts, each with a CI over seeds and images: C4a the relative
# change of layer 1 minus layer 7 at the smallest step; C4b the drop of P(true) under rotation minus that under
# translation and scaling (golf balls left out); C4c the rotation drop of other classes minus golf balls.

# %% tags=["parameters", "hide-cell"]
profile = "cpu"
model = "zf"
seeds = [0, 1, 2]
data_root = None
runs_dir = None
dataset = None
per_class = 6
golf_balls = 50
symmetric_class = "n03445777"  # golf ball
layers = ["conv1", "fc7"]
pick_seed = 0

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from zfviz.analysis.invariance import PAPER_SWEEPS, invariance, invariance_statistics, prob_range
from zfviz.book.plots import invariance_figure
from zfviz.core.params import check_names
from zfviz.core.profiles import get_profile
from zfviz.data.sets import class_folders, class_name
from zfviz.evidence import claims
from zfviz.evidence.report import show_box, structure, tidy
from zfviz.experiment import correct_images, load_experiments
from zfviz.studies import Invariance

study = Invariance.from_namespace(globals())
check_names("symmetric_class", [symmetric_class], class_folders(dataset or get_profile(profile).dataset, data_root))
exps = load_experiments(model, profile, seeds, **study.loads)
val = exps[0].val
counts = {c: golf_balls if c == symmetric_class else per_class for c in val.classes}
ids = correct_images(exps, counts, pick_seed=pick_seed)
df = pd.concat([invariance(x.model, val.images[ids], val.labels[ids], x.mean, x.crop, PAPER_SWEEPS,
                           tuple(layers[:2])).assign(seed=s) for s, x in zip(seeds, exps)], ignore_index=True)
display(Markdown(f"{len(ids)} images correctly classified by all {len(seeds)} models, "
                 f"{int((val.labels[ids] == val.classes.index(symmetric_class)).sum())} of them "
                 f"{class_name(symmetric_class)}s."))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "For translation, scaling and rotation (rows): three example inputs, the distance of the low and high layer's features from the untransformed image's, and P(true class), one line per example image (the paper's Fig. 5)."}}
examples = df.drop_duplicates("label").image.head(5).tolist()
invariance_figure(df[(df.seed == seeds[0]) & df.image.isin(examples)], val.images[ids[examples]], layers[:2],
                  [class_name(val.classes[int(val.labels[ids[i]])]) for i in examples], exps[0].crop)
plt.show()

# %% [markdown]
# ## The claims, measured

# %% tags=["hide-input"]
stats = invariance_statistics(df, tuple(layers[:2]), symmetric=val.classes.index(symmetric_class))
display(tidy(stats, 3))
evs = study.evidence(stats)
for ev in evs:
    claims.show(ev)
display(Markdown(claims.composite_line("C4", evs)))
rng_table = prob_range(df, symmetric=val.classes.index(symmetric_class))
display(Markdown(
    "**Two statistics for C4b, and why the registered one stands.** Before the registry existed (2026-11-21), this "
    "chapter summarized the output's stability by the *range* of P(true) over each sweep, and on one seed and five "
    "images that put translation above rotation (0.667 against 0.570: translation looked *less* stable). The "
    "registry then fixed C4b as the *mean drop* of P(true) from the untransformed image, translation pooled with "
    "scale, on at least 50 correctly classified images and 3 seeds. Both are shown here on today's images and models. "
    "The registered statistic stands because it was fixed before the registry's runs and asks the paper's question "
    "(how much does the output fall when the object moves, scales or turns); the range also counts rises of P(true) "
    "and is set by the single most extreme step of a sweep. It replaced a statistic that had given the other answer, "
    "which a reader should know: "
    + "; ".join(f"{t}: mean range {v:.3f}" for t, v in rng_table.items()) + "."))
show_box(evs, profile, composite="C4", models=f"`{model}` seeds {seeds}")

# %% [markdown]
# ## What this shows
#
# ```{glue:md} closing
# :format: myst
# ```

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(stats, claims.verdict_of(evs)))
