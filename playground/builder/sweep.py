"""Sweeps: one setup trained at several values of one or two settings, every member at once, in one process.

A ``SweepConfig`` is a base ``RunConfig`` and one or two axes (a sweepable setting and its values, listed or
spaced on a log range); its members are the grid of those values, first axis outermost. ``sweep.member(i)``
is member i as an ordinary run, with the key that run would have.

A ``SweepTrainer`` trains all members together on the same prepared data. Their weights are stacked in one
``[members, parameters]`` buffer; each Linear layer is one batched product (``torch.baddbmm``), each
optimizer update a few elementwise operations over the whole buffer with each member's own learning rate,
weight decay, momentum and regularisation rate. It steps like ``Trainer``: ``run_epoch(control)``,
``history`` (one list a member), ``epoch``, ``state_dict_cpu(i)`` in ``build_model(spec)``'s keys.

Member i is the single run ``Trainer(sweep.member(i), tensors)`` (training.py's docstring), done alongside,
and on the CPU it gives that run's bits (the tests compare weights with ``torch.equal`` after 20 epochs):

- its initial weights are ``torch.manual_seed(seed_i); build_model(spec_i)``;
- its batches come from its own ``torch.Generator().manual_seed(seed_i)``, drawing what a DataLoader draws;
- its dropout masks (CPU) come from its own generator, holding the global RNG state its build left, drawn
  layer after layer as ``nn.Dropout`` draws them (``bernoulli_(1 - p)``, then ``div_(1 - p)``);
- each of a Linear layer's products (forward, input, weight and bias gradients) is done in a batched form
  checked once, on random data laid out as the real one, to give the bits of the run's own calls (torch
  sends small products to a loop that adds in another order than MKL, so a padded, fused-multiply-add or
  vector-lane form is chosen where needed, or the members go one by one); activations and loss gradients use
  the formulas autograd uses, each member's entries walked as its run walks its tensor where a function's
  vector and scalar lanes round differently;
- the penalty is on the weight matrices only, its gradient added as autograd adds it;
- the optimizer updates follow torch's CPU kernels down to which multiply-adds are fused, lane by lane (fused
  SGD, Adam and AdamW, the single-tensor RMSprop), one small function each in ``OPTIMIZER_STEPS``, checked
  once against the members' own torch optimizers (else those step each member).

Reported mean losses may differ from the run's in the last bits (a float sum in another order), which never
feeds back into training. Exactness holds on one torch thread, as a training worker runs. On CUDA the
batched forms are used as they are and dropout masks come from a CUDA generator a member, seeded with its
seed: close to the CPU, not the same bits.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from playground import limits
from playground.builder import registry
from playground.builder.config import RunConfig
from playground.builder.datasets import split_sizes
from playground.builder.model import build_model, parameter_count
from playground.builder.training import (
    CHECK_EVERY_S,
    DIVERGED_SENTENCE,
    EVAL_BATCH,
    EpochResult,
    Stopped,
    apply_cudnn_flags,
    epoch_permutation,
    finish_epoch_draws,
    make_criterion,
    make_optimizer,
    resolve_device,
)
from playground.errors import PlaygroundError

# --------------------------------------------------------------------------------------------------
# What may vary
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweepable:
    """A setting a sweep may vary (a registry row marked sweepable): where it lives in the RunConfig, its label,
    whether it is a whole number."""

    name: str
    section: str  # "train" or "model"
    attr: str
    label: str
    integer: bool = False

    def pointless(self, base: RunConfig) -> str:
        """The sentence saying why varying this setting in ``base`` would train one model many times, or ""."""
        row = registry.BY_NAME[self.name]
        if self.name == "dropout" and not base.model.hidden:
            return "A model without hidden layers has no dropout; add a hidden layer to sweep it."
        if row.shown(base.values()):
            return ""
        if self.name in registry.OPTIMIZER_SETTINGS:
            users = [o.label for o in registry.OPTIMIZERS.values() if self.name in o.settings]
            return (f"{self.label.capitalize()} is not a setting of {registry.OPTIMIZERS[base.train.optimizer].label}; "
                    f"choose {' or '.join(users)} to sweep it.")
        if self.name == "reg_rate":
            return "Choose L1 or L2 regularisation before sweeping its rate."
        return f"The {self.label} does not apply to this setup, so every member would train alike."


SWEEPABLE: dict[str, Sweepable] = {
    row.name: Sweepable(row.name, row.section, row.attr, row.label, integer=row.kind == "int")
    for row in registry.SWEEPABLE
}

LOG_RANGE_DIGITS = 3  # significant digits a log range's values are rounded to, so labels read as typed


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class SweepAxis:
    """One varied setting: its values listed (``values``) or ``count`` values spaced evenly on a log scale
    from ``low`` to ``high`` (rounded to three significant digits)."""

    setting: str
    values: tuple[float, ...] = ()
    low: float | None = None
    high: float | None = None
    count: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        if self.setting not in SWEEPABLE:
            raise PlaygroundError(f"{self.setting!r} cannot be swept; choose one of {', '.join(SWEEPABLE)}.")
        label = SWEEPABLE[self.setting].label
        ranged = self.low is not None or self.high is not None or self.count
        if self.values and ranged:
            raise PlaygroundError(f"Give the {label} either as a list of values or as a log range, not both.")
        if not self.values and not ranged:
            raise PlaygroundError(f"Give at least one value of the {label} to sweep.")
        if self.values:
            if len(self.values) > limits.MAX_SWEEP_MEMBERS:
                raise PlaygroundError(f"A sweep axis takes at most {limits.MAX_SWEEP_MEMBERS} values.")
            if not all(_number(v) for v in self.values):
                raise PlaygroundError(f"Each value of the {label} must be a finite number.")
            if SWEEPABLE[self.setting].integer:
                if not all(float(v).is_integer() for v in self.values):
                    raise PlaygroundError(f"Each {label} must be a whole number.")
                object.__setattr__(self, "values", tuple(int(v) for v in self.values))
            if len(set(self.values)) != len(self.values):
                raise PlaygroundError(f"Each value of the {label} may appear once.")
            return
        if SWEEPABLE[self.setting].integer:
            raise PlaygroundError(f"List the {label}s to sweep; a log range is for rates.")
        if not (_number(self.low) and _number(self.high) and 0 < self.low < self.high):
            raise PlaygroundError(f"A log range of the {label} needs two positive ends, the lower first; "
                                  "list the values instead to include 0.")
        if not (isinstance(self.count, int) and not isinstance(self.count, bool)
                and 2 <= self.count <= limits.MAX_SWEEP_MEMBERS):
            raise PlaygroundError(f"A log range takes from 2 to {limits.MAX_SWEEP_MEMBERS} values.")
        if len(set(self.points)) != self.count:
            raise PlaygroundError(f"The log range of the {label} is too narrow for {self.count} distinct values "
                                  f"at {LOG_RANGE_DIGITS} significant digits; widen it or take fewer values.")

    @property
    def points(self) -> tuple[float, ...]:
        """The values the axis takes, in order."""
        if self.values:
            return self.values
        low, high, n = float(self.low), float(self.high), self.count  # type: ignore[arg-type]
        ratio = math.log(high / low)
        return tuple(float(f"{low * math.exp(ratio * k / (n - 1)):.{LOG_RANGE_DIGITS}g}") for k in range(n))

    def to_dict(self) -> dict[str, Any]:
        if self.values:
            return {"setting": self.setting, "values": list(self.values)}
        return {"setting": self.setting, "low": self.low, "high": self.high, "count": self.count}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepAxis:
        if not isinstance(data, dict):
            raise PlaygroundError("A sweep axis must be a mapping of a setting and its values.")
        values = data.get("values", ())
        if not isinstance(values, (list, tuple)):
            raise PlaygroundError("A sweep axis's values must be a list.")
        return cls(setting=str(data.get("setting", "")), values=tuple(values), low=data.get("low"),
                   high=data.get("high"), count=data.get("count", 0))

    @classmethod
    def from_text(cls, setting: str, text: str) -> SweepAxis:
        """An axis of listed values typed as text (``"0.01, 0.03, 0.1"``), read by the one literal parser (never
        evaluated); a sentence naming the setting when the text is not a list of numbers."""
        from playground.tensors.literal import parse_numbers

        label = SWEEPABLE[setting].label if setting in SWEEPABLE else "setting"
        example = "0, 1, 2" if setting in SWEEPABLE and SWEEPABLE[setting].integer else "0.01, 0.03, 0.1"
        if not isinstance(text, str) or len(text) > limits.MAX_SWEEP_VALUES_CHARS:
            raise PlaygroundError(f"Type the values of the {label} in at most {limits.MAX_SWEEP_VALUES_CHARS:,} "
                                  f"characters, e.g. {example}.")
        if not text.strip():
            raise PlaygroundError(f"Give at least one value of the {label} to sweep, e.g. {example}.")
        try:
            values = parse_numbers(text)
        except PlaygroundError as exc:
            raise PlaygroundError(f"The values of the {label} must be numbers separated by commas, e.g. {example}.",
                                  exc.detail or exc.sentence) from None
        return cls(setting=setting, values=tuple(values))


def check_sweep_size(members: int, parameters: int, train_rows: int, rows_in_flight: int, hidden_total: int) -> None:
    """Refuse, with a sentence, a sweep whose weights, epoch or activations would exceed the limits."""
    if members * parameters > limits.MAX_SWEEP_PARAMETERS:
        raise PlaygroundError(
            f"{members} models of {parameters:,} parameters are {members * parameters:,} weights to train at once; "
            f"a sweep may hold at most {limits.MAX_SWEEP_PARAMETERS:,}. Take fewer values or a smaller model.")
    work = members * parameters * train_rows
    if work > limits.MAX_SWEEP_WORK:
        raise PlaygroundError(
            f"{members} models x {parameters:,} parameters x {train_rows:,} training rows is {work:,} per epoch; "
            f"a sweep may do at most {limits.MAX_SWEEP_WORK:,}. Take fewer values, fewer samples or a smaller model.")
    activations = members * rows_in_flight * hidden_total
    if activations > limits.MAX_SWEEP_ACTIVATIONS:
        raise PlaygroundError(
            f"{members} models x {rows_in_flight:,} rows at once x {hidden_total:,} hidden neurons is "
            f"{activations:,} activations; a sweep may hold at most {limits.MAX_SWEEP_ACTIVATIONS:,}. "
            "Take fewer values, a smaller batch or narrower layers.")


@dataclass(frozen=True)
class SweepConfig:
    """A base run and one or two axes; the members are the grid of the axes' values (first axis outermost)."""

    base: RunConfig = field(default_factory=RunConfig)
    axes: tuple[SweepAxis, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "axes", tuple(self.axes))
        if not isinstance(self.base, RunConfig) or not all(isinstance(a, SweepAxis) for a in self.axes):
            raise PlaygroundError("A sweep needs a base run configuration and its axes.")
        if not 1 <= len(self.axes) <= limits.MAX_SWEEP_AXES:
            raise PlaygroundError(f"A sweep varies one or {limits.MAX_SWEEP_AXES} settings.")
        if len({a.setting for a in self.axes}) != len(self.axes):
            raise PlaygroundError("Each setting may be swept on one axis only.")
        sizes = [len(a.points) for a in self.axes]
        if math.prod(sizes) > limits.MAX_SWEEP_MEMBERS:
            grid = " x ".join(str(s) for s in sizes)
            raise PlaygroundError(f"A sweep trains at most {limits.MAX_SWEEP_MEMBERS} models; this grid has "
                                  f"{grid} = {math.prod(sizes)}. Take fewer values.")
        for axis in self.axes:
            sentence = SWEEPABLE[axis.setting].pointless(self.base)
            if sentence:
                raise PlaygroundError(sentence)
        if self.base.train.lr_changes and any(SWEEPABLE[a.setting].attr == "lr" for a in self.axes):
            raise PlaygroundError("The recorded learning-rate changes would give every member the same rate; clear "
                                  "them to sweep the learning rate.")
        self.members()  # every member validates as a run
        spec = self.base.model
        n_train = split_sizes(self.base.data.n_samples, self.base.data.train_fraction, self.base.data.val_fraction)[0]
        rows = max(min(self.base.train.batch_size, n_train), min(self.base.data.n_samples, EVAL_BATCH))
        check_sweep_size(self.n_members, parameter_count(spec), n_train, rows, sum(spec.hidden))

    @property
    def n_members(self) -> int:
        return math.prod(len(a.points) for a in self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid's shape: one length an axis."""
        return tuple(len(a.points) for a in self.axes)

    def values(self, index: int) -> dict[str, float]:
        """Member ``index``'s value of each swept setting."""
        if not 0 <= index < self.n_members:
            raise PlaygroundError(f"This sweep has members 0 to {self.n_members - 1}.")
        grid = list(itertools.product(*(a.points for a in self.axes)))
        return {a.setting: v for a, v in zip(self.axes, grid[index], strict=True)}

    def label(self, index: int) -> str:
        """How a person reads member ``index``: 'learning rate 0.01, seed 3'."""
        return ", ".join(f"{SWEEPABLE[k].label} {v:g}" for k, v in self.values(index).items())

    def members(self) -> tuple[RunConfig, ...]:
        """Every member as an ordinary run (validated as one)."""
        return self._members

    def member(self, index: int) -> RunConfig:
        self.values(index)  # range check
        return self._members[index]

    @cached_property
    def _members(self) -> tuple[RunConfig, ...]:
        out = []
        for combo in itertools.product(*(a.points for a in self.axes)):
            train, model = {}, {}
            for axis, value in zip(self.axes, combo, strict=True):
                setting = SWEEPABLE[axis.setting]
                (train if setting.section == "train" else model)[setting.attr] = value
            try:
                out.append(replace(self.base, train=replace(self.base.train, **train),
                                   model=replace(self.base.model, **model)))
            except PlaygroundError as exc:
                values = ", ".join(f"{SWEEPABLE[a.setting].label} {v:g}" for a, v in zip(self.axes, combo, strict=True))
                raise PlaygroundError(f"The sweep's member with {values} is not a valid run: {exc.sentence}") from exc
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base.to_dict(), "axes": [a.to_dict() for a in self.axes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SweepConfig:
        if not isinstance(data, dict) or not isinstance(data.get("axes", []), (list, tuple)):
            raise PlaygroundError("A sweep configuration must be a mapping of a base run and a list of axes.")
        return cls(base=RunConfig.from_dict(data.get("base", {})),
                   axes=tuple(SweepAxis.from_dict(a) for a in data.get("axes", [])))


# --------------------------------------------------------------------------------------------------
# Losses: the run's own criterion, each member's mean, and its gradient as autograd forms it in a run
# --------------------------------------------------------------------------------------------------
# Each loss is a function (criterion, outputs [members, rows, outputs], targets, gradient wanted) ->
# (each member's mean loss, the gradient of each member's loss with respect to its outputs, or None).
# The mean's float sum may add in another order than the run's (last bits of the reported loss); the
# gradients are the run's bits.

LossResult = tuple[torch.Tensor, torch.Tensor | None]


def members_apart(x: torch.Tensor) -> torch.Tensor:
    """``x`` laid out with one spare entry after each member's, so that an elementwise kernel walks each
    member's entries as its run walks its own tensor. torch walks a contiguous tensor in vector blocks and
    finishes the rest one entry at a time, and some functions round differently there (sigmoid's exp, Huber's
    delta in float64): in one long walk a member's last entries would land in other lanes than in its run."""
    inner = x[0].numel()
    if x.stride(0) != inner and x[0].is_contiguous():
        return x  # already apart
    apart = torch.empty(x.shape[0], inner + 1, dtype=x.dtype, device=x.device)[:, :inner].view(x.shape)
    return apart.copy_(x)


def _autograd_loss(criterion: nn.Module, out: torch.Tensor, y: torch.Tensor, grad: bool) -> LossResult:
    """Any criterion: unreduced, averaged per member, differentiated by autograd."""
    unreduced = copy.copy(criterion)
    unreduced.reduction = "none"
    members, rows = out.shape[:2]
    with torch.enable_grad():
        leaf = members_apart(out.detach()).requires_grad_(grad)
        if isinstance(criterion, nn.CrossEntropyLoss):
            values = unreduced(leaf.reshape(members * rows, -1), y.reshape(members * rows)).view(members, rows)
        else:
            values = unreduced(leaf, y)
        losses = values.flatten(1).mean(1)
        if not grad:
            return losses.detach(), None
        return losses.detach(), torch.autograd.grad(losses.sum(), leaf)[0]


def _cross_entropy(criterion: nn.Module, out: torch.Tensor, y: torch.Tensor, grad: bool) -> LossResult:
    """log_softmax and the picked log-probabilities; the gradient is what nll_loss's backward (-1/rows at the
    target) and log_softmax's backward make of it."""
    if criterion.weight is not None or criterion.label_smoothing or criterion.ignore_index >= 0:
        return _autograd_loss(criterion, out, y, grad)
    log_p = torch.log_softmax(out, -1)
    target = y.unsqueeze(-1)
    losses = log_p.gather(-1, target).mean((1, 2)).neg_()
    if not grad:
        return losses, None
    picked = torch.zeros_like(log_p).scatter_(-1, target, -(1.0 / out.shape[1]))
    return losses, torch.ops.aten._log_softmax_backward_data(picked, log_p, -1, out.dtype)


def _mse(criterion: nn.Module, out: torch.Tensor, y: torch.Tensor, grad: bool) -> LossResult:
    """Mean squared error; mse_loss's backward makes (2 / n) * (output - target)."""
    diff = out - y
    losses = diff.square().flatten(1).mean(1)
    return losses, (diff * (2.0 / (out.shape[1] * out.shape[2])) if grad else None)


MEMBER_LOSSES: dict[str, Callable[[nn.Module, torch.Tensor, torch.Tensor, bool], LossResult]] = {
    "CrossEntropyLoss": _cross_entropy,
    "MSELoss": _mse,
    "L1Loss": _autograd_loss,
    "HuberLoss": _autograd_loss,
    "SmoothL1Loss": _autograd_loss,
}


def member_criterion(config: RunConfig) -> tuple[nn.Module, Callable[..., LossResult]]:
    """The run's criterion and the function that gives each member's loss (and gradient) with it."""
    loss = getattr(config.train, "loss", None)  # the loss choice, where the configuration has one
    criterion = make_criterion(config.model.task) if loss is None else make_criterion(config.model.task, loss)
    name = type(criterion).__name__
    if name not in MEMBER_LOSSES:
        raise PlaygroundError(f"A sweep cannot train with {name} yet; choose another loss.")
    return criterion, MEMBER_LOSSES[name]


# --------------------------------------------------------------------------------------------------
# Batched matrix products that equal the single run's, bit for bit
# --------------------------------------------------------------------------------------------------
# A run's Linear layers multiply through MKL (addmm, mm). A batched product gives a member the same bits
# when torch sends it to MKL too (a member's product of at least 400 multiply-adds); smaller ones go to a
# plain loop that adds in another order, and training at the default learning rate turns a last-bit
# difference into a different curve within a few epochs. So every product a sweep needs is checked once,
# on random data laid out as the real one, against a single Linear's own autograd: the first batched form
# that gives the same bits is used, and where none does, the members are multiplied one by one with the
# run's own call (the same bits, slower).


def _products_batched(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """torch's batched product (MKL for all but the smallest members)."""
    return torch.bmm(a, b) if bias is None else torch.baddbmm(bias.unsqueeze(1), a, b)


def _products_fma_chain(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """Each entry a chain of fused multiply-adds along the sum, in order (addcmul rounds once), then the bias."""
    columns, rows = a.unsqueeze(3).unbind(2), b.unsqueeze(1).unbind(2)
    acc = columns[0] * rows[0]
    for column, row in zip(columns[1:], rows[1:], strict=True):
        acc.addcmul_(column, row)
    return acc if bias is None else acc + bias.unsqueeze(1)


def _products_in_lanes(width: int) -> Callable:
    """Each entry summed in ``width`` lanes (lane l takes terms l, l + width, ... by fused multiply-adds), the
    lanes then folded in halves (lane l plus lane l + width/2, ...), then the bias: a vector unit's dot product."""

    def products(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        members, rows, inner = a.shape
        if inner <= width:  # one term a lane; the empty lanes add zeros, so fold from the next power of two
            lanes = a.permute(2, 0, 1).unsqueeze(3) * b.permute(1, 0, 2).unsqueeze(2)  # [lane, member, row, col]
            size = 1 << (inner - 1).bit_length()
            if size != inner:
                lanes = F.pad(lanes, (0, 0, 0, 0, 0, 0, 0, size - inner))
        else:
            pad = (-inner) % width
            ap = F.pad(a, (0, pad)).reshape(members, rows, -1, width).permute(2, 3, 0, 1).unsqueeze(4)
            bp = F.pad(b, (0, 0, 0, pad)).reshape(members, -1, width, b.shape[2]).permute(1, 2, 0, 3).unsqueeze(3)
            lanes = ap[0] * bp[0]
            for x, y in zip(ap[1:], bp[1:], strict=True):
                lanes.addcmul_(x, y)
        while lanes.shape[0] > 1:
            half = lanes.shape[0] // 2
            lanes = lanes[:half] + lanes[half:]
        out = lanes[0]
        return out if bias is None else out + bias.unsqueeze(1)

    return products


MKL_MIN_PRODUCT = 400  # torch multiplies a batch through MKL once a member's product has this many multiply-adds


def _products_padded(rows: bool) -> Callable:
    """torch's batched product with zero rows (``rows``) or zero columns appended until it goes through MKL,
    then cut back: the added rows and columns are only outputs, never terms of a sum. The zero-padded operand
    is a buffer kept per shape, whose padding stays zero."""
    buffers: dict[tuple, torch.Tensor] = {}

    def padded(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        key = (shape, x.dtype, x.device)
        buffer = buffers.get(key)
        if buffer is None:
            if len(buffers) >= 32:  # a worker runs sweep after sweep: keep the shapes of the latest only
                buffers.clear()
            buffer = buffers[key] = torch.zeros(shape, dtype=x.dtype, device=x.device)
        buffer[tuple(slice(0, n) for n in x.shape)].copy_(x)
        return buffer

    def products(a: torch.Tensor, b: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        members, n_rows, inner = a.shape
        n_cols = b.shape[2]
        if rows:
            size = max(n_rows, -(-MKL_MIN_PRODUCT // (n_cols * inner)))
            out = _products_batched(padded(a, (members, size, inner)), b, bias)
        else:
            size = max(n_cols, -(-MKL_MIN_PRODUCT // (n_rows * inner)))
            out = _products_batched(a, padded(b, (members, inner, size)),
                                    None if bias is None else padded(bias, (members, size)))
        return out[:, :n_rows, :n_cols]

    return products


PRODUCT_FORMS: dict[str, Callable] = {
    "batched": _products_batched,
    "batched, rows padded": _products_padded(rows=True),
    "batched, columns padded": _products_padded(rows=False),
    "fma chain": _products_fma_chain,
    "16 lanes": _products_in_lanes(16),
    "8 lanes": _products_in_lanes(8),
    "4 lanes": _products_in_lanes(4),
}
ONE_BY_ONE = "one by one"
PROBE_VALUES = 4096  # results a form must reproduce (on random data) before a sweep uses it


@dataclass(frozen=True)
class _Linear:
    """Where one Linear layer's weight and bias sit in a member's row of the parameter buffer."""

    index: int  # among the model's Linear layers
    name: str  # the module's name in the model ('0', 'layers.2', ...)
    out_features: int
    in_features: int
    weight_at: int
    bias_at: int

    def views(self, buffer: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This layer's [rows, out, in] weights and [rows, out] biases inside a [rows, parameters] buffer."""
        rows = buffer.shape[0]
        w = buffer[:, self.weight_at : self.bias_at].view(rows, self.out_features, self.in_features)
        return w, buffer[:, self.bias_at : self.bias_at + self.out_features]


class _LinearProducts:
    """A sweep's Linear layers forward and backward (output, input gradient, weight gradient, bias gradient),
    each product in the batched form checked to give the single run's bits (on the CPU)."""

    KINDS = ("forward", "grad_input", "grad_weight", "grad_bias")

    def __init__(self, n_parameters: int, check: bool) -> None:
        self.n_parameters = n_parameters
        self.check = check
        self.choice: dict[tuple, str] = {}
        self._functions: dict[tuple, Callable] = {}
        self.mismatched: list[str] = []  # products not even the one-by-one call reproduced (never seen)

    # The four products in batched form (a form from PRODUCT_FORMS) and one member at a time (the run's calls).
    @staticmethod
    def _batched(kind: str, form: Callable, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if kind == "forward":
            return form(x, w.transpose(1, 2), b)
        if kind == "grad_input":
            return form(x, w, None)
        if kind == "grad_weight":
            return form(x.transpose(1, 2), w, None)  # here w is the layer's input h
        return x.sum(1)

    @staticmethod
    def _bound(kind: str, form: Callable) -> Callable:
        """``_batched`` for one kind and form, as one call."""
        if kind == "forward":
            return lambda x, w, b: form(x, w.transpose(1, 2), b)
        if kind == "grad_input":
            return lambda x, w, b: form(x, w, None)
        if kind == "grad_weight":
            return lambda x, w, b: form(x.transpose(1, 2), w, None)
        return lambda x, w, b: x.sum(1)

    @staticmethod
    def _one_by_one(kind: str, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        rows = range(x.shape[0])
        if kind == "forward":
            return torch.stack([torch.addmm(b[i], x[i], w[i].t()) for i in rows])
        if kind == "grad_input":
            return torch.stack([x[i].mm(w[i]) for i in rows])
        if kind == "grad_weight":
            return torch.stack([x[i].t().mm(w[i]) for i in rows])
        return torch.stack([x[i].sum(0) for i in rows])

    def run(self, kind: str, layer: _Linear, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None = None) -> torch.Tensor:
        """``kind`` of ``layer`` on these operands: forward (x: input), grad_input (x: output gradient),
        grad_weight (x: output gradient, w: the layer's input), grad_bias (x: output gradient)."""
        key = (kind, layer.index, x.shape[1], x.stride(0) == 0)
        function = self._functions.get(key)
        if function is None:
            name = self._calibrate(kind, layer, *key[2:], members=x.shape[0]) if self.check else "batched"
            self.choice[key] = name
            if name == ONE_BY_ONE:
                function = partial(self._one_by_one, kind)
            else:
                function = self._bound(kind, PRODUCT_FORMS[name])
            self._functions[key] = function
        return function(x, w, b)

    def _calibrate(self, kind: str, layer: _Linear, rows: int, expanded: bool, members: int) -> str:
        """The first form whose bits equal the run's on random data laid out as the real one, over enough
        members for at least PROBE_VALUES results (a small product agrees with a wrong form by chance)."""
        gen = torch.Generator().manual_seed(len(self.choice))
        fan_in, fan_out = layer.in_features, layer.out_features
        per_member = rows * {"forward": fan_out, "grad_input": fan_in, "grad_weight": fan_in * fan_out,
                             "grad_bias": fan_out}[kind]
        members = min(max(members, -(-PROBE_VALUES // per_member)), PROBE_VALUES)

        def scaled(*shape: int) -> torch.Tensor:  # magnitudes from 0.001 to 10, a scale a member
            scale = 10.0 ** (torch.rand(shape[0], *(1,) * (len(shape) - 1), generator=gen) * 4 - 3)
            return torch.randn(*shape, generator=gen) * scale

        w, b = layer.views(scaled(members, self.n_parameters))
        h = scaled(1 if expanded else members, rows, fan_in).expand(members, rows, fan_in)
        if not expanded:
            h = h.contiguous()
        g = scaled(members, rows, fan_out)
        operands = {"forward": (h, w, b), "grad_input": (g, w, b), "grad_weight": (g, h, b), "grad_bias": (g, w, b)}
        x, y, z = operands[kind]
        expected = self._one_by_one(kind, x, y, z)
        for i in range(min(members, 8)):  # the run's own calls are what autograd computes in a run
            hi, wi, bi = (t.clone().requires_grad_(True) for t in (h[i], w[i], b[i]))
            with torch.enable_grad():
                out = F.linear(hi, wi, bi)
                out.backward(g[i])
            truth = {"forward": out.detach(), "grad_input": hi.grad, "grad_weight": wi.grad, "grad_bias": bi.grad}
            if not torch.equal(truth[kind], expected[i]):
                self.mismatched.append(f"{kind} of layer {layer.index} ({rows} rows)")
                return ONE_BY_ONE
        forms = PRODUCT_FORMS if kind != "grad_bias" else {"batched": _products_batched}
        for name, form in forms.items():
            if torch.equal(self._batched(kind, form, x, y, z), expected):
                return name
        return ONE_BY_ONE


_LANE_EXACT: dict[str, bool] = {}


def lane_exact(module: nn.Module) -> bool:
    """Whether an activation gives the same bits wherever an entry falls in a walk (checked once on 92,160
    entries of every magnitude: sigmoid does not, tanh, ReLU and LeakyReLU do on this build); the others walk
    each member apart (``members_apart``)."""
    key = repr(module)
    if key not in _LANE_EXACT:
        gen = torch.Generator().manual_seed(3)
        x = torch.randn(64, 10, 9, 16, generator=gen) * 10.0 ** torch.linspace(-3, 2, 16)
        x = x.permute(0, 3, 1, 2).reshape(1024, 10, 9)  # 90 entries a member: vector blocks and a tail
        with torch.no_grad():
            _LANE_EXACT[key] = torch.equal(module(x), module(members_apart(x)))
    return _LANE_EXACT[key]


def _activation_backward(module: nn.Module, grad: torch.Tensor, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The gradient through an activation, by the formula autograd uses for it in a run."""
    if isinstance(module, nn.Tanh):
        return torch.ops.aten.tanh_backward(grad, a)
    if isinstance(module, nn.Sigmoid):
        return torch.ops.aten.sigmoid_backward(grad, a)
    if isinstance(module, nn.ReLU):
        return torch.ops.aten.threshold_backward(grad, a, 0)
    if isinstance(module, nn.LeakyReLU):
        return torch.ops.aten.leaky_relu_backward(grad, z, module.negative_slope, False)
    with torch.enable_grad():  # any other elementwise activation: its own autograd formula
        zz = z.detach().requires_grad_(True)
        return torch.autograd.grad(module(zz), zz, grad)[0]


# --------------------------------------------------------------------------------------------------
# Optimizers: torch's algorithms over [members, parameters], each member's settings broadcast
# --------------------------------------------------------------------------------------------------
# The batched formulas follow torch's CPU kernels operation by operation, down to which multiply-adds are
# fused: the fused SGD/Adam/AdamW kernels work in vectors of 8 floats and finish each tensor's last
# (size % 8) entries one at a time with other roundings, so those entries ("tail lanes") get their own
# formula; their square roots are rounded correctly (torch.sqrt on the CPU may be one unit off). The
# formulas are checked once against each member's own torch optimizer on random data; where they do not
# give the same bits (another CPU), every member steps with its own torch optimizer instead.

Scalar = float | torch.Tensor  # a Python float when every member has the same value, else a [members, 1] tensor


def _fma(a: torch.Tensor, b: Scalar, c: torch.Tensor) -> torch.Tensor:
    """``a * b + c`` rounded once (torch's add with alpha, and addcmul, compute it so)."""
    return c.add(a, alpha=b) if isinstance(b, float) else torch.addcmul(c, a, b)


def _sqrt_rounded(v: torch.Tensor, always_correct: bool = False) -> torch.Tensor:
    """float32 square roots rounded correctly, as the fused kernels' sqrt instruction gives them (torch.sqrt
    on the CPU may be a unit off in float32)."""
    if v.device.type != "cpu":
        return v.sqrt()
    d = v.double()
    root = d.sqrt()
    s = root.float()
    # torch's float64 root may be a unit off too, which changes its float32 rounding only when it sits next to
    # a float32 midpoint (its 29 low bits near 2**28): then redo the rounding exactly, by the midpoints' squares.
    # Its 29 low bits within 8 of 2**28 leave (bits + 8 - 2**28) with its bits 4..28 all zero.
    near = root.view(torch.int64).add(8 - (1 << 28)).bitwise_and_((1 << 29) - 16)
    if bool(near.all()) and not always_correct:
        return s
    up, down = torch.nextafter(s, torch.full_like(s, math.inf)), torch.nextafter(s, torch.zeros_like(s))
    sd = s.double()
    mid_up, mid_down = (sd + up.double()) * 0.5, (sd + down.double()) * 0.5  # exact; their squares too
    return torch.where(d > mid_up * mid_up, up, torch.where(d < mid_down * mid_down, down, s))


@dataclass
class OptimizerState:
    """Per-member optimizer state (tensors shaped like the parameter buffer), its step count, its settings."""

    settings: dict[str, Any]
    step: int = 0
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def _sgd_step(p: torch.Tensor, g: torch.Tensor, s: OptimizerState, lanes: torch.Tensor) -> None:
    """torch's fused SGD (dampening 0): grad += param * wd; the buffer is the grad at first, then
    buf * m + grad; nesterov: grad += buf * m, else grad = buf; param += grad * -lr."""
    h = s.settings
    if h["any_weight_decay"]:
        g = _fma(p, h["weight_decay"], g)
    if h["any_momentum"]:
        buf = s.tensors.get("momentum_buffer")
        if buf is None:
            buf = s.tensors["momentum_buffer"] = g.clone()
        else:
            momentum = h["momentum"]
            buf.copy_(torch.where(lanes, buf * momentum + g, _fma(buf, momentum, g)))
        g = _fma(buf, h["momentum"], g) if h["nesterov"] else buf
    p.copy_(_fma(g, h["neg_lr"], p))


def _adam_like_step(p: torch.Tensor, g: torch.Tensor, s: OptimizerState, lanes: torch.Tensor, decoupled: bool) -> None:
    """torch's fused Adam / AdamW: grad += param * wd (Adam) or param *= 1 - lr * wd (AdamW);
    m.lerp_(grad, 1 - beta1); v = v * beta2 + (1 - beta2) * grad * grad;
    param += -(lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)."""
    h = s.settings
    s.step += 1
    if "exp_avg" not in s.tensors:
        s.tensors["exp_avg"], s.tensors["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
    m, v = s.tensors["exp_avg"], s.tensors["exp_avg_sq"]
    bias_correction1 = 1 - h["beta1"] ** s.step  # in double, as the kernel computes them
    bias_correction2_sqrt = math.sqrt(1 - h["beta2"] ** s.step)
    if h["any_weight_decay"]:
        if decoupled:
            p.mul_(h["decay_factor"])
        else:
            g = _fma(p, h["weight_decay"], g)
    m.lerp_(g, 1 - h["beta1"])
    c2g = g * (1 - h["beta2"])
    v.copy_(torch.where(lanes, torch.addcmul(v * h["beta2"], c2g, g), _fma(v, h["beta2"], c2g * g)))
    denom = _sqrt_rounded(v).div_(bias_correction2_sqrt).add_(h["eps"])
    neg_step_size = -(h["lr64"] / bias_correction1)
    if isinstance(neg_step_size, torch.Tensor):
        neg_step_size = neg_step_size.to(p.dtype)
    p.add_(neg_step_size * m / denom)


def _adam_step(p: torch.Tensor, g: torch.Tensor, s: OptimizerState, lanes: torch.Tensor) -> None:
    _adam_like_step(p, g, s, lanes, decoupled=False)


def _adamw_step(p: torch.Tensor, g: torch.Tensor, s: OptimizerState, lanes: torch.Tensor) -> None:
    _adam_like_step(p, g, s, lanes, decoupled=True)


def _rmsprop_step(p: torch.Tensor, g: torch.Tensor, s: OptimizerState, lanes: torch.Tensor) -> None:
    """torch's single-tensor RMSprop (centered False), the same operations: grad = grad.add(param, alpha=wd);
    v = v * alpha + (1 - alpha) * grad * grad; avg = sqrt(v) + eps; with momentum buf = buf * m + grad / avg
    and param += -lr * buf, else param += -lr * grad / avg."""
    h = s.settings
    s.step += 1
    if "square_avg" not in s.tensors:
        s.tensors["square_avg"] = torch.zeros_like(p)
    v = s.tensors["square_avg"]
    if h["any_weight_decay"]:
        g = _fma(p, h["weight_decay"], g)
    v.mul_(h["alpha"]).addcmul_(g, g, value=1 - h["alpha"])
    avg = v.sqrt().add_(h["eps"])
    neg_lr = h["neg_lr"]
    plain = p.addcdiv(g, avg, value=neg_lr) if isinstance(neg_lr, float) else p + neg_lr * g / avg
    if not h["any_momentum"]:
        p.copy_(plain)
        return
    buf = s.tensors.setdefault("momentum_buffer", torch.zeros_like(p))
    buf.mul_(h["momentum"]).addcdiv_(g, avg)
    p.copy_(torch.where(h["has_momentum"], _fma(buf, neg_lr, p), plain))


OPTIMIZER_STEPS: dict[str, Callable[[torch.Tensor, torch.Tensor, OptimizerState, torch.Tensor], None]] = {
    "sgd": _sgd_step,
    "adam": _adam_step,
    "adamw": _adamw_step,
    "rmsprop": _rmsprop_step,
}
OPTIMIZER_DEFAULTS = {"nesterov": False, "eps": 1e-8, "alpha": 0.99, "beta1": 0.9, "beta2": 0.999}
VECTOR_WIDTHS = (8, 16, 4)  # floats in one vector of the fused kernels, tried in this order


def _per_member(values: list[float], device: torch.device, dtype: torch.dtype = torch.float32) -> Scalar:
    """A Python float when every member has the same value, else a [members, 1] tensor on the device."""
    if all(v == values[0] for v in values):
        return float(values[0])
    return torch.tensor(values, dtype=dtype, device=device).unsqueeze(1)


def optimizer_settings(trains: list[Any], device: torch.device, lrs: list[float] | None = None) -> dict[str, Any]:
    """Each member's optimizer settings, as Python floats (shared) or [members, 1] tensors (swept); ``lrs``
    are the learning rates now, where recorded changes have replaced the configured ones."""

    def value(name: str) -> list[float]:
        return [float(getattr(t, name, OPTIMIZER_DEFAULTS.get(name, 0.0))) for t in trains]

    lr, wd, momentum = lrs if lrs is not None else value("lr"), value("weight_decay"), value("momentum")
    return {
        "neg_lr": _per_member([-x for x in lr], device), "lr64": _per_member(lr, device, torch.float64),
        "weight_decay": _per_member(wd, device), "any_weight_decay": any(x != 0 for x in wd),
        "decay_factor": _per_member([1 - a * b for a, b in zip(lr, wd, strict=True)], device),
        "momentum": _per_member(momentum, device), "any_momentum": any(x != 0 for x in momentum),
        "has_momentum": torch.tensor([x != 0 for x in momentum], device=device).unsqueeze(1),
        "nesterov": bool(getattr(trains[0], "nesterov", False)),
        "beta1": value("beta1")[0], "beta2": value("beta2")[0], "eps": value("eps")[0], "alpha": value("alpha")[0],
    }


def vector_lanes(linears: list[_Linear], n_parameters: int, width: int) -> torch.Tensor:
    """[1, parameters]: True where an entry sits in a full vector of ``width`` floats of its tensor (a layer's
    weight or bias, as the optimizer sees them), False in the tail the fused kernels finish one at a time."""
    lanes = torch.zeros(1, n_parameters, dtype=torch.bool)
    for layer in linears:
        for start, size in ((layer.weight_at, layer.bias_at - layer.weight_at), (layer.bias_at, layer.out_features)):
            lanes[0, start : start + size - size % width] = True
    return lanes


class _MemberOptimizers:
    """Every member's optimizer over its row of the parameter buffer: batched formulas checked to give the
    bits of the run's own torch optimizer, or (where they do not) each member's own torch optimizer."""

    def __init__(self, configs: list[RunConfig], linears: list[_Linear], n_parameters: int,
                 device: torch.device, check: bool) -> None:
        self.configs = configs
        self.name = configs[0].train.optimizer
        self.device = device
        self.linears = linears
        self.n_parameters = n_parameters
        self.batched_step = OPTIMIZER_STEPS.get(self.name)
        self.state = OptimizerState(optimizer_settings([c.train for c in configs], device))
        self.own: list[torch.optim.Optimizer] = []
        self.lanes = torch.ones(1, n_parameters, dtype=torch.bool, device=device)
        self.mode = "batched"
        if check or self.batched_step is None:
            width = self._check() if self.batched_step is not None else None
            if width is None:
                self.mode = ONE_BY_ONE
            else:
                self.mode = f"batched ({width} lanes)"
                self.lanes = self._vector_lanes(width)

    def _vector_lanes(self, width: int) -> torch.Tensor:
        return vector_lanes(self.linears, self.n_parameters, width).to(self.device)

    def _own_optimizers(self, params: torch.Tensor, grads: torch.Tensor,
                        configs: list[RunConfig]) -> list[torch.optim.Optimizer]:
        """Each member's optimizer as its run makes it, over views of its rows of the buffers."""
        out = []
        for row, config in enumerate(configs):
            tensors = []
            for layer in self.linears:
                w, b = layer.views(params[row : row + 1])
                gw, gb = layer.views(grads[row : row + 1])
                for value, grad in ((w[0], gw[0]), (b[0], gb[0])):
                    param = nn.Parameter(value)  # shares the buffer's memory
                    param.grad = grad
                    tensors.append(param)
            out.append(make_optimizer(tensors, config.train))
        return out

    def _check(self) -> int | None:
        """The vector width with which the batched formulas give the members' own optimizers' bits on random
        data (the members' settings, repeated over enough rows for PROBE_VALUES entries), or None."""
        gen = torch.Generator().manual_seed(7)
        rows = max(len(self.configs), -(-PROBE_VALUES // self.n_parameters))
        configs = [self.configs[i % len(self.configs)] for i in range(rows)]
        start = torch.randn(rows, self.n_parameters, generator=gen)
        grads = [torch.randn(rows, self.n_parameters, generator=gen)
                 * 10.0 ** torch.randint(-6, 1, (rows, self.n_parameters), generator=gen) for _ in range(3)]
        reference, reference_grads = start.clone(), torch.zeros_like(start)
        own = self._own_optimizers(reference, reference_grads, configs)
        expected = []
        for g in grads:
            reference_grads.copy_(g)
            for optimizer in own:
                optimizer.step()
            expected.append(reference.clone())
        settings = optimizer_settings([c.train for c in configs], torch.device("cpu"))
        for width in VECTOR_WIDTHS:
            lanes = self._vector_lanes(width).cpu()
            mine, state = start.clone(), OptimizerState(dict(settings))
            ok = True
            for g, want in zip(grads, expected, strict=True):
                self.batched_step(mine, g.clone(), state, lanes)  # type: ignore[misc]
                ok = ok and torch.equal(mine, want)
            if ok:
                return width
        return None

    def bind(self, params: torch.Tensor, grads: torch.Tensor, configs: list[RunConfig], lrs: list[float]) -> None:
        """Point the optimizers at (new) buffers holding ``configs``' members, at learning rates ``lrs``; their
        state moves along."""
        self.state.settings = optimizer_settings([c.train for c in configs], self.device, lrs)
        if self.mode == ONE_BY_ONE:
            states = [o.state_dict() for o in self.own] if self.own else None
            self.own = self._own_optimizers(params, grads, configs)
            if states is not None:
                for optimizer, state in zip(self.own, states, strict=True):
                    optimizer.load_state_dict(state)
            for optimizer, lr in zip(self.own, lrs, strict=True):
                for group in optimizer.param_groups:
                    group["lr"] = lr

    def keep(self, index: torch.Tensor, keep: list[int]) -> None:
        """Keep only these rows' state (members that stopped leave)."""
        self.state.tensors = {k: v.index_select(0, index) for k, v in self.state.tensors.items()}
        if self.own:
            self.own = [self.own[i] for i in keep]

    def step(self, params: torch.Tensor, grads: torch.Tensor) -> None:
        if self.mode == ONE_BY_ONE:
            for optimizer in self.own:
                optimizer.step()
        else:
            self.batched_step(params, grads, self.state, self.lanes)  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------------


@dataclass
class MemberEpoch:
    """One member's outcome of an epoch: its row (None when it diverged in it), its status after the epoch
    ('training', 'diverged', 'stopped early') and the sentence that says why it stopped."""

    member: int
    result: EpochResult | None
    status: str = "training"
    sentence: str = ""


@dataclass(frozen=True)
class _Dropout:
    """A dropout layer, after a layer of ``width`` neurons."""

    width: int


def _layout(model: nn.Module) -> tuple[list[Any], list[_Linear], int]:
    """The model's leaf modules in forward order (a Linear as its _Linear, an activation as itself, a dropout
    as its _Dropout), its Linear layers, and the number of parameters a member has."""
    plan: list[Any] = []
    linears: list[_Linear] = []
    offset = 0
    for name, module in model.named_modules():
        if list(module.children()):
            continue
        if isinstance(module, nn.Linear):
            o, i = module.out_features, module.in_features
            layer = _Linear(len(linears), name, o, i, offset, offset + o * i)
            offset += o * i + o
            linears.append(layer)
            plan.append(layer)
        elif isinstance(module, nn.Dropout):
            plan.append(_Dropout(linears[-1].out_features))
        elif not list(module.parameters()) and not list(module.buffers()):
            plan.append(module)  # an activation: elementwise, applied to every member's entries at once
        else:
            raise PlaygroundError(f"A sweep cannot train a model with a {type(module).__name__} layer yet.")
    keys = [f"{layer.name}.{kind}" for layer in linears for kind in ("weight", "bias")]
    if list(model.state_dict()) != keys or [n for n, _ in model.named_parameters()] != keys:
        raise PlaygroundError("A sweep trains models made of Linear layers and activations only.")
    return plan, linears, offset


def _flatten(model: nn.Module, linears: list[_Linear], size: int) -> tuple[torch.Tensor, list[str]]:
    """One member's parameters as a row of the buffer, and its Linear layers' names (its state_dict's keys)."""
    row = torch.empty(size)
    modules = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    for layer, (_, linear) in zip(linears, modules, strict=True):
        row[layer.weight_at : layer.bias_at] = linear.weight.detach().reshape(-1)
        row[layer.bias_at : layer.bias_at + layer.out_features] = linear.bias.detach()
    return row, [name for name, _ in modules]


class SweepTrainer:
    """Every member of a sweep, trained together: stacked weights, batched forward and backward, batched updates.

    ``history[i]``, ``status[i]`` ('training', 'diverged') and ``reason[i]`` are member i's; ``run_epoch``
    returns a ``MemberEpoch`` for each member still training at its start; ``control`` is as for Trainer.
    ``exactness()`` says how each batched operation was checked against the single run.
    """

    def __init__(self, sweep: SweepConfig, tensors: dict[str, torch.Tensor], device: str | None = None) -> None:
        base = sweep.base
        self.sweep = sweep
        self.configs = sweep.members()
        self.task = base.model.task
        self.device = resolve_device(device or base.train.device)
        apply_cudnn_flags(base.train)
        to = self.device
        self.X_train, self.y_train = tensors["X_train"].to(to), tensors["y_train"].to(to)
        self.X_val, self.y_val = tensors["X_val"].to(to), tensors["y_val"].to(to)
        if self.X_train.shape[1] != base.model.in_features:
            raise PlaygroundError(
                f"The model expects {base.model.in_features} inputs but the data has {self.X_train.shape[1]} features.")
        self.n_train = len(self.y_train)
        self.batch_size = min(base.train.batch_size, self.n_train)
        self.batch_clamped = base.train.batch_size > self.n_train
        self.shuffle = base.train.shuffle
        members = len(self.configs)
        rows = max(self.batch_size, min(max(len(self.y_val), self.n_train), EVAL_BATCH))
        check_sweep_size(members, parameter_count(base.model), self.n_train, rows, sum(base.model.hidden))
        self.criterion, self._member_loss = member_criterion(base)

        # Each member's initial weights and random streams, exactly as its single run makes them.
        shape_spec = max((c.model for c in self.configs), key=lambda spec: spec.dropout)  # dropout layers, if any
        self._plan, self._linears, self.n_parameters = _layout(build_model(shape_spec))
        rows_, self._dropout_gens, self._names = [], [], []
        for config in self.configs:
            torch.manual_seed(config.train.seed)
            row, names = _flatten(build_model(config.model), self._linears, self.n_parameters)
            rows_.append(row)
            self._names.append(names)
            if self.device.type == "cpu":
                gen = torch.Generator()
                gen.set_state(torch.get_rng_state())  # what the run's nn.Dropout draws from next
            else:
                gen = torch.Generator(device=self.device).manual_seed(config.train.seed)
            self._dropout_gens.append(gen if config.model.dropout > 0 else None)
        self._any_dropout = any(g is not None for g in self._dropout_gens)
        self._params = torch.stack(rows_).to(to)
        self._grads = torch.zeros_like(self._params)
        self._keep_prob = torch.tensor([1.0 - c.model.dropout for c in self.configs], device=to).view(-1, 1, 1)
        self._shuffle_gens = [torch.Generator().manual_seed(c.train.seed) for c in self.configs]
        self._weight_mask = torch.zeros(1, self.n_parameters, device=to)
        for layer in self._linears:
            self._weight_mask[0, layer.weight_at : layer.bias_at] = 1.0
        self.regularization = base.train.regularization
        if base.train.optimizer not in OPTIMIZER_STEPS:
            raise PlaygroundError(f"A sweep cannot train with the {base.train.optimizer} optimizer yet.")
        check = self.device.type == "cpu"
        self.products = _LinearProducts(self.n_parameters, check)
        self.optimizer = _MemberOptimizers(list(self.configs), self._linears, self.n_parameters, to, check)
        self._active = list(range(members))  # member index of each row of the buffers
        self._last_finite = self._params.clone()
        self._lr = [float(c.train.lr) for c in self.configs]  # each member's learning rate now
        self.lr_changes = list(base.train.lr_changes)  # (epochs done when it applies, new rate), as a run has them
        # Keeping the best validation epoch (early stopping), member by member as each run does it.
        self.keep_best = bool(base.train.keep_best) and len(self.y_val) > 0
        self.patience = int(base.train.patience)
        self.best_val = [math.inf] * members
        self.best_epoch = [0] * members
        self._best = self._params.clone() if self.keep_best else None
        self._rebind()
        self.epoch = 0
        self.steps = 0
        self.history: list[list[dict[str, float]]] = [[] for _ in range(members)]
        self.status = ["training"] * members
        self.reason = [""] * members
        self._stopped_weights: dict[int, torch.Tensor] = {}
        self._seed_scratch = torch.empty((), dtype=torch.int64)
        self._perm_scratch = torch.empty(self.n_train, dtype=torch.int64)

    # ------------------------------------------------------------------ set-up
    def _rebind(self) -> None:
        """Settings and views for the members now in the buffers' rows."""
        configs = [self.configs[i] for i in self._active]
        if not configs:  # every member has stopped: nothing left to step
            return
        self.optimizer.bind(self._params, self._grads, configs, [self._lr[i] for i in self._active])
        rates = [float(c.train.reg_rate) if c.train.regularization != "none" else 0.0 for c in configs]
        # The penalty's gradient as autograd forms it in a run: rate * sign(W) (L1) or rate * (2 * W) (L2).
        self._penalty_scale = None
        if any(rates):
            rate = torch.tensor(rates, device=self.device).unsqueeze(1)
            self._penalty_scale = rate * self._weight_mask * (2.0 if self.regularization == "l2" else 1.0)
        self._layers = [layer.views(self._params) for layer in self._linears]
        self._grad_views = [layer.views(self._grads) for layer in self._linears]

    def _keep_rows(self, keep: list[int]) -> None:
        """Drop the rows of members that stopped; the others' weights, state and settings move up."""
        index = torch.tensor(keep, device=self.device, dtype=torch.int64)
        self._active = [self._active[i] for i in keep]
        self._params = self._params.index_select(0, index)
        self._grads = torch.zeros_like(self._params)
        self._last_finite = self._last_finite.index_select(0, index)
        if self._best is not None:
            self._best = self._best.index_select(0, index)
        self._keep_prob = self._keep_prob.index_select(0, index)
        self._shuffle_gens = [self._shuffle_gens[i] for i in keep]
        self._dropout_gens = [self._dropout_gens[i] for i in keep]
        self.optimizer.keep(index, keep)
        self._rebind()

    def exactness(self) -> dict[str, Any]:
        """How each batched operation reproduces the single run: the product forms chosen by their check (or
        'one by one'), the optimizer's mode, and any product no form reproduced (empty when all did)."""
        return {"device": str(self.device), "checked": self.products.check,
                "products": {f"{k[0]} layer {k[1]} ({k[2]} rows{', shared input' if k[3] else ''})": v
                             for k, v in self.products.choice.items()},
                "optimizer": self.optimizer.mode, "mismatched": list(self.products.mismatched)}

    # ------------------------------------------------------------------ pieces
    @property
    def active(self) -> list[int]:
        """The members still training, in the order of the buffers' rows."""
        return list(self._active)

    def _forward(self, x: torch.Tensor, masks: list[torch.Tensor] | None = None,
                 saved: list[Any] | None = None) -> torch.Tensor:
        """[rows, n, features] -> [rows, n, outputs]; with ``saved``, keeps what the backward pass needs."""
        h = x
        dropout_index = 0
        for step in self._plan:
            if isinstance(step, _Linear):
                if saved is not None:
                    saved.append(h)
                w, b = self._layers[step.index]
                h = self.products.run("forward", step, h, w, b)
            elif isinstance(step, _Dropout):
                mask = masks[dropout_index] if masks is not None else None
                dropout_index += 1
                if saved is not None:
                    saved.append(mask)
                if mask is not None:
                    h = h * mask
            else:
                z = h if not self.products.check or lane_exact(step) else members_apart(h)
                h = step(z)
                if saved is not None:
                    saved.append((z, h))
        return h

    def _backward(self, grad: torch.Tensor, saved: list[Any]) -> None:
        """From the outputs' gradient back through the layers, into the gradient buffer."""
        for step, item in zip(reversed(self._plan), reversed(saved), strict=True):
            if isinstance(step, _Linear):
                gw, gb = self._grad_views[step.index]
                gw.copy_(self.products.run("grad_weight", step, grad, item))
                gb.copy_(self.products.run("grad_bias", step, grad, item))
                if step.index > 0:
                    grad = self.products.run("grad_input", step, grad, self._layers[step.index][0])
            elif isinstance(step, _Dropout):
                if item is not None:
                    grad = grad * item
            else:
                grad = _activation_backward(step, grad, *item)

    def _dropout_masks(self, rows: int) -> list[torch.Tensor] | None:
        """This step's masks, [members, rows, width] each: member by member, layer by layer from its own
        generator (``bernoulli_(1 - p)`` then ``div_(1 - p)``, as nn.Dropout draws); ones without dropout."""
        if not self._any_dropout:
            return None
        widths = [step.width for step in self._plan if isinstance(step, _Dropout)]
        masks = [torch.ones(len(self._active), rows, w, device=self.device) for w in widths]
        for row, gen in enumerate(self._dropout_gens):
            if gen is None:
                continue
            keep = 1.0 - self.configs[self._active[row]].model.dropout
            for mask in masks:
                mask[row].bernoulli_(keep, generator=gen)
        return [mask.div_(self._keep_prob) for mask in masks]

    def _stop_member(self, row: int, value: float, epoch: int) -> None:
        """Member at ``row`` diverged: keep its current weights if finite, else its last finite ones."""
        member = self._active[row]
        weights = self._params[row]
        if not bool(torch.isfinite(weights).all()):
            weights = self._last_finite[row]
        self._stopped_weights[member] = weights.to("cpu").clone()
        word = "NaN" if math.isnan(value) else "infinite"
        self.status[member] = "diverged"
        self.reason[member] = DIVERGED_SENTENCE.format(value=word, epoch=epoch)

    def _step(self, idx: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """One optimizer step of every member on its own batch (``idx``: [rows, batch]); returns the losses and
        the rows whose loss was not finite (stopped here with the weights they had before this step)."""
        saved: list[Any] = []
        out = self._forward(self.X_train[idx], self._dropout_masks(idx.shape[1]), saved)
        losses, grad = self._member_loss(self.criterion, out, self.y_train[idx], True)
        bad: list[int] = []
        if not math.isfinite(float(losses.sum())):  # as the run checks loss.item() before its backward
            bad = [row for row, value in enumerate(losses.tolist()) if not math.isfinite(value)]
            for row in bad:
                self._stop_member(row, float(losses[row]), self.epoch + 1)
        self._backward(grad, saved)
        if self._penalty_scale is not None:
            sign = self._params.sign() if self.regularization == "l1" else self._params
            self._grads.add_(sign * self._penalty_scale)
        self.optimizer.step(self._params, self._grads)
        return losses, bad

    def state_dict_cpu(self, member: int) -> dict[str, torch.Tensor]:
        """Member ``member``'s weights in ``build_model(spec)``'s keys and shapes, on the CPU."""
        if member in self._stopped_weights:
            row = self._stopped_weights[member]
        elif member in self._active:
            row = self._params[self._active.index(member)].to("cpu")
        else:
            raise PlaygroundError(f"This sweep has members 0 to {len(self.configs) - 1}.")
        out = {}
        for layer, name in zip(self._linears, self._names[member], strict=True):
            w, b = layer.views(row.unsqueeze(0))
            out[f"{name}.weight"], out[f"{name}.bias"] = w[0].clone(), b[0].clone()
        return out

    # ------------------------------------------------------------------ training
    @torch.no_grad()
    def train_epoch(self, control: Callable[[], bool] | None = None) -> list[float]:
        """One pass over the training split for every member; returns each active member's data loss."""
        n, batch = self.n_train, self.batch_size
        perms = torch.stack([epoch_permutation(n, g, self.shuffle, self._seed_scratch) for g in self._shuffle_gens])
        if self.device.type != "cpu":
            perms = perms.to(self.device)
        starts = range(0, n, batch)
        step_losses = torch.empty(len(starts), len(self._active), device=self.device)
        done = 0
        next_check = time.monotonic() + CHECK_EVERY_S if control is not None else math.inf
        for i in starts:
            losses, bad = self._step(perms[:, i : i + batch])
            if bad:  # those members stop here; the others' rows move up
                keep = [row for row in range(len(self._active)) if row not in bad]
                step_losses, perms, losses = step_losses[:, keep], perms[keep], losses[keep]
                self._keep_rows(keep)
            step_losses[done].copy_(losses)
            done += 1
            self.steps += 1
            if not self._active:
                break
            if time.monotonic() >= next_check:
                if control():  # type: ignore[misc]
                    raise Stopped()
                next_check = time.monotonic() + CHECK_EVERY_S
        for g in self._shuffle_gens:
            finish_epoch_draws(n, g, self.shuffle, self._perm_scratch)
        # The run's sum of loss.item() * len(idx) in float64, step after step (cumsum adds in order), / n.
        sizes = torch.tensor([min(i + batch, n) - i for i in starts[:done]], dtype=torch.float64, device=self.device)
        totals = (step_losses[:done].double() * sizes.unsqueeze(1)).cumsum(0)[-1] if done else sizes.new_zeros(0)
        return (totals / n).tolist()

    @torch.no_grad()
    def outputs(self, X: torch.Tensor) -> torch.Tensor:
        """Every member still training, on the same rows ``X`` [n, features]: [members, n, outputs], as in
        ``model.eval()`` (no dropout), in EVAL_BATCH rows at a time. What the small multiples draw."""
        rows = len(self._active)
        X = X.to(self.device)
        if rows == 0 or len(X) == 0:
            return torch.empty(rows, len(X), self._linears[-1].out_features, device=self.device)
        return torch.cat([self._forward(X[i : i + EVAL_BATCH].expand(rows, -1, -1))
                          for i in range(0, len(X), EVAL_BATCH)], dim=1)

    @torch.no_grad()
    def evaluate(self, X: torch.Tensor, y: torch.Tensor) -> tuple[list[float | None], list[float | None]]:
        """Each member's loss and accuracy on a split, in the run's batches of EVAL_BATCH rows."""
        n, rows = len(y), len(self._active)
        if n == 0 or rows == 0:
            return [None] * rows, [None] * rows
        total = torch.zeros(rows, dtype=torch.float64, device=self.device)
        correct = torch.zeros(rows, dtype=torch.int64, device=self.device)
        for i in range(0, n, EVAL_BATCH):
            xb, yb = X[i : i + EVAL_BATCH], y[i : i + EVAL_BATCH]
            out = self._forward(xb.expand(rows, *xb.shape))
            total += self._member_loss(self.criterion, out, yb.expand(rows, *yb.shape), False)[0].double() * len(yb)
            if self.task == "classification":
                correct += (out.argmax(-1) == yb).sum(1)
        losses = (total / n).tolist()
        if self.task != "classification":
            return losses, [None] * rows
        return losses, [c / n for c in correct.tolist()]

    def run_epoch(self, control: Callable[[], bool] | None = None) -> list[MemberEpoch]:
        """Train one epoch and validate, every member; appends to each one's history. Raises Stopped.

        As in a run: a recorded learning-rate change applies at its epoch; keeping the best validation epoch,
        a member whose validation loss has not improved for ``patience`` epochs stops with its best weights."""
        for epoch, lr in self.lr_changes:
            if epoch == self.epoch and any(self._lr[m] != lr for m in self._active):
                for member in self._active:
                    self._lr[member] = float(lr)
                self._rebind()
        started = list(self._active)
        train_losses = self.train_epoch(control)
        self.epoch += 1
        val_losses, val_accs = self.evaluate(self.X_val, self.y_val)
        train_accs: list[float | None] = [None] * len(self._active)
        if self.task == "classification":
            _, train_accs = self.evaluate(self.X_train, self.y_train)
        results: dict[int, MemberEpoch] = {}
        keep = []
        for row, member in enumerate(self._active):
            val = val_losses[row]
            bad = (val is not None and not math.isfinite(val)) or (
                val is None and not bool(torch.isfinite(self._params[row]).all()))
            if bad:
                self._stop_member(row, math.nan if val is None else val, self.epoch)
                results[member] = MemberEpoch(member, None, "diverged", self.reason[member])
                continue
            result = EpochResult(self.epoch, train_losses[row], val, train_accs[row], val_accs[row])
            self.history[member].append(result.as_row())
            results[member] = MemberEpoch(member, result)
            if self.keep_best and val is not None and not self._keep_if_best(row, val):
                results[member] = MemberEpoch(member, result, "stopped early", self.reason[member])
                continue
            keep.append(row)
        self._last_finite.copy_(self._params)
        if len(keep) != len(self._active):
            self._keep_rows(keep)
        for member in started:
            if member not in results:  # stopped during the epoch
                results[member] = MemberEpoch(member, None, self.status[member], self.reason[member])
        return [results[m] for m in started]

    def _keep_if_best(self, row: int, val_loss: float) -> bool:
        """Early stopping's bookkeeping for the member at ``row`` after an epoch, as a run keeps it: remember its
        best weights; once patience runs out, stop it with them. Returns whether it goes on."""
        member = self._active[row]
        if val_loss < self.best_val[member]:
            self.best_val[member], self.best_epoch[member] = val_loss, self.epoch
            self._best[row].copy_(self._params[row])  # type: ignore[index]
            return True
        if self.epoch - self.best_epoch[member] < self.patience:
            return True
        self._stopped_weights[member] = self._best[row].to("cpu").clone()  # type: ignore[index]
        self.status[member] = "stopped early"
        self.reason[member] = (
            f"Stopped early at epoch {self.epoch}: the validation loss had not improved for {self.patience} epochs. "
            f"The model keeps the weights of its best epoch, {self.best_epoch[member]} "
            f"(validation loss {self.best_val[member]:.4g}).")
        return False

    def restore_best(self) -> list[int]:
        """Keeping the best validation epoch: put back each training member's best weights (as a run does at the
        end of its epochs); the members whose weights changed."""
        if not self.keep_best:
            return []
        restored = []
        for row, member in enumerate(self._active):
            if self.best_epoch[member] not in (0, self.epoch):
                self._params[row].copy_(self._best[row])  # type: ignore[index]
                restored.append(member)
        return restored

    def fit(self, epochs: int | None = None, control: Callable[[], bool] | None = None) -> str:
        """Train up to ``epochs`` (default: the base config's); returns finished, stopped, or diverged when every
        member diverged. Keeping the best validation epoch, the members end with that epoch's weights."""
        for _ in range(epochs if epochs is not None else self.sweep.base.train.epochs):
            if not self._active:
                break
            try:
                self.run_epoch(control)
            except Stopped:
                return "stopped"
        self.restore_best()
        return "diverged" if all(status == "diverged" for status in self.status) else "finished"
