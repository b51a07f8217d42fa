"""Autograd's gradients checked against central finite differences, both in float64.

For each checked element i of a leaf x: (f(x + h e_i) - f(x - h e_i)) / 2h, compared with autograd's
gradient. The error of an element is |autograd - numeric| / max(|autograd|, |numeric|, 1): relative for
large gradients, absolute below 1, so that zeros do not divide.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from playground.autograd.expression import evaluate
from playground.autograd.variables import ExpressionSpec, make_tensors
from playground.errors import PlaygroundError
from playground.limits import MAX_GRADCHECK_ELEMENTS, MAX_GRADCHECK_WORK

STEP = 1e-6
TOLERANCE = 1e-5


@dataclass(frozen=True)
class LeafCheck:
    name: str
    checked: int
    total: int
    max_error: float
    autograd: tuple[float, ...]  # the checked elements, flattened
    numeric: tuple[float, ...]


@dataclass(frozen=True)
class GradCheckReport:
    leaves: tuple[LeafCheck, ...]
    tolerance: float
    step: float

    @property
    def max_error(self) -> float:
        return max((leaf.max_error for leaf in self.leaves), default=0.0)

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tolerance


def finite_difference_check(spec: ExpressionSpec, step: float = STEP, tolerance: float = TOLERANCE) -> GradCheckReport:
    """Check every leaf with requires_grad: the first elements, at most MAX_GRADCHECK_ELEMENTS in all, and
    fewer when one evaluation computes so many numbers that 2 per element would pass MAX_GRADCHECK_WORK."""
    spec.validate()
    tree = spec.parse()
    tensors = make_tensors(spec, dtype=torch.float64)
    work = [0]
    output = evaluate(tree, tensors, dtype=torch.float64, on_node=lambda node, t: work.__setitem__(0, work[0] + t.numel()))
    if output.dim() != 0:
        raise PlaygroundError("The finite-difference check needs a scalar result; reduce it with .sum() or .mean().")
    leaves = [name for name in spec.names if tensors[name].requires_grad and name in tree.names()]
    if not leaves:
        raise PlaygroundError("No variable in the expression has requires_grad on, so there is nothing to check.")
    grads = torch.autograd.grad(output, [tensors[name] for name in leaves], allow_unused=True)
    budget = max(1, min(MAX_GRADCHECK_ELEMENTS, MAX_GRADCHECK_WORK // (2 * max(work[0], 1))))
    plain = {name: tensor.detach() for name, tensor in tensors.items()}
    results: list[LeafCheck] = []
    with torch.no_grad():
        for name, grad in zip(leaves, grads, strict=True):
            base = plain[name]
            autograd = torch.zeros_like(base) if grad is None else grad
            count = min(base.numel(), budget)
            budget -= count
            numeric = []
            flat = base.reshape(-1)
            for index in range(count):
                shifted = flat.clone()
                shifted[index] += step
                up = float(evaluate(tree, {**plain, name: shifted.reshape(base.shape)}, dtype=torch.float64))
                shifted[index] -= 2 * step
                down = float(evaluate(tree, {**plain, name: shifted.reshape(base.shape)}, dtype=torch.float64))
                numeric.append((up - down) / (2 * step))
            auto = [float(v) for v in autograd.reshape(-1)[:count]]
            errors = [abs(a - n) / max(abs(a), abs(n), 1.0) for a, n in zip(auto, numeric, strict=True)]
            max_error = max(errors, default=0.0)
            if any(e != e for e in errors):  # NaN
                max_error = float("inf")
            results.append(LeafCheck(name, count, base.numel(), max_error, tuple(auto), tuple(numeric)))
    return GradCheckReport(tuple(results), tolerance, step)
