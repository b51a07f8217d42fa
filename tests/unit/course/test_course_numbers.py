"""COURSE.md's example numbers all appear in their steps (read from the shared outline at test time)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from playground.course.catalog import STEPS

COURSE_MD = Path(__file__).resolve().parents[3] / ".." / "shared" / "COURSE.md"
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")  # 2.5, -1, 64; not the 32 of float32


def numbers(text: str) -> set[float]:
    return {float(n) for n in _NUMBER.findall(text)}


def course_topics() -> list[str]:
    if not COURSE_MD.exists():
        reason = f"the course outline {COURSE_MD} is not here"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; under CI=true it must be")
        pytest.skip(reason)
    text = COURSE_MD.read_text(encoding="utf-8")
    parts = re.split(r"(?m)^(\d+)\. ", text)[1:]  # "1", body, "2", body, ...
    return [body for _, body in zip(parts[::2], parts[1::2], strict=True)]


def step_text(step) -> str:
    """What a learner reads in the step at its first screen: its text, and its exercises with the course's numbers."""
    shown = [step.text.en]
    for exercise in step.exercises:
        instance = exercise.instance(0)
        shown += [instance.code, instance.prompt.en]
    return "\n".join(shown)


def test_the_steps_follow_the_course_in_its_order():
    topics = course_topics()
    assert len(topics) == len(STEPS)
    for topic, step in zip(topics, STEPS, strict=True):
        title = re.match(r"\*\*(.+?)\*\*", topic).group(1).lower()
        words = [word[:5] for word in title.split() if len(word) >= 4]
        assert any(word in step.title.en.lower() for word in words), (title, step.title.en)


def test_every_example_number_of_the_course_appears_in_its_step():
    for topic, step in zip(course_topics(), STEPS, strict=True):
        missing = numbers(topic) - numbers(step_text(step))
        assert not missing, f"step {step.key} lacks the course's numbers {sorted(missing)}"


def test_the_number_reader_sees_the_course_numbers():
    assert numbers("`pow(2)` of [1, 2, 3, 4] gives [1, 4, 9, 16]; `sum()` gives 10; `mean()` gives 2.5") == {
        2.0, 1.0, 3.0, 4.0, 9.0, 16.0, 10.0, 2.5}
    assert numbers("torch.float (float32) and int64") == set()
    assert numbers("[[2., 0.], [-2., 2.]]") == {2.0, 0.0, -2.0}
