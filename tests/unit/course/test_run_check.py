"""The accuracy exercise is checked from a kept run: its validation accuracy recomputed from its own weights on its
regenerated validation split, never read from its history."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.model import TrainedModel, build_model
from playground.course.catalog import EXERCISES
from playground.course.run_check import best_run, check_run, validation_accuracy
from playground.runs.store import SqliteRunStore

OWNER = "anon:" + "c" * 32
CONFIG = RunConfig(
    data=DataConfig(dataset="xor", features=("x1", "x2", "x1*x2")),
    model=ModelSpec(in_features=3, hidden=(8,), activations=("tanh",), out_features=2),
    train=TrainConfig(epochs=1),
)


def kept_run(solved: bool, claimed_val_acc: float) -> TrainedModel:
    """A model of CONFIG: fresh weights, or weights that read XOR off the feature x1*x2 (the sign of the product, in
    whichever direction fits the training split); its history claims ``claimed_val_acc``."""
    torch.manual_seed(0)
    model = build_model(CONFIG.model)
    if solved:
        data = prepare_data(CONFIG.data)
        layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for layer in layers:
                layer.weight.zero_()
                layer.bias.zero_()
            layers[0].weight[0, 2] = 50.0  # tanh(50 x1 x2): the sign of the product
            layers[1].weight[1, 0], layers[1].weight[0, 0] = 1.0, -1.0
            if (model(data.X_train).argmax(dim=1) == data.y_train).float().mean() < 0.5:
                layers[1].weight.neg_()
    return TrainedModel(config=CONFIG, state_dict={k: v.detach().clone() for k, v in model.state_dict().items()},
                        history=({"epoch": 1, "train_loss": 0.1, "val_loss": 0.1, "train_acc": claimed_val_acc,
                                  "val_acc": claimed_val_acc},),
                        test_metrics={"accuracy": claimed_val_acc}, classes=("class 0", "class 1"),
                        feature_names=CONFIG.data.features)


def test_a_good_kept_run_passes_and_a_claim_does_not(tmp_path):
    store = SqliteRunStore(tmp_path / "data")
    instance = EXERCISES["accuracy-run"].instance(0)
    assert instance.truth == ("xor", 0.9)
    assert instance.point["dataset"] == "xor"  # the Model Builder's link opens the asked data

    none_yet = check_run(instance, store, OWNER)
    assert not none_yet.correct and not none_yet.readable

    untrained = store.save(kept_run(False, claimed_val_acc=0.99), owner=OWNER)  # its history claims 99%
    assert validation_accuracy(store, untrained) < 0.9
    verdict = check_run(instance, store, OWNER)
    assert not verdict.correct and verdict.readable and instance.hint.en in verdict.message.en

    trained = store.save(kept_run(True, claimed_val_acc=0.1), owner=OWNER)
    found = best_run(store, OWNER, "xor")
    assert found.run_id == trained and found.accuracy >= 0.9
    assert check_run(instance, store, OWNER).correct
    other = "anon:" + "d" * 32
    assert not check_run(instance, store, other).correct  # another visitor's run is not theirs


def test_only_the_asked_dataset_counts(tmp_path):
    store = SqliteRunStore(tmp_path / "data")
    store.save(kept_run(True, 1.0), owner=OWNER)
    circle = dataclasses.replace(EXERCISES["accuracy-run"].instance(0), truth=("circle", 0.9))
    assert not check_run(circle, store, OWNER).correct
