"""Background training on both executors (the local worker pool and Ray): progress, pause, step, play, stop,
cancel, queueing and its bound, budgets, dead workers. Each test runs against each executor."""

from __future__ import annotations

import gc
import os
import signal
import time

import pytest

from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.errors import PlaygroundError
from playground.execution.executor import BUSY_OWNER_SENTENCE, address_queue_sentence, queue_full_sentence
from playground.execution.jobs import (
    CANCELLED_SENTENCE,
    DIED_SENTENCE,
    JobBudget,
    run_payload,
    seconds_sentence,
    steps_sentence,
)
from tests.unit.execution.conftest import EXECUTORS, make_executor

DEADLINE_S = 120  # generous: on a loaded 2-core machine a worker's spawn and torch import can take long


@pytest.fixture(scope="module", params=EXECUTORS)
def shared_pool(request):
    pool = make_executor(request.param)
    yield pool
    pool.shutdown()


@pytest.fixture
def pool(shared_pool):
    """The module's executor, left with no run going after each test, whatever the test did: a test that fails
    mid-run would otherwise keep a worker busy and the next tests would wait in the queue behind it. Bounds a
    test changed are put back."""
    max_queued, budget = shared_pool.max_queued, shared_pool.budget
    per_address, addresses = shared_pool.max_queued_per_address, shared_pool.addresses
    yield shared_pool
    shared_pool.max_queued, shared_pool.budget = max_queued, budget
    shared_pool.max_queued_per_address, shared_pool.addresses = per_address, addresses
    with shared_pool.lock:
        jobs = list(shared_pool.jobs.values())
    for job in jobs:
        shared_pool.control(job, "stop")
    for job in jobs:
        assert job.done_event.wait(DEADLINE_S), f"job {job.id} did not stop"


def setup(epochs: int = 5, batch: int = 10, n: int = 200) -> tuple[RunConfig, object]:
    config = RunConfig(
        data=DataConfig(dataset="circle", n_samples=n, seed=0),
        model=ModelSpec(in_features=2, hidden=(4,), activations=("tanh",), out_features=2),
        train=TrainConfig(epochs=epochs, batch_size=batch),
    )
    return config, prepare_data(config.data)


def submit(pool, owner: str, epochs: int = 5, batch: int = 10, **kwargs):
    config, data = setup(epochs, batch)
    return pool.submit(config, data.arrays(), owner=owner, plane_features=config.data.features, **kwargs)


