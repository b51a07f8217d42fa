"""The local executor: worker processes on this server, one job each, reused job after job.

Why processes: a Python-heavy training loop in a thread competes for the GIL with the web server and
with other sessions, and threads cannot use both cores. Workers start with the ``spawn`` context (a
process that has touched CUDA cannot be forked), warm up once (the first ``optimizer.step()`` imports
heavy modules), use one torch thread each, and are reused job after job. At most
``limits.MAX_CONCURRENT_TRAININGS`` run at once server-wide; more wait in a queue, in order (the queue,
the owners, the budgets and the messages are the executor's: ``executor.Executor``).

The worker (``worker.py``) never calls Streamlit; it streams progress through a pipe, and a drain
thread a worker turns those messages into a ``TrainingJob``, under a lock. Play, pause, step, stop are
control messages to the worker. A worker that dies is seen (its pipe closes): its job fails with a
sentence and the session can train again. A session that goes away frees its job: the session holds a
``TrainingHandle`` whose finalizer stops the job, and a job no page has looked at for
``limits.TRAINING_IDLE_TIMEOUT_S`` is stopped too.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
import threading

from playground import limits
from playground.execution import worker_start
from playground.execution.executor import Executor
from playground.execution.jobs import (  # noqa: F401 - the names callers imported from here before the split
    ACTIVE,
    CANCELLED_SENTENCE,
    DIED_SENTENCE,
    DONE,
    REFRESH_PICTURES_S,
    REFRESH_TRAINING_S,
    REFRESH_WAITING_S,
    START_FAILED_SENTENCE,
    JobBudget,
    JobView,
    TrainingHandle,
    TrainingJob,
    _numpy,
    pictures_interval,
    refresh_interval,
    view_bytes,
)

_MAIN_LOCK = threading.Lock()


@contextlib.contextmanager
def _main_module_hidden():
    """Start a child without re-running the parent's main script in it.

    ``spawn`` re-imports ``__main__`` in every child. Under Streamlit (and AppTest) ``__main__`` is the
    app script itself, which must not run in a training worker; the worker needs only this module.
    """
    main = sys.modules.get("__main__")
    with _MAIN_LOCK:
        saved_file = main.__dict__.pop("__file__", None) if main is not None else None
        saved_spec = getattr(main, "__spec__", None)
        if main is not None:
            main.__spec__ = None
        try:
            yield
        finally:
            if main is not None:
                main.__spec__ = saved_spec
                if saved_file is not None:
                    main.__file__ = saved_file


class _Worker:
    """A worker process, its two pipes and the thread that drains its progress."""

    shape = None  # a local worker runs any job (CPU or this server's GPU)

    def __init__(self, pool: WorkerPool, context) -> None:
        self.pool = pool
        control_recv, self.control = context.Pipe(duplex=False)
        self.progress, progress_send = context.Pipe(duplex=False)
        self.process = context.Process(target=worker_start.main, args=(control_recv, progress_send), daemon=True,
                                       name="playground-trainer")
        with _main_module_hidden():
            self.process.start()
        control_recv.close()  # the child's ends: closing ours lets a dead child show as EOF
        progress_send.close()
        self.ready = threading.Event()
        self.send_lock = threading.Lock()
        self.job: TrainingJob | None = None
        self.alive = True
        self.retired = False
        self.thread = threading.Thread(target=self._drain, name="playground-trainer-drain", daemon=True)
        self.thread.start()

    def start(self, job_id: int, payload: dict) -> None:
        self.send(("start", job_id, payload))

    def send(self, message: tuple) -> None:
        with self.send_lock:
            try:
                self.control.send(message)
            except (OSError, ValueError, BrokenPipeError):
                pass  # the drain thread sees the death and reports it

    def _drain(self) -> None:
        while True:
            try:
                message = self.progress.recv()
            except (EOFError, OSError):
                break
            except Exception:  # a message that cannot be unpickled: treat the worker as broken
                break
            self.pool._on_message(self, message)
        self.alive = False
        self.pool._on_slot_exit(self)

    def retire(self) -> None:
        """Ask the process to quit, and make sure it has."""
        self.send(("quit",))
        self.process.join(timeout=5)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()


class WorkerPool(Executor):
    """The server's training workers: at most ``max_workers`` processes, jobs beyond that queued in order."""

    def __init__(self, max_workers: int = limits.MAX_CONCURRENT_TRAININGS, method: str = "spawn",
                 max_queued: int = limits.MAX_QUEUED_JOBS, budget: JobBudget | None = None) -> None:
        self.context = multiprocessing.get_context(method)
        super().__init__(max_workers, max_queued=max_queued, budget=budget, keep_idle=None)

    def _new_slot(self, shape: object) -> _Worker:
        return _Worker(self, self.context)

