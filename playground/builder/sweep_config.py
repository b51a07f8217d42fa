"""What a sweep is: a base ``RunConfig`` and one or two axes, each a sweepable setting and its values.

An axis lists its values or spaces ``count`` of them on a log range; the members are the grid of the axes'
values, first axis outermost. ``sweep.member(i)`` is member i as an ordinary run, with the key that run would
have. The settings a sweep may vary are the registry's rows marked ``sweepable``. The engine that trains the
members is ``sweep.py``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from playground import limits
from playground.builder import registry
from playground.builder.config import RunConfig
from playground.builder.datasets import split_sizes
from playground.builder.model import parameter_count
from playground.builder.training import EVAL_BATCH
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
