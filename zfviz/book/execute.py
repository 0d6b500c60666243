"""The book: execute every chapter notebook for a profile with papermill, then build the site with Jupyter Book."""

from __future__ import annotations

import copy
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

# the book's chapters and their parameters, re-exported: ``book.execute.chapters()`` is what a reader of the book calls
from zfviz.book.chapters import (  # noqa: F401
    NOTEBOOKS,
    PAPER_GEOMETRY_CHAPTERS,
    PAPER_SMOKE_PARAMETERS,
    REPO,
    SMALL_PARAMETERS,
    SMOKE_PARAMETERS,
    chapter_parameters,
    chapter_study,
    chapters,
    check_parameters,
    declared_parameters,
)
from zfviz.core import provenance
from zfviz.core.locks import staged
from zfviz.core.paths import cache_root, repo_root
from zfviz.core.profiles import get_profile
from zfviz.evidence.claims import (
    COLUMNS,
    CONFIRM_BUDGET_H,
    CONFIRM_REGISTERED,
    CONFIRMATORY,
    MEANING,
    REGISTRY,
    RULE_STATUSES,
    VERDICTS,
    Evidence,
    table,
)
from zfviz.evidence.report import SHEET_KEY, STRIP_LEGEND, ci_strip, verdict_badge

if TYPE_CHECKING:  # pandas is heavy: `import zfviz.book.execute` stays light for the CLI
    import pandas as pd

RESULTS = REPO / "book" / "results"  # executed notebooks the site renders (committed for the most faithful profile)
BOOK_PROFILE = "cpu"  # the profile the published book (book/results, book/atlas) is executed at


