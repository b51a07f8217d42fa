"""Each refusal of the literal and shape parsers, as the person sees it: a plain sentence that points at the
place (the character, the depth) and names the value or limit at fault, so it can be fixed without guessing."""

from __future__ import annotations

import pytest

from playground import limits
from playground.errors import PlaygroundError
from playground.tensors.literal import check_shape, parse_literal, parse_numbers, parse_shape
from tests.unit.tensors.sentences import assert_plain_sentence, problems

N = limits.MAX_TENSOR_ELEMENTS
D = limits.MAX_TENSOR_DIMS


def refusal(call, *args, **kwargs) -> PlaygroundError:
    with pytest.raises(PlaygroundError) as info:
        call(*args, **kwargs)
    assert_plain_sentence(info.value.sentence)
    return info.value


# (text, what the sentence must say): the place in the text, the user's own token, the count or limit.
LITERALS = [
    (123, ["[[1, 2], [3, 4]]"]),
    ("x" * (limits.MAX_LITERAL_CHARS + 5), [f"{limits.MAX_LITERAL_CHARS + 5:,}", f"{limits.MAX_LITERAL_CHARS:,}"]),
    ("[1, 2, é, ü]", ["`é`"]),
    ("   ", ["empty"]),
    ("[1; 2]", ["character 3", "`; 2]`"]),
    ("[1, 2] [3]", ["character 8"]),
    ("3 4", ["after the end", "character 3"]),
    ("[[1] [2]]", ["'['", "character 6"]),
    ("[" * (D + 1) + "1" + "]" * (D + 1), [f"deeper than {D}", f"at most {D} dimensions"]),
    ("]", ["']'", "character 1"]),
    ("[1, 2]]", ["character 7"]),
    ("[1, 2,]", ["']'", "character 7"]),
    ("[, 1]", ["comma", "character 2"]),
    (", 1", ["comma", "character 1"]),
    ("[1 22]", ["`22`", "character 4"]),
    ("[" + ", ".join(["1"] * (N + 1)) + "]", [f"more than {N:,}"]),
    ("[[[1", ["missing 3"]),
    ("[1, two]", ["`two`"]),
    ("[99999999999999999999]", ["`99999999999999999999`", "64-bit"]),
    ("[-9223372036854775809]", ["`-9223372036854775809`", "64-bit"]),
    ("[2.5e999]", ["`2.5e999`", "inf"]),
    ("[[1, 2], [3]]", ["depth 2", "[1, 2]"]),
    ("[[[1, 2]], [[3]]]", ["depth 3", "[1, 2]"]),
    ("[[1, 2], 3]", ["depth 2"]),
    ("[[[1], 2]]", ["depth 3"]),
    ("[[1], [[2]]]", ["depth 3"]),
]


@pytest.mark.parametrize(("text", "facts"), LITERALS, ids=[str(i) for i in range(len(LITERALS))])
def test_each_literal_refusal_points_at_the_fault(text, facts):
    sentence = refusal(parse_literal, text).sentence
    for fact in facts:
        assert fact in sentence, (fact, sentence)


def test_a_scalar_with_text_after_it_is_told_so():
    """After a lone number the literal has ended: what follows is extra text, not a missing comma."""
    for text in ("3 4", "3 [", "3 ]", "-1.5 ,"):
        assert "after the end" in refusal(parse_literal, text).sentence


def test_the_integer_bounds_are_the_int64_bounds():
    assert parse_literal(str(2**63 - 1)).values == 2**63 - 1
    assert parse_literal(str(-(2**63 - 1))).values == -(2**63 - 1)
    assert parse_literal("-" + "0" * 30 + "12").values == -12 and parse_literal("+12").values == 12
    assert parse_literal("[1e308]").values == [1e308]


def test_words_are_read_whatever_their_case():
    parsed = parse_literal("[TRUE, False, -INF, +Inf, NaN]")
    assert parsed.values[:2] == [True, False] and parsed.values[2] == float("-inf") and parsed.values[3] == float("inf")
    assert parsed.values[4] != parsed.values[4] and parsed.kind == "float"


SHAPES = [
    (lambda: check_shape((1,) * (D + 1)), [f"{D + 1} dimensions", f"limit of {D}"]),
    (lambda: check_shape((2, -3)), ["negative"]),
    (lambda: check_shape((200, 51)), ["[200, 51]", "10,200", f"{N:,}"]),
    (lambda: check_shape((0, N + 7)), [f"{N + 7:,}", f"{limits.MAX_TENSOR_SIZE:,}"]),
    (lambda: parse_shape(5), [f"{limits.MAX_SHAPE_CHARS}", "e.g. 2, 3"]),
    (lambda: parse_shape("2, x", what="new shape"), ["new shape", "`2, x`", "e.g. 2, 3"]),
    (lambda: parse_shape("2, x", allow_infer=True), ["`2, x`", "e.g. 2, -1"]),
    (lambda: parse_shape("-1, -1", allow_infer=True), ["-1"]),
    (lambda: parse_shape("2, -3", allow_infer=True), ["-1"]),
    (lambda: parse_numbers(7), [f"{limits.MAX_NUMBER_LIST_CHARS:,}"]),
    (lambda: parse_numbers("[[1, 2], [3, 4]]"), ["one row"]),
]


@pytest.mark.parametrize(("call", "facts"), SHAPES, ids=[str(i) for i in range(len(SHAPES))])
def test_each_shape_refusal_names_the_value_at_fault(call, facts):
    sentence = refusal(call).sentence
    for fact in facts:
        assert fact in sentence, (fact, sentence)


def test_a_numbers_list_refusal_keeps_the_parsers_reason_beneath():
    error = refusal(parse_numbers, "1, two")
    assert error.detail is not None and "`two`" in error.detail
    assert "`two`" not in error.sentence


def test_the_sentence_check_sees_a_garbled_sentence():
    """The check itself must fail on what a broken message looks like."""
    assert problems("The literal is empty.") == []
    assert problems("Could not read `xX YY z` at character 3. Use numbers, e.g. [1, 2].") == []
    for bad in ("XXThe literal is empty.XX", "the literal is empty.", "THE LITERAL IS EMPTY.",
                "The literal is empty. type a number.", "The literal is empty", "XX", None):
        assert problems(bad), bad


def test_user_text_in_a_sentence_is_cut_at_40_characters_with_an_ellipsis():
    from playground.tensors.literal import quoted

    assert quoted("a" * 40) == "`" + "a" * 40 + "`"
    assert quoted("a" * 41) == "`" + "a" * 40 + "…`"
    sentence = refusal(parse_literal, "[" + "z" * 60 + "]").sentence
    assert "`" + "z" * 40 + "…`" in sentence and "z" * 41 not in sentence


def test_a_shape_wrapped_in_letters_is_refused():
    """Only brackets and parentheses around a shape are taken away; letters are not sizes."""
    assert parse_shape("(2, 3)") == (2, 3) and parse_shape("[[2, 3]]") == (2, 3)
    for text in ("X2, 3X", "x(2, 3)", "2, 3X"):
        refusal(parse_shape, text)
