"""The per-layer statistics (layer_stats.py) against a direct torch computation, and training unchanged by them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground import limits
from playground.builder import layer_stats
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.model import linear_layers
from playground.builder.training import Trainer


def small_run(**train) -> tuple[RunConfig, dict]:
    config = RunConfig(
        data=DataConfig(dataset="circle", n_samples=200, seed=1),
        model=ModelSpec(in_features=2, hidden=(6, 5), activations=("relu", "tanh"), out_features=2),
        train=TrainConfig(**{"epochs": 2, "batch_size": 16, "lr": 0.05, "optimizer": "adam", **train}),
    )
    return config, prepare_data(config.data).arrays()


def watched(trainer: Trainer) -> dict:
    """Record, directly with torch, each step's weight-gradient norms (wrapping optimizer.step) and each epoch's
    starting weights; a trainer without statistics does the training."""
    seen: dict = {"norms": [], "start": None}
    step = trainer.optimizer.step
    weights = [m.weight for m in linear_layers(trainer.model)]

    def recording_step(*args, **kwargs):
        seen["norms"].append([float(torch.linalg.vector_norm(w.grad)) for w in weights])
        return step(*args, **kwargs)

    trainer.optimizer.step = recording_step
    return seen


def close(a, b, rel=1e-4, abs_=1e-7) -> bool:
    return a == pytest.approx(b, rel=rel, abs=abs_)


def test_every_statistic_equals_a_direct_torch_computation():
    config, tensors = small_run()
    recorded = Trainer(config, tensors, device="cpu", layer_stats_every=1)
    plain = Trainer(config, tensors, device="cpu")
    seen = watched(plain)
    for _ in range(2):
        recorded.run_epoch()
        start = [m.weight.detach().clone() for m in linear_layers(plain.model)]
        seen["norms"] = []
        plain.run_epoch()
    stats = recorded.last_layers
    layers = linear_layers(plain.model)
    assert [s["name"] for s in stats] == ["layers.0", "layers.2", "layers.4"]
    norms = np.array(seen["norms"])  # [steps, layers], the second epoch's
    X = tensors["X_train"][: limits.LAYER_STATS_ROWS]
    hidden = layers[0](X)  # layer 0 feeds a ReLU: its units that never fire on the training rows
    dead0 = float((hidden <= 0).all(0).float().mean())
    for i, (s, layer) in enumerate(zip(stats, layers, strict=True)):
        for key, tensor in (("weight", layer.weight), ("bias", layer.bias)):
            values = tensor.detach().numpy().ravel()
            d = s[key]
            assert close(d["lo"], values.min()) and close(d["hi"], values.max())
            counts, _ = np.histogram(values, bins=limits.LAYER_STATS_BINS, range=(values.min(), values.max()))
            assert sum(d["counts"]) == values.size and np.abs(np.array(d["counts"]) - counts).max() <= 1
            assert all(close(a, b) for a, b in zip(d["q"], np.quantile(values, layer_stats.QUANTILES), strict=True))
        grad = s["grad"]
        assert grad["steps"] == len(norms) == -(-120 // 16)
        assert close(grad["mean"], norms[:, i].mean()) and close(grad["last"], norms[-1, i])
        assert all(close(a, b) for a, b in zip(grad["q"], np.quantile(norms[:, i], layer_stats.GRAD_QUANTILES),
                                                   strict=True))
        moved = torch.linalg.vector_norm(layer.weight.detach() - start[i]) / torch.linalg.vector_norm(start[i])
        assert close(s["update_ratio"], float(moved))
    assert close(stats[0]["dead"], dead0) and stats[1]["dead"] is None and stats[2]["dead"] is None


def test_the_statistics_do_not_change_training():
    config, tensors = small_run(epochs=3, optimizer="sgd", momentum=0.9)
    recorded = Trainer(config, tensors, device="cpu", layer_stats_every=1)
    plain = Trainer(config, tensors, device="cpu")
    assert recorded.fit() == plain.fit() == "finished"
    assert recorded.history == plain.history  # the same losses to the last digit
    for a, b in zip(recorded.model.state_dict().values(), plain.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert recorded.last_layers and plain.last_layers is None


def test_a_relu_layer_that_never_fires_is_all_dead():
    config, tensors = small_run()
    trainer = Trainer(config, tensors, device="cpu", layer_stats_every=1)
    with torch.no_grad():
        trainer.model.layers[0].bias.fill_(-1e3)  # every pre-activation is below 0 on every row
    trainer.run_epoch()
    assert trainer.last_layers[0]["dead"] == 1.0
    assert trainer.last_layers[0]["grad"]["mean"] == 0.0  # and no gradient reaches its weights


def test_size_is_bounded_by_the_limits():
    assert layer_stats.stride(limits.MAX_EPOCHS) * limits.LAYER_STATS_MAX_EPOCHS >= limits.MAX_EPOCHS
    assert -(-limits.MAX_EPOCHS // layer_stats.stride(limits.MAX_EPOCHS)) <= limits.LAYER_STATS_MAX_EPOCHS
    assert layer_stats.stride(10) == 1
    config, tensors = small_run(epochs=4)
    trainer = Trainer(config, tensors, device="cpu", layer_stats_every=2)
    recorded = []
    for _ in range(4):
        trainer.run_epoch()
        recorded.append(trainer.last_layers is not None)
    assert recorded == [False, True, False, True]
    assert all(len(s["weight"]["counts"]) == limits.LAYER_STATS_BINS for s in trainer.last_layers)


def test_metric_rows_drop_the_layers_only():
    rows = [{"epoch": 1, "train_loss": 0.5, "layers": [{"name": "layers.0"}]}, {"epoch": 2, "train_loss": 0.4}]
    assert layer_stats.metric_rows(rows) == [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.4}]
