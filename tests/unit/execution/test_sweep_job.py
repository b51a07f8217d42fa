"""A sweep as a background job, on both executors (the local pool and Ray): each member's history and weights are
its single run's (to 1e-4); pause, step, play and stop; a diverging member stops alone; the budgets, cancellation,
the owner limit and the queue hold for sweeps as for runs; the views carry every member's boundary."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from playground.builder import sweep_progress
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.sweep import SweepAxis, SweepConfig, relative_difference
from playground.builder.training import Trainer
from playground.errors import PlaygroundError
from playground.execution.executor import BUSY_OWNER_SENTENCE
from playground.execution.jobs import (
    CANCELLED_SENTENCE,
    JobBudget,
    sweep_payload,
    sweep_seconds_sentence,
    sweep_steps_sentence,
)
from tests.unit.execution.conftest import EXECUTORS, make_executor

DEADLINE_S = 120
REL = 1e-4  # a member's per-epoch losses and weights match its single run's to 1e-4 relative on the CPU


@pytest.fixture(scope="module", params=EXECUTORS)
def shared_pool(request):
    pool = make_executor(request.param)
    yield pool
    pool.shutdown()


@pytest.fixture
def pool(shared_pool):
    """The module's executor, left with nothing going after each test; bounds a test changed are put back."""
    budget = shared_pool.budget
    yield shared_pool
    shared_pool.budget = budget
    with shared_pool.lock:
        jobs = list(shared_pool.jobs.values())
    for job in jobs:
        shared_pool.control(job, "stop")
    for job in jobs:
        assert job.done_event.wait(DEADLINE_S), f"job {job.id} did not stop"


def classifier(epochs: int = 8, batch: int = 10, n: int = 200, dropout: float = 0.0, **train) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="circle", n_samples=n, seed=3),
                     model=ModelSpec(in_features=2, hidden=(6,), activations=("tanh",), out_features=2, dropout=dropout),
                     train=TrainConfig(epochs=epochs, batch_size=batch, **train))


def submit(pool, sweep: SweepConfig, owner: str, tensors=None, **kwargs):
    data = prepare_data(sweep.base.data)
    payload = sweep_payload(sweep, tensors if tensors is not None else data.arrays(), sweep.base.data.features,
                            data.standardization, **kwargs)
    return pool.submit_job(payload, owner=owner)


def wait_for(handle, condition, timeout: float = DEADLINE_S):
    deadline = time.monotonic() + timeout
    view = handle.snapshot()
    while time.monotonic() < deadline:
        view = handle.snapshot()
        if condition(view):
            return view
        time.sleep(0.05)
    raise AssertionError(f"timed out; last view: status={view.status} epoch={view.epoch} message={view.message}")


