"""The book's chapters: their names (the jupytext notebooks under ``notebooks/``), the parameters each declares, the
smaller ones CI runs them with, and each chapter's design (``zfviz.studies``) built from those parameters.

Below both ``plan`` and ``book``: the plan asks a chapter's study for its runs, the book executes the chapter.

>>> chapters()[:2]
['01_training', '02_fig2_top9']
"""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

from zfviz.core.paths import repo_root

REPO = repo_root() or Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"


def chapters() -> list[str]:
    """Chapter names, in book order: the jupytext notebooks under ``notebooks/``."""
    return sorted(p.stem for p in NOTEBOOKS.glob("*.py"))


def declared_parameters(name: str) -> dict[str, str]:
    """The parameters a chapter declares in its ``parameters`` cell, with their default expressions."""
    import jupytext  # heavy (jupytext, papermill): only when a chapter's parameters are read
    import papermill as pm  # heavy (jupytext, papermill): only when a chapter's parameters are read

    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"{name}.ipynb"
        jupytext.write(nb, path)
        return {k: v["default"] for k, v in pm.inspect_notebook(str(path)).items()}


def check_parameters(name: str, parameters: dict) -> None:
    """One clear error for a parameter the chapter does not declare (papermill would only warn and ignore it)."""
    declared = declared_parameters(name)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise ValueError(f"unknown parameter{'s' if len(unknown) > 1 else ''} {unknown} for chapter {name}; "
                         f"valid: {', '.join(declared)}")


def chapter_parameters(name: str, profile: str) -> dict:
    """A chapter's default parameters (its ``parameters`` cell) with the profile's small ones on top
    (``SMALL_PARAMETERS``)."""
    out = {k: ast.literal_eval(v) for k, v in declared_parameters(name).items()}
    return out | SMALL_PARAMETERS.get(profile, {}).get(name, {}) | {"profile": profile}


def chapter_study(name: str, profile: str, **overrides):
    """Chapter ``name``'s design (``zfviz.studies``) at ``profile``: its default parameters, the profile's small ones,
    then ``overrides``; validated.

    >>> [c.seed for c, _ in chapter_study("03_fig4_evolution", "smoke").runs()]  # doctest: +SKIP
    [0]
    """
    from zfviz.studies import STUDIES  # the models (torch) and the registry: only when a design is asked for

    if name not in STUDIES:
        raise ValueError(f"unknown chapter {name!r}; chapters: {', '.join(STUDIES)}")
    return STUDIES[name](**chapter_parameters(name, profile) | overrides)


# Smaller iteration counts for CI, on top of the smoke profile's sizes: the same code runs, only fewer times.
# confirm_seeds: the confirmatory runs' code path (claims.CONFIRMATORY) on one fresh smoke seed each
SMOKE_PARAMETERS = {
    "03_fig4_evolution": {"seeds": [0]},
    "04_fig5_invariance": {"seeds": [0]},
    "05_fig6_architecture": {"confirm_seeds": [3]},
    "06_fig7_occlusion": {"seeds": [0], "confirm_seeds": [1]},
    # the other init's take-off probes on two rows, not twelve: the same code, ten fewer trainings (150 s against 200 s
    # for the chapter on a loaded machine, 2026-12-02)
    "09_table3_ablations": {"seeds": [0], "takeoff_rows": ["zf", "zf-wide-fc8192"]},
    "10_tables4_6_transfer": {"splits": 2, "model_seeds": [0], "per_class": [1, 2], "heldout_seeds": [0],
                              "heldout_per_class": [1], "confirm_seeds": [1]},
    "11_table7_probes": {"splits": 2, "model_seeds": [0], "heldout_seeds": [0]},
    "12_companion_gradients": {"digit_epochs": 1, "am_steps": 10, "cm_steps": 20},
    "13_fig7_occlusion_statistic": {"n_random": 2, "seeds": [0], "confirm_seeds": [1], "n_images": 30},
    # its randomization cascade on 3 seeds x 60 images was 86 s of nbval's 115 s for this chapter (2026-12-01)
    "14_sanity_checks": {"seeds": [0], "n_images": 20, "examples": 1, "maps_shown": 2},
}


# The same for the paper-smoke profile (paper geometry on 2 images per class): one seed, a handful of images.
PAPER_SMOKE_PARAMETERS = {
    "01_training": {"seeds": [0], "long_seed": None},
    "02_fig2_top9": {"seeds": [0], "maps_per_layer": 2},
    "03_fig4_evolution": {"seeds": [0], "maps_per_layer": 2},
    "04_fig5_invariance": {"seeds": [0], "per_class": 1, "golf_balls": 2},
    "05_fig6_architecture": {"seeds": [0], "no_clip_seeds": [0], "n_images": 2, "layer2_maps": 2},
    # a 64 px occluder at a 64 px stride: 4x4 positions at 224 px, not 7x7 of 48 px at 32 (the default 16 px stride:
    # 12x12); 49 s against 101 s for the chapter (2026-12-02)
    "06_fig7_occlusion": {"seeds": [0], "others": 1, "occluder": 64, "stride": 64},
    "07_fig8_correspondence": {"seeds": [0], "random_draws": 2},
    "08_table2_imagenet": {"seeds": [0]},
    "09_table3_ablations": {"seeds": [0], "compare_inits": []},
    "10_tables4_6_transfer": {"splits": 1, "model_seeds": [0], "per_class": [1], "heldout_seeds": [0],
                              "heldout_per_class": [1]},
    "11_table7_probes": {"splits": 2, "model_seeds": [0], "heldout_seeds": [0], "per_class": [1]},
    "12_companion_gradients": {"digit_epochs": 1, "am_steps": 10, "cm_steps": 20},
    "13_fig7_occlusion_statistic": {"seeds": [0], "n_images": 4, "n_random": 1},
    # 4x4 occlusion tiles of 56 px, not 7x7 of 32: 73 s against 100 s for the chapter (2026-12-02)
    "14_sanity_checks": {"seeds": [0], "n_images": 3, "examples": 1, "maps_shown": 2, "occluder": 56},
}
SMALL_PARAMETERS = {"smoke": SMOKE_PARAMETERS, "paper-smoke": PAPER_SMOKE_PARAMETERS}
PAPER_GEOMETRY_CHAPTERS = ("02_fig2_top9", "04_fig5_invariance", "05_fig6_architecture", "06_fig7_occlusion",
                           "07_fig8_correspondence", "13_fig7_occlusion_statistic", "14_sanity_checks")


__all__ = ["NOTEBOOKS", "chapters", "declared_parameters", "check_parameters", "chapter_parameters", "chapter_study",
           "SMOKE_PARAMETERS", "PAPER_SMOKE_PARAMETERS", "SMALL_PARAMETERS", "PAPER_GEOMETRY_CHAPTERS"]
