"""The Autograd page's variables (playground/autograd/variables.py): values read as finite floats, numbers written
the course's way and as source that reads back exactly, names and shapes at their limits, and the tensors made
from a spec equal to torch's own made by hand."""

from __future__ import annotations

import math

import pytest
import torch

from playground.autograd.variables import (
    PRESETS,
    RESERVED_NAMES,
    ExpressionSpec,
    VariableSpec,
    format_nested,
    format_number,
    literal_code,
    make_tensors,
    parse_random_shape,
    parse_value,
)
from playground.errors import PlaygroundError
from playground.limits import MAX_TENSOR_DIMS, MAX_TENSOR_ELEMENTS, MAX_VARIABLES
from tests.unit.tensors.sentences import assert_plain_sentence


def refused(call, *args) -> str:
    with pytest.raises(PlaygroundError) as info:
        call(*args)
    assert_plain_sentence(info.value.sentence)
    return info.value.sentence


def test_values_are_read_as_floats():
    value = parse_value("[[1, 0], [-1, 2.5]]")
    assert value == [[1.0, 0.0], [-1.0, 2.5]] and all(type(v) is float for row in value for v in row)
    assert parse_value(" 3 ") == 3.0 and type(parse_value("3")) is float


@pytest.mark.parametrize(("text", "says"), [
    ("", "Give the variable a value"), ("   ", "Give the variable a value"), (None, "Give the variable a value"),
    ("[]", "empty list"), ("[[1.], []]", "ragged"), ("[[], []]", "empty list"),
    ("[1., True]", "True and False"), ("False", "True and False"),
    ("[1., nan]", "not finite"), ("-inf", "not finite"), ("[1., x]", "`x`"),
])
def test_a_bad_value_is_refused_with_a_sentence(text, says):
    assert says in refused(parse_value, text)


@pytest.mark.parametrize(("value", "written"), [
    (2.0, "2."), (-0.5, "-0.5"), (1 / 3, "0.3333"), (0.0, "0."), (-3.0, "-3."), (1234.4, "1234."),
    (123456.7, "1.235e+05"), (999_999_999_999_999.0, "999999999999999."), (1e15, "1e+15"), (1e-7, "1e-07"),
    (float("nan"), "nan"), (float("inf"), "inf"), (float("-inf"), "-inf"),
])
def test_numbers_are_written_the_courses_way(value, written):
    assert format_number(value) == written


def test_nested_values_are_written_the_courses_way():
    assert format_nested([[2.0, 0.0], [-2.0, 0.25]]) == "[[2., 0.], [-2., 0.25]]"
    assert format_nested(1) == "1." and format_nested([]) == "[]"


@pytest.mark.parametrize("value", [0.1 + 0.2, -3.0, 1e20, -1e15, 2.5e-300, 1 / 3, 999_999_999_999_999.0, 0.0])
def test_literal_code_reads_back_exactly(value):
    text = literal_code([[value], [value]])
    assert eval(text) == [[value], [value]]  # noqa: S307 - our own generated source, the claim under test
    assert eval(literal_code(value)) == value  # noqa: S307


def test_literal_code_writes_whole_numbers_the_courses_way():
    assert literal_code(-3.0) == "-3." and literal_code(4) == "4." and literal_code(999_999_999_999_999.0) == "999999999999999."
    assert literal_code(1e15) == "1000000000000000.0" and literal_code(0.25) == "0.25"


@pytest.mark.parametrize(("name", "says"), [
    ("1x", "cannot be a variable name"), ("for", "cannot be a variable name"), ("a-b", "cannot be a variable name"),
    ("", "cannot be a variable name"), ("_x", "may not start with `_`"), ("torch", "is taken"), ("relu", "is taken"),
    ("loss", "is taken"), ("a" * 25, "at most 24 characters"),
])
def test_a_bad_name_is_refused(name, says):
    assert says in refused(VariableSpec(name, literal="1.").validate)


def test_names_at_their_limits_are_accepted():
    assert VariableSpec("a" * 24, literal="1.").validate().name == "a" * 24
    assert VariableSpec("x_1").validate().literal == "0."
    assert {"torch", "np", "optimizer", "step", "sigmoid", "log_softmax"} <= RESERVED_NAMES


def test_a_variable_is_a_literal_or_random():
    assert "not `file`" in refused(VariableSpec("x", source="file").validate)
    assert VariableSpec("x", source="random", shape=[2, "3"]).validate().shape == (2, 3)
    assert "each at least 1" in refused(VariableSpec("x", source="random", shape=(2, 0)).validate)
    VariableSpec("x", source="random", literal="not read", shape=(2,)).validate()  # a random one's literal is unused


