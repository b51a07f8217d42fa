"""The job controller the Model Builder and the Sweeps pages share (playground/execution/controller.py), driven with
a fake executor and fake jobs: starting, owning, polling, play/pause/step/stop, how a job ended, keeping its result."""

from __future__ import annotations

import itertools

import pytest

from playground.errors import PlaygroundError
from playground.execution.controller import (
    DataCache,
    Ending,
    JobController,
    JobKind,
    Outcome,
    Press,
    data_key,
    ending,
)
from playground.execution.jobs import JobView, TrainingHandle, TrainingJob


class FakeHandle:
    """A job's handle: records the controls it was sent; its status is set by the test."""

    def __init__(self, job_id: int, status: str = "running") -> None:
        self.id = job_id
        self.status = status
        self.calls: list[str] = []
        self.stopped_by_visitor = False

    def snapshot(self) -> JobView:
        self.calls.append("snapshot")
        return JobView(id=self.id, status=self.status, history=[{"epoch": 1}], view=None, message="", detail=None,
                       info={}, final_state=None, stats={}, queue_position=0, elapsed_s=0.0,
                       stopped_by_visitor=self.stopped_by_visitor)

    def touch(self) -> None:
        self.calls.append("touch")

    def play(self) -> None:
        self.calls.append("play")

    def pause(self) -> None:
        self.calls.append("pause")

    def step(self) -> None:
        self.calls.append("step")

    def stop(self) -> None:
        self.calls.append("stop")
        if self.status not in ("finished", "stopped", "diverged", "failed"):
            self.status, self.stopped_by_visitor = "stopped", True

    def set_speed(self, epochs_per_second) -> None:
        self.calls.append(f"speed {epochs_per_second}")

    def set_lr(self, lr: float) -> None:
        self.calls.append(f"lr {lr}")

    def wait(self, timeout=None) -> bool:
        self.calls.append("wait")
        return True


class FakeExecutor:
    def __init__(self, busy: bool = False) -> None:
        self.ids = itertools.count(1)
        self.submitted: list[tuple[dict, str, list | None]] = []
        self.handles: list[FakeHandle] = []
        self.busy = busy

    def submit_job(self, payload, owner, history=None) -> FakeHandle:
        if self.busy:
            raise PlaygroundError("You are already training a model.")
        self.submitted.append((payload, owner, history))
        self.handles.append(FakeHandle(next(self.ids)))
        return self.handles[-1]


def started(kind: JobKind = JobKind.RUN, **kwargs) -> tuple[JobController, FakeExecutor, FakeHandle]:
    control, executor = JobController(kind), FakeExecutor()
    handle = control.start(executor, {"kind": kind.value}, "visitor", spec="setup", data="data", **kwargs)
    return control, executor, handle


def test_without_a_job_a_press_asks_the_page_to_start_one_when_it_can():
    control = JobController(JobKind.RUN)
    assert control.view() is None and not control.active() and not control.playing()
    assert control.act(Press.PLAY, can_start=True) is Outcome.START_RUN
    assert control.act(Press.STEP, can_start=True) is Outcome.START_STEP
    assert control.act(Press.AGAIN, can_start=True) is Outcome.START_RUN
    for press in (Press.PLAY, Press.STEP, Press.AGAIN):
        assert control.act(press, can_start=False) is Outcome.NOTHING  # the setup is not ready
    for press in (Press.PAUSE, Press.STOP, None):
        assert control.act(press, can_start=True) is Outcome.NOTHING


def test_start_submits_the_payload_for_the_owner_and_owns_the_job():
    control, executor, handle = started(history=[{"epoch": 1}, {"epoch": 7}])
    assert executor.submitted == [({"kind": "run"}, "visitor", [{"epoch": 1}, {"epoch": 7}])]
    assert control.handle is handle and (control.spec, control.data) == ("setup", "data")
    assert control.offset == 7 and control.target(10) == 17  # a resumed run ends 10 epochs after its history
    assert control.view().id == handle.id and control.active() and control.playing()
    assert "step" not in handle.calls


def test_start_in_step_mode_trains_one_epoch():
    _, _, handle = started(step=True)
    assert handle.calls == ["step"]


def test_a_new_job_stops_the_old_one_and_forgets_its_result():
    control, executor, first = started()
    first.status = "finished"
    assert control.collect(lambda view: f"record of {view.id}")
    assert control.result == "record of 1"
    second = control.start(executor, {"kind": "run"}, "visitor", spec="other", data="data")
    assert "stop" in first.calls and control.handle is second and second.id == 2
    assert (control.collected, control.result, control.spec, control.offset) == (None, None, "other", 0)


