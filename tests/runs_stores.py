"""A throwaway PostgreSQL for the run-store tests, and a factory that makes either store.

The server is Debian's ``postgresql`` (``initdb``/``pg_ctl`` on PATH or under /usr/lib/postgresql/*/bin),
initialised into a temporary folder, listening on 127.0.0.1 only at a free port, with trust
authentication (nothing but this machine can reach it), and stopped at the end of the test session.
It runs with fsync off to start databases fast: the tests kill clients, never this server, so atomicity
comes from PostgreSQL's transactions, not from the disk.
PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user (``runuser``). Without the
binaries or psycopg the PostgreSQL cases skip with a reason; under CI=true they fail instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

STORE_KINDS = ("sqlite", "postgres")


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing_reason() -> str | None:
    """Why a PostgreSQL cannot be started here, or None when it can."""
    if _binary("initdb") is None or _binary("pg_ctl") is None:
        return "PostgreSQL is not installed (apt-get install -y postgresql)"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -r requirements-cluster.txt)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; under CI=true the PostgreSQL run-store tests must run")
    pytest.skip(reason)


class ThrowawayPostgres:
    """``initdb`` + ``pg_ctl start`` on loopback; ``database()`` makes a fresh empty database a test."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="playground-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._count = 0

    def _run(self, *args: str, timeout: float = 120) -> None:
        # cwd: the server's own folder, which the postgres user can enter (the checkout may be under /root)
        subprocess.run([*self.as_user, *args], check=True, capture_output=True, timeout=timeout, cwd=self.folder)

    def start(self) -> ThrowawayPostgres:
        self._run(_binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.folder} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB")
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"),
                  "-w", "-t", "60", "start")
        return self

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        self._count += 1
        name = f"runs_{os.getpid()}_{self._count}_{int(time.time() * 1000) % 100000}"
        with psycopg.connect(self.admin_url, autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name} STRATEGY FILE_COPY")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", timeout=60)
        except (subprocess.SubprocessError, OSError):
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


def make_store(kind: str, tmp_path: Path, postgres: ThrowawayPostgres | None, **kwargs):
    """A fresh, empty store of ``kind`` ("sqlite" or "postgres")."""
    if kind == "sqlite":
        from playground.runs.store import SqliteRunStore

        return SqliteRunStore(tmp_path / "data", **kwargs)
    from playground.runs.store_postgres import PostgresRunStore

    assert postgres is not None
    store = PostgresRunStore(postgres.database(), **kwargs)
    assert store.writable, store.reason
    return store


def reopen(store, **kwargs):
    """A second store object on the same data (a restart, or another app server)."""
    from playground.runs.store import SqliteRunStore
    from playground.runs.store_postgres import PostgresRunStore

    if isinstance(store, SqliteRunStore):
        return SqliteRunStore(store.data_dir, **kwargs)
    assert isinstance(store, PostgresRunStore)
    return PostgresRunStore(store.url, **kwargs)


def location(store) -> str:
    """What a child process needs to open the same store: a folder or a URL."""
    return str(getattr(store, "data_dir", None) or store.url)
