"""Exercise types and the checking of a learner's answer.

An ``Exercise`` makes an ``Instance`` from a seed (seed 0: the course's own numbers; another seed: a variant with
new numbers, the same for the same seed). The instance carries its truth, computed by torch when it was made, and
the torch code that proves it (``proof``: runnable as shown, a test executes it). ``check`` reads a typed answer
with a safe grammar (the Tensor Lab's literal and shape parsers, the Autograd grammar, line numbers, key names),
bounded by ``limits.MAX_COURSE_ANSWER_CHARS``, and never runs it as Python. A mistake in the answer's form is a
sentence (``Verdict.readable`` False: it does not count as a try); a wrong answer gets the exercise's hint.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from playground import limits
from playground.errors import PlaygroundError
from playground.tensors.literal import parse_literal, parse_shape, quoted

LANGUAGES = ("en", "zh")

# Answer kinds: what the learner types (or picks) and how it is read.
SHAPE, VALUES, DTYPE, CHOICE, EXPRESSION, ORDER, KEYS, RUN = (
    "shape", "values", "dtype", "choice", "expression", "order", "keys", "run")
KINDS = (SHAPE, VALUES, DTYPE, CHOICE, EXPRESSION, ORDER, KEYS, RUN)


@dataclass(frozen=True)
class Text:
    """One sentence (or a few) in English and Simplified Chinese; code and PyTorch names stay as they are."""

    en: str
    zh: str

    def __call__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Instance:
    """One exercise with its numbers: the question, the truth torch gave, the hint and the proof."""

    exercise_id: str
    seed: int
    kind: str
    prompt: Text
    code: str  # the code the question is about ("" for none)
    truth: Any  # shape tuple, nested values, dtype name, choice key(s), gradient, line order, keys, (dataset, mark)
    shown_truth: str  # the truth as the worked answer writes it
    hint: Text
    proof: str  # torch code that asserts the truth; runs as shown
    choices: tuple[tuple[str, str], ...] = ()  # (key, label) of a CHOICE
    point: Any = None  # EXPRESSION: the value of x; ORDER: the lines' callables; RUN: the Model Builder's link
    want_float: bool = False  # VALUES: the answer must be written as floats (``1.`` rather than ``1``)

    def worked(self, lang: str) -> str:
        """The worked answer: the truth and why (the proof's code is shown beneath it)."""
        if lang == "zh":
            return f"答案:{self.shown_truth}。{self.hint.zh}"
        return f"The answer is {self.shown_truth}. {self.hint.en}"


@dataclass(frozen=True)
class Exercise:
    """A kind of question; ``make(rng, course)`` builds its instance (``course``: use the course's numbers)."""

    exercise_id: str
    kind: str
    title: Text
    make: Callable[[random.Random, bool], Instance] = field(repr=False)

    def instance(self, seed: int = 0) -> Instance:
        """The same seed gives the same exercise; seed 0 is the course's own example."""
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= limits.MAX_COURSE_SEED:
            seed = 0
        with torch.random.fork_rng(devices=[]):  # making an exercise never moves the server's global RNG
            made = self.make(random.Random(f"{self.exercise_id}:{seed}"), seed == 0)
        if made.kind != self.kind:
            raise AssertionError(f"{self.exercise_id} made a {made.kind} instance, not {self.kind}")
        return Instance(**{**made.__dict__, "exercise_id": self.exercise_id, "seed": seed})


@dataclass(frozen=True)
class Verdict:
    """What the page says about one answer. ``readable`` False: the answer could not be read (not a try)."""

    correct: bool
    message: Text
    readable: bool = True


RIGHT = Text("Right.", "正确。")


def _unreadable(exc: PlaygroundError) -> Verdict:
    """The shared parsers speak English; the Chinese page says so before their sentence."""
    return Verdict(False, Text(exc.sentence, f"无法读取这个答案:{exc.sentence}"), readable=False)


def _sentence(en: str, zh: str) -> Verdict:
    return Verdict(False, Text(en, zh), readable=False)


def check(instance: Instance, answer: object) -> Verdict:
    """Read ``answer`` with the grammar of the instance's kind and compare it with the truth."""
    if instance.kind == RUN:
        raise ValueError("A RUN exercise is checked from the run store (playground/course/run_check.py).")
    if not isinstance(answer, str):
        return _sentence("Type an answer as text.", "请以文本输入答案。")
    if len(answer) > limits.MAX_COURSE_ANSWER_CHARS:
        return _sentence(
            f"That answer is {len(answer):,} characters long; answers here are at most "
            f"{limits.MAX_COURSE_ANSWER_CHARS} characters.",
            f"答案有 {len(answer):,} 个字符;这里的答案最多 {limits.MAX_COURSE_ANSWER_CHARS} 个字符。")
    if not answer.strip():
        return _sentence("Type an answer first.", "请先输入答案。")
    try:
        correct = _CHECKS[instance.kind](instance, answer)
    except PlaygroundError as exc:
        return _unreadable(exc)
    return Verdict(True, RIGHT) if correct else Verdict(False, instance.hint)


_SIZE_OF_TORCH = re.compile(r"^\s*torch\.Size\(\s*(.*?)\s*\)\s*$")


def parse_answer_shape(answer: str) -> tuple[int, ...]:
    """``2, 3``, ``[2, 3]``, ``(2, 3)`` or ``torch.Size([2, 3])`` -> (2, 3), with the Tensor Lab's shape grammar. Only
    the number of dimensions is bounded: a wrong answer may be a large shape, and nothing is allocated for it."""
    if not answer.isascii():
        raise PlaygroundError("Write the shape with the digits 0-9 and commas, e.g. 2, 3.")
    printed = _SIZE_OF_TORCH.match(answer)
    text = printed.group(1) if printed else answer
    inner = text.strip().strip("()[]").strip()
    parts = [part.strip() for part in inner.split(",") if part.strip()] if inner else []
    if len(parts) > limits.MAX_TENSOR_DIMS or not all(re.fullmatch(r"[0-9]{1,9}", part) for part in parts):
        return parse_shape(answer, what="shape")  # its sentence says what is wrong
    return tuple(int(part) for part in parts)


def _check_shape(instance: Instance, answer: str) -> bool:
    return parse_answer_shape(answer) == tuple(instance.truth)


def _as_tensor(values: Any) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def values_match(answer_values: Any, truth: Any) -> bool:
    """Same shape and the same numbers, to about three decimals (what a learner types: 0.333 for 1/3)."""
    given, want = _as_tensor(answer_values), _as_tensor(truth)
    if given.shape != want.shape:
        return False
    return bool(torch.allclose(given, want, rtol=1e-3, atol=2e-3, equal_nan=True))


def _check_values(instance: Instance, answer: str) -> bool:
    parsed = parse_literal(answer.strip())
    if not values_match(parsed.values, instance.truth):
        return False
    return not instance.want_float or parsed.kind == "float"


# The dtypes an answer may name, each with the names torch knows it by.
DTYPE_NAMES: dict[str, torch.dtype] = {}
for _dtype, _names in (
    (torch.float32, ("float32", "float")),
    (torch.float64, ("float64", "double")),
    (torch.float16, ("float16", "half")),
    (torch.int64, ("int64", "long")),
    (torch.int32, ("int32", "int")),
    (torch.int16, ("int16", "short")),
    (torch.int8, ("int8",)),
    (torch.uint8, ("uint8",)),
    (torch.bool, ("bool",)),
):
    for _name in _names:
        DTYPE_NAMES[_name] = _dtype
        DTYPE_NAMES[f"torch.{_name}"] = _dtype


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype)  # torch.int64


