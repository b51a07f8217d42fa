"""The executors under test: the local pool and Ray (a Ray head on loopback, shared by the test session)."""

from __future__ import annotations

import pytest

from playground.execution.pool import WorkerPool
from tests.cluster.services import connect_ray, ray_head

EXECUTORS = ("local", "ray")
WORKERS = 2


def make_executor(name: str, **kwargs):
    """A fresh executor of ``name`` with ``WORKERS`` slots, warmed up."""
    if name == "local":
        executor = WorkerPool(max_workers=WORKERS, **kwargs)
    else:
        from playground.execution.ray_executor import RayExecutor

        head = ray_head()
        connect_ray(head)
        executor = RayExecutor(head.address, max_workers=WORKERS, keep_idle=WORKERS, **kwargs)
    executor.prewarm(WORKERS)
    return executor


@pytest.fixture(scope="session")
def ray_cluster():
    """A connection to the session's Ray head (skipped without ray, failed under CI=true)."""
    head = ray_head()
    return connect_ray(head)
