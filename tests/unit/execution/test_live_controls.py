"""The live controls of a run: its speed, a learning rate changed while it trains (recorded, so the run
reproduces), and the views kept for the replay (bounded in count and bytes). The controls run against
both executors (the local pool and Ray)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from playground import limits
from playground.builder.config import RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.training import Trainer
from playground.execution.pool import TrainingJob, view_bytes
from tests.unit.execution.conftest import EXECUTORS, make_executor


@pytest.fixture(scope="module", params=EXECUTORS)
def pool(request):
    pool = make_executor(request.param)
    yield pool
    pool.shutdown()


def wait_for(handle, condition, timeout_s: float = 90):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        view = handle.snapshot()
        if condition(view):
            return view
        time.sleep(0.05)
    raise AssertionError(f"timed out at {handle.snapshot().status} epoch {handle.snapshot().epoch}")


def test_a_slow_speed_paces_the_epochs_and_full_speed_finishes(pool):
    config = RunConfig(train=TrainConfig(epochs=40, seed=1))
    data = prepare_data(config.data)
    handle = pool.submit(config, data.arrays(), owner="speed", plane_features=config.data.features, speed=2.0)
    first = wait_for(handle, lambda v: v.epoch >= 1)
    time.sleep(1.5)
    later = handle.snapshot()
    assert later.epoch - first.epoch <= 5  # two epochs a second: about three more, never the whole run
    handle.set_speed(None)
    assert handle.wait(60) and handle.snapshot().status == "finished" and handle.snapshot().epoch == 40
    snapshots = handle.snapshot().snapshots
    assert [s["epoch"] for s in snapshots] == sorted(s["epoch"] for s in snapshots)  # the replay's views, in order
    assert any(s["epoch"] == 1 for s in snapshots)  # at a slow speed every epoch's view is kept


def test_a_learning_rate_changed_live_is_recorded_and_reproduces(pool):
    config = RunConfig(train=TrainConfig(epochs=6, seed=4, lr=0.01))
    data = prepare_data(config.data)
    handle = pool.submit(config, data.arrays(), owner="lr", start_paused=True)
    handle.step()
    wait_for(handle, lambda v: v.status == "paused" and v.epoch == 1)
    handle.set_lr(0.1)
    wait_for(handle, lambda v: v.lr_changes == ((1, 0.1),))
    handle.play()
    assert handle.wait(60)
    view = handle.snapshot()
    assert view.status == "finished" and view.stats["lr_changes"] == [(1, 0.1)]
    recorded = config.with_train(lr_changes=tuple(view.stats["lr_changes"]))
    trainer = Trainer(recorded, data.arrays(), device="cpu")  # the oracle: the recorded config, rerun here
    trainer.fit()
    assert [r["train_loss"] for r in trainer.history] == pytest.approx([r["train_loss"] for r in view.history],
                                                                       rel=0, abs=1e-6)
    plain = Trainer(config, data.arrays(), device="cpu")
    plain.fit()
    assert plain.history[-1]["train_loss"] != pytest.approx(view.history[-1]["train_loss"], rel=1e-6)  # it mattered


def fake_view(epoch: int, size: int = 64) -> dict:
    return {"epoch": epoch, "weights": [np.zeros((size, size), dtype=np.float32)]}


def test_the_replay_keeps_the_whole_run_within_its_bounds():
    job = TrainingJob(id=1, owner="x", payload={})
    one = view_bytes(fake_view(0))
    for epoch in range(limits.MAX_REPLAY_SNAPSHOTS * 3 + 7):
        job.keep_view(fake_view(epoch))
    epochs = [s["epoch"] for s in job.snapshots]
    assert len(epochs) <= limits.MAX_REPLAY_SNAPSHOTS and job.snapshot_bytes <= limits.MAX_REPLAY_BYTES
    assert epochs[0] == 0 and epochs[-1] == limits.MAX_REPLAY_SNAPSHOTS * 3 + 6  # first and newest kept
    assert epochs == sorted(epochs) and job.snapshot_bytes == one * len(epochs)
    big = TrainingJob(id=2, owner="x", payload={})
    side = 512  # 1 MB a view: the byte bound, not the count, thins these
    for epoch in range(40):
        big.keep_view(fake_view(epoch, side))
    assert big.snapshot_bytes <= limits.MAX_REPLAY_BYTES and len(big.snapshots) >= 2
