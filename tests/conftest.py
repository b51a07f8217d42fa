"""Every test gets its own empty run store, so no test sees runs kept by another (or by a user's app)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_run_store(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "playground-data"))


@pytest.fixture(autouse=True)
def stop_leftover_trainings():
    """After each test, stop every run still going in the server-wide worker pool: a page test that
    ends mid-training must not leave workers busy (they would starve the next tests of CPU)."""
    yield
    from playground.execution import server
    from playground.execution.jobs import ACTIVE

    pool = server._EXECUTOR
    if pool is None:
        return
    with pool.lock:
        jobs = [job for job in pool.jobs.values() if job.status in ACTIVE]
    for job in jobs:
        pool.control(job, "stop")


@pytest.fixture(scope="session", autouse=True)
def shut_down_worker_pool():
    yield
    from playground.execution import server

    if server._EXECUTOR is not None:
        server._EXECUTOR.shutdown()


# ---------------------------------------------------------------- run stores: SQLite and PostgreSQL


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL on loopback for the whole session (tests/runs_stores.py); skipped with a
    reason without the binaries or psycopg, failed under CI=true."""
    from tests import runs_stores

    reason = runs_stores.missing_reason()
    if reason:
        runs_stores.skip_or_fail(reason)
    server = runs_stores.ThrowawayPostgres()
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001 - any failure to start is a reason to skip (or fail in CI)
        server.stop()
        runs_stores.skip_or_fail(f"PostgreSQL did not start: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_kind(request) -> str:
    """Each run-store test runs against both stores."""
    if request.param == "postgres":
        request.getfixturevalue("postgres_server")
    return request.param


@pytest.fixture
def new_store(request, store_kind, tmp_path):
    """A factory of fresh, empty stores of the kind under test: ``new_store(bounds=...)``."""
    from tests import runs_stores

    server = request.getfixturevalue("postgres_server") if store_kind == "postgres" else None

    def make(**kwargs):
        return runs_stores.make_store(store_kind, tmp_path, server, **kwargs)

    return make
