"""The code shown for an accepted expression runs as shown (issue 25 item 5), and what Python refuses is refused.

Expressions are generated from the grammar (variables, numbers, every operator, every function in both its
forms, dims), and for each one the page accepts and computes, the Code view's script (``expression_code``) is
executed with torch as it stands: it must run, and its ``z`` must be the page's value.
"""

from __future__ import annotations

import contextlib
import io
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground.autograd.codegen import expression_code
from playground.autograd.expression import FUNCTIONS, evaluate, parse_expression
from playground.autograd.variables import ExpressionSpec, VariableSpec, make_tensors
from playground.errors import PlaygroundError
from playground.limits import MAX_EXPRESSION_ELEMENTS

VARIABLES = (
    VariableSpec("a", literal="1.5"),
    VariableSpec("v", literal="[0.5, -1., 2.]"),
    VariableSpec("m", literal="[[1., 2., 3.], [-1., 0.5, 0.25]]", requires_grad=False),
    VariableSpec("w", literal="[[0.5, 1.], [2., -1.], [1., 1.]]"),
)
UNARY = [name for name, f in FUNCTIONS.items() if f.operands == 1 and f.dim == "none"]
WITH_DIM = [name for name, f in FUNCTIONS.items() if f.dim != "none"]
NUMBERS = st.sampled_from(["0", "1", "2", "3", "0.5", "-1", "-2", "1.5", "1e-3", "10"])
LEAVES = st.sampled_from([v.name for v in VARIABLES]) | NUMBERS


def _grow(inner):
    binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**", "@"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})")
    neg = inner.map(lambda e: f"-({e})")
    plus = inner.map(lambda e: f"+({e})")
    call = st.tuples(st.sampled_from(UNARY), inner).map(lambda t: f"{t[0]}({t[1]})")
    method = st.tuples(inner, st.sampled_from(UNARY)).map(lambda t: f"({t[0]}).{t[1]}()")
    dims = st.integers(-2, 1)
    reduce_call = st.tuples(st.sampled_from(WITH_DIM), inner, dims, st.booleans()).map(
        lambda t: f"{t[0]}({t[1]}, dim={t[2]})" if t[3] else f"{t[0]}({t[1]}, {t[2]})")
    reduce_method = st.tuples(inner, st.sampled_from(WITH_DIM), dims).map(lambda t: f"({t[0]}).{t[1]}(dim={t[2]})")
    whole = st.tuples(inner, st.sampled_from(["sum", "mean"])).map(lambda t: f"({t[0]}).{t[1]}()")
    two = st.tuples(st.sampled_from(["pow", "matmul"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})")
    two_method = st.tuples(inner, st.sampled_from(["pow", "matmul"]), inner).map(lambda t: f"({t[0]}).{t[1]}({t[2]})")
    return binary | neg | plus | call | method | reduce_call | reduce_method | whole | two | two_method


EXPRESSIONS = st.recursive(LEAVES, _grow, max_leaves=6)


def _run(code: str) -> dict:
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code, "<shown code>", "exec"), namespace)  # noqa: S102 - the code the page shows, ours to run
    return namespace


@given(text=EXPRESSIONS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_code_shown_for_an_accepted_expression_runs_as_shown(text):
    spec = ExpressionSpec(VARIABLES, text).validate()
    try:
        tree = spec.parse()
        with torch.no_grad():
            value = evaluate(tree, make_tensors(spec))
    except PlaygroundError:
        return  # refused with a sentence: nothing is shown to run
    shown = _run(expression_code(spec))
    z = torch.as_tensor(shown["z"]).detach()
    assert z.shape == value.shape, (text, tree.source())
    assert z.dtype == value.dtype or (not isinstance(shown["z"], torch.Tensor) and z.numel() == 1), (text, tree.source())
    assert torch.allclose(z.to(value.dtype), value, rtol=1e-5, atol=1e-6, equal_nan=True), (text, tree.source(), z, value)


@pytest.mark.parametrize("text", [
    "sin(2)", "x * (1 / 0)", "pow(2, x)", "(2).sin()", "-2 ** 2", "softmax(3, dim=0)", "0 ** -1 * x", "(-8) ** 0.5 + x",
])
def test_numbers_alone_are_shown_as_the_tensors_the_page_computes(text):
    """A number alone in an operation is a tensor on the page (1 / 0 is inf, sin(2) a tensor): the code says so,
    where plain Python would raise ZeroDivisionError or TypeError."""
    spec = ExpressionSpec((VariableSpec("x", literal="[1., 2.]"),), text).validate()
    with torch.no_grad():
        value = evaluate(spec.parse(), make_tensors(spec))
    z = _run(expression_code(spec))["z"]
    assert torch.allclose(torch.as_tensor(z).detach(), value, equal_nan=True)


@pytest.mark.parametrize("text", ["sum(x, dim=0, dim=1)", "x.sum(dim=0, dim=0)", "softmax(x, dim=0, dim=-1)"])
def test_a_repeated_keyword_is_refused_as_python_refuses_it(text):
    with pytest.raises(SyntaxError):
        compile(text, "<python>", "eval")
    with pytest.raises(PlaygroundError, match=r"`dim=` is given more than once"):
        parse_expression(text, {"x"})


def test_a_keyword_given_once_is_accepted():
    assert parse_expression("sum(x, dim=0)", {"x"}).dim == 0


@pytest.mark.parametrize(("text", "shapes"), [
    ("x.sum(0)", {"x": (0, 2_000, 2_000)}),
    ("mean(x, dim=1)", {"x": (2_000, 0, 2_000)}),
    ("a @ b", {"a": (3_000, 0), "b": (0, 3_000)}),
    ("matmul(a, b)", {"a": (3_000, 0), "b": (0, 3_000)}),
])
def test_zero_sizes_do_not_hide_a_large_result(text, shapes):
    """Empty operands bound nothing: a sum along the 0, or a matmul over an empty inner size, is checked first."""
    values = {name: torch.zeros(shape) for name, shape in shapes.items()}
    with pytest.raises(PlaygroundError, match=f"under {MAX_EXPRESSION_ELEMENTS:,} numbers"):
        evaluate(parse_expression(text, set(values)), values)


def test_results_at_the_limit_are_computed():
    side = math.isqrt(MAX_EXPRESSION_ELEMENTS)
    values = {"a": torch.zeros(side, 0), "b": torch.zeros(0, side)}
    assert evaluate(parse_expression("a @ b", {"a", "b"}), values).numel() == MAX_EXPRESSION_ELEMENTS
    values = {"a": torch.zeros(side + 1, 0), "b": torch.zeros(0, side)}
    with pytest.raises(PlaygroundError, match="would make a tensor"):
        evaluate(parse_expression("a @ b", {"a", "b"}), values)