def output_dirs(profile: str, out: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(results, atlas) folders for a book executed at ``profile``: the published book's for ``BOOK_PROFILE`` or
    ``out="book"``; else ``_build/<profile>/`` (or ``out``), so a smoke or paper-smoke run never overwrites the
    committed book.

    >>> [str(p.relative_to(REPO)) for p in output_dirs("smoke")]
    ['_build/smoke/results', '_build/smoke/atlas']
    """
    if out == "book" or (out is None and profile == BOOK_PROFILE):
        return RESULTS, ATLAS
    root = Path(out) if out is not None else REPO / "_build" / profile
    return root / "results", root / "atlas"


def _need_checkout() -> None:
    if repo_root() is None:
        raise FileNotFoundError("the book's chapters live in a source checkout (notebooks/, book/); clone the "
                                "repository and install it with pip install -e .")


class ChapterError(ValueError):
    """A chapter failed while executing: its name, the cell, the error's last line, and where the executed notebook
    with the whole traceback was kept."""

    def __init__(self, name: str, error, kept: Path | None) -> None:
        last = (str(getattr(error, "evalue", "")) or str(error)).strip().splitlines()
        where = f"; the executed notebook with the traceback: {kept}" if kept else ""
        super().__init__(f"chapter {name} failed in cell {getattr(error, 'exec_count', '?')}: "
                         f"{getattr(error, 'ename', type(error).__name__)}: {last[-1] if last else ''}{where}")
        self.chapter, self.kept = name, kept


def _keep_failed(partial: Path, name: str) -> Path | None:
    """Copy a failed chapter's partly executed notebook where it outlives the staging folder."""
    if not partial.exists():
        return None
    dest = cache_root() / "failed-chapters" / f"{name}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(partial, dest)
    return dest


def _hide_injected_parameters(path: Path) -> None:
    """Tag papermill's injected-parameters cell ``hide-cell``: the rendered book folds it away, as it folds the
    chapter's own parameters cell; nothing is deleted."""
    import nbformat  # heavy (papermill, nbformat, pandas, torch): `import zfviz.book.execute` stays light for the CLI

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "hide-cell" not in tags:
            cell.metadata["tags"] = tags + ["hide-cell"]
    nbformat.write(nb, path)


def execute(name: str, out_dir: Path, parameters: dict, progress: bool = True) -> Path:
    """Run one jupytext notebook through papermill with ``parameters``; writes ``out_dir/<name>.ipynb`` atomically."""
    import jupytext  # heavy (papermill, nbformat, pandas, torch): `import zfviz.book.execute` stays light for the CLI
    import papermill as pm  # heavy (papermill, nbformat, pandas, torch): `import zfviz.book.execute` stays light for the CLI

    _need_checkout()
    names = chapters()
    if name not in names:
        raise ValueError(f"unknown chapter {name!r}; chapters: {', '.join(names)}")
    check_parameters(name, parameters)
    _quiet_dead_kernel_logs()
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / f".{name}.input.ipynb"
    tmp = out_dir / f".{name}.partial.ipynb"
    jupytext.write(nb, src)
    notes = out_dir / f".{name}.provenance.jsonl"
    notes.unlink(missing_ok=True)
    start = provenance.started()
    log = out_dir / f".{name}.kernel.log"
    log.unlink(missing_ok=True)
    saved = {k: os.environ.get(k) for k in ("MPLBACKEND", provenance.ENV)}
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"  # figures as PNG, whatever the caller set
    os.environ[provenance.ENV] = str(notes)  # the kernel notes every run it reads (zfviz.core.provenance)
    try:
        try:
            pm.execute_notebook(str(src), str(tmp), parameters=parameters, cwd=str(REPO), kernel_name="python3",
                                progress_bar=progress, language="python", kernel_manager_class=_ipc_kernel_manager(log))
        except pm.PapermillExecutionError as e:
            raise ChapterError(name, e, _keep_failed(tmp, name)) from None
        except Exception as e:  # the kernel died or would not start: its own log says why
            kept = cache_root() / "failed-chapters" / f"{name}.kernel.log"
            kept.parent.mkdir(parents=True, exist_ok=True)
            if log.exists():
                shutil.copyfile(log, kept)
            raise RuntimeError(f"chapter {name}: {type(e).__name__}: {e} (the kernel's log: {kept})") from None
        _hide_injected_parameters(tmp)
        _stamp(tmp, name, provenance.page(provenance.read_notes(notes), parameters.get("profile", "?"), start))
        os.replace(tmp, out_dir / f"{name}.ipynb")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for p in (src, tmp, notes, log):
            p.unlink(missing_ok=True)
    return out_dir / f"{name}.ipynb"


class _DeadKernelFilter(logging.Filter):
    """Drops the two log lines a dead kernel leaves behind: nbclient's "Kernel died while waiting for execute reply"
    and asyncio's "Task exception was never retrieved" for the DeadKernelError of a task nobody awaits."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (type(exc).__name__ == "DeadKernelError" or record.getMessage().startswith("Kernel died"))


def _quiet_dead_kernel_logs() -> None:
    """Keep a dead kernel's log lines off the terminal; the death itself is reported once, by ``execute``.

    Why: on Ctrl-C papermill shuts the kernel down while nbclient's liveness check still runs in another task; that
    task logs "Kernel died" and raises into the void, and asyncio prints its traceback when the task is collected,
    which can be at exit, after the clean "interrupted" line. So the filter stays on (added once). A kernel that
    really dies still stops the chapter with ``RuntimeError: chapter X: DeadKernelError`` and its log's path.
    """
    for logger in (logging.getLogger("asyncio"), logging.getLogger("traitlets")):
        if not any(isinstance(f, _DeadKernelFilter) for f in logger.filters):
            logger.addFilter(_DeadKernelFilter())


def _ipc_kernel_manager(log: Path) -> type:
    """A kernel manager whose kernel talks over Unix sockets in a private temporary folder, and writes its own log
    (not the cells' output, which comes back as messages) to ``log``.

    Unix sockets: the kernel and this process share a machine, so no TCP port is opened, and ipykernel prints no
    "running over TCP without encryption" warning into every chapter's log. (jupyter_client's IPC default is a path
    relative to each side's working folder; an absolute one is given.) The log: on Ctrl-C this process closes the
    kernel's sockets while a cell still runs, and the kernel's complaint about it (a ZMQError traceback) would
    otherwise land on the user's terminal after the clean "interrupted" line.
    """
    from jupyter_client.manager import AsyncKernelManager  # only when a chapter executes

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kw) -> None:
            super().__init__(**kw)
            self._ipc_dir = tempfile.mkdtemp(prefix="zfviz-kernel-")
            self.transport = "ipc"
            self.ip = str(Path(self._ipc_dir) / "k")

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
            with open(log, "ab") as f:  # the child keeps its own copy of the descriptor
                kw["stdout"] = kw["stderr"] = f
                await super()._async_launch_kernel(kernel_cmd, **kw)

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self._ipc_dir, ignore_errors=True)

    return IPCKernelManager


def _stamp(path: Path, name: str, prov: dict) -> None:
    """Put the page's provenance in its metadata and a footer cell, and leave no path of this machine in it."""
    import nbformat  # heavy (papermill, nbformat, pandas, torch): `import zfviz.book.execute` stays light for the CLI

    nb = nbformat.read(path, as_version=4)
    nb.metadata["zfviz"] = {"provenance": prov}
    pm_meta = nb.metadata.get("papermill", {})
    pm_meta["input_path"], pm_meta["output_path"] = f"notebooks/{name}.py", f"book/results/{name}.ipynb"
    params = pm_meta.get("parameters", {})
    for k, v in list(params.items()):
        if isinstance(v, str) and os.path.isabs(v):
            params[k] = f"<{k}>"  # a folder of the executing machine: named, not spelled out
    cell = nbformat.v4.new_markdown_cell(provenance.footer(prov), metadata={"tags": ["zfviz-provenance"]})
    nb.cells = [c for c in nb.cells if "zfviz-provenance" not in c.metadata.get("tags", [])] + [cell]
    nbformat.write(nb, path)


def _sheet_groups(outputs: list) -> list[list]:
    """A cell's outputs cut before each sheet after the first: text outputs stay with the sheet before them."""
    groups: list[list] = [[]]
    for o in outputs:
        if SHEET_KEY in o.get("metadata", {}) and any(SHEET_KEY in p.get("metadata", {}) for p in groups[-1]):
            groups.append([])
        groups[-1].append(o)
    return groups


def split_sheets(path: Path) -> int:
    """Give every sheet of a multi-sheet figure cell (outputs shown with ``report.show_sheet``) a cell, and so a
    numbered figure, of its own in the executed notebook at ``path``: its caption is the cell's with ``{sheet}``
    replaced by the sheet's name; the sheet's cell shows no code (its source, a comment, is removed from the page).
    Returns how many cells were added."""
    import nbformat  # heavy: only when a chapter's notebook is post-processed

    nb = nbformat.read(path, as_version=4)
    cells, added = [], 0
    for cell in nb.cells:
        outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
        if not any(SHEET_KEY in o.get("metadata", {}) for o in outputs):
            cells.append(cell)
            continue
        groups = _sheet_groups(outputs)
        template = cell.metadata.get("mystnb", {}).get("figure", {}).get("caption", "{sheet}")
        for i, group in enumerate(groups):
            sheet = next((o.metadata[SHEET_KEY] for o in group if SHEET_KEY in o.get("metadata", {})), "")
            # not empty: the book drops a code cell without source, outputs and all
            part = cell if i == 0 else nbformat.v4.new_code_cell(f"# {sheet}: drawn by the cell above",
                                                                 metadata=copy.deepcopy(dict(cell.metadata)))
            if i:
                tags = [t for t in part.metadata.get("tags", []) if t not in ("hide-input", "remove-input")]
                part.metadata["tags"] = tags + ["remove-input"]
                added += 1
            part.outputs = group
            part.metadata.setdefault("mystnb", {}).setdefault("figure", {})["caption"] = template.replace(
                "{sheet}", sheet)
            cells.append(part)
    nb.cells = cells
    nbformat.write(nb, path)
    return added


def execute_book(names: list[str], parameters: dict, out: Path = RESULTS, progress: bool = True,
                 log=print) -> Path:
    """Execute chapters into ``out`` as one unit: under a lock, into a staging copy of ``out`` that replaces it only
    when every chapter (and the summary and claims table) succeeded. A failure leaves ``out`` as it was."""
    _need_checkout()
    for name in names:  # every name and parameter checked before anything runs
        if name not in chapters():
            raise ValueError(f"unknown chapter {name!r}; chapters: {', '.join(chapters())}")
        check_parameters(name, parameters)
    small = SMALL_PARAMETERS.get(parameters.get("profile"), {})
    with staged(out, what="the results folder", copy_existing=True) as stage:
        t0 = time.perf_counter()
        for i, name in enumerate(names):
            params = small.get(name, {}) | parameters  # a profile whose numbers decide nothing runs fewer iterations
            left = ""
            if i:
                per = (time.perf_counter() - t0) / i
                left = f"; {_minutes(time.perf_counter() - t0)} so far, about {_minutes(per * (len(names) - i))} left"
            log(f"[zfviz book] chapter {i + 1} of {len(names)}: {name} "
                f"({', '.join(f'{k}={v}' for k, v in params.items())}{left})")
            split_sheets(execute(name, stage, params, progress=progress))
        if Path(out) == RESULTS or Path(out).parent.parent == REPO / "_build":  # a whole book's folder
            write_claims(stage)
            write_summary(stage)
    return Path(out)


ATLAS = REPO / "book" / "atlas"


def execute_with_atlas(names: list[str], parameters: dict, progress: bool = True, log=print, *,
                       results: Path = RESULTS, atlas: Path = ATLAS) -> None:
    """The atlas of the profile's ZF model (seed 0) and the chapters, swapped in together: the atlas is built into a
    staging folder first, the chapters run (``execute_book``), and only when both succeed does the new atlas replace
    the old one. An interruption anywhere leaves the committed atlas and results as they were, and no staging
    folder behind (a killed build's staging folders are swept by the next one)."""
    from zfviz.book.atlas import build_atlas  # heavy
    from zfviz.experiment import load_experiment  # heavy

    profile = parameters["profile"]
    log(f"[zfviz book] the atlas of the {profile} ZF model (seed 0), staged until the chapters are done")
    from zfviz.book.atlas import PROVENANCE  # heavy

    with staged(atlas, what="the atlas folder", markers=(PROVENANCE,)) as stage:
        exp = load_experiment("zf", profile, 0, data_root=parameters.get("data_root"), progress=progress)
        build_atlas(exp, stage / "atlas", progress=progress)
        execute_book(names, parameters, results, progress=progress, log=log)
        for p in (stage / "atlas").iterdir():  # the staged folder's content becomes the atlas when this block ends
            os.replace(p, stage / p.name)
        (stage / "atlas").rmdir()
        (stage / ".atlas.lock").unlink(missing_ok=True)
    log(f"[zfviz book] executed {len(names)} chapter(s) -> {results}; atlas -> {atlas}")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def build_site(builder: str = "html", strict: bool = True) -> Path:
    """``jupyter-book build`` the repository's book (notebooks are not re-executed); returns the output folder.

    ``strict``: Sphinx warnings (a broken reference, a missing chapter) fail the build.
    """
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(REPO), "--builder", builder]
    if strict:
        cmd += ["-W", "--keep-going"]
    subprocess.run(cmd, check=True, cwd=REPO)
    return REPO / "_build" / builder


NBVAL = REPO / "tests" / "nbval"  # smoke-profile reference notebooks that CI re-executes with nbval


def keep_checked_outputs(path: Path) -> None:
    """Drop every output except those of cells tagged ``nbval-check-output`` (the references stay small)."""
    import nbformat  # heavy (papermill, nbformat, pandas, torch): `import zfviz.book.execute` stays light for the CLI

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "nbval-check-output" not in cell.metadata.get("tags", []):
            cell.outputs = []
            cell.execution_count = None
    for key in ("papermill",):
        nb.metadata.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)


