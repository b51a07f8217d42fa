"""Every optimizer, loss, activation and dataset row compared with torch written out by hand from the settings.

The app, train.py and sweeps all build through the same functions, so they agree with each other even when a
row silently drops a keyword; only a reference built here, independently, sees that."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from playground.builder import datasets
from playground.builder.config import TrainConfig
from playground.builder.registry import ACTIVATIONS, LOSSES, OPTIMIZERS, TASK_LOSS, resolve_loss
from playground.builder.training import make_criterion, make_optimizer

# Settings far from torch's defaults, so that a keyword left out changes the result.
SETTINGS = dict(lr=0.05, momentum=0.7, weight_decay=0.02, beta1=0.8, beta2=0.95, alpha=0.9)

BY_HAND = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.02),
    "adam": lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.95), weight_decay=0.02),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.05, betas=(0.8, 0.95), weight_decay=0.02),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.05, alpha=0.9, momentum=0.7, weight_decay=0.02),
}
HYPER = ("lr", "momentum", "nesterov", "weight_decay", "betas", "alpha")


def test_every_optimizer_row_has_a_reference_here():
    assert set(BY_HAND) == set(OPTIMIZERS)


def _train(optimizer_of, steps: int = 5):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    optimizer = optimizer_of(model.parameters())
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(8, 3, generator=g), torch.randint(0, 2, (8,), generator=g)
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model, optimizer


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_optimizer_row_trains_like_torch_built_by_hand(name):
    train = TrainConfig(optimizer=name, nesterov=name == "sgd", **SETTINGS)
    ours_model, ours = _train(lambda p: make_optimizer(p, train))
    hand_model, hand = _train(BY_HAND[name])
    assert type(ours) is type(hand)
    for key in HYPER:
        assert ours.param_groups[0].get(key) == hand.param_groups[0].get(key), key
    for a, b in zip(ours_model.parameters(), hand_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)  # fused and for-loop kernels round alike to ~1e-7
    for pa, pb in zip(ours_model.parameters(), hand_model.parameters(), strict=True):
        sa, sb = ours.state[pa], hand.state[pb]
        assert set(sa) == set(sb)
        for key in sa:
            torch.testing.assert_close(sa[key], sb[key], rtol=1e-5, atol=1e-6)


def test_a_dropped_keyword_would_change_the_weights():
    """The comparison above has teeth: SGD without nesterov (the planted bug) ends elsewhere."""
    with_, _ = _train(BY_HAND["sgd"])
    without, _ = _train(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.7, weight_decay=0.02))
    assert not torch.allclose(with_[0].weight, without[0].weight, atol=1e-4)


LOSS_BY_HAND = {"cross_entropy": nn.CrossEntropyLoss(), "mse": nn.MSELoss(), "l1": nn.L1Loss(), "huber": nn.HuberLoss()}


def test_every_loss_row_has_a_reference_here():
    assert set(LOSS_BY_HAND) == set(LOSSES)
    assert TASK_LOSS == {"classification": "cross_entropy", "regression": "mse"}


@pytest.mark.parametrize("name", sorted(LOSS_BY_HAND))
def test_loss_row_equals_torch_by_hand(name):
    task = LOSSES[name].tasks[0]
    ours, hand = make_criterion(task, name), LOSS_BY_HAND[name]
    assert type(ours) is type(hand) and ours.reduction == hand.reduction == "mean"
    g = torch.Generator().manual_seed(2)
    out = 3 * torch.randn(16, 3 if task == "classification" else 1, generator=g)
    target = torch.randint(0, 3, (16,), generator=g) if task == "classification" else 3 * torch.randn(16, 1, generator=g)
    assert torch.equal(ours(out, target), hand(out, target))
    if name == "huber":
        assert ours.delta == 1.0
        # the edge: an error of exactly delta is 0.5 * delta^2, one past it is linear
        assert ours(torch.tensor([1.0]), torch.tensor([0.0])).item() == 0.5
        assert ours(torch.tensor([3.0]), torch.tensor([0.0])).item() == 2.5


@pytest.mark.parametrize("task", sorted(TASK_LOSS))
def test_auto_loss_is_the_tasks_usual_one(task):
    assert type(make_criterion(task)) is type(LOSS_BY_HAND[TASK_LOSS[task]])
    assert resolve_loss("auto", task) is LOSSES[TASK_LOSS[task]]


ACTIVATION_BY_HAND = {
    "relu": lambda x: torch.clamp(x, min=0),
    "tanh": torch.tanh,
    "sigmoid": lambda x: 1 / (1 + torch.exp(-x)),
    "leaky_relu": lambda x: torch.where(x > 0, x, 0.01 * x),
    "linear": None,
}


def test_every_activation_row_has_a_reference_here():
    assert set(ACTIVATION_BY_HAND) == set(ACTIVATIONS)


@pytest.mark.parametrize("name", sorted(ACTIVATION_BY_HAND))
def test_activation_row_equals_its_formula(name):
    row, formula = ACTIVATIONS[name], ACTIVATION_BY_HAND[name]
    if formula is None:
        assert row.module is None and row.code is None
        return
    x = torch.linspace(-4, 4, 81)
    torch.testing.assert_close(row.module()(x), formula(x))
    assert row.code == f"nn.{row.module.__name__}()"


# Each generator's output for n=20, noise 0.1, seed 3: the first two points, the sum of all X and the targets
# (their sum, for regression), rounded to 4 decimals. A changed formula, noise or seed use changes these.
PINNED = [
    ("blobs", [[1.2246, 1.9666], [0.2509, 3.1593]], 1.5755, [0] * 6 + [1] * 6 + [2] * 8),
    ("circle", [[-0.2483, 0.2556], [0.0068, 0.5171]], -0.7463, [0] * 10 + [1] * 10),
    ("gaussian", [[-0.4693, -3.9167], [-1.6864, -2.4258]], -1.2334, [0] * 10 + [1] * 10),
    ("multigauss", [[-4.9722, -3.1583], [3.6153, 0.9859]], -9.8085, -0.0917),
    ("plane", [[-4.9722, -3.1583], [3.6153, 0.9859]], -9.8085, -0.7238),
    ("spiral", [[0.2041, -0.2556], [0.4873, 0.1702]], -0.1644, [0] * 10 + [1] * 10),
    ("spiral3", [[0.2041, -0.2556], [0.8751, -0.0568]], 0.5346, [0] * 6 + [1] * 6 + [2] * 8),
    ("xor", [[-0.5358, -1.4438], [3.9271, 3.1238]], 0.9084, [1] * 10 + [0] * 10),
]


def test_every_generated_dataset_is_pinned():
    assert sorted(name for name, *_ in PINNED) == sorted(datasets.GENERATORS)


@pytest.mark.parametrize("name, first, total, targets", PINNED, ids=[p[0] for p in PINNED])
def test_dataset_values_for_a_seed_are_pinned(name, first, total, targets):
    X, y = datasets.generate(name, 20, 0.1, seed=3)
    assert [[round(v, 4) for v in row] for row in X[:2].tolist()] == first
    assert round(float(X.double().sum()), 4) == total
    if isinstance(targets, list):
        assert y.tolist() == targets
    else:
        assert round(float(y.double().sum()), 4) == targets
