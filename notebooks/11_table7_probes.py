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
# # Table 7: how discriminative is each layer?
#
# ```{glue:md} verdict_box
# :format: myst
# ```
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

# %% tags=["parameters", "hide-cell"]
profile = "cpu"
model = "zf"
model_seeds = [0, 1, 2]  # the Imagenette models the features come from (C10 pools them)
seed = 0  # seed of the random splits
splits = 5
per_class = [30, 60]
svm_layers = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc7"]
heldout_seeds = [0, 1, 2]  # source models trained on 5 Imagenette classes, probed on the other 5 ([]: skip)
softmax_layers = ["conv5", "fc7"]
target = "imagewoof"
data_root = None
runs_dir = None
dataset = None

# %% tags=["hide-input"]
import pandas as pd
from IPython.display import Markdown, display
from scipy.stats import spearmanr

from zfviz.analysis.probes import heldout_table, layer_probes, probe_table, summarize
from zfviz.book.plots import curves_by_layer
from zfviz.data.sets import heldout_split, load_split
from zfviz.evidence import claims
from zfviz.evidence.paper import TABLE7
from zfviz.evidence.report import show_box, structure, tidy
from zfviz.experiment import load_experiments
from zfviz.runs.store import restrict_classes
from zfviz.studies import Probes

study = Probes.from_namespace(globals())
exps = load_experiments(model, profile, model_seeds, **study.loads)
exp = exps[0]
pool = load_split(target, "val", exp.profile.resize, root=data_root, progress=False)
display(Markdown(f"Features of {', '.join(f'`{x.run.name}`' for x in exps)} on `{target}` ({len(pool)} images); "
                 f"{splits} splits of seed {seed}; C cross-validated per split and layer."))

# %% tags=["hide-input"]
layers = {"svm": svm_layers, "softmax": softmax_layers}
results = pd.concat([layer_probes(x.model, pool.images, pool.labels, x.mean, x.crop, layers, per_class, splits=splits,
                                  seed=seed, max_test=exp.profile.val_per_class).assign(seed=s)
                     for s, x in zip(model_seeds, exps)], ignore_index=True)
table = probe_table(results, layers)
paper = TABLE7.set_index(["classifier", "layer"])
table["Caltech-101 30/class (different dataset)"] = paper.caltech101_30.reindex(table.index)
table["Caltech-256 60/class (different dataset)"] = paper.caltech256_60.reindex(table.index)
tidy(table, 1, index=True)

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
tidy(source_svm.to_frame(f"SVM accuracy %, Imagenette val, {k_control}/class"), 1, index=True)

# %% tags=["hide-input"] mystnb={"figure": {"caption": "Linear-SVM accuracy by layer on Imagewoof, on the source dataset (control), and the paper's Caltech curves (dashed, a different dataset): the trend of the paper's Table 7."}}
curves_by_layer({f"ours, {target}, {k}/class": (table.loc["svm", f"{k}/class mean"], table.loc["svm", f"{k}/class std"])
                 for k in per_class} | {f"control: Imagenette (source), {k_control}/class": (source_svm, None)},
                svm_layers, {"paper, Caltech-101 30/class": paper.loc["svm"].caltech101_30,
                             "paper, Caltech-256 60/class": paper.loc["svm"].caltech256_60},
                chance=100 / len(pool.classes), ylabel="test accuracy % (linear SVM)", title="Linear SVM accuracy by layer");

# %% [markdown]
# ## Held-out classes: is it the dog breeds, or any class the source never saw?
#
# The chapter's explanation for a flat trend on Imagewoof is that the source task has one dog breed, so its top layers
# never learned to tell breeds apart. A direct test inside Imagenette: source models trained on half of its classes
# (the first five folders), probed on the other five, which they never saw, and on their own five as a control.

# %% tags=["hide-input"]
if heldout_seeds:
    half, held = heldout_split(exp.val.classes)
    others = restrict_classes(exp.val, list(held))
    src = load_experiments(model, profile, heldout_seeds, classes=half, **study.loads)
    heldout = pd.concat([layer_probes(x.model, part.images, part.labels, x.mean, x.crop, {"svm": svm_layers},
                                      [k_control], splits=splits, seed=seed).assign(seed=s, probe_classes=name)
                         for s, x in zip(heldout_seeds, src) for name, part in (("held out", others), ("source", x.val))])
    display(tidy(ho := heldout_table(heldout, svm_layers), 2, index=True))

# %% tags=["hide-input"]
control_rho = spearmanr(range(len(source_svm)), source_svm).statistic
ev = study.evidence(results, control_rho, ho if heldout_seeds else None, exp.val.classes, pool.classes)
claims.show(ev)
show_box([ev], profile, models=f"`{model}` seeds {model_seeds}")

# %% [markdown]
# ## What this shows
#
# ```{glue:md} closing
# :format: myst
# ```

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(table.reset_index(), claims.decide(claims.REGISTRY["C10"], ev)))
