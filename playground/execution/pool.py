"""Training in the background: worker processes, one job each, and the thread-safe job the page reads.

Why processes: a Python-heavy training loop in a thread competes for the GIL with the web server and
with other sessions, and threads cannot use both cores. Workers start with the ``spawn`` context (a
process that has touched CUDA cannot be forked), warm up once (the first ``optimizer.step()`` imports
heavy modules), use one torch thread each, and are reused job after job. At most
``limits.MAX_CONCURRENT_TRAININGS`` run at once server-wide; more wait in a queue, in order.

The worker (``worker.py``) never calls Streamlit; it streams progress through a pipe, and a drain
thread a worker turns those messages into a ``TrainingJob``,
under a lock. Play, pause, step, stop are control messages to the worker. A worker that dies is seen
(its pipe closes): its job fails with a sentence and the session can train again. A session that goes
away frees its job: the session holds a ``TrainingHandle`` whose finalizer stops the job, and a job
no page has looked at for ``limits.TRAINING_IDLE_TIMEOUT_S`` is stopped too.
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import sys
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from playground import limits
from playground.builder.config import RunConfig
from playground.errors import PlaygroundError
from playground.execution.worker import worker_main

ACTIVE = ("queued", "starting", "running", "pausing", "paused")
DONE = ("finished", "stopped", "diverged", "failed")
START_FAILED_SENTENCE = "The training process could not start on this server; try again, or tell the administrator."
DIED_SENTENCE = "The training process stopped unexpectedly (it may have run out of memory); train again."
REFRESH_TRAINING_S = 0.2  # a page redraws the epoch line of a run that is training five times a second
REFRESH_WAITING_S = 2.0  # a run waiting in the queue or paused: only its place (or nothing) changes
REFRESH_PICTURES_S = 1.0  # the boundary, network and neurons of a run that is training (see pictures_interval)


def pictures_interval(status: str | None) -> float | None:
    """How often a page should redraw the pictures of a run (decision boundary, network, neurons): about once a
    second while it trains, never otherwise (they change only while it trains). Each redraw of those two
    Plotly figures costs the browser far more than the epoch line and the curves; on a machine where the
    browser and the training share the cores, redrawing them with the epoch line took the training's time."""
    return REFRESH_PICTURES_S if refresh_interval(status) == REFRESH_TRAINING_S else None


def refresh_interval(status: str | None) -> float | None:
    """How often a page should redraw a run in ``status``; None once it has ended (or there is none).

    Waiting runs are redrawn seldom: with many sessions queued behind the cap, their redraws would
    otherwise take the server's time from the sessions that are training and from new visitors. A
    paused run is still redrawn now and then, which also tells the pool that its page is open.
    """
    if status in ("starting", "running", "pausing"):
        return REFRESH_TRAINING_S
    if status in ("queued", "paused"):
        return REFRESH_WAITING_S
    return None


# ==================================================================================================
# Server side
# ==================================================================================================


@dataclass
class JobView:
    """A consistent copy of a job's state for one page render."""

    id: int
    status: str
    history: list[dict]
    view: dict[str, Any] | None
    message: str
    detail: str | None
    info: dict[str, Any]
    final_state: dict[str, Any] | None
    stats: dict[str, Any]
    queue_position: int
    elapsed_s: float
    snapshots: tuple[dict[str, Any], ...] = ()
    lr_changes: tuple[tuple[int, float], ...] = ()

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def epoch(self) -> int:
        return int(self.history[-1]["epoch"]) if self.history else 0


