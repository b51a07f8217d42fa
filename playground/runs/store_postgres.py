"""The run store in PostgreSQL, for several app servers that list, open and share the same runs.

Chosen by ``PLAYGROUND_STORE_URL`` (``postgresql://user:password@host:5432/dbname``); psycopg 3 is imported
only then (``requirements-cluster.txt``). A run's row and its weights (``run_weights``, ``BYTEA``) are
written in one transaction, so a writer killed at any point leaves the whole run or nothing. Writers take
a table lock for the length of a save, so the bounds are checked and kept atomically across servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playground.errors import PlaygroundError, library_message
from playground.runs.store import STORE_URL_ENV, SqlRunStore, StoreBounds

try:  # the app runs without psycopg unless PLAYGROUND_STORE_URL is set
    import psycopg
    from psycopg.rows import dict_row
except ImportError:  # pragma: no cover - exercised where psycopg is not installed
    psycopg = None

WEIGHTS_IN_DATABASE = "database"  # the ``weights_file`` of a row whose weights are in run_weights
_SCHEMA_LOCK = 72_411_203  # pg_advisory_xact_lock key: one server at a time creates the tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT,
    default_name TEXT NOT NULL,
    pinned INTEGER NOT NULL DEFAULT 0,
    size_bytes BIGINT NOT NULL,
    config_key TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    status TEXT NOT NULL,
    device TEXT NOT NULL,
    duration_s DOUBLE PRECISION NOT NULL,
    task TEXT NOT NULL,
    dataset TEXT NOT NULL,
    optimizer TEXT NOT NULL,
    lr DOUBLE PRECISION NOT NULL,
    test_accuracy DOUBLE PRECISION,
    test_mse DOUBLE PRECISION,
    test_mae DOUBLE PRECISION,
    config_json TEXT NOT NULL,
    history_json TEXT NOT NULL,
    test_metrics_json TEXT NOT NULL,
    standardization_json TEXT NOT NULL,
    classes_json TEXT NOT NULL,
    feature_names_json TEXT NOT NULL,
    best_val_loss DOUBLE PRECISION,
    epochs_run INTEGER NOT NULL,
    weights_file TEXT NOT NULL,
    weights_sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS run_weights (
    run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
    data BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS save_log (owner TEXT NOT NULL, at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS evictions (
    note_id BIGSERIAL PRIMARY KEY,
    owner TEXT NOT NULL,
    run_id TEXT NOT NULL,
    label TEXT NOT NULL,
    reason TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);
ALTER TABLE runs ADD COLUMN IF NOT EXISTS origin TEXT;
CREATE INDEX IF NOT EXISTS runs_by_owner ON runs (owner, created_at);
CREATE INDEX IF NOT EXISTS runs_by_owner_key ON runs (owner, config_key, status);
CREATE INDEX IF NOT EXISTS runs_by_age ON runs (pinned, created_at);
CREATE INDEX IF NOT EXISTS save_log_by_owner ON save_log (owner, at);
CREATE INDEX IF NOT EXISTS evictions_by_owner ON evictions (owner, note_id)
"""


def _redacted(url: str) -> str:
    """The URL without its password, for sentences shown on a page."""
    if "@" not in url or "://" not in url:
        return url[:200]
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"[:200]


class PostgresRunStore(SqlRunStore):
    """Runs and their weights in PostgreSQL at ``url``; the same interface and SQL as ``SqliteRunStore``."""

    def __init__(self, url: str, bounds: StoreBounds | None = None, connect_timeout_s: int = 10) -> None:
        self.url = url
        self.bounds = bounds or StoreBounds.personal()
        self.connect_timeout_s = connect_timeout_s
        self.writable = True
        self.reason = ""
        self.unreachable = f"The run database at {_redacted(url)} cannot be read"
        if psycopg is None:
            self.writable = False
            self.reason = (
                f"{STORE_URL_ENV} names a PostgreSQL database, but psycopg is not installed "
                "(pip install -r requirements-cluster.txt), so runs will not be kept."
            )
            self.db_errors = (PlaygroundError,)
            return
        self.db_errors = (psycopg.Error,)
        try:
            with self._connect() as db, db.transaction():
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                db.execute(_SCHEMA)
        except psycopg.Error as exc:
            self.writable = False
            self.reason = (
                f"The run database at {_redacted(url)} cannot be reached or written "
                f"({library_message(exc, 200)}), so runs will not be kept. Check {STORE_URL_ENV} and restart."
            )

    def _connect(self) -> Any:
        if psycopg is None:
            raise PlaygroundError(self.reason)
        return psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                               connect_timeout=self.connect_timeout_s)

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def _contains(self, expression: str) -> str:
        return f"strpos({expression}, ?) > 0"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._connect() as db, db.transaction():
            # One writer at a time (readers go on): a save's bound check and its evictions see every
            # other server's saves.
            db.execute("LOCK TABLE runs IN SHARE ROW EXCLUSIVE MODE")
            yield db

    @contextmanager
    def _read(self) -> Iterator[Any]:
        if psycopg is None:
            yield None
            return
        with self._connect() as db:
            yield db

    # -- weights in the database, in the row's transaction

    def _stage_weights(self, run_id: str, data: bytes) -> str:
        return WEIGHTS_IN_DATABASE

    def _weights_in_transaction(self, db: Any, run_id: str, data: bytes) -> None:
        db.execute("INSERT INTO run_weights (run_id, data) VALUES (%s, %s)", (run_id, data))

    def _load_weights(self, row: Any) -> bytes:
        rows = self._select("SELECT data FROM run_weights WHERE run_id = ?", (row["run_id"],))
        if not rows:
            raise PlaygroundError(f"The weights of run {row['run_id']} are missing from the run database.")
        return bytes(rows[0]["data"])


