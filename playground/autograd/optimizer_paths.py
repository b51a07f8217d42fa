"""Real torch.optim optimizers stepping a real tensor ``p = [x, y]`` down a 2-D function.

The optimizers are the Model Builder's own rows (``playground/optimizers.py``): each row's ``torch.optim``
class with a learning rate (and a momentum where the row has one), so a row added there is offered here too.

Each step is the training loop every course teaches: ``optimizer.zero_grad()``, ``loss = f(p[0], p[1])``,
``loss.backward()``, ``optimizer.step()``. The path and the loss of every step are recorded.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import torch

from playground import limits
from playground.autograd.expression import Node, code, compile_pointwise, evaluate, parse_expression
from playground.errors import PlaygroundError
from playground.limits import (
    MAX_LEARNING_RATE,
    MAX_OPTIMIZER_STEPS,
    MAX_OPTIMIZERS_COMPARED,
    MAX_PLOT_RANGE,
    MIN_LEARNING_RATE,
)
from playground.optimizers import OPTIMIZERS, OptimizerChoice

RUNAWAY = 1e6  # a point farther than this from the origin has left for good
NESTEROV = " Nesterov"  # a row with a nesterov setting is offered twice: as it is, and looking ahead


def optimizer_kinds() -> tuple[str, ...]:
    """The optimizers a path may take: every optimizer row's label (the Model Builder's list, read now, so a row
    added there is offered here), and "<label> Nesterov" for a row that has a ``nesterov`` setting."""
    kinds: list[str] = []
    for row in OPTIMIZERS.values():
        kinds.append(row.label)
        if "nesterov" in row.settings:
            kinds.append(row.label + NESTEROV)
    return tuple(kinds)


def _row(kind: str) -> tuple[OptimizerChoice | None, bool]:
    """The optimizer row a kind names, and whether it looks ahead (Nesterov)."""
    for row in OPTIMIZERS.values():
        if kind == row.label:
            return row, False
        if kind == row.label + NESTEROV and "nesterov" in row.settings:
            return row, True
    return None, False


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer (a kind from ``optimizer_kinds``) and its settings. ``momentum`` is used by the rows that have
    one (Nesterov needs it above 0); every other setting of the row keeps torch's default."""

    kind: str = "SGD"
    lr: float = 0.05
    momentum: float = 0.0

    @property
    def uses_momentum(self) -> bool:
        row, _ = _row(self.kind)
        return row is not None and "momentum" in row.settings

    def validate(self) -> OptimizerSpec:
        row, nesterov = _row(self.kind)
        if row is None:
            raise PlaygroundError(f"Choose an optimizer among {', '.join(optimizer_kinds())}; {code(self.kind)} is not one.")
        if not (math.isfinite(self.lr) and 0 < self.lr <= MAX_LEARNING_RATE):
            raise PlaygroundError(f"The learning rate must be above 0 and at most {MAX_LEARNING_RATE:g}.")
        if not 0 <= self.momentum < 1:
            raise PlaygroundError("Momentum must be at least 0 and below 1.")
        if nesterov and self.momentum <= 0:
            raise PlaygroundError("Nesterov momentum needs a momentum above 0; set momentum to 0.9, for example.")
        return self

    def keywords(self) -> dict:
        """The keyword arguments of the row's torch.optim class: the learning rate, the momentum where the row has
        one and it is set, ``nesterov=True`` for a Nesterov kind."""
        row, nesterov = _row(self.kind)
        out: dict = {"lr": self.lr}
        if self.uses_momentum and (self.momentum or nesterov):
            out["momentum"] = self.momentum
        if nesterov:
            out["nesterov"] = True
        return out

    @property
    def label(self) -> str:
        if "momentum" in self.keywords():
            return f"{self.kind} (lr {self.lr:g}, momentum {self.momentum:g})"
        return f"{self.kind} (lr {self.lr:g})"

    def make(self, params: list[torch.Tensor]) -> torch.optim.Optimizer:
        """The real torch optimizer of the row."""
        row, _ = _row(self.kind)
        return getattr(torch.optim, row.torch_class)(params, **self.keywords())  # type: ignore[union-attr]

    def code(self, params: str = "[p]") -> str:
        """The constructor call as the code view writes it."""
        row, _ = _row(self.kind)
        arguments = "".join(f", {key}={value!r}" for key, value in self.keywords().items())
        return f"torch.optim.{row.torch_class}({params}{arguments})"  # type: ignore[union-attr]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "lr": self.lr, "momentum": self.momentum}

    @classmethod
    def from_dict(cls, data: dict) -> OptimizerSpec:
        return cls(str(data["kind"]), float(data["lr"]), float(data.get("momentum", 0.0))).validate()


