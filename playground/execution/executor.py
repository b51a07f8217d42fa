"""The executor interface: where training jobs run, and the rules every place to run them keeps.

An executor takes jobs (``submit`` for a run, ``submit_job`` for any payload with a ``kind``), queues
them in order behind a cap of concurrent jobs, and hands each to a *slot*: a worker process of the local
pool (``pool.WorkerPool``, the default) or a Ray actor (``ray_executor.RayExecutor``, where
``PLAYGROUND_RAY_ADDRESS`` names a cluster). Slots stream the same messages back (see ``jobs``), so the
bookkeeping here is shared: progress, play/pause/step/stop/cancel, a slot that dies, and the bounds:

- one active job per owner (the caller's owner string: today a session, in shared mode a visitor, so
  all their tabs together);
- at most ``max_queued`` jobs wait behind the running ones, and at most ``max_queued_per_address`` of them from one
  client address (where the page noted the owner's address: a class server); one more is refused with a sentence;
- each job has a budget (``JobBudget``: optimizer steps, seconds holding a slot) that the worker enforces,
  with a server-side backstop here; a job past it stops with a sentence and keeps its weights;
- a job no page has looked at for ``limits.TRAINING_IDLE_TIMEOUT_S`` is stopped (its session is gone).

A slot has: ``job``, ``alive``, ``ready`` (an Event), ``shape`` (the resources it holds, e.g. a GPU),
``retired``, and ``start(job_id, payload)``, ``send(message)``, ``retire()``, ``kill()``. It reports its
messages with ``_on_message`` and its end with ``_on_slot_exit``.
"""

from __future__ import annotations

import gc
import itertools
import threading
import time
from typing import Any

from playground import limits
from playground.errors import PlaygroundError
from playground.execution.jobs import (
    ACTIVE,
    DIED_SENTENCE,
    DONE,
    START_FAILED_SENTENCE,
    JobBudget,
    TrainingHandle,
    TrainingJob,
    run_payload,
    seconds_sentence,
    sweep_seconds_sentence,
)
from playground.runs.owners import TRAINING_ADDRESSES, OwnerAddresses

BUDGET_GRACE_S = 10.0  # the server stops a job itself this long after its worker should have
BUSY_OWNER_SENTENCE = ("You are already training a model (in this tab or another); stop that run before "
                       "starting another.")
RAY_ADDRESS_ENV = "PLAYGROUND_RAY_ADDRESS"


def address_queue_sentence(per_address: int) -> str:
    """Said when the runs waiting from one client address are at their bound."""
    return (f"{per_address} runs from your network address already wait for a free trainer, the most one address may "
            "have waiting; try again when one of them has started.")


def queue_full_sentence(max_queued: int) -> str:
    """Said when every trainer is taken and ``max_queued`` runs already wait."""
    return (f"The server is busy: every trainer is taken and the queue of waiting runs is full ({max_queued} at "
            "most). Try again in a minute or two.")


