"""The variables of the Autograd page: a name, a value (a literal or a seeded random shape), requires_grad.

Values such as ``[[1., 0.], [-1., 1.]]`` and shapes such as ``2, 3`` are read by Tensor Lab's parsers
(``playground/tensors/literal.py``: a token loop, never Python), with the rules of this page on top:
numbers are floats, finite, and no list is empty.
"""

from __future__ import annotations

import keyword
import math
from dataclasses import dataclass, field

import torch

from playground.autograd.expression import FUNCTIONS, code, parse_expression
from playground.errors import PlaygroundError
from playground.limits import MAX_TENSOR_DIMS, MAX_TENSOR_ELEMENTS, MAX_VARIABLES
from playground.tensors.literal import parse_literal, parse_shape

RESERVED_NAMES = frozenset({"torch", "np", "numpy", "print", "f", "p", "step", "loss", "optimizer"}) | frozenset(FUNCTIONS)

Nested = float | list


def parse_value(text: str) -> Nested:
    """A number or a rectangular nested list of finite numbers, as floats, read without running anything."""
    if not isinstance(text, str) or not text.strip():
        raise PlaygroundError("Give the variable a value, for example 2.0 or [[1., 0.], [-1., 1.]].")
    parsed = parse_literal(text)
    if 0 in parsed.shape:
        raise PlaygroundError("The value has an empty list; give every list at least one number.")
    return _floats(parsed.values)


def _floats(value: object) -> Nested:
    if isinstance(value, list):
        return [_floats(item) for item in value]
    if isinstance(value, bool):
        raise PlaygroundError("A value holds numbers only, such as [[1., 0.], [-1., 1.]]; True and False are not used "
                              "on this page.")
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise PlaygroundError("A number in the value is not finite (nan or inf); autograd here needs finite numbers.")
    return number


def format_number(value: float) -> str:
    """Numbers as a course writes them: ``2.``, ``-0.5``, ``0.3333``."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value)}."
    text = f"{value:.4g}"
    return text if ("e" in text or "." in text) else text + "."


def format_nested(value: Nested) -> str:
    """``[[2., 0.], [-2., 2.]]``: the course's way of writing small tensors."""
    if isinstance(value, list):
        return "[" + ", ".join(format_nested(item) for item in value) + "]"
    return format_number(float(value))


def literal_code(value: Nested) -> str:
    """The exact numbers as Python source (round-trips every float)."""
    if isinstance(value, list):
        return "[" + ", ".join(literal_code(item) for item in value) + "]"
    number = float(value)
    return f"{int(number)}." if number == int(number) and abs(number) < 1e15 else repr(number)


@dataclass(frozen=True)
class VariableSpec:
    """One declared tensor. ``source`` is "literal" (``literal`` holds its text) or "random" (``shape``)."""

    name: str
    source: str = "literal"
    literal: str = "0."
    shape: tuple[int, ...] = ()
    requires_grad: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(size) for size in self.shape))

    def validate(self) -> VariableSpec:
        if not isinstance(self.name, str) or not self.name.isidentifier() or keyword.iskeyword(self.name):
            raise PlaygroundError(f"{code(self.name)} cannot be a variable name; use letters, digits and `_`, such as `w` or `x1`.")
        if self.name.startswith("_"):
            raise PlaygroundError(f"{code(self.name)} cannot be a variable name; names may not start with `_`.")
        if self.name in RESERVED_NAMES:
            raise PlaygroundError(f"{code(self.name)} is taken by torch or by a function here; choose another name.")
        if len(self.name) > 24:
            raise PlaygroundError("Variable names can be at most 24 characters long.")
        if self.source == "literal":
            parse_value(self.literal)
        elif self.source == "random":
            _check_random_shape(self.shape)
        else:
            raise PlaygroundError(f"A variable's value is a literal or random, not {code(self.source)}.")
        return self

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "literal": self.literal, "shape": list(self.shape),
                "requires_grad": self.requires_grad}

    @classmethod
    def from_dict(cls, data: dict) -> VariableSpec:
        return cls(str(data["name"]), str(data.get("source", "literal")), str(data.get("literal", "0.")),
                   tuple(data.get("shape", ())), bool(data.get("requires_grad", True))).validate()


