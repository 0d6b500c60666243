"""Chapter notebooks: parameters cells, nbval references in sync with the sources, clear errors for bad values.

The chapters themselves are executed by nbval from tests/nbval (smoke profile): `pytest` runs them with
`--nbval-lax`, checking the cells tagged nbval-check-output (shapes, columns, verdict validity) and failing on any
error. Regenerate the references after changing a chapter: `python -m zfviz book --nbval-references`.
"""


import jupytext
import nbformat
import pytest

from zfviz.book import execute as book


def _code(cells):
    return [c.source.strip() for c in cells
            if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("name", book.chapters())
def test_chapter_has_parameters_and_a_checked_summary(name):
    nb = jupytext.read(book.NOTEBOOKS / f"{name}.py")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "profile" in tagged[0].source and "data_root" in tagged[0].source
    checked = [c for c in nb.cells if "nbval-check-output" in c.metadata.get("tags", [])]
    assert len(checked) == 1 and "structure(" in checked[0].source
    assert "remove-cell" in checked[0].metadata["tags"]  # checked by nbval, not shown to readers
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert ".from_namespace(globals())" in code  # its study: a misspelled parameter is an error
    assert "claims.show(" in code or "**Verdict" in code or "**Convergence" in code


@pytest.mark.parametrize("name", book.chapters())
def test_chapter_opens_with_the_registry_box_and_hides_its_parameters(name):
    nb = jupytext.read(book.NOTEBOOKS / f"{name}.py")
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    assert "```{glue:md} verdict_box" in first.source, f"{name} does not open with the verdict box"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "show_box(" in code
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "hide-cell" in params.metadata["tags"]


@pytest.mark.parametrize("name", book.chapters())
def test_no_statistic_threshold_or_testability_rule_in_a_chapter(name):
    """Every claim's evidence comes from one library function; a chapter computes no statistic for a claim itself."""
    code = "\n".join(c.source for c in jupytext.read(book.NOTEBOOKS / f"{name}.py").cells if c.cell_type == "code")
    assert "zfviz.evidence.stats" not in code, f"{name} imports zfviz.evidence.stats: compute the claim's statistic in the library"
    assert "claims.evidence(" not in code, f"{name} builds evidence itself: call the library's *_evidence function"
    assert "testable=" not in code, f"{name} sets a testability rule: it belongs with the claim, in the library"


MAX_CODE_LINES = 80  # a chapter is parameters, calls, a figure, a table and the verdict; the work is in the library


@pytest.mark.parametrize("name", book.chapters())
def test_chapter_is_thin(name):
    import ast

    code = "\n".join(c.source for c in jupytext.read(book.NOTEBOOKS / f"{name}.py").cells if c.cell_type == "code")
    lines = [t for t in (line.strip() for line in code.splitlines()) if t and not t.startswith("#")]
    tree = ast.parse("\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))))
    defined = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    assert not defined, f"{name} defines {defined}: move them into the library"
    assert len(lines) <= MAX_CODE_LINES, f"{name} has {len(lines)} lines of code (at most {MAX_CODE_LINES})"


@pytest.mark.parametrize("name", book.chapters())
def test_nbval_reference_matches_the_source(name):
    ref = book.NBVAL / f"{name}.ipynb"
    assert ref.exists(), f"missing {ref}: run python -m zfviz book --nbval-references"
    src = jupytext.read(book.NOTEBOOKS / f"{name}.py")
    stale = _code(nbformat.read(ref, as_version=4).cells) != _code(src.cells)
    assert not stale, f"{ref.name} is stale: run python -m zfviz book --nbval-references --only {name}"


def test_unknown_chapter_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown chapter 'fig99'; chapters: 01_training, 02_fig2_top9"):
        book.execute("fig99", tmp_path, {})


def test_bad_parameter_stops_with_one_clear_error(tmp_path, imagenette_here):
    """Through a kernel, as a reader's papermill run: one line naming the value, the failed notebook kept aside, no
    half-written notebook in the output folder. (Each such run, a kernel and its imports, is 9-21 s on 2 cores: two
    here; the other chapters' checks are the in-process test below.)"""
    with pytest.raises(book.ChapterError, match="unknown profile 'laptop'; valid profiles") as e:
        book.execute("01_training", tmp_path, {"profile": "laptop"}, progress=False)
    assert str(e.value).startswith("chapter 01_training failed in cell ") and "\n" not in str(e.value)
    assert e.value.kept.exists() and "ValueError" in e.value.kept.read_text()
    with pytest.raises(book.ChapterError, match="k must be an int in 1..25, got 'nine'"):
        book.execute("02_fig2_top9", tmp_path, {"profile": "smoke", "k": "nine"}, progress=False)
    assert not list(tmp_path.glob("*.ipynb")), "no half-written notebook is left behind"


def _first_cell_with(name: str, parameters: dict) -> None:
    """Run a chapter's parameters cell, then ``parameters`` as papermill injects them, then its first code cell (the
    imports and the checks), in this process: the checks must raise before any expensive work in that cell."""
    nb = jupytext.read(book.NOTEBOOKS / f"{name}.py")
    code = [c for c in nb.cells if c.cell_type == "code"]
    at = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    namespace: dict = {}
    exec(code[at].source, namespace)
    namespace.update(parameters)
    exec(code[at + 1].source, namespace)


@pytest.mark.parametrize("name, parameters, message", [
    ("12_companion_gradients", {"class_models": ["unicorn"]}, "unknown class 'unicorn'; valid: tench"),
    ("11_table7_probes", {"svm_layers": ["conv9"]}, r"unknown svm_layers \['conv9'\]; valid"),
    ("08_table2_imagenet", {"seeds": "0"}, "seeds must be a non-empty list"),
    ("02_fig2_top9", {"maps_per_layer": "abc"}, r"maps_per_layer must be a positive int, got 'abc'"),
    ("09_table3_ablations", {"rows": ["zf-tiny"]}, r"unknown rows \['zf-tiny'\]; valid"),
    ("06_fig7_occlusion", {"examples": ["n01440764/none.JPEG"]}, r"examples: \['n01440764/none.JPEG'\] are not files"),
    ("10_tables4_6_transfer", {"scratch_steps": 0}, "scratch_steps must be"),
    ("10_tables4_6_transfer", {"heldout_seeds": 0}, "heldout_seeds must be a non-empty list"),  # 0 once skipped C9
    ("11_table7_probes", {"heldout_seeds": 0}, "heldout_seeds must be a non-empty list"),
])
def test_chapter_checks_its_parameters_before_any_work(name, parameters, message, imagenette_here, tmp_path,
                                                       monkeypatch):
    monkeypatch.setenv("ZFVIZ_RUNS", str(tmp_path / "runs"))
    with pytest.raises(ValueError, match=message):
        _first_cell_with(name, {"profile": "smoke"} | parameters)
    assert not (tmp_path / "runs").exists(), "the chapter trained (or looked for runs) before checking its parameters"


def test_committed_results_are_clean_and_complete():
    """The executed chapters the site renders: one per chapter, no errors or warnings, a figure each, and a verdict
    (chapters executed since the registry carry their evidence)."""
    for name in book.chapters():
        nb = nbformat.read(book.RESULTS / f"{name}.ipynb", as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
        assert not [o for o in outputs if o.output_type == "error" or o.get("name") == "stderr"], name
        assert any("**Verdict" in o.get("data", {}).get("text/markdown", "") or "**Convergence" in
                   o.get("data", {}).get("text/markdown", "") for o in outputs), name
        assert any("image/png" in o.get("data", {}) for o in outputs), name
    assert (book.RESULTS / "summary.md").read_text() == book.verdict_summary(), "summary.md is stale"


def test_committed_claims_table_follows_the_registry():
    import math

    import pandas as pd

    from zfviz.evidence import claims

    df = pd.read_csv(book.RESULTS / "claims.csv")
    assert list(df.columns) == claims.COLUMNS
    assert set(df.verdict) <= set(claims.VERDICTS)
    for profile, part in df.groupby("profile"):
        assert {f"C{i}" for i in range(1, 12)} | {"companion"} <= set(part.claim), profile
    decided = df[df.verdict.isin(["reproduced", "not reproduced"]) & ~df.claim.isin(
        [c for c, r in claims.REGISTRY.items() if r.parts])]
    assert (decided.n >= 3).all() and decided[["ci_low", "ci_high"]].notna().all().all()
    assert book.collect_evidence() is not None
    table = claims.table(book.collect_evidence())  # the committed rows are what the registry decides today
    for r in table.itertuples():
        row = df[(df.claim == r.claim) & (df.profile == r.profile)]
        assert len(row) == 1 and row.verdict.iloc[0] == r.verdict, (r.claim, r.profile)
        if not math.isnan(r.estimate):
            assert abs(row.estimate.iloc[0] - r.estimate) <= 1e-3 * max(1, abs(r.estimate))


def test_committed_chapters_state_the_registry_verdicts():
    """Every verdict a committed chapter prints is the registry's, as claims.csv records it for that chapter's
    profile: two chapters cannot disagree, and no chapter keeps a verdict typed before the registry decided it."""
    import re

    import pandas as pd

    df = pd.read_csv(book.RESULTS / "claims.csv").set_index(["claim", "profile"]).verdict
    for name in book.chapters():
        nb = nbformat.read(book.RESULTS / f"{name}.ipynb", as_version=4)
        profile = nb.metadata.get("papermill", {}).get("parameters", {}).get("profile", "cpu")
        text = "\n".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells if c.cell_type == "code"
                         for o in c.get("outputs", []))
        lines = re.findall(r"\*\*Verdict[^*]*\*\*", text)
        for line in lines:
            m = re.fullmatch(r"\*\*Verdict \((\w+), from the claims registry\): ([a-z ]+)\.\*\*", line)
            assert m, f"{name}: verdict not from the registry: {line}"
            assert df.get((m.group(1), profile)) == m.group(2), (name, line, df.get((m.group(1), profile)))


def test_papermill_sees_every_parameter_a_chapter_assigns():
    """papermill's parameter parser silently drops a line it cannot read (e.g. an '=' inside a comment): every
    assignment in a chapter's parameters cell must be a parameter papermill can set."""
    import re

    import jupytext

    from zfviz.book.execute import NOTEBOOKS, chapters, declared_parameters

    for name in chapters():
        nb = jupytext.read(NOTEBOOKS / f"{name}.py")
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        assigned = [m.group(1) for line in cell.source.splitlines() if (m := re.match(r"^(\w+)\s*=", line))]
        assert assigned == list(declared_parameters(name)), name


@pytest.mark.slow
@pytest.mark.parametrize("name,layers,claim", [("03_fig4_evolution", ["conv2", "conv4"], "C3"),
                                               ("07_fig8_correspondence", ["conv4"], "C8")])
def test_a_layer_subset_draws_its_figures_and_leaves_the_claim_not_run(tmp_path, name, layers, claim):
    """A researcher asking for fewer layers gets those figures, and the claim that needs the others says why it is
    not run (it was refused before)."""
    from zfviz.evidence import claims

    path = book.execute(name, tmp_path, {"profile": "smoke", "seeds": [0], "layers": layers}, progress=False)
    evs = [e for e in book.collect_evidence(tmp_path) if e.claim == claim]
    assert len(evs) == 1 and claims.decide(claims.REGISTRY[claim], evs[0]) == "not run"
    assert "not computed" in evs[0].missing
    nb = path.read_text()
    assert '"output_type": "error"' not in nb and "image/png" in nb
