"""What a chapter shows a reader: the verdict box at its top, tidy tables, and the drift-free summary it prints for
nbval."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from zfviz.core.paths import repo_root
from zfviz.core.profiles import Profile, get_profile
from zfviz.evidence.claims import REGISTRY, Claim, Evidence, decide, missing_text, verdict_of
from zfviz.evidence.claims import VERDICTS as REGISTRY_VERDICTS

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
CLOSING = "closing"  # the glue key of the chapter's closing "What this shows", shown by its last markdown cell


# The CI strip's colours, by verdict kind (the same hues as the verdict badges in _static/zfviz.css, darker for a line)
STRIP_COLOURS = {"reproduced": "#2e7d32", "not reproduced": "#c62828", "inconclusive": "#b26a00",
                 "not testable at this scale": "#3f4a6b", "not comparable": "#616161", "not run": "#616161"}


def verdict_badge(verdict: str) -> str:
    """The verdict as a coloured badge (HTML the book's CSS styles by kind).

    >>> verdict_badge("not reproduced")
    '<span class="zfviz-verdict zfviz-not-reproduced">**not reproduced**</span>'
    """
    return f'<span class="zfviz-verdict zfviz-{verdict.replace(" ", "-")}">**{verdict}**</span>'


def ci_strip(claim: Claim, estimate: float, low: float, high: float, verdict: str, width: int = 110) -> str:
    """A small inline SVG of one result: the 95% CI (bar) and the estimate (dot), coloured by ``verdict``, against
    zero (solid grey) and the claim's threshold (dashed); "" where there is no finite interval.

    >>> s = ci_strip(REGISTRY["C1"], 3.5, 2.5, 4.4, "reproduced")
    >>> s.startswith("<svg") and "threshold 0.5" in s
    True
    """
    if claim.parts or not all(math.isfinite(v) for v in (estimate, low, high)):
        return ""
    ends = [low, high, estimate, 0.0, claim.min_effect]
    lo, hi = min(ends), max(ends)
    pad = 0.08 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    x = lambda v: round(2 + (v - lo) / (hi - lo) * (width - 4), 1)  # noqa: E731
    colour = STRIP_COLOURS.get(verdict, "#616161")
    label = (f"estimate {estimate:.3g}, 95% CI [{low:.3g}, {high:.3g}] {claim.unit}; zero and the threshold "
             f"{claim.min_effect:g} ({claim.threshold_text()})").replace('"', "'")
    return (f'<svg class="zfviz-strip" width="{width}" height="16" viewBox="0 0 {width} 16" role="img" '
            f'aria-label="{label}"><title>{label}</title>'
            f'<line x1="{x(0)}" y1="1" x2="{x(0)}" y2="15" stroke="#9e9e9e" stroke-width="1"/>'
            f'<line x1="{x(claim.min_effect)}" y1="1" x2="{x(claim.min_effect)}" y2="15" stroke="#444" '
            f'stroke-width="1" stroke-dasharray="2,2"/>'
            f'<line x1="{x(low)}" y1="8" x2="{x(high)}" y2="8" stroke="{colour}" stroke-width="3"/>'
            f'<circle cx="{x(estimate)}" cy="8" r="3" fill="{colour}"/></svg>')


STRIP_LEGEND = ("Each strip: the 95% CI (bar) and the estimate (dot), coloured by the verdict, against zero (solid "
                "grey line) and the claim's threshold (dashed).")


def verdict_box(evidence: list[Evidence], profile: str | Profile, *, composite: str | None = None,
                models: str = "", scale: str | None = None) -> str:
    """The MyST box a chapter opens with: each claim in the paper's words with its figure or table, the scale the
    result comes from, the paper's number beside ours, and the registry's verdict with its CI and n. At a profile
    whose numbers decide nothing (smoke), the box says so first.

    >>> from zfviz.evidence.claims import evidence
    >>> box = verdict_box([evidence("C1", 3.2, (2.2, 4.2), 3, "cpu", seeds=3)], "cpu")
    >>> "reproduced" in box and "Table 2" in box
    True
    """
    p = get_profile(profile)
    verdicts = [decide(REGISTRY[e.claim], e) for e in evidence]
    if not evidence:
        overall = "this chapter decides no claim"
    elif composite is not None:
        overall = f"{composite}: {verdict_of(evidence)}"
    else:
        overall = "; ".join(f"{e.claim}: {v}" for e, v in zip(evidence, verdicts))
    lines = ["```{admonition} Verdict (from the claims registry): " + overall,
             ":class: " + ("warning" if not p.decisive else "important"), ""]
    if not p.decisive:
        lines += [f"**This is the `{p.name}` profile: its numbers decide nothing.** It checks that the chapter runs; "
                  "the verdicts below are what the registry's rule gives these meaningless numbers.", ""]
    lines += [f"**Scale.** {scale or p.scale()}" + (f"; {models}" if models else "") + ".", ""]
    if evidence:
        lines += ["| claim | the paper | ours (95% CI) | n | verdict (threshold) |", "|---|---|---|---|---|"]
    for e, v in zip(evidence, verdicts):
        c = REGISTRY[e.claim]
        if v == "not run":
            ours = f"not run: {missing_text(c, e)}"
        elif math.isfinite(e.estimate):
            ours = (f"{e.estimate:.3g} [{e.ci_low:.3g}, {e.ci_high:.3g}] {c.unit}<br>"
                    + ci_strip(c, e.estimate, e.ci_low, e.ci_high, v))
        else:
            ours = "no estimate"
        if line := c.check_line(e.check_value):  # a registered precondition of this scale, measured: passed or failed
            ours += f"<br>{line}"
        lines.append(f"| **{c.id}** ({c.where}): {c.title}<br>*rule fixed {c.rule_fixed}, {c.rule_status}* | "
                     f"{c.paper} | {ours} | {e.n} {c.n_unit} | {verdict_badge(v)}<br>{c.threshold_text()} |")
    if evidence:
        lines += ["", "Rule: reproduced when the whole CI clears the claim's threshold (its smallest meaningful "
                  "effect), not reproduced when it lies on the other side, else inconclusive. " + STRIP_LEGEND]
    return "\n".join(lines + ["```"])


SHEET_KEY = "zfviz_sheet"  # an image output's metadata: which sheet of a multi-sheet figure cell it is


def show_sheet(fig, sheet: str) -> None:
    """Show one sheet of a figure cell that draws several (a layer, a model, an example) and close it. The book gives
    each sheet a figure of its own: its caption is the cell's caption with ``{sheet}`` replaced by ``sheet``
    (``book.execute.split_sheets``), so each names its layer.

    >>> import matplotlib.pyplot as plt
    >>> show_sheet(plt.figure(), "conv1")  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt  # heavy (matplotlib): only when a chapter draws
    from IPython.display import display  # notebook-only

    display(fig, metadata={SHEET_KEY: str(sheet)})
    plt.close(fig)


def show_box(evidence: list[Evidence], profile: str | Profile, context: str = "", **kwargs) -> None:
    """Store the chapter's verdict box for its first cell (``{glue:md} verdict_box``) and its closing for its last
    (``{glue:md} closing``: ``closing(evidence, profile, context)``), without showing either here."""
    from IPython.display import Markdown  # notebook-only (IPython, myst_nb): only when a chapter shows its box
    from myst_nb import glue  # notebook-only (IPython, myst_nb): only when a chapter shows its box

    glue(BOX, Markdown(verdict_box(evidence, profile, **kwargs)), display=False)
    glue(CLOSING, Markdown(closing(evidence, profile, context)), display=False)


def closing(evidence: list[Evidence], profile: str | Profile, context: str = "") -> str:
    """Two sentences for a chapter's end, from its executed evidence: what it decided, with each estimate beside its
    threshold, and what stays open and what would settle it. ``context``: a sentence of the chapter's own values
    for a chapter that decides no claim.

    >>> from zfviz.evidence.claims import evidence
    >>> closing([evidence("C1", 3.2, (2.2, 4.2), 3, "cpu", seeds=3)], "cpu")[:60]
    'At the cpu scale, C1 (ZF beats the AlexNet replica) is repro'
    """
    name = get_profile(profile).name
    if not evidence:
        return (f"{context} " if context else "") + (f"This chapter decides no claim at the `{name}` scale; "
                                                      "the chapters that read it do.")
    said, open_ = [], []
    for e in evidence:
        c, v = REGISTRY[e.claim], decide(REGISTRY[e.claim], e)
        if v == "not run":
            said.append(f"{c.id} was not run ({missing_text(c, e)})")
            open_.append(f"{c.id} (not run)")
            continue
        value = (f": {e.estimate:.3g} [{e.ci_low:.3g}, {e.ci_high:.3g}] against a threshold of {c.threshold_text()}"
                 if math.isfinite(e.estimate) else "")
        said.append(f"{c.id} ({c.title}) is {v}{value}")
        if v in ("inconclusive", "not testable at this scale"):
            open_.append(f"{c.id} ({c.scale_needed})" if c.scale_needed != "any" else f"{c.id} (more seeds here)")
    rest = (f"Still open: {', '.join(open_)}." if open_ else
            "No claim of this chapter is left open at this scale.")
    return f"At the {name} scale, " + "; ".join(said) + f". {rest}"


def atlas_links(run: str, shown: dict[str, list[int]], atlas: "Path | None" = None) -> str:
    """A line linking each shown map to its sheet in the book's atlas (``book/atlas``), when the atlas was drawn from
    ``run``, the run the chapter shows; otherwise "" (an atlas of other weights would show other maps).

    >>> atlas_links("no-such-run", {"conv1": [3]})
    ''
    """
    folder = atlas or ((repo_root() or Path(__file__).resolve().parents[2]) / "book" / "atlas")
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
