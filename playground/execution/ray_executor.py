"""The Ray executor: each job runs in a Ray actor of a cluster, for a class server beyond one machine.

Chosen where ``PLAYGROUND_RAY_ADDRESS`` names a cluster (``ray://`` is not needed: the app server joins
the cluster as a driver, e.g. ``127.0.0.1:6379``). ``ray`` is optional (``requirements-cluster.txt``)
and imported only here, on first use.

An actor asks Ray for one CPU, and for ``limits.RAY_GPU_PER_JOB`` of a GPU when the job's device is CUDA
(Ray then shows it that GPU as ``cuda:0``). Inside, the same ``worker.run_job`` runs as in a local worker
process, in a thread; the two connections are queues. The app server drains progress with ``take`` (a
call that waits until there are messages, at most ``TAKE_WAIT_S``), so progress streams back as it does
from a pipe; play, pause, step and stop are ``send`` calls, executed in order (one thread serves them).
An actor that dies (killed, out of memory, its machine gone) ends ``take`` with an error: its job fails
with a sentence and the session can train again. A few actors are kept warm between jobs
(``limits.RAY_IDLE_ACTORS``): an actor's start (a Python process importing torch) takes seconds; an idle
actor beyond that is released at once (one started for a queued job that another actor took, too).

A class server's replicas survive their cluster's head: a watcher notices the head gone (its port closed),
ends every job on it with a sentence and leaves the cluster at once (a driver left joined to a dead head is
ended by Ray after a minute, the whole replica with it); the next submit or page view joins it again once
it is back. Where the replicas share a PostgreSQL run store (``PLAYGROUND_STORE_URL``), one training per
owner holds across all of them (``store_postgres.OwnerClaims``).
"""

from __future__ import annotations

import collections
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from playground import limits
from playground.errors import PlaygroundError
from playground.execution.executor import BUSY_OWNER_SENTENCE, Executor
from playground.execution.jobs import DIED_SENTENCE, JobBudget, TrainingHandle
from playground.runs.store import STORE_URL_ENV

TAKE_WAIT_S = 0.25  # a drain call returns at once when there are messages, else after this long
START_TIMEOUT_S = 300.0  # an actor not ready by then (no room in the cluster) is given up; its job waits on
CONNECT_TIMEOUT_S = 15.0  # joining the cluster: a submit waits this long at most, then says it cannot
NAMESPACE = "playground"
ROOT = Path(__file__).resolve().parents[2]  # the checkout: put on the actors' path (same path on every machine)
UNREACHABLE_SENTENCE = "The training cluster cannot be reached; try again in a moment, or tell the administrator."
NO_GPU_SENTENCE = "The training cluster has no GPU; choose the CPU as the device."
CUT_OFF_SENTENCE = ("Your last training stopped when the server running it restarted, so its weights were not "
                    "kept; train again.")
HEAD_LOST_SENTENCE = ("The training cluster restarted while this model trained, so its training stopped; "
                      "train again in a moment.")
WATCH_INTERVAL_S = 1.0  # how often a joined replica checks that the cluster's head still answers
WATCH_MISSES = 3  # checks in a row that find the head gone before the replica leaves the cluster


def owner_claims_from_env() -> Any:
    """The cluster-wide owner claims where the replicas share a PostgreSQL store, else None (each replica's
    own rule then holds)."""
    url = os.environ.get(STORE_URL_ENV, "").strip()
    if not url:
        return None
    from playground.runs.store_postgres import OwnerClaims

    return OwnerClaims(url)


class QueueConnection:
    """The part of a multiprocessing Connection the worker uses (send, poll, recv), over an in-process queue."""

    def __init__(self) -> None:
        self.items: collections.deque = collections.deque()
        self.condition = threading.Condition()

    def send(self, message: Any) -> None:
        with self.condition:
            self.items.append(message)
            self.condition.notify_all()

    def poll(self, timeout: float | None = 0.0) -> bool:
        with self.condition:
            if not self.items and timeout:
                self.condition.wait_for(lambda: bool(self.items), timeout)
            return bool(self.items)

    def recv(self) -> Any:
        with self.condition:
            self.condition.wait_for(lambda: bool(self.items))
            return self.items.popleft()

    def take(self, timeout: float) -> list:
        """Every message waiting (after waiting up to ``timeout`` for the first)."""
        with self.condition:
            if not self.items:
                self.condition.wait_for(lambda: bool(self.items), timeout)
            items = list(self.items)
            self.items.clear()
            return items


