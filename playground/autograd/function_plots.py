"""Gradients on the function's plot: f and f' over a 1-D grid, and the gradient field of f(x, y).

Each is one vectorised autograd pass: the whole grid is one tensor with requires_grad, f is applied
element by element, and ``torch.autograd.grad(f.sum(), grid)`` gives every point's derivative at once
(the points do not interact, so d(sum f)/dx_i = f'(x_i)).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from playground.autograd.expression import Node, code, evaluate, parse_expression
from playground.errors import PlaygroundError
from playground.limits import MAX_ARROW_SIDE, MAX_GRID_POINTS, MAX_GRID_SIDE, MAX_PLOT_RANGE

FUNCTIONS_1D: dict[str, str] = {
    "sin(x)": "sin(x)",
    "x³ − 3x": "x**3 - 3*x",
    "tanh(x)": "tanh(x)",
    "sigmoid(x)": "sigmoid(x)",
    "relu(x)": "relu(x)",
    "Gaussian bump": "exp(-x**2)",
}


@dataclass(frozen=True)
class Surface2D:
    """A preset 2-D function with the box it is drawn in and a good start for the optimizers."""

    expression: str
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    start: tuple[float, float]
    lr: float  # a learning rate that works for SGD
    momentum: float = 0.0  # SGD's momentum in the preset
    steps: int = 100  # enough steps to see where the optimizers go
    log_colors: bool = False  # colour by log(1 + f - min f): steep walls would hide the valley otherwise


FUNCTIONS_2D: dict[str, Surface2D] = {
    "bowl": Surface2D("x**2 + 3*y**2", (-3.0, 3.0), (-3.0, 3.0), (-2.5, 2.0), 0.05),
    "Rosenbrock": Surface2D("(1 - x)**2 + 100*(y - x**2)**2", (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.5), 0.001,
                            momentum=0.9, steps=1000, log_colors=True),
    "Himmelblau": Surface2D("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", (-5.0, 5.0), (-5.0, 5.0), (-0.5, -0.5), 0.01,
                            log_colors=True),
    "saddle": Surface2D("x**2 - y**2", (-2.0, 2.0), (-2.0, 2.0), (-1.5, 0.05), 0.05),
}


def _check_range(low: float, high: float, axis: str) -> None:
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise PlaygroundError(f"The {axis} range must go from a smaller to a larger number.")
    if max(abs(low), abs(high)) > MAX_PLOT_RANGE:
        raise PlaygroundError(f"The {axis} range must stay within ±{MAX_PLOT_RANGE:g}.")


def _elementwise(tree: Node, result: torch.Tensor, grid: torch.Tensor, text: str) -> torch.Tensor:
    if not tree.names() and result.dim() == 0:  # a constant function: the same number at every point
        return result.expand(grid.shape)
    if result.shape != grid.shape:
        raise PlaygroundError(
            f"{code(text)} must work point by point for the plot, but it gives shape {tuple(result.shape)} for a grid of "
            f"shape {tuple(grid.shape)}. Remove reductions such as sum() or mean() and matrix products."
        )
    return result


@dataclass(frozen=True)
class Curve1DSpec:
    expression: str = "sin(x)"
    x_min: float = -3.0
    x_max: float = 3.0
    points: int = 200
    at: float = 1.0  # where the tangent touches

    def validate(self) -> Curve1DSpec:
        _check_range(self.x_min, self.x_max, "x")
        if not 2 <= self.points <= MAX_GRID_POINTS:
            raise PlaygroundError(f"Use between 2 and {MAX_GRID_POINTS:,} points.")
        if not self.x_min <= self.at <= self.x_max:
            raise PlaygroundError("The tangent point must lie inside the x range.")
        parse_expression(self.expression, {"x"})
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Curve1DSpec:
        return cls(**data).validate()


@dataclass(frozen=True)
class Curve1D:
    x: np.ndarray
    f: np.ndarray
    df: np.ndarray
    at: float
    f_at: float
    slope_at: float

    def tangent(self) -> np.ndarray:
        return self.f_at + self.slope_at * (self.x - self.at)


def curve_1d(spec: Curve1DSpec) -> Curve1D:
    """f and f' on the grid in one autograd pass, and the tangent's point and slope at ``spec.at``."""
    spec.validate()
    tree = parse_expression(spec.expression, {"x"})
    x = torch.linspace(spec.x_min, spec.x_max, spec.points, dtype=torch.float64, requires_grad=True)
    f = _elementwise(tree, evaluate(tree, {"x": x}, dtype=torch.float64), x, spec.expression)
    if not f.requires_grad:
        df = torch.zeros_like(x)
    else:
        (df,) = torch.autograd.grad(f.sum(), x)
    at = torch.tensor(spec.at, dtype=torch.float64, requires_grad=True)
    f_at = evaluate(tree, {"x": at}, dtype=torch.float64)
    slope = torch.autograd.grad(f_at, at)[0] if f_at.requires_grad else torch.zeros(())
    return Curve1D(x.detach().numpy(), f.detach().numpy(), df.numpy(), spec.at, float(f_at.detach()), float(slope))


@dataclass(frozen=True)
class Field2DSpec:
    expression: str = "x**2 + 3*y**2"
    x_range: tuple[float, float] = (-3.0, 3.0)
    y_range: tuple[float, float] = (-3.0, 3.0)
    side: int = 100  # contour grid points per side
    arrow_side: int = 15  # gradient arrows per side

    def __post_init__(self) -> None:
        object.__setattr__(self, "x_range", tuple(float(v) for v in self.x_range))
        object.__setattr__(self, "y_range", tuple(float(v) for v in self.y_range))

    def validate(self) -> Field2DSpec:
        _check_range(*self.x_range, "x")
        _check_range(*self.y_range, "y")
        if not 2 <= self.side <= MAX_GRID_SIDE or self.side * self.side > MAX_GRID_POINTS:
            raise PlaygroundError(f"Use between 2 and {MAX_GRID_SIDE} grid points per side "
                                  f"({MAX_GRID_POINTS:,} points in all).")
        if not 2 <= self.arrow_side <= MAX_ARROW_SIDE:
            raise PlaygroundError(f"Use between 2 and {MAX_ARROW_SIDE} arrows per side.")
        parse_expression(self.expression, {"x", "y"})
        return self

    def to_dict(self) -> dict:
        return {**asdict(self), "x_range": list(self.x_range), "y_range": list(self.y_range)}

    @classmethod
    def from_dict(cls, data: dict) -> Field2DSpec:
        return cls(**data).validate()


@dataclass(frozen=True)
class Field2D:
    xs: np.ndarray  # (side,)
    ys: np.ndarray  # (side,)
    z: np.ndarray  # (side, side), z[i, j] = f(xs[j], ys[i])
    arrow_x: np.ndarray  # (arrow_side**2,) where each arrow starts
    arrow_y: np.ndarray
    grad_x: np.ndarray  # df/dx there
    grad_y: np.ndarray  # df/dy there


def values_and_gradients(tree: Node, xs: torch.Tensor, ys: torch.Tensor, text: str) -> tuple[torch.Tensor, ...]:
    """f(X, Y), df/dX and df/dY on the mesh of ``xs`` and ``ys``, in one autograd pass."""
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    grid_x = grid_x.clone().requires_grad_(True)
    grid_y = grid_y.clone().requires_grad_(True)
    z = _elementwise(tree, evaluate(tree, {"x": grid_x, "y": grid_y}, dtype=torch.float64), grid_x, text)
    if not z.requires_grad:
        return grid_x.detach(), grid_y.detach(), z.detach(), torch.zeros_like(z), torch.zeros_like(z)
    grad_x, grad_y = torch.autograd.grad(z.sum(), [grid_x, grid_y], allow_unused=True)
    grad_x = torch.zeros_like(z) if grad_x is None else grad_x
    grad_y = torch.zeros_like(z) if grad_y is None else grad_y
    return grid_x.detach(), grid_y.detach(), z.detach(), grad_x, grad_y


def gradient_field(spec: Field2DSpec) -> Field2D:
    """The contour values on a fine grid and the gradient on a coarse one; each one vectorised pass."""
    spec.validate()
    tree = parse_expression(spec.expression, {"x", "y"})
    xs = torch.linspace(*spec.x_range, spec.side, dtype=torch.float64)
    ys = torch.linspace(*spec.y_range, spec.side, dtype=torch.float64)
    _, _, z, _, _ = values_and_gradients(tree, xs, ys, spec.expression)
    # Arrows sit at the centres of a coarse grid so none starts on the border.
    ax = torch.linspace(*spec.x_range, 2 * spec.arrow_side + 1, dtype=torch.float64)[1::2]
    ay = torch.linspace(*spec.y_range, 2 * spec.arrow_side + 1, dtype=torch.float64)[1::2]
    arrow_x, arrow_y, _, grad_x, grad_y = values_and_gradients(tree, ax, ay, spec.expression)
    return Field2D(xs.numpy(), ys.numpy(), z.numpy(), arrow_x.reshape(-1).numpy(), arrow_y.reshape(-1).numpy(),
                   grad_x.reshape(-1).numpy(), grad_y.reshape(-1).numpy())


def arrow_segments(field: Field2D, length: float, downhill: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Line segments (with NaN breaks) drawing each gradient as an arrow, scaled so the longest is ``length``.

    Vectorised: shaft and two head strokes per arrow, as one polyline for a single plotly trace.
    """
    gx, gy = (-field.grad_x, -field.grad_y) if downhill else (field.grad_x, field.grad_y)
    norm = np.hypot(gx, gy)
    finite = np.isfinite(norm)
    largest = norm[finite].max() if finite.any() else 0.0
    scale = length / largest if largest > 0 else 0.0
    dx, dy = np.where(finite, gx, 0.0) * scale, np.where(finite, gy, 0.0) * scale  # no inf * 0 where none is finite
    x0, y0 = field.arrow_x, field.arrow_y
    x1, y1 = x0 + dx, y0 + dy
    # Heads: two short strokes back from the tip, 25 degrees either side.
    angle = np.arctan2(dy, dx)
    head = 0.3 * np.hypot(dx, dy)
    left_x, left_y = x1 - head * np.cos(angle - 0.45), y1 - head * np.sin(angle - 0.45)
    right_x, right_y = x1 - head * np.cos(angle + 0.45), y1 - head * np.sin(angle + 0.45)
    gap = np.full_like(x0, np.nan)
    xs = np.stack([x0, x1, left_x, x1, right_x, gap], axis=1).reshape(-1)
    ys = np.stack([y0, y1, left_y, y1, right_y, gap], axis=1).reshape(-1)
    return xs, ys