def test_a_refused_start_leaves_the_controller_as_it_was():
    control = JobController(JobKind.SWEEP)
    with pytest.raises(PlaygroundError, match="already training"):
        control.start(FakeExecutor(busy=True), {"kind": "sweep"}, "visitor", spec="s", data="d")
    assert control.handle is None and control.spec is None


@pytest.mark.parametrize(("press", "call"), [(Press.PLAY, "play"), (Press.PAUSE, "pause"), (Press.STEP, "step"),
                                             (Press.STOP, "stop")])
def test_a_press_on_a_live_job_is_sent_to_it(press, call):
    control, _, handle = started()
    handle.calls.clear()
    assert control.act(press, can_start=False) is Outcome.SENT  # whether or not the setup is ready now
    assert call in handle.calls
    if press is Press.STOP:
        assert handle.calls[-1] == "wait"  # it waits briefly, so the redraw shows the job stopped


def test_play_on_an_ended_job_starts_a_new_one_and_again_always_does():
    control, _, handle = started()
    assert control.act(Press.AGAIN, can_start=True) is Outcome.START_RUN  # while one trains: the page starts anew
    handle.status = "finished"
    assert control.act(Press.PLAY, can_start=True) is Outcome.START_RUN
    assert control.act(Press.STEP, can_start=True) is Outcome.START_STEP
    assert "play" not in handle.calls and "step" not in handle.calls


def test_paused_is_active_but_not_playing():
    control, _, handle = started()
    handle.status = "paused"
    assert control.active() and not control.playing()


def test_reset_stops_and_forgets():
    control, _, handle = started()
    assert control.act(Press.RESET, can_start=True) is Outcome.SENT
    assert "stop" in handle.calls
    assert (control.handle, control.spec, control.data, control.collected, control.result) == (None,) * 5


def test_speed_and_learning_rate_go_to_the_job_and_the_rate_only_while_it_trains():
    control = JobController(JobKind.RUN)
    control.set_speed(3.0)  # no job: nothing to tell
    assert not control.set_lr(0.1)
    control, _, handle = started()
    control.set_speed(3.0)
    assert control.set_lr(0.1) and handle.calls[-1] == "lr 0.1" and "speed 3.0" in handle.calls
    handle.status = "finished"
    assert not control.set_lr(0.2) and "lr 0.2" not in handle.calls


def test_the_result_is_made_once_after_the_job_ends():
    control, _, handle = started()
    made = []
    assert not control.collect(lambda view: made.append(view.id))  # still training: nothing made
    handle.status = "stopped"
    assert control.collect(lambda view: made.append(view.id) or "record")
    assert not control.collect(lambda view: made.append(view.id))  # once a job
    assert made == [1] and control.result == "record" and control.collected == 1


def test_a_result_that_could_not_be_made_is_tried_again():
    control, _, handle = started()
    handle.status = "finished"

    def fails(view):
        raise PlaygroundError("The store is full.")

    with pytest.raises(PlaygroundError):
        control.collect(fails)
    assert control.collected is None
    assert control.collect(lambda view: "record") and control.result == "record"


def test_status_in_words_by_kind():
    assert JobController(JobKind.RUN).status_label("queued") == "waiting for a free trainer"
    assert JobController(JobKind.RUN).status_label("diverged") == "diverged"
    assert JobController(JobKind.SWEEP).status_label("diverged") == "every model diverged"


class FakeExecutorOfJobs:
    """Just enough of ``executor.Executor`` for a real ``TrainingHandle``: a stop ends the job as the worker would."""

    def queue_position(self, job):
        return 0

    def control(self, job, kind, value=None):
        if kind == "stop":
            job.finish("stopped")

    def cancel(self, job):
        job.cancelled = True
        job.finish("stopped")


