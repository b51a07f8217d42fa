"""The sweep engine: every member of a sweep (``sweep_config.py``) trained at once, in one process.

Member i is the single run ``Trainer(sweep.member(i), tensors)`` (training.py's docstring) done alongside the
others, and everything it computes comes from that run's own pieces:

- its initial weights are ``torch.manual_seed(seed_i); build_model(spec_i)``; the members' parameters are
  stacked into one ``[members, parameters]`` buffer (the optimizer updates it in one go);
- the forward pass is ``torch.func.vmap`` over ``torch.func.functional_call`` of a model built by
  ``build_model`` from the same registry rows, with the run's criterion (``make_criterion``) and its penalty
  (``weight_penalty``, each member's own rate) under the same vmap. It is traced once per input shape by
  ``make_fx`` into torch's own operations (views that change nothing are dropped), so a step costs the
  operations, not Python. Gradients come from autograd, of the sum of the members' objectives;
- its batches come from its own ``torch.Generator().manual_seed(seed_i)``, drawing what a DataLoader draws;
- its dropout is the real ``F.dropout`` applied to its own activations under its own random state (the
  global state its build left, kept aside between steps), so its masks are its run's;
- its update is its optimizer row's batched form (``playground/optimizers.py``, tested against
  ``torch.optim``) with its own hyperparameters, or, for a row without one, its own ``torch.optim``
  optimizer (``make_optimizer``) over views of its row of the buffer.

How close that comes to the single run is measured, not assumed: after the first epoch the engine trains the
first member still training again as a single run and compares (``exactness()``: bit for bit, or how far
apart the weights and losses are). It steps like ``Trainer``: ``run_epoch(control)``, ``history`` (one list a
member), ``epoch``, ``state_dict_cpu(i)`` in ``build_model(spec_i)``'s keys.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap
from torch.nn import functional as F

from playground.builder import registry
from playground.builder.model import build_model, parameter_count
from playground.builder.sweep_config import (  # noqa: F401  (the configuration, re-exported for its callers)
    LOG_RANGE_DIGITS,
    SWEEPABLE,
    Sweepable,
    SweepAxis,
    SweepConfig,
    check_sweep_size,
)
from playground.builder.sweep_exactness import (  # noqa: F401  (exactness_sentence re-exported for the page)
    BATCHED,
    ONE_BY_ONE,
    exactness_sentence,
    relative_difference,
)
from playground.builder.sweep_layer_stats import SweepLayerStats
from playground.builder.sweep_trace import traced
from playground.builder.training import (
    CHECK_EVERY_S,
    DIVERGED_SENTENCE,
    EVAL_BATCH,
    Diverged,
    EpochResult,
    Stopped,
    Trainer,
    apply_cudnn_flags,
    epoch_permutation,
    finish_epoch_draws,
    make_criterion,
    make_optimizer,
    optimizer_arguments,
    resolve_device,
    weight_matrices,
    weight_penalty,
)
from playground.errors import PlaygroundError
from playground.optimizers import batched_hyperparameters


def _rng_state(device: torch.device) -> torch.Tensor:
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def _set_rng_state(device: torch.device, state: torch.Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


@dataclass
class MemberEpoch:
    """One member's outcome of an epoch: its row (None when it diverged in it), its status after the epoch
    ('training', 'diverged', 'stopped early') and the sentence that says why it stopped."""

    member: int
    result: EpochResult | None
    status: str = "training"
    sentence: str = ""


class SweepTrainer:
    """Every member of a sweep, trained together: stacked weights, one vmapped forward, autograd, batched updates.

    ``history[i]``, ``status[i]`` ('training', 'diverged', 'stopped early') and ``reason[i]`` are member i's;
    ``run_epoch`` returns a ``MemberEpoch`` for each member still training at its start; ``control`` is as for
    Trainer. ``check=False`` leaves out the comparison with a single run after the first epoch.
    """

    def __init__(self, sweep: SweepConfig, tensors: dict[str, torch.Tensor], device: str | None = None,
                 check: bool = True, layer_stats_every: int | None = None) -> None:
        base = sweep.base
        self.sweep, self.configs = sweep, sweep.members()
        self.task = base.model.task
        self.device = resolve_device(device or base.train.device)
        apply_cudnn_flags(base.train)
        to = self.device
        self._tensors = tensors
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
        self.criterion = make_criterion(self.task, base.train.loss)
        self.regularization = base.train.regularization

        # The model every member shares (with dropout layers where any member has them), and each member's own
        # initial weights and random state, exactly as its single run makes them.
        self._structure = (max((c.model for c in self.configs), key=lambda spec: spec.dropout), base.train.loss,
                           self.regularization)  # what, with the inputs' shapes, makes the traced graphs
        self._model = build_model(self._structure[0])
        named = list(self._model.named_parameters())
        if list(self._model.state_dict()) != [name for name, _ in named]:
            raise PlaygroundError("A sweep trains models whose state is their parameters only.")
        self._shapes = [p.shape for _, p in named]
        self._names, rows_, self._rng = [], [], []
        for config in self.configs:
            torch.manual_seed(config.train.seed)
            model = build_model(config.model)
            own = list(model.named_parameters())
            if [p.shape for _, p in own] != self._shapes:
                raise PlaygroundError("A sweep's members must have the same layers.")
            self._names.append([name for name, _ in own])
            rows_.append(torch.cat([p.detach().reshape(-1) for _, p in own]))
            self._rng.append(_rng_state(to) if config.model.dropout > 0 else None)  # what its nn.Dropout draws next
        self._flat = torch.stack(rows_).to(to)
        self.n_parameters = self._flat.shape[1]
        weights = {id(w) for w in weight_matrices(self._model)}
        self._weight_index = [i for i, (_, p) in enumerate(named) if id(p) in weights]
        self._pieces = self._split(self._model)
        self._shuffle_gens = [torch.Generator().manual_seed(c.train.seed) for c in self.configs]
        self._model.eval()  # the pieces hold no dropout; the whole model is traced for evaluation only
        self.row = registry.OPTIMIZERS[base.train.optimizer]
        self._optimizer_path = BATCHED if self.row.batched is not None else ONE_BY_ONE
        self._opt_state: dict[str, torch.Tensor] = {}
        self._opt_steps = 0
        self._own_optimizers: list[torch.optim.Optimizer] = []
        self._active = list(range(members))  # member index of each row of the buffers
        self._lr = [float(c.train.lr) for c in self.configs]  # each member's learning rate now
        self.lr_changes = list(base.train.lr_changes)  # (epochs done when it applies, new rate), as a run has them
        self.keep_best = bool(base.train.keep_best) and len(self.y_val) > 0
        self.patience = int(base.train.patience)
        self.best_val = [math.inf] * members
        self.best_epoch = [0] * members
        self._best = self._flat.clone() if self.keep_best else None
        self._last_finite = self._flat.clone()
        self.epoch = self.steps = 0
        self.history: list[list[dict[str, float]]] = [[] for _ in range(members)]
        self.status = ["training"] * members
        self.reason = [""] * members
        self._stopped_weights: dict[int, torch.Tensor] = {}
        self._seed_scratch = torch.empty((), dtype=torch.int64)
        self._perm_scratch = torch.empty(self.n_train, dtype=torch.int64)
        self._check = check
        self._exactness: dict[str, Any] = {"checked": False}
        # per-layer statistics every k-th epoch (sweep_layer_stats.py); last_layers: [members, layers, figures] or None
        self.layer_stats = SweepLayerStats(self._model, self.X_train, layer_stats_every) if layer_stats_every else None
        self.last_layers: np.ndarray | None = None
        self._recording = False
        self._rebind()

    # ------------------------------------------------------------------ set-up
    @staticmethod
    def _split(model: nn.Module) -> list[nn.Sequential]:
        """The model's layers in pieces between its dropout layers (dropout draws each member's own masks)."""
        pieces: list[list[nn.Module]] = [[]]
        for module in model.layers:
            if isinstance(module, nn.Dropout):
                pieces.append([])
            else:
                pieces[-1].append(module)
        return [nn.Sequential(*modules) for modules in pieces]

    def _views(self, buffer: torch.Tensor) -> list[torch.Tensor]:
        """Each parameter of every member in the buffer's rows: [members, *shape] views."""
        out, at = [], 0
        for shape in self._shapes:
            n = shape.numel()
            out.append(buffer[:, at : at + n].view(len(buffer), *shape))
            at += n
        return out

    def _rebind(self) -> None:
        """Parameters, gradients, hyperparameters and optimizers for the members now in the buffers' rows."""
        self._values = self._views(self._flat)  # what the traced step reads
        self._params = [v.requires_grad_() for v in self._views(self._flat)]  # leaves of the step through dropout
        self._grads = torch.zeros_like(self._flat)
        self._steps: dict[torch.Size, Callable] = {}  # the traced step of each batch shape, for these members
        self._dropping = any(self._rng[m] is not None for m in self._active)  # some member draws dropout masks
        configs = [self.configs[i] for i in self._active]
        if not configs:
            return
        rates = [float(c.train.reg_rate) if c.train.regularization != "none" else 0.0 for c in configs]
        self._rates = torch.tensor(rates, device=self.device)
        self._penalised = self.regularization != "none" and any(rates)
        arguments = [optimizer_arguments(c.train) for c in configs]
        for keywords, member in zip(arguments, self._active, strict=True):
            keywords["lr"] = self._lr[member]  # the rate now (a recorded change may have replaced the configured one)
        self._hyper = batched_hyperparameters(arguments, self.device)
        if self._optimizer_path == ONE_BY_ONE or self._hyper is None:
            self._optimizer_path = ONE_BY_ONE
            self._bind_own_optimizers(configs)

    def _bind_own_optimizers(self, configs: list) -> None:
        """Each member's own torch optimizer (as its run makes it) over views of its row; their state moves along."""
        states = [o.state_dict() for o in self._own_optimizers]
        self._own_optimizers = []
        for row, config in enumerate(configs):
            params = []
            for value, grad in zip(self._views(self._flat[row : row + 1]), self._views(self._grads[row : row + 1]),
                                   strict=True):
                param = nn.Parameter(value[0].detach())  # shares the buffer's memory
                param.grad = grad[0]
                params.append(param)
            optimizer = make_optimizer(params, config.train)
            if states:
                optimizer.load_state_dict(states[row])
            for group in optimizer.param_groups:
                group["lr"] = self._lr[self._active[row]]
            self._own_optimizers.append(optimizer)

    def _keep_rows(self, keep: list[int]) -> None:
        """Drop the rows of members that stopped; the others' weights, state and settings move up."""
        index = torch.tensor(keep, device=self.device, dtype=torch.int64)
        self._active = [self._active[i] for i in keep]
        self._flat = self._flat.detach().index_select(0, index)
        self._last_finite = self._last_finite.index_select(0, index)
        if self._best is not None:
            self._best = self._best.index_select(0, index)
        self._shuffle_gens = [self._shuffle_gens[i] for i in keep]
        self._opt_state = {k: v.index_select(0, index) for k, v in self._opt_state.items()}
        self._own_optimizers = [self._own_optimizers[i] for i in keep] if self._own_optimizers else []
        if self.layer_stats is not None:
            self.layer_stats.keep_rows(index)
        self._rebind()

    # ------------------------------------------------------------------ the traced passes
    def _traced(self, kind: str, fn: Callable, *args: torch.Tensor) -> Callable:
        """``fn`` traced for these inputs (every tensor it reads is one), shared by the sweeps of the same model, loss
        and penalty."""
        return traced((kind, self._structure, self._penalised), fn, *args)

    def _members_call(self, module: nn.Module, params: tuple, x: torch.Tensor, x_dim: int | None) -> torch.Tensor:
        """``module`` of every member (vmap over functional_call), with that member's parameters; ``x`` is
        batched over the members (``x_dim`` 0) or the same rows for all (None)."""
        own = dict(module.named_parameters())
        ids = [id(p) for p in self._model.parameters()]
        index = [ids.index(id(p)) for p in own.values()]

        def one(ps: tuple, xi: torch.Tensor) -> torch.Tensor:
            return functional_call(module, dict(zip(own, (ps[i] for i in index), strict=True)), (xi,))

        return vmap(one, in_dims=(0, x_dim))(params, x)

    def _losses(self, out: torch.Tensor, y: torch.Tensor, y_dim: int | None = 0) -> torch.Tensor:
        """Each member's loss by the run's criterion. One that averages a value a row (or entry), unweighted, runs
        once over every member's rows (reduction 'none') and is averaged member by member; any other under vmap
        (whose rules take a class-indexed loss apart into many small operations)."""
        criterion = self.criterion
        if getattr(criterion, "reduction", None) != "mean" or getattr(criterion, "weight", None) is not None:
            return vmap(criterion, in_dims=(0, y_dim))(out, y)
        each = copy.copy(criterion)
        each.reduction = "none"
        y = y if y_dim == 0 else y.expand(len(out), *y.shape)
        return each(out.flatten(0, 1), y.flatten(0, 1)).view(len(out), -1).mean(1)

    def _objective(self, params: tuple, out: torch.Tensor, y: torch.Tensor,
                   rates: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each member's data loss and the sum of the members' objectives (loss + its penalty at its own rate)."""
        losses = self._losses(out, y)
        if not self._penalised:
            return losses, losses.sum()
        weights = [params[i] for i in self._weight_index]
        penalty = vmap(lambda r, ws: weight_penalty(ws, self.regularization, r))(rates, weights)
        return losses, (losses + penalty).sum()

    def _gradient_step(self, *a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A step without dropout, traced whole (``a``: parameters, x, y, rates): each member's loss and its
        gradients ([members, parameters]) from autograd, recorded at the trace."""
        with torch.enable_grad():
            params = tuple(p.detach().requires_grad_() for p in a[:-3])
            out = self._members_call(self._model, params, a[-3], 0)  # in eval mode: its dropout layers pass through
            losses, objective = self._objective(params, out, a[-2], a[-1])
            grads = torch.autograd.grad(objective, params)
        return losses.detach(), torch.cat([g.reshape(len(g), -1) for g in grads], 1)

    def _train_pass(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A training step's forward through each member's own dropout: each member's loss on its rows and the
        objective to differentiate (the pieces between dropout layers traced, dropout as it is)."""
        h, last, params = x, len(self._pieces) - 1, self._params
        for k, piece in enumerate(self._pieces[:-1]):
            h = self._traced(f"piece {k}", lambda *a, m=piece: self._members_call(m, a[:-1], a[-1], 0),
                             *params, h)(*params, h)
            h = self._dropout(h)

        def loss(*a: torch.Tensor, m: nn.Module = self._pieces[last]) -> tuple[torch.Tensor, torch.Tensor]:
            return self._objective(a[:-3], self._members_call(m, a[:-3], a[-3], 0), a[-2], a[-1])

        return self._traced(f"loss {last}", loss, *params, h, y, self._rates)(*params, h, y, self._rates)

    def _dropout(self, h: torch.Tensor) -> torch.Tensor:
        """The real dropout on each member's activations, under that member's own random state."""
        outer = _rng_state(self.device)
        rows = []
        for row, member in zip(h.unbind(0), self._active, strict=True):
            if self._rng[member] is None:
                rows.append(row)
                continue
            _set_rng_state(self.device, self._rng[member])
            rows.append(F.dropout(row, self.configs[member].model.dropout, training=True))
            self._rng[member] = _rng_state(self.device)
        _set_rng_state(self.device, outer)
        return torch.stack(rows)

    def _eval_pass(self, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Every member on the same rows, as in ``model.eval()``: each member's loss (with ``y``) and outputs."""
        params = self._values
        if y is None:
            return None, self._traced("outputs", lambda *a: self._members_call(self._model, a[:-1], a[-1], None),
                                      *params, x)(*params, x)

        def both(*a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self._members_call(self._model, a[:-2], a[-2], None)
            return self._losses(out, a[-1], None), out

        return tuple(self._traced("eval", both, *params, x, y)(*params, x, y))  # type: ignore[return-value]

    # ------------------------------------------------------------------ pieces of a step
    @property
    def active(self) -> list[int]:
        """The members still training, in the order of the buffers' rows."""
        return list(self._active)

    def _stop_member(self, row: int, value: float, epoch: int) -> None:
        """Member at ``row`` diverged: keep its current weights if finite, else its last finite ones."""
        member = self._active[row]
        weights = self._flat[row]
        if not bool(torch.isfinite(weights).all()):
            weights = self._last_finite[row]
        self._stopped_weights[member] = weights.to("cpu").clone()
        self.status[member] = "diverged"
        self.reason[member] = DIVERGED_SENTENCE.format(value="NaN" if math.isnan(value) else "infinite", epoch=epoch)

    def _step(self, idx: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """One optimizer step of every member on its own batch (``idx``: [rows, batch]); returns the losses and
        the rows whose loss was not finite (stopped here with the weights they had before this step)."""
        x, y = self.X_train[idx], self.y_train[idx]
        if not self._dropping:
            args = (*self._values, x, y, self._rates)
            graph = self._steps.get(x.shape)
            if graph is None:
                graph = self._steps[x.shape] = self._traced("step", self._gradient_step, *args)
            losses, grads = graph(*args)
        else:  # through each member's own dropout: the pieces' traced forwards, then autograd
            losses, objective = self._train_pass(x, y)
            losses = losses.detach()
            grads = torch.cat([g.reshape(len(g), -1) for g in torch.autograd.grad(objective, self._params)], 1)
        if self._recording:
            self.layer_stats.after_step(grads)  # type: ignore[union-attr]
        bad: list[int] = []
        if not math.isfinite(float(losses.sum())):  # as the run checks loss.item() before its backward
            bad = [row for row, value in enumerate(losses.tolist()) if not math.isfinite(value)]
            for row in bad:
                self._stop_member(row, float(losses[row]), self.epoch + 1)
        with torch.no_grad():
            if self._optimizer_path == BATCHED:
                self._opt_steps += 1
                self.row.batched(self._flat, grads, self._opt_state, self._hyper, self._opt_steps)
            else:
                self._grads.copy_(grads)  # each member's optimizer reads its row of it
                for optimizer in self._own_optimizers:
                    optimizer.step()
        return losses, bad

    def state_dict_cpu(self, member: int) -> dict[str, torch.Tensor]:
        """Member ``member``'s weights in ``build_model(spec)``'s keys and shapes, on the CPU."""
        if member in self._stopped_weights:
            row = self._stopped_weights[member]
        elif member in self._active:
            row = self._flat[self._active.index(member)].detach().to("cpu")
        else:
            raise PlaygroundError(f"This sweep has members 0 to {len(self.configs) - 1}.")
        views = self._views(row.unsqueeze(0))
        return {name: view[0].clone() for name, view in zip(self._names[member], views, strict=True)}

    # ------------------------------------------------------------------ training
    def train_epoch(self, control: Callable[[], bool] | None = None) -> list[float]:
        """One pass over the training split for every member; returns each active member's data loss."""
        n, batch = self.n_train, self.batch_size
        perms = torch.stack([epoch_permutation(n, g, self.shuffle, self._seed_scratch) for g in self._shuffle_gens])
        if self.device.type != "cpu":
            perms = perms.to(self.device)
        starts = range(0, n, batch)
        step_losses: list[torch.Tensor] = []
        next_check = time.monotonic() + CHECK_EVERY_S if control is not None else math.inf
        self._recording = self.layer_stats is not None and self.layer_stats.start_epoch(self.epoch + 1, self._values)
        for i in starts:
            losses, bad = self._step(perms[:, i : i + batch])
            if bad:  # those members stop here; the others' rows move up
                keep = [row for row in range(len(self._active)) if row not in bad]
                step_losses, perms, losses = [s[keep] for s in step_losses], perms[keep], losses[keep]
                self._keep_rows(keep)
            step_losses.append(losses)
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
        done = len(step_losses)
        sizes = torch.tensor([min(i + batch, n) - i for i in starts[:done]], dtype=torch.float64, device=self.device)
        totals = (torch.stack(step_losses).double() * sizes.unsqueeze(1)).cumsum(0)[-1] if done else sizes.new_zeros(0)
        return (totals / n).tolist()

    @torch.no_grad()
    def outputs(self, X: torch.Tensor) -> torch.Tensor:
        """Every member still training, on the same rows ``X`` [n, features]: [members, n, outputs], as in
        ``model.eval()`` (no dropout), in EVAL_BATCH rows at a time. What the small multiples draw."""
        rows = len(self._active)
        X = X.to(self.device)
        if rows == 0 or len(X) == 0:
            return torch.empty(rows, len(X), self.sweep.base.model.out_features, device=self.device)
        return torch.cat([self._eval_pass(X[i : i + EVAL_BATCH], None)[1] for i in range(0, len(X), EVAL_BATCH)], 1)

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
            losses, out = self._eval_pass(xb, yb)
            total += losses.double() * len(yb)  # type: ignore[union-attr]
            if self.task == "classification":
                correct += (out.argmax(-1) == yb).sum(1)
        losses_ = (total / n).tolist()
        if self.task != "classification":
            return losses_, [None] * rows
        return losses_, [c / n for c in correct.tolist()]

    def run_epoch(self, control: Callable[[], bool] | None = None) -> list[MemberEpoch]:
        """Train one epoch and validate, every member; appends to each one's history. Raises Stopped.

        As in a run: a recorded learning-rate change applies at its epoch; keeping the best validation epoch,
        a member whose validation loss has not improved for ``patience`` epochs stops with its best weights.
        After the first epoch, one member is checked against its single run (``exactness``)."""
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
                val is None and not bool(torch.isfinite(self._flat[row]).all()))
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
        if self.layer_stats is not None:
            self.last_layers = None
            if self.layer_stats.armed:
                self.last_layers = self.layer_stats.summary(self._values, self._active, len(self.configs))
                self.last_layers[[m for m, r in results.items() if r.result is None]] = np.nan  # diverged here
        if self.epoch == 1 and self._check:
            self._check_one_member()
        self._last_finite.copy_(self._flat.detach())
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
            self._best[row].copy_(self._flat[row].detach())  # type: ignore[index]
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
        with torch.no_grad():
            for row, member in enumerate(self._active):
                if self.best_epoch[member] not in (0, self.epoch):
                    self._flat[row].copy_(self._best[row])  # type: ignore[index]
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

    # ------------------------------------------------------------------ how exact
    def _check_one_member(self) -> None:
        """Train the first member still training again, alone, as its single run (``Trainer``) for one epoch,
        and compare its weights and losses with the sweep's (the process's random state is left as it was)."""
        report: dict[str, Any] = {"checked": False}
        alive = [m for m in self._active if self.status[m] == "training"]
        if alive:
            member = alive[0]
            started = time.process_time()
            outer = (torch.get_rng_state(), _rng_state(self.device))
            try:
                run = Trainer(self.configs[member], self._tensors, device=str(self.device))
                try:
                    theirs = run.run_epoch().as_row()
                except Diverged:
                    theirs = {}  # the run alone diverged where the sweep's member did not: nothing alike
            finally:
                torch.set_rng_state(outer[0])
                _set_rng_state(self.device, outer[1])
            ours = self.history[member][0]
            ours_state, theirs_state = self.state_dict_cpu(member), run.state_dict_cpu()
            report = {
                "checked": True, "member": member, "label": self.sweep.label(member), "steps": run.steps,
                "bit_for_bit": all(torch.equal(ours_state[k], v) for k, v in theirs_state.items()),
                "weights_difference": relative_difference(ours_state, theirs_state),
                "loss_difference": max(((abs(ours[k] - v) / abs(v) if v else abs(ours[k])) for k, v in theirs.items()
                                        if k != "epoch" and math.isfinite(v)), default=math.inf),
                "seconds": time.process_time() - started}
        self._exactness = report

    def exactness(self) -> dict[str, Any]:
        """What the check after the first epoch found (see ``exactness_sentence``), the device and the path the
        optimizer's updates took (its row's batched form, or torch.optim member by member)."""
        return {**self._exactness, "device": str(self.device), "optimizer": self._optimizer_path}
