"""The summary a learner downloads: what they did and scored, step by step, as Markdown."""

from __future__ import annotations

import time
from collections.abc import Mapping

from playground.course.catalog import EXERCISES, STEPS
from playground.runs.progress import Entry

_WORDS = {
    "en": {"title": "PyTorch Playground: course summary", "date": "Date", "score": "Score",
           "alone": "passed without the worked answer", "with": "passed after the worked answer",
           "open": "not passed yet", "tries": "wrong tries", "of": "of"},
    "zh": {"title": "PyTorch Playground:课程小结", "date": "日期", "score": "得分",
           "alone": "独立通过", "with": "看过解答后通过", "open": "尚未通过", "tries": "错误次数", "of": "/"},
}


def score(entries: Mapping[str, Entry]) -> tuple[int, int, int]:
    """(passed without the worked answer, passed in all, exercises in the course)."""
    alone = sum(1 for e in entries.values() if e.exercise_id in EXERCISES and e.passed_alone)
    passed = sum(1 for e in entries.values() if e.exercise_id in EXERCISES and e.passed)
    return alone, passed, len(EXERCISES)


def summary_markdown(entries: Mapping[str, Entry], lang: str = "en", now: float | None = None) -> str:
    words = _WORDS["zh" if lang == "zh" else "en"]
    alone, passed, total = score(entries)
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() if now is None else now))
    lines = [f"# {words['title']}", "", f"{words['date']}: {day}", "",
             f"**{words['score']}: {alone} {words['of']} {total}** ({words['alone']}); "
             f"{passed} {words['of']} {total} ({words['alone']} + {words['with']})", ""]
    for number, step in enumerate(STEPS, 1):
        lines.append(f"## {number}. {step.title(lang)}")
        for exercise in step.exercises:
            entry = entries.get(exercise.exercise_id, Entry(exercise.exercise_id))
            state = words["alone"] if entry.passed_alone else words["with"] if entry.passed else words["open"]
            mark = "x" if entry.passed else " "
            lines.append(f"- [{mark}] {exercise.title(lang)}: {state} ({words['tries']}: {entry.tries})")
        lines.append("")
    return "\n".join(lines)