@pytest.mark.parametrize(("finish", "expected"), [
    (lambda job, handle: job.finish("finished"), Ending.FINISHED),
    (lambda job, handle: handle.stop(), Ending.STOPPED),
    (lambda job, handle: handle.cancel(), Ending.STOPPED),
    (lambda job, handle: job.finish("stopped", "This run stopped: a run may hold a trainer ..."), Ending.LIMITED),
    (lambda job, handle: (setattr(job, "stop_reason", "a budget"), FakeExecutorOfJobs().control(job, "stop")),
     Ending.LIMITED),  # the server's own backstop stops it, not the visitor
    (lambda job, handle: job.finish("diverged", "The loss became NaN."), Ending.DIVERGED),
    (lambda job, handle: job.finish("failed", "The worker died."), Ending.FAILED),
], ids=["finished", "stopped", "cancelled", "budget", "server", "diverged", "failed"])
def test_how_a_real_job_ended_is_typed(finish, expected):
    job = TrainingJob(id=1, owner="visitor", payload={"kind": "run"}, status="running")
    handle = TrainingHandle(job, FakeExecutorOfJobs())
    assert ending(handle.snapshot()) is None  # still running
    finish(job, handle)
    assert ending(handle.snapshot()) is expected
    handle.stop()  # a stop after the end changes nothing of how it ended
    assert ending(handle.snapshot()) is expected
    assert ending(None) is None


def test_prepared_data_is_kept_bounded():
    class Data:
        def __init__(self, nbytes):
            self.nbytes = nbytes

    made = []

    def make(n):
        return lambda: made.append(n) or Data(n)

    cache = DataCache(entries=2, max_bytes=100)
    first = cache.get("a", make(10))
    assert cache.get("a", make(10)) is first and made == [10]  # kept: not made again
    cache.get("b", make(20))
    cache.get("c", make(30))
    assert list(cache.kept) == ["b", "c"]  # at most two setups, the oldest goes first
    cache.get("d", make(90))
    assert list(cache.kept) == ["d"]  # past the bytes, only the newest stays
    assert data_key({"dataset": "csv"}, b"1,2") != data_key({"dataset": "csv"}, b"1,3") != data_key({"dataset": "csv"})
    assert data_key({"dataset": "xor"}) == data_key({"dataset": "xor"})


class EpochHandle:
    """A handle whose job trains its first epoch after ``epoch_after`` polls (never, when None)."""

    def __init__(self, status="starting", epoch_after=None, queue_position=0, offset_history=()):
        self.polls, self.status, self.epoch_after = 0, status, epoch_after
        self.queue_position, self.before = queue_position, list(offset_history)

    id = 1

    def snapshot(self):
        from playground.execution.jobs import JobView

        self.polls += 1
        trained = self.epoch_after is not None and self.polls > self.epoch_after
        history = self.before + ([{"epoch": len(self.before) + 1}] if trained else [])
        return JobView(1, "running" if trained else self.status, history, None, "", None, {}, None, {},
                       self.queue_position, 0.0)


def test_wait_first_epoch_returns_once_the_first_epoch_is_trained():
    from playground.execution.controller import JobController, JobKind

    control = JobController(JobKind.RUN, handle=EpochHandle(epoch_after=3))
    view = control.wait_first_epoch(timeout=5, poll_s=0)
    assert view.epoch == 1 and control.handle.polls == 4


def test_wait_first_epoch_counts_the_epochs_a_resumed_run_starts_from():
    from playground.execution.controller import JobController, JobKind

    control = JobController(JobKind.RUN, handle=EpochHandle(epoch_after=2, offset_history=[{"epoch": 1}, {"epoch": 2}]),
                            offset=2)
    assert control.wait_first_epoch(timeout=5, poll_s=0).epoch == 3


def test_wait_first_epoch_is_bounded_and_skips_jobs_that_will_not_train_soon(monkeypatch):
    from playground.execution import controller
    from playground.execution.controller import JobController, JobKind

    class Clock:  # each sleep moves the clock on by what it was asked
        now = 0.0

        def monotonic(self):
            return self.now

        def sleep(self, seconds):
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(controller, "time", clock)
    control = JobController(JobKind.RUN, handle=EpochHandle())  # never trains
    assert control.wait_first_epoch(timeout=0.5, poll_s=0.1).epoch == 0
    assert clock.now == pytest.approx(0.5) and control.handle.polls == 6  # gave up at the timeout, not before
    for handle in (EpochHandle(status="queued", queue_position=2), EpochHandle(status="paused")):
        control = JobController(JobKind.RUN, handle=handle)  # behind another job, or paused: not waited for
        assert control.wait_first_epoch(timeout=30, poll_s=0.01).epoch == 0 and handle.polls == 1
    assert JobController(JobKind.RUN).wait_first_epoch(timeout=30) is None
