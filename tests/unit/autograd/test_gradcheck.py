"""The finite-difference gradcheck: its step and tolerance pinned, and inputs that must fail its verdict."""

from __future__ import annotations

import math

import pytest

from playground.autograd import gradcheck
from playground.autograd.gradcheck import GradCheckReport, LeafCheck, finite_difference_check
from playground.autograd.variables import ExpressionSpec, VariableSpec
from playground.errors import PlaygroundError
from playground.limits import MAX_GRADCHECK_ELEMENTS, MAX_GRADCHECK_WORK


def spec(expression: str, *variables: VariableSpec) -> ExpressionSpec:
    return ExpressionSpec(tuple(variables), expression, 0)


def leaf(error: float) -> LeafCheck:
    return LeafCheck("x", 1, 1, error, (0.0,), (error,))


def test_step_and_tolerance_are_pinned():
    assert gradcheck.STEP == 1e-6
    assert gradcheck.TOLERANCE == 1e-5
    assert MAX_GRADCHECK_ELEMENTS == 256 and MAX_GRADCHECK_WORK == 20_000_000
    report = finite_difference_check(spec("(x * x).sum()", VariableSpec("x", literal="[1., 2.]")))
    assert report.step == 1e-6 and report.tolerance == 1e-5


def test_passed_at_the_tolerance_and_failed_just_past_it():
    assert GradCheckReport((leaf(1e-5),), 1e-5, 1e-6).passed
    assert not GradCheckReport((leaf(1.0001e-5),), 1e-5, 1e-6).passed
    assert GradCheckReport((leaf(0.0), leaf(2e-5)), 1e-5, 1e-6).max_error == 2e-5
    assert GradCheckReport((), 1e-5, 1e-6).max_error == 0.0


# relu just right of -h: autograd's slope is 0, the central difference sees (x + h) / 2h = 2e-9 / 2e-6 = 1e-3.
NEAR_KINK = VariableSpec("x", literal="[-9.98e-7]")


def test_an_error_of_one_in_a_thousand_fails_the_default_tolerance():
    report = finite_difference_check(spec("relu(x).sum()", NEAR_KINK))
    assert report.leaves[0].autograd == (0.0,)
    assert report.max_error == pytest.approx(1e-3, rel=1e-3)
    assert not report.passed


def test_a_looser_tolerance_or_a_smaller_step_changes_the_verdict():
    assert finite_difference_check(spec("relu(x).sum()", NEAR_KINK), tolerance=2e-3).passed
    # with h = 1e-7 the shifted points both stay left of 0: the numeric slope is 0, as autograd's
    assert finite_difference_check(spec("relu(x).sum()", NEAR_KINK), step=1e-7).max_error == 0.0


def test_the_error_is_relative_above_one_and_absolute_below():
    # 10000 * relu near its kink: autograd 0, numeric 10 -> error |0 - 10| / max(0, 10, 1) = 1, not 10
    big = finite_difference_check(spec("(10000 * relu(x)).sum()", NEAR_KINK))
    assert big.leaves[0].numeric[0] == pytest.approx(10.0, rel=1e-4)
    assert big.max_error == pytest.approx(1.0, rel=1e-4)
    # 1e-3 * relu: numeric 1e-6, below 1, so the error is absolute (1e-6), not relative (1)
    small = finite_difference_check(spec("(0.001 * relu(x)).sum()", NEAR_KINK))
    assert small.max_error == pytest.approx(1e-6, rel=1e-3) and small.passed


def test_nan_is_a_failure():
    # sqrt at 0: autograd says inf, the left point is NaN
    report = finite_difference_check(spec("sqrt(x).sum()", VariableSpec("x", literal="[0.]")))
    assert report.max_error == math.inf and not report.passed


def test_only_leaves_that_require_grad_and_appear_are_checked():
    report = finite_difference_check(spec(
        "(a * b).sum()",
        VariableSpec("a", literal="[1., 2.]"),
        VariableSpec("b", literal="[3., 4.]", requires_grad=False),
        VariableSpec("c", literal="[5.]"),
    ))
    assert [leaf.name for leaf in report.leaves] == ["a"]
    assert report.leaves[0].autograd == (3.0, 4.0)
    assert report.leaves[0].numeric == pytest.approx((3.0, 4.0), abs=1e-8)


def test_nothing_to_check_is_a_sentence():
    with pytest.raises(PlaygroundError, match="nothing to check"):
        finite_difference_check(spec("x.sum()", VariableSpec("x", literal="[1.]", requires_grad=False)))


def test_an_unused_leaf_is_checked_as_a_zero_gradient():
    report = finite_difference_check(spec("(x * 0).sum() + y.sum()", VariableSpec("x", literal="[1.]"), VariableSpec("y", literal="[2.]")))
    assert {leaf.name: leaf.autograd for leaf in report.leaves} == {"x": (0.0,), "y": (1.0,)}
    assert report.passed


