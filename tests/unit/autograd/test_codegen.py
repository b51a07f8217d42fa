"""The code views are runnable and print the numbers the page shows; the lessons are real PyTorch.

Generated code is our own text, so running it here is fine: once in a fresh ``python -c`` process (the
course example, to prove it stands alone), the rest with ``runpy`` on a temp file to keep the tests fast.
"""

from __future__ import annotations

import contextlib
import io
import re
import runpy
import subprocess
import sys

import numpy as np
import pytest
import torch

from playground.autograd.codegen import curve_1d_code, expression_code, field_2d_code, optimizer_code
from playground.autograd.function_plots import Curve1DSpec, Field2DSpec, curve_1d, gradient_field
from playground.autograd.graph import trace
from playground.autograd.lessons import LESSONS, run_lesson
from playground.autograd.optimizer_paths import OptimizerRunSpec, OptimizerSpec, run_paths
from playground.autograd.variables import COURSE_PRESET, PRESETS, ExpressionSpec, VariableSpec
from playground.errors import PlaygroundError

NUMBER = re.compile(r"-?\d+\.?\d*(?:e[-+]?\d+)?")


def run_script(code: str, tmp_path) -> str:
    path = tmp_path / "generated.py"
    path.write_text(code)
    out = io.StringIO()
    state = torch.random.get_rng_state()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(path), run_name="__main__")
    finally:
        torch.random.set_rng_state(state)
    return out.getvalue()


def numbers(text: str) -> list[float]:
    return [float(n) for n in NUMBER.findall(text)]


def test_course_code_is_exactly_the_course_and_runs_standalone():
    code = expression_code(PRESETS[COURSE_PRESET])
    assert "x = torch.tensor([[1., 0.], [-1., 1.]], requires_grad=True)" in code
    assert "z = x.pow(2).sum()" in code and "z.backward()" in code
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == (
        "z = tensor(3., grad_fn=<SumBackward0>)\n"
        "x.grad = tensor([[ 2.,  0.],\n        [-2.,  2.]])\n"
    )


@pytest.mark.parametrize("name", list(PRESETS))
def test_expression_code_prints_what_the_page_shows(name, tmp_path):
    spec = PRESETS[name]
    result = trace(spec)
    printed = run_script(expression_code(spec), tmp_path)
    expected = [f"z = {result.result_repr}"] + [f"{n}.grad = {text}" for n, text in result.grad_reprs.items()]
    assert printed.strip() == "\n".join(expected)


def test_random_variables_in_code_use_the_seed(tmp_path):
    spec = ExpressionSpec((VariableSpec("W", "random", shape=(2, 2)),), "W.sum()", seed=1234)
    code = expression_code(spec)
    assert "torch.manual_seed(1234)" in code
    result = trace(spec)
    assert f"z = {result.result_repr}" in run_script(code, tmp_path)


def test_non_scalar_code_explains_instead_of_crashing(tmp_path):
    spec = ExpressionSpec((VariableSpec("x", literal="[1., 2.]"),), "x * 2")
    code = expression_code(spec)
    assert "z.backward()\n" not in code and "gradient=torch.ones_like(z)" in code
    assert run_script(code, tmp_path).startswith("z = tensor([2., 4.]")


def test_curve_code_prints_the_same_value_and_slope(tmp_path):
    spec = Curve1DSpec("x**3 - 3*x", -2.0, 2.0, 50, 1.5)
    curve = curve_1d(spec)
    printed = run_script(curve_1d_code(spec), tmp_path)
    values = numbers(printed)
    assert values[1] == pytest.approx(curve.f_at, abs=1e-6) and values[3] == pytest.approx(curve.slope_at, abs=1e-6)
    assert values[-1] == pytest.approx(np.abs(curve.df).max())


def test_field_code_prints_the_same_gradients(tmp_path):
    spec = Field2DSpec("(1 - x)**2 + 100*(y - x**2)**2", (-2.0, 2.0), (-1.0, 3.0), 30, 6)
    field = gradient_field(spec)
    values = numbers(run_script(field_2d_code(spec), tmp_path))
    assert values[0] == pytest.approx(field.grad_x[0]) and values[1] == pytest.approx(field.grad_y[0])
    assert values[-1] == pytest.approx(np.hypot(field.grad_x, field.grad_y).max())


