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
# # Fig. 4: feature evolution during training
#
# ```{glue:md} verdict_box
# :format: myst
# ```
#
# **The paper (Sec. 4, Fig. 4).** For a random subset of maps in each layer, the strongest activation over all
# training examples, projected to pixel space, at epochs 1, 2, 5, 10, 20, 30, 40 and 64. **Lower layers converge
# within a few epochs; upper layers only after many (40-50).**
#
# **Here.** The figure for seed 0 on the snapshots the run saved (the paper's epochs within the budget, and the
# last), mined over the validation split (a third of the cost of the training split; any fixed image set shows when
# a map's preference settles). The measurement (claim C3) is tie-robust: for every map and epoch, the overlap of its
# top-9 image set with the final model's; a layer group *reaches* 50% at the first snapshot whose mean overlap is at
# least 0.5. C3's statistic is that epoch for conv4-5 minus conv1-2, averaged over seeds, with a CI that resamples
# seeds and maps.

# %% tags=["parameters", "hide-cell"]
profile = "cpu"
model = "zf"
seeds = [0, 1, 2]
data_root = None
runs_dir = None
dataset = None
layers = ["conv1", "conv2", "conv3", "conv4", "conv5"]
maps_per_layer = 6
pick_seed = 0

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from zfviz.analysis.evolution import reach_epochs, strongest_by_epoch, top_overlap, top_tables
from zfviz.book.plots import evolution_figure, line_chart
from zfviz.evidence import claims
from zfviz.evidence.report import show_box, show_sheet, structure
from zfviz.experiment import load_experiments
from zfviz.model.models import feature_shapes
from zfviz.studies import Evolution

study = Evolution.from_namespace(globals())
exps = load_experiments(model, profile, seeds, **study.loads)
snaps = [{e: x.at_epoch(e) for e in sorted(x.snapshots())} for x in exps]
tables = [top_tables(s, x.val.images, x.mean, x.crop, layers) for s, x in zip(snaps, exps)]
exp = exps[0]
display(Markdown(f"Runs {', '.join(f'`{x.run.name}`' for x in exps)}; snapshots at epochs {sorted(snaps[0])}; "
                 f"{len(exp.val)} validation images."))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Layer {sheet}: the projection of each shown map's strongest validation activation after each saved epoch, seed 0 (the paper's Fig. 4)."}}
rng = np.random.default_rng(pick_seed)
for layer in layers:
    n = feature_shapes(exp.model, exp.crop)[layer][0]
    channels = sorted(rng.choice(n, size=min(maps_per_layer, n), replace=False).tolist())
    by_epoch = strongest_by_epoch(snaps[0], tables[0], exp.val.images, exp.mean, exp.crop, layer, channels)
    show_sheet(evolution_figure(by_epoch, layer, channels, title=f"{layer}: strongest validation activation per "
                                f"epoch (seed {seeds[0]})"), layer)

# %% [markdown]
# ## When does each layer settle?

# %% tags=["hide-input"] mystnb={"figure": {"caption": "How fast each layer settles: the mean overlap of every map's top-9 validation images with the final model's, per layer and epoch (seed mean); the dashed line is the 50% the C3 statistic reads."}}
overlap = pd.concat([top_overlap(t).assign(seed=seed) for seed, t in zip(seeds, tables)], ignore_index=True)
curve = overlap.groupby(["layer", "epoch"]).overlap.mean().unstack().loc[layers]
line_chart(curve.T, "epoch", "top-9 overlap with the final model", hline=0.5, ylim=(0, 1.05),
           title="Mean top-9 overlap with the final model, per layer (seed mean)")
plt.show()
reach = reach_epochs(overlap).pivot(index="layer", columns="seed", values="epoch").loc[layers]
reach.columns = [f"seed {s}: epoch at 50%" for s in reach.columns]
display(curve.round(2).rename(columns=lambda e: f"epoch {e}"))
reach

# %% tags=["hide-input"]
ev = study.evidence(overlap, exp.config.epochs, exp.config.dataset)
claims.show(ev)
show_box([ev], profile, models=f"`{model}` seeds {seeds}")

# %% [markdown]
# ## What this shows
#
# ```{glue:md} closing
# :format: myst
# ```

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(curve, claims.decide(claims.REGISTRY["C3"], ev)))
