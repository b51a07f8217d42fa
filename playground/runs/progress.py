"""A visitor's progress through the course, kept in the run store's database beside their runs.

Its own table (``course_progress``: one row an owner and exercise) in the same SQLite file or PostgreSQL database
as the runs, written through the store's own connections and transactions, so it survives restarts and is shared by
every app server exactly as runs are. The owner is the runs' owner (``owners.py``); only the course's exercise ids
are kept, so an owner's rows are bounded by the course's size. The teacher's view reads counts, never owners.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

from playground.errors import PlaygroundError, library_message
from playground.runs import owners
from playground.runs.store import SqlRunStore

MAX_TRIES_KEPT = 1_000_000  # a counter, not a log: it stops here

_SCHEMA = """
CREATE TABLE IF NOT EXISTS course_progress (
    owner TEXT NOT NULL,
    exercise_id TEXT NOT NULL,
    tries INTEGER NOT NULL,
    passed INTEGER NOT NULL,
    answer_shown INTEGER NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (owner, exercise_id)
)
"""


@dataclass(frozen=True)
class Entry:
    """One exercise of one visitor: wrong tries so far, whether it is passed, whether the worked answer was shown."""

    exercise_id: str
    tries: int = 0
    passed: bool = False
    answer_shown: bool = False

    @property
    def passed_alone(self) -> bool:
        """Passed before the worked answer was shown: what the summary scores."""
        return self.passed and not self.answer_shown


class CourseProgress:
    """Progress of every visitor, in ``store``'s database. ``exercise_ids``: the course's exercises (nothing else is
    kept). ``writable`` False (and ``reason``) when the store cannot keep it: the page then keeps it for the visit."""

    def __init__(self, store: SqlRunStore, exercise_ids: Collection[str]) -> None:
        self.store = store
        self.exercise_ids = frozenset(exercise_ids)
        self.writable = bool(getattr(store, "writable", False))
        self.reason = getattr(store, "reason", "")
        if self.writable:
            try:
                with store._transaction() as db:
                    db.execute(_SCHEMA)
            except store.db_errors as exc:
                self.writable = False
                self.reason = f"Course progress cannot be kept ({library_message(exc, 200)})."

    def _check(self, owner: str, exercise_id: str | None = None) -> None:
        owners.check_owner(owner)
        if exercise_id is not None and exercise_id not in self.exercise_ids:
            raise PlaygroundError("That is not an exercise of the course.")

    def _select(self, sql: str, params: tuple) -> list:
        if not self.writable:
            return []
        try:
            with self.store._read() as db:
                if db is None:
                    return []
                return list(db.execute(self.store._sql(sql), params).fetchall())
        except self.store.db_errors as exc:
            raise PlaygroundError("Course progress cannot be read.", library_message(exc, 300)) from exc

    def entries(self, owner: str) -> dict[str, Entry]:
        """The owner's entries by exercise id (exercises not tried yet are absent)."""
        self._check(owner)
        rows = self._select("SELECT exercise_id, tries, passed, answer_shown FROM course_progress WHERE owner = ?",
                            (owner,))
        return {row["exercise_id"]: Entry(row["exercise_id"], int(row["tries"]), bool(row["passed"]),
                                          bool(row["answer_shown"]))
                for row in rows if row["exercise_id"] in self.exercise_ids}

    def record(self, owner: str, exercise_id: str, correct: bool | None = None, answer_shown: bool = False) -> Entry:
        """Count one answer (``correct`` True or False) or only mark the worked answer shown (``correct`` None).
        A passed exercise stays passed; the new entry is returned."""
        self._check(owner, exercise_id)
        if not self.writable:
            raise PlaygroundError(self.reason or "Course progress cannot be kept.")
        try:
            with self.store._transaction() as db:
                sql = self.store._sql
                row = db.execute(sql("SELECT tries, passed, answer_shown FROM course_progress "
                                     "WHERE owner = ? AND exercise_id = ?"), (owner, exercise_id)).fetchone()
                old = Entry(exercise_id) if row is None else Entry(exercise_id, int(row["tries"]), bool(row["passed"]),
                                                                    bool(row["answer_shown"]))
                new = Entry(
                    exercise_id,
                    tries=min(old.tries + (1 if correct is False and not old.passed else 0), MAX_TRIES_KEPT),
                    passed=old.passed or correct is True,
                    answer_shown=old.answer_shown or (answer_shown and not old.passed),
                )
                db.execute(sql("DELETE FROM course_progress WHERE owner = ? AND exercise_id = ?"), (owner, exercise_id))
                db.execute(sql("INSERT INTO course_progress (owner, exercise_id, tries, passed, answer_shown, updated_at)"
                               " VALUES (?, ?, ?, ?, ?, ?)"),
                           (owner, exercise_id, new.tries, int(new.passed), int(new.answer_shown), time.time()))
        except self.store.db_errors as exc:
            raise PlaygroundError("Course progress cannot be saved.", library_message(exc, 300)) from exc
        return new

    def reset(self, owner: str) -> None:
        """Forget the owner's progress (their runs stay)."""
        self._check(owner)
        if not self.writable:
            return
        try:
            with self.store._transaction() as db:
                db.execute(self.store._sql("DELETE FROM course_progress WHERE owner = ?"), (owner,))
        except self.store.db_errors as exc:
            raise PlaygroundError("Course progress cannot be reset.", library_message(exc, 300)) from exc

    def passed_counts(self) -> dict[str, int]:
        """The teacher's view: how many visitors passed each exercise (counts only, no owners)."""
        rows = self._select("SELECT exercise_id, COUNT(*) AS n FROM course_progress WHERE passed = 1 "
                            "GROUP BY exercise_id", ())
        counts = {exercise_id: 0 for exercise_id in self.exercise_ids}
        for row in rows:
            if row["exercise_id"] in counts:
                counts[row["exercise_id"]] = int(row["n"])
        return counts

    def visitors(self) -> int:
        """How many visitors have answered at least one exercise."""
        rows = self._select("SELECT COUNT(DISTINCT owner) AS n FROM course_progress", ())
        return int(rows[0]["n"]) if rows else 0


