"""The Model Builder's limits tested AT the limit (accepted) and one past it (refused): an off-by-one in a
bound (``<`` for ``<=``) must fail here, not only in the slow reliability suite."""

from __future__ import annotations

import pytest

from playground import limits
from playground.builder.config import DataConfig, ModelSpec, TrainConfig
from playground.errors import PlaygroundError


def model(hidden):
    return ModelSpec(in_features=2, hidden=tuple(hidden), activations=("relu",) * len(hidden), out_features=2)


@pytest.mark.parametrize("make, at, past", [
    (lambda n: model([4] * n), limits.MAX_HIDDEN_LAYERS, limits.MAX_HIDDEN_LAYERS + 1),
    (lambda w: model([w]), limits.MAX_LAYER_WIDTH, limits.MAX_LAYER_WIDTH + 1),
    (lambda e: TrainConfig(epochs=e), limits.MAX_EPOCHS, limits.MAX_EPOCHS + 1),
    (lambda e: TrainConfig(epochs=e), 1, 0),
    (lambda lr: TrainConfig(lr=lr), limits.MAX_LEARNING_RATE, limits.MAX_LEARNING_RATE * 1.001),
    (lambda lr: TrainConfig(lr=lr), limits.MIN_LEARNING_RATE, limits.MIN_LEARNING_RATE * 0.999),
    (lambda n: DataConfig(n_samples=n), limits.MAX_SAMPLES, limits.MAX_SAMPLES + 1),
    (lambda n: DataConfig(n_samples=n), limits.MIN_SAMPLES, limits.MIN_SAMPLES - 1),
    (lambda b: TrainConfig(batch_size=b), limits.MAX_BATCH_SIZE, limits.MAX_BATCH_SIZE + 1),
    (lambda b: TrainConfig(batch_size=b), 1, 0),
    (lambda s: TrainConfig(seed=s), limits.MAX_SEED, limits.MAX_SEED + 1),
    (lambda p: TrainConfig(keep_best=True, patience=p), 1, 0),
    (lambda n: TrainConfig(lr_changes=tuple((i, 0.01) for i in range(n))), limits.MAX_LR_CHANGES, limits.MAX_LR_CHANGES + 1),
], ids=["hidden layers", "layer width", "epochs", "epochs low", "lr high", "lr low", "samples", "samples low",
        "batch", "batch low", "seed", "patience low", "lr changes"])
def test_at_the_limit_accepted_one_past_refused(make, at, past):
    make(at)
    with pytest.raises(PlaygroundError):
        make(past)


def test_the_limits_themselves_are_pinned():
    assert (limits.MAX_HIDDEN_LAYERS, limits.MAX_LAYER_WIDTH, limits.MAX_EPOCHS) == (8, 256, 2_000)
    assert (limits.MIN_SAMPLES, limits.MAX_SAMPLES, limits.MAX_BATCH_SIZE) == (20, 100_000, 100_000)
    assert (limits.MIN_LEARNING_RATE, limits.MAX_LEARNING_RATE, limits.MAX_LR_CHANGES) == (1e-5, 10.0, 50)
    assert (limits.MAX_SWEEP_MEMBERS, limits.MAX_SWEEP_AXES) == (64, 2)
