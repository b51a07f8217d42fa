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
epoch whose summary is due (``start_epoch``); everything else once an epoch. Nothing here changes the model, the
gradients or the random draws: training is the same with it.

The figures are defined once, batched over members on the rows (``distributions``, ``gradient_summary``,
``layer_numbers``, ``fired_units``; ``figures`` turns a row into the dict): a run computes them as one row, a sweep
(``sweep_layer_stats.py``) for all its members at once from its stacked weights and gradients, and the exported
``train.py --layer-stats`` carries these very functions (``codegen.py`` copies their source).
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
BINS = limits.LAYER_STATS_BINS
ROWS = limits.LAYER_STATS_ROWS

# A layer's figures as one row of numbers (``layer_numbers``), members on the rows: what a sweep keeps per member
# and epoch (float32, NaN where absent), turned into the dicts above by ``figures``.
DIST = BINS + 2 + len(QUANTILES)  # counts, lo, hi, quantiles
GRAD = 2 + len(GRAD_QUANTILES) + 1  # mean, last, quantiles, steps
FIELDS = 2 * DIST + GRAD + 2  # weight, bias, gradient, update ratio, dead share


def rounded(value: float) -> float | None:
    """A finite number rounded to ``DIGITS`` significant digits; None for NaN or infinity (JSON has neither)."""
    value = float(value)
    return float(f"{value:.{DIGITS}g}") if math.isfinite(value) else None


