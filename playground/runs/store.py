"""Finished runs kept across reloads and restarts, behind one small interface.

``RunStore`` is the interface the pages use. ``SqliteRunStore`` is the embedded default: a SQLite index
(one row a run: config, metrics, timings, device) and one ``.safetensors`` weight file a run, in a data
folder named by the environment variable ``PLAYGROUND_DATA_DIR`` (default ``~/.pytorch-playground``).

A run is written in two steps, each atomic: the weight file goes to a temporary name, is fsynced and
renamed into place; only then is the index row committed in one transaction. A crash between the steps
leaves an unlisted file (swept later), never a listed run without weights. Every operation opens its own
connection with a busy timeout, so threads and processes may write at the same time.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground import limits
from playground.builder.config import RunConfig
from playground.builder.model import TrainedModel
from playground.errors import PlaygroundError, library_message
from playground.runs import export, weights_import

DATA_DIR_ENV = "PLAYGROUND_DATA_DIR"
DEFAULT_DATA_DIR = Path.home() / ".pytorch-playground"
RUN_ID_PATTERN = re.compile(r"^[0-9a-f]{12}$")
KEPT_STATUSES = ("finished", "stopped")
ORPHAN_AGE_S = 3600.0  # an unlisted weight file older than this is a crash's leftover, and is removed

_SCHEMA = """
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
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (config_key, status);
"""


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


class RunStore(ABC):
    """Where finished runs are kept. ``writable`` is False (with ``reason``) when runs cannot be kept."""

    writable: bool = True
    reason: str = ""

    @abstractmethod
    def save(self, trained: TrainedModel) -> str:
        """Keep a finished or stopped run; return its id."""

    @abstractmethod
    def get(self, run_id: str) -> TrainedModel:
        """The kept run with its weights; PlaygroundError when there is none with that id."""

    @abstractmethod
    def find(self, config_key: str) -> str | None:
        """The newest finished run of this configuration (``RunConfig.key()``), if any."""

    @abstractmethod
    def list(self) -> list[RunSummary]:
        """Kept runs, newest first (at most ``limits.MAX_RUNS_LISTED``)."""

    @abstractmethod
    def history(self, run_id: str) -> tuple[dict[str, float], ...]:
        """A run's per-epoch metrics, without loading its weights."""

    @abstractmethod
    def delete(self, run_id: str) -> bool:
        """Remove a run; False when there was none with that id."""


def data_dir_from_env() -> Path:
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else DEFAULT_DATA_DIR


def open_default_store() -> SqliteRunStore:
    """The store in the folder ``PLAYGROUND_DATA_DIR`` names (created on first use)."""
    return SqliteRunStore(data_dir_from_env())


def check_run_id(run_id: object) -> str:
    """A run id is 12 lowercase hex digits; anything else (a path, a quote, a huge string) is refused."""
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.match(run_id):
        shown = f"'{run_id}'" if isinstance(run_id, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,20}", run_id) else "That"
        raise PlaygroundError(
            f"{shown} is not a run id: a run id is 12 letters and digits (0-9, a-f), as the Runs page shows."
        )
    return run_id