class SessionProgress(CourseProgress):
    """The same bookkeeping for one visit only, where the store cannot keep it (a read-only data folder)."""

    def __init__(self, exercise_ids: Collection[str], reason: str = "") -> None:
        self.exercise_ids = frozenset(exercise_ids)
        self.writable = False
        self.reason = reason
        self._entries: dict[tuple[str, str], Entry] = {}

    def entries(self, owner: str) -> dict[str, Entry]:
        self._check(owner)
        return {eid: entry for (who, eid), entry in self._entries.items() if who == owner}

    def record(self, owner: str, exercise_id: str, correct: bool | None = None, answer_shown: bool = False) -> Entry:
        self._check(owner, exercise_id)
        old = self._entries.get((owner, exercise_id), Entry(exercise_id))
        new = Entry(exercise_id, min(old.tries + (1 if correct is False and not old.passed else 0), MAX_TRIES_KEPT),
                    old.passed or correct is True, old.answer_shown or (answer_shown and not old.passed))
        self._entries[(owner, exercise_id)] = new
        return new

    def reset(self, owner: str) -> None:
        self._check(owner)
        self._entries = {key: entry for key, entry in self._entries.items() if key[0] != owner}

    def passed_counts(self) -> dict[str, int]:
        counts = {exercise_id: 0 for exercise_id in self.exercise_ids}
        for (_, eid), entry in self._entries.items():
            counts[eid] += int(entry.passed)
        return counts

    def visitors(self) -> int:
        return len({owner for owner, _ in self._entries})


_OPEN: dict[int, tuple[object, CourseProgress]] = {}


def progress_for(store: SqlRunStore, exercise_ids: Collection[str]) -> CourseProgress:
    """One CourseProgress per store object (its table is made once), kept while the store is."""
    kept = _OPEN.get(id(store))
    if kept is not None and kept[0] is store and kept[1].exercise_ids == frozenset(exercise_ids):
        return kept[1]
    progress = CourseProgress(store, exercise_ids)
    if len(_OPEN) > 16:
        _OPEN.clear()
    _OPEN[id(store)] = (store, progress)
    return progress
