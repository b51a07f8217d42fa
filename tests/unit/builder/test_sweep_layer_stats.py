"""Each sweep member's per-layer statistics (sweep_layer_stats.py) against its own single run's (Trainer with
layer_stats.py): the same figures, to the tolerance by which a member's weights follow its run's."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from playground import limits
from playground.builder import layer_stats, sweep_progress
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.sweep import SweepAxis, SweepConfig, SweepTrainer
from playground.builder.sweep_layer_stats import layer_names, member_layers, sweep_stride
from playground.builder.training import Trainer

EPOCHS = 3
# A member's weights follow its run's to ~1e-6 relative (batched products add in another order): its figures do
# too. A histogram count may move one value to the next bin where a weight sits on a bin's edge.
REL, ABS = 1e-4, 1e-6


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


RATES = SweepAxis("lr", values=(0.02, 0.3))


def sweep_of(optimizer="adam", axis=RATES, task="classification") -> tuple[SweepConfig, dict]:
    regression = task == "regression"
    base = RunConfig(data=DataConfig(dataset="plane" if regression else "circle", n_samples=120, seed=2),
                     model=ModelSpec(in_features=2, hidden=(6, 5), activations=("relu", "tanh"),
                                     out_features=1 if regression else 2, task=task),
                     train=TrainConfig(epochs=EPOCHS, batch_size=16, optimizer=optimizer, momentum=0.9))
    sweep = SweepConfig(base, (axis,))
    return sweep, prepare_data(base.data).arrays()


def close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a == pytest.approx(b, rel=REL, abs=ABS)


def assert_same_figures(mine: list[dict], theirs: list[dict]) -> None:
    assert [layer["name"] for layer in mine] == [layer["name"] for layer in theirs]
    for a, b in zip(mine, theirs, strict=True):
        assert a["shape"] == b["shape"]
        for key in ("weight", "bias"):
            assert close(a[key]["lo"], b[key]["lo"]) and close(a[key]["hi"], b[key]["hi"])
            assert all(close(x, y) for x, y in zip(a[key]["q"], b[key]["q"], strict=True))
            assert sum(a[key]["counts"]) == sum(b[key]["counts"])
            assert np.abs(np.subtract(a[key]["counts"], b[key]["counts"])).max() <= 1
        assert a["grad"]["steps"] == b["grad"]["steps"]
        for key in ("mean", "last"):
            assert close(a["grad"][key], b["grad"][key])
        assert all(close(x, y) for x, y in zip(a["grad"]["q"], b["grad"]["q"], strict=True))
        assert close(a["update_ratio"], b["update_ratio"]) and close(a["dead"], b["dead"])


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_each_members_figures_are_its_single_runs(optimizer):
    sweep, tensors = sweep_of(optimizer=optimizer)
    trainer = SweepTrainer(sweep, tensors, check=False, layer_stats_every=1)
    runs = [Trainer(sweep.member(i), tensors, layer_stats_every=1) for i in range(sweep.n_members)]
    names = [layer_names(sweep.member(i).model) for i in range(sweep.n_members)]
    for _ in range(EPOCHS):
        trainer.run_epoch()
        assert trainer.last_layers.shape == (2, 3, layer_stats.FIELDS) and trainer.last_layers.dtype == np.float32
        for member, run in enumerate(runs):
            run.run_epoch()
            assert_same_figures(member_layers(trainer.last_layers, member, names[member]), run.last_layers)
    dead = [layer["dead"] for layer in run.last_layers]
    assert dead[0] is not None and dead[1] is None  # the relu layer has a share, the tanh one none


def test_a_member_that_diverges_records_nothing_and_the_other_keeps_its_own_figures():
    # a rate of 10 makes the second member diverge in the third epoch; the first trains on alone, its row moved up
    sweep, tensors = sweep_of(axis=SweepAxis("lr", values=(0.02, 10.0)), optimizer="sgd", task="regression")
    trainer = SweepTrainer(sweep, tensors, check=False, layer_stats_every=1)
    run = Trainer(sweep.member(0), tensors, layer_stats_every=1)
    names = layer_names(sweep.member(0).model)
    for epoch in range(EPOCHS):
        trainer.run_epoch()
        run.run_epoch()
        assert_same_figures(member_layers(trainer.last_layers, 0, names), run.last_layers)
        second = member_layers(trainer.last_layers, 1, layer_names(sweep.member(1).model))
        assert (second is None) == (len(trainer.history[1]) <= epoch)  # figures exactly where it kept a row
    assert trainer.status[1] == "diverged" and len(trainer.history[1]) == 2


def test_a_swept_dropout_member_is_named_as_its_run_names_its_layers():
    sweep, tensors = sweep_of(axis=SweepAxis("dropout", values=(0.0, 0.3)))
    trainer = SweepTrainer(sweep, tensors, check=False, layer_stats_every=1)
    trainer.run_epoch()
    first = member_layers(trainer.last_layers, 0, layer_names(sweep.member(0).model))
    second = member_layers(trainer.last_layers, 1, layer_names(sweep.member(1).model))
    assert [x["name"] for x in first] == ["layers.0", "layers.2", "layers.4"]
    assert [x["name"] for x in second] == ["layers.0", "layers.3", "layers.6"]
    run = Trainer(sweep.member(0), tensors, layer_stats_every=1)
    run.run_epoch()
    assert_same_figures(first, run.last_layers)


def test_the_statistics_do_not_change_the_sweep():
    sweep, tensors = sweep_of()
    recorded = SweepTrainer(sweep, tensors, check=False, layer_stats_every=1)
    plain = SweepTrainer(sweep, tensors, check=False)
    recorded.fit(), plain.fit()
    assert recorded.history == plain.history
    assert all(torch.equal(recorded.state_dict_cpu(0)[k], v) for k, v in plain.state_dict_cpu(0).items())
    assert plain.last_layers is None and recorded.last_layers is not None


def test_the_sweeps_figures_are_bounded_by_the_limit():
    per_epoch = limits.MAX_SWEEP_MEMBERS * limits.LAYER_STATS_MAX_LAYERS * layer_stats.FIELDS
    k = sweep_stride(limits.MAX_EPOCHS, limits.MAX_SWEEP_MEMBERS, limits.LAYER_STATS_MAX_LAYERS)
    assert -(-limits.MAX_EPOCHS // k) * per_epoch <= limits.LAYER_STATS_SWEEP_NUMBERS
    assert -(-limits.MAX_EPOCHS // k) <= limits.LAYER_STATS_MAX_EPOCHS
    assert sweep_stride(10, 2, 3) == 1
    sweep, tensors = sweep_of()
    trainer = SweepTrainer(sweep, tensors, check=False, layer_stats_every=2)
    recorded = []
    for _ in range(EPOCHS):
        trainer.run_epoch()
        recorded.append(trainer.last_layers is not None)
    assert recorded == [False, True, False]


def test_a_member_kept_as_a_run_keeps_its_figures():
    sweep, tensors = sweep_of()
    trainer = SweepTrainer(sweep, tensors, check=False, layer_stats_every=1)
    rows = []
    for _ in range(EPOCHS):
        results = trainer.run_epoch()
        rows.append(sweep_progress.epoch_row(trainer.epoch, 2, results, True, trainer.last_layers))
    history = sweep_progress.member_history(rows, 1, sweep.member(1).model)
    assert [row["layers"] == member_layers(r["layers"], 1, layer_names(sweep.member(1).model))
            for row, r in zip(history, rows, strict=True)] == [True] * EPOCHS
    assert sweep_progress.member_history(rows, 1) == layer_stats.metric_rows(history)  # without a spec: metrics only
    assert math.isfinite(history[-1]["layers"][0]["grad"]["mean"])


class _Conn:
    """The worker's two connections, in process: no control messages; progress messages collected."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def poll(self, timeout: float | None = None) -> bool:
        return False

    def send(self, message: tuple) -> None:
        self.sent.append(message)


@pytest.mark.parametrize("speed", [None, 20.0])
def test_the_sweep_job_sends_its_members_figures_with_the_epoch_rows(speed):
    from playground.execution.jobs import sweep_payload
    from playground.execution.worker import run_job

    sweep, tensors = sweep_of()
    conn = _Conn()
    run_job(3, sweep_payload(sweep, tensors, speed=speed), conn, conn)
    rows = [row for message in conn.sent if message[0] == "epochs" for row in message[2]]
    assert [row["epoch"] for row in rows] == [1, 2, 3] and conn.sent[-1][2] == "finished"
    recorded = [row["epoch"] for row in rows if "layers" in row]
    # as fast as it goes, the first and the last epoch at least (the time share); slowed, every epoch
    assert recorded == [1, 2, 3] if speed else {1, 3} <= set(recorded)
    assert rows[-1]["layers"].shape == (2, 3, layer_stats.FIELDS)
    history = sweep_progress.member_history(rows, 0, sweep.member(0).model)
    assert [row["layers"][0]["name"] for row in history if "layers" in row] == ["layers.0"] * len(recorded)
