"""The Autograd grammar's allow-lists pinned as exact sets: a function, operator or Python construct added to
what an expression may contain must fail here."""

from __future__ import annotations

import ast

import pytest
import torch

from playground.autograd import expression
from playground.autograd.expression import parse_expression
from playground.errors import PlaygroundError

FUNCTIONS = {
    "sin": (torch.sin, 1, "none"), "cos": (torch.cos, 1, "none"), "exp": (torch.exp, 1, "none"),
    "log": (torch.log, 1, "none"), "sqrt": (torch.sqrt, 1, "none"), "abs": (torch.abs, 1, "none"),
    "tanh": (torch.tanh, 1, "none"), "sigmoid": (torch.sigmoid, 1, "none"), "relu": (torch.relu, 1, "none"),
    "t": (torch.t, 1, "none"), "sum": (torch.sum, 1, "optional"), "mean": (torch.mean, 1, "optional"),
    "softmax": (torch.softmax, 1, "required"), "log_softmax": (torch.log_softmax, 1, "required"),
    "pow": (torch.pow, 2, "none"), "matmul": (torch.matmul, 2, "none"),
}


def test_the_function_list_is_exactly_these():
    assert {name: (f.call, f.operands, f.dim) for name, f in expression.FUNCTIONS.items()} == FUNCTIONS
    assert all(name == f.name for name, f in expression.FUNCTIONS.items())


def test_the_operators_are_exactly_these():
    assert expression.BINARY_OPS == {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
                                     ast.MatMult: "@"}
    assert set(expression.BINARY_CALLS) == set(expression.BINARY_OPS.values())


def test_the_sentence_lists_every_allowed_function():
    listed = expression.ALLOWED_SENTENCE.split("the functions `")[1].split("`")[0].split()
    assert listed == list(FUNCTIONS)


@pytest.mark.parametrize("text", ["x + 1", "x - 1", "x * 2", "x / 2", "x ** 2", "-x", "+x", "x.sum()", "sum(x)",
                                  "x.pow(2)", "x.softmax(0)", "x.sum(dim=0)", "2.5e-3 * x"])
def test_each_accepted_construct_parses(text):
    assert parse_expression(text, {"x"}) is not None


@pytest.mark.parametrize("text", [
    "x % 2", "x // 2", "x << 1", "x & x", "~x", "not x", "x < 1", "x and x", "x if x else x", "[x]", "(x, x)",
    "{x: 1}", "{x}", "x[0]", "x.T", "lambda: x", "f'{x}'", "[x for x in x]", "x.max()", "max(x)", "x.sum(keepdim=True)",
    "(y := x)", "'a'", "True * x", "x.sum(**{})", "pow(*x)", "getattr(x, 'sum')", "__import__('os')",
])
def test_everything_else_is_refused(text):
    with pytest.raises(PlaygroundError):
        parse_expression(text, {"x"})


@pytest.mark.parametrize(("text", "written"), [
    ("x // 2", "//"), ("x % 2", "%"), ("x << 1", "<<"), ("x >> 1", ">>"), ("x | x", "|"), ("x ^ x", "^"),
    ("x & x", "&"),
])
def test_a_refused_operator_is_named_as_the_user_wrote_it(text, written):
    with pytest.raises(PlaygroundError) as refused:
        parse_expression(text, {"x"})
    assert str(refused.value).startswith(f"The operator `{written}` is not allowed.")


def test_evaluate_text_reads_the_names_from_the_values_it_is_given():
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    result = expression.evaluate_text("(x * 3).sum()", {"x": x}, dtype=torch.float64)
    assert result.item() == 9.0 and result.dtype == torch.float64
    assert expression.evaluate_text("2 * 3", {}, dtype=torch.float64).dtype == torch.float64
    with pytest.raises(PlaygroundError, match="`y` is not declared"):
        expression.evaluate_text("y", {"x": x})


LONG_TEXT = "'" + "a" * 60 + "'"


@pytest.mark.parametrize(("text", "sentence"), [
    ("foo(x)", "The function `foo()` is not allowed."),
    ("x.sum(dim=0, dim=1)", "`dim=` is given more than once in `sum()`; Python refuses a repeated keyword, so give it once."),
    ("sin(x, dim=0)", "`sin()` does not take `dim=` here; only sum, mean, softmax and log_softmax take `dim=`."),
    ("sum(x, keepdim=1)", "`sum()` does not take `keepdim=` here; only sum, mean, softmax and log_softmax take `dim=`."),
    ("x.sum(**{})", "`sum()` does not take `**kwargs` here; only sum, mean, softmax and log_softmax take `dim=`."),
    ("sin(x, 0)", "`sin()` takes one tensor; it got 2."),
    ("pow(x)", "`pow()` takes two tensors; it got 1."),
    ("sum()", "`sum()` takes one tensor and a dim; it got 0."),
    ("softmax(x)", "`softmax()` needs a dim, for example `softmax(z, dim=0)`."),
    ("x.sum(dim=1.5)", "The dim of `sum()` must be a whole number, such as 0 or -1."),
    ("x.mean(1.5)", "The dim of `mean()` must be a whole number, such as 0 or -1."),
    ("x.sum(dim=True)", "The dim of `sum()` must be a whole number, such as 0 or -1."),
    ("x.sum(dim=17)", "The dim of `sum()` must be a whole number, such as 0 or -1."),
    ("x.softmax(dim=x)", "The dim of `softmax()` must be a whole number, such as 0 or -1."),
    ("1e301 * x", "A number in the expression is too large; use numbers below 1e300."),
    ("1" + "0" * 400 + " * x", "A number in the expression is too large; use numbers below 1e300."),
    (LONG_TEXT, "`" + repr("a" * 60)[:40] + "` is not a number; only numbers and declared names may appear."),
])
def test_each_refusal_of_a_call_or_number_says_what_the_user_wrote(text, sentence):
    from tests.unit.tensors.sentences import assert_plain_sentence

    with pytest.raises(PlaygroundError) as refused:
        parse_expression(text, {"x"})
    assert refused.value.sentence.startswith(sentence)
    assert_plain_sentence(refused.value.sentence)


def test_a_number_too_large_for_a_float_keeps_pythons_reason():
    with pytest.raises(PlaygroundError) as refused:
        parse_expression("1" + "0" * 400 + " * x", {"x"})
    assert "too large" in refused.value.detail


def test_limits_of_numbers_dims_exponents_and_nesting_hold_at_the_limit():
    assert parse_expression("1e300 * x", {"x"}).args[0].value == 1e300
    assert parse_expression("x.sum(dim=16)", {"x"}).dim == 16
    assert parse_expression("x.sum(dim=-16)", {"x"}).dim == -16
    assert parse_expression("x.softmax(-1)", {"x"}).dim == -1
    # the exponent is read in float64: 16.0000001 is 16.0 in float32 and would pass
    assert parse_expression("x ** 16", {"x"}) is not None
    with pytest.raises(PlaygroundError, match="between -16 and 16"):
        parse_expression("x ** 16.0000001", {"x"})
    with pytest.raises(PlaygroundError, match="between -16 and 16"):
        parse_expression("pow(x, 16.0000001)", {"x"})
    depth = expression.MAX_EXPRESSION_DEPTH
    assert parse_expression("sin(" * depth + "x" + ")" * depth, {"x"}).names() == {"x"}
    with pytest.raises(PlaygroundError, match="nested more than"):
        parse_expression("sin(" * (depth + 1) + "x" + ")" * (depth + 1), {"x"})
