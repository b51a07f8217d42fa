"""Finished runs kept across reloads and restarts, behind one small interface.

``RunStore`` is the interface the pages use. Two stores implement it with the same SQL:

- ``SqliteRunStore``, the embedded default: a SQLite index (one row a run: owner, name, config, metrics,
  timings, device) and one ``.safetensors`` weight file a run, in the folder ``PLAYGROUND_DATA_DIR`` names
  (default ``~/.pytorch-playground``). A run is written in two steps, each atomic: the weight file goes to
  a temporary name, is fsynced and renamed into place; only then is the index row committed in one
  transaction. A crash between the steps leaves an unlisted file (swept later), never a listed run
  without weights.
- ``PostgresRunStore`` (``store_postgres.py``), chosen by ``PLAYGROUND_STORE_URL``: the rows and the
  weights in one PostgreSQL database, in one transaction, so that several app servers share the runs.

Every run has an owner (``owners.py``): a visitor lists, renames, pins and deletes only their own. A run
id is a capability: whoever has it (a share link) may read that run, never change it. The store is
bounded (``StoreBounds``): past a bound the owner's (or the store's) oldest unpinned runs are evicted in
the same transaction as the save, with a note for their owner; in shared mode saves are rate-limited.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import sqlite3
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground import limits
from playground.builder.config import RunConfig
from playground.builder.model import TrainedModel
from playground.errors import PlaygroundError, library_message
from playground.runs import export, naming, owners, weights_import
from playground.runs.owners import PERSONAL_OWNER

DATA_DIR_ENV = "PLAYGROUND_DATA_DIR"
STORE_URL_ENV = "PLAYGROUND_STORE_URL"
DEFAULT_DATA_DIR = Path.home() / ".pytorch-playground"
RUN_ID_PATTERN = re.compile(r"^[0-9a-f]{12}$")
KEPT_STATUSES = ("finished", "stopped")
ORPHAN_AGE_S = 3600.0  # an unlisted weight file older than this is a crash's leftover, and is removed

# Columns a page of the Runs table needs (no history, no weights).
SUMMARY_COLUMNS = (
    "run_id, owner, name, default_name, pinned, size_bytes, task, config_json, created_at, status, device, "
    "duration_s, best_val_loss, epochs_run, test_metrics_json, origin"
)
# What the Runs page may sort by, and the column (never user text) each one is.
SORT_COLUMNS = {
    "date": "created_at",
    "name": "lower(coalesce(name, default_name))",
    "epochs": "epochs_run",
    "best val loss": "best_val_loss",
    "test accuracy": "test_accuracy",
    "test MSE": "test_mse",
    "test MAE": "test_mae",
    "learning rate": "lr",
    "duration": "duration_s",
}


@dataclass(frozen=True)
class StoreBounds:
    """How much a store keeps: in all and per owner, in runs and weight bytes; saves per owner per window."""

    max_runs: int
    max_bytes: int
    owner_max_runs: int
    owner_max_bytes: int
    owner_saves: int | None = None  # None: no rate limit
    window_s: float = limits.SHARED_SAVE_WINDOW_S

    @classmethod
    def personal(cls) -> StoreBounds:
        """One user: the store's bounds are theirs, and nobody is rate-limited."""
        return cls(limits.STORE_MAX_RUNS, limits.STORE_MAX_BYTES, limits.STORE_MAX_RUNS, limits.STORE_MAX_BYTES)

    @classmethod
    def shared(cls) -> StoreBounds:
        return cls(
            limits.SHARED_STORE_MAX_RUNS, limits.SHARED_STORE_MAX_BYTES, limits.SHARED_OWNER_MAX_RUNS,
            limits.SHARED_OWNER_MAX_BYTES, limits.SHARED_OWNER_SAVES, limits.SHARED_SAVE_WINDOW_S,
        )

    @classmethod
    def for_mode(cls, mode: str) -> StoreBounds:
        return cls.shared() if mode == owners.SHARED else cls.personal()


@dataclass(frozen=True)
class RunSummary:
    """One row of the Runs page: what a run was and how it went, without its weights."""

    run_id: str
    config: RunConfig
    created_at: float
    status: str
    device: str
    duration_s: float
    best_val_loss: float | None
    epochs_run: int
    test_metrics: dict[str, Any]
    owner: str = PERSONAL_OWNER
    name: str | None = None  # typed by the owner; None: the default name
    default_name: str = ""
    pinned: bool = False
    size_bytes: int = 0
    task: str = "classification"
    origin: str = ""  # where it was trained ("sweep: learning rate 10"); "": the Model Builder, or kept before origins

    @property
    def label(self) -> str:
        """The name the page shows: the owner's, or dataset · architecture · optimizer and lr."""
        return self.name or self.default_name or naming.default_name(self.config)


