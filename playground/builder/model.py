"""The MLP a ModelSpec describes, and the finished model handed between training, weights and the run store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from playground.builder.config import ModelSpec, RunConfig
from playground.builder.registry import ACTIVATIONS


class Net(nn.Module):
    """The course's model: ``__init__`` defines the layers, ``forward`` computes the output.

    The layers sit in ``self.layers``, an ``nn.Sequential``, so the state_dict keys are ``layers.0.weight``,
    ``layers.0.bias``, ...: the keys of the class the code panels and ``train.py`` write, of every
    downloaded ``.pt`` and of every kept run.
    """

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def build_layers(spec: ModelSpec) -> list[nn.Module]:
    """Linear layers with the chosen activations (and dropout), the output layer last.

    The output layer gives logits for classification (``CrossEntropyLoss`` applies log-softmax) and
    one value for regression.
    """
    layers: list[nn.Module] = []
    width = spec.in_features
    for hidden, activation in zip(spec.hidden, spec.activations, strict=True):
        layers.append(nn.Linear(width, hidden))
        module = ACTIVATIONS[activation].module
        if module is not None:
            layers.append(module())
        if spec.dropout > 0:
            layers.append(nn.Dropout(spec.dropout))
        width = hidden
    layers.append(nn.Linear(width, spec.out_features))
    return layers


def build_model(spec: ModelSpec) -> Net:
    """The ``Net`` a spec describes, with PyTorch's default initialisation (seed first for the same weights)."""
    return Net(*build_layers(spec))


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The Linear layers, input to output."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def parameter_count(spec: ModelSpec) -> int:
    """Weights plus biases of every Linear layer, computed from the spec alone."""
    widths = spec.widths
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))


def layer_table(model) -> list[dict[str, object]]:
    """One row per layer of the model's ``nn.Sequential``: its state_dict prefix, printout, weight and bias
    shapes, parameter count."""
    rows = []
    for index, module in enumerate(getattr(model, "layers", model)):
        weight = getattr(module, "weight", None)
        bias = getattr(module, "bias", None)
        rows.append({
            "index": f"layers.{index}" if hasattr(model, "layers") else index,
            "module": repr(module),
            "weight": str(list(weight.shape)) if weight is not None else "",
            "bias": str(list(bias.shape)) if bias is not None else "",
            "parameters": sum(p.numel() for p in module.parameters()),
        })
    return rows


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

    def build(self) -> Net:
        """A fresh model with these weights loaded, on the CPU, in eval mode."""
        model = build_model(self.config.model)
        model.load_state_dict(self.state_dict)
        return model.eval()
