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
