"""What a model computes over the input plane: the decision boundary or regression surface as a compact
heatmap, and one thumbnail per hidden neuron. Compact: uint8 (probabilities, activations) or float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from playground.builder.datasets import PLANE, expand_features, standardize

GRID_SIDE = 64
THUMB_SIDE = 24
MAX_THUMBS_PER_LAYER = 16


@dataclass(frozen=True)
class Heatmap:
    """A grid of values over [x_min, x_max] x [y_min, y_max]; row i is y = ys[i].

    ``kind`` is "probability" (uint8 0-255 of the class-1 probability), "class" (uint8 predicted class,
    with ``confidence`` uint8), or "value" (float32 regression outputs).
    """

    kind: str
    values: np.ndarray
    extent: tuple[float, float, float, float]
    confidence: np.ndarray | None = None

    @property
    def xs(self) -> np.ndarray:
        return np.linspace(self.extent[0], self.extent[1], self.values.shape[1])

    @property
    def ys(self) -> np.ndarray:
        return np.linspace(self.extent[2], self.extent[3], self.values.shape[0])


def grid_points(side: int, extent: tuple[float, float, float, float] = (-PLANE, PLANE, -PLANE, PLANE)) -> torch.Tensor:
    """``side * side`` points on the plane, row by row from the bottom (y) and left (x)."""
    xs = torch.linspace(extent[0], extent[1], side)
    ys = torch.linspace(extent[2], extent[3], side)
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)


def _to_uint8(values: torch.Tensor, low: float, high: float) -> np.ndarray:
    scaled = (values - low) / (high - low if high > low else 1.0)
    return (scaled.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


@torch.no_grad()
def outputs_over_plane(model: nn.Module, features: tuple[str, ...], standardization: dict[str, list[float]] | None,
                       side: int) -> torch.Tensor:
    """The model's outputs at ``side * side`` points of the plane, float on the CPU (run on the model's own device,
    in eval mode; the model is left in the mode it was in)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    X = standardize(expand_features(grid_points(side), features), standardization).to(device)
    out = model(X).float().cpu()
    model.train(was_training)
    return out


def heatmap(
    model: nn.Module,
    features: tuple[str, ...],
    standardization: dict[str, list[float]] | None,
    task: str,
    side: int = GRID_SIDE,
) -> Heatmap:
    """The model's prediction over the plane (the model's own device, eval mode; back to train mode after)."""
    out = outputs_over_plane(model, features, standardization, side)
    extent = (-PLANE, PLANE, -PLANE, PLANE)
    if task == "regression":
        return Heatmap("value", out.reshape(side, side).numpy().astype(np.float32), extent)
    probs = torch.softmax(out, dim=1)
    if probs.shape[1] == 2:
        return Heatmap("probability", _to_uint8(probs[:, 1], 0.0, 1.0).reshape(side, side), extent)
    confidence, cls = probs.max(dim=1)
    return Heatmap(
        "class",
        cls.to(torch.uint8).reshape(side, side).numpy(),
        extent,
        confidence=_to_uint8(confidence, 0.0, 1.0).reshape(side, side),
    )


@torch.no_grad()
def neuron_thumbnails(
    model: nn.Module,
    features: tuple[str, ...],
    standardization: dict[str, list[float]] | None,
    side: int = THUMB_SIDE,
    per_layer: int = MAX_THUMBS_PER_LAYER,
) -> list[np.ndarray]:
    """For each hidden layer, uint8 images [neurons, side, side] of what each neuron outputs over the plane.

    Each neuron's image is scaled to its own range. At most ``per_layer`` neurons a layer are drawn.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    x = standardize(expand_features(grid_points(side), features), standardization).to(device)
    layers: list[np.ndarray] = []
    modules = list(getattr(model, "layers", model))  # Net keeps its nn.Sequential in .layers
    linear_indices = [i for i, m in enumerate(modules) if isinstance(m, nn.Linear)]
    last_linear = linear_indices[-1]
    for i, module in enumerate(modules):
        x = module(x)
        if i >= last_linear:
            break
        # a hidden layer's output is taken after its activation (the module before the next Linear)
        nxt = modules[i + 1] if i + 1 < len(modules) else None
        if isinstance(nxt, nn.Linear) or isinstance(nxt, nn.Dropout):
            if isinstance(module, nn.Dropout):
                continue
            acts = x[:, :per_layer].float().cpu()
            low = acts.min(dim=0).values
            high = acts.max(dim=0).values
            span = torch.where(high - low > 1e-9, high - low, torch.ones_like(high))
            scaled = ((acts - low) / span * 255).round().to(torch.uint8)
            layers.append(scaled.T.reshape(-1, side, side).numpy())
    model.train(was_training)
    return layers


def output_thumbnails(
    model: nn.Module,
    features: tuple[str, ...],
    standardization: dict[str, list[float]] | None,
    task: str,
    side: int = THUMB_SIDE,
    per_layer: int = MAX_THUMBS_PER_LAYER,
) -> np.ndarray | None:
    """For a classifier, uint8 images [classes, side, side] of each output neuron's class probability over the
    plane (``softmax`` of the logits, 0 to 255 for 0 to 1: one scale for all, so they compare); at most
    ``per_layer`` classes. None for a regression model (its one output is the surface itself)."""
    if task == "regression":
        return None
    probs = torch.softmax(outputs_over_plane(model, features, standardization, side), dim=1)[:, :per_layer]
    return _to_uint8(probs, 0.0, 1.0).T.reshape(-1, side, side)


def layer_weights(model: nn.Module, per_layer: int = MAX_THUMBS_PER_LAYER) -> list[np.ndarray]:
    """The Linear weights, cut to the first ``per_layer`` neurons each side (what the diagram draws), float32."""
    out = []
    inputs = per_layer
    for module in getattr(model, "layers", model):
        if isinstance(module, nn.Linear):
            out.append(module.weight.detach()[:per_layer, :inputs].float().cpu().numpy())
    return out
