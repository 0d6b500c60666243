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
# # Tables 4-6: do the features generalize to another dataset?
#
# **The paper (Sec. 5.2, Tables 4-6).** Keep layers 1-7 of the ImageNet-trained model fixed and train a new softmax
# on a few images per class of another dataset. On Caltech-101 this gives 83.8% (15 images per class) and 86.5%
# (30), against 22.8% and 46.5% for the same architecture trained from scratch on those images; on Caltech-256,
# 65.7 / 70.6 / 72.7 / 74.2% with 15 / 30 / 45 / 60 images per class against 9.0 / 22.5 / 31.2 / 38.8% from
# scratch. The paper plots accuracy against images per class: pretrained features stay strong down to a handful of
# images per class (its one-shot discussion). PASCAL VOC (Table 6, multi-label, mean AP 79.0%) has no analog here.
#
# **Here.** Imagewoof (10 dog breeds, 3,929 images) is the target, Imagenette-trained ZF the source: 15 / 30 / 60
# training images per class and the rest for testing, over 5 random splits. *Pretrained*: layer-7 features of the
# fixed network, a new softmax (multinomial logistic regression). *From scratch*: the same architecture trained on
# the same split's images only, for a fixed number of SGD steps at a constant learning rate (the test images never
# steer training). Both see exactly the same split. The Caltech numbers are a **different dataset**: shown for
# the shape of the result, not to be matched. Imagewoof is hard for our source model, whose 10 classes hold a single
# dog breed, where ImageNet holds over a hundred.

# %% tags=["parameters"]
profile = "cpu"
model = "zf"
model_seed = 0  # seed of the pretrained (Imagenette) model
seed = 0  # seed of the random splits and of the from-scratch networks
splits = 5
per_class = [15, 30, 60]
target = "imagewoof"
scratch_steps = None  # SGD steps of each from-scratch network; None: the profile's
scratch_batch = 32
data_root = None
runs_dir = None

# %% tags=["hide-input"]
import math

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from zfviz.analysis.probes import layer_features, probe, summarize
from zfviz.data import load_split
from zfviz.experiment import load_experiment
from zfviz.runs import run_metrics
from zfviz.paper import TRANSFER
from zfviz.params import check_int, check_int_list
from zfviz.report import structure
from zfviz.runs import TrainConfig
from zfviz.params import reject_unknown_parameters

reject_unknown_parameters(globals())

for name, v in (("seed", seed), ("model_seed", model_seed)):
    check_int(name, v, minimum=0)
for name, v in (("splits", splits), ("scratch_batch", scratch_batch)):
    check_int(name, v)
check_int_list("per_class", per_class, minimum=1)
exp = load_experiment(model, profile, model_seed, data_root=data_root, runs_dir=runs_dir)
steps = check_int("scratch_steps", exp.profile.scratch_steps if scratch_steps is None else scratch_steps)
pool = load_split(target, "val", exp.profile.resize, root=data_root, progress=False)
n_classes = len(pool.classes)
display(Markdown(f"Source model `{exp.run.name}` (Imagenette, {exp.epoch} epochs); target `{target}`: "
                 f"{len(pool)} images, {n_classes} classes; {splits} splits of seed {seed}."))

# %% [markdown]
# ## Pretrained: layers 1-7 fixed, a new softmax

# %% tags=["hide-input"]
features = layer_features(exp.model, pool.images, exp.mean, exp.crop, "fc7", progress=False)
pre = pd.concat([probe(features, pool.labels, k, classifier="softmax", splits=splits, seed=seed,
                       max_test=exp.profile.val_per_class) for k in per_class])
pre["training"] = "pretrained"
if not pre.converged.all():
    display(Markdown(f"The softmax solver stopped at its iteration cap on {int((~pre.converged).sum())} of "
                     f"{len(pre)} fits (their accuracies are still reported)."))

# %% [markdown]
# ## From scratch: the same architecture, only the target's few images

