"""The >>> examples in the entry points' docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["zfviz", "zfviz.stats", "zfviz.claims", "zfviz.report", "zfviz.deconv", "zfviz.models", "zfviz.external",
           "zfviz.datafiles", "zfviz.analysis.occlusion", "zfviz.analysis.topk", "zfviz.analysis.filters"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"
