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
# **Here.** Imagewoof (10 dog breeds, 3,929 images) is the target, the three Imagenette-trained ZF models the
# sources: 1 / 2 / 5 / 10 training images per class (the paper's one-shot regime and up) and the rest for testing,
# over `splits` random splits. *Pretrained*: layer-7 features of each fixed source network, a new softmax
# (multinomial logistic regression). *From scratch*: the same architecture trained on the same split's images only,
# for the profile's number of SGD steps (the profile's init and lr schedule, the lr scaled to the small batch by the
# linear scaling rule, 1e-2 x batch / 128: at batch 10, 1e-2 itself left every network at chance; the test images
# never steer training); its training accuracy says whether it fitted them. Claim C9: pretrained minus from scratch at the fewest
# images per class, paired by split, with a CI over source models and splits. Retention is chance-corrected:
# (accuracy - chance) / (accuracy at the most images - chance). The Caltech numbers are a **different dataset**, shown
# for the shape of the result only. Imagewoof is hard for our source models, whose 10 classes hold a single dog
# breed, where ImageNet holds over a hundred.

# %% tags=["parameters"]
profile = "cpu"
model = "zf"
model_seeds = [0, 1, 2]  # seeds of the pretrained (Imagenette) models; C9 pools them
seed = 0  # seed of the random splits and of the from-scratch networks
splits = 3
per_class = [1, 2, 5, 10]
target = "imagewoof"
scratch_steps = None  # SGD steps of each from-scratch network; None: the profile's
scratch_batch = 32
data_root = None
runs_dir = None
dataset = None  # the source models' dataset; None: the profile's

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from zfviz import claims
from zfviz.analysis.probes import layer_features, probe
from zfviz.data import load_split
from zfviz.experiment import load_experiments
from zfviz.paper import TRANSFER
from zfviz.params import check_int, check_int_list, reject_unknown_parameters
from zfviz.report import structure, tidy
from zfviz.runs import TrainConfig, few_shot_epochs, run_metrics, scaled_lr
from zfviz.stats import hierarchical_mean

reject_unknown_parameters(globals())
check_int("seed", seed, minimum=0)
for name, v in (("splits", splits), ("scratch_batch", scratch_batch)):
    check_int(name, v)
per_class = sorted(check_int_list("per_class", per_class, minimum=1))
exps = load_experiments(model, profile, model_seeds, data_root=data_root, runs_dir=runs_dir, dataset=dataset)
p = exps[0].profile
steps = check_int("scratch_steps", p.scratch_steps if scratch_steps is None else scratch_steps)
pool = load_split(target, "val", p.resize, root=data_root, progress=False)
n_classes, chance = len(pool.classes), 100 / len(pool.classes)
display(Markdown(f"Source models: {', '.join(f'`{x.run.name}`' for x in exps)}; target `{target}`: {len(pool)} "
                 f"images, {n_classes} classes; {splits} splits of seed {seed}; from scratch: {steps} SGD steps."))

# %% tags=["hide-input"]
pre = pd.concat([probe(layer_features(x.model, pool.images, x.mean, x.crop, "fc7", progress=False), pool.labels, k,
                       classifier="softmax", splits=splits, seed=seed, max_test=p.val_per_class).assign(model_seed=s)
                 for s, x in zip(model_seeds, exps) for k in per_class])
batch = {k: min(scratch_batch, k * n_classes) for k in per_class}  # lr scaled to the batch (linear scaling rule)
configs = [TrainConfig(model, profile, dataset=target, train_per_class=k, split=s, seed=seed, batch_size=batch[k],
                       lr=scaled_lr(batch[k]), epochs=few_shot_epochs(steps, k, n_classes, batch[k]))
           for k in per_class for s in range(splits)]
scratch = run_metrics(configs, runs_dir=runs_dir, data_root=data_root).rename(
    columns={"train_per_class": "k", "val_top1": "accuracy"})
table = pd.DataFrame({"pretrained": pre.groupby("k").accuracy.mean(), "pretrained sd": pre.groupby("k").accuracy.std(),
                      "from scratch": scratch.groupby("k").accuracy.mean(),
                      "from scratch sd": scratch.groupby("k").accuracy.std(),
                      "from scratch, train top-1": scratch.groupby("k").train_top1.mean(),
                      "from scratch, epochs": scratch.groupby("k").epochs.first()})
table["pretrained retention"] = (table.pretrained - chance) / (table.pretrained.iloc[-1] - chance)
for ds in ("Caltech-101", "Caltech-256"):
    paper = TRANSFER[TRANSFER.dataset == ds].set_index("per_class")
    table[f"{ds}: pretrained / scratch (different dataset)"] = [
        f"{paper.pretrained[k]:.1f} / {paper.scratch[k]:.1f}" if k in paper.index else "" for k in table.index]
table.index.name = "training images per class"
tidy(table, 2, index=True)

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(7, 4.2))
for name, color in (("pretrained", "tab:blue"), ("from scratch", "tab:orange")):
    ax.errorbar(table.index, table[name], yerr=table[f"{name} sd"], marker="o", color=color, capsize=3,
                label=f"ours, {target}: {name}")
ax.axhline(chance, color="gray", lw=0.8, ls=":", label=f"chance ({chance:.0f}%)")
ax.set_xscale("log")
ax.set_xticks(table.index, [str(k) for k in table.index])
ax.set_xlabel("training images per class")
ax.set_ylabel("test accuracy %")
ax.set_ylim(0, 100)
ax.legend(fontsize=8)
ax.set_title("Accuracy against training images per class (sd over splits and source models)")
plt.show()

# %% [markdown]
# ## The claim, measured
#
# What this scale cannot decide: the paper's pretrained accuracies come from a source (ImageNet) that covers the
# target's concepts; ours has one dog breed among 10 classes, so a small gap here is a statement about this source,
# and ImageNet-1k would decide the claim as the paper states it.

# %% tags=["hide-input"]
few = per_class[0]
diff = (pre[pre.k == few].pivot(index="model_seed", columns="split", values="accuracy")
        - scratch[scratch.k == few].set_index("split").accuracy)
est, lo, hi, n_seeds = hierarchical_mean(diff.to_numpy())
ev = claims.evidence("C9", est, (lo, hi), diff.shape[1], profile, seeds=n_seeds, chapter="10_tables4_6_transfer",
                     note=f"At {few} image(s) per class; the from-scratch networks reach {scratch.train_top1.min():.0f}% or more "
                     "training accuracy (running, with augmentation and dropout on).")
claims.show(ev)

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(table.reset_index(), claims.decide(claims.REGISTRY["C9"], ev)))
