"""The optimizers: one row each, read by the Model Builder, the sweeps, the code panels and the Autograd page.

A row names a ``torch.optim`` class and which settings fill which of its keywords. A single run (and every
path on the Autograd page) steps with that ``torch.optim`` class itself. A row may also carry a *batched
form*: the same update for many models at once, over stacked ``[members, parameters]`` tensors with each
member's own hyperparameters, which a sweep uses instead of one ``torch.optim`` optimizer a member. Each batched
form sits beside its row and is tested against ``torch.optim`` (tests/unit/test_optimizers.py); a row without
one still trains in a sweep, through ``torch.optim`` member by member.

A batched form is ``form(p, g, state, h, step)``: ``p`` the members' parameters ``[members, n]`` (updated in
place), ``g`` their gradients (read only), ``state`` a dict of ``[members, n]`` tensors named as
``torch.optim`` names its state (the form creates them at step 1), ``h`` the row's keywords, each a
float64 ``[members, 1]`` tensor where the members' values differ and the plain value where they are the same (a
tuple of either for a tuple keyword such as ``betas``), ``step`` the number of this step, from 1. Defaults the row does not set
(``eps``, ``dampening``) are torch's.

This module imports nothing from the rest of the playground, so every package may import it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

BatchedForm = Callable[[torch.Tensor, torch.Tensor, dict[str, torch.Tensor], dict[str, Any], int], None]


@dataclass(frozen=True)
class OptimizerChoice:
    """A ``torch.optim`` class and its own settings: ``arguments`` maps each keyword to the setting (or the
    settings, for a tuple such as Adam's ``betas``) that fills it, so the engine and the code read one list.
    ``name`` is what a config and a link hold, ``label`` what a person reads."""

    name: str
    label: str
    help: str = ""
    torch_class: str = ""
    arguments: tuple[tuple[str, str | tuple[str, ...]], ...] = ()
    fused: bool = False  # torch has a fused kernel for it (one update for all parameters at once)
    batched: BatchedForm | None = None  # the update over stacked members (see the module's docstring)

    @property
    def settings(self) -> tuple[str, ...]:
        """The settings this optimizer reads (TrainConfig attributes)."""
        names: list[str] = []
        for _, source in self.arguments:
            names.extend(source if isinstance(source, tuple) else (source,))
        return tuple(names)

    def keywords(self, values: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of the ``torch.optim`` class, filled from ``values`` (setting -> value)."""
        return {keyword: (tuple(values[s] for s in source) if isinstance(source, tuple) else values[source])
                for keyword, source in self.arguments}

    def make(self, params, values: dict[str, Any], **extra: Any) -> torch.optim.Optimizer:
        """The row's ``torch.optim`` optimizer over ``params`` with these settings."""
        return getattr(torch.optim, self.torch_class)(params, **self.keywords(values), **extra)


# ------------------------------------------------------------------------------------------- batched forms
# A hyperparameter is a Python number (shared) or a float64 [members, 1] tensor (each member's own): what torch
# computes from it in Python floats (bias corrections, 1 - beta) is computed in float64 too, then taken to the
# parameters' dtype.


def _f(x: Any, p: torch.Tensor) -> Any:
    return x.to(p.dtype) if isinstance(x, torch.Tensor) else x


def _sqrt(x: Any) -> Any:
    return x.sqrt() if isinstance(x, torch.Tensor) else math.sqrt(x)


def _add_scaled(p: torch.Tensor, x: torch.Tensor, scale: Any) -> None:
    """p += x * scale (scale a number or [members, 1]), as torch's ``add_(x, alpha=scale)``."""
    if isinstance(scale, torch.Tensor):
        p.addcmul_(x, scale.to(p.dtype))
    else:
        p.add_(x, alpha=scale)


def _plus_scaled(a: torch.Tensor, x: torch.Tensor, scale: Any) -> torch.Tensor:
    """a + x * scale, a new tensor, as torch's ``a.add(x, alpha=scale)``."""
    return a.addcmul(x, scale.to(a.dtype)) if isinstance(scale, torch.Tensor) else a.add(x, alpha=scale)


def _nonzero(x: Any) -> bool:
    return bool(x.any()) if isinstance(x, torch.Tensor) else x != 0


def sgd_batched(p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], h: dict[str, Any],
                step: int) -> None:
    """torch.optim.SGD (dampening 0): g += wd * p; buf = g at first, then buf * momentum + g; nesterov takes
    g + momentum * buf, else buf; p -= lr * that."""
    momentum, weight_decay = h["momentum"], h["weight_decay"]
    if _nonzero(weight_decay):
        g = _plus_scaled(g, p, weight_decay)
    if _nonzero(momentum):
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = g.clone()
        else:
            buf.mul_(_f(momentum, p)).add_(g)
        g = _plus_scaled(g, buf, momentum) if h["nesterov"] else buf
    _add_scaled(p, g, -h["lr"])


