"""f and f' on a grid, the tangent, and the 2-D gradient field, all by vectorised autograd."""

from __future__ import annotations

import numpy as np
import pytest

from playground.autograd.function_plots import (
    FUNCTIONS_1D,
    FUNCTIONS_2D,
    Curve1DSpec,
    Field2DSpec,
    arrow_segments,
    curve_1d,
    gradient_field,
)
from playground.errors import PlaygroundError
from playground.limits import MAX_ARROW_SIDE, MAX_GRID_POINTS, MAX_GRID_SIDE


def test_derivative_of_sin_is_cos_on_the_whole_grid():
    curve = curve_1d(Curve1DSpec("sin(x)", -3.0, 3.0, 101, 1.0))
    assert curve.x.shape == (101,)
    assert np.allclose(curve.f, np.sin(curve.x)) and np.allclose(curve.df, np.cos(curve.x))
    assert np.isclose(curve.f_at, np.sin(1.0)) and np.isclose(curve.slope_at, np.cos(1.0))
    tangent = curve.tangent()
    assert np.isclose(tangent[np.argmin(abs(curve.x - 1.0))], curve.f_at, atol=0.05)


def test_cubic_and_its_tangent():
    curve = curve_1d(Curve1DSpec("x**3 - 3*x", -2.0, 2.0, 41, 2.0))
    assert np.allclose(curve.df, 3 * curve.x**2 - 3)
    assert curve.f_at == pytest.approx(2.0) and curve.slope_at == pytest.approx(9.0)
    assert np.allclose(curve.tangent(), 2.0 + 9.0 * (curve.x - 2.0))


@pytest.mark.parametrize("name", list(FUNCTIONS_1D))
def test_every_1d_preset_matches_finite_differences(name):
    curve = curve_1d(Curve1DSpec(FUNCTIONS_1D[name], -2.9, 3.1, 300, 0.5))
    numeric = np.gradient(curve.f, curve.x)
    inner = slice(2, -2)
    smooth = np.abs(curve.x[inner]) > 0.05  # relu's kink
    assert np.allclose(curve.df[inner][smooth], numeric[inner][smooth], atol=2e-3)


def test_1d_refuses_reductions_and_bad_ranges():
    with pytest.raises(PlaygroundError, match="point by point"):
        curve_1d(Curve1DSpec("x.sum()", -1.0, 1.0, 10, 0.0))
    with pytest.raises(PlaygroundError, match="smaller to a larger"):
        curve_1d(Curve1DSpec("x", 1.0, -1.0, 10, 0.0))
    with pytest.raises(PlaygroundError, match="points"):
        curve_1d(Curve1DSpec("x", -1.0, 1.0, MAX_GRID_POINTS + 1, 0.0))
    with pytest.raises(PlaygroundError, match="not declared"):
        curve_1d(Curve1DSpec("y", -1.0, 1.0, 10, 0.0))


def test_constant_function_has_zero_slope():
    curve = curve_1d(Curve1DSpec("2 + 1", -1.0, 1.0, 5, 0.0))
    assert np.allclose(curve.df, 0.0) and curve.slope_at == 0.0


def test_bowl_gradient_field_is_2x_6y():
    field = gradient_field(Field2DSpec("x**2 + 3*y**2", (-3.0, 3.0), (-2.0, 2.0), 50, 7))
    assert field.z.shape == (50, 50)
    assert np.allclose(field.z[3, 5], field.xs[5] ** 2 + 3 * field.ys[3] ** 2)  # rows are y, columns x
    assert field.arrow_x.shape == (49,)
    assert np.allclose(field.grad_x, 2 * field.arrow_x) and np.allclose(field.grad_y, 6 * field.arrow_y)


@pytest.mark.parametrize("name", list(FUNCTIONS_2D))
def test_every_2d_preset_has_finite_values_and_gradients(name):
    surface = FUNCTIONS_2D[name]
    field = gradient_field(Field2DSpec(surface.expression, surface.x_range, surface.y_range, 40, 10))
    assert np.isfinite(field.z).all() and np.isfinite(field.grad_x).all() and np.isfinite(field.grad_y).all()


def test_grid_limits_are_enforced_in_playground():
    with pytest.raises(PlaygroundError, match="grid points per side"):
        gradient_field(Field2DSpec("x + y", side=MAX_GRID_SIDE + 1))
    with pytest.raises(PlaygroundError, match="arrows per side"):
        gradient_field(Field2DSpec("x + y", arrow_side=MAX_ARROW_SIDE + 1))
    with pytest.raises(PlaygroundError, match="within"):
        gradient_field(Field2DSpec("x + y", x_range=(-1e9, 1.0)))


def test_arrows_point_along_or_against_the_gradient():
    field = gradient_field(Field2DSpec("x + 2*y", (-1.0, 1.0), (-1.0, 1.0), 10, 3))
    xs, ys = arrow_segments(field, 0.5)
    assert xs.shape == (9 * 6,)  # shaft start, tip, head, tip, head, gap
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    assert dx > 0 and dy > 0 and np.isclose(dy / dx, 2.0) and np.isclose(np.hypot(dx, dy), 0.5)
    xs, ys = arrow_segments(field, 0.5, downhill=True)
    assert xs[1] - xs[0] < 0 and ys[1] - ys[0] < 0