@dataclass(frozen=True)
class RunQuery:
    """One page of an owner's runs: filters, a sort column (a key of ``SORT_COLUMNS``) and the page."""

    task: str | None = None
    datasets: tuple[str, ...] = ()
    optimizers: tuple[str, ...] = ()
    text: str = ""
    sort_by: str = "date"
    descending: bool = True
    offset: int = 0
    limit: int = limits.RUNS_PAGE_SIZE


@dataclass(frozen=True)
class Usage:
    runs: int
    bytes: int


@dataclass(frozen=True)
class EvictionNote:
    """A run removed to make room, for its owner to read on the Runs page."""

    run_id: str
    label: str
    reason: str
    at: float


class RunStore(ABC):
    """Where finished runs are kept. ``writable`` is False (with ``reason``) when runs cannot be kept."""

    writable: bool = True
    reason: str = ""
    bounds: StoreBounds = StoreBounds.personal()

    @abstractmethod
    def save(self, trained: TrainedModel, owner: str = PERSONAL_OWNER, origin: str = "") -> str:
        """Keep a finished or stopped run for ``owner``, evicting their oldest unpinned runs past a bound;
        return its id. ``origin``: where it was trained (``naming.sweep_origin``), "" for the Model Builder."""

    @abstractmethod
    def get(self, run_id: str) -> TrainedModel:
        """The kept run with its weights (anyone with the id may read it); PlaygroundError when there is none."""

    @abstractmethod
    def summary(self, run_id: str) -> RunSummary:
        """One run's row without its weights (anyone with the id may read it)."""

    @abstractmethod
    def history(self, run_id: str) -> tuple[dict[str, float], ...]:
        """A run's per-epoch metrics, without loading its weights."""

    @abstractmethod
    def find(self, config_key: str, owner: str = PERSONAL_OWNER) -> str | None:
        """The owner's newest finished run of this configuration (``RunConfig.key()``), if any."""

    @abstractmethod
    def list(self, owner: str = PERSONAL_OWNER, query: RunQuery | None = None) -> list[RunSummary]:
        """The owner's runs: one page of ``query``, or all of them newest first when there is no query."""

    @abstractmethod
    def count(self, owner: str = PERSONAL_OWNER, query: RunQuery | None = None) -> int:
        """How many of the owner's runs match ``query`` (all of them without one)."""

    @abstractmethod
    def facets(self, owner: str = PERSONAL_OWNER) -> list[tuple[str, str, str, int]]:
        """(task, dataset, optimizer, runs) over the owner's runs: what the page's filters offer."""

    @abstractmethod
    def usage(self, owner: str | None = PERSONAL_OWNER) -> Usage:
        """Runs and weight bytes the owner keeps (the whole store with ``None``)."""

    @abstractmethod
    def delete(self, run_id: str, owner: str = PERSONAL_OWNER) -> bool:
        """Remove one of the owner's runs; False when the owner has none with that id."""

    @abstractmethod
    def set_pinned(self, run_id: str, owner: str, pinned: bool) -> bool:
        """Pin (never evicted) or unpin one of the owner's runs; False when the owner has none with that id."""

    @abstractmethod
    def rename(self, run_id: str, owner: str, name: str) -> bool:
        """Give one of the owner's runs a name ("" for the default); False when the owner has none with that id."""

    @abstractmethod
    def evictions(self, owner: str = PERSONAL_OWNER) -> list[EvictionNote]:
        """The owner's runs removed to make room, newest first (at most ``MAX_EVICTION_NOTES``)."""

    @abstractmethod
    def dismiss_evictions(self, owner: str = PERSONAL_OWNER) -> None:
        """Forget the owner's eviction notes (they have read them)."""


def data_dir_from_env() -> Path:
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else DEFAULT_DATA_DIR


