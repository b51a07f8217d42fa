"""The lessons' own rules: which tensor each one uses, what it says, and what it refuses (the lessons' numbers
against real PyTorch are in test_codegen.py). Pinned by the mutation run of 2026-12-08 (docs/MUTATION.md)."""

from __future__ import annotations

import pytest
import torch

from playground.autograd.lessons import LESSONS, run_lesson
from playground.autograd.variables import COURSE_PRESET, PRESETS, ExpressionSpec, VariableSpec
from playground.errors import PlaygroundError

TAKEAWAYS = {
    "accumulate": ".grad accumulates: each backward() adds to it, so a training loop clears it "
                  "(optimizer.zero_grad()) before every backward().",
    "requires_grad": "With requires_grad=False, autograd does not record operations on x: x.grad stays None "
                     "(and if nothing requires grad, backward() has nothing to do and raises).",
    "no_grad": "Inside torch.no_grad() nothing is recorded: z has no grad_fn and backward() cannot reach the "
               "variables. Use it for evaluation and for updating weights by hand.",
    "detach": ".detach() gives the same numbers without history: nothing flows back through it, so x.grad "
              "stays None.",
    "non_scalar": "backward() without arguments needs a single number. For a tensor y, pass gradient= (the weights "
                  "of a vector-Jacobian product), or reduce y first with .sum() or .mean().",
}


@pytest.mark.parametrize("key", list(LESSONS))
def test_each_lesson_is_named_titled_and_says_its_takeaway_word_for_word(key):
    lesson = run_lesson(key, PRESETS[COURSE_PRESET])
    assert (lesson.key, lesson.title, lesson.takeaway) == (key, LESSONS[key], TAKEAWAYS[key])


def spec(expression: str, *variables: VariableSpec) -> ExpressionSpec:
    return ExpressionSpec(variables or (VariableSpec("x", literal="[1., 2.]"),), expression)


def first_line(key: str, expression: str, *variables: VariableSpec) -> str:
    return run_lesson(key, spec(expression, *variables)).steps[0].code.splitlines()[0]


def test_the_non_scalar_lesson_uses_the_expression_when_it_can():
    lesson = run_lesson("non_scalar", spec("x * 3"))  # a tensor of 2 numbers: the expression itself
    assert lesson.steps[0].code.splitlines()[0] == "y = x * 3"
    assert lesson.steps[1].code.splitlines()[0] == "# y has many numbers: which one should backward() differentiate?"
    assert lesson.steps[2].code.splitlines()[0] == ("# the fix: give one weight per element of y "
                                                    "(ones: the same as y.sum().backward())")
    assert lesson.steps[2].output == "x.grad = " + repr(torch.tensor([3.0, 3.0]))
    assert first_line("non_scalar", "(x * 3).sum()") == "y = x * 3"  # a whole sum or mean: what it adds up
    assert first_line("non_scalar", "x.mean()") == "y = x"
    grid = VariableSpec("m", literal="[[1., 2.], [3., 4.]]")
    assert first_line("non_scalar", "m.sum(dim=0)", grid) == "y = m.sum(dim=0)"


@pytest.mark.parametrize(("expression", "variables"), [
    ("x.sum(dim=0)", ()),  # a sum along a dim of a vector is a scalar: it does not reduce a tensor y
    ("x * 3", (VariableSpec("x", literal="[2.]"),)),  # one number: nothing to choose between
    ("x * 3", (VariableSpec("x", literal="[1., 2.]", requires_grad=False),)),  # nothing to differentiate
    ("sum(2) + x.sum()", ()),
    ("sum(2)", ()),  # the sum of a number
])
def test_the_non_scalar_lesson_falls_back_to_the_course_example(expression, variables):
    lesson = run_lesson("non_scalar", spec(expression, *variables))
    assert lesson.steps[0].code.splitlines()[0] == "y = x.pow(2)"
    assert "x = torch.tensor([[1., 0.], [-1., 1.]], requires_grad=True)" in lesson.setup
    assert lesson.steps[2].output == "x.grad = " + repr(torch.tensor([[2.0, 0.0], [-2.0, 2.0]]))


def test_the_detached_copy_gets_a_name_no_variable_has():
    taken = (VariableSpec("x", literal="[1., 2.]"), VariableSpec("x_detached", literal="1.", requires_grad=False),
             VariableSpec("x_detached_", literal="2.", requires_grad=False))
    lesson = run_lesson("detach", spec("(x * x_detached * x_detached_).sum()", *taken))
    assert lesson.steps[0].code.splitlines()[0] == "x_detached__ = x.detach()  # the same numbers, cut from the graph"
    assert lesson.steps[0].code.splitlines()[1] == "z = (x_detached__ * x_detached * x_detached_).sum()"


@pytest.mark.parametrize(("key", "sentence"), [
    ("requires_grad", "No variable in the expression has requires_grad on; turn it on for one to see it turned off."),
    ("detach", "No variable in the expression has requires_grad on; turn it on for one to see .detach()."),
    ("accumulate", "This lesson needs a variable with requires_grad on in the expression; turn it on for one."),
])
def test_a_lesson_without_a_variable_to_differentiate_says_so(key, sentence):
    nothing = spec("(x * 2).sum()", VariableSpec("x", literal="[1., 2.]", requires_grad=False))
    with pytest.raises(PlaygroundError) as refused:
        run_lesson(key, nothing)
    assert refused.value.sentence == sentence


def test_the_accumulate_lesson_refuses_a_tensor_result_with_a_sentence():
    with pytest.raises(PlaygroundError) as refused:
        run_lesson("accumulate", spec("x * 2"))
    assert refused.value.sentence == ("This lesson calls z.backward(), which needs a scalar z; reduce the expression "
                                      "with .sum() or .mean() first.")


def test_the_accumulate_lessons_steps_say_what_each_does():
    lesson = run_lesson("accumulate", PRESETS[COURSE_PRESET])
    assert [step.code.splitlines()[0] for step in lesson.steps] == [
        "# first backward()",
        "# second backward() on a fresh z: the new gradient is ADDED to .grad",
        "# clear the gradients before the next backward()",
        "# backward() again: one gradient, no longer doubled",
    ]