def test_specs_round_trip():
    spec = Field2DSpec("x*y", (-1.0, 2.0), (0.0, 1.0), 20, 5)
    assert Field2DSpec.from_dict(spec.to_dict()) == spec
    curve = Curve1DSpec("tanh(x)", -2.0, 2.0, 30, 0.5)
    assert Curve1DSpec.from_dict(curve.to_dict()) == curve


# ---- pinned by the mutation run of 2026-12-08 (docs/MUTATION.md) --------------------------------------------------


def test_the_curve_is_computed_in_float64_including_its_numbers():
    """f, f' and the tangent in float64 (sin(0.1) to 1e-15, which float32 misses by ~1e-8), numbers included."""
    import math

    curve = curve_1d(Curve1DSpec("sin(x) + sin(0.1)", -1.0, 1.0, 7, 0.1))
    assert curve.x.dtype == np.float64 and np.allclose(curve.x, np.linspace(-1.0, 1.0, 7), rtol=0, atol=1e-15)
    assert np.allclose(curve.f, np.sin(curve.x) + math.sin(0.1), rtol=0, atol=1e-15)
    assert np.allclose(curve.df, np.cos(curve.x), rtol=0, atol=1e-15)
    assert abs(curve.f_at - (math.sin(0.1) + math.sin(0.1))) < 1e-15
    assert abs(curve.slope_at - math.cos(0.1)) < 1e-15


def test_curve_limits_hold_at_the_limit_and_one_past():
    assert curve_1d(Curve1DSpec("x", -1.0, 1.0, 2, -1.0)).x.shape == (2,)  # 2 points, tangent at the left end
    assert curve_1d(Curve1DSpec("x", -1.0, 1.0, MAX_GRID_POINTS, 1.0)).x.shape == (MAX_GRID_POINTS,)
    with pytest.raises(PlaygroundError, match=f"^Use between 2 and {MAX_GRID_POINTS:,} points.$"):
        Curve1DSpec("x", -1.0, 1.0, 1, 0.0).validate()
    with pytest.raises(PlaygroundError, match="^The tangent point must lie inside the x range.$"):
        Curve1DSpec("x", -1.0, 1.0, 10, 1.0 + 1e-9).validate()
    with pytest.raises(PlaygroundError, match="^The x range must go from a smaller to a larger number.$"):
        Curve1DSpec("x", 1.0, 1.0, 10, 1.0).validate()
    with pytest.raises(PlaygroundError, match="^The y range must stay within ±1000.$"):
        Field2DSpec("x + y", (-1.0, 1.0), (-1000.5, 1.0)).validate()


def test_a_refusal_quotes_the_expression_the_user_wrote():
    with pytest.raises(PlaygroundError, match=r"^`x.sum\(\) \+ 0` must work point by point"):
        curve_1d(Curve1DSpec("x.sum() + 0", -1.0, 1.0, 10, 0.0))
    with pytest.raises(PlaygroundError, match=r"^`\(x \+ y\).sum\(\)` must work point by point"):
        gradient_field(Field2DSpec("(x + y).sum()", side=10, arrow_side=3))


def test_a_field_of_one_variable_or_none_has_zero_gradient_where_it_does_not_depend():
    field = gradient_field(Field2DSpec("x**2", (-1.0, 1.0), (-2.0, 2.0), 10, 4))
    assert np.allclose(field.grad_x, 2 * field.arrow_x) and np.array_equal(field.grad_y, np.zeros(16))
    field = gradient_field(Field2DSpec("y * 3", (-1.0, 1.0), (-2.0, 2.0), 10, 4))
    assert np.array_equal(field.grad_x, np.zeros(16)) and np.allclose(field.grad_y, 3.0)
    field = gradient_field(Field2DSpec("2 + 1", (-1.0, 1.0), (-2.0, 2.0), 10, 4))
    assert np.array_equal(field.z, np.full((10, 10), 3.0))
    assert np.array_equal(field.grad_x, np.zeros(16)) and np.array_equal(field.grad_y, np.zeros(16))


