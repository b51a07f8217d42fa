"""Lessons that use the "inside the layers" view, one registry row each (as the TensorFlow playground's "tailor to a
lesson" links): the settings a lesson sets, the controls it hides, what it tells the learner to look at, the figure
that shows the problem (computed from the run's per-layer statistics, layer_stats.py) and its one-click fix.

A lesson is opened by a link (``?lesson=<name>``, read by ``runs/url_state.py``); its settings are registry settings
by name, so the widgets, the link, the code and ``train.py`` follow them as they follow any setup.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from playground.builder import registry
from playground.builder.config import RunConfig
from playground.errors import PlaygroundError

Pairs = tuple[tuple[str, Any], ...]  # setting name -> value, in order (a frozen row holds no dict)


def _recorded(history: Sequence[dict], until: int | None) -> list[dict]:
    return [row for row in history if row.get("layers") and (until is None or int(row["epoch"]) <= until)]


def gradient_ratio(history: Sequence[dict], until: int | None = None) -> float | None:
    """The first layer's mean gradient norm divided by the last layer's, at the latest recorded epoch."""
    rows = _recorded(history, until)
    if not rows:
        return None
    layers = rows[-1]["layers"]
    first, last = ((layers[i].get("grad") or {}).get("mean") for i in (0, -1))
    if first is None or not last:
        return None
    return first / last


def largest_update_ratio(history: Sequence[dict], until: int | None = None) -> float | None:
    """The largest update-to-weight ratio (Δw/w) of any layer in any recorded epoch so far: one epoch that throws
    the weights far is the explosion, even when later epochs settle; a weight that became non-finite counts as
    infinite."""
    rows = _recorded(history, until)
    if not rows:
        return None
    ratios = [layer.get("update_ratio") for row in rows for layer in row["layers"]]
    return max(math.inf if r is None else r for r in ratios)


def largest_dead_share(history: Sequence[dict], until: int | None = None) -> float | None:
    """The largest share of dead units (never above 0 before a ReLU) of any layer, at the latest recorded epoch."""
    rows = _recorded(history, until)
    if not rows:
        return None
    shares = [layer["dead"] for layer in rows[-1]["layers"] if layer.get("dead") is not None]
    return max(shares) if shares else None


@dataclass(frozen=True)
class Symptom:
    """The figure a lesson tells the learner to read, and where the problem starts."""

    label: str  # what the figure is, as a person reads it
    measure: Callable[[Sequence[dict], int | None], float | None]
    threshold: float
    above: bool  # True: the problem shows as the figure above the threshold; False: below it
    fmt: Callable[[float], str] = lambda v: f"{v:.1e}"

    def value(self, history: Sequence[dict], until: int | None = None) -> float | None:
        return self.measure(history, until)

    def shows_problem(self, value: float) -> bool:
        return value > self.threshold if self.above else value < self.threshold


@dataclass(frozen=True)
class Lesson:
    """One lesson: its link's name, the settings it sets (on the registry's defaults), the controls it hides, what to
    look at, the figure that shows the problem, and the fix (settings changed on the setup shown)."""

    name: str
    title: str
    settings: Pairs
    hides: tuple[str, ...]
    look_at: str
    symptom: Symptom
    problem: str  # said while the figure shows the problem
    fix: Pairs
    fix_label: str
    fixed: str  # said once a run shows the figure healthy

    def __post_init__(self) -> None:
        for name, _ in (*self.settings, *self.fix):
            assert name in registry.BY_NAME, f"lesson {self.name}: unknown setting {name}"
        for name in self.hides:
            assert name in registry.BY_NAME, f"lesson {self.name}: hides an unknown setting {name}"
        assert not set(self.hides) & {name for name, _ in self.fix}, f"lesson {self.name} hides what its fix changes"

    def setup(self, base: RunConfig) -> RunConfig:
        """``base`` (the page's defaults) with this lesson's settings."""
        return apply(base, self.settings)

    def fixed_setup(self, config: RunConfig) -> RunConfig:
        """The setup shown with the fix applied (the learner's other changes stay)."""
        return apply(config, self.fix)


def apply(config: RunConfig, changes: Pairs) -> RunConfig:
    """``config`` with registry settings changed by name; an activation given as one name applies to every hidden
    layer. Raises PlaygroundError (a sentence) when the result is not a valid setup."""
    sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    for name, value in changes:
        setting = registry.BY_NAME[name]
        sections[setting.section][setting.attr] = value
    model = sections["model"]
    hidden = model.get("hidden", config.model.hidden)
    if isinstance(model.get("activations"), str):
        model["activations"] = (model["activations"],) * len(hidden)
    elif "hidden" in model and "activations" not in model:
        model["activations"] = (config.model.activations[-1:] or ("tanh",)) * len(hidden)
    try:
        return RunConfig(data=replace(config.data, **sections["data"]), model=replace(config.model, **model),
                         train=replace(config.train, **sections["train"]))
    except (TypeError, ValueError) as exc:
        raise PlaygroundError("This lesson's settings do not fit the setup.", str(exc)[:200]) from None


# Seeds are part of each lesson: the figures its text promises were measured on this data and these weights
# (tests/unit/builder/test_lessons.py trains each setup and its fix).
_SEEDS: Pairs = (("seed", 0), ("data_seed", 0))
_QUIET = ("dropout", "reg", "reg_rate", "loss")  # what no lesson here is about

LESSONS: dict[str, Lesson] = {row.name: row for row in (
    Lesson(
        "vanishing", "Vanishing gradients",
        (("layers", (8,) * 8), ("activations", "sigmoid"), ("optimizer", "sgd"), ("lr", 0.03), ("momentum", 0.0),
         ("epochs", 30), *_SEEDS),
        _QUIET,
        "Eight Sigmoid layers, SGD. Press Play and read the gradient bars: each layer back from the output gets a "
        "smaller gradient (a Sigmoid's slope is at most 0.25), so the first layers hardly move.",
        Symptom("first layer's gradient ÷ last layer's", gradient_ratio, 1e-4, above=False),
        "vanishing, under a ten-thousandth",
        (("activations", "tanh"),), "Fix: Tanh",
        "the gradient reaches the first layer (Tanh's slope is up to 1). Adam would also move the first layers, "
        "scaling each step to its gradient.",
    ),
    Lesson(
        "exploding", "Exploding updates",
        (("layers", (8, 8)), ("activations", "tanh"), ("optimizer", "sgd"), ("lr", 3.0), ("momentum", 0.0),
         ("epochs", 30), *_SEEDS),
        _QUIET,
        "SGD with a learning rate of 3. Press Play and read Δw/w under the bars: how far an epoch moved a layer's "
        "weights, relative to their size. Steps this large overshoot, and the loss jumps.",
        Symptom("largest Δw/w of an epoch", largest_update_ratio, 1.0, above=True),
        "exploding, the weights moved by more than their own size",
        (("lr", 0.03),), "Fix: rate 0.03",
        "each epoch moves the weights by a small share of their size, and the loss falls.",
    ),
    Lesson(
        "dead_relu", "Dead ReLUs",
        (("layers", (8, 8)), ("activations", "relu"), ("optimizer", "sgd"), ("lr", 3.0), ("momentum", 0.0),
         ("epochs", 30), *_SEEDS),
        _QUIET,
        "ReLU layers, SGD at a learning rate of 3. Press Play and read \"dead\" under the bars: a large step can push "
        "a unit below 0 on every row; its gradient is 0 from then on, so it never comes back.",
        Symptom("dead units of the worst layer", largest_dead_share, 0.5, above=True,
                fmt=lambda v: f"{v:.0%}"),
        "dead, most units of a layer never fire",
        (("lr", 0.1),), "Fix: rate 0.1",
        "the units keep firing on some rows, so their gradients keep them learning.",
    ),
)}


def find(name: Any) -> Lesson | None:
    """The lesson a link names, or None (anything else: unknown, too long, not text)."""
    if not isinstance(name, str) or len(name) > 32:
        return None
    return LESSONS.get(name.strip().lower())


def state(lesson: Lesson, history: Sequence[dict], until: int | None = None) -> tuple[float | None, bool | None]:
    """The lesson's figure for the run shown (at the replayed epoch ``until``) and whether it shows the problem
    (None, None before any epoch is recorded)."""
    value = lesson.symptom.value(history, until)
    return value, (None if value is None else lesson.symptom.shows_problem(value))