_CLAIMS_SPACE = 72_411_204  # the first key of every owner's advisory lock (the second is the owner's hash)
_CLAIMS_SCHEMA = """
CREATE TABLE IF NOT EXISTS training_claims (owner_key INTEGER PRIMARY KEY, started_at DOUBLE PRECISION NOT NULL)
"""


class OwnerClaims:
    """One training per owner across every app server sharing this database: an owner's claim is a PostgreSQL
    session-level advisory lock held on a connection of its own while their job is active, and a row of
    ``training_claims`` saying a training is under way. Both are given back when the job ends (``release``); when
    the server holding it dies, PostgreSQL ends the lock (its connection closes) and the row stays: the owner's
    next page learns that their training was cut off (``cut_off``). A database that cannot be reached claims
    nothing (each server's own rule still holds)."""

    def __init__(self, url: str, connect_timeout_s: int = 5) -> None:
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self.schema_made = False

    @staticmethod
    def key(owner: str) -> int:
        import hashlib

        return int.from_bytes(hashlib.sha256(owner.encode()).digest()[:4], "big", signed=True)

    def _connect(self) -> Any:
        db = psycopg.connect(self.url, autocommit=True, connect_timeout=self.connect_timeout_s)
        if not self.schema_made:
            db.execute(_CLAIMS_SCHEMA)
            self.schema_made = True
        return db

    def claim(self, owner: str) -> Any:
        """A held claim (pass it to ``release``), False when another job of ``owner`` holds it anywhere, or None
        when the database cannot be reached."""
        if psycopg is None:
            return None
        key = self.key(owner)
        try:
            db = self._connect()
        except psycopg.Error:
            return None
        try:
            got = db.execute("SELECT pg_try_advisory_lock(%s, %s)", (_CLAIMS_SPACE, key)).fetchone()[0]
            if got:
                db.execute("INSERT INTO training_claims (owner_key, started_at) VALUES (%s, extract(epoch FROM now())) "
                           "ON CONFLICT (owner_key) DO UPDATE SET started_at = EXCLUDED.started_at", (key,))
        except psycopg.Error:
            db.close()
            return None
        if not got:
            db.close()
            return False
        return (db, key)

    def release(self, claim: Any) -> None:
        """Give a claim back: its row deleted, its connection closed (which ends the lock, even where PostgreSQL
        restarted meanwhile)."""
        db, key = claim
        try:
            db.execute("DELETE FROM training_claims WHERE owner_key = %s", (key,))
        except Exception:  # noqa: BLE001 - the row is cleared by the owner's next cut_off check instead
            pass
        try:
            db.close()
        except Exception:  # noqa: BLE001 - a connection already broken holds no lock
            pass

    def cut_off(self, owner: str) -> bool:
        """True (once) when ``owner`` had a training under way on a server that died: its row is left and nobody
        holds its lock. The row is cleared."""
        if psycopg is None:
            return False
        key = self.key(owner)
        try:
            with self._connect() as db:
                if db.execute("SELECT 1 FROM training_claims WHERE owner_key = %s", (key,)).fetchone() is None:
                    return False
                if not db.execute("SELECT pg_try_advisory_lock(%s, %s)", (_CLAIMS_SPACE, key)).fetchone()[0]:
                    return False  # a job of theirs is under way somewhere
                db.execute("DELETE FROM training_claims WHERE owner_key = %s", (key,))
                db.execute("SELECT pg_advisory_unlock(%s, %s)", (_CLAIMS_SPACE, key))
                return True
        except psycopg.Error:
            return False