@dataclass
class TrainingJob:
    """One run as the server sees it. Every field is read and written under ``lock``."""

    id: int
    owner: str
    payload: dict[str, Any]
    history: list[dict] = field(default_factory=list)
    status: str = "queued"
    view: dict[str, Any] | None = None
    message: str = ""
    detail: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    final_state: dict[str, Any] | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    ended: float | None = None
    last_seen: float = field(default_factory=time.monotonic)
    worker: _Worker | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    done_event: threading.Event = field(default_factory=threading.Event)
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # the views sent, for the replay (bounded)
    snapshot_bytes: int = 0
    lr_changes: tuple[tuple[int, float], ...] = ()

    def snapshot(self, queue_position: int = 0) -> JobView:
        with self.lock:
            end = self.ended or time.monotonic()
            return JobView(
                id=self.id, status=self.status, history=list(self.history), view=self.view, message=self.message,
                detail=self.detail, info=dict(self.info), final_state=self.final_state, stats=dict(self.stats),
                queue_position=queue_position, elapsed_s=(end - self.started) if self.started else 0.0,
                snapshots=tuple(self.snapshots), lr_changes=self.lr_changes,
            )

    def keep_view(self, view: dict[str, Any]) -> None:
        """The latest view, and a copy for the replay: at most ``limits.MAX_REPLAY_SNAPSHOTS`` views and
        ``limits.MAX_REPLAY_BYTES``; past either, every other older view is dropped, so the replay keeps the
        whole run at a coarser step (the newest views stay). Call under ``lock``."""
        self.view = view
        if self.snapshots and self.snapshots[-1].get("epoch") == view.get("epoch"):
            self.snapshot_bytes -= view_bytes(self.snapshots[-1])
            self.snapshots[-1] = view
        else:
            self.snapshots.append(view)
        self.snapshot_bytes += view_bytes(view)
        while len(self.snapshots) > 2 and (len(self.snapshots) > limits.MAX_REPLAY_SNAPSHOTS
                                           or self.snapshot_bytes > limits.MAX_REPLAY_BYTES):
            older, newest = self.snapshots[:-1], self.snapshots[-1]
            kept = older[::2]
            self.snapshot_bytes -= sum(view_bytes(v) for v in older[1::2])
            self.snapshots = [*kept, newest]


    def finish(self, status: str, message: str = "", detail: str | None = None) -> None:
        with self.lock:
            if self.status in DONE:
                return
            self.status, self.message, self.detail = status, message, detail
            self.ended = time.monotonic()
            self.payload = {}  # the data is no longer needed: free it
        self.done_event.set()


def view_bytes(view: dict[str, Any]) -> int:
    """Memory a view's arrays hold (heatmap, thumbnails, weights)."""
    total = 0
    for value in view.values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            total += int(getattr(item, "nbytes", 0) or getattr(getattr(item, "values", None), "nbytes", 0))
    return total

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

    def __init__(self, pool: WorkerPool, context) -> None:
        self.pool = pool
        control_recv, self.control = context.Pipe(duplex=False)
        self.progress, progress_send = context.Pipe(duplex=False)
        self.process = context.Process(target=worker_main, args=(control_recv, progress_send), daemon=True,
                                       name="playground-trainer")
        with _main_module_hidden():
            self.process.start()
        control_recv.close()  # the child's ends: closing ours lets a dead child show as EOF
        progress_send.close()
        self.ready = threading.Event()
        self.send_lock = threading.Lock()
        self.job: TrainingJob | None = None
        self.alive = True
        self.thread = threading.Thread(target=self._drain, name="playground-trainer-drain", daemon=True)
        self.thread.start()

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
        self.pool._on_worker_exit(self)

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()


