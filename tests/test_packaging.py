"""Packaging matches the code: environment.yml carries pyproject.toml's pins, and every third-party module the
package imports is declared."""

import ast
import re
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
IMPORT_NAMES = {"sklearn": "scikit-learn", "PIL": "pillow", "yaml": "pyyaml", "IPython": "ipykernel",
                "mlxtend": "mlxtend", "matplotlib_inline": "ipykernel", "myst_nb": "myst-nb"}


def _pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return project["dependencies"], project["optional-dependencies"]["test"]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].lower()


def test_environment_yml_has_the_same_pins():
    deps, test = _pins()
    listed = re.findall(r'^\s+- "([^"]+)"', (REPO / "environment.yml").read_text(), re.M)
    assert [p for p in listed if p != "-e ."] == deps + test


def test_every_imported_package_is_declared():
    deps, _ = _pins()
    declared = {_name(d) for d in deps}
    stdlib = set(sys.stdlib_module_names)
    missing = set()
    for path in (REPO / "zfviz").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            for n in names:
                top = n.split(".")[0]
                if top not in stdlib and top != "zfviz" and IMPORT_NAMES.get(top, top).lower() not in declared:
                    missing.add(top)
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"
