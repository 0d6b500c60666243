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
# # Table 3: ablations, every row trained from scratch
#
# ```{glue:md} verdict_box
# :format: myst
# ```
#
# **The paper (Sec. 5.1, Table 3).** Twelve variants of the AlexNet replica and the ZF model, each trained from
# scratch on ImageNet, with train top-1 and validation top-1 / top-5 error. Its conclusions: **depth matters**
# (removing layers 3, 4, 6 and 7 together is far worse, 71.3%, than removing either pair, 45.4% / 44.8%); **the
# size of the fully connected layers matters little** (2048 or 8192 units move the error by at most about a
# point); **wider middle convolutional layers help** (37.5% against 38.4%); and **making everything wider
# overfits** (train error 10.0% against 38.3% on validation).
#
# **Here.** The same twelve architectures (or the `rows` chosen) on the profile's dataset, each trained for the
# profile's budget (`ablation_epochs`, the same as the main models' `epochs` wherever the machine affords it, so that
# Table 3 and Table 2 compare models trained alike), `seeds` per row. A part of C2 whose rows are not all trained with
# every seed is **not run** (missing compute, never a result); `train = False` shows the finished runs only, in `runs/`
# or in their committed records (`book/records`: the rows need only their metrics, so a queue of several sessions
# keeps them when `runs/` is lost). Errors
# are 10-crop on the validation split; train error is the running top-1 error over the last epoch, with augmentation
# and dropout on, as a training curve reports it. The first table puts the paper's numbers beside ours (our seed mean,
# with the range over seeds in brackets), with each row's change against its base (the replica for AlexNet rows, ZF for
# ZF rows); the second says what each row is, its budget, its take-off epochs and whether the rule below compares it.
#
# **The init-plateau confound.** Under the paper's N(0, 1e-2) init a reduced-width network starts with tiny logits and
# sits near chance for epochs; how long depends on the architecture, so a short budget ranks rows by when they
# *started* learning. For each run we record the epoch at which it leaves chance (centre-crop val top-1 more than a
# margin above chance, 5 points unless the `takeoff_margin` parameter says otherwise; *never* if not within the
# budget), under the profile's init (the cpu profile's
# *transported* init keeps the paper's per-layer signal gain at half width) and under each init in `compare_inits`.
# Pre-registered rule: a claim is tested only on rows every seed of which left chance within the first quarter of the
# budget (`ablations.MAX_TAKEOFF_SHARE`); a part whose rows did not is `not testable at this scale`. The rule reads
# only that first quarter, so the take-off of the `takeoff_rows` (at `compare_seeds`, under every init) is measured on
# the first quarter of their runs alone; the runs stay resumable, and a later full run continues them. A run not yet
# past chance in the epochs it has shows `> k`.

# %% tags=["parameters", "hide-cell"]
profile = "cpu"
seeds = [0, 1, 2]  # seeds per ablation row
rows = None  # Table 3 rows to train; None: all twelve (a part of C2 is tested only when all its rows are)
compare_inits = ["paper"]  # inits whose take-off epochs are shown beside the profile's
compare_seeds = [0]  # seeds whose take-off is measured under every init; None: the same as seeds
takeoff_rows = None  # rows whose take-off is measured (first quarter of the budget only); None: all twelve
epochs = None  # per-row budget; None: the profile's ablation_epochs
takeoff_margin = 5.0  # points of val top-1 above chance that count as having left it
dead_images = 256  # validation images the dead units of each trained row are measured on
train = True  # train the runs that are not finished; False: only finished runs, the parts missing rows are not run
data_root = None
runs_dir = None
dataset = None

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display
from torchvision.datasets.folder import find_classes

from zfviz.analysis.ablations import (ablation_table, dead_unit_table, part_statistics, reader_tables, run_dead_units,
                                      takeoff_epochs)
