"""The optimizer rows: each batched form against torch.optim itself, every member with its own settings."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch

from playground import optimizers
from playground.builder import registry
from playground.optimizers import OPTIMIZERS, batched_hyperparameters

SHAPES = [(8, 2), (8,), (3, 8), (3,)]  # a small MLP's weights and biases, as a sweep stacks them
MEMBERS = 6
STEPS = 5


def member_settings(rng: random.Random, nesterov: bool) -> dict:
    """One member's settings, each drawn from values a person would sweep (momentum above 0 with Nesterov)."""
    return {"lr": rng.choice([1e-3, 0.01, 0.03, 0.1]), "weight_decay": rng.choice([0.0, 1e-3, 0.05]),
            "momentum": rng.choice([0.5, 0.9] if nesterov else [0.0, 0.5, 0.9]), "nesterov": nesterov,
            "beta1": rng.choice([0.8, 0.9]), "beta2": rng.choice([0.99, 0.999]), "alpha": rng.choice([0.9, 0.99])}


def views(buffer: torch.Tensor, row: int) -> list[torch.Tensor]:
    out, at = [], 0
    for shape in SHAPES:
        n = torch.Size(shape).numel()
        out.append(buffer[row, at : at + n].view(shape))
        at += n
    return out


def test_every_built_in_row_has_a_batched_form_and_the_registry_reexports_the_rows():
    assert all(row.batched is not None for row in OPTIMIZERS.values())
    assert registry.OPTIMIZERS is OPTIMIZERS and registry.OptimizerChoice is optimizers.OptimizerChoice


@pytest.mark.parametrize("name, nesterov", [(name, False) for name in OPTIMIZERS] + [("sgd", True)])
def test_the_batched_form_is_torch_optim(name, nesterov):
    """Random parameters and gradients, six members with different settings, five steps: the weights and every
    state tensor equal each member's own torch.optim optimizer's (non-fused) to float32 rounding."""
    row = OPTIMIZERS[name]
    rng, gen = random.Random(name), torch.Generator().manual_seed(1)
    settings = [member_settings(rng, nesterov) for _ in range(MEMBERS)]
    size = sum(torch.Size(s).numel() for s in SHAPES)
    start = torch.randn(MEMBERS, size, generator=gen)
    theirs, mine = start.clone(), start.clone()
    params = [[torch.nn.Parameter(v) for v in views(theirs, i)] for i in range(MEMBERS)]
    reference = [row.make(p, s) for p, s in zip(params, settings, strict=True)]
    hyper = batched_hyperparameters([row.keywords(s) for s in settings])
    assert hyper is not None
    assert any(isinstance(v, torch.Tensor) for v in hyper.values())  # the members' own values, not one shared
    state: dict[str, torch.Tensor] = {}
    for step in range(1, STEPS + 1):
        grads = torch.randn(MEMBERS, size, generator=gen) * 10.0 ** torch.randint(-3, 1, (MEMBERS, 1), generator=gen)
        for i, optimizer in enumerate(reference):
            for p, g in zip(params[i], views(grads, i), strict=True):
                p.grad = g.clone()
            optimizer.step()
        row.batched(mine, grads.clone(), state, hyper, step)
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)
        for i, optimizer in enumerate(reference):
            for p, kept in zip(params[i], [optimizer.state[p] for p in params[i]], strict=True):
                for key, value in kept.items():
                    if key == "step" or value is None:
                        continue
                    ours = views(state[key], i)[[q is p for q in params[i]].index(True)]
                    torch.testing.assert_close(ours, value, rtol=1e-5, atol=1e-7, msg=f"{name} {key}")


def test_a_broken_batched_form_is_caught(monkeypatch):
    """The comparison above fails when a form is wrong (here Adam's second moment forgets a little faster)."""
    original = optimizers.adam_batched

    def off(p, g, state, h, step):
        h = {**h, "betas": (h["betas"][0], 0.98)}
        original(p, g, state, h, step)

    monkeypatch.setitem(OPTIMIZERS, "adam", replace(OPTIMIZERS["adam"], batched=off))
    with pytest.raises(AssertionError):
        test_the_batched_form_is_torch_optim("adam", False)


def test_shared_values_stay_numbers_and_differing_flags_are_refused():
    h = batched_hyperparameters([{"lr": 0.1, "betas": (0.9, 0.999)}, {"lr": 0.01, "betas": (0.9, 0.999)}])
    assert h["betas"] == (0.9, 0.999) and h["lr"].dtype == torch.float64 and h["lr"].shape == (2, 1)
    assert batched_hyperparameters([{"nesterov": True}, {"nesterov": False}]) is None
