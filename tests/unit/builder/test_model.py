"""Model building for every option: the Sequential, the layer table, parameter counts, the code shown."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from playground.builder.config import ACTIVATIONS, ModelSpec
from playground.builder.model import build_model, layer_table, parameter_count
from playground.errors import PlaygroundError


@pytest.mark.parametrize(("activation", "dropout", "task"), itertools.product(ACTIVATIONS, (0.0, 0.2), ("classification", "regression")))
def test_every_activation_dropout_and_task(activation, dropout, task):
    out = 3 if task == "classification" else 1
    spec = ModelSpec(in_features=4, hidden=(5, 6), activations=(activation, activation), out_features=out, task=task,
                     dropout=dropout)
    model = build_model(spec)
    assert model(torch.zeros(7, 4)).shape == (7, out)
    assert parameter_count(spec) == sum(p.numel() for p in model.parameters())
    linears = [m for m in model.layers if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4, 5), (5, 6), (6, out)]
    assert sum(isinstance(m, nn.Dropout) for m in model.layers) == (2 if dropout else 0)
    # the course's shape: an nn.Module holding an nn.Sequential, keys layers.0.weight, ...
    assert list(model.state_dict())[:2] == ["layers.0.weight", "layers.0.bias"]


@pytest.mark.parametrize("depth", [0, 1, 8])
def test_depths_and_widths(depth):
    spec = ModelSpec(in_features=2, hidden=(256,) * depth, activations=("relu",) * depth, out_features=2)
    model = build_model(spec)
    assert parameter_count(spec) == sum(p.numel() for p in model.parameters())


def test_layer_table_shapes_follow_the_course():
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 1))
    table = layer_table(model)
    assert table[0] == {"index": 0, "module": "Linear(in_features=32, out_features=64, bias=True)", "weight": "[64, 32]",
                        "bias": "[64]", "parameters": 32 * 64 + 64}
    assert table[1]["weight"] == "" and table[1]["parameters"] == 0
    net = build_model(ModelSpec(in_features=32, hidden=(64,), activations=("relu",), out_features=2))
    assert [row["index"] for row in layer_table(net)] == ["layers.0", "layers.1", "layers.2"]  # state_dict prefixes


def test_limits_are_refused():
    with pytest.raises(PlaygroundError):
        ModelSpec(hidden=(8,) * 9, activations=("relu",) * 9)
    with pytest.raises(PlaygroundError):
        ModelSpec(hidden=(257,), activations=("relu",))
    with pytest.raises(PlaygroundError):
        ModelSpec(hidden=(8,), activations=("swish",))