def test_the_element_budget_is_shared_across_leaves():
    report = finite_difference_check(spec(
        "a.sum() + b.sum()",
        VariableSpec("a", "random", shape=(200,)),
        VariableSpec("b", "random", shape=(200,)),
    ))
    assert [(leaf.checked, leaf.total) for leaf in report.leaves] == [(200, 200), (MAX_GRADCHECK_ELEMENTS - 200, 200)]


# --- from the mutation run of 2026-12-07 (docs/MUTATION.md): each test below kills survivors of that run ---


def test_a_result_that_is_not_a_scalar_is_refused_with_a_sentence():
    from tests.unit.tensors.sentences import assert_plain_sentence

    with pytest.raises(PlaygroundError) as refused:
        finite_difference_check(spec("x * 2", VariableSpec("x", literal="[1., 2.]")))
    assert "scalar" in str(refused.value)
    assert_plain_sentence(refused.value.sentence)
    with pytest.raises(PlaygroundError) as nothing:
        finite_difference_check(spec("x.sum()", VariableSpec("x", literal="[1.]", requires_grad=False)))
    assert_plain_sentence(nothing.value.sentence)


def test_numbers_in_the_expression_are_computed_in_float64_too():
    # sin(0.1) in float32 is off by 5e-9: autograd's slope and both shifted evaluations must use float64
    report = finite_difference_check(spec("(x * sin(0.1)).sum()", VariableSpec("x", literal="[1., 2.]")))
    assert report.leaves[0].autograd == pytest.approx((math.sin(0.1),) * 2, abs=1e-15)
    assert report.leaves[0].numeric == pytest.approx((math.sin(0.1),) * 2, abs=1e-9)


def test_the_budget_is_the_most_elements_whose_two_evaluations_fit_the_work_limit():
    # every node's result counts: a, b, a + b (1000 x 998), its sum, a, c, a + c (1000 x 997), its sum, +, d,
    # its sum, +: exactly 2,000,000 numbers per evaluation, so 5 elements (2 evaluations each) make 20,000,000
    work = sum([1000, 998, 998_000, 1, 1000, 997, 997_000, 1, 1, 1000, 1, 1])
    assert work == 2_000_000
    report = finite_difference_check(spec(
        "(a + b).sum() + (a + c).sum() + d.sum()",
        VariableSpec("a", "random", shape=(1000, 1)),
        VariableSpec("b", "random", shape=(1, 998), requires_grad=False),
        VariableSpec("c", "random", shape=(1, 997), requires_grad=False),
        VariableSpec("d", "random", shape=(1000,), requires_grad=False),
    ))
    (checked,) = report.leaves
    assert (checked.checked, checked.total) == (5, 1000)
    assert 2 * checked.checked * work <= MAX_GRADCHECK_WORK < 2 * (checked.checked + 1) * work
    assert checked.autograd == (1995.0,) * 5 and report.passed


def test_at_least_one_element_is_checked_however_large_the_evaluation():
    # a + b broadcasts to 1000 x 1000, and six of those make over 6,000,000 numbers per evaluation: 2 evaluations
    # of even one element pass the work limit, but one element is always checked
    report = finite_difference_check(spec(
        " + ".join(["(a + b).sum()"] * 6),
        VariableSpec("a", "random", shape=(1000, 1)),
        VariableSpec("b", "random", shape=(1, 1000), requires_grad=False),
    ))
    (checked,) = report.leaves
    assert (checked.checked, checked.total) == (1, 1000)
    assert checked.autograd == (6000.0,) and checked.numeric == pytest.approx((6000.0,), rel=1e-6)


def test_a_leaf_left_without_budget_checks_nothing_and_does_not_fail_the_verdict():
    report = finite_difference_check(spec(
        "a.sum() + b.sum() + c.sum()",
        VariableSpec("a", "random", shape=(200,)),
        VariableSpec("b", "random", shape=(200,)),
        VariableSpec("c", "random", shape=(3,)),
    ))
    assert [(leaf.checked, leaf.max_error) for leaf in report.leaves][2] == (0, 0.0)
    assert report.leaves[2].autograd == () and report.passed


def test_the_error_divides_by_autograds_size_when_it_is_the_larger():
    # 10000 * relu just right of its kink: autograd 10000, numeric (x + h) / 2h * 10000 = 5500:
    # error 4500 / max(10000, 5500, 1) = 0.45, not 4500 / 5500
    report = finite_difference_check(spec("(10000 * relu(x)).sum()", VariableSpec("x", literal="[1e-7]")))
    assert report.leaves[0].autograd == (10000.0,)
    assert report.leaves[0].numeric[0] == pytest.approx(5500.0, rel=1e-6)
    assert report.max_error == pytest.approx(0.45, rel=1e-6)
