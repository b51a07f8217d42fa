"""Each sweep member's per-layer statistics, the same figures a single run records (``layer_stats.py``), computed
for every member at once from the sweep's stacked weights and gradients.

Per recorded epoch the recorder gives a float32 array [members, layers, ``layer_stats.FIELDS``]: row i is
``layer_stats.layer_numbers`` of member i (NaN for a member that did not train that epoch). ``member_layers``
turns a member's rows into the dicts its single run keeps, with its own layer names. Per step, only the weight
gradients' norms of each member and layer (one norm a layer, no device sync), and only in a recorded epoch.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from playground import limits
from playground.builder.config import ModelSpec
from playground.builder.layer_stats import (
    FIELDS,
    ROWS,
    Cadence,
    figures,
    fired_units,
    followed_by_relu,
    layer_numbers,
    stride,
)
from playground.builder.model import build_model, linear_layers


def sweep_stride(epochs: int, members: int, layers: int) -> int:
    """Record every k-th epoch: at most ``LAYER_STATS_MAX_EPOCHS`` epochs, and at most
    ``limits.LAYER_STATS_SWEEP_NUMBERS`` figures for the whole sweep (64 members of 9 layers keep ~100 epochs)."""
    per_epoch = max(1, members * min(layers, limits.LAYER_STATS_MAX_LAYERS) * FIELDS)
    return max(stride(epochs), -(-int(epochs) * per_epoch // limits.LAYER_STATS_SWEEP_NUMBERS))


class _Fired(nn.Module):
    """``fired_units`` as a module's forward, so ``functional_call`` can run it with each member's weights."""

    def __init__(self, model: nn.Module, relu: list[bool]) -> None:
        super().__init__()
        self.model, self.relu = model, relu

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        return fired_units(self.model.layers, x, self.relu)


class SweepLayerStats(Cadence):
    """A sweep's recorder. ``start_epoch(epoch, values)`` before the steps (``values``: every parameter as a
    [rows, *shape] view of the stacked weights), ``after_step(grads)`` with the step's [rows, parameters] gradients,
    ``keep_rows(index)`` when members stop, and ``summary(values, active, members)`` after the epoch."""

    def __init__(self, model: nn.Module, X_train: torch.Tensor, every: int = 1) -> None:
        super().__init__(every)
        self.model = model
        index = {id(p): i for i, p in enumerate(model.parameters())}
        layers = linear_layers(model)[: limits.LAYER_STATS_MAX_LAYERS]
        self.weight_at = [index[id(m.weight)] for m in layers]
        self.bias_at = [index[id(m.bias)] if m.bias is not None else None for m in layers]
        self.relu = followed_by_relu(model)[: len(layers)]
        self.names = [name for name, _ in model.named_parameters()]
        # which column of the stacked [rows, parameters] gradients is which layer's weight: the squared norms of
        # every row and layer are then one product, (grads ** 2) @ pick
        sizes = [p.numel() for p in model.parameters()]
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        self.pick = torch.zeros(sum(sizes), len(layers), device=X_train.device)
        for layer, at in enumerate(self.weight_at):
            self.pick[starts[at] : starts[at] + sizes[at], layer] = 1.0
        self.probe = _Fired(model, self.relu)
        self.X = X_train[:ROWS]
        self._start: list[torch.Tensor] = []
        self._norms: list[torch.Tensor] = []

    @torch.no_grad()
    def start_epoch(self, epoch: int, values: list[torch.Tensor]) -> bool:
        self.armed = self.due(epoch)
        if self.armed:
            self._start = [values[i].detach().clone() for i in self.weight_at]
            self._norms = []
        return self.armed

    @torch.no_grad()
    def after_step(self, grads: torch.Tensor) -> None:
        """Each row's squared weight-gradient norm of each layer, [rows, layers] (the root taken at the summary)."""
        self._norms.append(torch.mm(grads.square(), self.pick))

    def keep_rows(self, index: torch.Tensor) -> None:
        """Members stopped: keep the rows of the others (the stacked weights' rows move up alike)."""
        if self.armed:
            self._start = [s.index_select(0, index) for s in self._start]
            self._norms = [n.index_select(0, index) for n in self._norms]

    @torch.no_grad()
    def _fired(self, values: list[torch.Tensor]) -> dict[int, torch.Tensor]:
        """Each member's ``fired_units`` on the training rows: vmap over functional_call with its weights."""
        if not any(self.relu) or not len(self.X):
            return {}
        keys = [f"model.{name}" for name in self.names]

        def one(*params: torch.Tensor) -> dict[int, torch.Tensor]:
            return functional_call(self.probe, dict(zip(keys, params, strict=True)), (self.X,))

        return vmap(one)(*values)

    @torch.no_grad()
    def summary(self, values: list[torch.Tensor], active: list[int], members: int) -> np.ndarray:
        """The epoch's figures of the members in ``active`` (the rows of ``values``), NaN for the others."""
        started = time.monotonic()
        out = np.full((members, len(self.weight_at), FIELDS), np.nan, dtype=np.float32)
        if active:
            norms = torch.stack(self._norms).sqrt().cpu() if self._norms else None  # [steps, rows, layers]
            fired = self._fired(values)
            for i, (w, b) in enumerate(zip(self.weight_at, self.bias_at, strict=True)):
                numbers = layer_numbers(values[w].detach().cpu(), values[b].detach().cpu() if b is not None else None,
                                        norms[:, :, i] if norms is not None else None, self._start[i].cpu(),
                                        fired[i].cpu() if i in fired else None)
                out[active, i] = numbers
        self.timed(started)
        return out


def layer_names(spec: ModelSpec) -> list[tuple[str, list[int], bool]]:
    """A member's Linear layers as its single run names them: (name, weight shape, has a bias)."""
    model = build_model(spec)
    names = {id(m): name for name, m in model.named_modules()}
    return [(names[id(m)], list(m.weight.shape), m.bias is not None)
            for m in linear_layers(model)[: limits.LAYER_STATS_MAX_LAYERS]]


def member_layers(numbers: Any, member: int, names: list[tuple[str, list[int], bool]]) -> list[dict[str, Any]] | None:
    """Member ``member``'s rows of a recorded epoch's array as the dicts its single run keeps; None where it did not
    train that epoch."""
    rows = np.asarray(numbers)[member]
    if not rows.size or np.isnan(rows).all():
        return None
    out = []
    for row, (name, shape, biased) in zip(rows, names, strict=False):
        layer = figures(row.astype(np.float64).tolist(), name, shape)
        if not biased:
            layer["bias"] = None
        out.append(layer)
    return out
