"""Whether a run's loss went wrong without the trainer stopping it: a learning rate too large makes the loss swing
(SGD at lr 10 on the circle: between 4.7 and 9 epoch after epoch) or climb, yet every value stays finite, so the
run ends "finished". ``unstable(history)`` reads the per-epoch train losses and says so in a sentence with the fix
to try; the Model Builder shows it beside the curves and the Sweeps page marks such members.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_EPOCHS = 8  # fewer epochs than this are not judged: a young run's loss may still jump
RISE_FACTOR = 2.0  # the recent mean loss more than this times the best one (and RISE_MARGIN above it): it rose
RISE_MARGIN = 0.05
SWING_FRACTION = 0.3  # the recent losses spread over more than this fraction of their mean ...
SWING_MARGIN = 0.1  # ... and more than this in loss units (a converged loss of 1e-4 vs 3e-4 is not a swing) ...
TURNS_FRACTION = 0.25  # ... and the loss turns (up, down, up) at this fraction of the recent epochs at least


@dataclass(frozen=True)
class Instability:
    kind: str  # "non-finite" | "rising" | "swinging"
    sentence: str  # what happened and the fix to try, in words


def _window(n: int) -> int:
    return max(5, min(20, n // 3))


def unstable(history: Sequence[dict], optimizer: str = "", lr: float | None = None) -> Instability | None:
    """How the train loss of ``history`` (a run's rows: ``epoch``, ``train_loss``, ...) went wrong, or None when it
    did not: a value that is not finite, a recent loss well above the best one, or a recent loss that swings up and
    down by more than a third of its size. ``optimizer`` and ``lr`` name the fix (a smaller rate, or Adam)."""
    losses = [row.get("train_loss") for row in history]
    values = [float(v) for v in losses if isinstance(v, (int, float))]
    fix = _fix(optimizer, lr)
    bad = [row for row in history for key in ("train_loss", "val_loss")
           if isinstance(row.get(key), (int, float)) and math.isinf(row[key])
           or key == "train_loss" and isinstance(row.get(key), float) and math.isnan(row[key])]
    if bad:
        return Instability("non-finite", f"The loss stopped being a finite number at epoch {int(bad[0].get('epoch', 0))}: "
                                         f"the weights blew up. {fix}")
    if len(values) < MIN_EPOCHS:
        return None
    recent = values[-_window(len(values)):]
    mean = sum(recent) / len(recent)
    best = min(values)
    best_epoch = values.index(best)
    if best_epoch < len(values) - len(recent) and mean > RISE_FACTOR * best + RISE_MARGIN:
        return Instability("rising", f"The loss rose: {mean:.3g} on average over the last {len(recent)} epochs, from "
                                     f"{best:.3g} at its best (epoch {best_epoch + 1}). {fix}")
    low, high = min(recent), max(recent)
    steps = [b - a for a, b in zip(recent, recent[1:], strict=False)]
    turns = sum(1 for a, b in zip(steps, steps[1:], strict=False) if a * b < 0)
    if high - low > max(SWING_FRACTION * mean, SWING_MARGIN) and turns >= TURNS_FRACTION * (len(recent) - 2):
        return Instability("swinging", f"The loss swings between {low:.3g} and {high:.3g} over the last {len(recent)} "
                                       f"epochs instead of settling: the steps overshoot. {fix}")
    return None


def _fix(optimizer: str, lr: float | None) -> str:
    smaller = f"a smaller learning rate (try {lr / 10:g})" if lr else "a smaller learning rate (a tenth)"
    if optimizer.lower() in ("adam", "adamw"):
        return f"Try {smaller}."
    return f"Try {smaller}, or Adam, which scales its steps per weight."
