# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fig. 7, measured: does the projection show what the map needs?
#
# **The paper's argument (Sec. 4.2, Fig. 7).** Panels (b) and (c) of Fig. 7 pair the occlusion map of the strongest
# layer-5 feature map with that map's deconvnet projection: the map's activity falls when the occluder covers the
# structure the projection highlights. The paper shows this on three images; it reports no number.
#
# **Here.** The same argument over many validation images. For each image: the layer-5 map with the strongest
# activation, its deconvnet projection, and a grey square (the paper's occluder size, scaled to the profile's crop)
# placed where the projection has the most energy; then the same square at `n_random` uniformly random places. The
# statistic is the relative drop of the map's total activity, `1 - occluded / unoccluded`, under the projection's
# square against the mean under random squares, image by image.

# %% tags=["parameters"]
profile = "cpu"
model = "zf"
seed = 0
n_images = 500  # validation images (all of them if the split is smaller)
occluder = 48  # side of the grey square, in pixels at 224
n_random = 4  # random squares per image
sample_seed = 0  # which images, and where the random squares go
layer = "conv5"
data_root = None
runs_dir = None

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display
from scipy.stats import wilcoxon

from zfviz.analysis.occlusion import projection_occlusion
from zfviz.data import center_crop, class_name
from zfviz.experiment import load_experiment
from zfviz.params import check_int
from zfviz.report import structure
from zfviz.params import reject_unknown_parameters

reject_unknown_parameters(globals())

for name, v in (("n_images", n_images), ("occluder", occluder), ("n_random", n_random)):
    check_int(name, v)
exp = load_experiment(model, profile, seed, data_root=data_root, runs_dir=runs_dir)
size = max(1, round(occluder * exp.crop / 224))
pick = torch.randperm(len(exp.val), generator=torch.Generator().manual_seed(sample_seed))[:n_images].sort().values
x = center_crop(exp.val.images[pick], exp.mean.cpu(), exp.crop)
df = projection_occlusion(exp.model.cpu(), x, size, layer=layer, n_random=n_random, seed=sample_seed)
df["image"] = pick.numpy()[df.image.to_numpy()]
df["class"] = [class_name(exp.val.classes[int(exp.val.labels[i])]) for i in df.image]
df["difference"] = df.drop_projection - df.drop_random
display(Markdown(f"Model `{exp.run.name}`; {len(df)} validation images; a {size} px square on {exp.crop} px crops "
                 f"({occluder} px at 224); {n_random} random squares per image."))

# %% tags=["hide-input"]
stats = df[["drop_projection", "drop_random", "difference"]].describe().T[["count", "mean", "std", "25%", "50%", "75%"]]
stats.index = ["under the projection's square", "under a random square (mean of the draws)", "difference, per image"]
stats.round(3)

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
bins = np.linspace(min(df.drop_projection.min(), df.drop_random.min()), 1, 40)
axes[0].hist(df.drop_random, bins, alpha=0.6, label="random square")
axes[0].hist(df.drop_projection, bins, alpha=0.6, label="projection's square")
axes[0].set_xlabel(f"relative drop of the strongest {layer} map's activity")
axes[0].set_ylabel("images")
axes[0].legend()
axes[1].scatter(df.drop_random, df.drop_projection, s=6, alpha=0.5)
lim = [min(axes[1].get_xlim()[0], axes[1].get_ylim()[0]), 1]
axes[1].plot(lim, lim, "k--", lw=0.8, label="equal drop")
axes[1].set_xlabel("drop, random square")
axes[1].set_ylabel("drop, projection's square")
axes[1].legend()
fig.suptitle("Covering what the projection highlights against covering a random place")
plt.tight_layout()
plt.show()

# %% tags=["hide-input"]
by_class = df.groupby("class")[["drop_projection", "drop_random"]].mean().round(3)
by_class["images"] = df.groupby("class").size()
by_class

# %% tags=["hide-input"]
wins = float((df.difference > 0).mean())
test = wilcoxon(df.drop_projection, df.drop_random, alternative="greater") if len(df) > 1 else None
p_value = float(test.pvalue) if test is not None else float("nan")
holds = bool(df.difference.mean() > 0 and p_value < 0.01 and wins > 0.5)
verdict = "reproduced" if holds else "not reproduced"
display(Markdown(
    f"**Verdict: {verdict}**: covering the square the projection highlights lowers the map's activity by "
    f"{df.drop_projection.mean():.2f} on average (median {df.drop_projection.median():.2f}), a random square of the "
    f"same size by {df.drop_random.mean():.2f}; the projection's square wins on {100 * wins:.0f}% of {len(df)} images "
    f"(one-sided Wilcoxon signed-rank p = {p_value:.1e}). "
    + ("So the projection points at the input structure the map depends on, the premise of Fig. 7's panels (b)-(c). "
       if holds else "So this test does not support the premise of Fig. 7's panels (b)-(c). ")
    + "What this does not show: the projection is computed from the map itself, so this measures how faithful the "
    "deconvnet's picture is to that map, not whether the map matters to the classifier (Fig. 7d does that)."))

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(stats, verdict))
