"""Lessons that are run, not read: each runs real PyTorch on the page's variables and expression.

A lesson is a list of steps, each a few lines of code and what those lines printed. The same lines,
joined, are a script that prints exactly the same (the tests run it and compare).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch

from playground.autograd.codegen import variables_code
from playground.autograd.expression import Node, evaluate
from playground.autograd.variables import ExpressionSpec, VariableSpec, make_tensors
from playground.errors import PlaygroundError

COURSE_SPEC = ExpressionSpec((VariableSpec("x", literal="[[1., 0.], [-1., 1.]]", requires_grad=True),), "x.pow(2)")


@dataclass(frozen=True)
class LessonStep:
    code: str
    output: str  # what the code printed, line by line


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    takeaway: str
    setup: str  # the code that declares the variables
    steps: tuple[LessonStep, ...]

    def code(self) -> str:
        return self.setup + "\n" + "\n".join(step.code for step in self.steps) + "\n"

    def output(self) -> str:
        return "\n".join(step.output for step in self.steps if step.output)


LESSONS: dict[str, str] = {
    "accumulate": "backward() twice adds up",
    "requires_grad": "requires_grad=False",
    "no_grad": "torch.no_grad()",
    "detach": ".detach()",
    "non_scalar": "non-scalar backward()",
}


class _Recorder:
    """Runs steps in one namespace of tensors, keeping each step's code and printed lines."""

    def __init__(self, namespace: dict[str, torch.Tensor]) -> None:
        self.ns: dict = dict(namespace)
        self.steps: list[LessonStep] = []
        self._lines: list[str] = []

    def print(self, *values) -> None:
        self._lines.append(" ".join(str(value) for value in values))

    def step(self, code: str, action: Callable[[], None]) -> None:
        self._lines = []
        action()
        self.steps.append(LessonStep(code, "\n".join(self._lines)))

    def backward_or_error(self, tensor: torch.Tensor, code: str = "z.backward()") -> bool:
        try:
            tensor.backward()
            return True
        except RuntimeError as error:
            self.print("RuntimeError:", error)
            return False


def _try_backward_code(target: str = "z") -> str:
    return f"try:\n    {target}.backward()\nexcept RuntimeError as error:\n    print('RuntimeError:', error)"


def _grad_leaves(spec: ExpressionSpec, tree: Node) -> list[str]:
    return [v.name for v in spec.variables if v.requires_grad and v.name in tree.names()]


def _print_grads_code(names: list[str]) -> str:
    return "\n".join(f"print('{name}.grad =', {name}.grad)" for name in names)


def _rename(node: Node, old: str, new: str) -> Node:
    if node.op == "var":
        return dataclasses.replace(node, name=new) if node.name == old else node
    return dataclasses.replace(node, args=tuple(_rename(arg, old, new) for arg in node.args))


def _setup(spec: ExpressionSpec) -> str:
    return "\n".join(variables_code(spec))


def lesson_accumulate(spec: ExpressionSpec) -> Lesson:
    tree = spec.parse()
    leaves = _grad_leaves(spec, tree)
    run = _Recorder(make_tensors(spec))
    z_code = f"z = {tree.source()}"
    if not leaves:
        raise PlaygroundError("This lesson needs a variable with requires_grad on in the expression; turn it on for one.")
    if evaluate(tree, run.ns).dim() != 0:
        raise PlaygroundError("This lesson calls z.backward(), which needs a scalar z; reduce the expression with .sum() "
                              "or .mean() first.")

    def backward_once() -> None:
        run.ns["z"] = evaluate(tree, run.ns)
        run.ns["z"].backward()
        for name in leaves:
            run.print(f"{name}.grad =", run.ns[name].grad)

    once = f"{z_code}\nz.backward()\n{_print_grads_code(leaves)}"
    run.step("# first backward()\n" + once, backward_once)
    run.step("# second backward() on a fresh z: the new gradient is ADDED to .grad\n" + once, backward_once)

    def clear() -> None:
        for name in leaves:
            run.ns[name].grad = None
            run.print(f"{name}.grad =", run.ns[name].grad)

    clear_code = "\n".join(f"{name}.grad = None  # what optimizer.zero_grad() does" for name in leaves)
    run.step("# clear the gradients before the next backward()\n" + clear_code + "\n" + _print_grads_code(leaves), clear)
    run.step("# backward() again: one gradient, no longer doubled\n" + once, backward_once)
    return Lesson("accumulate", LESSONS["accumulate"],
                  ".grad accumulates: each backward() adds to it, so a training loop clears it "
                  "(optimizer.zero_grad()) before every backward().", _setup(spec), tuple(run.steps))


def lesson_requires_grad(spec: ExpressionSpec) -> Lesson:
    tree = spec.parse()
    leaves = _grad_leaves(spec, tree)
    if not leaves:
        raise PlaygroundError("No variable in the expression has requires_grad on; turn it on for one to see it turned off.")
    off = leaves[0]
    changed = dataclasses.replace(spec, variables=tuple(
        dataclasses.replace(v, requires_grad=False) if v.name == off else v for v in spec.variables))
    run = _Recorder(make_tensors(changed))

    def forward() -> None:
        run.ns["z"] = evaluate(tree, run.ns)
        run.print(f"{off}.requires_grad =", run.ns[off].requires_grad)
        run.print("z.requires_grad =", run.ns["z"].requires_grad)

    run.step(f"z = {tree.source()}\nprint('{off}.requires_grad =', {off}.requires_grad)\n"
             "print('z.requires_grad =', z.requires_grad)", forward)
    z = run.ns["z"]
    if z.dim() == 0:
        def backward() -> None:
            if run.backward_or_error(z):
                for name in [v.name for v in spec.variables if v.name in tree.names()]:
                    run.print(f"{name}.grad =", run.ns[name].grad)

        names = [v.name for v in spec.variables if v.name in tree.names()]
        prints = "\n".join(f"    print('{name}.grad =', {name}.grad)" for name in names)
        run.step(f"try:\n    z.backward()\n{prints}\nexcept RuntimeError as error:\n    print('RuntimeError:', error)",
                 backward)
    return Lesson("requires_grad", LESSONS["requires_grad"],
                  f"With requires_grad=False, autograd does not record operations on {off}: {off}.grad stays None "
                  "(and if nothing requires grad, backward() has nothing to do and raises).",
                  _setup(changed), tuple(run.steps))