def make_nbval_references(names: list[str] | None = None, progress: bool = True) -> list[Path]:
    """Execute chapters in the smoke profile into ``tests/nbval`` and keep only the checked outputs."""
    out = []
    for name in names or chapters():
        path = execute(name, NBVAL, {"profile": "smoke"} | SMOKE_PARAMETERS.get(name, {}), progress=progress)
        keep_checked_outputs(path)
        out.append(path)
    return out


def collect_evidence(results: Path = RESULTS) -> list:
    """The evidence every executed chapter in ``results`` carries (``claims.show`` outputs), in book order."""
    import nbformat  # heavy (papermill, nbformat, pandas, torch): `import zfviz.book.execute` stays light for the CLI


    found = []
    for name in chapters():
        path = results / f"{name}.ipynb"
        if not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for o in cell.get("outputs", []) if cell.cell_type == "code" else []:
                ev = o.get("metadata", {}).get("zfviz_evidence")
                if ev:
                    found.append(Evidence.from_dict(dict(ev) | {"chapter": name}))
    return found


def write_claims(results: Path = RESULTS) -> Path:
    """``results/claims.csv`` from the evidence of the executed chapters, decided by the registry. Rows of profiles
    whose chapters were not re-executed are kept from the existing file."""
    import pandas as pd  # heavy (papermill, nbformat, pandas, torch): `import zfviz.book.execute` stays light for the CLI

    from zfviz.core.checkpoint import atomic_write  # heavy

    new = table(collect_evidence(results))
    path = results / "claims.csv"
    if path.exists():
        old = pd.read_csv(path)
        new = pd.concat([old[~old.profile.isin(set(new.profile))], new], ignore_index=True)
    new = new[COLUMNS].sort_values(["profile", "claim"], key=lambda s: s.map(_claim_order) if s.name == "claim"
                                   else s, kind="stable", ignore_index=True)
    return atomic_write(path, lambda tmp: new.to_csv(tmp, index=False, float_format="%.4g"))