class WorkerPool:
    """The server's training workers: at most ``max_workers`` processes, jobs beyond that queued in order."""

    def __init__(self, max_workers: int = limits.MAX_CONCURRENT_TRAININGS, method: str = "spawn") -> None:
        self.max_workers = max_workers
        self.context = multiprocessing.get_context(method)
        self.lock = threading.RLock()
        self.workers: list[_Worker] = []
        self.queue: list[TrainingJob] = []
        self.jobs: dict[int, TrainingJob] = {}
        self.ids = itertools.count(1)
        self.closed = False
        self.failed_starts = 0
        self.reaper = threading.Thread(target=self._reap, name="playground-trainer-reaper", daemon=True)
        self.reaper.start()

    # ---------------------------------------------------------------- public
    def prewarm(self, count: int = 1) -> None:
        """Have at least ``count`` workers (busy or idle) started, so the first Play does not wait for Python
        and torch to import. It never adds workers beside busy ones: a spare would take CPU from training."""
        with self.lock:
            while len(self.workers) < min(count, self.max_workers):
                self.workers.append(_Worker(self, self.context))

    def submit(
        self,
        config: RunConfig,
        tensors: dict[str, Any],
        owner: str,
        initial_state: dict[str, Any] | None = None,
        history: list[dict] | None = None,
        plane_features: tuple[str, ...] | None = None,
        standardization: dict[str, list[float]] | None = None,
        start_paused: bool = False,
        speed: float | None = None,
    ) -> TrainingHandle:
        """Queue a run; returns the handle the session keeps. One active run per owner (session)."""
        with self.lock:
            if self.closed:
                raise PlaygroundError("The training service is shutting down; try again in a moment.")
            mine = [j for j in self.jobs.values() if j.owner == owner and j.status in ACTIVE]
            if len(mine) >= limits.MAX_TRAININGS_PER_SESSION:
                raise PlaygroundError("This session is already training; stop that run before starting another.")
            history = list(history or [])
            payload = {
                "config": config.to_dict(),
                "tensors": {k: _numpy(v) for k, v in tensors.items()},
                "initial_state": {k: _numpy(v) for k, v in initial_state.items()} if initial_state else None,
                "epoch_offset": int(history[-1]["epoch"]) if history else 0,
                "plane_features": tuple(plane_features) if plane_features else None,
                "standardization": standardization,
                "start_paused": start_paused,
                "speed": speed,
            }
            job = TrainingJob(id=next(self.ids), owner=owner, payload=payload, history=history)
            self.jobs[job.id] = job
            self.queue.append(job)
            self.failed_starts = 0
            self._assign()
        return TrainingHandle(job, self)

    def control(self, job: TrainingJob, kind: str, value: Any = None) -> None:
        """play, pause, step, stop, speed (epochs a second, or None) or lr: sent to the job's worker (a queued
        job that is stopped just leaves; a queued job's speed and rate are kept for its start)."""
        with self.lock:
            if job.status in DONE:
                return
            if job in self.queue:
                if kind == "stop":
                    self.queue.remove(job)
                    self.jobs.pop(job.id, None)
                    job.finish("stopped")
                elif kind in ("pause", "play"):
                    job.payload["start_paused"] = kind == "pause"
                elif kind == "speed":
                    job.payload["speed"] = value
                elif kind == "lr" and "config" in job.payload:
                    job.payload["config"]["train"]["lr"] = float(value)
                return
            worker = job.worker
        if worker is not None:
            if kind == "pause":  # "paused" comes from the worker once it has really stopped between steps
                with job.lock:
                    job.status = "pausing" if job.status == "running" else job.status
            worker.send((kind, job.id) if value is None and kind != "speed" else (kind, job.id, value))

    def queue_position(self, job: TrainingJob) -> int:
        with self.lock:
            return self.queue.index(job) + 1 if job in self.queue else 0

    def active_count(self) -> int:
        with self.lock:
            return sum(1 for w in self.workers if w.job is not None)

    def shutdown(self) -> None:
        with self.lock:
            self.closed = True
            workers = list(self.workers)
        for worker in workers:
            worker.send(("quit",))
        for worker in workers:
            worker.process.join(timeout=5)
            worker.kill()

    # ---------------------------------------------------------------- internals
    def _assign(self) -> None:
        """Give queued jobs to idle ready workers, starting workers up to the cap (call under lock)."""
        while self.queue:
            worker = next((w for w in self.workers if w.job is None and w.alive and w.ready.is_set()), None)
            if worker is None:
                starting = [w for w in self.workers if w.job is None and w.alive and not w.ready.is_set()]
                waiting = len(self.queue)
                if len(starting) < waiting and len(self.workers) < self.max_workers:
                    self.workers.append(_Worker(self, self.context))
                    continue
                return
            job = self.queue.pop(0)
            worker.job = job
            with job.lock:
                job.worker = worker
                job.status = "starting"
                job.started = time.monotonic()
                payload = job.payload
            worker.send(("start", job.id, payload))

    def _on_message(self, worker: _Worker, message: tuple) -> None:
        kind, job_id = message[0], message[1]
        if kind == "ready":
            worker.ready.set()
            self.failed_starts = 0
            with self.lock:
                self._assign()
            return
        job = worker.job
        if job is None or job.id != job_id:
            return
        if kind == "epochs":
            with job.lock:
                job.history.extend(message[2])
        elif kind == "view":
            with job.lock:
                job.keep_view(message[2])
        elif kind == "lr":
            with job.lock:
                job.lr_changes = tuple((int(e), float(r)) for e, r in message[2])
        elif kind == "started":
            with job.lock:
                job.info = message[2]
                job.status = "paused" if job.payload.get("start_paused") else "running"
                job.started = time.monotonic()
        elif kind == "status":
            with job.lock:
                if job.status not in DONE:
                    job.status = message[2]
        elif kind in ("done", "error"):
            if kind == "done":
                status, sentence, state, stats = message[2], message[3], message[4], message[5]
                with job.lock:
                    job.final_state = state
                    job.stats = stats
                job.finish(status, sentence)
            else:
                job.finish("failed", message[2], message[3])
            with self.lock:
                worker.job = None
                self.jobs.pop(job.id, None)
                self._assign()

    def _on_worker_exit(self, worker: _Worker) -> None:
        failed: list[TrainingJob] = []
        with self.lock:
            if worker in self.workers:
                self.workers.remove(worker)
            job = worker.job
            worker.job = None
            if job is not None:
                self.jobs.pop(job.id, None)
                failed.append(job)
            if not worker.ready.is_set():
                self.failed_starts += 1
                if self.failed_starts >= 2:  # workers cannot start at all: say so instead of retrying forever
                    failed.extend(self.queue)
                    for queued in self.queue:
                        self.jobs.pop(queued.id, None)
                    self.queue.clear()
        for dead in failed:
            dead.finish("failed", DIED_SENTENCE if dead is job else START_FAILED_SENTENCE)
        worker.kill()
        with self.lock:
            if not self.closed:
                self._assign()

    def _reap(self) -> None:
        """Stop jobs no page has looked at for a long time (their session is gone or forgotten)."""
        while not self.closed:
            time.sleep(2.0)
            now = time.monotonic()
            with self.lock:
                stale = [j for j in self.jobs.values() if j.status in ACTIVE and now - j.last_seen > limits.TRAINING_IDLE_TIMEOUT_S]
            for job in stale:
                self.control(job, "stop")