def wait_for(handle, condition, timeout: float = DEADLINE_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = handle.snapshot()
        if condition(view):
            return view
        time.sleep(0.05)
    raise AssertionError(f"timed out; last view: status={view.status} epoch={view.epoch} message={view.message}")


def test_a_run_reports_progress_and_its_weights(pool):
    handle = submit(pool, "finish", epochs=6)
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "finished" and [row["epoch"] for row in view.history] == [1, 2, 3, 4, 5, 6]
    assert set(view.final_state) == {"layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"}
    assert view.view["heatmap"].values.dtype.name == "uint8" and len(view.view["thumbnails"]) == 1
    outputs = view.view["outputs"]  # each output neuron's class probability over the plane
    assert outputs.dtype.name == "uint8" and outputs.shape[0] == setup()[0].model.out_features == 2
    assert view.stats["steps"] == 6 * 12 and view.info["pid"] != os.getpid()


def test_pause_step_play_stop(pool):
    handle = submit(pool, "controls", epochs=2000, batch=1, start_paused=True)
    wait_for(handle, lambda v: v.status == "paused")
    handle.step()
    view = wait_for(handle, lambda v: v.epoch == 1 and v.status == "paused")
    time.sleep(0.3)
    assert handle.snapshot().epoch == 1  # a step is one epoch, then it waits
    handle.play()
    wait_for(handle, lambda v: v.epoch >= 3)
    handle.pause()
    assert handle.snapshot().status in ("pausing", "paused")  # said at once; "paused" once the worker has stopped
    paused_at = wait_for(handle, lambda v: v.status == "paused").epoch
    time.sleep(0.3)
    assert handle.snapshot().epoch == paused_at
    handle.play()
    wait_for(handle, lambda v: v.epoch > paused_at)
    handle.stop()
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "stopped" and view.final_state is not None and view.epoch > paused_at
    assert view.epoch < 2000


def test_one_run_per_owner_and_a_queue_beyond_the_cap(pool):
    first = submit(pool, "a", epochs=2000, batch=1)
    with pytest.raises(PlaygroundError, match="already training") as caught:
        submit(pool, "a")
    assert caught.value.sentence == BUSY_OWNER_SENTENCE
    second = submit(pool, "b", epochs=2000, batch=1)
    third = submit(pool, "c", epochs=2)
    wait_for(second, lambda v: v.status == "running")
    assert third.snapshot().status == "queued" and third.snapshot().queue_position == 1
    first.stop()
    assert third.wait(DEADLINE_S) and third.snapshot().status == "finished"
    second.stop()
    assert second.wait(DEADLINE_S)


def test_a_dead_worker_is_seen_and_the_session_trains_again(pool):
    handle = submit(pool, "victim", epochs=2000, batch=1)
    view = wait_for(handle, lambda v: v.status == "running" and v.epoch >= 1)
    os.kill(view.info["pid"], signal.SIGKILL)
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "failed" and view.message == DIED_SENTENCE
    again = submit(pool, "victim", epochs=2)
    assert again.wait(DEADLINE_S) and again.snapshot().status == "finished"


def test_a_forgotten_handle_stops_its_run(pool):
    handle = submit(pool, "gone", epochs=2000, batch=1)
    job = handle.job
    wait_for(handle, lambda v: v.status == "running")
    del handle
    gc.collect()
    assert job.done_event.wait(DEADLINE_S) and job.status == "stopped"


def test_a_handle_left_in_a_reference_cycle_is_collected_once_its_job_goes_unseen(pool, monkeypatch):
    """As a session Streamlit dropped: its handle sits in reference cycles and the app runs without a collection
    after each script run. The executor collects once a job has gone unseen for limits.UNSEEN_COLLECT_S, well
    before the idle timeout."""
    from playground import limits

    monkeypatch.setattr(limits, "UNSEEN_COLLECT_S", 1.0)
    monkeypatch.setattr(limits, "TRAINING_IDLE_TIMEOUT_S", 3600)  # not the idle timeout
    handle = submit(pool, "vanished", epochs=2000, batch=1)
    job = handle.job
    wait_for(handle, lambda v: v.status == "running")
    session = {"handle": handle}
    session["self"] = session  # a cycle: only the cycle collector frees it
    gc.disable()
    try:
        del handle, session
        assert job.done_event.wait(30) and job.status == "stopped"
    finally:
        gc.enable()


def test_divergence_in_the_worker(pool):
    config = RunConfig(
        data=DataConfig(dataset="plane", n_samples=100, seed=0),
        model=ModelSpec(in_features=2, hidden=(4,), activations=("relu",), out_features=1, task="regression"),
        train=TrainConfig(optimizer="sgd", lr=10.0, epochs=100, batch_size=4),
    )
    data = prepare_data(config.data)
    tensors = data.arrays()
    tensors["y_train"] = tensors["y_train"] * 1e6
    handle = pool.submit(config, tensors, owner="diverge")
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "diverged" and "lower the learning rate" in view.message
    assert all(abs(v).max() < float("inf") for v in view.final_state.values())


@pytest.mark.parametrize(("status", "interval"), [
    (None, None), ("queued", 2.0), ("starting", 0.2), ("running", 0.2), ("pausing", 0.2), ("paused", 2.0),
    ("finished", None), ("stopped", None), ("diverged", None), ("failed", None),
])
def test_pages_redraw_training_runs_often_waiting_runs_seldom_and_ended_runs_never(status, interval):
    from playground.execution.pool import ACTIVE, DONE, refresh_interval

    assert refresh_interval(status) == interval
    assert (status in ACTIVE) == (interval is not None) and (status in DONE) == (status is not None and interval is None)


@pytest.mark.parametrize("status", [None, "queued", "starting", "running", "pausing", "paused", "finished", "stopped",
                                    "diverged", "failed"])
def test_pictures_are_redrawn_about_once_a_second_while_training_and_not_otherwise(status):
    from playground.execution.pool import REFRESH_PICTURES_S, pictures_interval, refresh_interval

    training = status in ("starting", "running", "pausing")
    assert pictures_interval(status) == (REFRESH_PICTURES_S if training else None)
    assert not training or pictures_interval(status) > refresh_interval(status)  # the epoch line goes faster


@pytest.mark.parametrize("live", [0, 1, 2, 4, 5, 8, 20, 64])
def test_a_crowded_server_redraws_every_page_less_often_and_its_redraws_stay_bounded(live):
    """Up to limits.LIVE_RUNS_AT_FULL_RATE live runs every page redraws at the full rate; beyond, all redraw
    proportionally less often, so the redraws a second the whole server serves stay at most what the full rate
    costs with that many runs (4 training, the rest waiting)."""
    from playground import limits
    from playground.execution.jobs import (
        REFRESH_PICTURES_S,
        REFRESH_TRAINING_S,
        REFRESH_WAITING_S,
        pictures_interval,
        refresh_interval,
    )

    full = limits.LIVE_RUNS_AT_FULL_RATE
    if live <= full:
        assert refresh_interval("running", live) == REFRESH_TRAINING_S
        assert refresh_interval("queued", live) == REFRESH_WAITING_S
        assert pictures_interval("running", live) == REFRESH_PICTURES_S
    else:
        assert refresh_interval("running", live) == pytest.approx(REFRESH_TRAINING_S * live / full)
        assert refresh_interval("paused", live) == pytest.approx(REFRESH_WAITING_S * live / full)
        assert pictures_interval("running", live) == pytest.approx(REFRESH_PICTURES_S * live / full)
    assert refresh_interval("finished", live) is None and pictures_interval("queued", live) is None
    training = min(live, limits.MAX_CONCURRENT_TRAININGS)
    waiting = live - training  # the first of them is next in line and redrawn at the training rate
    per_second = (training / refresh_interval("running", live) + training / pictures_interval("running", live)
                  + min(waiting, 1) / refresh_interval("queued", live, queue_position=1)
                  + min(waiting, 1) / pictures_interval("queued", live, queue_position=1)
                  + max(waiting - 1, 0) / refresh_interval("queued", live, queue_position=2))
    bound = full / REFRESH_TRAINING_S + full / REFRESH_PICTURES_S
    assert per_second <= bound + 1e-9


@pytest.mark.parametrize(("position", "interval"), [(None, 2.0), (0, 0.2), (1, 0.2), (2, 2.0), (7, 2.0)])
def test_a_queued_run_first_in_line_is_redrawn_as_a_training_run(position, interval):
    """Play on a server with a free trainer: the run is queued for moments, then trains. Drawn as waiting, its
    first epoch came 2.15-2.46 s after the press (bench/first_visit.py): the page was redrawn only every
    REFRESH_WAITING_S, then once more whole when the phase changed. First in line it is drawn as training (the
    epoch line, the pictures, no phase change when it starts); the runs behind it as waiting runs are."""
    from playground.execution.jobs import REFRESH_PICTURES_S, live_phase, pictures_interval, refresh_interval

    next_up = interval == 0.2
    assert refresh_interval("queued", 1, queue_position=position) == interval
    assert pictures_interval("queued", 1, queue_position=position) == (REFRESH_PICTURES_S if next_up else None)
    assert live_phase("queued", position) == ("training" if next_up else "waiting")
    assert live_phase("starting", position) == live_phase("running", position) == "training"
    assert refresh_interval("paused", 1, queue_position=position) == 2.0  # a paused run changes nothing
    assert refresh_interval("running", 1, queue_position=position) == 0.2


def test_the_server_counts_its_live_jobs_for_the_pages(pool):
    from playground.execution import server as app_executor
    from playground.execution.server import live_jobs

    assert pool.live_count() == 0
    handle = submit(pool, "counted", epochs=2000, batch=1, start_paused=True)
    wait_for(handle, lambda v: v.status == "paused")
    assert pool.live_count() == 1
    handle.stop()
    assert handle.wait(DEADLINE_S) and pool.live_count() == 0
    before = app_executor._EXECUTOR
    assert live_jobs() == (before.live_count() if before is not None and not before.closed else 0)
    assert app_executor._EXECUTOR is before  # asking never makes the app's executor


def test_the_queue_is_bounded_with_a_sentence(pool):
    pool.max_queued = 1
    running = [submit(pool, f"run-{i}", epochs=2000, batch=1) for i in range(2)]  # both workers busy
    for handle in running:
        wait_for(handle, lambda v: v.status == "running")
    waiting = submit(pool, "waits", epochs=2)  # exactly the bound: accepted, queued
    assert waiting.snapshot().queue_position == 1
    with pytest.raises(PlaygroundError) as caught:  # one more: refused, with a sentence
        submit(pool, "refused", epochs=2)
    assert caught.value.sentence == queue_full_sentence(1)
    running[0].stop()
    assert waiting.wait(DEADLINE_S) and waiting.snapshot().status == "finished"
    again = submit(pool, "refused", epochs=2)  # room again
    assert again.wait(DEADLINE_S) and again.snapshot().status == "finished"


def test_the_jobs_waiting_from_one_client_address_are_bounded_with_a_sentence(pool):
    """A client that makes a new owner on every visit (no cookie) still waits with at most the bound of jobs: the
    page notes each owner's address (views/identity.training_owner), the executor counts the queue by it."""
    from playground.runs.owners import OwnerAddresses

    pool.max_queued_per_address, pool.addresses = 2, OwnerAddresses()
    running = [submit(pool, f"busy-{i}", epochs=2000, batch=1) for i in range(2)]  # both workers busy
    for handle in running:
        wait_for(handle, lambda v: v.status == "running")
    for i in range(3):
        pool.addresses.note(f"cookieless-{i}", "203.0.113.7")  # three owners, one address
    waiting = [submit(pool, f"cookieless-{i}", epochs=2) for i in range(2)]  # exactly the bound: accepted
    assert [h.snapshot().queue_position for h in waiting] == [1, 2]
    with pytest.raises(PlaygroundError) as caught:  # one more from that address: refused, with a sentence
        submit(pool, "cookieless-2", epochs=2)
    assert caught.value.sentence == address_queue_sentence(2)
    config, data = setup(2)
    payload = run_payload(config, data.arrays(), None, None, config.data.features, None, False, None)
    with pytest.raises(PlaygroundError) as caught:  # an address the caller gives counts the same
        pool.submit_job(payload, "someone", address="203.0.113.7")
    assert caught.value.sentence == address_queue_sentence(2)
    other = submit(pool, "elsewhere", epochs=2)  # another owner, its address unknown: the queue's own bound only
    pool.addresses.note("next-door", "203.0.113.8")
    neighbour = submit(pool, "next-door", epochs=2)
    assert other.snapshot().queue_position == 3 and neighbour.snapshot().queue_position == 4
    running[0].stop()  # one from the address starts: room for one more from it
    wait_for(waiting[0], lambda v: v.status not in ("queued",))
    again = submit(pool, "cookieless-2", epochs=2)
    assert again.wait(DEADLINE_S) and again.snapshot().status == "finished"


def test_a_queued_job_whose_visitor_is_gone_is_dropped(pool, monkeypatch):
    """No page looked at it for limits.TRAINING_IDLE_TIMEOUT_S: it leaves the queue, as a running job is stopped;
    jobs whose pages still look go on."""
    from playground import limits

    monkeypatch.setattr(limits, "TRAINING_IDLE_TIMEOUT_S", 3.0)
    running = [submit(pool, f"watched-{i}", epochs=2000, batch=1) for i in range(2)]  # both workers busy
    for handle in running:
        wait_for(handle, lambda v: v.status == "running")
    gone = submit(pool, "gone-while-waiting", epochs=2)
    job = gone.job
    assert pool.queue_position(job) == 1
    deadline = time.monotonic() + 60
    while not job.done_event.is_set() and time.monotonic() < deadline:
        for handle in running:  # their pages still look (the gone visitor's does not)
            handle.touch()
        time.sleep(0.2)
    assert job.status == "stopped" and job not in pool.queue and job.id not in pool.jobs
    assert [h.snapshot().status for h in running] == ["running", "running"]


@pytest.mark.parametrize(("budget", "epochs_done", "status"), [(60, 5, "finished"), (59, 4, "stopped"), (11, 0, "stopped")],
                         ids=["at-the-budget", "one-step-over", "not-one-epoch"])
def test_the_step_budget_ends_a_run_at_an_epoch_boundary_with_a_sentence(pool, budget, epochs_done, status):
    pool.budget = JobBudget(steps=budget)
    handle = submit(pool, "budget", epochs=5, batch=10)  # 120 training rows: 12 steps an epoch, 60 in all
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == status and view.epoch == epochs_done and view.stats["steps"] == 12 * epochs_done
    assert view.message == ("" if status == "finished" else steps_sentence(budget, epochs_done))
    assert view.final_state is not None  # the weights so far are kept


@pytest.mark.parametrize("start_paused", [False, True], ids=["training", "paused"])
def test_the_time_budget_stops_a_run_training_or_paused_with_a_sentence(pool, start_paused):
    pool.budget = JobBudget(seconds=1.5)
    handle = submit(pool, "slow", epochs=2000, batch=1, start_paused=start_paused)
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "stopped" and view.message == seconds_sentence(1.5)
    assert view.final_state is not None and view.epoch < 2000


def test_cancel_keeps_nothing_whether_running_or_queued(pool):
    running = [submit(pool, f"busy-{i}", epochs=2000, batch=1) for i in range(2)]
    queued = submit(pool, "queued", epochs=2)
    wait_for(running[0], lambda v: v.status == "running")
    for handle in (running[0], queued):
        handle.cancel()
        assert handle.wait(DEADLINE_S)
        view = handle.snapshot()
        assert view.status == "stopped" and view.message == CANCELLED_SENTENCE and view.final_state is None
    running[1].stop()
    assert running[1].wait(DEADLINE_S) and running[1].snapshot().final_state is not None  # stop keeps the weights


def test_the_worker_dispatches_on_the_kind_and_refuses_an_unknown_one(pool):
    handle = pool.submit_job({"kind": "no-such-kind"}, owner="kind")
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "failed" and view.message == "This server cannot run that kind of job."
    assert "no-such-kind" in view.detail
    after = submit(pool, "kind", epochs=2)  # the worker is still good, and the owner may train again
    assert after.wait(DEADLINE_S) and after.snapshot().status == "finished"


def test_a_worker_whose_server_stopped_while_it_started_exits_quietly(capfd):
    """A server stopped right after it started a trainer (a test's or a bench's server) closes the pipe the
    trainer reports "ready" on: the trainer exits with status 0 and no traceback in the server's log."""
    import multiprocessing

    from playground.execution.pool import _main_module_hidden
    from playground.execution.worker import worker_main

    ctx = multiprocessing.get_context("spawn")
    control_read, control_write = ctx.Pipe(duplex=False)
    progress_read, progress_write = ctx.Pipe(duplex=False)
    process = ctx.Process(target=worker_main, args=(control_read, progress_write), daemon=True)
    with _main_module_hidden():  # as the pool starts its workers: an earlier AppTest's page is not re-run in it
        process.start()
    progress_write.close()
    progress_read.close()  # nobody will read "ready"
    control_read.close()
    process.join(120)
    control_write.close()
    assert process.exitcode == 0
    assert "Traceback" not in capfd.readouterr().err