def single_run(config: RunConfig, tensors) -> Trainer:
    """The oracle: the member's own run in this process, on one torch thread as a worker trains."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run = Trainer(config, tensors, device="cpu")
        run.fit()
    finally:
        torch.set_num_threads(threads)
    return run


def test_each_member_of_a_sweep_job_is_its_single_run(pool):
    sweep = SweepConfig(classifier(epochs=8, dropout=0.1), (SweepAxis("lr", values=(0.003, 0.01, 0.03)),))
    data = prepare_data(sweep.base.data)
    handle = submit(pool, sweep, "exact")
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "finished" and view.message == "" and view.epoch == 8
    assert view.info["members"] == 3 and view.info["device"] == "cpu"
    assert view.stats["member_status"] == ["training"] * 3 and view.stats["steps"] == 8 * 12
    report = view.stats["exactness"]  # what the engine's check after the first epoch found, sent with the weights
    assert report["checked"] and report["member"] == 0 and report["weights_difference"] < REL
    assert len(view.final_state) == 3
    for member in range(3):
        run = single_run(sweep.member(member), data.arrays())
        history = sweep_progress.member_history(view.history, member)
        assert [r["epoch"] for r in history] == [r["epoch"] for r in run.history]
        for ours, theirs in zip(history, run.history, strict=True):
            assert set(ours) == set(theirs)
            for key in theirs:
                assert ours[key] == pytest.approx(theirs[key], rel=REL), (member, theirs["epoch"], key)
        weights = {key: torch.tensor(value) for key, value in view.final_state[member].items()}
        assert relative_difference(weights, run.state_dict_cpu()) <= REL, member
    tiles = view.view["tiles"]
    assert len(tiles) == 3 and all(t.kind == "probability" and t.values.dtype == np.uint8 for t in tiles)
    assert view.view["status"] == ["training"] * 3
    first = sweep_progress.member_history(view.history, 0)
    assert not np.array_equal(tiles[0].values, tiles[2].values) and first  # each member its own boundary


def test_pause_step_play_stop(pool):
    sweep = SweepConfig(classifier(epochs=2000, batch=1), (SweepAxis("seed", values=(0, 1)),))
    handle = submit(pool, sweep, "controls", start_paused=True)
    wait_for(handle, lambda v: v.status == "paused")
    handle.step()
    wait_for(handle, lambda v: v.epoch == 1 and v.status == "paused")
    time.sleep(0.3)
    assert handle.snapshot().epoch == 1  # a step is one epoch of every member, then it waits
    handle.play()
    wait_for(handle, lambda v: v.epoch >= 3)
    handle.pause()
    paused_at = wait_for(handle, lambda v: v.status == "paused").epoch
    time.sleep(0.3)
    assert handle.snapshot().epoch == paused_at
    handle.play()
    wait_for(handle, lambda v: v.epoch > paused_at)
    handle.stop()
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "stopped" and paused_at < view.epoch < 2000
    assert len(view.final_state) == 2 and all(np.isfinite(w).all() for s in view.final_state for w in s.values())
    for member in (0, 1):
        history = sweep_progress.member_history(view.history, member)
        assert [r["epoch"] for r in history] == list(range(1, view.epoch + 1))


def test_a_diverging_member_stops_alone_and_the_others_train_on(pool):
    base = RunConfig(data=DataConfig(dataset="plane", n_samples=100, seed=0),
                     model=ModelSpec(in_features=2, hidden=(4,), activations=("relu",), out_features=1,
                                     task="regression"),
                     train=TrainConfig(optimizer="sgd", momentum=0.9, lr=0.01, epochs=6, batch_size=4))
    sweep = SweepConfig(base, (SweepAxis("lr", values=(0.003, 10.0, 0.03)),))
    handle = submit(pool, sweep, "diverge")
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "finished" and view.epoch == 6
    assert view.stats["member_status"] == ["training", "diverged", "training"]
    assert view.message == sweep_progress.outcome_sentence(["training", "diverged", "training"])
    assert "lower their learning rate" in view.message
    assert "lower the learning rate" in view.stats["member_reasons"][1]
    assert sweep_progress.member_history(view.history, 1) == [] or all(
        math.isfinite(r["train_loss"]) for r in sweep_progress.member_history(view.history, 1))
    for member in (0, 2):
        history = sweep_progress.member_history(view.history, member)
        assert len(history) == 6 and all(math.isfinite(r["train_loss"]) for r in history)
    assert all(np.isfinite(w).all() for w in view.final_state[1].values())  # its last finite weights
    assert view.view["status"][1] == "diverged" and view.view["tiles"][1].kind == "value"


def test_every_member_diverging_ends_the_sweep_as_diverged(pool):
    base = RunConfig(data=DataConfig(dataset="plane", n_samples=100, seed=0),
                     model=ModelSpec(in_features=2, hidden=(4,), activations=("relu",), out_features=1,
                                     task="regression"),
                     train=TrainConfig(optimizer="sgd", momentum=0.9, epochs=20, batch_size=4))
    sweep = SweepConfig(base, (SweepAxis("lr", values=(5.0, 10.0)),))
    handle = submit(pool, sweep, "all-diverge")
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "diverged" and view.message == sweep_progress.ALL_DIVERGED_SENTENCE and view.epoch < 20


@pytest.mark.parametrize(("budget", "epochs_done", "status"), [(96, 8, "finished"), (95, 7, "stopped"),
                                                               (11, 0, "stopped")],
                         ids=["at-the-budget", "one-step-over", "not-one-epoch"])
def test_the_step_budget_holds_for_each_member_and_ends_at_an_epoch(pool, budget, epochs_done, status):
    pool.budget = JobBudget(steps=budget)
    sweep = SweepConfig(classifier(epochs=8), (SweepAxis("seed", values=(0, 1, 2)),))  # 12 steps an epoch, 96 in all
    handle = submit(pool, sweep, "budget")
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == status and view.epoch == epochs_done and view.stats["steps"] == 12 * epochs_done
    assert view.message == ("" if status == "finished" else sweep_steps_sentence(budget, epochs_done))
    assert len(view.final_state) == 3


@pytest.mark.parametrize("start_paused", [False, True], ids=["training", "paused"])
def test_the_time_budget_stops_a_sweep_training_or_paused(pool, start_paused):
    pool.budget = JobBudget(seconds=1.5)
    sweep = SweepConfig(classifier(epochs=2000, batch=1), (SweepAxis("seed", values=(0, 1)),))
    handle = submit(pool, sweep, "slow", start_paused=start_paused)
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "stopped" and view.message == sweep_seconds_sentence(1.5)
    assert view.final_state is not None and view.epoch < 2000


def test_the_servers_own_time_backstop_names_a_sweep_a_sweep(pool, monkeypatch):
    """The server stops a job whose worker overran its time budget itself: the sentence is a sweep's."""
    from playground.execution import executor

    pool.budget = JobBudget(seconds=60.0)
    monkeypatch.setattr(executor, "BUDGET_GRACE_S", -59.0)  # the server's backstop fires long before the worker's
    sweep = SweepConfig(classifier(epochs=2000, batch=1), (SweepAxis("seed", values=(0, 1)),))
    handle = submit(pool, sweep, "backstop")
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "stopped" and view.message == sweep_seconds_sentence(60.0)


