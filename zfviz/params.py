"""Checks for ints in chapter parameters (papermill passes whatever the user typed) and library arguments: one clear
error each, naming the parameter."""

from __future__ import annotations

import numbers


def _is_int(v: object) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` if it is an int >= ``minimum``; else a ValueError naming the parameter."""
    if not _is_int(value) or value < minimum:
        kind = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{name} must be a {kind} int, got {value!r}")
    return value


def check_int_list(name: str, value: object, minimum: int = 0) -> list[int]:
    """``value`` if it is a non-empty list of distinct ints >= ``minimum``; else a ValueError naming the parameter."""
    if not (isinstance(value, list) and value and all(_is_int(v) and v >= minimum for v in value)
            and len(set(value)) == len(value)):
        kind = "positive" if minimum == 1 else "non-negative" if minimum == 0 else f">= {minimum}"
        raise ValueError(f"{name} must be a non-empty list of distinct {kind} ints, got {value!r}")
    return value
