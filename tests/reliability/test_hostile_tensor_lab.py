"""Tensor Lab under hostile input, through the page (AppTest) and through playground/ directly.

Each page case: markers the user set (the sharing demo's array and value) are in place; a hostile
value goes into one widget; our sentence is shown with no traceback; then a normal literal gives the
normal result and the markers are still there.
"""

from __future__ import annotations

import re

import pytest

from playground import limits
from playground.errors import PlaygroundError
from playground.tensors.build import TensorSpec, build
from playground.tensors.literal import parse_shape
from tests.app.conftest import open_page, texts
from tests.reliability.conftest import assert_no_traceback, assert_plain, assert_sentence

NORMAL = {"tl_source": "literal", "tl_literal": "[1, 2, 3, 4]", "tl_dtype": "float32", "tl_op": "pow", "tl_exponent": "2"}
NORMAL_RESULT = "tensor([ 1.,  4.,  9., 16.])"
MARKERS = {"tl_share_value": 42.0, "tl_share_values": "5, 6, 7"}

DEEP = "[" * 1_000 + "1" + "]" * 1_000
FIVE_MB = "[" + "1, " * 1_750_000 + "1]"  # 5.25 MB of text
MANY = "[" + ", ".join(["1"] * (limits.MAX_TENSOR_ELEMENTS + 1)) + "]"

# (case id, widget values, the sentence fragment shown as an error)
PAGE_CASES = [
    ("literal-unclosed", {"tl_literal": "[1, 2"}, "missing 1 closing bracket"),
    ("literal-double-comma", {"tl_literal": "[1,, 2]"}, "unexpected comma"),
    ("literal-trailing-comma", {"tl_literal": "[1, 2,]"}, "trailing comma"),
    ("literal-ragged", {"tl_literal": "[[1, 2], [3]]"}, "ragged"),
    ("literal-mixed-depth", {"tl_literal": "[[1], 2]"}, "mixes numbers and lists"),
    ("literal-depth-1000", {"tl_literal": DEEP}, "nested deeper than 6 levels"),
    # The box keeps 100,000 characters (max_chars), so the page sees the element limit; the logic's own
    # character limit is tested below, for a value that reaches it by another road.
    ("literal-5-MB", {"tl_literal": FIVE_MB}, "more than 10,000 numbers"),
    ("literal-over-element-limit", {"tl_literal": MANY}, "more than 10,000 numbers"),
    ("literal-empty-string", {"tl_literal": "   "}, "The literal is empty"),
    ("literal-arabic-digits", {"tl_literal": "[١, ٢, ٣]"}, "not a plain ASCII digit"),
    ("literal-fullwidth-digits", {"tl_literal": "[１, ２]"}, "not a plain ASCII digit"),
    ("literal-python-code", {"tl_literal": "__import__('os').system('touch /tmp/pwned')"}, "is not a number"),
    ("literal-lambda", {"tl_literal": "lambda: 1"}, "is not a number"),
    ("literal-string-item", {"tl_literal": "['a', 'b']"}, "Could not read the literal"),
    ("literal-nul-byte", {"tl_literal": "[1\x00]"}, "Could not read the literal"),
    ("literal-float-overflow", {"tl_literal": "[1e999]"}, "too large for a float"),
    ("literal-int64-overflow", {"tl_literal": "[99999999999999999999]"}, "does not fit in a 64-bit integer"),
    ("literal-nan-as-int64", {"tl_literal": "[nan, 1]", "tl_dtype": "int64"}, "PyTorch could not build that tensor"),
    ("shape-10^9-elements", {"tl_source": "randn", "tl_shape": "1000, 1000, 1000"}, "holds 1,000,000,000 elements"),
    ("shape-10^9-one-size", {"tl_source": "zeros", "tl_shape": "1000000000"}, "holds 1,000,000,000 elements"),
    ("shape-seven-dims", {"tl_source": "ones", "tl_shape": "1, 1, 1, 1, 1, 1, 1"}, "over the limit of 6"),
    ("shape-negative", {"tl_source": "ones", "tl_shape": "-1, 2"}, "whole numbers separated by commas"),
    ("shape-words", {"tl_source": "arange", "tl_shape": "two, three"}, "whole numbers separated by commas"),
    ("shape-huge-integers", {"tl_source": "rand", "tl_shape": "9" * 30 + ", 9"}, "whole numbers"),
    ("exponent-huge", {"tl_exponent": "1e9"}, "Keep the exponent between -64 and 64"),
    ("exponent-9**9**9", {"tl_exponent": "9**9**9"}, "is not a number"),
    ("exponent-nan", {"tl_exponent": "nan"}, "is not a number"),
    ("exponent-4301-digits", {"tl_exponent": "9" * 4_301}, "Keep the exponent between -64 and 64"),  # box: 32 chars
    ("exponent-markdown-image", {"tl_exponent": "![x](http://127.0.0.1:9/a.png)"}, "The exponent `![x](http://127"),
    ("literal-4301-digit-integer", {"tl_literal": "[" + "9" * 4_301 + "]"}, "does not fit in a 64-bit integer"),
    ("shape-4301-digits", {"tl_source": "zeros", "tl_shape": "9" * 4_301}, "must be whole numbers"),
    ("sharing-demo-4301-digits", {"tl_share_values": "9" * 4_301}, "must be numbers separated by commas"),
    ("reshape-two-minus-ones", {"tl_op": "reshape", "tl_new_shape": "-1, -1"}, "Only one size may be -1"),
    ("reshape-words", {"tl_op": "view", "tl_new_shape": "rm -rf /"}, "must be whole numbers"),
    ("cat-input-10^9", {"tl_op": "cat", "tl_dim": 0, "tl_cat1_source": "ones", "tl_cat1_shape": "100000, 100000"},
     "the limit here is 10,000"),
    # Issue 25: a 0 in a shape made the product 0, and what was made from the empty tensor was unbounded.
    ("shape-zero-times-10^8", {"tl_source": "zeros", "tl_shape": "0, 100000000"}, "for each size of a shape"),
    ("sum-of-empty-into-10^8", {"tl_source": "zeros", "tl_shape": "0, 10000, 10000", "tl_op": "sum", "tl_all_dims": False,
                                "tl_dim": 0}, "would make a result of 100,000,000 numbers"),
    ("mean-of-empty-into-10^8", {"tl_source": "zeros", "tl_shape": "10000, 0, 10000", "tl_op": "mean",
                                 "tl_all_dims": False, "tl_dim": 1}, "would make a result of 100,000,000 numbers"),
    ("literal-10001-empty-lists", {"tl_literal": "[" + ", ".join(["[]"] * 10_001) + "]"}, "for each size of a shape"),
    ("reshape-empty-to-huge-size", {"tl_source": "zeros", "tl_shape": "0, 3", "tl_op": "reshape",
                                    "tl_new_shape": "0, 100000000"}, "for each size of a shape"),
    ("cat-over-the-limit", {"tl_source": "ones", "tl_shape": "6000", "tl_op": "cat", "tl_dim": 0,
                            "tl_cat1_source": "ones", "tl_cat1_shape": "6000"}, "would make a result of 12,000 numbers"),
    ("sharing-demo-words", {"tl_share_values": "1, two, 3"}, "must be numbers separated by commas"),
    ("sharing-demo-too-many", {"tl_share_values": ", ".join(["1"] * 500)}, "between 1 and 100 numbers"),
]


