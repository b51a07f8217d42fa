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
    from playground.execution import executor
    from playground.execution.jobs import ACTIVE

    pool = executor._EXECUTOR
    if pool is None:
        return
    with pool.lock:
        jobs = [job for job in pool.jobs.values() if job.status in ACTIVE]
    for job in jobs:
        pool.control(job, "stop")


@pytest.fixture(scope="session", autouse=True)
def shut_down_worker_pool():
    yield
    from playground.execution import executor

    if executor._EXECUTOR is not None:
        executor._EXECUTOR.shutdown()
