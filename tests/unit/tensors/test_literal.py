"""The literal parser against torch.tensor and NumPy as oracles, and on bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from playground import limits
from playground.errors import PlaygroundError
from playground.tensors.literal import parse_literal


@pytest.mark.parametrize(
    ("text", "shape", "kind"),
    [
        ("[1, 2, 3, 4]", (4,), "int"),
        ("[[1, 2], [3, 4]]", (2, 2), "int"),
        ("[[1., 0.], [-1., 1.]]", (2, 2), "float"),
        ("3", (), "int"),
        ("-2.5e-3", (), "float"),
        ("[True, False]", (2,), "bool"),
        ("[True, 2]", (2,), "int"),
        ("[]", (0,), "float"),
        ("[[], []]", (2, 0), "float"),
        ("[nan, inf, -inf]", (3,), "float"),
        ("  [ 1 ,2 ]  ", (2,), "int"),
        ("[[[1]], [[2]]]", (2, 1, 1), "int"),
    ],
)
def test_good_literals_match_torch(text, shape, kind):
    parsed = parse_literal(text)
    assert parsed.shape == shape
    assert parsed.kind == kind
    tensor = torch.tensor(parsed.values)
    assert tuple(tensor.shape) == shape
    expected = {"int": torch.int64, "float": torch.float32, "bool": torch.bool}[kind]
    assert tensor.dtype == expected


@given(st.lists(st.lists(st.integers(-1000, 1000), min_size=3, max_size=3), min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_written_nested_lists_round_trip(rows):
    parsed = parse_literal(str(rows))
    assert parsed.values == rows
    assert np.array_equal(np.array(parsed.values), np.array(rows))


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=20))
@settings(max_examples=60, deadline=None)
def test_floats_parse_to_the_same_numbers(values):
    parsed = parse_literal(repr(values))
    assert all(math.isclose(a, b) or a == b for a, b in zip(parsed.values, values, strict=True))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("[1, 2", "missing 1 closing"),
        ("[1, 2]]", "after the end"),
        ("]", "no '['"),
        ("[[1, 2], [3]]", "ragged"),
        ("[[1, 2], 3]", "mixes numbers and lists"),
        ("[1, , 2]", "unexpected comma"),
        ("[1, 2,]", "trailing comma"),
        ("[1 2]", "comma is missing"),
        ("[1, two]", "not a number"),
        ("__import__('os')", "not a number"),
        ("[1, 2] [3]", "after the end"),
        ("[١, ٢]", "not a plain ASCII"),
        ("[1e999]", "too large"),
        ("[99999999999999999999999]", "64-bit"),
        ("[" * 1000 + "]" * 1000, "deeper than"),
        ("[" + "1, " * (limits.MAX_TENSOR_ELEMENTS + 1) + "1]", "more than"),
        ("x" * (limits.MAX_LITERAL_CHARS + 1), "characters long"),
        ("[1; 2]", "Could not read"),
    ],
)
def test_bad_literals_get_a_sentence(text, words):
    with pytest.raises(PlaygroundError) as info:
        parse_literal(text)
    assert words in info.value.sentence


def test_five_megabyte_string_is_refused_quickly():
    with pytest.raises(PlaygroundError, match="characters long"):
        parse_literal("[" + "1," * 2_500_000 + "1]")
