"""The literal parser's and the op arguments' limits at the limit (accepted) and one past (refused): survivors
of the first mutation run (``>`` made ``>=`` and back) that no test saw."""

from __future__ import annotations

import pytest

from playground import limits
from playground.errors import PlaygroundError
from playground.tensors.literal import parse_literal
from playground.tensors.ops import OpSpec, parse_tensor_count


def test_elements_at_the_limit_and_one_past():
    n = limits.MAX_TENSOR_ELEMENTS
    assert parse_literal("[" + ", ".join(["1"] * n) + "]").shape == (n,)
    with pytest.raises(PlaygroundError):
        parse_literal("[" + ", ".join(["1"] * (n + 1)) + "]")


def test_characters_at_the_limit_and_one_past():
    n = limits.MAX_LITERAL_CHARS
    text = "[1" + " " * (n - 3) + "]"
    assert len(text) == n and parse_literal(text).shape == (1,)
    with pytest.raises(PlaygroundError):
        parse_literal(text + " ")


def test_dims_at_the_limit_and_one_past():
    d = limits.MAX_TENSOR_DIMS
    assert parse_literal("[" * d + "1" + "]" * d).shape == (1,) * d
    with pytest.raises(PlaygroundError):
        parse_literal("[" * (d + 1) + "1" + "]" * (d + 1))


def test_cat_tensor_count_bounds():
    assert parse_tensor_count(2) == 2 and parse_tensor_count(limits.MAX_CAT_INPUTS) == limits.MAX_CAT_INPUTS
    for bad in (1, 0, limits.MAX_CAT_INPUTS + 1, True):
        with pytest.raises(PlaygroundError):
            parse_tensor_count(bad)


def test_an_opspec_equals_only_an_opspec_with_the_same_values():
    assert OpSpec("sum", dim=0) == OpSpec("sum", dim=0) and hash(OpSpec("sum", dim=0)) == hash(OpSpec("sum", dim=0))
    assert OpSpec("sum", dim=0) != OpSpec("sum", dim=1) and OpSpec("sum", dim=0) != "sum"
    assert hash(OpSpec("sum", dim=0)) != hash(OpSpec("sum", dim=1))