def _claim_order(claim: str) -> tuple:

    m = re.fullmatch(r"C(\d+)([a-z]?)", claim)
    return (0, int(m.group(1)), m.group(2)) if m else (1, 0, claim)


def _summary_cell(c, r) -> str:
    """One claim's cell of the summary at one profile: the verdict badge, estimate [CI] and n (or what is missing),
    the CI strip, the registered check's value and, for a confirmatory design, the pilot."""
    import pandas as pd  # heavy: only for the summary

    num = "" if pd.isna(r.estimate) else f"<br>{r.estimate:.3g} [{r.ci_low:.3g}, {r.ci_high:.3g}], n = {r.n}"
    if r.verdict == "not run" and isinstance(r.note, str) and r.note:
        num = f"<br>{r.note}"  # what is missing; an estimate on too few seeds shows inside it as deciding nothing
    line = c.check_line(float(r.check_value)) if "check_value" in r else ""  # "" for a claim unchecked or unmeasured
    check = f"<br>{line}" if line else ""
    if "pilot" in r and isinstance(r.pilot, str) and r.pilot:  # a confirmatory run decided; its pilot beside it
        check += f"<br>confirmatory; pilot: {r.pilot}"
    elif r.claim in CONFIRMATORY and r.verdict != "not run":
        check += "<br>pilot only (exploratory)"
    strip = "" if pd.isna(r.estimate) else "<br>" + ci_strip(c, r.estimate, r.ci_low, r.ci_high, r.verdict)
    return f"{verdict_badge(r.verdict)}{num}{strip}{check}"