def test_the_field_warns_nothing():
    """torch.meshgrid warns when it is not told its indexing; the page's log stays clean."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        field = gradient_field(Field2DSpec("x * y", (-1.0, 1.0), (0.0, 2.0), 6, 3))
    assert np.allclose(field.z, field.xs[None, :] * field.ys[:, None])


def _field(grad_x, grad_y):
    from playground.autograd.function_plots import Field2D

    n = len(grad_x)
    start_x, start_y = np.arange(n, dtype=np.float64), np.arange(n, dtype=np.float64) * 10
    return Field2D(np.zeros(2), np.zeros(2), np.zeros((2, 2)), start_x, start_y,
                   np.array(grad_x, dtype=np.float64), np.array(grad_y, dtype=np.float64))


def test_each_arrow_is_a_shaft_and_two_heads_at_25_degrees_scaled_so_the_longest_is_length():
    grads = ([0.3, 0.0, -0.1, 0.2], [0.4, -0.25, 0.1, 0.0])  # the longest is 0.5 long: below 1 too
    field = _field(*grads)
    for downhill in (False, True):
        xs, ys = arrow_segments(field, 2.0, downhill=downhill)
        assert xs.shape == ys.shape == (4 * 6,)
        points = np.stack([xs, ys], axis=1).reshape(4, 6, 2)
        assert np.isnan(points[:, 5]).all() and not np.isnan(points[:, :5]).any()  # a gap after each arrow
        sign = -1.0 if downhill else 1.0
        for i, (gx, gy) in enumerate(zip(*grads, strict=True)):
            start, tip, left, tip2, right = points[i, :5]
            shaft = sign * np.array([gx, gy]) * 2.0 / 0.5
            assert np.allclose(start, [field.arrow_x[i], field.arrow_y[i]]) and np.allclose(tip, start + shaft)
            assert np.array_equal(tip, tip2)
            back = -shaft / np.linalg.norm(shaft)
            for head, turn in ((left, -1.0), (right, 1.0)):
                stroke = head - tip
                assert np.isclose(np.linalg.norm(stroke), 0.3 * np.linalg.norm(shaft))
                angle = np.arctan2(back[0] * stroke[1] - back[1] * stroke[0], back @ stroke)
                assert np.isclose(angle, turn * 0.45)  # 0.45 rad either side of the way back


def test_arrows_where_the_gradient_is_zero_or_not_finite_have_no_length():
    xs, ys = arrow_segments(_field([0.0, np.inf, np.nan, 3.0], [0.0, 1.0, 0.0, 4.0]), 1.0)
    points = np.stack([xs, ys], axis=1).reshape(4, 6, 2)
    for i in range(3):  # every drawn point of arrows 0-2 is the start
        assert np.array_equal(points[i, :5], np.repeat(points[i, :1], 5, axis=0))
    assert np.allclose(points[3, 1] - points[3, 0], [0.6, 0.8])
    for grads in (([0.0, 0.0], [0.0, 0.0]), ([np.nan, np.inf], [1.0, 1.0])):  # nothing finite, or nothing at all
        with np.errstate(all="raise"):  # and no inf * 0 computed on the way (a warning in the server's log)
            xs, ys = arrow_segments(_field(*grads), 1.0)
        points = np.stack([xs, ys], axis=1).reshape(2, 6, 2)
        assert np.array_equal(points[:, 1], points[:, 0]) and np.isfinite(points[:, :5]).all()


@pytest.mark.parametrize(("x_range", "y_range", "sentence"), [
    ((-np.inf, 1.0), (0.0, 1.0), "The x range must go from a smaller to a larger number."),
    ((np.nan, 1.0), (0.0, 1.0), "The x range must go from a smaller to a larger number."),
    ((0.0, 1.0), (1.0, np.nan), "The y range must go from a smaller to a larger number."),
    ((0.0, 1.0), (2.0, 2.0), "The y range must go from a smaller to a larger number."),
    ((-1000.0, 1000.5), (0.0, 1.0), "The x range must stay within ±1000."),
])
def test_a_plot_range_is_refused_naming_its_axis(x_range, y_range, sentence):
    with pytest.raises(PlaygroundError) as refused:
        Field2DSpec("x + y", x_range, y_range, 10, 3).validate()
    assert refused.value.sentence == sentence


def test_field_limits_hold_at_the_limit_and_one_past():
    assert MAX_GRID_SIDE**2 == MAX_GRID_POINTS  # so the side's limit is the points' limit too
    Field2DSpec("x + y", (-1000.0, 1000.0), (-1000.0, 1000.0), MAX_GRID_SIDE, MAX_ARROW_SIDE).validate()
    Field2DSpec("x + y", (-1.0, 1.0), (-1.0, 1.0), 2, 2).validate()
    for side, arrows, says in ((1, 3, "grid points per side"), (MAX_GRID_SIDE + 1, 3, "grid points per side"),
                               (10, 1, "arrows per side"), (10, MAX_ARROW_SIDE + 1, "arrows per side")):
        with pytest.raises(PlaygroundError, match=says):
            Field2DSpec("x + y", (-1.0, 1.0), (-1.0, 1.0), side, arrows).validate()
    Curve1DSpec("x", -1000.0, 1000.0, 10, 1000.0).validate()


def test_the_field_is_computed_in_float64_including_its_numbers():
    import math

    field = gradient_field(Field2DSpec("x * y + sin(0.1)", (-1.0, 1.0), (0.0, 2.0), 5, 2))
    assert field.z.dtype == np.float64
    assert np.allclose(field.z, field.xs[None, :] * field.ys[:, None] + math.sin(0.1), rtol=0, atol=1e-15)
