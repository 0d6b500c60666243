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
# # Fig. 6 and Sec. 4.1: architecture selection
#
# **The paper (Sec. 4.1, Fig. 6).** Visualizing the first layers of Krizhevsky's model revealed (b) first-layer
# filters that are a mix of extremely high and low frequencies with little in between, and (d) aliasing in the
# second layer, caused by the large stride 4 of the first layer. The fix: 7x7 first-layer filters with stride 2 and
# stride 2 in layer 2 (the ZF model), which gives (c, e) more distinctive features and fewer dead filters.
# (a) Without feature scale clipping, a few first-layer filters dominate.
#
# **Here.** ZF, the AlexNet replica and ZF without feature scale clipping, each trained with the same seeds for the
# same epochs. Three statistics, each pooled over seeds (claims C5, C6a, C6b):
# - *dominance*: the share of conv1 filter energy in its 3 largest filters, without minus with clipping. A
#   manipulation check comes first: clipping renormalizes only filters whose RMS exceeds its radius, so C5 is tested
#   only if every unclipped model ends with such filters (otherwise the two runs of a seed are nearly or exactly the
#   same network, and no difference can be expected);
# - *dead filters*: active (positive after the ReLU) on under 1% of validation positions, AlexNet minus ZF;
# - *aliasing*: the relative change of the globally averaged conv2 features when the crop moves 1-3 px, AlexNet
#   minus ZF, paired over the same validation images.
#
# The filter banks share one scale per model (grey = 0), so a dominant filter stands out. Accuracy (claim C1) is
# decided in the Table 2 chapter only.

# %% tags=["parameters"]
profile = "cpu"
seeds = [0, 1, 2]
no_clip_seeds = [0, 1, 2]  # ZF without clipping (C5), as many as seeds; an empty list leaves C5 undecided
data_root = None
runs_dir = None
dataset = None
layer2_maps = 8  # conv2 maps projected per model for panels (d) and (e)
k = 4  # top activations per conv2 map
n_images = 500  # validation images for the aliasing statistic
pick_seed = 0

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from zfviz import claims
from zfviz.analysis.filters import (filter_stats, filters_over_radius, max_weight_difference, shift_change,
                                    top_energy_share)
from zfviz.analysis.topk import project_top, top_activations
from zfviz.experiment import load_experiments
from zfviz.params import check_int, reject_unknown_parameters
from zfviz.plots import filter_bank, topk_figure
from zfviz.report import structure, tidy
from zfviz.stats import group_difference, paired_difference

reject_unknown_parameters(globals())
n_images, k = check_int("n_images", n_images), check_int("k", k)
kw = dict(data_root=data_root, runs_dir=runs_dir, dataset=dataset)
if no_clip_seeds and len(no_clip_seeds) != len(seeds):
    raise ValueError(f"no_clip_seeds must be [] or as many seeds as seeds ({len(seeds)}), got {no_clip_seeds!r}")
models = {"ZF": load_experiments("zf", profile, seeds, **kw), "AlexNet": load_experiments("alexnet", profile, seeds, **kw)}
if no_clip_seeds:
    models["ZF, no clipping"] = load_experiments("zf", profile, no_clip_seeds, clip_radius=None, **kw)
val = models["ZF"][0].val
display(Markdown("; ".join(f"{m}: " + ", ".join(f"`{x.run.name}`" for x in xs) for m, xs in models.items())
                 + f"; {models['ZF'][0].epoch} epochs each."))

# %% tags=["hide-input"]
for tag, name in [(t, m) for t, m in (("(a)", "ZF, no clipping"), ("(b)", "AlexNet"), ("(c)", "ZF")) if m in models]:
    filter_bank(models[name][0].model.conv1.weight, common_scale=True, title=f"{tag} {name} conv1, seed {seeds[0]}")
plt.show()

# %% tags=["hide-input"]
rng = np.random.default_rng(pick_seed)
for tag, exp in (("(d) AlexNet", models["AlexNet"][0]), ("(e) ZF", models["ZF"][0])):
    t = top_activations(exp.model, val.images, exp.mean, exp.crop, ["conv2"], k=k, progress=False)
    channels = sorted(rng.choice(t.channel.nunique(), size=min(layer2_maps, t.channel.nunique()), replace=False))
    tp = project_top(exp.model, val.images, exp.mean, exp.crop, t[t.channel.isin(channels)])
    topk_figure(tp, exp.mean, "conv2", list(channels), k=k, title=f"{tag} conv2: top-{k} projections and patches")
    plt.show()

# %% [markdown]
# ## Dominant and dead filters, aliasing

# %% tags=["hide-input"]
ids = torch.randperm(len(val), generator=torch.Generator().manual_seed(pick_seed))[:n_images]
stats = {m: [filter_stats(x.model, val.images, x.mean, x.crop, "conv1") for x in xs] for m, xs in models.items()}
alias = {m: np.stack([shift_change(x.model, val.images[ids], x.mean, x.crop).numpy() for x in xs])
         for m, xs in models.items()}
top3 = {m: np.array([[top_energy_share(x.model.conv1.weight)] for x in xs]) for m, xs in models.items()}
dead = {m: np.stack([s.dead.to_numpy(float) for s in st]) for m, st in stats.items()}
radius = models["ZF"][0].config.clip_radius
over = {m: np.array([filters_over_radius(x.model, radius) for x in xs]) for m, xs in models.items()}
summary = pd.DataFrame({m: {"conv1 top-3 energy share": top3[m].mean(), "dead conv1 filters (share)": dead[m].mean(),
                            "conv2 change under 1-3 px shifts": alias[m].mean(),
                            f"conv filters with RMS over {radius:g}": over[m].mean()} for m in models}).T
display(tidy(summary, 3, index=True))
parts = {"C5": group_difference(top3["ZF, no clipping"], top3["ZF"]) if no_clip_seeds else (np.nan, np.nan, np.nan, 0),
         "C6a": group_difference(dead["AlexNet"], dead["ZF"]),
         "C6b": paired_difference(alias["AlexNet"], alias["ZF"])}
engaged = [bool(v) for v in over.get("ZF, no clipping", [])]
diff = [max_weight_difference(a.model, b.model) for a, b in zip(models["ZF"], models.get("ZF, no clipping", []))]
c5 = (f"Manipulation check: filters over the clipping radius {radius:g} in the unclipped models at the end, per "
      f"seed: {over.get('ZF, no clipping', np.zeros(0)).tolist()}; largest weight difference between the clipped "
      f"and unclipped model of each seed: {[f'{d:.2g}' for d in diff]}. C5 is tested only if clipping engages in "
      "every seed.")
evs = [claims.evidence(c, est, (lo, hi), n, profile, seeds=n, chapter="05_fig6_architecture",
                       testable=c != "C5" or all(engaged), note=c5 if c == "C5" and no_clip_seeds else "")
       for c, (est, lo, hi, n) in parts.items()]
for ev in evs:
    claims.show(ev)
display(Markdown(claims.composite_line("C6", evs)))

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(summary, claims.combine([claims.decide(claims.REGISTRY[e.claim], e) for e in evs])))
