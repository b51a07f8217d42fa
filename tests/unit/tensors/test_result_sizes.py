"""Every Tensor Lab operation's result size is known before it is computed (issue 25 item 2).

A hypothesis property over every row of the op table and shapes full of zeros, ones and the largest size:
the operation either is refused before either library is called, or each library's result holds exactly the
number of elements the row's size rule said, within the limit.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground import limits
from playground.errors import PlaygroundError
from playground.tensors import ops
from playground.tensors.build import TensorSpec, build
from playground.tensors.ops import OP_TABLE, OpSpec, run_twin

pytestmark = pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")

BIG = limits.MAX_TENSOR_SIZE
SIZES = st.sampled_from([0, 1, 2, 3, BIG])
# Text arguments: the default, ordinary values, and the ones that grow or empty a shape.
TEXT_VALUES = {
    "exponent": ["2", "3", "0.5", "-1", "64", "-64"],
    "new_shape": ["-1", "0, -1", f"{BIG}, -1", f"0, {BIG}, {BIG}", f"{BIG}, {BIG}", "1, -1", "2, 0", "0"],
}


def fits(shape: tuple[int, ...]) -> bool:
    return math.prod(shape) <= limits.MAX_TENSOR_ELEMENTS


shapes = st.lists(SIZES, min_size=0, max_size=4).map(tuple).filter(fits)


@st.composite
def cases(draw, op_name: str):
    """A tensor x, the others the row joins, and a value for every argument of the row."""
    op = OP_TABLE[op_name]
    shape = draw(shapes)
    dtype = draw(st.sampled_from(["float32", "int64"]))
    values = {}
    for argument in op.arguments:
        if argument.widget == "dim":
            bound = limits.MAX_TENSOR_DIMS + 1
            choices = st.integers(-bound, bound) | st.integers(-len(shape) - 1, len(shape))
            values[argument.name] = draw(st.none() | choices if argument.all_label else choices)
        elif argument.widget == "checkbox":
            values[argument.name] = draw(st.booleans())
        elif argument.widget == "tensors":
            values[argument.name] = draw(st.sampled_from(argument.choices))
        else:
            values[argument.name] = draw(st.sampled_from([argument.default, *TEXT_VALUES.get(argument.name, [])]))
    count = values[op.joins.name] - 1 if op.joins else 0
    others = []
    for _ in range(count):
        other = list(shape)
        if other and draw(st.booleans()):
            other[draw(st.integers(0, len(other) - 1))] = draw(SIZES)
        others.append(tuple(other) if fits(tuple(other)) else tuple(shape))
    return shape, dtype, values, others


class Spy:
    """The row with its two calls counted."""

    def __init__(self, monkeypatch, name: str) -> None:
        self.calls = 0
        row = OP_TABLE[name]

        def counted(call):
            def inner(*args):
                self.calls += 1
                return call(*args)
            return inner

        monkeypatch.setitem(OP_TABLE, name, dataclasses.replace(row, torch_call=counted(row.torch_call),
                                                                 numpy_call=counted(row.numpy_call)))


@pytest.mark.parametrize("name", list(OP_TABLE))
def test_every_op_refuses_before_computing_or_stays_within_the_limit(name, monkeypatch):
    @given(case=cases(name))
    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    def check(case):
        shape, dtype, values, other_shapes = case
        spy = Spy(monkeypatch, name)
        x = build(TensorSpec(source="arange", shape=shape, dtype=dtype))
        others = tuple(build(TensorSpec(source="ones", shape=s, dtype=dtype), "yz"[i]) for i, s in enumerate(other_shapes))
        spec = OpSpec(name, **values)
        try:
            result = run_twin(x, spec, others)
        except PlaygroundError as exc:
            assert spy.calls == 0, "refused after a library was called"
            if "would make a result" in exc.sentence:
                assert ops.result_size(spec, _shapes(x, others, values)) > limits.MAX_TENSOR_ELEMENTS
            return
        assert spy.calls == 2
        size = ops.result_size(spec, result.input_shapes)
        assert size <= limits.MAX_TENSOR_ELEMENTS
        for outcome in (result.torch_out, result.numpy_out):
            if outcome.ok:
                assert math.prod(outcome.shape) == size, (spec, result.input_shapes, outcome.shape)
                assert outcome.value.size == size
        if result.fix is not None:
            assert math.prod(result.fix.shape) == size

    check()


def _shapes(x, others, values):
    shape = tuple(x.tensor.shape)
    if values.get("transpose") and len(shape) >= 2:
        shape = (shape[1], shape[0], *shape[2:])
    return (shape, *(tuple(o.tensor.shape) for o in others))


@pytest.mark.parametrize(("shape", "spec"), [
    ((0, BIG, BIG), OpSpec("sum", dim=0)),
    ((0, BIG, BIG), OpSpec("mean", dim=0, keepdim=True)),
    ((BIG, 0, BIG), OpSpec("sum", dim=-2)),
])
def test_the_reported_attack_is_refused_with_a_sentence(shape, spec, monkeypatch):
    """zeros of shape [0, 10000, 10000], then sum or mean along dim 0: 100,000,000 numbers, refused unmade."""
    spy = Spy(monkeypatch, spec.op)
    x = build(TensorSpec(source="zeros", shape=shape))
    with pytest.raises(PlaygroundError, match=r"would make a result of 100,000,000 numbers; the limit here is 10,000"):
        run_twin(x, spec)
    assert spy.calls == 0


def test_results_at_the_limit_are_made():
    """One size of 10,000 beside a 0: a sum along the 0 makes exactly the limit, and it is computed."""
    x = build(TensorSpec(source="zeros", shape=(0, BIG)))
    result = run_twin(x, OpSpec("sum", dim=0))
    assert result.verdict.same and result.torch_out.shape == (BIG,)
    half = build(TensorSpec(source="ones", shape=(BIG // 2,)), "y")
    assert run_twin(half, OpSpec("cat", dim=0), (half,)).torch_out.shape == (BIG,)
    more = build(TensorSpec(source="ones", shape=(BIG // 2 + 1,)))
    with pytest.raises(PlaygroundError, match="would make a result of 10,001 numbers"):
        run_twin(more, OpSpec("cat", dim=0), (half,))


def test_pow_on_big_integers_keeps_the_size():
    """int64 at its largest, raised to the largest exponent: it wraps around, in both libraries, at the same size."""
    x = build(TensorSpec(literal="[9223372036854775807, -9223372036854775807, 3]", dtype="int64"))
    result = run_twin(x, OpSpec("pow", exponent="64"))
    assert result.torch_out.shape == result.numpy_out.shape == (3,)


def test_without_the_size_rule_an_empty_tensor_is_summed_past_the_limit(monkeypatch):
    """The protection matters: with sum's rule replaced by "as many as x holds" (0 for an empty x), a 20,000-number
    result is computed (the cheap stand-in for 10^8), and the property's oracle would catch it."""
    monkeypatch.setitem(OP_TABLE, "sum", dataclasses.replace(OP_TABLE["sum"], result_size=ops.same_size))
    result = run_twin(build(TensorSpec(source="zeros", shape=(0, BIG, 2))), OpSpec("sum", dim=0))
    assert math.prod(result.torch_out.shape) == 2 * BIG > limits.MAX_TENSOR_ELEMENTS
