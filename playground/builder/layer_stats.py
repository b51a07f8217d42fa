"""What each layer's weights and gradients do, epoch by epoch: the numbers behind the "inside training" view.

Per Linear layer and recorded epoch (``LayerStats.summary``), a JSON-ready dict:

- ``weight`` / ``bias``: a histogram (``limits.LAYER_STATS_BINS`` equal bins between the values' min and max:
  ``counts``, ``lo``, ``hi``) and the quantiles ``QUANTILES`` (TensorBoard's "distributions" bands), at the
  epoch's end;
- ``grad``: the weight gradient's L2 norm at every step of the epoch (taken after ``backward``, before the
  optimizer's step): its ``mean``, ``last`` and quantiles ``GRAD_QUANTILES`` over the steps;
- ``update_ratio``: ``||W_end - W_start|| / ||W_start||``, how far the epoch moved the weights relative to them;
- ``dead``: for a layer followed by a ReLU-family activation, the share of its units whose pre-activation was
  never above 0 on the training rows (the first ``limits.LAYER_STATS_ROWS``) with the epoch's final weights;
  None for other layers.

Per step only the gradient norms are taken (one fused ``torch._foreach_norm``, no device sync), and only in an
epoch whose summary is due (``start_epoch``); everything else once an epoch. Nothing here changes the model, the gradients or the random draws: training is the same with it.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from playground import limits
from playground.builder.model import linear_layers

QUANTILES = (0.0, 0.07, 0.16, 0.31, 0.5, 0.69, 0.84, 0.93, 1.0)  # TensorBoard's compressed-histogram bands
GRAD_QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
RELU_FAMILY = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.CELU, nn.SELU)
DIGITS = 6  # significant digits kept (the kept run's JSON stays small)


def _number(value: float) -> float | None:
    """A finite number rounded to ``DIGITS`` significant digits; None for NaN or infinity (JSON has neither)."""
    value = float(value)
    return float(f"{value:.{DIGITS}g}") if math.isfinite(value) else None


def distribution(values: torch.Tensor, bins: int = limits.LAYER_STATS_BINS) -> dict[str, Any]:
    """Histogram and quantiles of a tensor's values (the bins span its min to max; one value gets one bin)."""
    flat = values.detach().reshape(-1).float().cpu()
    ordered = np.sort(flat.numpy())
    lo, hi = float(ordered[0]), float(ordered[-1])
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return {"counts": [], "lo": None, "hi": None, "q": [None] * len(QUANTILES)}
    top = hi if hi > lo else lo + 1.0
    counts = torch.histc(flat, bins=bins, min=lo, max=top)
    return {"counts": [int(c) for c in counts.tolist()], "lo": _number(lo), "hi": _number(hi),
            "q": [_number(v) for v in _quantiles(ordered, QUANTILES)]}


def _quantiles(ordered: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    """Quantiles of sorted values with linear interpolation (what ``np.quantile`` and ``torch.quantile`` give),
    from one sort instead of one per call."""
    position = np.asarray(qs) * (len(ordered) - 1)
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, len(ordered) - 1)
    values = ordered.astype(np.float64)
    return (values[below] + (values[above] - values[below]) * (position - below)).tolist()


def followed_by_relu(model: nn.Module) -> list[bool]:
    """For each Linear layer, whether the next module that is not Dropout is a ReLU-family activation."""
    modules = list(getattr(model, "layers", model.modules()))
    out = []
    for i, module in enumerate(modules):
        if isinstance(module, nn.Linear):
            after = next((m for m in modules[i + 1:] if not isinstance(m, nn.Dropout)), None)
            out.append(isinstance(after, RELU_FAMILY))
    return out


