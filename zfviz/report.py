"""Verdicts and the drift-free summary each chapter prints for nbval."""

from __future__ import annotations

import pandas as pd

from .claims import VERDICTS as REGISTRY_VERDICTS

# The registry's vocabulary, and two older words chapters not yet moved onto the registry still print.
VERDICTS = REGISTRY_VERDICTS + ("partly reproduced", "not measured")


def structure(table: pd.DataFrame, verdict: str) -> str:
    """Shape and columns of a chapter's main table and its verdict's validity: what nbval checks across runs."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r} is not one of {VERDICTS}")
    cols = [str(c) for c in table.columns]
    return f"rows={len(table)} columns={cols} verdict in VERDICTS: True"


def tidy(table: pd.DataFrame, digits: int = 2, index: bool = False):
    """A table as a reader sees it: rounded to ``digits``, NaN blank, without a 0..n index unless asked for."""
    styler = table.style.format(precision=digits, na_rep="")
    return styler if index else styler.hide(axis="index")
