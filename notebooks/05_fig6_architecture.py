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
# # Fig. 6 and Sec. 4.1: architecture selection
#
# ```{glue:md} verdict_box
# :format: myst
# ```
#
# **The paper (Sec. 4.1, Fig. 6).** Visualizing the first layers of Krizhevsky's model revealed (b) first-layer
# filters that are a mix of extremely high and low frequencies with little in between, and (d) aliasing in the
# second layer, caused by the large stride 4 of the first layer. The fix: 7x7 first-layer filters with stride 2 and
# stride 2 in layer 2 (the ZF model), which gives (c, e) more distinctive features and fewer "dead" features.
# (a) Without feature scale clipping, a few first-layer filters dominate.
#
# **Here.** ZF, the AlexNet replica and ZF without feature scale clipping, each trained with the same seeds for the
# same epochs. Three statistics, each pooled over seeds (claims C5, C6a, C6b), defined in `zfviz.analysis.filters`:
# - *dominance* (C5): the share of conv1 filter energy in its 3 largest filters, without minus with clipping. A
#   manipulation check comes first: clipping renormalizes only filters whose RMS exceeds its radius, so C5 is tested
#   only if every unclipped model ends with such filters;
# - *structureless ("dead") filters* (C6a): a conv1 filter whose mean-removed weights have a lag-1 spatial
#   autocorrelation under 0.25 along both x and y looks like noise, as the paper's dead filters do. An untrained
#   bank of the same architecture is the control (all noise);
# - *aliasing* (C6b): both architectures sample conv2 every 8 px. Evaluating conv2 at all 64 sub-stride shifts of the
#   input gives the dense map this sampling takes every 8th value of; the share of its spectral energy above the
#   sampling's Nyquist frequency is what aliases. AlexNet minus ZF, paired over the same validation images; the
#   untrained networks show what the architectures do before any learning. C6b's verdict comes from its
#   confirmatory run (`confirm_seeds`: fresh ZF and AlexNet seeds, registered on 2026-12-07 in
#   `zfviz.evidence.claims.CONFIRMATORY` before the run), with the pilot on `seeds` reported beside it.
#
# The filter banks share one scale per model (grey = 0), so a dominant filter stands out. Accuracy (claim C1) is
# decided in the Table 2 chapter only.

# %% tags=["parameters", "hide-cell"]
profile = "cpu"
seeds = [0, 1, 2]
no_clip_seeds = [0, 1, 2]  # ZF without clipping (C5), as many as seeds; an empty list leaves C5 not run
confirm_seeds = None  # C6b's confirmatory run: fresh ZF and AlexNet seeds; None: the registered design's, [] none
data_root = None
runs_dir = None
dataset = None
layer2_maps = 8  # conv2 maps projected per model for panels (d) and (e)
k = 4  # top activations per conv2 map
n_images = 100  # validation images for the aliasing statistic (64 shifted forward passes each)
pick_seed = 0

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display

from zfviz.analysis.filters import (STRUCTURELESS_BELOW, aliasing_shares, clipping_activity, conv1_filters,
                                    filter_stats, filters_over_radius, max_weight_difference, top_energy_share,
                                    untrained_control)
from zfviz.analysis.topk import project_top, top_activations
from zfviz.book.plots import autocorrelation_histogram, filter_bank, topk_figure
from zfviz.evidence import claims
from zfviz.evidence.report import show_box, show_sheet, structure, tidy
from zfviz.experiment import load_experiments
from zfviz.studies import Architecture

study = Architecture.from_namespace(globals())
fresh, kw = study.fresh, study.loads
models = {"ZF": load_experiments("zf", profile, seeds, **kw), "AlexNet": load_experiments("alexnet", profile, seeds, **kw)}
if no_clip_seeds:
    models["ZF, no clipping"] = load_experiments("zf", profile, no_clip_seeds, clip_radius=None, **kw)
val = models["ZF"][0].val
display(Markdown("; ".join(f"{m}: " + ", ".join(f"`{x.run.name}`" for x in xs) for m, xs in models.items())
                 + f"; {models['ZF'][0].epoch} epochs each."))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Conv1 filters of {sheet}, the bank on one scale around grey, seed 0."}}
panels = {"ZF, no clipping": ("(a)", "ZF without feature scale clipping"), "AlexNet": ("(b)", "the AlexNet replica"),
          "ZF": ("(c)", "ZF")}