@pytest.fixture(scope="module")
def lab():
    return open_page("app.py")


def find(at, key: str):
    """The widget with ``key`` in the main area or the sidebar (KeyError when it is not drawn)."""
    try:
        return at.get_by_key(key)
    except KeyError:
        return at.sidebar.get_by_key(key)


def set_widgets(at, values: dict) -> None:
    """Set each widget as a user would (in order, one rerun each); a widget not drawn yet is set in state."""
    for key, value in values.items():
        try:
            find(at, key).set_value(value)
        except KeyError:
            at.session_state[key] = value
        at.run()


def restore_normal(at) -> None:
    set_widgets(at, {**NORMAL, "tl_new_shape": "2, 2"})
    assert_no_traceback(at)
    assert NORMAL_RESULT in texts(at), texts(at)[:2000]


@pytest.mark.parametrize(("values", "sentence"), [c[1:] for c in PAGE_CASES], ids=[c[0] for c in PAGE_CASES])
def test_hostile_input_on_the_page(lab, values, sentence):
    at = lab
    restore_normal(at)
    set_widgets(at, MARKERS)
    set_widgets(at, values)
    assert_sentence(at, sentence)  # our sentence, no traceback, not the generic fallback
    if "tl_share_values" not in values:
        restore_normal(at)  # the page still works
    else:
        set_widgets(at, MARKERS)
        assert not at.error and "torch.from_numpy(a)" in texts(at)
    assert find(at, "tl_share_value").value == 42.0  # nothing the user had is lost
    if "tl_share_values" not in values:
        assert find(at, "tl_share_values").value == "5, 6, 7"


@pytest.mark.parametrize(("literal", "shown"), [
    ("[nan, inf, -inf, 1]", "tensor([nan, inf, inf, 1.])"),
    ("[]", "shape `[0]`"),
    ("[[], []]", "shape `[2, 0]`"),
], ids=["nan-and-inf", "empty-list", "empty-rows"])
def test_valid_but_strange_literals_give_a_result_not_an_error(lab, literal, shown):
    """NaN, inf and empty lists are legal tensors: the page computes them (NaN compares as equal) and shows it."""
    at = lab
    restore_normal(at)
    set_widgets(at, {"tl_literal": literal})
    assert_no_traceback(at)
    assert not at.error, [e.value for e in at.error]
    assert shown in texts(at)
    restore_normal(at)


