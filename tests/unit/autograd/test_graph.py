"""Variables, the forward graph, PyTorch's grad_fn graph, and the finite-difference check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.autograd.gradcheck import finite_difference_check
from playground.autograd.graph import grad_fn_names, trace, value_text
from playground.autograd.variables import (
    COURSE_PRESET,
    PRESETS,
    ExpressionSpec,
    VariableSpec,
    format_nested,
    make_tensors,
    parse_random_shape,
    parse_value,
)
from playground.errors import PlaygroundError
from playground.limits import MAX_GRADCHECK_ELEMENTS, MAX_TENSOR_DIMS, MAX_TENSOR_ELEMENTS, MAX_VARIABLES

COURSE = PRESETS[COURSE_PRESET]


def spec(expression: str, *variables: VariableSpec, seed: int = 0) -> ExpressionSpec:
    return ExpressionSpec(tuple(variables), expression, seed)


# ---- variables ----------------------------------------------------------------------------------------------

def test_literals_parse_to_nested_floats():
    assert parse_value("[[1., 0.], [-1., 1.]]") == [[1.0, 0.0], [-1.0, 1.0]]
    assert parse_value(" -2.5 ") == -2.5
    assert parse_value("[1, 2, +3]") == [1.0, 2.0, 3.0]
    assert all(isinstance(v, float) for v in parse_value("[1, 2, +3]"))


@pytest.mark.parametrize("text", [
    "", "[1, [2]]", "[[1, 2], [3]]", "[]", "__import__('os')", "[x]", "'1'", "[True]", "1e999", "10" * 200,
    "[" * 7 + "1" + "]" * 7, "[" * 300 + "1" + "]" * 300, "[1, 2", "{1: 2}", "[1 + 2]",
    "[" + ", ".join(["1"] * (MAX_TENSOR_ELEMENTS + 1)) + "]", "[nan]", "inf", "(1, 2)", "9" * 4_301,
])
def test_bad_literals_are_refused(text):
    with pytest.raises(PlaygroundError):
        parse_value(text)


def test_autograd_reads_values_with_the_tensor_lab_parser(monkeypatch):
    """One literal parser: the Autograd page's values go through playground/tensors/literal.py."""
    import playground.autograd.variables as variables

    seen = []
    real = variables.parse_literal
    monkeypatch.setattr(variables, "parse_literal", lambda text: seen.append(text) or real(text))
    parse_value("[1., 2.]")
    make_tensors(spec("x.sum()", VariableSpec("x", literal="[3., 4.]")))
    assert seen == ["[1., 2.]", "[3., 4.]"]


def test_format_nested_writes_course_style():
    assert format_nested([[2.0, 0.0], [-2.0, 2.0]]) == "[[2., 0.], [-2., 2.]]"
    assert format_nested(0.25) == "0.25"


def test_variable_names_are_checked():
    for bad in ["1x", "torch", "sin", "_x", "__import__", "class", "a b", ""]:
        with pytest.raises(PlaygroundError):
            VariableSpec(bad, literal="1.").validate()
    with pytest.raises(PlaygroundError, match="same name"):
        spec("x + x", VariableSpec("x"), VariableSpec("x")).validate()
    with pytest.raises(PlaygroundError, match=f"at most {MAX_VARIABLES}"):
        spec("a0", *[VariableSpec(f"a{i}") for i in range(MAX_VARIABLES + 1)]).validate()


def test_shapes_are_checked():
    assert parse_random_shape("2, 3") == (2, 3)
    assert parse_random_shape("(4,)") == (4,)
    assert parse_random_shape("") == ()
    for bad in ["2, x", "0", "-1", ", ".join(["2"] * (MAX_TENSOR_DIMS + 1)), "1000, 1000", "2, " * 100 + "2",
                "9" * 5_000]:
        with pytest.raises(PlaygroundError):
            parse_random_shape(bad)


def test_spec_round_trips_through_a_dict():
    for preset in PRESETS.values():
        assert ExpressionSpec.from_dict(preset.to_dict()) == preset


def test_random_variables_equal_torch_manual_seed_in_declaration_order():
    s = spec("a.sum() + b.sum()", VariableSpec("a", "random", shape=(2, 3)), VariableSpec("k", literal="1."),
             VariableSpec("b", "random", shape=(4,)), seed=11)
    made = make_tensors(s)
    torch.manual_seed(11)
    a, b = torch.randn(2, 3), torch.randn(4)
    assert torch.equal(made["a"].detach(), a) and torch.equal(made["b"].detach(), b)
    assert not torch.equal(make_tensors(spec(s.expression, *s.variables, seed=12))["a"], made["a"])


