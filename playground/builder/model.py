"""The MLP a ModelSpec describes, and the finished model handed between training, weights and the run store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from playground.builder.config import ModelSpec, RunConfig

ACTIVATION_MODULES: dict[str, type[nn.Module] | None] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "linear": None,  # no activation: the layer stays linear
}


def build_model(spec: ModelSpec) -> nn.Sequential:
    """``nn.Sequential`` of Linear layers with the chosen activations (and dropout), output last.

    The output layer gives logits for classification (``CrossEntropyLoss`` applies log-softmax) and
    one value for regression (``MSELoss``). Layer order is fixed, so state_dict keys are predictable:
    ``0.weight``, ``0.bias``, ... as ``nn.Sequential`` numbers them.
    """
    layers: list[nn.Module] = []
    width = spec.in_features
    for hidden, activation in zip(spec.hidden, spec.activations, strict=True):
        layers.append(nn.Linear(width, hidden))
        module = ACTIVATION_MODULES[activation]
        if module is not None:
            layers.append(module())
        if spec.dropout > 0:
            layers.append(nn.Dropout(spec.dropout))
        width = hidden
    layers.append(nn.Linear(width, spec.out_features))
    return nn.Sequential(*layers)


def parameter_count(spec: ModelSpec) -> int:
    """Weights plus biases of every Linear layer, computed from the spec alone."""
    widths = spec.widths
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))


@dataclass(frozen=True)
class TrainedModel:
    """A model after (or during) training, as the weights panel, the run store and the Runs page see it.

    ``state_dict`` holds CPU tensors. ``history`` has one dict per epoch with keys ``epoch``,
    ``train_loss``, ``val_loss`` and, for classification, ``train_acc`` and ``val_acc``.
    ``standardization`` is ``{"mean": [...], "std": [...]}`` of the input features (fit on the training
    split) or None; ``classes`` names the classes of a classifier.
    """

    config: RunConfig
    state_dict: dict[str, torch.Tensor]
    history: tuple[dict[str, float], ...] = ()
    test_metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "finished"  # finished | stopped | diverged
    device: str = "cpu"
    duration_s: float = 0.0
    standardization: dict[str, list[float]] | None = None
    classes: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()

    def build(self) -> nn.Sequential:
        """A fresh model with these weights loaded, on the CPU, in eval mode."""
        model = build_model(self.config.model)
        model.load_state_dict(self.state_dict)
        return model.eval()