class LayerStats:
    """One Trainer's per-layer recorder: ``start_epoch`` before the steps, ``after_backward`` at every step,
    ``summary`` after the epoch (every ``every``-th epoch: ``due``)."""

    def __init__(self, model: nn.Module, X_train: torch.Tensor, every: int = 1) -> None:
        self.model = model
        self.layers = linear_layers(model)[: limits.LAYER_STATS_MAX_LAYERS]
        names = {id(m): name for name, m in model.named_modules()}
        self.names = [names.get(id(m), f"layer {i}") for i, m in enumerate(self.layers)]
        self.relu = followed_by_relu(model)[: len(self.layers)]
        self.weights = [m.weight for m in self.layers]
        self.X = X_train[: limits.LAYER_STATS_ROWS]
        self.every = max(1, int(every))
        self._start = [w.detach().clone() for w in self.weights]
        self._norms: list[torch.Tensor] = []
        # None: a summary every ``every``-th epoch; a share (the worker's): summaries take at most that share of the
        # time (a full-batch epoch is one step, so a summary every epoch would cost more than the training)
        self.share: float | None = None
        self.final_epoch = 0
        self._next_at = 0.0
        self.armed = False

    def due(self, epoch: int) -> bool:
        """Every ``every``-th epoch; with a ``share``, only once the time since the last summary is ``1 / share``
        times what it cost (``final_epoch`` always)."""
        if epoch % self.every:
            return False
        return self.share is None or epoch == self.final_epoch or time.monotonic() >= self._next_at

    @torch.no_grad()
    def start_epoch(self, epoch: int) -> bool:
        """Before epoch ``epoch``'s steps: True (and the weights kept) when its summary is due; the steps of an
        epoch that is not due record nothing."""
        self.armed = self.due(epoch)
        if self.armed:
            torch._foreach_copy_(self._start, [w.detach() for w in self.weights])
            self._norms = []
        return self.armed

    @torch.no_grad()
    def after_backward(self) -> None:
        grads = [w.grad for w in self.weights]
        if any(g is None for g in grads):
            return
        self._norms.append(torch.stack(torch._foreach_norm(grads)))

    @torch.no_grad()
    def dead_shares(self) -> list[float | None]:
        """Per layer: the share of units never above 0 before a ReLU-family activation (None: not one)."""
        fired: dict[int, torch.Tensor] = {}
        x = self.X
        index = 0
        for module in getattr(self.model, "layers", ()):
            if isinstance(module, nn.Dropout):
                continue  # the identity in eval mode
            x = module(x)
            if isinstance(module, nn.Linear):
                if index < len(self.relu) and self.relu[index]:
                    fired[index] = (x > 0).any(0)
                index += 1
        return [(1.0 - float(fired[i].float().mean())) if i in fired and len(self.X) else None
                for i in range(len(self.layers))]

    @torch.no_grad()
    def summary(self) -> list[dict[str, Any]]:
        started = time.monotonic()
        rows = self._summary()
        if self.share:
            now = time.monotonic()
            self._next_at = now + (now - started) / self.share
        return rows

    def _summary(self) -> list[dict[str, Any]]:
        norms = torch.stack(self._norms).float().cpu() if self._norms else None  # [steps, layers]
        deltas = torch._foreach_sub([w.detach() for w in self.weights], self._start)
        moved = torch.stack(torch._foreach_norm(deltas)).cpu().tolist()
        sizes = torch.stack(torch._foreach_norm(self._start)).cpu().tolist()
        dead = self.dead_shares()
        rows = []
        for i, layer in enumerate(self.layers):
            grad = None
            if norms is not None:
                column = norms[:, i]
                grad = {"mean": _number(column.mean()), "last": _number(column[-1]),
                        "q": [_number(v) for v in _quantiles(np.sort(column.numpy()), GRAD_QUANTILES)],
                        "steps": len(column)}
            rows.append({
                "name": self.names[i],
                "shape": list(layer.weight.shape),
                "weight": distribution(layer.weight),
                "bias": distribution(layer.bias) if layer.bias is not None else None,
                "grad": grad,
                "update_ratio": _number(moved[i] / sizes[i]) if sizes[i] > 0 else None,
                "dead": _number(dead[i]) if dead[i] is not None else None,
            })
        return rows


def stride(epochs: int) -> int:
    """Record every k-th epoch so a run of ``epochs`` keeps at most ``limits.LAYER_STATS_MAX_EPOCHS`` of them."""
    return max(1, -(-int(epochs) // limits.LAYER_STATS_MAX_EPOCHS))


def metric_rows(history: list[dict] | tuple[dict, ...]) -> list[dict]:
    """The history's rows without their layer statistics (the flat per-epoch metrics)."""
    return [{k: v for k, v in row.items() if k != "layers"} for row in history]
