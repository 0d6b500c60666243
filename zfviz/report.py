"""Verdicts and the drift-free summary each chapter prints for nbval."""

from __future__ import annotations

import pandas as pd

VERDICTS = ("reproduced", "partly reproduced", "not reproduced", "not comparable", "not measured")


def structure(table: pd.DataFrame, verdict: str) -> str:
    """Shape and columns of a chapter's main table and its verdict's validity: what nbval checks across runs."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r} is not one of {VERDICTS}")
    cols = [str(c) for c in table.columns]
    return f"rows={len(table)} columns={cols} verdict in VERDICTS: True"