for name, (tag, words) in [(m, v) for m, v in panels.items() if m in models]:
    show_sheet(filter_bank(models[name][0].model.conv1.weight, common_scale=True,
                           title=f"{tag} {name} conv1, seed {seeds[0]}"), f"{words} (the paper's Fig. 6{tag[1]})")

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Top activations of conv2 maps of {sheet}, projections beside patches."}}
rng = np.random.default_rng(pick_seed)
for tag, words, exp in (("(d) AlexNet", "the AlexNet replica", models["AlexNet"][0]),
                        ("(e) ZF", "ZF", models["ZF"][0])):
    t = top_activations(exp.model, val.images, exp.mean, exp.crop, ["conv2"], k=k, progress=False)
    channels = sorted(rng.choice(t.channel.nunique(), size=min(layer2_maps, t.channel.nunique()), replace=False))
    tp = project_top(exp.model, val.images, exp.mean, exp.crop, t[t.channel.isin(channels)])
    show_sheet(topk_figure(tp, exp.mean, "conv2", list(channels), k=k, title=f"{tag} conv2: top-{k} projections and "
                           "patches"), f"{words} (the paper's Fig. 6{tag[1]})")

# %% [markdown]
# ## Dominant and structureless filters, aliasing

# %% tags=["hide-input"]
ids = torch.randperm(len(val), generator=torch.Generator().manual_seed(pick_seed))[:n_images]
trained = {m: [x.model for x in xs] for m, xs in models.items()}
untrained = {f"{m}, untrained": [x.untrained() for x in models[m]] for m in ("AlexNet", "ZF")}
filters = conv1_filters(trained | untrained)
shares = {m: aliasing_shares(models[m.split(",")[0]], val.images[ids], nets)
          for m, nets in (trained | untrained).items() if m != "ZF, no clipping"}
radius = models["ZF"][0].config.clip_radius
over = {m: [filters_over_radius(net, radius) for net in nets] for m, nets in trained.items()}
top3 = {m: [top_energy_share(net.conv1.weight) for net in nets] for m, nets in trained.items()}
active = {m: np.mean([filter_stats(x.model, val.images, x.mean, x.crop, "conv1").dead.mean() for x in xs])
          for m, xs in models.items()}
summary = pd.DataFrame({m: {"conv1 top-3 energy share": np.mean(top3.get(m, np.nan)),
                            "structureless conv1 filters (share)": filters[filters.model == m].structureless.mean(),
                            "conv2 energy above the stride's Nyquist (share)": shares[m].mean() if m in shares else np.nan,
                            "conv1 filters active on under 1% of positions (share)": active.get(m, np.nan),
                            f"conv filters with RMS over {radius:g}": np.mean(over.get(m, np.nan))}
                        for m in list(trained) + list(untrained)}).T
display(tidy(summary, 3, index=True))

# %% tags=["hide-input"] mystnb={"figure": {"caption": "C6a's measure: the largest lag-1 spatial autocorrelation of every conv1 filter, trained (filled) and untrained (dashed); filters under the dotted line look like noise."}}
autocorrelation_histogram(filters, threshold=STRUCTURELESS_BELOW)
plt.show()

# %% tags=["hide-input"]
fresh_shares = {m: aliasing_shares(load_experiments(m.lower(), profile, fresh, **kw), val.images[ids])
                for m in ("AlexNet", "ZF")} if fresh else None  # C6b's confirmatory run decides
evs = study.evidence(top3, over.get("ZF, no clipping", []),
                     [max_weight_difference(a, b) for a, b in zip(trained["ZF"], trained.get("ZF, no clipping", []))],
                     clipping_activity(models["ZF"]), filters, {m: shares[m] for m in ("AlexNet", "ZF")}, fresh_shares)
for ev in evs:
    claims.show(ev)
display(Markdown(claims.composite_line("C6", evs[1:])))
display(Markdown(untrained_control(shares, filters)))
show_box(evs, profile, models=f"ZF, AlexNet{', unclipped ZF' * bool(no_clip_seeds)}, seeds {seeds}; C6b's fresh {fresh}")

# %% [markdown]
# ## What this shows
#
# ```{glue:md} closing
# :format: myst
# ```

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(summary, claims.verdict_of(evs)))