class TrainingHandle:
    """What a session keeps in ``st.session_state``: its job, and the controls. When the session's state
    is dropped (the session is gone), the finalizer stops the job and frees its worker for others."""

    def __init__(self, job: TrainingJob, pool: WorkerPool) -> None:
        self.job = job
        self.pool = pool
        self._finalizer = weakref.finalize(self, _abandon, pool, job)

    @property
    def id(self) -> int:
        return self.job.id

    def snapshot(self) -> JobView:
        """The job as it is now; also tells the pool someone is still watching."""
        self.job.last_seen = time.monotonic()
        return self.job.snapshot(self.pool.queue_position(self.job))

    def touch(self) -> None:
        self.job.last_seen = time.monotonic()

    def play(self) -> None:
        self.pool.control(self.job, "play")

    def pause(self) -> None:
        self.pool.control(self.job, "pause")

    def step(self) -> None:
        self.pool.control(self.job, "step")

    def set_speed(self, epochs_per_second: float | None) -> None:
        """At most this many epochs a second from now on (None: as fast as the machine goes)."""
        self.pool.control(self.job, "speed", epochs_per_second)

    def set_lr(self, lr: float) -> None:
        """A new learning rate from the next epoch on (through ``param_groups``), recorded with the run."""
        self.pool.control(self.job, "lr", float(lr))

    def stop(self) -> None:
        self.pool.control(self.job, "stop")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (tests and the benchmark); True if it did."""
        return self.job.done_event.wait(timeout)


def _abandon(pool: WorkerPool, job: TrainingJob) -> None:
    if job.status in ACTIVE:
        pool.control(job, "stop")


def _numpy(value: Any) -> np.ndarray:
    """Tensors travel to the worker as NumPy arrays (plain pickles, no shared-memory handles)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


_POOL: WorkerPool | None = None
_POOL_LOCK = threading.Lock()


def get_pool() -> WorkerPool:
    """The server-wide pool (one per server process), created on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.closed:
            _POOL = WorkerPool()
        return _POOL
