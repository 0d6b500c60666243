"""The >>> examples in the library's docstrings run and say what they show (every module that has one)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

import zfviz

ROOT = Path(zfviz.__file__).parent
# found, not listed: a module whose examples were left out of a hand-kept list went untested (zfviz.experiment's did)
MODULES = sorted(".".join(("zfviz",) + f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                 for f in ROOT.rglob("*.py") if ">>>" in f.read_text())


def test_modules_with_examples_are_found():
    assert {"zfviz", "zfviz.evidence.claims", "zfviz.experiment", "zfviz.analysis.occlusion"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