def _check_dtype(instance: Instance, answer: str) -> bool:
    name = answer.strip().lower()
    if not name.isascii() or name not in DTYPE_NAMES:
        raise PlaygroundError(f"{quoted(answer)} is not a dtype here; write one such as torch.float32, torch.int64 "
                              "or torch.bool.")
    return dtype_name(DTYPE_NAMES[name]) == instance.truth


def _check_choice(instance: Instance, answer: str) -> bool:
    keys = {key for key, _ in instance.choices}
    if answer not in keys:
        raise PlaygroundError("Pick one of the choices shown.")
    truth = instance.truth if isinstance(instance.truth, (tuple, frozenset, set)) else (instance.truth,)
    return answer in truth


def _check_expression(instance: Instance, answer: str) -> bool:
    from playground.autograd.expression import evaluate, parse_expression

    tree = parse_expression(answer, {"x"})
    x = torch.tensor(instance.point, dtype=torch.float32, requires_grad=True)
    result = evaluate(tree, {"x": x})
    if result.numel() != 1:
        raise PlaygroundError(f"The expression gives a tensor of shape {list(result.shape)}; backward() needs one "
                              "number, so end it with .sum() or .mean().")
    if not result.requires_grad:
        return False  # a constant: its gradient is zero everywhere, and the asked gradient is not
    (grad,) = torch.autograd.grad(result.reshape(()), x, allow_unused=True)
    if grad is None:
        return False
    return values_match(grad.tolist(), instance.truth)


