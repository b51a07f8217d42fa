"""A local worker process lowers its priority before it imports torch (execution/worker_start.py), so a trainer
warmed while a server draws its first page takes no CPU from it; once, however often it is asked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from playground.execution import pool, worker_start

ROOT = Path(__file__).resolve().parents[3]


def test_the_start_lowers_the_priority_once_before_anything_heavy_is_imported():
    code = ("import os, sys\n"
            "from playground.execution import worker_start\n"
            "before = os.nice(0)\n"
            "worker_start.lower_priority(); worker_start.lower_priority()\n"
            "print(before, os.nice(0), 'torch' in sys.modules, 'numpy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    before, after = int(out[0]), int(out[1])
    assert after == max(before, worker_start.WORKER_NICENESS)  # raised to it, not by it twice
    assert out[2:] == ["False", "False"]  # nothing heavy imported by then


def test_the_pools_processes_start_there():
    started: list = []

    class End:
        def recv(self):
            raise EOFError  # the drain thread ends at once

        def close(self):
            pass

    class Context:
        def Pipe(self, duplex=False):  # noqa: N802 - multiprocessing's name
            return End(), End()

        def Process(self, target, args, daemon, name):  # noqa: N802
            started.append(target)
            return type("P", (), {"start": lambda self: None, "is_alive": lambda self: False})()

    class Pool:
        def _on_slot_exit(self, worker):
            pass

    pool._Worker(Pool(), Context())
    assert started == [worker_start.main]
