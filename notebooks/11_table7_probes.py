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
# # Table 7: how discriminative is each layer?
#
# **The paper (Sec. 5.2, Table 7).** A linear SVM on the features of layer 1, 2, 3, 4, 5 or 7 of the
# ImageNet-trained model, or a softmax on layer 5 or 7, trained on Caltech-101 (30 images per class) and Caltech-256
# (60 per class). Accuracy rises steadily with depth, from 44.8% / 24.6% (layer 1) to 85.5% / 71.7% (layer 7):
# **higher layers give more discriminative features**. Layer 5 is about as good as layer 7 on Caltech-101.
#
# **Here.** The same probes on Imagewoof with 30 and 60 images per class (the rest for testing, 5 random splits,
# mean and standard deviation), features of the Imagenette-trained ZF model (each layer's readout: the pooled map
# where the layer is pooled, flattened; inputs standardized per feature before the classifier). The Caltech columns
# are a **different dataset**, shown for the trend.

# %% tags=["parameters"]
profile = "cpu"
model = "zf"
model_seed = 0  # seed of the Imagenette model the features come from
seed = 0  # seed of the random splits
splits = 5
per_class = [30, 60]
svm_layers = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc7"]
softmax_layers = ["conv5", "fc7"]
target = "imagewoof"
data_root = None
runs_dir = None

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
from IPython.display import Markdown, display
from scipy.stats import spearmanr

from zfviz.analysis.probes import layer_probes, summarize
from zfviz.data import load_split
from zfviz.experiment import load_experiment
from zfviz.models import layer_names
from zfviz.paper import TABLE7
from zfviz.params import check_int, check_int_list
from zfviz.report import structure
from zfviz.params import reject_unknown_parameters

reject_unknown_parameters(globals())

for name, v in (("seed", seed), ("model_seed", model_seed)):
    check_int(name, v, minimum=0)
check_int("splits", splits)
check_int_list("per_class", per_class, minimum=1)
exp = load_experiment(model, profile, model_seed, data_root=data_root, runs_dir=runs_dir)
valid = layer_names(exp.model)
bad = [layer for layer in svm_layers + softmax_layers if layer not in valid]
if bad:
    raise ValueError(f"unknown layers {bad}; valid: {valid}")
pool = load_split(target, "val", exp.profile.resize, root=data_root, progress=False)
display(Markdown(f"Features of `{exp.run.name}` on `{target}` ({len(pool)} images); {splits} splits of seed {seed}."))

# %% tags=["hide-input"]
layers = {"svm": svm_layers, "softmax": softmax_layers}
results = layer_probes(exp.model, pool.images, pool.labels, exp.mean, exp.crop, layers, per_class, splits=splits,
                       seed=seed, max_test=exp.profile.val_per_class)
dims = results.groupby("layer").features.first()
s = summarize(results, ["classifier", "layer", "k"])
table = s.pivot(index=["classifier", "layer"], columns="k", values=["mean", "std"])
table.columns = [f"{k}/class {'mean' if stat == 'mean' else 'std'}" for stat, k in table.columns]
order = [("svm", layer) for layer in svm_layers] + [("softmax", layer) for layer in softmax_layers]
table = table.reindex(order)
paper = TABLE7.set_index(["classifier", "layer"])
table["Caltech-101 30/class (different dataset)"] = paper.caltech101_30.reindex(table.index)
table["Caltech-256 60/class (different dataset)"] = paper.caltech256_60.reindex(table.index)
table["features"] = [dims[layer] for _, layer in table.index]
table["solver converged (share of fits)"] = results.groupby(["classifier", "layer"]).converged.mean().reindex(table.index)
table.round(1)

# %% [markdown]
# ## A control: the same probes on the source dataset
#
# If the top layers are discriminative for the classes the network was trained on, but not for dog breeds, the
# trend should come back when the probes classify Imagenette's own validation images (a held-out split of the source
# task; the network never trained on these images).

# %% tags=["hide-input"]
k_control = min(max(per_class), int(exp.val.labels.bincount().min()) // 2)  # leave test images in every class
control = layer_probes(exp.model, exp.val.images, exp.val.labels, exp.mean, exp.crop, {"svm": svm_layers},
                       [k_control], splits=splits, seed=seed)
source_svm = summarize(control, ["layer"]).set_index("layer")["mean"].reindex(svm_layers)
table[f"Imagenette (source) {k_control}/class, control"] = source_svm.reindex(
    [layer for _, layer in table.index]).where([c == "svm" for c, _ in table.index]).to_numpy()
source_svm.round(1).to_frame(f"SVM accuracy %, Imagenette val, {k_control}/class")

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(7, 4))
x = range(len(svm_layers))
for k in per_class:
    m, e = table.loc["svm", f"{k}/class mean"], table.loc["svm", f"{k}/class std"]
    ax.errorbar(x, m.reindex(svm_layers), yerr=e.reindex(svm_layers), marker="o", capsize=3,
                label=f"ours, {target}, {k}/class")
ax.plot(x, paper.loc["svm"].caltech101_30.reindex(svm_layers), "--", color="gray", label="paper, Caltech-101 30/class")
ax.plot(x, paper.loc["svm"].caltech256_60.reindex(svm_layers), ":", color="gray", label="paper, Caltech-256 60/class")
ax.plot(x, source_svm, marker="s", color="tab:green", label=f"control: Imagenette (source), {k_control}/class")
ax.axhline(100 / len(pool.classes), color="gray", lw=0.8, ls="-.", label="chance")
ax.set_xticks(list(x), svm_layers)
ax.set_ylabel("test accuracy % (linear SVM)")
ax.set_ylim(0, 100)
ax.legend(fontsize=7)
ax.set_title("Linear SVM accuracy by layer")
plt.tight_layout()
plt.show()

# %% tags=["hide-input"]
k = max(per_class)
svm = table.loc["svm", f"{k}/class mean"].reindex(svm_layers)
rho = spearmanr(range(len(svm)), svm).statistic
top = svm.idxmax()
low = svm.iloc[: max(1, len(svm) // 3)].max()
claims = [bool(rho >= 0.8), bool(top in ("conv5", "fc7") and svm[top] - low > table.loc[("svm", top), f"{k}/class std"])]
control_rho = spearmanr(range(len(source_svm)), source_svm).statistic
verdict = "reproduced" if all(claims) else "partly reproduced" if any(claims) else "not reproduced"
display(Markdown(
    f"**Verdict: {verdict}**. With {k} images per class the SVM accuracy by layer is "
    f"{', '.join(f'{layer} {a:.1f}%' for layer, a in svm.items())}: rank correlation with depth {rho:.2f} "
    f"(holds if at least 0.8: {claims[0]}); the best layer is {top}, "
    f"{svm[top] - low:.1f} points above the best of the lowest layers (holds if a top layer and beyond one standard "
    f"deviation: {claims[1]}). Paper, Caltech-256: 24.6% (layer 1) rising to 71.7% (layer 7)."
    + f" On the source task the control gives {source_svm.iloc[0]:.1f}% at {svm_layers[0]} and "
    f"{source_svm.iloc[-1]:.1f}% at {svm_layers[-1]} (rank correlation with depth {control_rho:.2f})"
    + ("." if all(claims) else
       ": discriminative power does rise with depth for the classes the network learned. Imagenette's 10 classes "
       "hold a single dog breed, where the paper's ImageNet model had seen over a hundred, so the top layers have "
       "little to say about breeds." if control_rho >= 0.8 else
       "; the trend is missing there too, so the narrow source task alone does not explain the result.")))

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(table.reset_index(), verdict))