# %% tags=["hide-input"]
def epochs_for(k: int) -> int:
    """Epochs that give about ``steps`` SGD steps on k images per class (full batches only)."""
    return max(1, math.ceil(steps / max(1, (k * n_classes) // scratch_batch)))


configs = [TrainConfig(model, profile, dataset=target, train_per_class=k, split=s, seed=seed,
                       batch_size=scratch_batch, epochs=epochs_for(k))
           for k in per_class for s in range(splits)]
scratch = run_metrics(configs, runs_dir=runs_dir, data_root=data_root)
scratch = scratch.rename(columns={"train_per_class": "k", "val_top1": "accuracy"})[
    ["k", "split", "accuracy", "train_top1", "epochs"]]
scratch["training"] = "from scratch"
results = pd.concat([pre[["training", "k", "split", "accuracy"]], scratch[["training", "k", "split", "accuracy"]]])
ours = summarize(results, ["training", "k"]).pivot(index="k", columns="training", values=["mean", "std"])

# %% tags=["hide-input"]
table = pd.DataFrame({"pretrained": ours[("mean", "pretrained")], "pretrained std": ours[("std", "pretrained")],
                      "from scratch": ours[("mean", "from scratch")],
                      "from scratch std": ours[("std", "from scratch")],
                      "from scratch, train top-1 (last epoch)": scratch.groupby("k").train_top1.mean(),
                      "from scratch, epochs": scratch.groupby("k").epochs.first()})
for ds in ("Caltech-101", "Caltech-256"):
    paper = TRANSFER[TRANSFER.dataset == ds].set_index("per_class")
    table[f"{ds} pretrained (different dataset)"] = paper.pretrained.reindex(table.index)
    table[f"{ds} from scratch (different dataset)"] = paper.scratch.reindex(table.index)
table.index.name = "training images per class"
table.round(1)

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(7, 4.2))
for name, color in (("pretrained", "tab:blue"), ("from scratch", "tab:orange")):
    ax.errorbar(table.index, table[name], yerr=table[f"{name} std"], marker="o", color=color, capsize=3,
                label=f"ours, {target}: {name}")
    c256 = TRANSFER[TRANSFER.dataset == "Caltech-256"]
    ax.plot(c256.per_class, c256.pretrained if name == "pretrained" else c256.scratch, "--", color=color, alpha=0.5,
            label=f"paper, Caltech-256 (different dataset): {name}")
ax.axhline(100 / n_classes, color="gray", lw=0.8, ls=":", label=f"chance ({100 / n_classes:.0f}%)")
ax.set_xlabel("training images per class")
ax.set_ylabel("test accuracy %")
ax.set_ylim(0, 100)
ax.legend(fontsize=7)
ax.set_title("Accuracy against training images per class")
plt.tight_layout()
plt.show()

# %% tags=["hide-input"]
margin = table["pretrained"] - table["from scratch"]
noise = table["pretrained std"].fillna(0) + table["from scratch std"].fillna(0)
holds = bool((margin > noise).all())
few, most = table.index.min(), table.index.max()
keep = table.loc[few, "pretrained"] / table.loc[most, "pretrained"]
verdict = "reproduced" if holds else "partly reproduced" if (margin > noise).any() else "not reproduced"
display(Markdown(
    f"**Verdict: {verdict}**: pretrained features beat training from scratch by "
    f"{', '.join(f'{m:.1f}' for m in margin)} points at {', '.join(map(str, table.index))} images per class "
    f"({'always' if holds else 'not always'} beyond the two spreads added). With {few} images per class the "
    f"pretrained softmax keeps {100 * keep:.0f}% of its accuracy at {most} (paper, Caltech-256 15 against 60: "
    f"{100 * 65.7 / 74.2:.0f}%). The absolute accuracies are not comparable with Caltech's (a different dataset, "
    "10 fine-grained classes, a 10-class source). From scratch, with the paper's recipe and "
    f"{steps} SGD steps, the networks reach {scratch.train_top1.mean():.0f}% training accuracy on average"
    + (": they have not even fitted their training images. The N(0, 1e-2) initialization spends a few hundred steps "
       "near chance before anything is learned (see the training chapter), so this baseline is weak partly because "
       "the budget is short, not only because the data are few." if scratch.train_top1.mean() < 50 else ".")
    + " Why the Imagenette features carry so little about dog breeds is examined in the Table 7 chapter, with a "
    "control on the source dataset."))

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(table, verdict))