def check_run_id(run_id: object) -> str:
    """A run id is 12 lowercase hex digits; anything else (a path, a quote, a huge string) is refused."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        shown = f"'{run_id}'" if isinstance(run_id, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,20}", run_id) else "That"
        raise PlaygroundError(
            f"{shown} is not a run id: a run id is 12 letters and digits (0-9, a-f), as the Runs page shows."
        )
    return run_id


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


class SqlRunStore(RunStore):
    """The store's logic in SQL that SQLite and PostgreSQL both speak (``?`` placeholders, translated by
    ``_sql``). A subclass supplies connections, transactions and where the weight bytes live."""

    db_errors: tuple[type[BaseException], ...] = ()
    unreachable = "The run store cannot be read"

    # -- what a subclass supplies

    @abstractmethod
    def _transaction(self) -> Any:
        """A context manager: one atomic change, serialised against other writers; yields a connection."""

    @abstractmethod
    def _read(self) -> Any:
        """A context manager yielding a connection for reading, or None when there is nothing to read."""

    def _sql(self, text: str) -> str:
        return text

    @abstractmethod
    def _contains(self, expression: str) -> str:
        """SQL that is true when the text parameter occurs in ``expression``."""

    @abstractmethod
    def _stage_weights(self, run_id: str, data: bytes) -> str:
        """Put the weight bytes where they go before the row is written; return the row's ``weights_file``."""

    def _unstage_weights(self, weights_file: str) -> None:
        """Undo ``_stage_weights`` when the row was not written."""

    def _weights_in_transaction(self, db: Any, run_id: str, data: bytes) -> None:
        """Write the weight bytes in the row's transaction (a store that keeps them in the database)."""

    @abstractmethod
    def _load_weights(self, row: Any) -> bytes:
        """The weight bytes of a run's row."""

    def _discard_weights(self, weights_files: Sequence[str]) -> None:
        """Remove the weight bytes of rows deleted in a committed transaction."""

    # -- writing

    def save(self, trained: TrainedModel, owner: str = PERSONAL_OWNER, origin: str = "") -> str:
        owner = owners.check_owner(owner)
        if not self.writable:
            raise PlaygroundError(self.reason)
        if trained.status not in KEPT_STATUSES:
            raise PlaygroundError(f"Only finished or stopped runs are kept; this one is {trained.status}.")
        data = export.to_safetensors_bytes(trained)
        self._check_size(len(data))
        run_id = secrets.token_hex(6)
        weights_file = self._stage_weights(run_id, data)
        row = _row_of(run_id, owner, trained, weights_file, hashlib.sha256(data).hexdigest(), len(data))
        row["origin"] = str(origin)[: limits.MAX_RUN_NAME_CHARS] or None
        try:
            with self._transaction() as db:
                now = time.time()
                self._check_rate(db, owner, now)
                evicted = self._make_room(db, owner, len(data))
                db.execute(
                    self._sql(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"),
                    tuple(row.values()),
                )
                self._weights_in_transaction(db, run_id, data)
                if self.bounds.owner_saves is not None:
                    db.execute(self._sql("INSERT INTO save_log (owner, at) VALUES (?, ?)"), (owner, now))
                for victim, reason in evicted:
                    self._evict(db, victim, reason, now)
        except PlaygroundError:
            self._unstage_weights(weights_file)
            raise
        except self.db_errors as exc:
            self._unstage_weights(weights_file)
            raise PlaygroundError("The run could not be kept: the run index could not be written.",
                                  library_message(exc, 300)) from exc
        self._discard_weights([victim["weights_file"] for victim, _ in evicted])
        return run_id

    def _check_size(self, size: int) -> None:
        largest = min(self.bounds.owner_max_bytes, self.bounds.max_bytes)
        if size > largest:
            raise PlaygroundError(
                f"This run's weights take {_megabytes(size)}, more than the {_megabytes(largest)} a store keeps "
                "for one owner, so it was not kept. Download its weights instead."
            )

    def _check_rate(self, db: Any, owner: str, now: float) -> None:
        bounds = self.bounds
        if bounds.owner_saves is None:
            return
        since = now - bounds.window_s
        db.execute(self._sql("DELETE FROM save_log WHERE at < ?"), (since,))
        done = db.execute(self._sql("SELECT COUNT(*) AS n FROM save_log WHERE owner = ? AND at >= ?"),
                          (owner, since)).fetchone()["n"]
        if done >= bounds.owner_saves:
            raise PlaygroundError(
                f"You kept {done} runs in the last {bounds.window_s:g} seconds, the most one visitor may keep "
                "on this shared server, so this run was not kept yet. It stays on screen and downloadable; "
                "it is kept on the next try once a minute has passed."
            )

    def _make_room(self, db: Any, owner: str, size: int) -> list[tuple[Any, str]]:
        """The rows to evict so that one more run of ``size`` bytes fits, the owner's oldest unpinned first: the
        owner's own bound first, then the whole store's. Only the saver's own runs are ever evicted (a full store
        never takes another visitor's run): PlaygroundError when the saver's unpinned runs leave no room."""
        bounds = self.bounds
        chosen: list[tuple[Any, str]] = []
        taken: set[str] = set()
        for scope in ("owner", "store"):
            max_runs, max_bytes = (
                (bounds.owner_max_runs, bounds.owner_max_bytes) if scope == "owner" else (bounds.max_runs, bounds.max_bytes)
            )
            where, params = ("WHERE owner = ?", (owner,)) if scope == "owner" else ("", ())
            found = db.execute(self._sql(f"SELECT COUNT(*) AS n, COALESCE(SUM(size_bytes), 0) AS b FROM runs {where}"),
                               params).fetchone()
            runs = int(found["n"]) - sum(1 for victim, _ in chosen if scope == "store" or victim["owner"] == owner)
            used = int(found["b"]) - sum(int(victim["size_bytes"]) for victim, _ in chosen
                                         if scope == "store" or victim["owner"] == owner)
            if runs + 1 <= max_runs and used + size <= max_bytes:
                continue
            candidates = db.execute(
                self._sql("SELECT run_id, owner, size_bytes, name, default_name, weights_file FROM runs "
                          "WHERE owner = ? AND pinned = 0 ORDER BY created_at, run_id"),
                (owner,),
            ).fetchall()
            for victim in candidates:
                if runs + 1 <= max_runs and used + size <= max_bytes:
                    break
                if victim["run_id"] in taken:
                    continue
                chosen.append((victim, self._eviction_reason(scope, max_runs, max_bytes)))
                taken.add(victim["run_id"])
                runs -= 1
                used -= int(victim["size_bytes"])
            if runs + 1 > max_runs or used + size > max_bytes:
                if scope == "owner":
                    raise PlaygroundError(
                        f"This run was not kept: your kept runs are at their bound ({max_runs} runs, "
                        f"{_megabytes(max_bytes)}) and the rest are pinned. Unpin or delete a run on the Runs page."
                    )
                raise PlaygroundError(
                    f"This run was not kept: the server's store is full ({max_runs} runs, {_megabytes(max_bytes)} in "
                    "all), and no unpinned run of yours is left to make room (other visitors' runs are never removed "
                    "for yours). Delete or unpin one of your runs on the Runs page, or tell the administrator."
                )
        return chosen

    def _eviction_reason(self, scope: str, max_runs: int, max_bytes: int) -> str:
        if scope == "owner":
            return (f"removed to make room: each owner keeps at most {max_runs} runs and "
                    f"{_megabytes(max_bytes)} of weights, and this was your oldest unpinned run")
        return (f"removed to make room: the server keeps at most {max_runs} runs and {_megabytes(max_bytes)} "
                "of weights in all, and this was your oldest unpinned run")

    def _evict(self, db: Any, victim: Any, reason: str, now: float) -> None:
        label = victim["name"] or victim["default_name"] or victim["run_id"]
        db.execute(self._sql("DELETE FROM runs WHERE run_id = ?"), (victim["run_id"],))
        db.execute(self._sql("INSERT INTO evictions (owner, run_id, label, reason, at) VALUES (?, ?, ?, ?, ?)"),
                   (victim["owner"], victim["run_id"], label, reason, now))
        db.execute(
            self._sql("DELETE FROM evictions WHERE owner = ? AND note_id NOT IN "
                      "(SELECT note_id FROM evictions WHERE owner = ? ORDER BY note_id DESC LIMIT ?)"),
            (victim["owner"], victim["owner"], limits.MAX_EVICTION_NOTES),
        )

    def delete(self, run_id: str, owner: str = PERSONAL_OWNER) -> bool:
        owner = owners.check_owner(owner)
        check_run_id(run_id)
        if not self.writable:
            raise PlaygroundError(self.reason)
        with self._transaction() as db:
            found = db.execute(self._sql("SELECT weights_file FROM runs WHERE run_id = ? AND owner = ?"),
                               (run_id, owner)).fetchone()
            if found is None:
                return False
            db.execute(self._sql("DELETE FROM runs WHERE run_id = ? AND owner = ?"), (run_id, owner))
        # The row is gone first: a crash here leaves an unlisted file, swept later, never a listed run
        # without weights.
        self._discard_weights([found["weights_file"]])
        return True

    def set_pinned(self, run_id: str, owner: str, pinned: bool) -> bool:
        return self._update_own(run_id, owner, "pinned", 1 if pinned else 0)

    def rename(self, run_id: str, owner: str, name: str) -> bool:
        return self._update_own(run_id, owner, "name", naming.clean_name(name) or None)

    def _update_own(self, run_id: str, owner: str, column: str, value: Any) -> bool:
        owner = owners.check_owner(owner)
        check_run_id(run_id)
        if not self.writable:
            raise PlaygroundError(self.reason)
        assert column in ("pinned", "name")
        with self._transaction() as db:
            cursor = db.execute(self._sql(f"UPDATE runs SET {column} = ? WHERE run_id = ? AND owner = ?"),
                                (value, run_id, owner))
            return cursor.rowcount > 0

    def dismiss_evictions(self, owner: str = PERSONAL_OWNER) -> None:
        owner = owners.check_owner(owner)
        if not self.writable:
            return
        with self._transaction() as db:
            db.execute(self._sql("DELETE FROM evictions WHERE owner = ?"), (owner,))

    # -- reading

    def get(self, run_id: str) -> TrainedModel:
        row = self._row(check_run_id(run_id))
        data = self._load_weights(row)
        if hashlib.sha256(data).hexdigest() != row["weights_sha256"]:
            raise PlaygroundError(f"The weights file of run {run_id} is damaged (its checksum does not match).")
        config = RunConfig.from_dict(json.loads(row["config_json"]))
        loaded = weights_import.read_weights(f"{run_id}.safetensors", data, config.model)
        return TrainedModel(
            config=config,
            state_dict=loaded.state_dict,
            history=tuple(json.loads(row["history_json"])),
            test_metrics=json.loads(row["test_metrics_json"]),
            status=row["status"],
            device=row["device"],
            duration_s=float(row["duration_s"]),
            standardization=json.loads(row["standardization_json"]),
            classes=tuple(json.loads(row["classes_json"])),
            feature_names=tuple(json.loads(row["feature_names_json"])),
        )

    def summary(self, run_id: str) -> RunSummary:
        check_run_id(run_id)
        rows = self._select(f"SELECT {SUMMARY_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        summaries = self._summaries(rows)
        if not summaries:
            raise PlaygroundError(f"There is no kept run with id {run_id}: it may have been deleted.")
        return summaries[0]

    def history(self, run_id: str) -> tuple[dict[str, float], ...]:
        check_run_id(run_id)
        rows = self._select("SELECT history_json FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise PlaygroundError(f"There is no kept run with id {run_id}: it may have been deleted.")
        return tuple(json.loads(rows[0]["history_json"]))

    def find(self, config_key: str, owner: str = PERSONAL_OWNER) -> str | None:
        owner = owners.check_owner(owner)
        try:
            rows = self._select(
                "SELECT run_id FROM runs WHERE owner = ? AND config_key = ? AND status = 'finished' "
                "ORDER BY created_at DESC LIMIT 1",
                (owner, str(config_key)),
            )
        except PlaygroundError:
            return None  # advice only ("this setup already ran"): a store that cannot be read gives none
        return rows[0]["run_id"] if rows else None

    def list(self, owner: str = PERSONAL_OWNER, query: RunQuery | None = None) -> list[RunSummary]:
        owner = owners.check_owner(owner)
        if query is None:
            rows = self._select(
                f"SELECT {SUMMARY_COLUMNS} FROM runs WHERE owner = ? ORDER BY created_at DESC, run_id", (owner,)
            )
            return self._summaries(rows)
        where, params = self._where(owner, query)
        column = SORT_COLUMNS.get(query.sort_by, "created_at")
        direction = "DESC" if query.descending else "ASC"
        rows = self._select(
            f"SELECT {SUMMARY_COLUMNS} FROM runs WHERE {where} "
            f"ORDER BY {column} {direction} NULLS LAST, created_at DESC, run_id LIMIT ? OFFSET ?",
            (*params, max(1, min(int(query.limit), 500)), max(0, int(query.offset))),
        )
        return self._summaries(rows)

    def count(self, owner: str = PERSONAL_OWNER, query: RunQuery | None = None) -> int:
        owner = owners.check_owner(owner)
        where, params = self._where(owner, query or RunQuery())
        rows = self._select(f"SELECT COUNT(*) AS n FROM runs WHERE {where}", params)
        return int(rows[0]["n"]) if rows else 0

    def facets(self, owner: str = PERSONAL_OWNER) -> list[tuple[str, str, str, int]]:
        owner = owners.check_owner(owner)
        rows = self._select(
            "SELECT task, dataset, optimizer, COUNT(*) AS n FROM runs WHERE owner = ? "
            "GROUP BY task, dataset, optimizer ORDER BY task, dataset, optimizer",
            (owner,),
        )
        return [(row["task"], row["dataset"], row["optimizer"], int(row["n"])) for row in rows]

    def usage(self, owner: str | None = PERSONAL_OWNER) -> Usage:
        if owner is None:
            rows = self._select("SELECT COUNT(*) AS n, COALESCE(SUM(size_bytes), 0) AS b FROM runs", ())
        else:
            rows = self._select("SELECT COUNT(*) AS n, COALESCE(SUM(size_bytes), 0) AS b FROM runs WHERE owner = ?",
                                (owners.check_owner(owner),))
        return Usage(int(rows[0]["n"]), int(rows[0]["b"])) if rows else Usage(0, 0)

    def evictions(self, owner: str = PERSONAL_OWNER) -> list[EvictionNote]:
        owner = owners.check_owner(owner)
        rows = self._select(
            "SELECT run_id, label, reason, at FROM evictions WHERE owner = ? ORDER BY note_id DESC LIMIT ?",
            (owner, limits.MAX_EVICTION_NOTES),
        )
        return [EvictionNote(row["run_id"], row["label"], row["reason"], float(row["at"])) for row in rows]

    # -- internals

    def _where(self, owner: str, query: RunQuery) -> tuple[str, tuple[Any, ...]]:
        clauses, params = ["owner = ?"], [owner]
        if query.task:
            clauses.append("task = ?")
            params.append(str(query.task))
        for column, chosen in (("dataset", query.datasets), ("optimizer", query.optimizers)):
            chosen = [str(value) for value in chosen][:100]
            if chosen:
                clauses.append(f"{column} IN ({', '.join('?' * len(chosen))})")
                params += chosen
        text = " ".join(str(query.text or "").lower().split())[:100]
        if text:
            clauses.append(self._contains("lower(coalesce(name, default_name) || ' ' || run_id)"))
            params.append(text)
        return " AND ".join(clauses), tuple(params)

    def _select(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            with self._read() as db:
                if db is None:
                    return []
                return db.execute(self._sql(sql), tuple(params)).fetchall()
        except self.db_errors as exc:
            raise PlaygroundError(f"{self.unreachable}.", library_message(exc, 300)) from exc

    def _row(self, run_id: str) -> Any:
        rows = self._select("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise PlaygroundError(f"There is no kept run with id {run_id}: it may have been deleted.")
        return rows[0]

    @staticmethod
    def _summaries(rows: Sequence[Any]) -> list[RunSummary]:
        summaries = []
        for row in rows:
            try:
                config = RunConfig.from_dict(json.loads(row["config_json"]))
            except (PlaygroundError, ValueError, TypeError):
                continue  # a row from an incompatible version: not shown rather than crashing the page
            summaries.append(
                RunSummary(
                    run_id=row["run_id"],
                    config=config,
                    created_at=float(row["created_at"]),
                    status=row["status"],
                    device=row["device"],
                    duration_s=float(row["duration_s"]),
                    best_val_loss=row["best_val_loss"],
                    epochs_run=int(row["epochs_run"]),
                    test_metrics=json.loads(row["test_metrics_json"]),
                    owner=row["owner"],
                    name=row["name"],
                    default_name=row["default_name"] or "",
                    pinned=bool(row["pinned"]),
                    size_bytes=int(row["size_bytes"] or 0),
                    task=row["task"] or config.model.task,
                    origin=row["origin"] or "",
                )
            )
        return summaries


# ------------------------------------------------------------------------------------------ SQLite

_SQLITE_TABLES = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    config_key TEXT NOT NULL,
    created_at REAL NOT NULL,
    status TEXT NOT NULL,
    device TEXT NOT NULL,
    duration_s REAL NOT NULL,
    config_json TEXT NOT NULL,
    history_json TEXT NOT NULL,
    test_metrics_json TEXT NOT NULL,
    standardization_json TEXT NOT NULL,
    classes_json TEXT NOT NULL,
    feature_names_json TEXT NOT NULL,
    best_val_loss REAL,
    epochs_run INTEGER NOT NULL,
    weights_file TEXT NOT NULL,
    weights_sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS save_log (owner TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS evictions (
    note_id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    run_id TEXT NOT NULL,
    label TEXT NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL
);
"""
# Columns added since the first version; an older index gains them (and its rows are filled in) on open.
_SQLITE_ADDED_COLUMNS = {
    "owner": f"TEXT NOT NULL DEFAULT '{PERSONAL_OWNER}'",
    "name": "TEXT",
    "default_name": "TEXT",
    "pinned": "INTEGER NOT NULL DEFAULT 0",
    "size_bytes": "INTEGER NOT NULL DEFAULT 0",
    "task": "TEXT",
    "dataset": "TEXT",
    "optimizer": "TEXT",
    "lr": "REAL",
    "test_accuracy": "REAL",
    "test_mse": "REAL",
    "test_mae": "REAL",
    "origin": "TEXT",
}
_SQLITE_INDEXES = """
CREATE INDEX IF NOT EXISTS runs_by_owner ON runs (owner, created_at);
CREATE INDEX IF NOT EXISTS runs_by_owner_key ON runs (owner, config_key, status);
CREATE INDEX IF NOT EXISTS runs_by_age ON runs (pinned, created_at);
CREATE INDEX IF NOT EXISTS save_log_by_owner ON save_log (owner, at);
CREATE INDEX IF NOT EXISTS evictions_by_owner ON evictions (owner, note_id);
"""


class SqliteRunStore(SqlRunStore):
    """The embedded default: ``runs.sqlite3`` plus ``weights/<run_id>.safetensors`` in ``data_dir``.

    Every operation opens its own connection with a busy timeout, so threads and processes may write at
    the same time; ``BEGIN IMMEDIATE`` serialises writers, so bounds are checked and kept atomically.
    """

    db_errors = (sqlite3.Error,)

    def __init__(self, data_dir: str | os.PathLike[str], timeout_s: float = 30.0,
                 bounds: StoreBounds | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / "runs.sqlite3"
        self.weights_dir = self.data_dir / "weights"
        self.timeout_s = timeout_s
        self.bounds = bounds or StoreBounds.personal()
        self.writable = True
        self.reason = ""
        self.unreachable = f"The run index in {self.data_dir} cannot be read"
        try:
            self.weights_dir.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.weights_dir, prefix=".probe-", delete=True)  # noqa: SIM115
            probe.close()
            self._create_schema()
        except (OSError, sqlite3.Error) as exc:
            self.writable = False
            self.reason = (
                f"The data folder {self.data_dir} cannot be written ({library_message(exc, 200)}), "
                f"so runs will not be kept. Set {DATA_DIR_ENV} to a writable folder and restart to keep them."
            )
        else:
            self._sweep_leftovers()

    # -- connections

    def _connect(self, read_only: bool = False) -> sqlite3.Connection:
        if read_only:
            uri = f"{self.db_path.resolve().as_uri()}?mode=ro"
            db = sqlite3.connect(uri, uri=True, timeout=self.timeout_s, isolation_level=None)
        else:
            db = sqlite3.connect(self.db_path, timeout=self.timeout_s, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        if not read_only:
            db.execute("PRAGMA synchronous = FULL")
        db.row_factory = sqlite3.Row
        return db

    def _transaction(self) -> _transaction:
        return _transaction(self._connect())

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection | None]:
        """A connection for reading, even from a read-only folder; None when there is no index at all."""
        if not self.db_path.exists():
            yield None
            return
        db = self._connect(read_only=not self.writable)
        try:
            yield db
        finally:
            db.close()

    def _contains(self, expression: str) -> str:
        return f"instr({expression}, ?) > 0"

    def _create_schema(self) -> None:
        with _transaction(self._connect()) as db:
            for statement in _SQLITE_TABLES.split(";"):
                if statement.strip():
                    db.execute(statement)
            present = {row["name"] for row in db.execute("PRAGMA table_info(runs)")}
            for column, kind in _SQLITE_ADDED_COLUMNS.items():
                if column not in present:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
            for statement in _SQLITE_INDEXES.split(";"):
                if statement.strip():
                    db.execute(statement)
            self._fill_old_rows(db)

    def _fill_old_rows(self, db: sqlite3.Connection) -> None:
        """Rows kept by an older version: their name, filters and size, worked out once from what they hold."""
        old = db.execute("SELECT run_id, config_json, test_metrics_json, weights_file FROM runs "
                         "WHERE default_name IS NULL").fetchall()
        for row in old:
            try:
                config = RunConfig.from_dict(json.loads(row["config_json"]))
                metrics = json.loads(row["test_metrics_json"])
                size = (self.weights_dir / row["weights_file"]).stat().st_size
            except (PlaygroundError, ValueError, TypeError, OSError):
                continue
            db.execute(
                "UPDATE runs SET default_name = ?, size_bytes = ?, task = ?, dataset = ?, optimizer = ?, lr = ?, "
                "test_accuracy = ?, test_mse = ?, test_mae = ? WHERE run_id = ?",
                (naming.default_name(config), size, *_filter_values(config, metrics), row["run_id"]),
            )

    # -- weights as files

    def _stage_weights(self, run_id: str, data: bytes) -> str:
        final = self.weights_dir / f"{run_id}.safetensors"
        try:
            _write_atomically(final, data)
        except OSError as exc:
            raise PlaygroundError("The run could not be kept: its weights could not be written.",
                                  library_message(exc, 300)) from exc
        return final.name

    def _unstage_weights(self, weights_file: str) -> None:
        (self.weights_dir / weights_file).unlink(missing_ok=True)

    def _load_weights(self, row: Any) -> bytes:
        try:
            return (self.weights_dir / row["weights_file"]).read_bytes()
        except OSError as exc:
            raise PlaygroundError(f"The weights of run {row['run_id']} are missing from the data folder.",
                                  library_message(exc, 300)) from exc

    def _discard_weights(self, weights_files: Sequence[str]) -> None:
        for name in weights_files:
            (self.weights_dir / name).unlink(missing_ok=True)

    def _sweep_leftovers(self) -> None:
        """Remove temporary files and unlisted weight files that a crash left behind (old ones only)."""
        try:
            with _closing(self._connect()) as db:
                listed = {row["weights_file"] for row in db.execute("SELECT weights_file FROM runs")}
            now = time.time()
            for path in self.weights_dir.iterdir():
                if path.name in listed or now - path.stat().st_mtime < ORPHAN_AGE_S:
                    continue
                if path.name.startswith(".tmp-") or path.suffix == ".safetensors":
                    path.unlink(missing_ok=True)
        except (OSError, sqlite3.Error):
            pass  # sweeping is housekeeping; never a reason to fail


def _write_atomically(final: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync it, rename it into place, fsync the folder."""
    fd, tmp_name = tempfile.mkstemp(dir=final.parent, prefix=".tmp-", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(final.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _finite_or_none(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _filter_values(config: RunConfig, metrics: dict[str, Any]) -> tuple[Any, ...]:
    """task, dataset, optimizer, lr and the test metrics: the columns the Runs page filters and sorts by."""
    return (
        config.model.task,
        naming.dataset_label(config),
        config.train.optimizer,
        float(config.train.lr),
        _finite_or_none(metrics.get("accuracy")),
        _finite_or_none(metrics.get("mse")),
        _finite_or_none(metrics.get("mae")),
    )


def _row_of(run_id: str, owner: str, trained: TrainedModel, weights_file: str, sha256: str, size: int) -> dict[str, Any]:
    val_losses = [
        float(epoch["val_loss"])
        for epoch in trained.history
        if isinstance(epoch.get("val_loss"), (int, float)) and math.isfinite(epoch["val_loss"])
    ]
    metrics = export._jsonable(trained.test_metrics)
    task, dataset, optimizer, lr, accuracy, mse, mae = _filter_values(trained.config, metrics)
    return {
        "run_id": run_id,
        "owner": owner,
        "name": None,
        "default_name": naming.default_name(trained.config),
        "pinned": 0,
        "size_bytes": size,
        "config_key": trained.config.key(),
        "created_at": time.time(),
        "status": trained.status,
        "device": trained.device,
        "duration_s": float(trained.duration_s),
        "task": task,
        "dataset": dataset,
        "optimizer": optimizer,
        "lr": lr,
        "test_accuracy": accuracy,
        "test_mse": mse,
        "test_mae": mae,
        "config_json": json.dumps(trained.config.to_dict(), sort_keys=True),
        "history_json": json.dumps([export._jsonable(epoch) for epoch in trained.history]),
        "test_metrics_json": json.dumps(metrics),
        "standardization_json": json.dumps(trained.standardization),
        "classes_json": json.dumps(list(trained.classes)),
        "feature_names_json": json.dumps(list(trained.feature_names)),
        "best_val_loss": min(val_losses) if val_losses else None,
        "epochs_run": len(trained.history),
        "weights_file": weights_file,
        "weights_sha256": sha256,
    }


class _transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK``), then close: one atomic change to the index."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.db.close()


class _closing:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()
