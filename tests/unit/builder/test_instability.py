"""A loss that swings or climbs without going non-finite is named, with the fix; healthy runs are not. The
histories are real: the default circle setup trained 60 epochs by ``Trainer`` (SGD at lr 10 and 3, SGD at 0.1,
Adam at 0.03; Adam at 0.03 on the spiral), kept in histories/sgd_adam_circle_spiral.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from playground.builder.instability import unstable

HISTORIES = json.loads((Path(__file__).parent / "histories" / "sgd_adam_circle_spiral.json").read_text())


@pytest.mark.parametrize("epochs", [10, 30, 60])
@pytest.mark.parametrize("name", ["sgd_lr10_circle", "sgd_lr3_circle"])
def test_a_too_large_sgd_rate_is_named_with_the_fix(name, epochs):
    found = unstable(HISTORIES[name][:epochs], "sgd", 10.0)
    assert found is not None and found.kind == "swinging"
    assert "swings between" in found.sentence and "try 1)" in found.sentence and "Adam" in found.sentence


@pytest.mark.parametrize("epochs", [10, 30, 60])
@pytest.mark.parametrize("name", ["adam_lr0.03_circle", "sgd_lr0.1_circle", "adam_lr0.03_spiral"])
def test_healthy_runs_are_not_flagged(name, epochs):
    assert unstable(HISTORIES[name][:epochs], "adam", 0.03) is None


def test_a_loss_that_climbs_is_named_rising():
    history = HISTORIES["sgd_lr0.1_circle"][:30] + [
        {"epoch": 31 + i, "train_loss": 0.5 + 0.05 * i} for i in range(20)]
    found = unstable(history, "adam", 0.03)
    assert found is not None and found.kind == "rising" and "Adam" not in found.sentence
    assert "Try a smaller learning rate (try 0.003)." in found.sentence


def test_a_non_finite_loss_is_named_with_its_epoch():
    history = [*HISTORIES["sgd_lr10_circle"][:3], {"epoch": 4, "train_loss": math.inf, "val_loss": math.nan}]
    found = unstable(history, "sgd", 10.0)
    assert found is not None and found.kind == "non-finite" and "epoch 4" in found.sentence


def test_a_young_or_missing_validation_run_is_not_judged():
    assert unstable(HISTORIES["sgd_lr10_circle"][:5], "sgd", 10.0) is None
    no_val = [{**row, "val_loss": math.nan} for row in HISTORIES["adam_lr0.03_circle"]]
    assert unstable(no_val, "adam", 0.03) is None  # NaN validation loss: no validation split, not a blow-up
