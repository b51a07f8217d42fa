"""Made-up finished runs (real weights, invented metrics) for the weights, store and Runs page tests."""

from __future__ import annotations

import torch

from playground.builder import evaluation
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.model import TrainedModel, build_model

SPEC = ModelSpec(in_features=2, hidden=(8, 4), activations=("tanh", "relu"), out_features=3)


def _test_metrics(model, spec: ModelSpec, seed: int) -> dict:
    """The test figures the app computes, of this model on random inputs (real shapes, made-up data)."""
    metrics = getattr(evaluation, "compute_test_metrics", None) or evaluation.test_metrics
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(50, spec.in_features, generator=generator)
    with torch.no_grad():
        outputs = model.eval()(X)
    if spec.task == "regression":
        return metrics(outputs, torch.randn(50, 1, generator=generator), "regression")
    y = torch.randint(0, spec.out_features, (50,), generator=generator)
    return metrics(outputs, y, "classification", tuple(str(i) for i in range(spec.out_features)))


def make_trained(
    spec: ModelSpec = SPEC,
    seed: int = 0,
    epochs: int = 3,
    lr: float = 0.03,
    optimizer: str = "adam",
    dataset: str = "spiral3",
    status: str = "finished",
) -> TrainedModel:
    """A run of ``spec`` whose loss falls a little each epoch; weights are ``build_model``'s at ``seed``."""
    torch.manual_seed(seed)
    model = build_model(spec)
    features = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin_x1", "sin_x2")[: spec.in_features]
    config = RunConfig(
        data=DataConfig(dataset=dataset, features=features, standardize=True),
        model=spec,
        train=TrainConfig(seed=seed, epochs=epochs, lr=lr, optimizer=optimizer),
    )
    classification = spec.task == "classification"
    history = tuple(
        {
            "epoch": e + 1,
            "train_loss": 1.0 / (e + 1) + seed * 0.01,
            "val_loss": 1.1 / (e + 1) + seed * 0.01,
            **({"train_acc": min(0.99, 0.5 + 0.02 * e), "val_acc": min(0.98, 0.45 + 0.02 * e)} if classification else {}),
        }
        for e in range(epochs)
    )
    return TrainedModel(
        config=config,
        state_dict={k: v.detach().clone() for k, v in model.state_dict().items()},
        history=history,
        test_metrics=_test_metrics(model, spec, seed),
        status=status,
        device="cpu",
        duration_s=1.5,
        standardization={"mean": [0.1] * spec.in_features, "std": [1.5] * spec.in_features},
        classes=tuple(str(i) for i in range(spec.out_features)) if classification else (),
        feature_names=features,
    )
