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
# # Beyond the paper: does the deconvnet show the network, or the image?
#
# ```{glue:md} verdict_box
# :format: myst
# ```
#
# **The question.** The paper reads a deconvnet projection as a picture of *what a unit encodes*. Later work doubted
# it. Adebayo et al. (2018, *Sanity Checks for Saliency Maps*) re-initialized a trained network's weights from the
# top layer down and found that deconvnet and guided-backprop images barely change: a picture that survives the loss
# of the weights cannot be showing what the weights learned. Mahendran & Vedaldi (2016, *Salient Deconvolutional
# Networks*) found such pictures largely independent of which unit is projected, shaped by the max-pooling switches
# and the rectification instead; Nie et al. (2018) explain both as partial image recovery.
#
# **Here, measured** on every seed's trained model. (1) *Cascading randomization*: for each validation image, the
# strongest conv5 unit of the trained model is projected (deconvnet), differentiated (its plain gradient, which differs from the deconvnet only
# in how ReLUs pass the signal down), and compared with the class score's gradient (saliency) and with occlusion of
# the class probability, which must change when the weights do. Layers are re-initialized with the training init,
# cumulatively from fc8 down to conv1; similarity to the trained model's map is the Spearman rank correlation of
# the absolute maps and SSIM. (2) *Unit against switches*: other units at the same place of the same image, against
# the same unit projected through another image's pooling switches. (3) Fig. 2 for an *untrained* network.

# %% tags=["parameters", "hide-cell"]
profile = "cpu"
model = "zf"
seeds = [0, 1, 2]  # trained models pooled (the registry decides on 3 or more); figures show the first
data_root = None
runs_dir = None
n_images = 100  # validation images, a random sample
sample_seed = 0
occluder = 32  # occlusion tile side, pixels at 224
randomization_seed = 0
examples = 3  # images shown in the example grid
maps_shown = 8  # conv5 maps in the random-weights Fig. 2

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import Markdown, display

from zfviz.analysis.sanity import cascading_randomization, similarity_summary, stage_maps, unit_and_switches
from zfviz.analysis.topk import class_purity, project_top, top_activations
from zfviz.book.plots import maps_grid, randomization_figure, topk_figure
from zfviz.data.sets import center_crop, crop_of
from zfviz.evidence import claims
from zfviz.evidence.report import show_box, structure, tidy
from zfviz.experiment import load_experiments
from zfviz.studies import Sanity

study = Sanity.from_namespace(globals())
exps = load_experiments(model, profile, seeds, data_root=data_root, runs_dir=runs_dir)
exp = exps[0]
pick = torch.randperm(len(exp.val), generator=torch.Generator().manual_seed(sample_seed))[:n_images]
y = exp.val.labels[pick]
xs = [center_crop(exp.val.images[pick].to(e.device), e.mean, e.crop) for e in exps]  # each model's own mean
df = pd.concat([cascading_randomization(e.model, xe, y, scheme=e.config.init, seed=randomization_seed,
                                        occluder=e.px(occluder)).assign(seed=s) for s, e, xe in zip(seeds, exps, xs)])
display(Markdown(f"Models {', '.join(f'`{e.run.name}`' for e in exps)} (epoch {exp.epoch}); the same {len(pick)} "
                 f"validation images for each; layers re-initialized with the `{exp.config.init}` init, seed "
                 f"{randomization_seed}. Tables pool the seeds; example figures show seed {seeds[0]}."))

