"""One session's training job, a run or a sweep: started, owned, polled, played, paused, stepped and stopped, said
in words, and once it has ended its result kept. The Model Builder and the Sweeps pages each keep one
``JobController`` in their session state and only draw it and call it. No Streamlit here, and nothing heavy (the
Model Builder's control bar reads it before torch is imported).

The job itself is the executor's (``executor.Executor.submit_job``); its state is the ``JobView`` its handle's
``snapshot`` returns. What the page must do is typed: a press gives an ``Outcome`` (start a job, or redraw), an
ended job an ``Ending``."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from playground.execution.jobs import JobView


class JobKind(Enum):
    RUN = "run"
    SWEEP = "sweep"


class Press(Enum):
    """A button of a control bar."""

    PLAY = "play"
    PAUSE = "pause"
    STEP = "step"
    STOP = "stop"
    AGAIN = "again"  # a new job of the setup, whatever ran before
    RESET = "reset"  # stop, and forget the job and its result


class Outcome(Enum):
    """What a press asks of the page."""

    NOTHING = "nothing"  # no press, or one that does not apply now (Stop with no job)
    SENT = "sent"  # the job was told (or forgotten): redraw
    START_RUN = "start run"  # start a job that trains at once
    START_STEP = "start step"  # start a job that trains one epoch and pauses


class Ending(Enum):
    """How an ended job ended."""

    FINISHED = "finished"
    STOPPED = "stopped"  # by the visitor
    LIMITED = "limited"  # by the server: a budget of steps or seconds
    DIVERGED = "diverged"
    FAILED = "failed"


PLAYING = ("queued", "starting", "running", "pausing")  # statuses in which the bar offers Pause
# How long the page run that started a job waits for its first epoch, so that run draws it: the epoch line's next
# redraw comes only after the browser has drawn the whole page (bench/RESULTS.md, "First visit").
FIRST_EPOCH_WAIT_S = 0.5
STATUS_LABELS = {"queued": "waiting for a free trainer", "starting": "starting", "running": "training",
                 "pausing": "pausing", "paused": "paused", "finished": "finished", "stopped": "stopped",
                 "diverged": "diverged", "failed": "failed"}
SWEEP_LABELS = STATUS_LABELS | {"diverged": "every model diverged"}


class Handle(Protocol):
    """What the controller asks of a job's handle (``jobs.TrainingHandle`` is one)."""

    @property
    def id(self) -> int: ...

    def snapshot(self) -> JobView: ...

    def touch(self) -> None: ...

    def play(self) -> None: ...

    def pause(self) -> None: ...

    def step(self) -> None: ...

    def stop(self) -> None: ...

    def set_speed(self, epochs_per_second: float | None) -> None: ...

    def set_lr(self, lr: float) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Submitter(Protocol):
    """What the controller asks of an executor (``executor.Executor`` is one)."""

    def submit_job(self, payload: dict[str, Any], owner: str, history: list[dict] | None = None) -> Handle: ...