MAX_LR_TEXT_CHARS = 200


def parse_learning_rates(text: str) -> tuple[float, ...]:
    """More learning rates to compare, typed as ``0.01, 0.3`` (commas or spaces between them).

    Each is read with ``float`` (never evaluated) and must lie within the learning-rate limits; repeats
    are dropped, the order is kept. An empty text gives no extra rates."""
    if len(text) > MAX_LR_TEXT_CHARS:
        raise PlaygroundError(f"Type at most {MAX_LR_TEXT_CHARS} characters of learning rates, e.g. 0.01, 0.3.")
    rates: list[float] = []
    for token in text.replace(",", " ").split():
        try:
            value = float(token)
        except ValueError:
            raise PlaygroundError(f"{code(token)} is not a learning rate: type numbers such as 0.01, 0.3.") from None
        if not (math.isfinite(value) and MIN_LEARNING_RATE <= value <= MAX_LEARNING_RATE):
            raise PlaygroundError(f"Each learning rate must be between {MIN_LEARNING_RATE:g} and {MAX_LEARNING_RATE:g}; "
                                  f"{code(token)} is not.")
        if value not in rates:
            rates.append(value)
    if len(rates) > MAX_OPTIMIZERS_COMPARED - 1:
        raise PlaygroundError(f"At most {MAX_OPTIMIZERS_COMPARED} paths are compared at once; type fewer learning rates.")
    return tuple(rates)


def with_learning_rates(optimizer: OptimizerSpec, more: tuple[float, ...]) -> list[OptimizerSpec]:
    """``optimizer`` and the same optimizer at each of ``more`` learning rates (its own rate once)."""
    specs = [optimizer]
    for lr in more:
        if lr != optimizer.lr:
            specs.append(OptimizerSpec(optimizer.kind, lr, optimizer.momentum))
    return specs


def tree_size(tree: Node) -> int:
    """The parts of a parsed function: each variable, number and operation once per place it appears."""
    return 1 + sum(tree_size(arg) for arg in tree.args)


def optimizer_work(steps: int, paths: int, tree: Node) -> int:
    """What running the paths costs, in evaluations of one part of the function: each step of each path
    evaluates every part, and its zero_grad, backward and optimizer.step cost about OPTIMIZER_STEP_COST more."""
    return steps * paths * (tree_size(tree) + limits.OPTIMIZER_STEP_COST)


