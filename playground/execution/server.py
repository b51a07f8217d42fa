"""The server's one executor, made on first use from the configuration: Ray where ``PLAYGROUND_RAY_ADDRESS`` names
a cluster, else the local worker pool. Above ``executor``, ``pool`` and ``ray_executor``, which it chooses between,
so none of them imports another upwards."""

from __future__ import annotations

import os
import threading

from playground.execution.executor import RAY_ADDRESS_ENV, Executor

_EXECUTOR: Executor | None = None
_EXECUTOR_LOCK = threading.Lock()


def make_executor() -> Executor:
    """A new executor as configured: Ray where ``PLAYGROUND_RAY_ADDRESS`` names a cluster, else the local pool."""
    address = os.environ.get(RAY_ADDRESS_ENV, "").strip()
    if address:
        from playground.execution.ray_executor import RayExecutor

        return RayExecutor(address)
    from playground.execution.pool import WorkerPool

    return WorkerPool()


def live_jobs() -> int:
    """``live_count()`` of the server's executor; 0 before one was made (this never makes one)."""
    executor = _EXECUTOR
    return executor.live_count() if executor is not None and not executor.closed else 0


def get_executor() -> Executor:
    """The server-wide executor (one per server process), made on first use from the configuration."""
    global _EXECUTOR
    with _EXECUTOR_LOCK:
        if _EXECUTOR is None or _EXECUTOR.closed:
            _EXECUTOR = make_executor()
        return _EXECUTOR
