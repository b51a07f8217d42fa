"""Course progress in the run store's database: per owner, kept across a restart (a new store object over the same
file or database), reset, and the teacher's counts; SQLite and PostgreSQL alike (tests/runs_stores.py)."""

from __future__ import annotations

import pytest

from playground.course.catalog import EXERCISES
from playground.course.summary import score, summary_markdown
from playground.errors import PlaygroundError
from playground.runs.progress import CourseProgress, Entry, SessionProgress
from tests import runs_stores

ALICE = "anon:" + "a" * 32
BOB = "anon:" + "b" * 32


def test_progress_survives_a_restart(new_store):
    store = new_store()
    progress = CourseProgress(store, EXERCISES)
    assert progress.writable
    progress.record(ALICE, "squeeze", False)
    progress.record(ALICE, "squeeze", True)
    progress.record(ALICE, "cat", False)
    progress.record(BOB, "squeeze", True)

    restarted = CourseProgress(runs_stores.reopen(store), EXERCISES)
    assert restarted.entries(ALICE) == {
        "squeeze": Entry("squeeze", tries=1, passed=True),
        "cat": Entry("cat", tries=1, passed=False),
    }
    assert restarted.entries(BOB) == {"squeeze": Entry("squeeze", tries=0, passed=True)}


def test_a_passed_exercise_stays_passed_and_the_worked_answer_is_remembered(new_store):
    progress = CourseProgress(new_store(), EXERCISES)
    for _ in range(3):
        progress.record(ALICE, "pow", False)
    shown = progress.record(ALICE, "pow", None, answer_shown=True)
    assert shown == Entry("pow", tries=3, passed=False, answer_shown=True)
    passed = progress.record(ALICE, "pow", True)
    assert passed.passed and not passed.passed_alone
    assert progress.record(ALICE, "pow", False) == passed  # wrong after passing changes nothing
    progress.record(ALICE, "sum", True)
    assert score(progress.entries(ALICE)) == (1, 2, len(EXERCISES))


def test_reset_forgets_only_that_owner(new_store):
    store = new_store()
    progress = CourseProgress(store, EXERCISES)
    progress.record(ALICE, "squeeze", True)
    progress.record(BOB, "squeeze", True)
    progress.reset(ALICE)
    again = CourseProgress(runs_stores.reopen(store), EXERCISES)
    assert again.entries(ALICE) == {}
    assert again.entries(BOB)["squeeze"].passed


def test_the_teachers_view_counts_without_names(new_store):
    progress = CourseProgress(new_store(), EXERCISES)
    progress.record(ALICE, "squeeze", True)
    progress.record(BOB, "squeeze", True)
    progress.record(BOB, "cat", False)
    counts = progress.passed_counts()
    assert counts["squeeze"] == 2 and counts["cat"] == 0
    assert set(counts) == set(EXERCISES)
    assert progress.visitors() == 2
    assert not any(ALICE in str(key) or BOB in str(key) for key in counts)


def test_unknown_exercises_and_owners_are_refused(new_store):
    progress = CourseProgress(new_store(), EXERCISES)
    with pytest.raises(PlaygroundError):
        progress.record(ALICE, "'; DROP TABLE runs; --", True)
    with pytest.raises(PlaygroundError):
        progress.record("someone", "squeeze", True)
    with pytest.raises(PlaygroundError):
        progress.entries("x" * 1000)


def test_the_run_store_still_works_beside_the_progress_table(new_store):
    from tests.sample_runs import make_trained

    store = new_store()
    CourseProgress(store, EXERCISES).record(ALICE, "squeeze", True)
    run_id = store.save(make_trained(), owner=ALICE)
    assert [s.run_id for s in runs_stores.reopen(store).list(ALICE)] == [run_id]


def test_a_read_only_store_keeps_progress_for_the_visit(tmp_path):
    progress = SessionProgress(EXERCISES, "the folder is read-only")
    progress.record(ALICE, "squeeze", False)
    progress.record(ALICE, "squeeze", True)
    assert progress.entries(ALICE) == {"squeeze": Entry("squeeze", 1, True)}
    assert progress.passed_counts()["squeeze"] == 1
    progress.reset(ALICE)
    assert progress.entries(ALICE) == {}


def test_the_summary_says_what_was_done_and_scored():
    entries = {"squeeze": Entry("squeeze", 1, True), "cat": Entry("cat", 3, True, answer_shown=True),
               "pow": Entry("pow", 2, False)}
    text = summary_markdown(entries, "en", now=0)
    assert text.startswith("# PyTorch Playground: course summary")
    assert f"**Score: 1 of {len(EXERCISES)}**" in text
    assert "- [x] squeeze: passed without the worked answer (wrong tries: 1)" in text
    assert "- [x] torch.cat: passed after the worked answer (wrong tries: 3)" in text
    assert "- [ ] pow: not passed yet (wrong tries: 2)" in text
    assert "## 16. Reproducibility" in text
    chinese = summary_markdown(entries, "zh", now=0)
    assert "课程小结" in chinese and "独立通过" in chinese
