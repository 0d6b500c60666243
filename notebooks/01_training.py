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
# # Training the ZF model (Sec. 3)
#
# **The paper.** The model of Fig. 3 is trained on ImageNet 2012 (1.3M images, 1000 classes): resize the shorter
# side to 256, centre 256x256 crop, subtract the per-pixel mean, random 224x224 crops with horizontal flips; SGD with
# mini-batch 128, learning rate $10^{-2}$ annealed by hand when validation error plateaus, momentum 0.9, dropout 0.5
# in fc6/fc7, weights initialized to $N(0, 10^{-2})$, biases 0, and *feature scale clipping*: any conv filter whose
# RMS exceeds 0.1 is renormalized to 0.1. 70 epochs took 12 days on a GTX580. Table 2 reports the single ZF model at
# **38.4% top-1 / 16.5% top-5 validation error** (10-crop) on 1000 classes.
#
# **Here.** The same recipe, one code path, at the size of the chosen `profile` (see the introduction): Imagenette
# (10 ImageNet classes) stands in for ImageNet; the annealing is automated (lr / 10 after `plateau_patience` epochs
# without a better validation top-1); weight decay 5e-4 (not stated in the paper; Krizhevsky's value).

# %% tags=["parameters"]
profile = "cpu"  # smoke | cpu | gpu | imagenet
model = "zf"  # any name in zfviz.models.VARIANTS
seed = 0
epochs = None  # None: the profile's budget
data_root = None  # None: $ZFVIZ_DATA
runs_dir = None  # None: $ZFVIZ_RUNS or ./runs (trained runs are cached there and reused)

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from zfviz.report import structure

from zfviz.profiles import get_profile
from zfviz.train import TrainConfig, ensure_trained

cfg = TrainConfig(model=model, profile=profile, seed=seed, epochs=epochs).resolved()
p = get_profile(profile)
run = ensure_trained(cfg, runs_dir, root=data_root, progress=False)
metrics = pd.read_csv(run / "metrics.csv")
display(Markdown(f"Run `{run.name}`: {cfg.model}, profile **{p.name}** (width {p.width}, {p.input_size}px crops of "
                 f"{p.resize}px images), {len(metrics)} epochs, seed {cfg.seed}."))

# %% [markdown]
# ## Learning curves
# Train accuracy is measured on the augmented training crops with dropout on, as the paper's train error; validation
# uses the centre crop each epoch and the paper's 10 crops at the snapshot epochs.

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
axes[0].plot(metrics.epoch, metrics.train_loss, label="train")
axes[0].plot(metrics.epoch, metrics.val_loss, label="val (centre crop)")
axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="loss")
axes[1].plot(metrics.epoch, metrics.train_top1, label="train top-1")
axes[1].plot(metrics.epoch, metrics.val_top1, label="val top-1 (centre)")
tc = metrics.dropna(subset=["val10_top1"])
axes[1].plot(tc.epoch, tc.val10_top1, "o", label="val top-1 (10-crop)")
axes[1].set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 100))
axes[2].semilogy(metrics.epoch, metrics.lr)
axes[2].set(xlabel="epoch", ylabel="learning rate", title="lr (annealed on plateau)")
for ax in axes[:2]:
    ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## Against the paper

# %% tags=["hide-input"]
last = metrics.iloc[-1]
chance = 100 * (1 - 1 / 10)
table = pd.DataFrame(
    {
        "paper (ImageNet-1k, 224px, width 1)": [38.4, 16.5, 70, "GTX580: ~4.1 h"],
        f"ours ({cfg.dataset}, {p.input_size}px, width {p.width})": [
            round(100 - last.val10_top1, 1), round(100 - last.val10_top5, 1), int(last.epoch),
            f"{metrics.epoch_seconds.median():.0f} s (median)"],
    },
    index=["val top-1 error % (10-crop)", "val top-5 error % (10-crop)", "epochs", "time per epoch"],
)
table

# %% tags=["hide-input"]
slow_start = metrics.loc[metrics.val_top1 < 15, "epoch"].tolist()
verdict = "reproduced" if last.val10_top1 >= 70 else "not reproduced"
display(Markdown(
    f"**Verdict: not comparable** as a number (10 easy classes, not 1000; chance error here is {chance:.0f}%). "
    f"As a recipe check (the paper's optimizer, init, clipping and augmentation train this architecture well): "
    f"**{verdict}**, {last.val10_top1:.1f}% 10-crop top-1 (goal for the cpu profile: at least 70%). "
    f"With the paper's N(0, 0.01) init the network stays near chance (below 15% val top-1) in epochs "
    f"{', '.join(map(str, slow_start)) or 'none'}: the activations shrink several-fold per layer at init, so the "
    "first updates are tiny; it then takes off without any change to the recipe."))

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(table, verdict))