def quantiles(ordered: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """Quantiles of each row of sorted values [m, n] with linear interpolation (what ``np.quantile`` gives), in
    float64: [m, len(qs)], from one sort instead of one per quantile."""
    position = np.asarray(qs) * (ordered.shape[1] - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, ordered.shape[1] - 1)
    values = ordered.astype(np.float64)
    return values[:, below] + (values[:, above] - values[:, below]) * (position - below)


def rows_of(tensor: torch.Tensor) -> np.ndarray:
    """A tensor [m, ...] as a float32 NumPy array [m, n] on the CPU: one row per model."""
    return tensor.detach().reshape(len(tensor), -1).float().cpu().numpy()


def distributions(values: torch.Tensor, bins: int = BINS) -> np.ndarray:
    """Each row of ``values`` [m, n]: a histogram of ``bins`` equal bins from its min to its max (one value: one
    bin), the min, the max and the quantiles ``QUANTILES``: float64 [m, bins + 2 + len(QUANTILES)], all NaN for a
    row holding a value that is not finite."""
    ordered = np.sort(rows_of(values), axis=1).astype(np.float64)
    m = len(ordered)
    lo, hi = ordered[:, :1], ordered[:, -1:]
    finite = np.isfinite(lo) & np.isfinite(hi)
    span = np.where(finite & (hi > lo), hi - lo, 1.0)
    with np.errstate(invalid="ignore"):
        place = np.where(finite, (ordered - np.where(finite, lo, 0.0)) / span * bins, 0.0)
    index = np.clip(np.floor(place), 0, bins - 1).astype(np.int64) + bins * np.arange(m)[:, None]
    counts = np.bincount(index.ravel(), minlength=m * bins).reshape(m, bins).astype(np.float64)
    out = np.concatenate([counts, lo, hi, quantiles(ordered, QUANTILES)], axis=1)
    return np.where(finite, out, np.nan)


def gradient_summary(norms: torch.Tensor) -> np.ndarray:
    """A layer's weight-gradient norms at each step of an epoch, [steps, m]: per column their mean, the last, the
    quantiles ``GRAD_QUANTILES`` and the number of steps, float64 [m, 2 + len(GRAD_QUANTILES) + 1]."""
    steps = norms.detach().double().cpu().numpy().T  # [m, steps]
    count = np.full((len(steps), 1), float(steps.shape[1]))
    ordered = np.sort(steps, axis=1)
    return np.concatenate([steps.mean(1, keepdims=True), steps[:, -1:], quantiles(ordered, GRAD_QUANTILES), count],
                          axis=1)


def layer_numbers(weight: torch.Tensor, bias: torch.Tensor | None, norms: torch.Tensor | None, start: torch.Tensor,
                  fired: torch.Tensor | None) -> np.ndarray:
    """One Linear layer's figures for an epoch, one row per model (m models, 1 for a run): ``weight`` [m, out, in]
    and ``bias`` [m, out] at the epoch's end, the weight-gradient ``norms`` of its steps [steps, m], the weights at
    its ``start`` and, for a layer before a ReLU-family activation, whether each unit ever ``fired`` [m, out].
    float64 [m, 2 * DIST + GRAD + 2]: weight, bias, gradient, update ratio, dead share."""
    m = len(weight)
    now, before = rows_of(weight).astype(np.float64), rows_of(start).astype(np.float64)
    moved = np.sqrt(((now - before) ** 2).sum(1))
    size = np.sqrt((before**2).sum(1))
    ratio = np.where(size > 0, moved / np.where(size > 0, size, 1.0), np.nan)[:, None]
    dead = np.full((m, 1), np.nan) if fired is None else 1.0 - rows_of(fired).astype(np.float64).mean(1, keepdims=True)
    return np.concatenate([
        distributions(weight),
        distributions(bias) if bias is not None else np.full((m, DIST), np.nan),
        gradient_summary(norms) if norms is not None and len(norms) else np.full((m, GRAD), np.nan),
        ratio, dead], axis=1)


def figures(numbers, name: str, shape: list[int]) -> dict[str, Any]:
    """One layer's row of ``layer_numbers`` as the JSON-ready dict a run keeps: ``weight`` and ``bias`` (``counts``,
    ``lo``, ``hi``, ``q``), ``grad`` (``mean``, ``last``, ``q``, ``steps``), ``update_ratio`` and ``dead``."""
    values = [float(v) for v in numbers]

    def dist(at: int) -> dict[str, Any]:
        part = values[at : at + DIST]
        if not math.isfinite(part[BINS]):
            return {"counts": [], "lo": None, "hi": None, "q": [None] * len(QUANTILES)}
        return {"counts": [int(c) for c in part[:BINS]], "lo": rounded(part[BINS]), "hi": rounded(part[BINS + 1]),
                "q": [rounded(v) for v in part[BINS + 2 :]]}

    g = values[2 * DIST : 2 * DIST + GRAD]
    grad = None if not g[-1] > 0 else {"mean": rounded(g[0]), "last": rounded(g[1]),
                                       "q": [rounded(v) for v in g[2:-1]], "steps": int(g[-1])}
    return {"name": name, "shape": list(shape), "weight": dist(0), "bias": dist(DIST), "grad": grad,
            "update_ratio": rounded(values[-2]), "dead": rounded(values[-1])}


def distribution(values: torch.Tensor, bins: int = BINS) -> dict[str, Any]:
    """Histogram and quantiles of one tensor's values (``distributions`` of it as one row), as a run keeps them."""
    row = distributions(values.reshape(1, -1), bins)[0].tolist()
    if not math.isfinite(row[bins]):
        return {"counts": [], "lo": None, "hi": None, "q": [None] * len(QUANTILES)}
    return {"counts": [int(c) for c in row[:bins]], "lo": rounded(row[bins]), "hi": rounded(row[bins + 1]),
            "q": [rounded(v) for v in row[bins + 2 :]]}


def followed_by_relu(model: nn.Module) -> list[bool]:
    """For each Linear layer, whether the next module that is not Dropout is a ReLU-family activation."""
    modules = list(getattr(model, "layers", model.modules()))
    out = []
    for i, module in enumerate(modules):
        if isinstance(module, nn.Linear):
            after = next((m for m in modules[i + 1:] if not isinstance(m, nn.Dropout)), None)
            out.append(isinstance(after, RELU_FAMILY))
    return out


def fired_units(layers: nn.Module, x: torch.Tensor, relu: list[bool]) -> dict[int, torch.Tensor]:
    """Run rows ``x`` through ``layers`` (Dropout skipped: eval mode); for each Linear layer ``i`` before a
    ReLU-family activation (``relu[i]``), whether each of its units was above 0 on at least one row."""
    fired = {}
    index = 0
    for module in layers:
        if isinstance(module, nn.Dropout):
            continue
        x = module(x)
        if isinstance(module, nn.Linear):
            if index < len(relu) and relu[index]:
                fired[index] = (x > 0).any(0)
            index += 1
    return fired


def model_figures(layers: list[nn.Linear], names: list[str], start: list[torch.Tensor], norms: torch.Tensor | None,
                  fired: dict[int, torch.Tensor]) -> list[dict[str, Any]]:
    """One model's figures for an epoch, a dict per Linear layer: ``start``, each layer's weights before the epoch;
    ``norms``, the weight gradients' norms at each step [steps, layers]; ``fired``, ``fired_units`` after it."""
    rows = []
    for i, layer in enumerate(layers):
        numbers = layer_numbers(
            layer.weight.detach().cpu().unsqueeze(0),
            layer.bias.detach().cpu().unsqueeze(0) if layer.bias is not None else None,
            norms[:, i : i + 1] if norms is not None else None, start[i].cpu().unsqueeze(0),
            fired[i].cpu().unsqueeze(0) if i in fired else None)
        row = figures(numbers[0].tolist(), names[i], list(layer.weight.shape))
        if layer.bias is None:
            row["bias"] = None
        rows.append(row)
    return rows


class Cadence:
    """When a recorder's epoch summary is due: every ``every``-th epoch; with a ``share`` (the worker's), only
    once the time since the last summary is ``1 / share`` times what it cost, and always at ``final_epoch``."""

    def __init__(self, every: int = 1) -> None:
        self.every = max(1, int(every))
        # None: a summary every ``every``-th epoch; a share: summaries take at most that share of the time (a
        # full-batch epoch is one step, so a summary every epoch would cost more than the training)
        self.share: float | None = None
        self.final_epoch = 0
        self._next_at = 0.0
        self.armed = False

    def due(self, epoch: int) -> bool:
        if epoch % self.every:
            return False
        return self.share is None or epoch == self.final_epoch or time.monotonic() >= self._next_at

    def timed(self, started: float) -> None:
        """A summary that began at ``started`` (``time.monotonic``) is done: the next waits by its share."""
        if self.share:
            now = time.monotonic()
            self._next_at = now + (now - started) / self.share


class LayerStats(Cadence):
    """One Trainer's per-layer recorder: ``start_epoch`` before the steps, ``after_backward`` at every step,
    ``summary`` after the epoch (when ``due``)."""

    def __init__(self, model: nn.Module, X_train: torch.Tensor, every: int = 1) -> None:
        super().__init__(every)
        self.model = model
        self.layers = linear_layers(model)[: limits.LAYER_STATS_MAX_LAYERS]
        names = {id(m): name for name, m in model.named_modules()}
        self.names = [names.get(id(m), f"layer {i}") for i, m in enumerate(self.layers)]
        self.relu = followed_by_relu(model)[: len(self.layers)]
        self.weights = [m.weight for m in self.layers]
        self.X = X_train[:ROWS]
        self._start = [w.detach().clone() for w in self.weights]
        self._norms: list[torch.Tensor] = []

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
    def summary(self) -> list[dict[str, Any]]:
        started = time.monotonic()
        rows = self._summary()
        self.timed(started)
        return rows

    def _summary(self) -> list[dict[str, Any]]:
        norms = torch.stack(self._norms).float().cpu() if self._norms else None  # [steps, layers]
        fired = fired_units(getattr(self.model, "layers", ()), self.X, self.relu) if len(self.X) else {}
        return model_figures(self.layers, self.names, self._start, norms, fired)


def stride(epochs: int) -> int:
    """Record every k-th epoch so a run of ``epochs`` keeps at most ``limits.LAYER_STATS_MAX_EPOCHS`` of them."""
    return max(1, -(-int(epochs) // limits.LAYER_STATS_MAX_EPOCHS))


def metric_rows(history: list[dict] | tuple[dict, ...]) -> list[dict]:
    """The history's rows without their layer statistics (the flat per-epoch metrics)."""
    return [{k: v for k, v in row.items() if k != "layers"} for row in history]