# ---- the forward graph --------------------------------------------------------------------------------------

def test_course_example_graph_values_and_gradients():
    result = trace(COURSE)
    assert [n.label for n in result.nodes] == ["x", "pow 2", "sum"]
    assert [n.kind for n in result.nodes] == ["leaf", "op", "op"]
    x, power, total = result.nodes
    assert x.value.tolist() == [[1.0, 0.0], [-1.0, 1.0]]
    assert x.grad.tolist() == [[2.0, 0.0], [-2.0, 2.0]]
    assert power.value.tolist() == [[1.0, 0.0], [1.0, 1.0]] and power.grad.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert float(total.value) == 3.0 and float(total.grad) == 1.0
    assert power.inputs == (x.id,) and total.inputs == (power.id,)
    assert result.output_id == total.id and result.scalar and result.backward_problem is None
    assert result.result_repr == "tensor(3., grad_fn=<SumBackward0>)"
    assert result.grad_reprs["x"] == repr(torch.tensor([[2.0, 0.0], [-2.0, 2.0]]))
    dot = result.forward_dot
    assert "grad [[2., 0.], [-2., 2.]]" in dot and "data [[1., 0.], [-1., 1.]]" in dot and 'label="pow 2"' in dot
    assert dot.count("->") == 4  # x -> pow, pow -> value, value -> sum, sum -> value
    for name in ("SumBackward0", "PowBackward0", "AccumulateGrad"):
        assert name in result.backward_dot
    assert "x.grad" in result.backward_dot


def test_a_variable_used_twice_is_one_leaf_with_both_gradients():
    result = trace(spec("(x * x).sum()", VariableSpec("x", literal="[3., -1.]")))
    leaves = [n for n in result.nodes if n.kind == "leaf"]
    assert len(leaves) == 1 and leaves[0].grad.tolist() == [6.0, -2.0]
    assert len(result.nodes) == 3  # x, x * x, sum


def test_constants_are_nodes_without_gradients_but_exponents_are_labels():
    result = trace(spec("(2 * x ** 3).sum()", VariableSpec("x", literal="[1., 2.]")))
    labels = [n.label for n in result.nodes]
    assert labels == ["2", "x", "** 3", "*", "sum"]
    const = result.nodes[0]
    assert const.kind == "const" and const.grad is None and not const.requires_grad
    assert result.leaf_grads["x"].tolist() == [6.0, 24.0]


def test_leaf_without_requires_grad_gets_no_gradient():
    s = spec("(w * x).sum()", VariableSpec("w", literal="[1., 2.]"), VariableSpec("x", literal="[3., 4.]", requires_grad=False))
    result = trace(s)
    assert result.leaf_grads["w"].tolist() == [3.0, 4.0]
    assert result.leaf_grads["x"] is None
    assert "no grad" in result.forward_dot


def test_non_scalar_result_explains_backward_needs_a_scalar():
    result = trace(spec("x.pow(2)", VariableSpec("x", literal="[1., 2.]")))
    assert not result.scalar
    sentence, detail = result.backward_problem
    assert "backward() needs a single number" in sentence and "scalar outputs" in detail
    assert result.leaf_grads["x"] is None


def test_nothing_requires_grad_is_explained():
    result = trace(spec("x.sum()", VariableSpec("x", literal="[1., 2.]", requires_grad=False)))
    assert "requires_grad" in result.backward_problem[0]
    assert "no grad_fn" in result.backward_dot


def test_nan_says_where_it_appeared():
    with pytest.raises(PlaygroundError, match=r"NaN at `torch\.log\(x\)`"):
        trace(spec("log(x).sum()", VariableSpec("x", literal="[1., -1.]")))
    with pytest.raises(PlaygroundError, match=r"infinite value at `torch\.exp\(x\)`"):
        trace(spec("exp(x).sum()", VariableSpec("x", literal="[1000.]")))


def test_infinite_gradient_is_warned():
    result = trace(spec("sqrt(x).sum()", VariableSpec("x", literal="[0., 1.]")))
    assert result.warnings and "not finite" in result.warnings[0]