@dataclass
class JobController:
    """A session's one job of a page, what it was started with, and its kept result."""

    kind: JobKind
    handle: Handle | None = None
    spec: Any = None  # what the job trains: a RunConfig or a SweepConfig
    data: Any = None  # the prepared data it trains on
    offset: int = 0  # epochs trained before this job (a run resumed from a trained model)
    collected: int | None = None  # the id of the ended job whose result is kept
    result: Any = None  # what the page made of it once it ended (a run's record)

    # ---- polling
    def view(self) -> JobView | None:
        """The job as it is now (and a sign to the executor that a page still watches it); None before a job."""
        return self.handle.snapshot() if self.handle is not None else None

    def touch(self) -> None:
        if self.handle is not None:
            self.handle.touch()

    def active(self) -> bool:
        view = self.view()
        return view is not None and view.active

    def playing(self) -> bool:
        view = self.view()
        return view is not None and view.active and view.status in PLAYING

    # ---- starting and controlling
    def start(self, executor: Submitter, payload: dict[str, Any], owner: str, *, spec: Any, data: Any,
              history: list[dict] | None = None, step: bool = False) -> Handle:
        """Stop this controller's job, if any, and submit ``payload`` as its new one (``step``: then train one
        epoch; the payload must start paused). Raises the executor's PlaygroundError (busy, queue full)
        unchanged, leaving the controller as it was but for the old job's stop."""
        if self.handle is not None:
            self.handle.stop()
        handle = executor.submit_job(payload, owner, history=history)
        self.handle, self.spec, self.data = handle, spec, data
        self.offset = int(history[-1]["epoch"]) if history else 0
        self.collected, self.result = None, None
        if step:
            handle.step()
        return handle

    def act(self, press: Press | None, can_start: bool) -> Outcome:
        """Act on ``press``: play, pause, step or stop the job, or say that a new one must start (when
        ``can_start``: the page's setup is ready). The page then starts it (``start``) or redraws."""
        active = self.active()
        if press is Press.PLAY:
            if active:
                self.handle.play()
                return Outcome.SENT
            return Outcome.START_RUN if can_start else Outcome.NOTHING
        if press is Press.STEP:
            if active:
                self.handle.step()
                return Outcome.SENT
            return Outcome.START_STEP if can_start else Outcome.NOTHING
        if press is Press.AGAIN:
            return Outcome.START_RUN if can_start else Outcome.NOTHING
        if press is Press.PAUSE and self.handle is not None:
            self.handle.pause()
            return Outcome.SENT
        if press is Press.STOP and self.handle is not None:
            self.handle.stop()  # the worker stops between two steps; the status says so when it has
            self.handle.wait(0.5)
            return Outcome.SENT
        if press is Press.RESET:
            self.reset()
            return Outcome.SENT
        return Outcome.NOTHING

    def wait_first_epoch(self, timeout: float = FIRST_EPOCH_WAIT_S, poll_s: float = 0.02) -> JobView | None:
        """The job once it has trained its first epoch (after those it resumed from) or ended, or as it is after
        ``timeout`` seconds (None before a job). A job waiting in the queue behind another is not waited for (its
        page says where it stands), nor a paused one."""
        deadline = time.monotonic() + timeout
        view = self.view()
        while view is not None and view.active and view.epoch <= self.offset and time.monotonic() < deadline \
                and view.status in ("queued", "starting", "running") and view.queue_position <= 1:
            time.sleep(poll_s)
            view = self.view()
        return view

    def reset(self) -> None:
        """Stop the job and forget it and its result."""
        if self.handle is not None:
            self.handle.stop()
        self.handle, self.spec, self.data, self.offset, self.collected, self.result = None, None, None, 0, None, None

    def set_speed(self, epochs_per_second: float | None) -> None:
        if self.handle is not None:
            self.handle.set_speed(epochs_per_second)

    def set_lr(self, lr: float) -> bool:
        """A new learning rate for the job training now; False when none trains."""
        if self.active():
            self.handle.set_lr(lr)
            return True
        return False

    # ---- the result
    def collect(self, make: Callable[[JobView], Any], view: JobView | None = None) -> bool:
        """Once the job has ended, keep ``make(view)`` as its result, once a job (``make`` may return None: nothing
        to keep, a failed run). True when it was collected now."""
        view = view if view is not None else self.view()
        if view is None or view.active or self.collected == view.id:
            return False
        self.result = make(view)
        self.collected = view.id  # last: a make that raised leaves the job to collect again
        return True

    # ---- in words
    def target(self, epochs: int) -> int:
        """The epoch the job ends at, counting the epochs trained before it."""
        return self.offset + epochs

    def status_label(self, status: str) -> str:
        return (SWEEP_LABELS if self.kind is JobKind.SWEEP else STATUS_LABELS).get(status, status)


def ending(view: JobView | None) -> Ending | None:
    """How the job of ``view`` ended; None while it runs (or before a job)."""
    if view is None or view.active:
        return None
    if view.status == "failed":
        return Ending.FAILED
    if view.status == "diverged":
        return Ending.DIVERGED
    if view.status == "stopped":
        return Ending.LIMITED if view.limited else Ending.STOPPED
    return Ending.FINISHED


def data_key(data_config: dict[str, Any], csv: bytes | None = None) -> str:
    """A key for prepared data: the data settings (``DataConfig.to_dict()``) and the CSV's bytes, if any."""
    csv_hash = hashlib.sha256(csv).hexdigest() if csv else ""
    return hashlib.sha256((repr(data_config) + csv_hash).encode()).hexdigest()


@dataclass
class DataCache:
    """Prepared data kept in a session so a rerun does not make it again: at most ``entries`` setups and
    ``max_bytes`` of tensors (the newest always kept)."""

    entries: int
    max_bytes: int
    kept: dict[Hashable, Any] = field(default_factory=dict)

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        if key not in self.kept:
            self.kept[key] = make()
            while len(self.kept) > self.entries or (
                    len(self.kept) > 1 and sum(getattr(d, "nbytes", 0) for d in self.kept.values()) > self.max_bytes):
                self.kept.pop(next(iter(self.kept)))
        return self.kept[key]
