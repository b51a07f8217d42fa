"""The expression parser and evaluator: PyTorch itself is the oracle, finite differences the second one."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.autograd.expression import ALLOWED_SENTENCE, evaluate, parse_expression
from playground.errors import PlaygroundError
from playground.limits import MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_NODES

torch.set_default_dtype(torch.float32)


def tensors(dtype=torch.float64) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    return {
        "x": torch.rand(3, generator=gen, dtype=dtype).add(0.5).requires_grad_(True),
        "w": torch.randn(3, generator=gen, dtype=dtype).requires_grad_(True),
        "b": torch.randn((), generator=gen, dtype=dtype).requires_grad_(True),
        "y": torch.randn(3, generator=gen, dtype=dtype),
        "M": torch.randn(2, 3, generator=gen, dtype=dtype).requires_grad_(True),
    }


# (expression, the same thing written directly in PyTorch)
CASES = [
    ("x.pow(2).sum()", lambda t: t.x.pow(2).sum()),
    ("(w * x + b - y).pow(2).mean()", lambda t: (t.w * t.x + t.b - t.y).pow(2).mean()),
    ("sigmoid(w @ x + b)", lambda t: torch.sigmoid(t.w @ t.x + t.b)),
    ("-(y.softmax(0) * log_softmax(w, dim=0)).sum()", lambda t: -(t.y.softmax(0) * torch.log_softmax(t.w, 0)).sum()),
    ("(M @ x).tanh().sum()", lambda t: (t.M @ t.x).tanh().sum()),
    ("matmul(M, w).relu().mean()", lambda t: torch.relu(t.M @ t.w).mean()),
    ("(sin(x) * cos(w)).sum() / 3", lambda t: (torch.sin(t.x) * torch.cos(t.w)).sum() / 3),
    ("exp(-x ** 2).sum() + log(x).sum()", lambda t: torch.exp(-t.x**2).sum() + torch.log(t.x).sum()),
    ("sqrt(x).sum() * abs(b)", lambda t: t.x.sqrt().sum() * t.b.abs()),
    ("(x ** w).sum()", lambda t: (t.x**t.w).sum()),
    ("pow(x, 3).sum() - 2 * b", lambda t: t.x.pow(3).sum() - 2 * t.b),
    ("M.t().sum(0).pow(2).sum()", lambda t: t.M.t().sum(0).pow(2).sum()),
    ("M.mean(-1).sum() + (x * x).sum()", lambda t: t.M.mean(-1).sum() + (t.x * t.x).sum()),
    ("+x.sum() - -b", lambda t: t.x.sum() + t.b),
    ("1 / (1 + exp(-(w @ x)))", lambda t: 1 / (1 + torch.exp(-(t.w @ t.x)))),
]


@pytest.mark.parametrize("text,oracle", CASES)
def test_value_and_gradients_match_pytorch(text, oracle):
    values = tensors()
    ours = evaluate(parse_expression(text, set(values)), values, dtype=torch.float64)
    theirs = oracle(SimpleNamespace(**values))
    assert torch.allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    leaves = [t for t in values.values() if t.requires_grad]
    ours_grads = torch.autograd.grad(ours, leaves, allow_unused=True)
    theirs_grads = torch.autograd.grad(theirs, leaves, allow_unused=True)
    for a, b in zip(ours_grads, theirs_grads, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("text,oracle", CASES)
def test_gradients_match_finite_differences(text, oracle):
    values = tensors()
    tree = parse_expression(text, set(values))
    leaves = {k: v for k, v in values.items() if v.requires_grad}
    grads = torch.autograd.grad(evaluate(tree, values, dtype=torch.float64), list(leaves.values()), allow_unused=True)
    h = 1e-6
    plain = {k: v.detach() for k, v in values.items()}
    for (name, leaf), grad in zip(leaves.items(), grads, strict=True):
        flat = leaf.detach().reshape(-1)
        for i in range(flat.numel()):
            up, down = flat.clone(), flat.clone()
            up[i] += h
            down[i] -= h
            f_up = float(evaluate(tree, {**plain, name: up.reshape(leaf.shape)}, dtype=torch.float64))
            f_down = float(evaluate(tree, {**plain, name: down.reshape(leaf.shape)}, dtype=torch.float64))
            numeric = (f_up - f_down) / (2 * h)
            auto = 0.0 if grad is None else float(grad.reshape(-1)[i])
            assert math.isclose(auto, numeric, rel_tol=1e-5, abs_tol=1e-6), (text, name, i)


def test_course_expression_records_pow_backward0_like_pytorch():
    x = torch.tensor([[1.0, 0.0], [-1.0, 1.0]], requires_grad=True)
    z = evaluate(parse_expression("x.pow(2).sum()", {"x"}), {"x": x})
    assert type(z.grad_fn).__name__ == "SumBackward0"
    assert type(z.grad_fn.next_functions[0][0]).__name__ == "PowBackward0"
    z.backward()
    assert x.grad.tolist() == [[2.0, 0.0], [-2.0, 2.0]]


def test_source_is_pytorch_code():
    tree = parse_expression("sigmoid(w @ x + b) * 2 - x.pow(2).sum(dim=0)", {"w", "x", "b"})
    assert tree.source() == "torch.sigmoid(w @ x + b) * 2 - x.pow(2).sum(dim=0)"
    assert parse_expression("-(a - -1)", {"a"}).source() == "-(a - -1)"


# ---- hostile and bad input ---------------------------------------------------------------------------------

HOSTILE = [
    "__import__('os')",
    "__import__('os').system('echo hi')",
    "x.__class__.__mro__",
    "x.__class__",
    "x.data",
    "x.T",
    "x.grad",
    "lambda: x",
    "(lambda q: q)(x)",
    "[v for v in x]",
    "{v for v in x}",
    "(v for v in x)",
    "{'a': x}",
    "9**9**9",
    "x ** 1000",
    "x.pow(2 ** 10)",
    "f'{x}'",
    "'abc'",
    "b'abc'",
    "x[0]",
    "x[::-1]",
    "x if x else x",
    "x < 1",
    "x and x",
    "(x := 2)",
    "open('/etc/passwd')",
    "getattr(x, 'sum')()",
    "globals()",
    "torch.sin(x)",
    "x.sum(keepdim=True)",
    "x.sum(**{'dim': 0})",
    "sin(*[x])",
    "x // 2",
    "x % 2",
    "~x",
    "not x",
    "x.sum().item()",
    "x.numpy()",
    "None",
    "True",
    "...",
    "1j * x",
    "y + 1",
    "sin",
    "x +",
    "x; x",
    "import os",
    "x" * (MAX_EXPRESSION_CHARS + 1),
    "(" * 240 + "x" + ")" * 240,  # beyond Python's parser's nesting limit, under the length limit
    "-" * 300 + "x",
    "sin(" * (MAX_EXPRESSION_DEPTH + 2) + "x" + ")" * (MAX_EXPRESSION_DEPTH + 2),
    " + ".join(["x"] * (MAX_EXPRESSION_NODES // 2 + 10)),
    "1" * 400 + " * x",
    "1e999 * x",
    "x\x00",
    "",
    "   ",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_and_bad_input_is_refused_with_a_sentence(text):
    with pytest.raises(PlaygroundError) as info:
        parse_expression(text, {"x"})
    sentence = info.value.sentence
    assert len(sentence) > 20 and sentence.rstrip().endswith(".")
    assert "Traceback" not in sentence


@pytest.mark.parametrize("text", ["__import__('os')", "open('f')", "lambda: x", "x[0]", "x.__class__"])
def test_refusals_say_what_is_allowed(text):
    with pytest.raises(PlaygroundError) as info:
        parse_expression(text, {"x"})
    assert ALLOWED_SENTENCE in info.value.sentence


def test_redundant_brackets_are_harmless():
    tree = parse_expression("(" * 100 + "x" + ")" * 100, {"x"})
    assert tree.op == "var" and tree.name == "x"


def test_undeclared_name_is_named():
    with pytest.raises(PlaygroundError, match="The name `y` is not declared"):
        parse_expression("x + y", {"x"})


def test_huge_constant_exponent_is_refused_quickly_but_small_ones_work():
    with pytest.raises(PlaygroundError, match="Exponents made of numbers"):
        parse_expression("2 ** 9 ** 9 ** 9", {"x"})
    assert float(evaluate(parse_expression("x ** 16", {"x"}), {"x": torch.tensor(2.0)})) == 65536.0


def test_broadcast_error_names_the_shapes():
    tree = parse_expression("a + b", {"a", "b"})
    with pytest.raises(PlaygroundError, match=r"The shapes 2 and 3 do not broadcast in `a \+ b`") as info:
        evaluate(tree, {"a": torch.ones(2), "b": torch.ones(3)})
    assert "size of tensor" in info.value.detail


def test_matmul_error_names_the_shapes():
    with pytest.raises(PlaygroundError, match="cannot be matrix-multiplied"):
        evaluate(parse_expression("a @ b", {"a", "b"}), {"a": torch.ones(2, 3), "b": torch.ones(2, 3)})


def test_dim_out_of_range():
    with pytest.raises(PlaygroundError, match="dim=3 does not exist"):
        evaluate(parse_expression("a.sum(3)", {"a"}), {"a": torch.ones(2, 3)})


def test_intermediate_size_limit_is_enforced_before_computing():
    a, b = torch.ones(2000, 1), torch.ones(1, 2000)
    with pytest.raises(PlaygroundError, match="keep intermediate results under"):
        evaluate(parse_expression("a * b", {"a", "b"}), {"a": a, "b": b})
    with pytest.raises(PlaygroundError, match="keep intermediate results under"):
        evaluate(parse_expression("a @ b", {"a", "b"}), {"a": a, "b": b})


def test_total_work_of_one_evaluation_is_limited():
    from playground.limits import MAX_EXPRESSION_TOTAL_ELEMENTS

    a = torch.ones(1000, 1000)
    count = MAX_EXPRESSION_TOTAL_ELEMENTS // a.numel() + 2
    with pytest.raises(PlaygroundError, match="numbers in all"):
        evaluate(parse_expression(" + ".join(["a"] * count), {"a"}), {"a": a})


def test_softmax_needs_a_dim():
    with pytest.raises(PlaygroundError, match="needs a dim"):
        parse_expression("softmax(x)", {"x"})


# ---- random expressions: our evaluator against PyTorch written directly ----------------------------------

UNARY = {
    "sin": torch.sin,
    "cos": torch.cos,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "exp": lambda v: torch.exp(v),
}
BINARY = {"+": torch.add, "-": torch.sub, "*": torch.mul}


@st.composite
def expressions(draw, depth=0):
    """(text, oracle) pairs over x and y, smooth everywhere (no kinks, no division by zero)."""
    if depth >= 3 or draw(st.integers(0, 3)) == 0:
        leaf = draw(st.sampled_from(["x", "y", "num"]))
        if leaf == "num":
            value = draw(st.floats(-2, 2, allow_nan=False).map(lambda v: round(v, 2)))
            return f"({value})", lambda t, v=value: torch.tensor(v, dtype=torch.float64)
        return leaf, lambda t, n=leaf: t[n]
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(UNARY)))
        text, inner = draw(expressions(depth + 1))
        if name == "exp":
            return f"exp(tanh({text}))", lambda t: torch.exp(torch.tanh(inner(t)))
        form = draw(st.booleans())
        return (f"({text}).{name}()" if form else f"{name}({text})"), lambda t: UNARY[name](inner(t))
    op = draw(st.sampled_from(sorted(BINARY)))
    left_text, left = draw(expressions(depth + 1))
    right_text, right = draw(expressions(depth + 1))
    return f"({left_text} {op} {right_text})", lambda t: BINARY[op](left(t), right(t))


@settings(max_examples=60, deadline=None)
@given(expressions(), st.lists(st.floats(-2, 2, allow_nan=False), min_size=3, max_size=3))
def test_random_expressions_match_pytorch_values_and_gradients(pair, x_values):
    text, oracle = pair
    full = f"({text}).sum()"
    x = torch.tensor(x_values, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0.3, -0.7, 1.1], dtype=torch.float64, requires_grad=True)
    ours = evaluate(parse_expression(full, {"x", "y"}), {"x": x, "y": y}, dtype=torch.float64)
    theirs = oracle({"x": x, "y": y}).sum()
    assert torch.allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    if not theirs.requires_grad:
        return
    got = torch.autograd.grad(ours, [x, y], allow_unused=True)
    want = torch.autograd.grad(theirs, [x, y], allow_unused=True)
    for a, b in zip(got, want, strict=True):
        a = torch.zeros(3, dtype=torch.float64) if a is None else a
        b = torch.zeros(3, dtype=torch.float64) if b is None else b
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


PYTHONISH = st.text(alphabet=list("xyw()[]{}.,:+-*/@%<>=!~&|^'\"_ 0123456789eEjsinpowsumtlambdaimport"), max_size=60)


@settings(max_examples=300, deadline=None)
@given(st.one_of(PYTHONISH, st.text(max_size=40)))
def test_any_text_either_parses_and_evaluates_or_is_refused_with_a_sentence(text):
    """Fuzz: whatever a user types, the only failure is a PlaygroundError (never a crash or a traceback)."""
    values = {"x": torch.tensor([0.5, -1.0]), "y": torch.tensor(2.0), "w": torch.ones(2, 2)}
    try:
        tree = parse_expression(text, set(values))
        result = evaluate(tree, values)
    except PlaygroundError as error:
        assert error.sentence
        return
    assert isinstance(result, torch.Tensor)


# --- from the mutation run of 2026-12-07 (docs/MUTATION.md): each test below kills survivors of that run ---


def test_names_are_the_variables_the_expression_reads_and_nothing_else():
    assert parse_expression("(x * w).sum() + sin(2) - x", {"x", "w", "b"}).names() == {"x", "w"}
    assert parse_expression("2 * 3", {"x"}).names() == set()


def test_each_shape_refusal_is_a_plain_sentence_naming_the_shapes():
    from tests.unit.tensors.sentences import assert_plain_sentence

    cases = [
        ("matmul(a, b)", {"a": torch.ones(2, 3), "b": torch.ones(2)}, "The shapes 2×3 and 2 cannot be matrix-multiplied"),
        ("a + b", {"a": torch.ones(2), "b": torch.ones(3)}, "The shapes 2 and 3 do not broadcast"),
        ("t(a)", {"a": torch.ones(2, 2, 2)}, "`t()` needs a matrix (2-D tensor) in `torch.t(a)`, but got shape 2×2×2."),
    ]
    for text, values, start in cases:
        with pytest.raises(PlaygroundError) as refused:
            evaluate(parse_expression(text, set(values)), values)
        assert refused.value.sentence.startswith(start)
        assert_plain_sentence(refused.value.sentence)
