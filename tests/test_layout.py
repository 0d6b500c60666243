"""The package's layers, bottom to top (README "Layout"): a module imports only from its own layer or below, lazily or
not, and no two modules import each other in a circle."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ZFVIZ = Path(__file__).resolve().parents[1] / "zfviz"

LAYERS = [  # bottom first: the sub-packages of zfviz and the modules that stand alone
    ("core", {"core"}),
    ("evidence", {"evidence"}),
    ("model", {"model"}),
    ("data", {"data"}),
    ("runs", {"runs"}),
    ("experiment", {"experiment"}),
    ("analysis", {"analysis"}),
    ("studies", {"studies"}),
    ("book", {"book"}),
    ("entry points", {"cli", "__main__", "__init__", "resources"}),
]


def modules() -> dict[str, Path]:
    out = {}
    for p in ZFVIZ.rglob("*.py"):
        parts = p.relative_to(ZFVIZ).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)] = p
    return out


def imports() -> dict[str, set[str]]:
    """Module -> the zfviz modules it imports anywhere in its body (top level or inside a function)."""
    mods, edges = modules(), defaultdict(set)
    for name, path in mods.items():
        package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package[:len(package) - node.level + 1]
            elif (node.module or "").startswith("zfviz"):
                base, node = [], ast.ImportFrom(module=node.module[6:] or None, names=node.names, level=0)
            else:
                continue
            target = base + (node.module.split(".") if node.module else [])
            for cand in [target] + [target + [a.name] for a in node.names]:
                key = ".".join(cand)
                if key in mods and key != name:
                    edges[name].add(key)
    return edges


def layer(module: str) -> int:
    top = module.split(".")[0]
    found = [i for i, (_, members) in enumerate(LAYERS) if top in members]
    assert found, f"zfviz.{module} is in no layer: add it to LAYERS (and to the README's Layout)"
    return found[0]


def test_every_module_has_a_layer():
    for m in modules():
        layer(m)


def test_no_module_imports_from_a_layer_above_its_own():
    upward = sorted(f"{a} ({LAYERS[layer(a)][0]}) imports {b} ({LAYERS[layer(b)][0]})"
                    for a, targets in imports().items() for b in targets if layer(b) > layer(a))
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    edges = imports()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            m = todo.pop()
            if m == goal:
                return True
            if m not in seen:
                seen.add(m)
                todo += edges.get(m, ())
        return False

    circles = sorted({tuple(sorted((a, b))) for a, ts in edges.items() for b in ts if reaches(b, a)})
    assert not circles, f"modules that import each other (directly or through others): {circles}"


def test_the_checker_sees_package_and_lazy_imports():
    edges = imports()
    assert "evidence.claims" in edges["studies"]  # from zfviz.evidence import claims
    assert "studies" in edges["book.chapters"]  # inside a function
    assert "analysis.topk" in edges["analysis.evolution"]  # from zfviz.analysis.topk import ...
    assert "evidence.stats" in edges["analysis.occlusion"]  # inside a function


def test_the_package_is_its_sub_packages():
    """The folder shows the architecture: every module sits in the sub-package of its layer, none loose beside them
    but the entry points and the two one-module layers (experiment, studies)."""
    loose = sorted(p.stem for p in ZFVIZ.glob("*.py"))
    assert loose == ["__init__", "__main__", "cli", "experiment", "studies"], loose


def test_an_import_inside_a_function_says_why():
    """Imports go at the top; one inside a function is there because it is heavy (torch, papermill) or optional, and
    its line says so."""
    silent = []
    for path in sorted(ZFVIZ.rglob("*.py")):
        lines = path.read_text().splitlines()
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                silent += [f"{path.relative_to(ZFVIZ)}:{n.lineno}" for n in ast.walk(fn)
                           if isinstance(n, (ast.Import, ast.ImportFrom))
                           and not any("#" in lines[i - 1] for i in range(n.lineno - 1, n.end_lineno + 1))]
    assert not silent, f"imports inside functions without a reason comment: {silent}"
