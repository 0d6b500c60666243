"""Each chapter's design written once (``zfviz.studies``): the chapter, the plan and the book's small parameters all
build the same study, so a parameter or a run list cannot drift between them."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zfviz import studies
from zfviz.book import execute as book
from zfviz.book import plan
from zfviz.data.sets import IMAGENETTE_CLASSES, heldout_split

CHAPTERS = book.chapters()


def test_every_chapter_has_a_study_whose_fields_are_its_parameters():
    assert set(studies.STUDIES) == set(CHAPTERS)
    for name in CHAPTERS:
        fields = {f.name for f in dataclasses.fields(studies.STUDIES[name])}
        assert fields == set(book.declared_parameters(name)), name


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_chapter_builds_its_study_from_its_parameters(name):
    src = (book.NOTEBOOKS / f"{name}.py").read_text()
    cls = studies.STUDIES[name].__name__
    assert f"{cls}.from_namespace(globals())" in src, f"{name} does not build its study"
    assert "reject_unknown_parameters" not in src and "check_int(" not in src, "validation belongs to the study"


@pytest.mark.parametrize("profile", ["smoke", "paper-smoke"])
def test_the_books_small_parameters_build_valid_studies(profile):
    for name, small in book.SMALL_PARAMETERS[profile].items():
        assert set(small) <= set(book.declared_parameters(name)), (name, set(small))
        book.chapter_study(name, profile)  # validates


def test_the_plan_has_no_per_chapter_branch():
    tree = ast.parse(Path(plan.__file__).read_text())
    names = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not {c for c in CHAPTERS if c in names or c[:2] in names}, "plan names a chapter"
    study = book.chapter_study("10_tables4_6_transfer", "cpu")
    assert plan.chapter_runs("10_tables4_6_transfer", "cpu") == [(c, u or c.epochs) for c, u in study.runs()]


@pytest.mark.parametrize("name, bad, word", [
    ("02_fig2_top9", {"k": 0}, "k must be an int in 1..25"),
    ("05_fig6_architecture", {"no_clip_seeds": [0, 9]}, "no_clip_seeds"),
    ("05_fig6_architecture", {"confirm_seeds": [1]}, "must be fresh"),
    ("07_fig8_correspondence", {"mask": 300}, "at most the paper's 224 px crop"),
    ("09_table3_ablations", {"rows": ["no such row"]}, "rows"),
    ("09_table3_ablations", {"train": "yes"}, "train must be True or False"),
    ("10_tables4_6_transfer", {"heldout_per_class": [0]}, "heldout_per_class"),
    ("11_table7_probes", {"svm_layers": ["conv9"]}, "svm_layers"),
    ("13_fig7_occlusion_statistic", {"layer": "fc7"}, "layer"),
    ("14_sanity_checks", {"n_images": 0}, "n_images"),
])
def test_a_bad_parameter_is_one_clear_error_naming_it(name, bad, word):
    with pytest.raises(ValueError, match=word):
        book.chapter_study(name, "cpu", **bad)


def test_a_study_normalizes_what_the_chapter_reads():
    t = book.chapter_study("10_tables4_6_transfer", "cpu", per_class=[5, 1], scratch_steps=None)
    assert t.per_class == [1, 5] and t.scratch_steps == 400 and t.fresh == [3, 4, 5, 6]
    a = book.chapter_study("09_table3_ablations", "cpu", compare_seeds=None, seeds=[0, 1])
    assert a.compare_seeds == [0, 1] and a.epochs == 20 and a.quarter == 5 and a.inits == ["transported", "paper"]
    probes = [(c, u) for c, u in a.runs() if u is not None]
    assert probes and all(c.init == "paper" and u == 5 for c, u in probes)  # the profile's init is trained in full


def test_the_heldout_design_is_one_split_everywhere():
    half, held = heldout_split(IMAGENETTE_CLASSES)
    t = book.chapter_study("10_tables4_6_transfer", "cpu")
    runs = t.heldout_runs()
    assert {c.classes for c in runs if not c.few_shot} == {half}
    assert {c.classes for c in runs if c.few_shot} == {held}
    p = book.chapter_study("11_table7_probes", "cpu")
    assert {c.classes for c, _ in p.runs() if c.classes} == {half}
    assert not set(half) & set(held) and set(half) | set(held) == set(IMAGENETTE_CLASSES)


def test_crop_scaling_is_one_function():
    from zfviz.core.profiles import at_crop, px_at_crop

    assert px_at_crop(48, 112) == 24 and px_at_crop(48, 64) == 14 and px_at_crop(1, 16) == 1
    assert at_crop(16, 112) == 8.0
    for path in list(Path(studies.__file__).parent.rglob("*.py")) + list(book.NOTEBOOKS.glob("*.py")):
        code = "\n".join(line.split("#")[0] for line in path.read_text().splitlines())
        assert "/ 224" not in code and "crop / 224" not in code, f"{path.name} scales by 224 itself"


def _object_drops(effect: float, seeds: range) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = [(s, i, effect + rng.normal(0, 0.01), 1.0, 0.4) for s in seeds for i in range(120)]
    return pd.DataFrame(rows, columns=["seed", "image", "matched", "worst_on", "worst_chance"])


def test_a_study_with_synthetic_tables_gives_known_evidence_and_its_confirmatory_run_decides():
    from zfviz.evidence.claims import REGISTRY, decide

    occ = book.chapter_study("06_fig7_occlusion", "cpu")
    pilot, fresh = _object_drops(0.2, range(3)), _object_drops(-0.2, range(3, 7))
    c7a, c7c = occ.evidence(pilot, fresh)
    assert (c7a.claim, c7c.claim) == ("C7a", "C7c")
    assert decide(REGISTRY["C7a"], c7a) == "not reproduced" and c7a.estimate < 0  # the fresh run decides ...
    assert c7a.pilot.startswith("0.19") and "Decided by its confirmatory run" in c7a.note  # ... the pilot beside it
    assert decide(REGISTRY["C7c"], c7c) == "reproduced" and not c7c.pilot  # C7c: the pilot decides
    alone = book.chapter_study("06_fig7_occlusion", "cpu", confirm_seeds=[]).evidence(pilot)
    assert decide(REGISTRY["C7a"], alone[0]) == "reproduced" and alone[0].estimate > 0


def test_a_study_without_its_inputs_says_not_run():
    from zfviz.evidence.claims import REGISTRY, decide

    ev = book.chapter_study("10_tables4_6_transfer", "cpu", heldout_seeds=[]).evidence(None)
    assert ev.claim == "C9" and decide(REGISTRY["C9"], ev) == "not run" and "heldout_seeds is empty" in ev.missing


def test_every_study_that_decides_claims_has_evidence():
    for name, cls in studies.STUDIES.items():
        if name != "01_training":
            assert "evidence" in cls.__dict__, f"{name}'s study has no evidence()"
