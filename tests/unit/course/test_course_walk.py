"""The whole course answered right (from each exercise's own torch truth) and wrong (each gets its hint), over
the course's numbers and seeded variants; proofs run as shown; both languages everywhere."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
import torch

from playground import limits
from playground.builder import lessons
from playground.course import exercises as ex
from playground.course.catalog import EXERCISES, STEPS
from playground.course.exercises import check, literal_text, right_answer

SEEDS = (0, 1, 2, 7)
TYPED = [e for e in EXERCISES.values() if e.kind != ex.RUN]


def wrong_answer(instance: ex.Instance) -> str:
    """An answer that reads fine and is wrong: the truth moved."""
    truth = instance.truth
    if instance.kind == ex.SHAPE:
        return ", ".join(str(s) for s in (*truth, 7))
    if instance.kind == ex.VALUES:
        return literal_text((torch.tensor(truth, dtype=torch.float64) + 1).tolist(), floats=True)
    if instance.kind == ex.DTYPE:
        return "torch.float16"
    if instance.kind == ex.CHOICE:
        right = truth if isinstance(truth, tuple) else (truth,)
        return next(key for key, _ in instance.choices if key not in right)
    if instance.kind == ex.EXPRESSION:
        return "(100 * x).sum()"
    if instance.kind == ex.ORDER:
        return ", ".join(str(n) for n in reversed(truth))
    if instance.kind == ex.KEYS:
        return ", ".join(reversed(truth))
    raise AssertionError(instance.kind)


def test_the_course_has_its_steps_and_enough_exercises():
    assert len(STEPS) == 16
    assert len(EXERCISES) >= 30
    assert all(step.exercises for step in STEPS)
    kinds = {e.kind for e in EXERCISES.values()}
    assert kinds == set(ex.KINDS)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_exercise_answered_right_passes(seed):
    for exercise in TYPED:
        instance = exercise.instance(seed)
        verdict = check(instance, right_answer(instance))
        assert verdict.correct, (exercise.exercise_id, seed, right_answer(instance), verdict.message.en)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_exercise_answered_wrong_gets_its_hint(seed):
    for exercise in TYPED:
        instance = exercise.instance(seed)
        verdict = check(instance, wrong_answer(instance))
        assert not verdict.correct and verdict.readable, (exercise.exercise_id, seed, verdict.message.en)
        assert verdict.message == instance.hint


def test_the_truth_is_what_torch_gives():
    """Spot checks against the course's own numbers (seed 0)."""
    assert EXERCISES["squeeze"].instance(0).truth == (2, 3)
    assert EXERCISES["unsqueeze"].instance(0).truth == (2, 1, 3)
    assert EXERCISES["cat"].instance(0).truth == (2, 6, 3)
    assert EXERCISES["pow"].instance(0).truth == [1, 4, 9, 16]
    assert EXERCISES["sum"].instance(0).truth == 10
    assert EXERCISES["mean"].instance(0).truth == 2.5
    assert EXERCISES["grad-course"].instance(0).truth == [[2.0, 0.0], [-2.0, 2.0]]
    assert EXERCISES["linear-weight"].instance(0).truth == (64, 32)
    assert EXERCISES["linear-bias"].instance(0).truth == (64,)
    assert EXERCISES["tensor-dtype"].instance(0).truth == "torch.int64"
    assert EXERCISES["state-keys"].instance(0).truth == ("0.weight", "0.bias", "2.weight", "2.bias")


def test_float_values_must_be_written_as_floats():
    instance = EXERCISES["tensor-float"].instance(0)
    assert check(instance, "[1., 2., 3., 4.]").correct
    assert check(instance, "[1, 2, 3, 4]").message == instance.hint


def test_an_expression_with_the_gradient_passes_whatever_its_form():
    instance = EXERCISES["expr-square"].instance(0)  # grad [[2, 0], [-2, 2]] at x = [[1, 0], [-1, 1]]
    for answer in ("x.pow(2).sum()", "(x * x).sum()", "(x ** 2).sum() + 5"):
        assert check(instance, answer).correct, answer
    assert not check(instance, "x.sum()").correct
    assert not check(instance, "(0 * x).sum() + 3").correct
    verdict = check(instance, "x.pow(2)")  # not one number
    assert not verdict.readable and "backward()" in verdict.message.en


def test_an_order_is_judged_by_running_our_lines():
    instance = EXERCISES["train-order"].instance(0)
    lines, _ = instance.point
    texts = [text for text, _ in lines]
    right = instance.truth
    assert check(instance, ", ".join(map(str, right))).correct
    # zero_grad may come anywhere before backward: forward first is right too
    zero, forward = texts.index("optimizer.zero_grad()") + 1, texts.index("output = model(x)") + 1
    others = [n for n in right if n not in (zero, forward)]
    assert check(instance, ", ".join(map(str, [forward, zero, *others]))).correct
    # without zero_grad before backward the stale gradient is added in: wrong
    no_zero_first = [n for n in right if n != zero] + [zero]
    assert not check(instance, ", ".join(map(str, no_zero_first))).correct


