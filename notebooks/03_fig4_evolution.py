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
# # Fig. 4: feature evolution during training
#
# **The paper (Sec. 4, Fig. 4).** For a random subset of maps in each layer, the strongest activation over *all
# training examples*, projected to pixel space, at epochs 1, 2, 5, 10, 20, 30, 40 and 64. Sudden jumps mean the
# strongest image changed. **Lower layers converge within a few epochs; upper layers only after many (40-50).**
#
# **Here.** The same on the snapshots our run saved (the paper's epochs that fall within the profile's budget, and
# the last). To measure convergence we count, per layer and epoch, the share of maps whose strongest training image
# is already the one they end with.

# %% tags=["parameters"]
profile = "cpu"
model = "zf"
seed = 0
data_root = None
runs_dir = None
layers = ["conv1", "conv2", "conv3", "conv4", "conv5"]
maps_per_layer = 6
pick_seed = 0

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from zfviz.report import structure

from zfviz.analysis.topk import project_top, top_activations
from zfviz.experiment import load_experiment
from zfviz.plots import evolution_figure
from zfviz.params import reject_unknown_parameters

reject_unknown_parameters(globals())

exp = load_experiment(model, profile, seed, data_root=data_root, runs_dir=runs_dir)
epochs = sorted(exp.snapshots())
tables = {e: top_activations(exp.at_epoch(e), exp.train.images, exp.mean, exp.crop, layers, k=1, progress=False)
          for e in epochs}
display(Markdown(f"Snapshots of `{exp.run.name}` at epochs {epochs}; strongest activation over "
                 f"{len(exp.train)} training images."))

# %% tags=["hide-input"]
rng = np.random.default_rng(pick_seed)
for layer in layers:
    n = tables[epochs[-1]].query("layer == @layer").channel.nunique()
    channels = sorted(rng.choice(n, size=min(maps_per_layer, n), replace=False).tolist())
    by_epoch = {}
    for e in epochs:
        sub = tables[e][(tables[e].layer == layer) & tables[e].channel.isin(channels)]
        by_epoch[e] = project_top(exp.at_epoch(e), exp.train.images, exp.mean, exp.crop, sub)
    evolution_figure(by_epoch, layer, channels, title=f"{layer}: strongest training activation per epoch")
    plt.show()

# %% [markdown]
# ## When does each layer settle?

# %% tags=["hide-input"]
final = tables[epochs[-1]].set_index(["layer", "channel"]).image
settled = pd.DataFrame({e: (tables[e].set_index(["layer", "channel"]).image == final).groupby("layer").mean()
                        for e in epochs}).loc[layers]
settled.columns = [f"epoch {e}" for e in epochs]
settled.round(2)

# %% tags=["hide-input"]
ax = settled.T.plot(marker="o", figsize=(6, 3.2))
ax.set(xlabel="snapshot", ylabel="share of maps with their final strongest image", ylim=(0, 1.05))
plt.show()
mid = settled.columns[len(epochs) // 2 - 1] if len(epochs) > 2 else settled.columns[0]
low, high = settled.loc[layers[:2], mid].mean(), settled.loc[layers[-2:], mid].mean()
verdict = "reproduced" if low > high else "not reproduced"
display(Markdown(
    f"**Verdict: {verdict}** (quantitative proxy). At {mid}, {low:.0%} of the conv1/conv2 maps already have their "
    f"final strongest image, against {high:.0%} of conv4/conv5 maps. The paper trained 70 epochs of ImageNet; "
    f"our budget is {exp.config.epochs} epochs of Imagenette, so the epoch numbers are not comparable, only the "
    "order in which layers settle."))

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(settled, verdict))
