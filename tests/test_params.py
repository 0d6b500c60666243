"""Chapter parameter checks: the value back when valid, one error naming the parameter otherwise."""

import pytest

from zfviz.core.params import check_int, check_int_list


def test_check_int():
    assert check_int("k", 3) == 3 and check_int("seed", 0, minimum=0) == 0
    for bad in (0, -1, 2.0, "3", True, None):
        with pytest.raises(ValueError, match="k must be a positive int"):
            check_int("k", bad)
    with pytest.raises(ValueError, match="seed must be a non-negative int, got -1"):
        check_int("seed", -1, minimum=0)


def test_check_int_list():
    assert check_int_list("seeds", [0, 2]) == [0, 2]
    for bad in ([], [1, 1], [0, "1"], (0, 1), 0, [True], [-1]):
        with pytest.raises(ValueError, match="seeds must be a non-empty list of distinct non-negative ints"):
            check_int_list("seeds", bad)
    with pytest.raises(ValueError, match="per_class must be a non-empty list of distinct positive ints"):
        check_int_list("per_class", [0, 15], minimum=1)