def test_random_shapes_at_their_limits():
    assert parse_random_shape("") == () and parse_random_shape(", ".join(["1"] * MAX_TENSOR_DIMS)) == (1,) * MAX_TENSOR_DIMS
    assert "over the limit" in refused(parse_random_shape, ", ".join(["1"] * (MAX_TENSOR_DIMS + 1)))
    deep = VariableSpec("x", source="random", shape=(1,) * (MAX_TENSOR_DIMS + 1))
    assert f"0 to {MAX_TENSOR_DIMS} sizes" in refused(deep.validate)
    assert VariableSpec("x", source="random", shape=(1,) * MAX_TENSOR_DIMS).validate()
    assert "each at least 1" in refused(parse_random_shape, "2, 0")
    assert parse_random_shape(f"{MAX_TENSOR_ELEMENTS // 2}, 2") == (MAX_TENSOR_ELEMENTS // 2, 2)
    assert "limit" in refused(parse_random_shape, f"{MAX_TENSOR_ELEMENTS // 2 + 1}, 2")
    over = VariableSpec("x", source="random", shape=(MAX_TENSOR_ELEMENTS // 2 + 1, 2))
    assert f"[{MAX_TENSOR_ELEMENTS // 2 + 1}, 2] has more than {MAX_TENSOR_ELEMENTS:,}" in refused(over.validate)
    assert VariableSpec("x", source="random", shape=(MAX_TENSOR_ELEMENTS // 2, 2)).validate()


def test_specs_round_trip_through_their_dicts_with_defaults():
    variable = VariableSpec("w", source="random", shape=(2,), requires_grad=False)
    assert variable.to_dict() == {"name": "w", "source": "random", "literal": "0.", "shape": [2], "requires_grad": False}
    assert VariableSpec.from_dict(variable.to_dict()) == variable
    assert VariableSpec.from_dict({"name": "z"}) == VariableSpec("z", "literal", "0.", (), True)
    spec = ExpressionSpec((variable, VariableSpec("b", literal="[1., 2.]")), "(w * b).sum()", seed=4)
    assert spec.names == ("w", "b") and spec.to_dict()["seed"] == 4
    assert ExpressionSpec.from_dict(spec.to_dict()) == spec
    assert ExpressionSpec.from_dict({"variables": [{"name": "x"}], "expression": "x"}).seed == 0
    with pytest.raises(PlaygroundError):
        VariableSpec.from_dict({"name": "for"})  # from_dict validates


def test_an_expression_spec_at_its_limits():
    assert "at least one variable" in refused(ExpressionSpec((), "1").validate)
    names = [f"a{i}" for i in range(MAX_VARIABLES + 1)]
    assert len(ExpressionSpec(tuple(VariableSpec(n) for n in names[:-1]), "a0").validate().variables) == MAX_VARIABLES
    assert f"at most {MAX_VARIABLES}" in refused(ExpressionSpec(tuple(VariableSpec(n) for n in names), "a0").validate)
    assert "same name" in refused(ExpressionSpec((VariableSpec("x"), VariableSpec("x")), "x").validate)
    assert "`1x`" in refused(ExpressionSpec((VariableSpec("x"), VariableSpec("1x")), "x").validate)


def test_tensors_are_made_as_torch_makes_them_by_hand():
    spec = ExpressionSpec((VariableSpec("a", source="random", shape=(2, 3)), VariableSpec("c", literal="[1, 2]",
                           requires_grad=False), VariableSpec("b", source="random", shape=(3,))), "a", seed=7)
    g = torch.Generator().manual_seed(7)
    a, b = torch.randn((2, 3), generator=g), torch.randn((3,), generator=g)  # in declaration order
    made = make_tensors(spec)
    assert torch.equal(made["a"], a) and torch.equal(made["b"], b)
    assert torch.equal(made["c"], torch.tensor([1.0, 2.0])) and made["c"].dtype == torch.float32
    assert made["a"].requires_grad and made["b"].requires_grad and not made["c"].requires_grad
    doubled = make_tensors(spec, dtype=torch.float64)
    assert doubled["a"].dtype == torch.float64 and torch.equal(doubled["a"], a.double())
    third = make_tensors(ExpressionSpec((VariableSpec("t", literal="0.1"),), "t"), dtype=torch.float64)["t"]
    assert third.item() == torch.tensor(0.1, dtype=torch.float32).double().item()  # drawn in float32, then cast
    assert not torch.equal(make_tensors(ExpressionSpec(spec.variables, "a", seed=8))["a"], a)


def test_the_presets_are_valid_and_their_gradients_are_torchs():
    for name, preset in PRESETS.items():
        preset.validate()
        assert preset.parse() is not None, name
    course = PRESETS["Course example: x.pow(2).sum()"]
    x = make_tensors(course)["x"]
    x.pow(2).sum().backward()
    assert torch.equal(x.grad, 2 * torch.tensor([[1.0, 0.0], [-1.0, 1.0]]))
    assert math.isclose(make_tensors(PRESETS["Linear model, mean squared error"])["w"].item(), 0.5)
