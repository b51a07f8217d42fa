"""A sweep's progress rows and views, read back member by member: the SweepTrainer itself is the oracle (its
``history`` a member, its weights, ``decision_boundary.heatmap`` of each member's own model)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from playground.builder import sweep_progress as progress
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.decision_boundary import heatmap
from playground.builder.model import build_model
from playground.builder.sweep import SweepAxis, SweepConfig, SweepTrainer


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def classifier(**train) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="circle", n_samples=200, seed=3),
                     model=ModelSpec(in_features=2, hidden=(6,), activations=("tanh",), out_features=2),
                     train=TrainConfig(**{"epochs": 8, **train}))


def regression(**train) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="plane", n_samples=100, seed=0),
                     model=ModelSpec(in_features=2, hidden=(4,), activations=("relu",), out_features=1,
                                     task="regression"),
                     train=TrainConfig(**{"optimizer": "sgd", "momentum": 0.9, "epochs": 6, "batch_size": 4, **train}))


def train_with_rows(sweep: SweepConfig) -> tuple[SweepTrainer, list[dict]]:
    """Train as the worker does, keeping the rows it would send."""
    trainer = SweepTrainer(sweep, prepare_data(sweep.base.data).arrays())
    rows = []
    while trainer.epoch < sweep.base.train.epochs and trainer.active:
        results = trainer.run_epoch()
        rows.append(progress.epoch_row(trainer.epoch, sweep.n_members, results, trainer.task == "classification"))
    return trainer, rows


def test_rows_give_back_each_members_history_exactly():
    sweep = SweepConfig(regression(), (SweepAxis("lr", values=(0.003, 10.0, 0.03)),))
    trainer, rows = train_with_rows(sweep)
    assert trainer.status == ["training", "diverged", "training"]
    for member in range(3):
        assert progress.member_history(rows, member) == trainer.history[member]
    assert set(rows[0]) == {"epoch", "train_loss", "val_loss"}  # no accuracy for a regression
    assert all(row["train_loss"].dtype == np.float64 and row["train_loss"].shape == (3,) for row in rows)


def test_rows_of_a_classifier_carry_accuracy_and_early_stopping_leaves_gaps():
    sweep = SweepConfig(classifier(keep_best=True, patience=2, epochs=20),
                        (SweepAxis("lr", values=(0.003, 0.3, 1.0)),))
    trainer, rows = train_with_rows(sweep)
    assert "stopped early" in trainer.status
    for member in range(3):
        assert progress.member_history(rows, member) == trainer.history[member]
    early = trainer.status.index("stopped early")
    assert len(progress.member_history(rows, early)) < len(rows)
    metrics = progress.final_metrics(rows, 3, keep_best=True)
    for member in range(3):  # the epoch whose weights the member keeps: its best validation epoch
        history = trainer.history[member]
        best = min(history, key=lambda r: r["val_loss"])
        assert metrics["epoch"][member] == best["epoch"] == trainer.best_epoch[member]
        assert metrics["val_acc"][member] == best["val_acc"]
    last = progress.final_metrics(rows, 3)
    for member in range(3):
        assert last["val_loss"][member] == trainer.history[member][-1]["val_loss"]


def test_the_best_member_has_the_lowest_final_validation_loss_and_never_diverged():
    metrics = {"val_loss": np.array([0.5, np.nan, 0.2, 0.2]), "train_loss": np.array([0.4, np.nan, 0.3, 0.1])}
    assert progress.ranking_metric(metrics) == "val_loss"
    assert progress.best_member(metrics, ["training", "diverged", "training", "training"]) == 2  # a tie: the first
    assert progress.best_member(metrics, ["training", "diverged", "diverged", "diverged"]) == 0
    assert progress.best_member(metrics, ["diverged"] * 4) is None
    no_validation = {"val_loss": np.full(3, np.nan), "train_loss": np.array([0.3, 0.1, 0.2])}
    assert progress.ranking_metric(no_validation) == "train_loss"
    assert progress.best_member(no_validation, ["training"] * 3) == 1


def test_the_best_member_of_a_real_sweep_is_the_lowest_of_its_members_histories():
    sweep = SweepConfig(classifier(), (SweepAxis("lr", values=(0.001, 0.03, 0.1)), SweepAxis("seed", values=(0, 1))))
    trainer, rows = train_with_rows(sweep)
    metrics = progress.final_metrics(rows, sweep.n_members)
    best = progress.best_member(metrics, trainer.status)
    finals = [trainer.history[m][-1]["val_loss"] for m in range(sweep.n_members)]
    assert best == int(np.argmin(finals))


@pytest.mark.parametrize("job, member, status", [
    ("finished", "training", "finished"), ("finished", "stopped early", "finished"), ("finished", "diverged", "diverged"),
    ("stopped", "training", "stopped"), ("stopped", "stopped early", "finished"), ("stopped", "diverged", "diverged"),
])
def test_a_member_as_a_run_has_the_status_its_run_would_have(job, member, status):
    assert progress.member_run_status(job, member) == status


def test_the_outcome_says_who_diverged_and_who_stopped_early():
    assert progress.outcome_sentence(["training"] * 4) == ""
    both = progress.outcome_sentence(["diverged", "training", "stopped early", "diverged"])
    assert both.startswith("2 of 4 models diverged and stopped alone") and "1 of 4 stopped early" in both


def test_tiles_are_each_members_own_boundary_and_a_stopped_members_is_kept():
    sweep = SweepConfig(regression(), (SweepAxis("lr", values=(0.003, 10.0, 0.03)),))
    trainer, _ = train_with_rows(sweep)
    data = prepare_data(sweep.base.data)
    kept: dict = {}
    view = progress.sweep_view(trainer, sweep.base.data.features, data.standardization, kept)
    assert view["epoch"] == trainer.epoch and view["status"] == trainer.status and view["reasons"] == trainer.reason
    side = view["tiles"][0].values.shape[0]
    for member in range(3):
        model = build_model(sweep.member(member).model)
        model.load_state_dict(trainer.state_dict_cpu(member))
        expected = heatmap(model, sweep.base.data.features, data.standardization, "regression", side=side)
        ours = view["tiles"][member]
        assert ours.kind == expected.kind == "value" and ours.extent == expected.extent
        assert np.allclose(ours.values, expected.values, rtol=0, atol=1e-5)
    assert list(kept) == [1]  # the diverged member's tile, made once from its last finite weights
    again = progress.sweep_view(trainer, sweep.base.data.features, data.standardization, kept)
    assert again["tiles"][1] is kept[1]


def test_tiles_of_a_classifier_are_probabilities_and_off_the_plane_there_are_none():
    sweep = SweepConfig(classifier(epochs=2), (SweepAxis("seed", values=(0, 1)),))
    trainer, _ = train_with_rows(sweep)
    tiles = progress.member_tiles(trainer, ("x1", "x2"), None, {}, side=16)
    assert all(t.kind == "probability" and t.values.shape == (16, 16) and t.values.dtype == np.uint8 for t in tiles)
    model = build_model(sweep.member(1).model)
    model.load_state_dict(trainer.state_dict_cpu(1))
    expected = heatmap(model, ("x1", "x2"), None, "classification", side=16)
    assert np.abs(tiles[1].values.astype(int) - expected.values.astype(int)).max() <= 1  # one uint8 step at most
    assert progress.member_tiles(trainer, None, None, {}) == [None, None]  # a CSV's inputs are not a plane


def test_a_row_for_a_member_that_never_trained_is_nan():
    row = progress.epoch_row(3, 2, [], classification=True)
    assert row["epoch"] == 3 and all(math.isnan(v) for key in progress.METRICS for v in row[key])
    assert progress.member_history([row], 0) == [] and np.isnan(progress.final_metrics([row], 2)["epoch"]).all()