# -------------------------------------------------------------------------------- playground/ level


@pytest.mark.parametrize(("text", "fragment"), [
    (DEEP, "nested deeper"),
    ("[" * 100_001, "characters long"),  # over the character limit before any parsing
    ("[" * 99_999, "nested deeper"),  # just under it: the loop stops at depth 7, no recursion
    ("[1]" * 30_000, "text after the end"),
    ("[" + "1," * 20_000 + "1]", "more than 10,000 numbers"),
    ("\u0661", "not a plain ASCII digit"),
    (12345, "must be text"),
], ids=["depth-1000", "100k-brackets", "99999-brackets", "repeated-lists", "20k-numbers", "arabic-one", "not-a-string"])
def test_literal_parser_refuses_in_bounded_time(text, fragment):
    with pytest.raises(PlaygroundError) as caught:
        build(TensorSpec(source="literal", literal=text, shape=(), dtype="float32", seed=0))
    assert_plain(caught.value, fragment)


@pytest.mark.parametrize(("text", "fragment"), [
    ("1000, 1000, 1000", "1,000,000,000 elements"),
    ("10001", "the limit here is 10,000"),
    ("0, 10000", None),  # zero elements, each size within the limit: allowed, and cheap
    ("0, 1000000000000", "for each size of a shape"),  # zero elements, but a size no tensor here may have
    ("0, 100000000", "over the limit of 10,000 for each size"),
], ids=["10^9", "one-over", "zero-times-limit", "zero-times-huge", "zero-times-10^8"])
def test_shape_limits(text, fragment):
    if fragment is None:
        built = build(TensorSpec(source="zeros", literal="", shape=parse_shape(text), dtype="float32", seed=0))
        assert built.tensor.numel() == 0
        return
    with pytest.raises(PlaygroundError) as caught:
        build(TensorSpec(source="randn", literal="", shape=parse_shape(text), dtype="float32", seed=0))
    assert_plain(caught.value, fragment)


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda: __import__("playground.tensors.ops", fromlist=["x"]).parse_exponent("9" * 4_301), "4,301 characters long"),
    (lambda: __import__("playground.tensors.ops", fromlist=["x"]).parse_exponent("9" * 33), "33 characters long"),
    (lambda: __import__("playground.tensors.literal", fromlist=["x"]).parse_numbers("1," * 2_001), "at most 4,000"),
    (lambda: __import__("playground.tensors.literal", fromlist=["x"]).parse_shape("1," * 101), "at most 200 characters"),
    (lambda: build(TensorSpec(source="literal", literal="[" + "1" * 5_000 + "]")), "does not fit in a 64-bit"),
], ids=["exponent-4301-digits", "exponent-33-chars", "array-values-4002-chars", "shape-202-chars", "literal-5000-digits"])
def test_each_box_is_bounded_in_the_logic_too(call, fragment):
    """The boxes cut what is typed (max_chars); a value that reaches the logic by another road is refused there."""
    with pytest.raises(PlaygroundError) as caught:
        call()
    assert_plain(caught.value, fragment)


# -------------------------------------------------------------------------------- text stays text

IMAGE = "![x](http://127.0.0.1:9/a.png)"
CODE_SPAN = re.compile(r"`[^`]*`")


def assert_user_text_stays_text(at) -> None:
    """Wherever the page echoes the user's text through Markdown, it is inside a code span or escaped: no
    image, link or HTML can come of it (issue 12 item 4). The page's own text has no links or images."""
    for kind in ("markdown", "caption", "error", "warning", "info", "success"):
        for element in getattr(at, kind):
            if kind == "markdown" and 'class="shape-picture"' in element.value:
                continue
            outside = CODE_SPAN.sub("", str(element.value)).replace("\\]\\(", "").replace("\\<", "")
            assert "](" not in outside and "<img" not in outside, (kind, element.value)


@pytest.mark.parametrize("values", [
    {"tl_literal": IMAGE}, {"tl_literal": f"[1, {IMAGE}]"}, {"tl_exponent": IMAGE},
    {"tl_op": "reshape", "tl_new_shape": IMAGE}, {"tl_source": "zeros", "tl_shape": IMAGE},
    {"tl_share_values": IMAGE}, {"tl_literal": "<img src=http://127.0.0.1:9/b.png>"},
], ids=["literal", "literal-item", "exponent", "new-shape", "shape", "array-values", "html"])
def test_text_typed_into_a_box_is_shown_as_text(lab, values):
    at = lab
    restore_normal(at)
    set_widgets(at, values)
    assert_no_traceback(at)
    assert at.error, "a sentence is shown"
    assert_user_text_stays_text(at)
    restore_normal(at)