def _adam_batched(p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], h: dict[str, Any], step: int,
                  decoupled: bool) -> None:
    """torch.optim.Adam / AdamW (amsgrad off, eps 1e-8): weight decay into the gradient (Adam) or the weights
    (AdamW: p *= 1 - lr * wd); m.lerp_(g, 1 - beta1); v = v * beta2 + (1 - beta2) g²;
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)."""
    lr, weight_decay = h["lr"], h["weight_decay"]
    beta1, beta2 = h["betas"]
    if not state:
        state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
    m, v = state["exp_avg"], state["exp_avg_sq"]
    if _nonzero(weight_decay):
        if decoupled:
            p.mul_(_f(1 - lr * weight_decay, p))
        else:
            g = _plus_scaled(g, p, weight_decay)
    m.lerp_(g, _f(1 - beta1, p))
    v.mul_(_f(beta2, p)).addcmul_(g * _f(1 - beta2, p), g)
    denom = (v.sqrt() / _f(_sqrt(1 - beta2**step), p)).add_(1e-8)
    _add_scaled(p, m / denom, -(lr / (1 - beta1**step)))


def adam_batched(p, g, state, h, step) -> None:
    _adam_batched(p, g, state, h, step, decoupled=False)


def adamw_batched(p, g, state, h, step) -> None:
    _adam_batched(p, g, state, h, step, decoupled=True)


def rmsprop_batched(p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], h: dict[str, Any],
                    step: int) -> None:
    """torch.optim.RMSprop (not centered, eps 1e-8): g += wd * p; v = alpha v + (1 - alpha) g²;
    avg = sqrt(v) + eps; with momentum buf = momentum buf + g / avg and p -= lr buf, else p -= lr g / avg."""
    momentum, weight_decay = h["momentum"], h["weight_decay"]
    if not state:
        state["square_avg"] = torch.zeros_like(p)
    v = state["square_avg"]
    if _nonzero(weight_decay):
        g = _plus_scaled(g, p, weight_decay)
    v.mul_(_f(h["alpha"], p)).addcmul_(g * _f(1 - h["alpha"], p), g)
    avg = v.sqrt().add_(1e-8)
    if _nonzero(momentum):
        buf = state.setdefault("momentum_buffer", torch.zeros_like(p))
        buf.mul_(_f(momentum, p)).addcdiv_(g, avg)
        _add_scaled(p, buf, -h["lr"])
    else:
        _add_scaled(p, g / avg, -h["lr"])


def batched_hyperparameters(keywords: list[dict[str, Any]], device: torch.device | str = "cpu") -> dict[str, Any] | None:
    """The members' keyword arguments (one dict a member, as ``OptimizerChoice.keywords`` gives them) as a batched
    form takes them: each keyword's shared value, or a float64 [members, 1] tensor where the members' numbers
    differ; None when some keyword differs and is not a number (``nesterov``): then the members step apart."""

    def one(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, tuple):
            parts = [one([v[k] for v in values]) for k in range(len(first))]
            return None if any(p is None for p in parts) else tuple(parts)
        if all(v == first and type(v) is type(first) for v in values):
            return first
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return torch.tensor(values, dtype=torch.float64, device=device).unsqueeze(1)
        return None

    out = {key: one([k[key] for k in keywords]) for key in keywords[0]}
    return None if any(v is None for v in out.values()) else out


# ---------------------------------------------------------------------------------------------------- rows


def _by_name(rows: tuple[OptimizerChoice, ...]) -> dict[str, OptimizerChoice]:
    names = [row.name for row in rows]
    assert len(set(names)) == len(names), f"two rows share a name: {names}"
    return {row.name: row for row in rows}


OPTIMIZERS: dict[str, OptimizerChoice] = _by_name((
    OptimizerChoice("sgd", "SGD", "Stochastic gradient descent, with momentum if you like.", "SGD",
                    (("lr", "lr"), ("momentum", "momentum"), ("nesterov", "nesterov"),
                     ("weight_decay", "weight_decay")), fused=True, batched=sgd_batched),
    OptimizerChoice("adam", "Adam", "Momentum and a per-weight step size from running averages.", "Adam",
                    (("lr", "lr"), ("betas", ("beta1", "beta2")), ("weight_decay", "weight_decay")), fused=True,
                    batched=adam_batched),
    OptimizerChoice("adamw", "AdamW", "Adam with weight decay applied to the weights directly (decoupled).",
                    "AdamW", (("lr", "lr"), ("betas", ("beta1", "beta2")), ("weight_decay", "weight_decay")),
                    fused=True, batched=adamw_batched),
    OptimizerChoice("rmsprop", "RMSprop", "A per-weight step size from a running average of squared gradients.",
                    "RMSprop", (("lr", "lr"), ("alpha", "alpha"), ("momentum", "momentum"),
                                ("weight_decay", "weight_decay")), batched=rmsprop_batched),
))
