"""Print name==version for every package the chapters need on the device machine and it lacks.

Run with the checkout's venv: the closure of what executing a chapter imports (papermill, jupytext, ipykernel,
captum, mlxtend) over this venv's installed requirements, minus what the device image already holds
(`tools/lease/device-packages.txt`, read off the device tool's KINDS.md).
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOTS = ["papermill", "jupytext", "nbclient", "nbformat", "ipykernel", "captum", "mlxtend"]


def closure(roots: list[str]) -> dict[str, str]:
    """Installed name -> version for the roots and everything they require (no extras)."""
    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional or platform-specific requirement not installed here
        seen[name] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": "", "python_version": "3.12"}):
                todo.append(req.name)  # no extras; markers as on the device's Python 3.12
    return seen


if __name__ == "__main__":
    present = {canonicalize_name(line) for line in Path(sys.argv[1]).read_text().split() if line}
    for name, version in sorted(closure(ROOTS).items()):
        if name not in present:
            print(f"{name}=={version}")