class JobActorBody:
    """What a job's Ray actor does (made a Ray actor class by ``actor_class``): warm up once, then run jobs
    with ``worker.run_job`` in a thread, fed by ``send`` and drained by ``take``."""

    def __init__(self) -> None:
        from playground.execution.worker_start import lower_priority

        lower_priority()  # the web server comes first; training takes the rest
        from playground.execution.worker import prepare_process

        prepare_process()
        self.control = QueueConnection()
        self.progress = QueueConnection()
        self.thread: threading.Thread | None = None

    def ready(self) -> int:
        return os.getpid()

    def start(self, job_id: int, payload: dict[str, Any]) -> None:
        self.thread = threading.Thread(target=self._run, args=(job_id, payload), name="playground-job", daemon=True)
        self.thread.start()

    def _run(self, job_id: int, payload: dict[str, Any]) -> None:
        from playground.execution.worker import run_job

        try:
            run_job(job_id, payload, self.control, self.progress)
        except SystemExit:  # told to quit: the actor is being retired
            pass

    def send(self, message: tuple) -> None:
        self.control.send(message)

    def take(self, timeout: float) -> list:
        return self.progress.take(timeout)


_ACTOR_CLASS = None


def actor_class():
    """``JobActorBody`` as a Ray actor class: ``take`` has a thread of its own, so draining progress never
    waits behind a control call, and control calls (one thread) run in the order they were sent."""
    global _ACTOR_CLASS
    if _ACTOR_CLASS is None:
        import ray

        class JobActor(JobActorBody):
            @ray.method(concurrency_group="progress")
            def take(self, timeout: float) -> list:
                return self.progress.take(timeout)

        _ACTOR_CLASS = ray.remote(concurrency_groups={"progress": 1})(JobActor)
    return _ACTOR_CLASS


