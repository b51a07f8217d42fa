"""What every executor shares: a job as the server sees it, the copy a page renders, and the session's handle.

A job's payload is a plain dict with a ``kind`` ("run": ``run_payload``; "sweep": ``sweep_payload``) that the
worker dispatches on (``worker.RUNNERS``), a ``device`` ("cpu", "cuda:0": where a cluster places it) and, added by
the executor, its ``budget``; tensors travel as NumPy arrays. A sweep's epoch rows hold every member at once and
its views every member's boundary (``builder/sweep_progress.py``); its final state is a list of state dicts, one a
member. The worker side (``worker.py``) streams tuples back, the same on
every executor: ``("started", id, info)``, ``("epochs", id, rows)``, ``("view", id, view)``,
``("status", id, status)``, ``("done", id, status, sentence, state, stats)``, ``("error", id, sentence,
detail)``.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from playground import limits

if TYPE_CHECKING:
    from playground.builder.config import RunConfig
    from playground.builder.sweep import SweepConfig

ACTIVE = ("queued", "starting", "running", "pausing", "paused")
DONE = ("finished", "stopped", "diverged", "failed")
START_FAILED_SENTENCE = "The training process could not start on this server; try again, or tell the administrator."
DIED_SENTENCE = "The training process stopped unexpectedly (it may have run out of memory); train again."
CANCELLED_SENTENCE = "This run was cancelled; its weights were not kept."
REFRESH_TRAINING_S = 0.2  # a page redraws the epoch line of a run that is training five times a second
REFRESH_WAITING_S = 2.0  # a run waiting in the queue or paused: only its place (or nothing) changes
REFRESH_PICTURES_S = 1.0  # the boundary, network and neurons of a run that is training (see pictures_interval)


def live_phase(status: str | None, queue_position: int | None = None) -> str | None:
    """"training" (the epoch line moves), "waiting" (queued or paused: only its place changes) or None (ended).

    A queued run first in line (``queue_position`` 0: being handed to a worker, or 1: the next one) is drawn as
    training: on a server with a free trainer it starts within moments of Play. Drawn as waiting, its page would be
    redrawn only every ``REFRESH_WAITING_S``, and once more whole when it started (bench/RESULTS.md, "First visit").
    Only one run a server is next in line, so the redraws stay bounded."""
    if status in ("starting", "running", "pausing"):
        return "training"
    if status == "queued" and queue_position is not None and queue_position <= 1:
        return "training"
    if status in ("queued", "paused"):
        return "waiting"
    return None


def _slowdown(live_jobs: int) -> float:
    """Up to ``limits.LIVE_RUNS_AT_FULL_RATE`` live runs on a server, each page redraws at the full rate; beyond,
    every page redraws proportionally less often. The pages' redraws all run in the one server process: with a
    class of 20 training at once, the full rate for everyone took the server from the visitors who were opening
    a page (measured by tests/reliability/test_isolation_load.py), for epoch lines nobody can read that fast."""
    return max(1.0, live_jobs / limits.LIVE_RUNS_AT_FULL_RATE)


def refresh_interval(status: str | None, live_jobs: int = 1, queue_position: int | None = None) -> float | None:
    """How often a page should redraw a run in ``status``, with ``live_jobs`` runs live on this server (training or
    waiting, every owner's); None once it has ended (or there is none).

    A queued run first in line is redrawn as a training run is (``live_phase``).

    Waiting runs are redrawn seldom: with many sessions queued behind the cap, their redraws would otherwise take
    the server's time from the sessions that are training and from new visitors. A paused run is still redrawn
    now and then, which also tells the executor that its page is open (see ``limits.TRAINING_IDLE_TIMEOUT_S``).
    """
    phase = live_phase(status, queue_position)
    if phase is None:
        return None
    return (REFRESH_TRAINING_S if phase == "training" else REFRESH_WAITING_S) * _slowdown(live_jobs)


def pictures_interval(status: str | None, live_jobs: int = 1, queue_position: int | None = None) -> float | None:
    """How often a page should redraw the pictures of a run (decision boundary, network, neurons): about once a
    second while it trains (slower on a crowded server, as the epoch line), never otherwise (they change only
    while it trains). Each redraw of the pictures costs the browser far more than the epoch line; on a machine
    where the browser and the training share the cores, redrawing them with the epoch line took the training's
    time."""
    return REFRESH_PICTURES_S * _slowdown(live_jobs) if live_phase(status, queue_position) == "training" else None


@dataclass(frozen=True)
class JobBudget:
    """What one job may use before it is stopped with a sentence: optimizer steps, and seconds holding a
    worker (paused time included, so a paused tab cannot keep a worker for days)."""

    steps: int = limits.MAX_JOB_STEPS
    seconds: float = limits.MAX_JOB_SECONDS

    def to_dict(self) -> dict[str, float]:
        return {"steps": int(self.steps), "seconds": float(self.seconds)}


def _span(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.0f} minutes" if minutes >= 2 else f"{seconds:.0f} seconds"


def steps_sentence(budget_steps: int, epoch: int) -> str:
    """Said when a run reaches the step budget (at the end of an epoch)."""
    return (f"This run stopped after epoch {epoch}: a run may take at most {budget_steps:,} optimizer steps on this "
            "server. Its weights so far are kept; use fewer epochs or a larger batch to go further.")


def seconds_sentence(budget_seconds: float) -> str:
    """Said when a run has held its worker for the time budget (training and paused together)."""
    return (f"This run stopped: a run may hold a trainer for at most {_span(budget_seconds)} on this server, paused time included. "
            "Its weights so far are kept; train again to go on.")


def sweep_steps_sentence(budget_steps: int, epoch: int) -> str:
    """Said when a sweep reaches the step budget (each of its models at most a run's steps)."""
    return (f"This sweep stopped after epoch {epoch}: each of its models may take at most {budget_steps:,} optimizer "
            "steps on this server, as a run may. Their weights so far are kept; use fewer epochs or a larger batch "
            "to go further.")


def sweep_seconds_sentence(budget_seconds: float) -> str:
    """Said when a sweep has held its worker for the time budget (training and paused together)."""
    return (f"This sweep stopped: a sweep may hold a trainer for at most {_span(budget_seconds)} on this server, paused time "
            "included, as a run may. Its models' weights so far are kept; sweep again to go on.")


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
    stopped_by_visitor: bool = False  # its handle's stop (or cancel) was called: a "stopped" the visitor asked for

    @property
    def limited(self) -> bool:
        """Stopped by the server, not by the visitor: a budget of steps or seconds, or no page watched it."""
        return self.status == "stopped" and not self.stopped_by_visitor

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def epoch(self) -> int:
        return int(self.history[-1]["epoch"]) if self.history else 0


@dataclass
class TrainingJob:
    """One job as the server sees it. Every field is read and written under ``lock``."""

    id: int
    owner: str
    payload: dict[str, Any]
    history: list[dict] = field(default_factory=list)
    address: str | None = None  # the client address it came from, where known (the bound of waiting jobs per address)
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
    worker: Any = None  # the executor's slot running it (a worker process, a Ray actor)
    stop_reason: str = ""  # the sentence the server gave when it stopped the job itself (a budget)
    cancelled: bool = False
    stopped_by_visitor: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    done_event: threading.Event = field(default_factory=threading.Event)
    snapshots: list[dict[str, Any]] = field(default_factory=list)  # the views sent, for the replay (bounded)
    snapshot_bytes: int = 0
    lr_changes: tuple[tuple[int, float], ...] = ()

    @property
    def kind(self) -> str:
        return str(self.payload.get("kind", "run"))

    def snapshot(self, queue_position: int = 0) -> JobView:
        with self.lock:
            end = self.ended or time.monotonic()
            return JobView(
                id=self.id, status=self.status, history=list(self.history), view=self.view, message=self.message,
                detail=self.detail, info=dict(self.info), final_state=self.final_state, stats=dict(self.stats),
                queue_position=queue_position, elapsed_s=(end - self.started) if self.started else 0.0,
                snapshots=tuple(self.snapshots), lr_changes=self.lr_changes,
                stopped_by_visitor=self.stopped_by_visitor or self.cancelled,
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
            if self.cancelled:
                status, message, self.final_state = "stopped", CANCELLED_SENTENCE, None
            elif status == "stopped" and not message and self.stop_reason:
                message = self.stop_reason
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


class Executor(Protocol):
    """What a handle asks of the executor that runs its job (``executor.Executor`` is one), named here so that this
    module, below the executors, imports none of them."""

    def queue_position(self, job: TrainingJob) -> int: ...

    def control(self, job: TrainingJob, kind: str, value: Any = None) -> None: ...

    def cancel(self, job: TrainingJob) -> None: ...


class TrainingHandle:
    """What a session keeps in ``st.session_state``: its job, and the controls. When the session's state
    is dropped (the session is gone), the finalizer stops the job and frees its worker for others."""

    def __init__(self, job: TrainingJob, executor: Executor) -> None:
        self.job = job
        self.pool = executor  # the old name, kept for callers that read it
        self._finalizer = weakref.finalize(self, _abandon, executor, job)

    @property
    def executor(self) -> Executor:
        return self.pool

    @property
    def id(self) -> int:
        return self.job.id

    def snapshot(self) -> JobView:
        """The job as it is now; also tells the executor someone is still watching."""
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
        """Stop now and keep the model as it is (a stopped run keeps its weights)."""
        if self.job.status in ACTIVE:  # one that ended already keeps how it ended
            self.job.stopped_by_visitor = True
        self.pool.control(self.job, "stop")

    def cancel(self) -> None:
        """Stop now and keep nothing: the run ends "stopped" with no weights."""
        self.pool.cancel(self.job)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (tests and the benchmark); True if it did."""
        return self.job.done_event.wait(timeout)


def _abandon(executor: Executor, job: TrainingJob) -> None:
    if job.status in ACTIVE:
        executor.control(job, "stop")


def _numpy(value: Any) -> np.ndarray:
    """Tensors travel to the worker as NumPy arrays (plain pickles, no shared-memory handles)."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def run_payload(
    config: RunConfig,
    tensors: dict[str, Any],
    initial_state: dict[str, Any] | None = None,
    history: list[dict] | None = None,
    plane_features: tuple[str, ...] | None = None,
    standardization: dict[str, list[float]] | None = None,
    start_paused: bool = False,
    speed: float | None = None,
) -> dict[str, Any]:
    """The payload of a "run" job: what the worker needs to train ``config`` on ``tensors``."""
    return {
        "kind": "run",
        "device": config.train.device,
        "config": config.to_dict(),
        "tensors": {k: _numpy(v) for k, v in tensors.items()},
        "initial_state": {k: _numpy(v) for k, v in initial_state.items()} if initial_state else None,
        "epoch_offset": int(history[-1]["epoch"]) if history else 0,
        "plane_features": tuple(plane_features) if plane_features else None,
        "standardization": standardization,
        "start_paused": start_paused,
        "speed": speed,  # epochs a second at most (None: as fast as it goes)
    }


def sweep_payload(
    sweep: SweepConfig,
    tensors: dict[str, Any],
    plane_features: tuple[str, ...] | None = None,
    standardization: dict[str, list[float]] | None = None,
    start_paused: bool = False,
    speed: float | None = None,
) -> dict[str, Any]:
    """The payload of a "sweep" job: every member of ``sweep`` trained together on ``tensors``, on the base run's
    device (``choose_device`` picks it on the page)."""
    return {
        "kind": "sweep",
        "device": sweep.base.train.device,
        "sweep": sweep.to_dict(),
        "tensors": {k: _numpy(v) for k, v in tensors.items()},
        "plane_features": tuple(plane_features) if plane_features else None,
        "standardization": standardization,
        "start_paused": start_paused,
        "speed": speed,
    }