@dataclass(frozen=True)
class OptimizerRunSpec:
    """A 2-D function of x and y, a start point, a number of steps and the optimizers to compare."""

    expression: str
    start: tuple[float, float]
    steps: int
    optimizers: tuple[OptimizerSpec, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", tuple(float(v) for v in self.start))
        object.__setattr__(self, "optimizers", tuple(self.optimizers))

    def validate(self) -> OptimizerRunSpec:
        tree = parse_expression(self.expression, {"x", "y"})
        if not 1 <= self.steps <= MAX_OPTIMIZER_STEPS:
            raise PlaygroundError(f"Run between 1 and {MAX_OPTIMIZER_STEPS:,} steps.")
        if len(self.start) != 2 or not all(math.isfinite(v) and abs(v) <= MAX_PLOT_RANGE for v in self.start):
            raise PlaygroundError(f"The start point needs two numbers within ±{MAX_PLOT_RANGE:g}.")
        if not 1 <= len(self.optimizers) <= MAX_OPTIMIZERS_COMPARED:
            raise PlaygroundError(f"Compare between 1 and {MAX_OPTIMIZERS_COMPARED} optimizers.")
        for optimizer in self.optimizers:
            optimizer.validate()
        work = optimizer_work(self.steps, len(self.optimizers), tree)
        if work > limits.MAX_OPTIMIZER_WORK:
            raise PlaygroundError(
                f"{len(self.optimizers)} path{'s' if len(self.optimizers) > 1 else ''} of {self.steps:,} steps on a "
                f"function of {tree_size(tree)} parts is too much to run at each change: {work:,} units of work, "
                f"where the limit is {limits.MAX_OPTIMIZER_WORK:,} (a few seconds). Use fewer steps or paths, or a "
                "shorter function."
            )
        return self

    def to_dict(self) -> dict:
        return {"expression": self.expression, "start": list(self.start), "steps": self.steps,
                "optimizers": [o.to_dict() for o in self.optimizers]}

    @classmethod
    def from_dict(cls, data: dict) -> OptimizerRunSpec:
        return cls(str(data["expression"]), tuple(data["start"]), int(data["steps"]),
                   tuple(OptimizerSpec.from_dict(o) for o in data["optimizers"])).validate()


@dataclass(frozen=True)
class OptimizerPath:
    label: str
    xs: np.ndarray  # the point before each step, then the final point: steps + 1 values
    ys: np.ndarray
    losses: np.ndarray  # f at each of those points
    stopped: str | None = None  # why the path ended early, in a sentence


def run_path(expression: str, start: tuple[float, float], steps: int, optimizer_spec: OptimizerSpec) -> OptimizerPath:
    """Step a real ``torch.tensor(start, requires_grad=True)`` with the real optimizer."""
    optimizer_spec.validate()
    tree = parse_expression(expression, {"x", "y"})

    fast: list = []  # after the first, checked evaluation: the same torch calls without the checks

    def f(p: torch.Tensor) -> torch.Tensor:
        values = {"x": p[0], "y": p[1]}
        if fast:
            return fast[0](values)
        loss = evaluate(tree, values, dtype=torch.float64)
        if loss.dim() != 0:
            raise PlaygroundError(f"{code(expression)} must give one number for a point (x, y); it gives shape {tuple(loss.shape)}.")
        fast.append(compile_pointwise(tree, torch.float64))
        return loss

    p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = optimizer_spec.make([p])
    points = [list(start)]
    losses: list[float] = []
    stopped = None
    for step in range(steps):
        optimizer.zero_grad()
        loss = f(p)
        value = float(loss.detach())
        losses.append(value)
        x, y = points[-1]
        if not math.isfinite(value) or max(abs(x), abs(y)) > RUNAWAY:
            stopped = (f"{optimizer_spec.label} stopped at step {step}: the loss became {value:g} "
                       f"at ({x:.3g}, {y:.3g}). Lower the learning rate, or the function has no bottom there.")
            break
        if not loss.requires_grad:
            stopped = f"{code(expression)} does not depend on x or y, so there is no gradient to follow."
            break
        loss.backward()
        optimizer.step()
        points.append(p.detach().tolist())
    else:
        with torch.no_grad():
            losses.append(float(f(p)))
    path = np.array(points[: len(losses)], dtype=np.float64)
    return OptimizerPath(optimizer_spec.label, path[:, 0], path[:, 1], np.array(losses), stopped)


_WARMED = threading.Lock()


def warm_up_in_background() -> None:
    """Once per process, a thread that takes one step with each optimizer: the first ``optimizer.step()``
    imports parts of torch (2-3 s on the 2-core machine), which would otherwise fall on the first click
    of the optimizer view."""
    if not _WARMED.acquire(blocking=False):
        return

    def warm() -> None:
        for kind in optimizer_kinds():
            run_path("x**2 + y**2", (1.0, 1.0), 1, OptimizerSpec(kind, 0.1, 0.5))

    threading.Thread(target=warm, name="playground-optimizer-warm-up", daemon=True).start()


def run_paths(spec: OptimizerRunSpec) -> list[OptimizerPath]:
    """Every optimizer of ``spec`` from the same start on the same function."""
    spec.validate()
    return [run_path(spec.expression, spec.start, spec.steps, optimizer) for optimizer in spec.optimizers]
