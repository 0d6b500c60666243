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
# # Fig. 2: what the feature maps of each layer respond to
#
# ```{glue:md} verdict_box
# :format: myst
# ```
#
# **The paper (Sec. 4, Fig. 2).** For a random subset of feature maps in layers 1-5 of the trained model, the top 9
# activations over the validation set, each projected separately to pixel space with the deconvnet, shown beside
# the corresponding image patches. The projections reveal the structure that excites each map; the patches show
# how varied the inputs are. Layer 2 responds to corners and edge/colour conjunctions, layer 3 to textures, layer 4
# to class-specific parts (dog faces, bird legs), layer 5 to whole objects with significant pose variation:
# **higher layers are more class-specific and more invariant.**
#
# **Here.** The same procedure on the profile's trained ZF model (the first seed; the purity statistic pools all of them) and the Imagenette
# validation split. To make the claim measurable (C11) we also compute, for every map of every layer and every seed,
# the *class purity* of its top 9 (the share of its most common class), against the purity of random 9-image sets;
# the registry compares conv5 with conv1, pooling the seeds and the maps.

# %% tags=["parameters", "hide-cell"]
profile = "cpu"  # smoke | cpu | gpu
model = "zf"
seeds = [0, 1, 2]  # trained models C11 pools; the figures show the first
data_root = None
runs_dir = None
layers = ["conv1", "conv2", "conv3", "conv4", "conv5"]  # layers whose sheets are drawn (purity: all five)
maps_per_layer = 8  # random subset of maps shown per layer
k = 9  # top activations per map
pick_seed = 0  # which random subset of maps

# %% tags=["hide-input"]
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from zfviz.analysis.topk import class_purity, project_top, top_activations
from zfviz.book.plots import topk_figure
from zfviz.evidence import claims
from zfviz.evidence.report import atlas_links, show_box, show_sheet, structure, tidy
from zfviz.experiment import load_experiment
from zfviz.studies import CONV, TopNine

study = TopNine.from_namespace(globals())
exps = [load_experiment(model, profile, s, data_root=data_root, runs_dir=runs_dir) for s in seeds]
tables = [top_activations(e.model, e.val.images, e.mean, e.crop, CONV, k=k, progress=False) for e in exps]
exp, table = exps[0], tables[0]
display(Markdown(f"Model `{exp.run.name}` after epoch {exp.epoch}; top-{k} over {len(exp.val)} validation images; "
                 f"maps per layer: " + ", ".join(f"{l} {table[table.layer == l].channel.nunique()}" for l in layers)))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Layer {sheet}: for a random subset of its feature maps, the deconvnet projections of each map's 9 strongest validation activations (left, cut to their receptive fields) beside the image patches that caused them (right) (the paper's Fig. 2)."}}
rng = np.random.default_rng(pick_seed)
figures, shown = {}, {}
for layer in layers:
    n = table[table.layer == layer].channel.nunique()
    channels = shown[layer] = sorted(rng.choice(n, size=min(maps_per_layer, n), replace=False).tolist())
    sub = table[(table.layer == layer) & table.channel.isin(channels)]
    tp = project_top(exp.model, exp.val.images, exp.mean, exp.crop, sub)
    figures[layer] = topk_figure(tp, exp.mean, layer, channels, k=k,
                                 title=f"{layer}: top-{k} projections (grey = 0) beside their image patches")
    show_sheet(figures[layer], layer)
display(Markdown(atlas_links(exp.run.name, shown)))

# %% [markdown]
# ## Are higher layers more class-specific?

# %% tags=["hide-input"]
per_seed = {s: class_purity(t, exp.val.labels).set_index("layer") for s, t in zip(seeds, tables)}
purity = pd.DataFrame({f"seed {s}": p["mean"] for s, p in per_seed.items()})
chance = per_seed[seeds[0]].chance.iloc[0]
tidy(purity.assign(**{f"random {k}-image sets": chance}).rename_axis("mean purity of the maps' top-k"), 2, index=True)

# %% tags=["hide-input"]
ev = study.evidence(tables, exp.val.labels)
claims.show(ev)
show_box([ev], profile, models=f"`{model}` seeds {seeds}")

# %% [markdown]
# ## What this shows
#
# ```{glue:md} closing
# :format: myst
# ```

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(purity, claims.decide(claims.REGISTRY["C11"], ev)))