class Executor:
    """The shared part of every executor: jobs, the queue, owners, budgets and the slots' messages.

    Subclasses say how a slot is made (``_new_slot``), which slots fit a job (``_shape``), and may check a
    payload before it is queued (``_check_payload``). ``keep_idle``: idle slots kept after a job ends
    (None keeps them all, as the local pool does; a cluster keeps few, since an idle actor holds resources).
    """

    def __init__(
        self,
        max_workers: int,
        max_queued: int = limits.MAX_QUEUED_JOBS,
        budget: JobBudget | None = None,
        keep_idle: int | None = None,
        max_queued_per_address: int = limits.MAX_QUEUED_JOBS_PER_ADDRESS,
        addresses: OwnerAddresses = TRAINING_ADDRESSES,
    ) -> None:
        self.max_workers = max_workers
        self.max_queued = max_queued
        self.max_queued_per_address = max_queued_per_address
        self.addresses = addresses  # where each owner's page came from (noted by the page, read at submit)
        self.budget = budget or JobBudget()
        self.keep_idle = keep_idle
        self.lock = threading.RLock()
        self.workers: list[Any] = []  # the slots (the name the local pool always had)
        self.queue: list[TrainingJob] = []
        self.jobs: dict[int, TrainingJob] = {}
        self.ids = itertools.count(1)
        self.closed = False
        self.failed_starts = 0
        self.reaper = threading.Thread(target=self._reap, name="playground-jobs-reaper", daemon=True)
        self.reaper.start()

    # ---------------------------------------------------------------- for subclasses
    def _new_slot(self, shape: Any) -> Any:
        raise NotImplementedError

    def _shape(self, payload: dict[str, Any]) -> Any:
        """The kind of slot a job needs (None: any slot)."""
        return None

    def _check_payload(self, payload: dict[str, Any]) -> None:
        """Refuse a job this executor cannot run, with a sentence (before it is queued)."""

    # ---------------------------------------------------------------- public
    def prewarm(self, count: int = 1) -> None:
        """Have at least ``count`` slots (busy or idle) started, so the first Play does not wait for Python
        and torch to import. It never adds slots beside busy ones: a spare would take CPU from training."""
        with self.lock:
            if self.closed:
                return
            while len(self.workers) < min(count, self.max_workers):
                self.workers.append(self._new_slot(None))

    def submit(
        self,
        config,
        tensors: dict[str, Any],
        owner: str,
        initial_state: dict[str, Any] | None = None,
        history: list[dict] | None = None,
        plane_features: tuple[str, ...] | None = None,
        standardization: dict[str, list[float]] | None = None,
        start_paused: bool = False,
        speed: float | None = None,
    ) -> TrainingHandle:
        """Queue a run of ``config`` (a RunConfig) on ``tensors``; returns the handle the session keeps."""
        payload = run_payload(config, tensors, initial_state, history, plane_features, standardization, start_paused,
                              speed)
        return self.submit_job(payload, owner, history=history)

    def submit_job(self, payload: dict[str, Any], owner: str, history: list[dict] | None = None,
                   address: str | None = None) -> TrainingHandle:
        """Queue any job (``payload["kind"]`` picks the worker's runner). One active job per owner; the queue
        is bounded, and so are the jobs waiting from one client ``address`` (by default the address the page
        noted for ``owner``); the job carries its budget."""
        address = address if address is not None else self.addresses.get(owner)
        payload = dict(payload)
        payload.setdefault("kind", "run")
        payload["budget"] = self.budget.to_dict()
        self._check_payload(payload)
        with self.lock:
            if self.closed:
                raise PlaygroundError("The training service is shutting down; try again in a moment.")
            mine = [j for j in self.jobs.values() if j.owner == owner and j.status in ACTIVE]
            if len(mine) >= limits.MAX_TRAININGS_PER_OWNER:
                raise PlaygroundError(BUSY_OWNER_SENTENCE)
            running = sum(1 for w in self.workers if w.job is not None)
            if running + len(self.queue) >= self.max_workers + self.max_queued:
                raise PlaygroundError(queue_full_sentence(self.max_queued))
            if address is not None and sum(1 for j in self.queue if j.address == address) >= self.max_queued_per_address:
                raise PlaygroundError(address_queue_sentence(self.max_queued_per_address))
            job = TrainingJob(id=next(self.ids), owner=owner, payload=payload, history=list(history or []),
                              address=address)
            self.jobs[job.id] = job
            self.queue.append(job)
            self.failed_starts = 0
            self._assign()
        return TrainingHandle(job, self)

    def control(self, job: TrainingJob, kind: str, value: Any = None) -> None:
        """play, pause, step, stop, speed (epochs a second, or None) or lr: sent to the job's slot (a queued
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

    def cancel(self, job: TrainingJob) -> None:
        """Stop a job and keep nothing of it (no weights)."""
        with job.lock:
            if job.status in DONE:
                return
            job.cancelled = True
        self.control(job, "stop")

    def queue_position(self, job: TrainingJob) -> int:
        with self.lock:
            return self.queue.index(job) + 1 if job in self.queue else 0

    def live_count(self) -> int:
        """Jobs training or waiting (queued, paused) on this server, every owner's: how crowded its pages are."""
        with self.lock:
            return sum(1 for j in self.jobs.values() if j.status in ACTIVE)

    def active_count(self) -> int:
        with self.lock:
            return sum(1 for w in self.workers if w.job is not None)

    def shutdown(self) -> None:
        with self.lock:
            self.closed = True
            workers = list(self.workers)
            queued = list(self.queue)
            self.queue.clear()
        for job in queued:
            job.finish("stopped")
        for worker in workers:
            worker.retired = True
            worker.send(("quit",))
        for worker in workers:
            worker.retire()

    # ---------------------------------------------------------------- internals
    def _assign(self) -> None:
        """Give queued jobs, in order, to idle ready slots that fit them, starting slots up to the cap
        (call under lock)."""
        while self.queue and not self.closed:
            job = self.queue[0]
            shape = self._shape(job.payload)
            idle = [w for w in self.workers if w.job is None and w.alive and not w.retired]
            worker = next((w for w in idle if w.ready.is_set() and w.shape == shape), None)
            if worker is None:
                starting = [w for w in idle if not w.ready.is_set() and w.shape == shape]
                waiting = sum(1 for j in self.queue if self._shape(j.payload) == shape)
                if len(starting) >= waiting:
                    return
                if len(self.workers) >= self.max_workers:
                    other = next((w for w in idle if w.shape != shape), None)
                    if other is None:
                        return
                    self._retire(other)  # an idle slot of another shape makes room (e.g. CPU for a GPU job)
                self.workers.append(self._new_slot(shape))
                continue
            self.queue.pop(0)
            worker.job = job
            with job.lock:
                job.worker = worker
                job.status = "starting"
                job.started = time.monotonic()
                payload = job.payload
            worker.start(job.id, payload)

    def _retire(self, worker: Any) -> None:
        """Take an idle slot out of service (call under lock)."""
        worker.retired = True
        if worker in self.workers:
            self.workers.remove(worker)
        threading.Thread(target=worker.retire, name="playground-slot-retire", daemon=True).start()

    def _on_message(self, worker: Any, message: tuple) -> None:
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
                if self.keep_idle is not None and not self.queue:
                    idle = [w for w in self.workers if w.job is None and not w.retired]
                    if len(idle) > self.keep_idle:
                        self._retire(worker)
                self._assign()

    def _on_slot_exit(self, worker: Any, sentence: str = DIED_SENTENCE, detail: str | None = None,
                      start_sentence: str = START_FAILED_SENTENCE) -> None:
        """A slot ended (its process died, its actor was lost, or it was retired). Its job fails with
        ``sentence``; if slots cannot start at all, the queued jobs fail with ``start_sentence``."""
        failed: list[TrainingJob] = []
        with self.lock:
            if worker in self.workers:
                self.workers.remove(worker)
            job = worker.job
            worker.job = None
            worker.alive = False
            if job is not None:
                self.jobs.pop(job.id, None)
                failed.append(job)
            if not worker.ready.is_set() and not worker.retired:
                self.failed_starts += 1
                if self.failed_starts >= 2:  # slots cannot start at all: say so instead of retrying forever
                    failed.extend(self.queue)
                    for queued in self.queue:
                        self.jobs.pop(queued.id, None)
                    self.queue.clear()
        for dead in failed:
            dead.finish("failed", sentence if dead is job else start_sentence, detail)
        worker.kill()
        with self.lock:
            if not self.closed:
                self._assign()

    def _reap(self) -> None:
        """Stop jobs no page has looked at for a long time (their session is gone or forgotten), and jobs
        past their time budget whose worker did not stop them itself."""
        last_collect = time.monotonic()
        while not self.closed:
            time.sleep(2.0)
            now = time.monotonic()
            with self.lock:
                unseen = any(j.status in ACTIVE and now - j.last_seen > limits.UNSEEN_COLLECT_S for j in self.jobs.values())
            if unseen and now - last_collect > limits.UNSEEN_COLLECT_S:
                # The app runs with runner.postScriptGC off (a full collection after every script run cost most
                # of a core while pages refresh), so a session Streamlit dropped waits here for the cycle
                # collector; its handle's finalizer then stops its job. Only while some job goes unseen.
                gc.collect()
                last_collect = now = time.monotonic()
            with self.lock:
                stale = [j for j in self.jobs.values() if j.status in ACTIVE and now - j.last_seen > limits.TRAINING_IDLE_TIMEOUT_S]
                late = [j for j in self.jobs.values() if j.status in ACTIVE and j.started is not None and j not in self.queue
                        and now - j.started > self.budget.seconds + BUDGET_GRACE_S]
            for job in late:
                with job.lock:
                    sentence = sweep_seconds_sentence if job.payload.get("kind") == "sweep" else seconds_sentence
                    job.stop_reason = job.stop_reason or sentence(self.budget.seconds)
            for job in stale + late:
                self.control(job, "stop")
