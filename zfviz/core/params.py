"""Checks for ints in chapter parameters (papermill passes whatever the user typed) and library arguments: one clear
error each, naming the parameter."""

from __future__ import annotations

import ast
import math
import numbers
from pathlib import Path


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


def check_paired_seeds(name: str, value: object, seeds: list[int]) -> list[int]:
    """``value``: [] (the part is not run) or a list of as many distinct seeds as ``seeds`` (the part pairs with them)."""
    if value == []:
        return []
    check_int_list(name, value)
    if len(value) != len(seeds):
        raise ValueError(f"{name} must be [] or as many seeds as seeds ({len(seeds)}), got {value!r}")
    return value


def check_number(name: str, value: object, minimum: float | None = None, maximum: float | None = None) -> float:
    """``value`` if it is a finite real number within [minimum, maximum]; else a ValueError naming the parameter."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be a finite number in [{minimum if minimum is not None else '-inf'}, "
                         f"{maximum if maximum is not None else 'inf'}], got {value!r}")
    return value


def check_names(name: str, value: object, valid: list[str], *, minimum: int = 1) -> list[str]:
    """``value`` if it is a list of distinct names from ``valid`` (a string is not a list); else a ValueError."""
    if not isinstance(value, list) or len(value) < minimum or len(set(value)) != len(value):
        raise ValueError(f"{name} must be a list of at least {minimum} distinct names from {valid}, got {value!r} "
                         "(papermill: pass lists with -y, e.g. -y 'layers: [conv3]')")
    bad = [v for v in value if v not in valid]
    if bad:
        raise ValueError(f"unknown {name} {bad}; valid: {valid}")
    return value


def check_files(name: str, value: object, root: str) -> list[str]:
    """``value`` if it lists files that exist *inside* the folder ``root``; else a ValueError."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a non-empty list of file paths relative to {root}, got {value!r}")
    base = Path(root).resolve()
    bad = [v for v in value if not (base / v).resolve().is_relative_to(base) or not (base / v).is_file()]
    if bad:
        raise ValueError(f"{name}: {bad} are not files inside {base}")
    return value


def reject_unknown_parameters(namespace: dict) -> None:
    """Inside a chapter run by papermill: one error for an injected parameter the chapter does not declare.

    papermill only warns about a misspelled name (and the chapter would run with the default). The parameters cell
    and the injected one are the last cells in the kernel's input history that precede this call; names assigned
    in the injected cell but not in the parameters cell are unknown. Outside papermill this does nothing.
    """
    history = namespace.get("In") or []
    injected = next((i for i in range(len(history) - 1, 0, -1) if history[i].lstrip().startswith("# Parameters")),
                    None)
    if injected is None:
        return

    def names(src: str) -> set[str]:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            return set()
        return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
                if isinstance(t, ast.Name)}

    declared = names(history[injected - 1])
    unknown = sorted(names(history[injected]) - declared)
    if unknown:
        raise ValueError(f"unknown parameter{'s' if len(unknown) > 1 else ''} {unknown}; this chapter's parameters "
                         f"are: {', '.join(sorted(declared))}")