def lesson_no_grad(spec: ExpressionSpec) -> Lesson:
    tree = spec.parse()
    run = _Recorder(make_tensors(spec))

    def forward() -> None:
        with torch.no_grad():
            run.ns["z"] = evaluate(tree, run.ns)
        run.print("z.requires_grad =", run.ns["z"].requires_grad)
        run.print("z.grad_fn =", run.ns["z"].grad_fn)

    run.step(f"with torch.no_grad():\n    z = {tree.source()}\nprint('z.requires_grad =', z.requires_grad)\n"
             "print('z.grad_fn =', z.grad_fn)", forward)
    run.step(_try_backward_code(), lambda: run.backward_or_error(run.ns["z"]))
    return Lesson("no_grad", LESSONS["no_grad"],
                  "Inside torch.no_grad() nothing is recorded: z has no grad_fn and backward() cannot reach the "
                  "variables. Use it for evaluation and for updating weights by hand.", _setup(spec), tuple(run.steps))


def lesson_detach(spec: ExpressionSpec) -> Lesson:
    tree = spec.parse()
    leaves = _grad_leaves(spec, tree)
    if not leaves:
        raise PlaygroundError("No variable in the expression has requires_grad on; turn it on for one to see .detach().")
    cut = leaves[0]
    new = f"{cut}_detached"
    while new in spec.names:
        new += "_"
    detached_tree = _rename(tree, cut, new)
    run = _Recorder(make_tensors(spec))

    def forward() -> None:
        run.ns[new] = run.ns[cut].detach()
        run.ns["z"] = evaluate(detached_tree, run.ns)
        run.print(f"{new}.requires_grad =", run.ns[new].requires_grad)
        run.print("z.requires_grad =", run.ns["z"].requires_grad)

    run.step(f"{new} = {cut}.detach()  # the same numbers, cut from the graph\nz = {detached_tree.source()}\n"
             f"print('{new}.requires_grad =', {new}.requires_grad)\nprint('z.requires_grad =', z.requires_grad)",
             forward)
    z = run.ns["z"]
    if z.dim() == 0:
        names = [v.name for v in spec.variables if v.name in tree.names()]

        def backward() -> None:
            if run.backward_or_error(z):
                for name in names:
                    run.print(f"{name}.grad =", run.ns[name].grad)

        prints = "\n".join(f"    print('{name}.grad =', {name}.grad)" for name in names)
        run.step(f"try:\n    z.backward()\n{prints}\nexcept RuntimeError as error:\n    print('RuntimeError:', error)",
                 backward)
    return Lesson("detach", LESSONS["detach"],
                  f".detach() gives the same numbers without history: nothing flows back through it, so {cut}.grad "
                  "stays None.", _setup(spec), tuple(run.steps))


def lesson_non_scalar(spec: ExpressionSpec) -> Lesson:
    tree = spec.parse()
    with torch.no_grad():
        output = evaluate(tree, make_tensors(spec))
    target: Node | None = None
    if output.dim() != 0:
        target = tree
    elif tree.op in ("sum", "mean") and tree.dim is None and tree.args[0].op != "const":
        target = tree.args[0]
    if target is not None:
        with torch.no_grad():
            if evaluate(target, make_tensors(spec)).numel() < 2 or not _grad_leaves(spec, target):
                target = None
    if target is None:
        spec, target = COURSE_SPEC, COURSE_SPEC.parse()
    leaves = _grad_leaves(spec, target)
    run = _Recorder(make_tensors(spec))

    def forward() -> None:
        run.ns["y"] = evaluate(target, run.ns)
        run.print("y.shape =", run.ns["y"].shape)

    run.step(f"y = {target.source()}\nprint('y.shape =', y.shape)", forward)
    run.step("# y has many numbers: which one should backward() differentiate?\n" + _try_backward_code("y"),
             lambda: run.backward_or_error(run.ns["y"]))

    def fix() -> None:
        run.ns["y"].backward(gradient=torch.ones_like(run.ns["y"]))
        for name in leaves:
            run.print(f"{name}.grad =", run.ns[name].grad)

    run.step("# the fix: give one weight per element of y (ones: the same as y.sum().backward())\n"
             "y.backward(gradient=torch.ones_like(y))\n" + _print_grads_code(leaves), fix)
    return Lesson("non_scalar", LESSONS["non_scalar"],
                  "backward() without arguments needs a single number. For a tensor y, pass gradient= (the weights "
                  "of a vector-Jacobian product), or reduce y first with .sum() or .mean().", _setup(spec),
                  tuple(run.steps))


RUNNERS: dict[str, Callable[[ExpressionSpec], Lesson]] = {
    "accumulate": lesson_accumulate,
    "requires_grad": lesson_requires_grad,
    "no_grad": lesson_no_grad,
    "detach": lesson_detach,
    "non_scalar": lesson_non_scalar,
}


def run_lesson(key: str, spec: ExpressionSpec) -> Lesson:
    """Run one lesson on the page's variables and expression."""
    if key not in RUNNERS:
        raise PlaygroundError(f"There is no lesson called {key!r}.")
    spec.validate()
    return RUNNERS[key](spec)