_NUMBERS = re.compile(r"^\s*[0-9]{1,2}(\s*,\s*[0-9]{1,2})*\s*$")


def parse_order(answer: str, count: int) -> tuple[int, ...]:
    """``"2, 1, 3"`` -> (2, 1, 3): each of 1..count once."""
    text = answer.strip().strip("[]()").strip()
    if not _NUMBERS.fullmatch(text):
        raise PlaygroundError(f"Write the line numbers in order, separated by commas, e.g. {', '.join(map(str, range(1, count + 1)))}.")
    order = tuple(int(part) for part in text.split(","))
    if sorted(order) != list(range(1, count + 1)):
        raise PlaygroundError(f"Use each line number from 1 to {count} exactly once.")
    return order


def run_lines(lines: tuple[tuple[str, Callable[[dict], Any]], ...], order: tuple[int, ...],
              namespace: dict) -> dict:
    """Run the exercise's own lines (never the learner's text) in the learner's order. A line whose names are not
    made yet fails like Python would: with a NameError, raised as a KeyError from the namespace."""
    for number in order:
        lines[number - 1][1](namespace)
    return namespace


def _check_order(instance: Instance, answer: str) -> bool:
    lines, valid = instance.point
    order = parse_order(answer, len(lines))
    return valid(order)


_KEY = re.compile(r"^[A-Za-z0-9_]{1,40}(\.[A-Za-z0-9_]{1,40}){0,4}$")


def parse_keys(answer: str) -> tuple[str, ...]:
    """State-dict key names separated by commas or spaces (quotes and brackets allowed around them)."""
    parts = [part.strip().strip("'\"") for part in re.split(r"[,\s]+", answer.strip().strip("[](){}")) if part.strip()]
    if len(parts) > limits.MAX_COURSE_KEYS:
        raise PlaygroundError(f"That is {len(parts)} names; a model here has at most {limits.MAX_COURSE_KEYS} keys.")
    for part in parts:
        if not _KEY.fullmatch(part):
            raise PlaygroundError(f"{quoted(part)} is not a state_dict key; keys look like 0.weight or 2.bias.")
    return tuple(parts)


def _check_keys(instance: Instance, answer: str) -> bool:
    return parse_keys(answer) == tuple(instance.truth)


_CHECKS: dict[str, Callable[[Instance, str], bool]] = {
    SHAPE: _check_shape,
    VALUES: _check_values,
    DTYPE: _check_dtype,
    CHOICE: _check_choice,
    EXPRESSION: _check_expression,
    ORDER: _check_order,
    KEYS: _check_keys,
}


def right_answer(instance: Instance) -> str:
    """An answer ``check`` accepts, written from the instance's truth (the tests answer the course with it)."""
    if instance.kind == SHAPE:
        return ", ".join(str(s) for s in instance.truth)
    if instance.kind == VALUES:
        return literal_text(instance.truth, floats=instance.want_float)
    if instance.kind == DTYPE:
        return instance.truth
    if instance.kind == CHOICE:
        truth = instance.truth
        return sorted(truth)[0] if isinstance(truth, (tuple, frozenset, set)) else truth
    if instance.kind == EXPRESSION:
        return instance.shown_truth
    if instance.kind == ORDER:
        return ", ".join(str(n) for n in instance.truth)
    if instance.kind == KEYS:
        return ", ".join(instance.truth)
    raise ValueError(f"no typed answer for {instance.kind}")


def literal_text(values: Any, floats: bool = False) -> str:
    """Nested lists of numbers as a literal the Tensor Lab's parser reads (``[[2., 0.], [-2., 2.]]``)."""
    if isinstance(values, list):
        return "[" + ", ".join(literal_text(v, floats) for v in values) + "]"
    if isinstance(values, bool):
        return "True" if values else "False"
    if isinstance(values, float):
        if math.isfinite(values) and values == int(values) and abs(values) < 1e15:
            return f"{int(values)}."
        return f"{values:.6g}"
    return f"{values}." if floats else str(values)


def shape_text(shape: Any) -> str:
    return "[" + ", ".join(str(int(s)) for s in shape) + "]"