@pytest.mark.parametrize("seed", (0, 3))
def test_every_proof_runs_as_shown(seed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for exercise in EXERCISES.values():
        instance = exercise.instance(seed)
        if instance.kind == ex.RUN:
            compile(instance.proof, exercise.exercise_id, "exec")  # a fragment of the validation loop
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(instance.proof, exercise.exercise_id, "exec"), {"__name__": "proof"})  # noqa: S102


def test_a_broken_proof_fails():
    instance = EXERCISES["squeeze"].instance(0)
    broken = instance.proof.replace("[2, 3]", "[3, 2]")
    with pytest.raises(AssertionError):
        exec(compile(broken, "broken", "exec"), {})  # noqa: S102


def test_the_same_seed_gives_the_same_exercise_and_new_numbers_change_it():
    for exercise in EXERCISES.values():
        a, b = exercise.instance(5), exercise.instance(5)
        assert (a.code, a.truth, a.prompt) == (b.code, b.truth, b.prompt)
    def seen(instance):
        return instance.code, instance.truth, instance.prompt, instance.choices

    unchanged = [e.exercise_id for e in EXERCISES.values()
                 if all(seen(e.instance(s)) == seen(e.instance(0)) for s in range(1, 12))]
    assert unchanged == []
    assert EXERCISES["squeeze"].instance(-1).seed == 0  # a seed out of range is the course's own


def test_making_an_exercise_leaves_torch_random_state_alone():
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    for exercise in EXERCISES.values():
        exercise.instance(4)
    assert torch.equal(torch.rand(3), expected)


def test_the_worked_answer_gives_the_truth_in_both_languages():
    for exercise in EXERCISES.values():
        instance = exercise.instance(0)
        assert instance.shown_truth and instance.shown_truth in instance.worked("en")
        assert instance.shown_truth in instance.worked("zh")


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _bilingual(text: ex.Text, where: str) -> None:
    assert text.en.strip() and text.zh.strip(), where
    assert _CJK.search(text.zh), f"{where}: no Chinese in {text.zh!r}"
    assert not _CJK.search(text.en), f"{where}: Chinese in the English {text.en!r}"


def test_every_step_and_exercise_has_both_languages():
    for step in STEPS:
        for name in ("title", "text", "link_label"):
            _bilingual(getattr(step, name), f"{step.key}.{name}")
        for lesson, label in step.lessons:
            _bilingual(label, f"{step.key}.lessons.{lesson}")
        for exercise in step.exercises:
            if exercise.title.en != exercise.title.zh:  # a PyTorch name (squeeze) stays as it is in both
                _bilingual(exercise.title, f"{exercise.exercise_id}.title")
            for seed in (0, 1):
                instance = exercise.instance(seed)
                _bilingual(instance.prompt, f"{exercise.exercise_id}.prompt")
                _bilingual(instance.hint, f"{exercise.exercise_id}.hint")


HOSTILE = (
    "x" * 100_000,
    "[" * 5_000 + "]" * 5_000,
    "[" * 40 + "1" + "]" * 40,
    "__import__('os').system('echo owned')",
    "().__class__.__bases__[0].__subclasses__()",
    "١٢, ٣",
    "２, ３",
    "\x00\x01\x02",
    "9" * 250,
    "lambda: 1",
    "x.pow(10 ** 10 ** 10).sum()",
    "𝑥.sum()",
    "[[1, 2], [3]]",
    "",
    "   ",
)


@pytest.mark.parametrize("answer", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_answers_get_a_sentence(answer, capfd):
    for exercise in TYPED:
        instance = exercise.instance(0)
        verdict = check(instance, answer)
        assert not verdict.correct, (exercise.exercise_id, answer[:40])
        assert isinstance(verdict.message.en, str) and 0 < len(verdict.message.en) < 600
    assert "owned" not in capfd.readouterr().out


def test_an_answer_over_the_limit_is_refused_before_it_is_read():
    instance = EXERCISES["squeeze"].instance(0)
    verdict = check(instance, " " * limits.MAX_COURSE_ANSWER_CHARS + "2, 3")
    assert not verdict.readable and str(limits.MAX_COURSE_ANSWER_CHARS) in verdict.message.en
    assert check(instance, None).readable is False  # type: ignore[arg-type]


def test_each_step_links_a_page_that_exists_and_the_builder_opens_set_up():
    from pathlib import Path

    from playground.runs import url_state

    root = Path(__file__).resolve().parents[3]
    for step in STEPS:
        assert (root / step.page).is_file(), step.page
        if step.query:
            state = url_state.decode(step.query_params)
            assert state.notes == (), (step.key, state.notes)
            assert state.config.data.dataset == step.query_params["dataset"]
    run = EXERCISES["accuracy-run"].instance(0)
    assert url_state.decode(run.point).config.data.dataset == "xor"
    linked = [name for step in STEPS for name, _ in step.lessons]
    assert sorted(linked) == sorted(lessons.LESSONS)  # every lesson is reached from the course, once
    for name in linked:  # each opens its lesson without a note
        assert url_state.decode({"lesson": name}).lesson == name


def test_an_unreadable_answer_is_said_in_both_languages():
    verdict = check(EXERCISES["squeeze"].instance(0), "two, three")
    assert not verdict.readable
    assert "whole numbers" in verdict.message.en
    assert verdict.message.zh.startswith("无法读取这个答案") and "whole numbers" in verdict.message.zh