from zfviz.book.plots import takeoff_curves
from zfviz.core.profiles import get_profile
from zfviz.data.sets import find_split
from zfviz.evidence import claims
from zfviz.evidence.report import show_box, structure, tidy
from zfviz.runs.trained import run_curves, run_metrics, split_trained
from zfviz.studies import Ablations

study = Ablations.from_namespace(globals())
p, epochs, rows, compare_seeds, inits, quarter = (get_profile(profile), study.epochs, study.rows, study.compare_seeds,
                                                  study.inits, study.quarter)
main, probes = study.main_runs(), study.probe_runs()
kw = dict(runs_dir=runs_dir, data_root=data_root)
missing = []
if not train:  # only what is finished (or, for the take-off probes, trained through the first quarter)
    main, missing = split_trained(main, **kw)
    probes = split_trained(probes, until=quarter, **kw)[0]
curves = pd.concat([run_curves(main, **kw), run_curves(probes, until=quarter, **kw)] if main or probes else
                   [pd.DataFrame(columns=["run", "epoch", "model", "init", "seed", "val_top1", "budget"])]
                   ).drop_duplicates(["run", "epoch"])
chance = 100 / len(find_classes(find_split(dataset or p.dataset, "val", data_root))[0])
takeoff = takeoff_epochs(curves, chance, takeoff_margin)
final = run_metrics(main, **kw).assign(val_err=lambda d: 100 - d.val10_top1, train_err=lambda d: 100 - d.train_top1)
display(Markdown(f"{len(final)} runs of {epochs} epochs under the profile's `{p.init}` init (profile `{profile}`, "
                 f"seeds {seeds}); chance is {chance:.1f}%; take-off comparison under "
                 f"{inits[1:] or 'no other init'} (seeds {compare_seeds}, first {quarter} epochs)."
                 + (f" **Not trained yet ({len(missing)} runs):** "
                    + ", ".join(f"{c.model} s{c.seed}" for c in missing) + "." if missing else "")))

# %% tags=["hide-input", "full-width"]
table = ablation_table(final, takeoff, inits, p.init, rows)
errors, described = reader_tables(table)
tidy(errors, 1, index=True)

# %% tags=["hide-input", "full-width"]
tidy(described, index=True, wrap=[("", "Table 3 row"), ("", "compared (take-off rule)")])

# %% tags=["hide-input"] mystnb={"figure": {"caption": "When each Table 3 row leaves chance: validation top-1 per epoch (seed mean) under each init; the dotted line is the take-off threshold of the pre-registered rule."}}
if len(curves):
    takeoff_curves(curves, inits, chance + takeoff_margin)
    plt.show()

# %% [markdown]
# **Why a run stays at chance: dead units.** A ReLU unit that is never positive passes nothing on and gets no gradient
# through itself, so it does not come back; when every unit of a layer is dead, the network's output no longer depends
# on its input and the run stays at chance for good. Below, for each trained row, the share of each ReLU layer's units
# (a conv unit is a channel) that are never positive on `dead_images` validation images, at the last epoch, per seed;
# a row whose weights are not here (a record holds its metrics only) is left out, as is a layer that would read 0.00 in
# every run, and a blank is a layer the row lacks.

# %% tags=["hide-input"]
tidy(dead_unit_table(run_dead_units(main, dead_images, **kw), rows), index=True)

# %% [markdown]
# ## The paper's conclusions, tested

# %% tags=["hide-input"]
stats = part_statistics(final[["model", "seed", "val_err", "train_err"]], seeds=len(seeds))
evs = study.evidence(stats, table["compared"])
for ev in evs:
    claims.show(ev)
display(Markdown(claims.composite_line("C2", evs)))
show_box(evs, profile, composite="C2", models=f"{len(rows)} rows, seeds {seeds}, {epochs} epochs each")

# %% [markdown]
# ## What this shows
#
# ```{glue:md} closing
# :format: myst
# ```

# %% tags=["nbval-check-output", "remove-cell"]
print(structure(table.reset_index(), claims.verdict_of(evs)))
