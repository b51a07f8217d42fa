"""The runnable PyTorch behind each view of the Autograd page.

Each function returns a script that, run as it stands, prints the numbers the page shows. The tests
run these scripts and compare what they print with what ``playground`` computed.
"""

from __future__ import annotations

import torch

from playground.autograd.expression import evaluate, parse_expression
from playground.autograd.function_plots import Curve1DSpec, Field2DSpec
from playground.autograd.optimizer_paths import RUNAWAY, OptimizerRunSpec
from playground.autograd.variables import ExpressionSpec, literal_code, make_tensors, parse_value


def variable_line(variable, dtype: str = "") -> str:
    grad = ", requires_grad=True" if variable.requires_grad else ""
    if variable.source == "random":
        shape = ", ".join(str(size) for size in variable.shape) if variable.shape else "()"
        return f"{variable.name} = torch.randn({shape}{dtype}{grad})"
    return f"{variable.name} = torch.tensor({literal_code(parse_value(variable.literal))}{dtype}{grad})"


def variables_code(spec: ExpressionSpec) -> list[str]:
    lines = ["import torch", ""]
    if any(v.source == "random" for v in spec.variables):
        lines.append(f"torch.manual_seed({spec.seed})  # random values are drawn in this order")
    lines += [variable_line(v) for v in spec.variables]
    return lines


def expression_code(spec: ExpressionSpec) -> str:
    """Variables, the expression, backward() and every leaf's .grad."""
    tree = spec.parse()
    lines = variables_code(spec)
    lines.append(f"z = {tree.source()}")
    lines.append("print('z =', z)")
    output_is_scalar = _is_scalar(spec)
    used = [v for v in spec.variables if v.name in tree.names()]
    if not output_is_scalar:
        lines.append("# z is not a single number: z.backward() would raise")
        lines.append("# 'grad can be implicitly created only for scalar outputs'. Reduce it, or pass a gradient:")
        lines.append("# z.backward(gradient=torch.ones_like(z))")
    elif not any(v.requires_grad for v in used):
        lines.append("# nothing in z requires grad, so z.backward() would raise")
    else:
        lines.append("z.backward()")
        for variable in spec.variables:
            lines.append(f"print('{variable.name}.grad =', {variable.name}.grad)")
    return "\n".join(lines) + "\n"


def _is_scalar(spec: ExpressionSpec) -> bool:
    with torch.no_grad():
        return evaluate(spec.parse(), make_tensors(spec)).dim() == 0


def _function_def(expression: str, names: tuple[str, ...]) -> list[str]:
    tree = parse_expression(expression, set(names))
    return [f"def f({', '.join(names)}):", f"    return {tree.source()}", ""]


def curve_1d_code(spec: Curve1DSpec) -> str:
    """f and f' over the grid by autograd, and the tangent at the chosen point."""
    lines = ["import torch", ""] + _function_def(spec.expression, ("x",))
    lines += [
        f"x = torch.linspace({spec.x_min!r}, {spec.x_max!r}, {spec.points}, dtype=torch.float64, requires_grad=True)",
        "y = f(x)",
        "(dy_dx,) = torch.autograd.grad(y.sum(), x)  # every point at once: the points do not interact",
        "",
        f"x0 = torch.tensor({spec.at!r}, dtype=torch.float64, requires_grad=True)",
        "y0 = f(x0)",
        "y0.backward()",
        "print(f'f({x0.item():.4g}) = {y0.item():.6f}')",
        "print(f\"f'({x0.item():.4g}) = {x0.grad.item():.6f}\")",
        "tangent = y0.detach() + x0.grad * (x.detach() - x0.detach())",
        "print('largest |f\\'| on the grid:', dy_dx.abs().max().item())",
    ]
    return "\n".join(lines) + "\n"


def field_2d_code(spec: Field2DSpec) -> str:
    """f on the grid and its gradient at the arrows, each in one autograd pass."""
    lines = ["import torch", ""] + _function_def(spec.expression, ("x", "y"))
    lines += [
        f"xs = torch.linspace({spec.x_range[0]!r}, {spec.x_range[1]!r}, {2 * spec.arrow_side + 1}, dtype=torch.float64)[1::2]",
        f"ys = torch.linspace({spec.y_range[0]!r}, {spec.y_range[1]!r}, {2 * spec.arrow_side + 1}, dtype=torch.float64)[1::2]",
        "Y, X = torch.meshgrid(ys, xs, indexing='ij')",
        "X.requires_grad_(True)",
        "Y.requires_grad_(True)",
        "Z = f(X, Y)",
        "dZ_dX, dZ_dY = torch.autograd.grad(Z.sum(), [X, Y])  # the gradient at every arrow in one pass",
        "print('gradient at the first arrow:', dZ_dX[0, 0].item(), dZ_dY[0, 0].item())",
        "print('largest gradient length:', torch.hypot(dZ_dX, dZ_dY).max().item())",
    ]
    return "\n".join(lines) + "\n"


def optimizer_code(spec: OptimizerRunSpec) -> str:
    """The training loop for every optimizer on the plot."""
    lines = ["import torch", ""] + _function_def(spec.expression, ("x", "y"))
    for optimizer in spec.optimizers:
        lines += [
            f"# {optimizer.label}",
            f"p = torch.tensor([{spec.start[0]!r}, {spec.start[1]!r}], dtype=torch.float64, requires_grad=True)",
            f"optimizer = {optimizer.code()}",
            f"for step in range({spec.steps}):",
            "    optimizer.zero_grad()",
            "    loss = f(p[0], p[1])",
            f"    if not torch.isfinite(loss) or p.detach().abs().max() > {RUNAWAY:g}:",
            "        break  # diverged",
            "    loss.backward()",
            "    optimizer.step()",
            f"print({optimizer.label!r}, 'ends at', p.tolist(), 'loss', f(p[0], p[1]).item())",
            "",
        ]
    return "\n".join(lines)
