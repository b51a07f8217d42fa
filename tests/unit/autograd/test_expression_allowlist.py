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
