"""What a chapter shows a reader: the verdict box at its top, tidy tables, and the drift-free summary it prints for
nbval."""

from __future__ import annotations

import math

import pandas as pd

from .claims import REGISTRY, VERDICTS as REGISTRY_VERDICTS, Evidence, combine, decide, missing_text
from .profiles import Profile, get_profile

# The registry's vocabulary, and two older words chapters not yet moved onto the registry still print.
VERDICTS = REGISTRY_VERDICTS + ("partly reproduced", "not measured")


def structure(table: pd.DataFrame, verdict: str) -> str:
    """Shape and columns of a chapter's main table and its verdict's validity: what nbval checks across runs."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r} is not one of {VERDICTS}")
    cols = [str(c) for c in table.columns]
    return f"rows={len(table)} columns={cols} verdict in VERDICTS: True"


def tidy(table: pd.DataFrame, digits: int = 2, index: bool = False, wrap: list | None = None):
    """A table as a reader sees it: rounded to ``digits``, NaN blank, without a 0..n index unless asked for; the
    text columns in ``wrap`` wrap and align left (the site keeps other cells on one line, numbers right-aligned)."""
    styler = table.style.format(precision=digits, na_rep="")
    if wrap:
        styler = styler.set_properties(subset=wrap, **{"white-space": "normal", "text-align": "left",
                                                       "min-width": "9em"})
    return styler if index else styler.hide(axis="index")


BOX = "verdict_box"  # the glue key every chapter's box is stored under; the chapter's first cell shows it


def verdict_box(evidence: list[Evidence], profile: str | Profile, *, composite: str | None = None,
                models: str = "") -> str:
    """The MyST box a chapter opens with: each claim in the paper's words with its figure or table, the scale the
    result comes from, the paper's number beside ours, and the registry's verdict with its CI and n. At a profile
    whose numbers decide nothing (smoke), the box says so first.

    >>> from zfviz.claims import evidence
    >>> box = verdict_box([evidence("C1", 3.2, (2.2, 4.2), 3, "cpu", seeds=3)], "cpu")
    >>> "reproduced" in box and "Table 2" in box
    True
    """
    p = get_profile(profile)
    verdicts = [decide(REGISTRY[e.claim], e) for e in evidence]
    if not evidence:
        overall = "this chapter decides no claim"
    elif composite is not None:
        overall = f"{composite}: {combine(verdicts)}"
    else:
        overall = "; ".join(f"{e.claim}: {v}" for e, v in zip(evidence, verdicts))
    lines = ["```{admonition} Verdict (from the claims registry): " + overall,
             ":class: " + ("warning" if not p.decisive else "important"), ""]
    if not p.decisive:
        lines += [f"**This is the `{p.name}` profile: its numbers decide nothing.** It checks that the chapter runs; "
                  "the verdicts below are what the registry's rule gives these meaningless numbers.", ""]
    lines += [f"**Scale.** {p.scale()}" + (f"; {models}" if models else "") + ".", ""]
    if evidence:
        lines += ["| claim | the paper | ours (95% CI) | n | verdict |", "|---|---|---|---|---|"]
    for e, v in zip(evidence, verdicts):
        c = REGISTRY[e.claim]
        if v == "not run":
            ours = f"not run: {missing_text(c, e)}"
        elif math.isfinite(e.estimate):
            ours = f"{e.estimate:.3g} [{e.ci_low:.3g}, {e.ci_high:.3g}] {c.unit}"
        else:
            ours = "no estimate"
        lines.append(f"| **{c.id}** ({c.where}): {c.title} | {c.paper} | {ours} | {e.n} {c.n_unit} | **{v}** |")
    if evidence:
        lines += ["", "Rule: reproduced when the whole CI clears the claim's smallest meaningful effect, not "
                  "reproduced when it lies on the other side, else inconclusive (details and thresholds in each "
                  "verdict below)."]
    return "\n".join(lines + ["```"])


def show_box(evidence: list[Evidence], profile: str | Profile, **kwargs) -> None:
    """Store the chapter's verdict box for its first cell (``{glue:md} verdict_box``), without showing it here."""
    from IPython.display import Markdown
    from myst_nb import glue

    glue(BOX, Markdown(verdict_box(evidence, profile, **kwargs)), display=False)


def atlas_links(run: str, shown: dict[str, list[int]], atlas: "Path | None" = None) -> str:
    """A line linking each shown map to its sheet in the book's atlas (``book/atlas``), when the atlas was drawn from
    ``run``, the run the chapter shows; otherwise "" (an atlas of other weights would show other maps).

    >>> atlas_links("no-such-run", {"conv1": [3]})
    ''
    """
    import json
    from pathlib import Path

    from .paths import repo_root

    folder = atlas or ((repo_root() or Path(__file__).resolve().parents[1]) / "book" / "atlas")
    try:
        drawn = json.loads((folder / "provenance.json").read_text()).get("run")
    except (OSError, ValueError):
        return ""
    if drawn != run:
        return ""
    # pages render to book/atlas/<layer>.html beside book/results/; each sheet carries the label atlas-<layer>-<map>
    parts = [f"{layer} " + ", ".join(f"[{c}](../atlas/{layer}.html#atlas-{layer}-{c})" for c in channels)
             for layer, channels in shown.items() if channels]
    return ("The same maps in the atlas, with all their top activations and their evolution over training: "
            + "; ".join(parts) + ".") if parts else ""
