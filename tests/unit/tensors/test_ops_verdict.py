"""The Tensor Lab's verdict fed results that must fail it: same shape and dtype, different values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground.tensors.build import TensorSpec, build
from playground.tensors.ops import OpSpec, Outcome, _tolerance, compare, first_difference, run_twin


def outcome(values, dtype="float32") -> Outcome:
    array = np.asarray(values, dtype=dtype)
    return Outcome(value=array, shape=tuple(array.shape), dtype=dtype)


X = build(TensorSpec(literal="[1.0, 2.0, 3.0]"))
SUM = OpSpec("sum", dim=None)


def test_equal_shape_and_dtype_but_different_values_is_not_same():
    verdict = compare(SUM, X, outcome([6.0]), outcome([7.0]))
    assert verdict.same is False
    assert verdict.headline == "The results differ."
    assert verdict.reasons == ("Values differ first at index (0,): torch 6.0 vs NumPy 7.0.",)


def test_identical_results_are_same_and_say_so():
    verdict = compare(SUM, X, outcome([6.0, 1.0]), outcome([6.0, 1.0]))
    assert verdict.same and verdict.reasons == ()
    assert verdict.headline == "Same values, same shape [2], same dtype float32."


def test_rounding_within_the_tolerance_is_same_but_named():
    rtol, atol = _tolerance(X, outcome([6.0]), outcome([6.0]))
    verdict = compare(SUM, X, outcome([6.0], "float64"), outcome([6.0 + atol / 2], "float64"))
    assert verdict.same
    assert "agree up to floating-point rounding" in verdict.headline


def test_a_difference_just_past_the_tolerance_is_not_same():
    rtol, atol = _tolerance(X, outcome([6.0]), outcome([6.0]))
    bound = atol + rtol * 6.0
    assert compare(SUM, X, outcome([6.0], "float64"), outcome([6.0 + 0.9 * bound], "float64")).same
    assert not compare(SUM, X, outcome([6.0], "float64"), outcome([6.0 + 1.5 * bound], "float64")).same


def test_the_first_differing_index_among_several_is_reported():
    verdict = compare(SUM, X, outcome([[1, 2], [3, 4]]), outcome([[1, 2], [3, 5]]))
    assert verdict.reasons == ("Values differ first at index (1, 1): torch 4.0 vs NumPy 5.0.",)


def test_shape_and_dtype_differences_are_each_a_reason():
    shape = compare(SUM, X, outcome([1.0, 2.0]), outcome([1.0]))
    assert not shape.same and shape.reasons[0] == "Shapes differ: torch [2] vs NumPy [1]."
    dtype = compare(SUM, X, outcome([1.0], "float32"), outcome([1.0], "float64"))
    assert not dtype.same and dtype.reasons[0].startswith("Dtypes differ: torch float32 vs NumPy float64.")


def test_one_side_or_both_refusing_is_not_same():
    error = Outcome(error="boom")
    assert compare(SUM, X, error, error).headline == "Both libraries refuse this operation."
    assert compare(SUM, X, error, error).same is False  # a bool, not merely falsy
    assert compare(SUM, X, outcome([1.0]), error).same is False  # a bool, not merely falsy
    assert compare(SUM, X, outcome([1.0]), error).headline == "torch gives a result; NumPy raises an error."
    assert compare(SUM, X, error, outcome([1.0])).same is False  # a bool, not merely falsy
    assert compare(SUM, X, error, outcome([1.0])).headline == "NumPy gives a result; torch raises an error."


def test_tolerance_is_pinned_to_the_dtype_size_and_scale():
    eps32, eps64 = float(np.finfo("float32").eps), float(np.finfo("float64").eps)
    assert _tolerance(X, outcome([1.0]), outcome([1.0])) == (8 * eps32, 4 * eps32 * 3 * 3.0)
    x64 = build(TensorSpec(literal="[0.5, -0.25]", dtype="float64"))
    assert x64.tensor.dtype == torch.float64
    assert _tolerance(x64, outcome([1.0], "float64"), outcome([1.0], "float64")) == (8 * eps64, 4 * eps64 * 2 * 1.0)
    # float32 on either side makes the coarse dtype float32
    assert _tolerance(x64, outcome([1.0], "float32"), outcome([1.0], "float64"))[0] == 8 * eps32


def test_first_difference_default_tolerances_at_the_edge():
    assert first_difference(np.array([1.0]), np.array([1.0 + 0.5e-6])) is None
    assert first_difference(np.array([1.0]), np.array([1.0 + 2e-6])) == ((0,), 1.0, 1.0 + 2e-6)
    assert first_difference(np.array([0.0]), np.array([0.5e-7])) is None
    assert first_difference(np.array([0.0]), np.array([2e-7])) is not None


def test_first_difference_on_booleans_and_nan():
    assert first_difference(np.array([True, False]), np.array([True, True])) == ((1,), False, True)
    assert first_difference(np.array([True]), np.array([True])) is None
    assert first_difference(np.array([np.nan, 1.0]), np.array([np.nan, 2.0])) == ((1,), 1.0, 2.0)
    assert first_difference(np.array([np.inf]), np.array([np.inf])) is None
    assert first_difference(np.array([np.inf]), np.array([-np.inf])) is not None


@pytest.mark.parametrize("planted", [1e-3, -1e-3])
def test_run_twin_sees_a_planted_value_difference(monkeypatch, planted):
    from playground.tensors import ops

    real = ops._capture_numpy
    monkeypatch.setattr(ops, "_capture_numpy", lambda fn: real(lambda: np.asarray(fn()) + planted))
    result = ops.run_twin(build(TensorSpec(literal="[[1.0, 2.0], [3.0, 4.0]]")), OpSpec("sum", dim=0))
    assert result.torch_out.shape == result.numpy_out.shape and not result.verdict.same
    assert result.verdict.reasons[0].startswith("Values differ first at index (0,)")


def test_tolerance_of_a_single_number_and_of_numbers_none_of_them_finite():
    eps32 = float(np.finfo("float32").eps)
    one = build(TensorSpec(literal="[5.0]"))
    assert _tolerance(one, outcome([1.0]), outcome([1.0])) == (8 * eps32, 4 * eps32 * 1 * 5.0)
    no_finite = build(TensorSpec(literal="[inf, nan]"))  # no finite number to scale by: the scale is 1
    assert _tolerance(no_finite, outcome([1.0]), outcome([1.0])) == (8 * eps32, 4 * eps32 * 2 * 1.0)
    assert run_twin(no_finite, OpSpec("pow", exponent="2")).verdict.same  # inf and NaN squared, the same in both