class _RaySlot:
    """One job actor on the cluster and the thread that drains its progress."""

    def __init__(self, executor: RayExecutor, shape: str | None) -> None:
        self.executor = executor
        self.shape = shape
        self.job = None
        self.alive = True
        self.retired = False
        self.ready = threading.Event()
        self.actor = None
        self.pid: int | None = None
        self.thread = threading.Thread(target=self._drain, name="playground-ray-drain", daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        ray = self.executor.ray
        try:
            if ray is None:  # the cluster went away before this slot started
                raise ConnectionError(f"not joined to the Ray cluster at {self.executor.address}")
            gpus = limits.RAY_GPU_PER_JOB if self.shape == "gpu" else 0
            self.actor = actor_class().options(
                num_cpus=1, num_gpus=gpus, max_restarts=0, max_task_retries=0, namespace=NAMESPACE,
                runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
            ).remote()
            self.pid = ray.get(self.actor.ready.remote(), timeout=START_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure to start is the same sentence to the user
            if type(exc).__name__ == "GetTimeoutError":  # no room in the cluster yet: queued jobs wait on
                self.retired = True
                self.kill()
            self.executor._on_slot_exit(self, detail=f"{type(exc).__name__}: {exc}"[:600])
            return
        self.executor._on_message(self, ("ready", None, self.pid))
        while not self.retired:
            try:
                messages = ray.get(self.actor.take.remote(TAKE_WAIT_S))
            except Exception:  # noqa: BLE001 - the actor died (RayActorError and kin) or the cluster went away
                break
            for message in messages:
                self.executor._on_message(self, message)
        self.alive = False
        head_gone = not self.retired and self.executor._head_port() is not None and not self.executor._head_answers()
        self.executor._on_slot_exit(self, sentence=HEAD_LOST_SENTENCE if head_gone else DIED_SENTENCE)

    def start(self, job_id: int, payload: dict[str, Any]) -> None:
        if self.shape == "gpu":
            payload = dict(payload, device_override="cuda:0")  # the one GPU Ray shows this actor
        self.send(("start", job_id, payload))

    def send(self, message: tuple) -> None:
        if self.actor is None:
            return
        try:
            if message[0] == "start":
                self.actor.start.remote(message[1], message[2])
            else:
                self.actor.send.remote(message)
        except Exception:  # noqa: BLE001 - a dead actor: the drain thread reports it
            pass

    def retire(self) -> None:
        self.retired = True
        self.kill()

    def kill(self) -> None:
        if self.actor is not None:
            try:
                self.executor.ray.kill(self.actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass


class RayExecutor(Executor):
    """Jobs on a Ray cluster: at most ``max_workers`` actors of this app server at once, more queued in order
    (Ray itself holds an actor back while the cluster has no free CPU or GPU for it)."""

    def __init__(self, address: str = "auto", max_workers: int = limits.MAX_RAY_TRAININGS,
                 max_queued: int = limits.MAX_QUEUED_JOBS, budget: JobBudget | None = None,
                 keep_idle: int = limits.RAY_IDLE_ACTORS) -> None:
        self.address = address
        self.ray: Any = None
        self.connect_lock = threading.Lock()
        self.joining: threading.Thread | None = None
        self.join_error: BaseException | None = None
        self.prewarm_wanted = 0  # actors a page asked to have warm before the cluster was joined
        self.generation = 0  # counts joins and leaves: a watcher of an earlier join stops
        self.leaving = False
        self.claims = owner_claims_from_env()
        super().__init__(max_workers, max_queued=max_queued, budget=budget, keep_idle=keep_idle)

    def submit_job(self, payload: dict[str, Any], owner: str, history: list[dict] | None = None,
                   address: str | None = None) -> TrainingHandle:
        """As every executor, and where the replicas share PostgreSQL, one training per owner across all of them:
        the owner's claim is taken first and held until the job ends."""
        claim = None
        if self.claims is not None:
            claim = self.claims.claim(owner)
            if claim is False:
                raise PlaygroundError(BUSY_OWNER_SENTENCE)
        try:
            handle = super().submit_job(payload, owner, history, address)
        except BaseException:
            if claim:
                self.claims.release(claim)
            raise
        if claim:
            threading.Thread(target=self._hold, args=(handle.job, claim), name="playground-owner-claim",
                             daemon=True).start()
        return handle

    def cut_off(self, owner: str) -> str | None:
        """A sentence, once, when ``owner``'s last training was cut off by its server's death (another replica, or
        this one before a restart); None otherwise, and always without a shared PostgreSQL store."""
        if self.claims is not None and self.claims.cut_off(owner):
            return CUT_OFF_SENTENCE
        return None

    def _hold(self, job, claim: Any) -> None:
        job.done_event.wait()
        self.claims.release(claim)

    def _on_message(self, worker: Any, message: tuple) -> None:
        super()._on_message(worker, message)
        if message[0] == "ready":
            self._trim_idle()

    def _trim_idle(self) -> None:
        """Idle actors beyond ``keep_idle`` while nothing waits are released (each holds a CPU of the cluster)."""
        with self.lock:
            if self.keep_idle is None or self.queue:
                return
            idle = [w for w in self.workers if w.job is None and not w.retired and w.ready.is_set()]
            for worker in idle[self.keep_idle:]:
                self._retire(worker)

    def _probe(self) -> None:
        """A cluster address (host:port) that refuses connections is said at once, not after Ray's retries."""
        host, _, port = self.address.rpartition(":")
        if not host or not port.isdigit() or host.startswith(("ray://", "auto", "local")):
            return
        try:
            with socket.create_connection((host, int(port)), timeout=3):
                pass
        except OSError as exc:
            raise PlaygroundError(UNREACHABLE_SENTENCE, f"{self.address}: {exc}"[:600]) from exc

    def _join(self, ray) -> None:
        try:
            if not ray.is_initialized():
                ray.init(address=self.address, namespace=NAMESPACE, log_to_driver=False, configure_logging=False)
        except BaseException as exc:  # noqa: BLE001 - ConnectionError and kin, said by connect()
            self.join_error = exc
            return
        self.ray = ray
        self.generation += 1
        with self.lock:
            self._assign()  # jobs queued while the cluster was away start now
        if self._head_port() is not None:
            threading.Thread(target=self._watch, args=(self.generation,), name="playground-ray-watch",
                             daemon=True).start()
        if self.prewarm_wanted:  # warm the actors a page asked for while the cluster was being joined
            super().prewarm(self.prewarm_wanted)

    def _head_port(self) -> tuple[str, int] | None:
        host, _, port = self.address.rpartition(":")
        if not host or not port.isdigit() or host.startswith(("ray://", "auto", "local")):
            return None
        return host, int(port)

    def _head_answers(self) -> bool:
        try:
            with socket.create_connection(self._head_port(), timeout=2):
                return True
        except OSError:
            return False

    def _watch(self, generation: int) -> None:
        """While joined: when the head stops answering (``WATCH_MISSES`` checks in a row), leave the cluster."""
        misses = 0
        while not self.closed and self.generation == generation and self.ray is not None:
            time.sleep(WATCH_INTERVAL_S)
            misses = 0 if self._head_answers() else misses + 1
            if misses >= WATCH_MISSES:
                self._leave()
                return

    def _leave(self) -> None:
        """The head is gone: every job on the cluster ends with a sentence, the queue waits, and this process
        leaves the cluster (``ray.shutdown``) before Ray would end it; the next submit joins again."""
        with self.connect_lock:
            ray, self.ray = self.ray, None
            self.generation += 1
            self.leaving = True  # no join until Ray has been left
        with self.lock:
            slots = list(self.workers)
            self.workers.clear()
        for slot in slots:
            slot.retired = True
            job = slot.job
            slot.job = None
            if job is not None:
                with self.lock:
                    self.jobs.pop(job.id, None)
                job.finish("failed", HEAD_LOST_SENTENCE, f"the Ray head at {self.address} stopped answering")
        if ray is not None:
            done = threading.Event()

            def shutdown() -> None:
                try:
                    ray.shutdown()
                except Exception:  # noqa: BLE001 - leaving a dead cluster: nothing to report
                    pass
                done.set()

            threading.Thread(target=shutdown, name="playground-ray-leave", daemon=True).start()
            done.wait(45)
        self.leaving = False
        threading.Thread(target=self._rejoin, name="playground-ray-rejoin", daemon=True).start()

    def _rejoin(self) -> None:
        """Join the cluster again once its head answers (queued jobs then start)."""
        while not self.closed and self.ray is None:
            if self._head_answers():
                try:
                    self.connect()
                except PlaygroundError:
                    pass
            time.sleep(WATCH_INTERVAL_S)

    def _assign(self) -> None:
        """As every executor, but only while joined: queued jobs wait while the cluster is away (a slot made
        then would have Ray start a cluster of its own in this process)."""
        if self.ray is None:
            return
        super()._assign()

    def connect(self, wait: float = CONNECT_TIMEOUT_S) -> bool:
        """Join the cluster (once). Raises a sentence if Ray is missing, the cluster cannot be reached, or it
        has not answered within ``wait`` seconds (``ray.init`` retries for long; it goes on in the
        background and a later call finds it done). Returns True once joined."""
        with self.connect_lock:
            if self.ray is not None:
                return True
            if self.leaving:
                if not wait:
                    return False
                raise PlaygroundError(UNREACHABLE_SENTENCE, f"the Ray head at {self.address} restarts")
            try:
                import ray
            except ImportError as exc:
                raise PlaygroundError("This server is set to train on a Ray cluster, but Ray is not installed; "
                                      "tell the administrator.", str(exc)) from exc
            if self.joining is None:
                self._probe()
                self.join_error = None
                self.joining = threading.Thread(target=self._join, args=(ray,), name="playground-ray-join", daemon=True)
                self.joining.start()
            self.joining.join(wait)
            if self.joining.is_alive():
                if not wait:
                    return False
                raise PlaygroundError(UNREACHABLE_SENTENCE, f"no answer from the Ray cluster at {self.address} in "
                                                            f"{wait:.0f} s")
            self.joining = None
            if self.join_error is not None:
                exc = self.join_error
                raise PlaygroundError(UNREACHABLE_SENTENCE, f"{type(exc).__name__}: {exc}"[:600]) from exc
            return True

    def prewarm(self, count: int = 1) -> None:
        """Start joining the cluster without waiting (a page calls this on every view), and once joined,
        have ``count`` actors warm."""
        self.prewarm_wanted = max(self.prewarm_wanted, count)
        try:
            if not self.connect(wait=0):
                return  # joining goes on in the background, and warms the actors once joined
        except PlaygroundError:
            return  # the first submit says why
        super().prewarm(count)

    def _shape(self, payload: dict[str, Any]) -> str | None:
        return "gpu" if str(payload.get("device", "cpu")).startswith("cuda") else None

    def _check_payload(self, payload: dict[str, Any]) -> None:
        self.connect()
        if self._shape(payload) == "gpu":
            try:
                gpus = float(self.ray.cluster_resources().get("GPU", 0))
            except Exception as exc:  # noqa: BLE001
                raise PlaygroundError(UNREACHABLE_SENTENCE, f"{type(exc).__name__}: {exc}"[:600]) from exc
            if gpus < limits.RAY_GPU_PER_JOB:
                raise PlaygroundError(NO_GPU_SENTENCE)

    def _new_slot(self, shape: str | None) -> _RaySlot:
        return _RaySlot(self, shape)

    def cluster_resources(self) -> dict[str, float]:
        """The cluster's resources (CPU, GPU, memory), for a status line or the benchmark."""
        self.connect()
        return dict(self.ray.cluster_resources())