def test_optimizer_code_has_the_loop_and_ends_where_the_page_does(tmp_path):
    spec = OptimizerRunSpec("x**2 + 3*y**2", (-2.5, 2.0), 40, (
        OptimizerSpec("SGD", 0.05, 0.5), OptimizerSpec("SGD Nesterov", 0.05, 0.9), OptimizerSpec("Adam", 0.1),
        OptimizerSpec("RMSprop", 0.05), OptimizerSpec("SGD", 1.0)))
    code = optimizer_code(spec)
    for line in ("optimizer.zero_grad()", "loss.backward()", "optimizer.step()", "nesterov=True",
                 "torch.optim.Adam([p], lr=0.1)", "torch.optim.RMSprop([p], lr=0.05)"):
        assert line in code
    printed = run_script(code, tmp_path).strip().splitlines()
    paths = run_paths(spec)
    assert len(printed) == len(paths)
    for line, path in zip(printed, paths, strict=True):
        assert line.startswith(path.label + " ends at")
        x, y, loss = numbers(line.split("ends at", 1)[1])
        assert (x, y) == pytest.approx((path.xs[-1], path.ys[-1]), rel=1e-9, abs=1e-12)
        assert loss == pytest.approx(path.losses[-1], rel=1e-9, abs=1e-12)


# ---- lessons ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", list(LESSONS))
@pytest.mark.parametrize("preset", list(PRESETS))
def test_lesson_code_prints_what_the_lesson_shows(key, preset, tmp_path):
    lesson = run_lesson(key, PRESETS[preset])
    assert run_script(lesson.code(), tmp_path).strip() == lesson.output().strip()


def course_lesson(key):
    return run_lesson(key, PRESETS[COURSE_PRESET])


def test_backward_twice_accumulates_and_clearing_resets():
    outputs = [step.output for step in course_lesson("accumulate").steps]
    once = "x.grad = " + repr(torch.tensor([[2.0, 0.0], [-2.0, 2.0]]))
    twice = "x.grad = " + repr(torch.tensor([[4.0, 0.0], [-4.0, 4.0]]))
    assert outputs == [once, twice, "x.grad = None", once]


def test_requires_grad_false_leaves_grad_none_and_backward_raises_when_nothing_requires_grad():
    lesson = course_lesson("requires_grad")
    assert "x.requires_grad = False" in lesson.steps[0].output
    assert "z.requires_grad = False" in lesson.steps[0].output
    assert "RuntimeError: element 0 of tensors does not require grad" in lesson.steps[1].output
    assert "requires_grad=True" not in lesson.setup
    mse = run_lesson("requires_grad", PRESETS["Linear model, mean squared error"])
    assert "w.grad = None" in mse.output() and "b.grad = tensor(-7.5000)" in mse.output()


def test_no_grad_records_nothing():
    lesson = course_lesson("no_grad")
    assert "z.grad_fn = None" in lesson.output() and "RuntimeError" in lesson.output()
    assert "with torch.no_grad():" in lesson.code()


def test_detach_cuts_the_graph():
    lesson = run_lesson("detach", PRESETS["Neuron: sigmoid(w @ x + b)"])
    assert "w_detached = w.detach()" in lesson.code()
    assert "w.grad = None" in lesson.output() and "b.grad = tensor(" in lesson.output()


def test_non_scalar_backward_shows_the_error_and_the_fix():
    lesson = course_lesson("non_scalar")
    assert "y = x.pow(2)" in lesson.code()
    assert "grad can be implicitly created only for scalar outputs" in lesson.steps[1].output
    assert "y.backward(gradient=torch.ones_like(y))" in lesson.steps[2].code
    assert lesson.steps[2].output == "x.grad = " + repr(torch.tensor([[2.0, 0.0], [-2.0, 2.0]]))


def test_lessons_refuse_what_they_cannot_show():
    no_grad = ExpressionSpec((VariableSpec("x", literal="[1., 2.]", requires_grad=False),), "x.sum()")
    with pytest.raises(PlaygroundError, match="requires_grad"):
        run_lesson("accumulate", no_grad)
    non_scalar = ExpressionSpec((VariableSpec("x", literal="[1., 2.]"),), "x * 2")
    with pytest.raises(PlaygroundError, match="scalar"):
        run_lesson("accumulate", non_scalar)
    with pytest.raises(PlaygroundError):
        run_lesson("nonsense", non_scalar)
