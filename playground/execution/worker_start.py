"""A local worker process's first code: it lowers its priority before it imports anything heavy.

A spawned child imports its target's module before it runs it, and ``worker.py`` imports torch (about 1.3 s of
CPU). A trainer started while a server serves its first visit (``views/page_frame.start`` warms one then) would
take that CPU from the page being drawn unless it yields first; this module imports nothing but ``os``.
"""

from __future__ import annotations

import os

WORKER_NICENESS = 5  # workers yield the CPU to the server process, so pages stay responsive while they train


def lower_priority() -> None:
    """This process's niceness raised to ``WORKER_NICENESS`` (once: calling it again changes nothing)."""
    try:
        current = os.nice(0)
        if current < WORKER_NICENESS:
            os.nice(WORKER_NICENESS - current)
    except OSError:
        pass  # not allowed here: the worker trains at the server's priority


def main(control_conn, progress_conn) -> None:
    """The process's target: yield the CPU first, then import the worker and run it."""
    lower_priority()
    from playground.execution.worker import worker_main

    worker_main(control_conn, progress_conn)