# %% [markdown]
# ## Cascading randomization (the layout of Adebayo et al.'s Fig. 2)
#
# The table: mean Spearman correlation with the trained model's map, per stage. The deconvnet projects a unit
# signal, so a unit the random network leaves silent still has a picture.

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Cascading randomization (Adebayo et al.'s Fig. 2): similarity of each method's map to the trained model's as the layers are randomized from the top down (mean and 95% CI over images)."}}
summaries = {m: similarity_summary(df, m) for m in ("spearman", "ssim")}
randomization_figure(summaries, title="Similarity to the trained model's map as weights are randomized top-down")
plt.show()
table = summaries["spearman"].pivot(index="stage", columns="method", values="mean").loc[df.stage.unique()]
empty = summaries["spearman"].pivot(index="stage", columns="method", values="empty maps").loc[df.stage.unique()]
display(Markdown("Maps that are all zero: " + ", ".join(f"{m} {int(empty[m].sum())}" for m in empty.columns) + "."))
tidy(table, 2, index=True)

# %% tags=["hide-input"]
maps = stage_maps(exp.model, xs[0][:examples], y[:examples], ["trained", "fc6", "conv5", "conv1"],
                  scheme=exp.config.init, seed=randomization_seed, occluder=exp.px(occluder))
for method in ("deconvnet", "saliency"):
    maps_grid(xs[0][:examples], crop_of(exp.mean, exp.crop), maps, method)
    plt.show()

# %% [markdown]
# ## The unit, or the switches?

# %% tags=["hide-input"]
us = pd.concat([unit_and_switches(e.model, xe).assign(seed=s) for s, e, xe in zip(seeds, exps, xs)])
tidy(us.groupby("comparison").spearman.agg(["mean", "std", "count"]).rename(
    columns={"mean": "mean Spearman rho", "count": "pairs"}), 3, index=True)

# %% [markdown]
# ## Fig. 2 for an untrained network of the same architecture

# %% tags=["hide-input"]
untrained = exp.untrained(seeds[0])
purity = []
for tag, net in (("trained", exp.model), ("untrained", untrained)):
    top = top_activations(net, exp.val.images, exp.mean, exp.crop, ["conv5"], k=9, progress=False)
    channels = sorted(top.channel.unique()[:maps_shown].tolist())
    tp = project_top(net, exp.val.images, exp.mean, exp.crop, top[top.channel.isin(channels)])
    topk_figure(tp, exp.mean, "conv5", channels, title=f"conv5, {tag}: top-9 projections beside their patches")
    plt.show()
    purity.append(class_purity(top, exp.val.labels).assign(network=tag))
pd.concat(purity).set_index("network")[["layer", "mean", "std", "count", "chance"]].round(3)

# %% [markdown]
# ## Verdict
#
# Claim S1 has two parts, each with its own registered rule. **S1a, the weights matter:** the dissimilarity
# (1 - Spearman) between the deconvnet projection of the trained model's unit and the projection of the same unit
# once *every* layer it passes through is random, over images and seeds; a method that shows what the unit encodes
# must lose its picture with the weights. **S1b, the unit matters more than the switches:** per image, the rank
# correlation with the same unit projected through another image's switches, minus that with another unit at the
# same place through the same switches; if the picture were about the unit, changing the unit should change it more
# than changing the switches.

# %% tags=["hide-input"]
evs = study.evidence(df, us)
for ev in evs:
    claims.show(ev)
display(Markdown(claims.composite_line("S1", evs)))
sim = table.loc[table.index[-1]]
unit = us.groupby("comparison").spearman.mean()
display(Markdown(
    f"**What a reader can conclude.** With every layer random, the deconvnet picture of the same unit keeps a rank "
    f"correlation of {sim['deconvnet']:.2f} with the trained one (saliency {sim['saliency']:.2f}, occlusion "
    f"{sim['occlusion']:.2f}); other units at the same place correlate {unit['other unit, same switches']:.2f} with "
    f"the unit's picture, the same unit through another image's switches {unit['same unit, other switches']:.2f}. "
    "The fc layers never change a conv5 projection (the deconvnet does not pass through them), so a Fig. 2 picture is "
    "about the conv layers and the image, not the classifier. What speaks for a unit is the *set* of images that "
    "excite it most (the class purity above, trained against untrained); a single projection shows the input "
    "structure that the switches and rectified filters below let through, and should be read with that in mind."))
show_box(evs, profile, composite="S1", models=f"`{model}` seeds {seeds}")

# %% [markdown]
# ## What this shows
#
# ```{glue:md} closing
# :format: myst
# ```

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(table, claims.verdict_of(evs)))