def test_a_sweep_counts_as_its_owners_one_training_and_cancel_keeps_nothing(pool):
    sweep = SweepConfig(classifier(epochs=2000, batch=1), (SweepAxis("seed", values=(0, 1)),))
    handle = submit(pool, sweep, "one-owner")
    wait_for(handle, lambda v: v.status == "running")
    config = classifier(epochs=2)
    with pytest.raises(PlaygroundError) as caught:  # a run of the same owner waits for the sweep
        pool.submit(config, prepare_data(config.data).arrays(), owner="one-owner")
    assert caught.value.sentence == BUSY_OWNER_SENTENCE
    with pytest.raises(PlaygroundError):  # and so does a second sweep
        submit(pool, sweep, "one-owner")
    handle.set_lr(0.5)  # a live rate is a run's control: a sweep ignores it and trains on
    wait_for(handle, lambda v: v.epoch >= 1)
    handle.cancel()
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "stopped" and view.message == CANCELLED_SENTENCE and view.final_state is None
    again = pool.submit(config, prepare_data(config.data).arrays(), owner="one-owner")  # the owner may train again
    assert again.wait(DEADLINE_S) and again.snapshot().status == "finished"


def test_a_sweep_the_worker_cannot_build_is_a_sentence_and_the_worker_stays_good(pool):
    sweep = SweepConfig(classifier(epochs=2), (SweepAxis("seed", values=(0, 1)),))
    data = prepare_data(sweep.base.data)
    tensors = dict(data.arrays())
    tensors["X_train"] = tensors["X_train"][:, :1]  # one feature where the model expects two
    handle = submit(pool, sweep, "broken", tensors=tensors)
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "failed" and view.message == "The model expects 2 inputs but the data has 1 features."
    bad = pool.submit_job({"kind": "sweep", "sweep": {"base": {}, "axes": [{"setting": "beta1", "values": [0.9]}]},
                           "tensors": data.arrays()}, owner="broken")
    assert bad.wait(DEADLINE_S)
    assert bad.snapshot().status == "failed" and "cannot be swept" in bad.snapshot().message
    after = submit(pool, sweep, "broken")
    assert after.wait(DEADLINE_S) and after.snapshot().status == "finished"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_a_sweep_on_the_gpu_trains_there_and_hands_back_cpu_weights(pool):
    sweep = SweepConfig(classifier(epochs=3, device="cuda:0"), (SweepAxis("lr", values=(0.01, 0.1)),))
    handle = submit(pool, sweep, "gpu")
    assert handle.wait(DEADLINE_S)
    view = handle.snapshot()
    assert view.status == "finished" and view.info["device"].startswith("cuda") and view.epoch == 3
    assert all(isinstance(w, np.ndarray) and np.isfinite(w).all() for s in view.final_state for w in s.values())
    assert all(t.kind == "probability" for t in view.view["tiles"])
