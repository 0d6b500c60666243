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
# # Fig. 7, measured: does the projection show what the map needs?
#
# ```{glue:md} verdict_box
# :format: myst
# ```
#
# **The paper's argument (Sec. 4.2, Fig. 7).** Panels (b) and (c) of Fig. 7 pair the occlusion map of the strongest
# layer-5 feature map with that map's deconvnet projection: the map's activity falls when the occluder covers the
# structure the projection highlights. The paper shows this on three images; it reports no number.
#
# **Here.** The same argument over many validation images and three trained models, against pointers that need no
# deconvnet. For each image: the layer-5 map with the strongest activation and that map's strongest unit; a grey
# square (the paper's occluder size, scaled to the profile's crop) placed (a) where the unit's projection has most
# energy, (b) on the centre of the unit's receptive field, (c) where the unit's input gradient has most energy, and
# (d) at `n_random` random places. The statistic is the relative drop of the map's total activity,
# `1 - occluded / unoccluded`. Claim C7b: the projection's square silences the map more than the best of the three
# baselines (the one with the largest mean drop), image by image, with a CI over seeds and images. The verdict comes
# from the confirmatory run registered on 2026-12-07 (`confirm_seeds`: fresh models, on the next `n_images` images),
# with the pilot on `seeds` reported beside it.

# %% tags=["parameters", "hide-cell"]
profile = "cpu"
model = "zf"
seeds = [0, 1, 2]
confirm_seeds = None  # C7b's confirmatory run: fresh seeds on the next n_images images; None: the registered design's
n_images = 300  # validation images (all of them if the split is smaller), the same for every seed
occluder = 48  # side of the grey square, in pixels at 224
n_random = 4  # random squares per image
sample_seed = 0  # which images, and where the random squares go
layer = "conv5"
data_root = None
runs_dir = None
dataset = None

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import torch
from IPython.display import Markdown, display

from zfviz.analysis.occlusion import SQUARES, projection_occlusion_models
from zfviz.book.plots import drop_scatter
from zfviz.evidence import claims
from zfviz.evidence.report import show_box, structure, tidy
from zfviz.experiment import load_experiments
from zfviz.studies import OcclusionStatistic

study = OcclusionStatistic.from_namespace(globals())
fresh = study.fresh
exps = load_experiments(model, profile, seeds, **study.loads)
val, crop = exps[0].val, exps[0].crop
size = exps[0].px(occluder)
order = torch.randperm(len(val), generator=torch.Generator().manual_seed(sample_seed))
pick, fresh_pick = order[:n_images].sort().values, order[n_images:2 * n_images].sort().values  # the pilot's, the next

occ = dict(layer=layer, n_random=n_random, seed=sample_seed)
df = projection_occlusion_models(exps, seeds, val.images[pick], size, **occ)
display(Markdown(f"{len(pick)} validation images, {len(seeds)} models (`{model}`, seeds {seeds}); a {size} px square "
                 f"on {crop} px crops ({occluder} px at 224); {n_random} random squares per image."))

# %% tags=["hide-input"]
cols = [f"drop_{q}" for q in SQUARES] + ["drop_random"]
stats = df.groupby("seed")[cols].mean().T
stats["all seeds"] = df[cols].mean()
stats.index = ["projection's square", "receptive-field centre", "gradient's square", "random square (mean)"]
tidy(stats, 3, index=True)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "The projection's square against each baseline's: the relative drop of the strongest conv5 map's activity, one point per image and model; above the diagonal the projection's square silences the map more."}}
drop_scatter(df, layer)
plt.show()

# %% [markdown]
# ## The claim, measured

# %% tags=["hide-input"]
# C7b's confirmatory run: fresh models on images the pilot did not use; it alone decides
fresh_exps = load_experiments(model, profile, fresh, **study.loads) if fresh else []
if fresh and len(fresh_pick) == 0:
    raise ValueError(f"C7b's confirmatory run needs validation images beyond the pilot's {n_images}; the split has "
                     f"{len(val)}: lower n_images or pass confirm_seeds=[]")
ev = study.evidence(df, projection_occlusion_models(fresh_exps, fresh, val.images[fresh_pick], size, **occ)
                    if fresh else None)
claims.show(ev)
display(Markdown("What this does not show: the projection is computed from the map itself, so this measures how "
                 "faithful its picture is to that map, not whether the map matters to the classifier (chapter 06 "
                 "does that)."))
show_box([ev], profile, models=f"`{model}` seeds {seeds}" + (f"; confirmatory run: seeds {fresh} on {len(fresh_pick)} "
                                                              "other images" if fresh else ""))

# %% [markdown]
# ## What this shows
#
# ```{glue:md} closing
# :format: myst
# ```

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(stats, claims.decide(claims.REGISTRY["C7b"], ev)))