def test_large_tensors_are_summarised():
    text = value_text(np.arange(100.0))
    assert text.startswith("mean 49.5") and "max 99." in text
    assert value_text(np.array([1.0, 2.0])) == "[1., 2.]"


def test_grad_fn_names_are_pytorch_classes():
    x = torch.ones(2, requires_grad=True)
    assert grad_fn_names(torch.sigmoid(x * 2).sum()) == ["SumBackward0", "SigmoidBackward0", "MulBackward0", "AccumulateGrad"]


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_traces_and_matches_torch_autograd(name):
    preset = PRESETS[name]
    result = trace(preset)
    tensors = make_tensors(preset)
    output = preset.parse()
    from playground.autograd.expression import evaluate

    z = evaluate(output, tensors)
    z.backward()
    for key, tensor in tensors.items():
        if tensor.grad is None:
            assert result.leaf_grads[key] is None
        else:
            assert np.allclose(result.leaf_grads[key], tensor.grad.numpy())


# ---- finite differences -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PRESETS))
def test_presets_pass_the_finite_difference_check(name):
    report = finite_difference_check(PRESETS[name])
    assert report.passed and report.max_error < 1e-6


def test_the_check_compares_real_numbers():
    report = finite_difference_check(COURSE)
    (leaf,) = report.leaves
    assert leaf.autograd == (2.0, 0.0, -2.0, 2.0)
    assert np.allclose(leaf.numeric, leaf.autograd, atol=1e-6)


def test_the_check_fails_at_a_kink():
    # at 0 autograd takes relu's slope as 0; the central difference sees (h - 0) / 2h = 0.5
    report = finite_difference_check(spec("relu(x).sum()", VariableSpec("x", literal="[0., 1.]")))
    assert not report.passed and abs(report.max_error - 0.5) < 1e-6


def test_the_check_is_capped():
    report = finite_difference_check(spec("x.sum()", VariableSpec("x", "random", shape=(30, 30))))
    assert report.leaves[0].checked == MAX_GRADCHECK_ELEMENTS and report.leaves[0].total == 900


def test_the_check_needs_a_scalar():
    with pytest.raises(PlaygroundError, match="scalar"):
        finite_difference_check(spec("x * 2", VariableSpec("x", literal="[1., 2.]")))


def test_the_check_does_less_when_each_evaluation_is_large():
    from playground.limits import MAX_GRADCHECK_WORK

    s = spec("(a * b).sum()", VariableSpec("a", "random", shape=(1000, 1)), VariableSpec("b", "random", shape=(1, 1000)))
    report = finite_difference_check(s)
    checked = sum(leaf.checked for leaf in report.leaves)
    assert 0 < checked < MAX_GRADCHECK_ELEMENTS
    assert checked * 2 * 1_000_000 <= MAX_GRADCHECK_WORK + 2 * 1_002_001
    assert report.passed


def test_large_intermediates_keep_only_a_summary():
    s = spec("(a * b).sum()", VariableSpec("a", "random", shape=(200, 1)), VariableSpec("b", "random", shape=(1, 200)))
    result = trace(s)
    product = next(n for n in result.nodes if n.label == "*")
    assert product.value is None and product.grad is None and product.shape == (200, 200)
    assert product.value_summary.startswith("mean ") and product.grad_summary == "mean 1., min 1., max 1."
    assert result.leaf_grads["a"].shape == (200, 1)


def _walk(output: torch.Tensor) -> set[str]:
    """Every class name in the backward graph, found by a recursive walk written here."""
    found: set[str] = set()

    def visit(function) -> None:
        found.add(type(function).__name__)
        for child, _ in function.next_functions:
            if child is not None:
                visit(child)

    visit(output.grad_fn)
    return found


def test_grad_fn_names_lists_each_function_once_even_when_reached_twice():
    x = torch.tensor([0.5, 1.0], requires_grad=True)
    shared = x.exp()
    z = (x.cos() + shared * shared).sum()  # ExpBackward0 is reached twice, before CosBackward0 is
    names = grad_fn_names(z)
    assert len(names) == len(set(names)) and set(names) == _walk(z)
    assert {"CosBackward0", "ExpBackward0", "MulBackward0", "AddBackward0", "SumBackward0", "AccumulateGrad"} == set(names)


def test_a_tensor_without_history_has_no_grad_fn_names():
    assert grad_fn_names(torch.tensor([1.0, 2.0], requires_grad=True)) == []
    assert grad_fn_names(torch.tensor([1.0, 2.0]) * 2) == []