def parse_random_shape(text: str) -> tuple[int, ...]:
    """A random variable's shape, read by the one shape parser (``"2, 3"``; empty is a scalar), each size at least 1."""
    shape = parse_shape(text)
    _check_random_shape(shape)
    return shape


def _check_random_shape(shape: tuple[int, ...]) -> None:
    if len(shape) > MAX_TENSOR_DIMS or any(size < 1 for size in shape):
        raise PlaygroundError(f"A random shape needs 0 to {MAX_TENSOR_DIMS} sizes, each at least 1.")
    if math.prod(shape) > MAX_TENSOR_ELEMENTS:
        raise PlaygroundError(f"The shape {list(shape)} has more than {MAX_TENSOR_ELEMENTS:,} numbers; make it smaller.")


@dataclass(frozen=True)
class ExpressionSpec:
    """Everything the graph view computes from: the variables, the expression text and the seed."""

    variables: tuple[VariableSpec, ...]
    expression: str
    seed: int = 0
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "variables", tuple(self.variables))
        object.__setattr__(self, "names", tuple(v.name for v in self.variables))

    def validate(self) -> ExpressionSpec:
        if not self.variables:
            raise PlaygroundError("Declare at least one variable, such as x.")
        if len(self.variables) > MAX_VARIABLES:
            raise PlaygroundError(f"Declare at most {MAX_VARIABLES} variables.")
        for variable in self.variables:
            variable.validate()
        if len(set(self.names)) != len(self.names):
            raise PlaygroundError("Two variables have the same name; give each a different name.")
        return self

    def parse(self):
        return parse_expression(self.expression, set(self.names))

    def to_dict(self) -> dict:
        return {"variables": [v.to_dict() for v in self.variables], "expression": self.expression, "seed": self.seed}

    @classmethod
    def from_dict(cls, data: dict) -> ExpressionSpec:
        return cls(tuple(VariableSpec.from_dict(v) for v in data["variables"]), str(data["expression"]),
                   int(data.get("seed", 0))).validate()


def make_tensors(spec: ExpressionSpec, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The declared tensors, made as the code view makes them: random ones from ``torch.manual_seed(seed)``
    in declaration order (drawn in float32, then cast, so float64 copies hold the same numbers)."""
    generator = torch.Generator().manual_seed(spec.seed)
    tensors: dict[str, torch.Tensor] = {}
    for variable in spec.variables:
        if variable.source == "random":
            data = torch.randn(variable.shape, generator=generator).to(dtype)
        else:
            data = torch.tensor(parse_value(variable.literal), dtype=torch.float32).to(dtype)
        tensors[variable.name] = data.requires_grad_(variable.requires_grad)
    return tensors


PRESETS: dict[str, ExpressionSpec] = {
    "Course example: x.pow(2).sum()": ExpressionSpec(
        (VariableSpec("x", literal="[[1., 0.], [-1., 1.]]", requires_grad=True),), "x.pow(2).sum()"),
    "Linear model, mean squared error": ExpressionSpec(
        (VariableSpec("w", literal="0.5"), VariableSpec("b", literal="0."),
         VariableSpec("x", literal="[1., 2., 3., 4.]", requires_grad=False),
         VariableSpec("y", literal="[2., 4., 6., 8.]", requires_grad=False)),
        "(w * x + b - y).pow(2).mean()"),
    "Neuron: sigmoid(w @ x + b)": ExpressionSpec(
        (VariableSpec("w", literal="[0.5, -1., 2.]"), VariableSpec("x", literal="[1., 2., 3.]", requires_grad=False),
         VariableSpec("b", literal="0.1")),
        "sigmoid(w @ x + b)"),
    "Softmax cross-entropy": ExpressionSpec(
        (VariableSpec("logits", literal="[2., 1., 0.1]"),
         VariableSpec("target", literal="[1., 0., 0.]", requires_grad=False)),
        "-(target * log_softmax(logits, dim=0)).sum()"),
    "Random layer: relu(W @ x).sum()": ExpressionSpec(
        (VariableSpec("W", source="random", shape=(2, 3)), VariableSpec("x", source="random", shape=(3,))),
        "relu(W @ x).sum()"),
}
COURSE_PRESET = "Course example: x.pow(2).sum()"