class SqliteRunStore(RunStore):
    """The embedded default: ``runs.sqlite3`` plus ``weights/<run_id>.safetensors`` in ``data_dir``."""

    def __init__(self, data_dir: str | os.PathLike[str], timeout_s: float = 30.0) -> None:
        self.data_dir = Path(data_dir)
        self.db_path = self.data_dir / "runs.sqlite3"
        self.weights_dir = self.data_dir / "weights"
        self.timeout_s = timeout_s
        self.writable = True
        self.reason = ""
        try:
            self.weights_dir.mkdir(parents=True, exist_ok=True)
            probe = tempfile.NamedTemporaryFile(dir=self.weights_dir, prefix=".probe-", delete=True)  # noqa: SIM115
            probe.close()
            with _closing(self._connect()) as db:
                db.executescript(_SCHEMA)
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

    def _reader(self) -> sqlite3.Connection | None:
        """A connection for reading, even from a read-only folder; None when there is no index at all."""
        if not self.db_path.exists():
            return None
        try:
            return self._connect(read_only=not self.writable)
        except sqlite3.Error:
            return None

    # -- the interface

    def save(self, trained: TrainedModel) -> str:
        if not self.writable:
            raise PlaygroundError(self.reason)
        if trained.status not in KEPT_STATUSES:
            raise PlaygroundError(f"Only finished or stopped runs are kept; this one is {trained.status}.")
        run_id = secrets.token_hex(6)
        data = export.to_safetensors_bytes(trained)
        final = self.weights_dir / f"{run_id}.safetensors"
        try:
            _write_atomically(final, data)
        except OSError as exc:
            raise PlaygroundError("The run could not be kept: its weights could not be written.",
                                  library_message(exc, 300)) from exc
        row = _row_of(run_id, trained, final.name, hashlib.sha256(data).hexdigest())
        try:
            with _transaction(self._connect()) as db:
                db.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                           tuple(row.values()))
        except sqlite3.Error as exc:
            final.unlink(missing_ok=True)
            raise PlaygroundError("The run could not be kept: the run index could not be written.",
                                  library_message(exc, 300)) from exc
        return run_id

    def get(self, run_id: str) -> TrainedModel:
        row = self._row(check_run_id(run_id))
        path = self.weights_dir / row["weights_file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PlaygroundError(f"The weights of run {run_id} are missing from the data folder.",
                                  library_message(exc, 300)) from exc
        if hashlib.sha256(data).hexdigest() != row["weights_sha256"]:
            raise PlaygroundError(f"The weights file of run {run_id} is damaged (its checksum does not match).")
        config = RunConfig.from_dict(json.loads(row["config_json"]))
        loaded = weights_import.read_weights(path.name, data, config.model)
        return TrainedModel(
            config=config,
            state_dict=loaded.state_dict,
            history=self._history_of(row),
            test_metrics=json.loads(row["test_metrics_json"]),
            status=row["status"],
            device=row["device"],
            duration_s=float(row["duration_s"]),
            standardization=json.loads(row["standardization_json"]),
            classes=tuple(json.loads(row["classes_json"])),
            feature_names=tuple(json.loads(row["feature_names_json"])),
        )

    def find(self, config_key: str) -> str | None:
        db = self._reader()
        if db is None:
            return None
        with _closing(db):
            found = db.execute(
                "SELECT run_id FROM runs WHERE config_key = ? AND status = 'finished' "
                "ORDER BY created_at DESC LIMIT 1",
                (str(config_key),),
            ).fetchone()
        return found["run_id"] if found else None

    def list(self) -> list[RunSummary]:
        db = self._reader()
        if db is None:
            return []
        with _closing(db):
            rows = db.execute(
                "SELECT run_id, config_json, created_at, status, device, duration_s, best_val_loss, "
                "epochs_run, test_metrics_json FROM runs ORDER BY created_at DESC LIMIT ?",
                (limits.MAX_RUNS_LISTED,),
            ).fetchall()
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
                )
            )
        return summaries

    def history(self, run_id: str) -> tuple[dict[str, float], ...]:
        return self._history_of(self._row(check_run_id(run_id)))

    def delete(self, run_id: str) -> bool:
        if not self.writable:
            raise PlaygroundError(self.reason)
        check_run_id(run_id)
        with _transaction(self._connect()) as db:
            found = db.execute("SELECT weights_file FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if found is None:
                return False
            db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
        # The row is gone first: a crash here leaves an unlisted file, swept later, never a listed run
        # without weights.
        (self.weights_dir / found["weights_file"]).unlink(missing_ok=True)
        return True

    # -- internals

    def _row(self, run_id: str) -> sqlite3.Row:
        db = self._reader()
        row = None
        if db is not None:
            with _closing(db):
                row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise PlaygroundError(f"There is no kept run with id {run_id}: it may have been deleted.")
        return row

    @staticmethod
    def _history_of(row: sqlite3.Row) -> tuple[dict[str, float], ...]:
        return tuple(json.loads(row["history_json"]))

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


def _row_of(run_id: str, trained: TrainedModel, weights_file: str, sha256: str) -> dict[str, Any]:
    val_losses = [
        float(epoch["val_loss"])
        for epoch in trained.history
        if isinstance(epoch.get("val_loss"), (int, float)) and math.isfinite(epoch["val_loss"])
    ]
    return {
        "run_id": run_id,
        "config_key": trained.config.key(),
        "created_at": time.time(),
        "status": trained.status,
        "device": trained.device,
        "duration_s": float(trained.duration_s),
        "config_json": json.dumps(trained.config.to_dict(), sort_keys=True),
        "history_json": json.dumps([export._jsonable(epoch) for epoch in trained.history]),
        "test_metrics_json": json.dumps(export._jsonable(trained.test_metrics)),
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