def verdict_summary(results: Path = RESULTS) -> str:
    """The summary page: a tally, one sentence per verdict word, then one row per claim with the paper's figure or
    table, the statistic's unit, the registry's verdict per profile and its evidence, linked to the chapter; rendered
    from ``claims.csv``, nothing typed by hand."""
    import nbformat  # heavy (papermill, nbformat, pandas, torch): `import zfviz.book.execute` stays light for the CLI
    import pandas as pd  # heavy (papermill, nbformat, pandas, torch): `import zfviz.book.execute` stays light for the CLI


    status = pd.Series([c.rule_status for c in REGISTRY.values() if not c.parts]).value_counts()
    dated = "; ".join(f"{status.get(s, 0)} {s}" for s in RULE_STATUSES if status.get(s, 0))
    lines = ["# Results at a glance", "",
             "Every verdict below comes from the claims registry (`zfviz/evidence/claims.py`): a statistic, its 95% CI and n, "
             "a threshold (the smallest effect that would support the paper), and a decision rule written before the "
             f"results it decides. Each rule is dated from git history ({dated}): the *rule fixed* column says which "
             "is which. The page is rendered from `book/results/claims.csv`, which `python -m zfviz book` writes "
             "from the evidence the executed chapters carry; the CSV has each row's threshold, the paper's value and "
             "any testability check's measured value beside the estimate and CI, so any verdict can be checked "
             "against its rule. The intervals assume roughly normal seed-to-seed variation: with 3 seeds, skewed "
             "seed effects bring a nominal 95% interval's coverage to about 91% (`tests/test_stats.py`).", "",
             f"Claims {', '.join(CONFIRMATORY)} were inconclusive near their thresholds in a pilot; for each, a "
             f"confirmatory design was registered on {CONFIRM_REGISTERED} before its run: fresh seeds (trained models) "
             "the pilot did not use, as many as decide the claim with 80% power if the pilot's estimate is true "
             f"({', '.join(f'{c} {d.seeds}' for c, d in CONFIRMATORY.items())}), run where they train in "
             f"{CONFIRM_BUDGET_H:g} h at cpu. The confirmatory result alone decides, with the pilot beside it; "
             "*pilot only* marks a result no confirmatory run has replaced (exploratory).", ""]
    path = results / "claims.csv"
    if not path.exists():
        return "\n".join(lines + ["No claims table yet: run `python -m zfviz book --profile cpu`.", ""])
    df = pd.read_csv(path)
    profiles = [p for p in ("smoke", "paper-smoke", "cpu", "gpu", "imagenet") if p in set(df.profile)]
    leaves = df[df.claim.map(lambda c: not REGISTRY[c].parts) if len(df) else []]
    for p in profiles:
        counts = leaves[leaves.profile == p].verdict.value_counts()
        tally = ", ".join(f"**{counts.get(v, 0)} {v}**" for v in VERDICTS if counts.get(v, 0))
        lines += [f"**Scale `{p}`** ({get_profile(p).scale()}): of {int((leaves.profile == p).sum())} claims "
                  f"(composites counted by their parts), {tally}.", ""]
    lines += ["What each verdict means:", ""] + [f"- **{v}**: {MEANING[v]}." for v in VERDICTS] + [""]
    head = ("| claim | paper (its value) | statistic (unit) | threshold | "
            + " | ".join(f"`{p}`: verdict, estimate [95% CI], n" for p in profiles))
    lines += ['<div class="zfviz-wide">', "", head + " | rule fixed |",
              "|---|---|---|---|" + "---|" * len(profiles) + "---|"]
    for cid, c in REGISTRY.items():
        cells = []
        for p in profiles:
            r = df[(df.claim == cid) & (df.profile == p)]
            cells.append("" if r.empty else _summary_cell(c, r.iloc[0]))
        links = ", ".join(f"[{ch[:2]}]({ch}.ipynb)" for ch in c.chapters if (results / f"{ch}.ipynb").exists())
        indent = "&nbsp;&nbsp;&nbsp;" if not c.parts and any(cid in o.parts for o in REGISTRY.values()) else ""
        what = ("all of " + ", ".join(c.parts) if c.parts else f"{c.statistic} ({c.unit})").replace("|", "\\|")
        fixed = "" if c.parts else f"{c.rule_fixed}, {c.rule_status}"
        lines.append(f"| {indent}**{cid}** {c.title}{f' ({links})' if links else ''} | {c.where} ({c.paper_value}) | "
                     f"{what} | {c.threshold_text()} | " + " | ".join(cells) + f" | {fixed} |")
    lines += ["", "</div>", "", STRIP_LEGEND, "", "## The chapters", "", '<div class="zfviz-wide">', "",
              "| chapter | profile | parameters other than the chapter's defaults | evidence for the registry |",
              "|---|---|---|---|"]
    with_evidence = {e.chapter for e in collect_evidence(results)}
    for name in chapters():
        path = results / f"{name}.ipynb"
        if not path.exists():
            lines.append(f"| {name} | not executed | | |")
            continue
        nb = nbformat.read(path, as_version=4)
        title = next((c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"), name)
        params = nb.metadata.get("papermill", {}).get("parameters", {})
        profile = params.get("profile", "?")
        # a chapter run on fewer seeds or a smaller design than its own says so here, not only in its cells
        others = ", ".join(f"`{k}={v!r}`" for k, v in params.items() if k != "profile") or "none"
        decides = any(name in c.chapters for c in REGISTRY.values())
        state = ("yes" if name in with_evidence else "no claim: context for the others" if not decides else
                 "none: executed before the claims registry and the current recipe; its own verdict line is "
                 "superseded by the table above until it is re-executed")
        lines.append(f"| [{title}]({name}.ipynb) | `{profile}` | {others} | {state} |")
    return "\n".join(lines + ["", "</div>", "", paper_scale_box(df), "", "## Cite this book", "", cite_block()]) + "\n"


def paper_scale_box(claims_table: "pd.DataFrame") -> str:
    """"Reproduce at paper scale": what the gpu and imagenet profiles cost (from the planner's FLOPs), and which
    verdicts this scale leaves open with the scale each one's registry row names."""
    from zfviz.book.plan import GPU_MFU  # pandas and the planner: only for the summary's paper-scale box

    lines = ["## Reproduce at paper scale", "", "`python -m zfviz book --profile gpu --plan` prints what a profile "
             "trains, its FLOPs and disk, and the time on the machine it runs on; with no GPU it also gives the time "
             f"on one H100 at an assumed {GPU_MFU:.0%} of its peak in the profile's precision.", ""]
    lines += [_profile_cost(p) for p in ("gpu", "imagenet")]
    lines += ["", _book_compute()]
    still = _open_verdicts(claims_table)
    if still:
        lines += ["", "Verdicts this scale leaves open, and the scale the registry says would settle them:", ""] + still
    return "\n".join(lines)


def _profile_cost(profile: str) -> str:
    """One line: a profile's runs, FLOPs and assumed time on one GPU, from the planner."""
    from zfviz.book.plan import (  # pandas and the planner: only for the summary's paper-scale box
        _duration,
        gpu_rate,
        plan,
    )

    df = plan(profile, data_root=None)
    flops = float(df.train_flops.sum() + df.eval_flops.sum())
    rate, how = gpu_rate(get_profile(profile).precision)
    return (f"- `{profile}` ({get_profile(profile).scale()}): {len(df)} runs, {flops / 1e15:,.0f} PFLOP, "
            f"{_duration(flops / rate / 3600)} of compute on one GPU ({how}), plus data and start-up.")


def _book_compute() -> str:
    """What the published book's runs took to train, from the records of the runs its chapters read at
    ``BOOK_PROFILE``, by realization and machine."""
    from zfviz.book.plan import _duration, plan  # pandas and the planner: only for the summary's paper-scale box
    from zfviz.runs.records import training_spent  # torch (runs): only for the summary

    # the committed records the published book rests on, wherever $ZFVIZ_RECORDS points for new runs
    names = [r for r in plan(BOOK_PROFILE, data_root=None).get("run", []) if r]
    spent = training_spent(names, REPO / "book" / "records")
    if spent.empty:
        return f"The `{BOOK_PROFILE}` runs the chapters read have no records here, so their compute is not known."
    parts = [(f"{r.runs} runs of realization `{r.realization}` on {r.cpu}" if r.realization != "not recorded" else
              f"{r.runs} runs recorded before records named their realization and machine")
             + f": {_duration(r.hours)}" for r in spent.itertuples()]
    return (f"**The compute this book took.** Training the `{BOOK_PROFILE}` runs its chapters read, summed from their "
            f"records' epoch times (`book/records`; wall time with evaluation and pauses is longer): "
            + "; ".join(parts) + f"; {_duration(float(spent.hours.sum()))} in all.")


def _open_verdicts(claims_table: "pd.DataFrame") -> list[str]:
    """A line per claim the book's profile leaves inconclusive or not testable, with what would settle it."""
    def settles(claim: str) -> str:
        need = REGISTRY[claim].scale_needed
        if need != "any":
            return need
        design = CONFIRMATORY.get(claim)
        if design is None:
            return "this scale, with more seeds"
        return ("this scale: its confirmatory run on fresh seeds is registered" if design.runs else
                f"this scale, with {design.seeds} fresh seeds (a confirmatory run too large to run here)")

    rows = claims_table[(claims_table.profile == BOOK_PROFILE)
                        & claims_table.verdict.isin(["inconclusive", "not testable at this scale"])]
    return [f"- **{r.claim}** ({r.verdict}): {settles(r.claim)}." for r in rows.itertuples()
            if not REGISTRY[r.claim].parts]


def cite_block(cff: Path | None = None) -> str:
    """"Cite this book": BibTeX for this work and for the paper it reproduces, generated from ``CITATION.cff``.

    >>> "@inproceedings{zeiler2014" in cite_block()
    True
    """
    import yaml  # only for the cite block

    c = yaml.safe_load((cff or REPO / "CITATION.cff").read_text())
    p = c["preferred-citation"]
    authors = " and ".join(f"{a['family-names']}, {a['given-names']}" for a in p["authors"])
    ours_by = " and ".join("{" + a["name"] + "}" for a in c["authors"])
    paper = "\n".join([f"@inproceedings{{{p['authors'][0]['family-names'].lower()}{p['year']}visualizing,",
                        f"  title = {{{p['title']}}},", f"  author = {{{authors}}},",
                        f"  booktitle = {{{p['collection-title']}}},", f"  publisher = {{{p['publisher']['name']}}},",
                        f"  pages = {{{p['start']}--{p['end']}}},", f"  year = {{{p['year']}}},",
                        f"  doi = {{{p['doi']}}},", f"  url = {{{p['url']}}}", "}"])
    ours = "\n".join(["@software{zfviz,", f"  title = {{{c['title']}}},", f"  author = {{{ours_by}}},",
                       f"  version = {{{c['version']}}},", f"  license = {{{c['license']}}}", "}"])
    return (f"{c['message']} Generated from `CITATION.cff`:\n\n```bibtex\n{paper}\n\n{ours}\n```\n"
            "\nEach page ends with the provenance of its numbers (commit, date, machine, and the weights' SHA-256).")


def write_summary(results: Path = RESULTS) -> Path:
    """Write ``verdict_summary`` to ``results/summary.md`` (atomically)."""
    from zfviz.core.checkpoint import atomic_write  # heavy

    text = verdict_summary(results)
    return atomic_write(results / "summary.md", lambda tmp: Path(tmp).write_text(text))
