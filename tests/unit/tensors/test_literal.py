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


# ---- the one shape parser, numbers lists, and the limits at their edges -----------------------------------------

from playground.tensors.literal import parse_numbers, parse_shape, quoted  # noqa: E402
from playground.tensors.ops import parse_exponent  # noqa: E402


def test_integers_are_read_without_int_on_thousands_of_digits():
    assert parse_literal("[" + "0" * 5_000 + "7]").values == [7]
    assert parse_literal(str(2**63 - 1)).values == 2**63 - 1
    for text in (str(2**63), "9" * 20, "9" * 4_301, "-" + "9" * 10_000):
        with pytest.raises(PlaygroundError, match="64-bit integer"):
            parse_literal(text)


@pytest.mark.parametrize(("text", "shape"), [("2, 3", (2, 3)), ("(4,)", (4,)), ("[2,3]", (2, 3)), ("", ()),
                                             ("0, 5", (0, 5)), ("1," * 5 + "1", (1,) * 6)])
def test_one_shape_parser(text, shape):
    assert parse_shape(text) == shape


def test_the_shape_parser_at_its_edges():
    padded = "2, 3" + " " * (limits.MAX_SHAPE_CHARS - 4)  # exactly 200 characters
    assert parse_shape(padded) == (2, 3)
    with pytest.raises(PlaygroundError, match="at most 200 characters"):
        parse_shape(padded + " ")
    assert parse_shape("2, -1", allow_infer=True) == (2, -1)
    for text, words in (("-1", "whole numbers"), ("2, -1, -1", "Only one"), ("2, -2", "Sizes must be 0 or more")):
        with pytest.raises(PlaygroundError, match=words):
            parse_shape(text, allow_infer=text != "-1")
    with pytest.raises(PlaygroundError, match="holds 10,001 elements"):
        parse_shape("10001")
    assert parse_shape("10000") == (10_000,)


def test_numbers_lists_at_their_edges():
    assert parse_numbers("1, 2.5, -3") == [1, 2.5, -3] and parse_numbers("[4, 5]") == [4, 5]
    parse_numbers(" " * (limits.MAX_NUMBER_LIST_CHARS - 1) + "1")
    with pytest.raises(PlaygroundError, match="at most 4,000"):
        parse_numbers(" " * limits.MAX_NUMBER_LIST_CHARS + "1")
    for text in ("1, two", "[[1], [2]]", "1, ![x](http://e/a.png)"):
        with pytest.raises(PlaygroundError, match="must be numbers separated by commas"):
            parse_numbers(text)


def test_the_exponent_at_its_edges():
    assert parse_exponent("0" * 31 + "2") == 2 and parse_exponent("64") == 64 and parse_exponent("-64.0") == -64.0
    for text in ("0" * 32 + "2", "9" * 4_301, "64.5", "1e3"):
        with pytest.raises(PlaygroundError):
            parse_exponent(text)


def test_user_text_in_sentences_is_inline_code():
    assert quoted("![x](http://e/a.png)") == "`![x](http://e/a.png)`"
    assert quoted("a`b\nc") == "`a'b'c`"
    with pytest.raises(PlaygroundError) as info:
        parse_literal("[1, ![x](http://e/a.png)]")
    sentence = info.value.sentence
    assert "(` ![x](http:/`)" in sentence and sentence.count("`") == 2  # the user's text only inside the code span


def test_each_size_of_a_shape_is_bounded_on_its_own():
    """A 0 makes the product 0, so the product alone is no bound: each size is checked too (issue 25)."""
    from playground import limits
    from playground.tensors.build import TensorSpec
    from playground.tensors.literal import check_shape, parse_literal

    at = limits.MAX_TENSOR_SIZE
    assert parse_shape(f"0, {at}") == (0, at)
    assert parse_shape(f"0, {at}, {at}, {at}") == (0, at, at, at)
    assert parse_shape(f"{at}, -1", allow_infer=True) == (at, -1)
    assert TensorSpec(source="zeros", shape=(0, at)).shape == (0, at)
    for text in (f"0, {at + 1}", "0, 100000000", "0, 999999999999999999"):
        with pytest.raises(PlaygroundError, match=f"over the limit of {at:,} for each size"):
            parse_shape(text)
    with pytest.raises(PlaygroundError, match="for each size"):
        parse_shape(f"0, {at + 1}, -1", allow_infer=True)
    with pytest.raises(PlaygroundError, match="for each size"):
        TensorSpec(source="zeros", shape=(0, 100_000_000))
    with pytest.raises(PlaygroundError, match="for each size"):
        check_shape((at + 1, 0))
    # A literal of empty lists has a size per list and no number: bounded the same way.
    assert parse_literal("[" + ", ".join(["[]"] * at) + "]").shape == (at, 0)
    with pytest.raises(PlaygroundError, match="for each size"):
        parse_literal("[" + ", ".join(["[]"] * (at + 1)) + "]")
