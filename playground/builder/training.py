"""The training engine: one epoch, validation and the run loop, with no UI and no processes in it.

Exact semantics (the code export reproduces the losses to 1e-6 by doing exactly this):

1. ``torch.backends.cudnn.deterministic`` and ``.benchmark`` are set from the TrainConfig.
2. ``torch.manual_seed(train.seed)``, then ``model = build_model(spec)`` (PyTorch's default init), or
   the given initial weights loaded into it; ``model.to(device)``.
3. ``g = torch.Generator().manual_seed(train.seed)`` drives the shuffling. The data is moved to the
   device once.
4. Each epoch draws from ``g`` exactly what ``DataLoader(TensorDataset(X, y), batch_size, shuffle=True,
   generator=g)`` draws: one int64 base seed (``torch.empty((), dtype=torch.int64).random_(generator=g)``),
   ``perm = torch.randperm(n_train, generator=g)``, and, once the epoch's batches are done, the
   sampler's empty remainder ``torch.randperm(n_train, generator=g)``. So a DataLoader gives the very
   same batches (a unit test proves it). Without shuffle, ``perm = torch.arange(n_train)`` (the
   base-seed draw still happens, as in the DataLoader).
5. ``model.train()``; for each slice ``idx = perm[i:i + batch]``: ``optimizer.zero_grad()``,
   ``out = model(X[idx])``, ``loss = criterion(out, y[idx])``; the training objective adds
   ``reg_rate * sum(|W|)`` (L1) or ``reg_rate * sum(W**2)`` (L2) over the weight matrices only (not
   biases); ``objective.backward()``, ``optimizer.step()``. The epoch's train loss is
   ``sum(loss.item() * len(idx)) / n_train`` of the data loss, without the penalty.
6. Validation as the course writes it: ``model.eval()``, under ``torch.no_grad()``, in batches of
   ``EVAL_BATCH`` rows, ``total += loss.item() * x.size(0)``, then ``total / len(dataset)``; accuracy is
   the share of ``out.argmax(1) == y``. Train accuracy is measured the same way on the training split.
7. ``CrossEntropyLoss`` with int64 class targets for classification, ``MSELoss`` with float targets of
   shape [n, 1] for regression. ``torch.optim.SGD(params, lr, momentum, weight_decay, fused=True)`` or
   ``torch.optim.Adam(params, lr, betas=(beta1, beta2), weight_decay, fused=True)`` (not fused on devices
   without the fused kernels).

A batch size larger than the training split is clamped to it (and said). A non-finite loss stops the
run (``Diverged``) and the model keeps the last finite weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from playground.builder import registry
from playground.builder.config import RunConfig, TrainConfig
from playground.builder.layer_stats import LayerStats
from playground.builder.model import build_model
from playground.errors import PlaygroundError

EVAL_BATCH = 4096
CHECK_EVERY_S = 0.02  # how often a running epoch asks its controller whether to stop (mid-epoch)
SNAPSHOT_EVERY_S = 0.05  # how often the last finite weights are copied aside (at an epoch's end)

DIVERGED_SENTENCE = (
    "The loss became {value} at epoch {epoch}, so training stopped: lower the learning rate (or the "
    "regularisation rate) and train again. The model keeps its last finite weights."
)


class Stopped(Exception):
    """Raised inside an epoch when the controller asks to stop; the model keeps what it learnt so far."""


class EarlyStopped(Exception):
    """Keeping the best validation epoch, the validation loss stopped improving for ``patience`` epochs: training
    ends and the model holds the best epoch's weights."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


class Diverged(Exception):
    """A non-finite loss; the model has been put back to its last finite weights."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def apply_cudnn_flags(train: TrainConfig) -> None:
    """The course's reproducibility switches: deterministic kernels, no autotuning (or the reverse)."""
    torch.backends.cudnn.deterministic = bool(train.cudnn_deterministic)
    torch.backends.cudnn.benchmark = bool(train.cudnn_benchmark)


def make_criterion(task: str, loss: str = registry.AUTO_LOSS) -> nn.Module:
    """The loss module a run trains with (its registry row: CrossEntropyLoss, MSELoss, L1Loss, HuberLoss)."""
    return registry.resolve_loss(loss, task).module()


FUSED_DEVICES = ("cpu", "cuda")  # where torch's fused optimizers run (float parameters)


def optimizer_arguments(train: TrainConfig) -> dict[str, Any]:
    """The keyword arguments of the run's ``torch.optim`` class, as its registry row lists them."""
    row = registry.OPTIMIZERS[train.optimizer]
    return {keyword: (tuple(getattr(train, s) for s in source) if isinstance(source, tuple) else getattr(train, source))
            for keyword, source in row.arguments}


def make_optimizer(params, train: TrainConfig) -> torch.optim.Optimizer:
    """The chosen ``torch.optim`` optimizer with its own settings, ``fused=True`` where torch has the kernel:
    one update for all parameters at once instead of a Python loop over them (the same algorithm)."""
    params = list(params)
    row = registry.OPTIMIZERS[train.optimizer]
    extra: dict[str, Any] = {}
    if row.fused:
        extra["fused"] = bool(params) and all(p.device.type in FUSED_DEVICES and p.is_floating_point() for p in params)
    return getattr(torch.optim, row.torch_class)(params, **optimizer_arguments(train), **extra)


def weight_matrices(model: nn.Module) -> list[torch.Tensor]:
    """The Linear layers' weights (biases are not regularised)."""
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear)]


def weight_penalty(weights: list[torch.Tensor], regularization: str, rate: float | torch.Tensor) -> torch.Tensor | None:
    """The regularisation term of the training objective: ``rate * sum(|W|)`` (L1) or ``rate * sum(W**2)`` (L2)
    over the weight matrices; None without one. A sweep computes each member's with this function too."""
    if regularization == "l1":
        return rate * sum(w.abs().sum() for w in weights)
    if regularization == "l2":
        return rate * sum(w.pow(2).sum() for w in weights)
    return None


def epoch_permutation(n: int, g: torch.Generator, shuffle: bool, scratch: torch.Tensor | None = None) -> torch.Tensor:
    """The order of one epoch, drawing from ``g`` what ``DataLoader(..., generator=g)`` draws first."""
    seed = scratch if scratch is not None else torch.empty((), dtype=torch.int64)
    seed.random_(generator=g)  # the DataLoader iterator's base seed
    return torch.randperm(n, generator=g) if shuffle else torch.arange(n)


def finish_epoch_draws(n: int, g: torch.Generator, shuffle: bool, out: torch.Tensor | None = None) -> None:
    """RandomSampler's remainder draw at the end of every epoch (``randperm(n)[:0]``); ``out`` reuses memory."""
    if shuffle:
        if out is not None:
            torch.randperm(n, generator=g, out=out)
        else:
            torch.randperm(n, generator=g)


def resolve_device(name: str) -> torch.device:
    """The device a run asked for, refused with a sentence where it does not exist."""
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise PlaygroundError("This server has no CUDA GPU; choose the CPU.")
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise PlaygroundError(f"There is no GPU {name}; this server has {torch.cuda.device_count()}.")
    return torch.device(name)


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    val_loss: float | None
    train_acc: float | None
    val_acc: float | None

    def as_row(self) -> dict[str, float]:
        row: dict[str, float] = {"epoch": self.epoch, "train_loss": self.train_loss}
        row["val_loss"] = self.val_loss if self.val_loss is not None else math.nan
        if self.train_acc is not None:
            row["train_acc"] = self.train_acc
            row["val_acc"] = self.val_acc if self.val_acc is not None else math.nan
        return row


class Trainer:
    """One run's model, optimizer, data on the device and shuffling generator; trains epoch by epoch.

    ``control`` (optional, given to ``train_epoch``) is called every ``CHECK_EVERY_S`` seconds inside an
    epoch; it may block (pause) and returns True to stop now (``Stopped`` is raised, weights kept).
    """

    def __init__(
        self,
        config: RunConfig,
        tensors: dict[str, torch.Tensor],
        initial_state: dict[str, torch.Tensor] | None = None,
        device: str | None = None,
        layer_stats_every: int | None = None,
    ) -> None:
        train = config.train
        self.config = config
        self.task = config.model.task
        self.device = resolve_device(device or train.device)
        apply_cudnn_flags(train)
        torch.manual_seed(train.seed)
        model = build_model(config.model)
        if initial_state is not None:
            try:
                model.load_state_dict(initial_state)
            except RuntimeError as exc:
                raise PlaygroundError(
                    "These weights do not fit the model's layers; build the model they were saved from.", str(exc)[:600]
                ) from exc
        self.model = model.to(self.device)
        self.g = torch.Generator().manual_seed(train.seed)
        to = self.device
        self.X_train, self.y_train = tensors["X_train"].to(to), tensors["y_train"].to(to)
        self.X_val, self.y_val = tensors["X_val"].to(to), tensors["y_val"].to(to)
        if self.X_train.shape[1] != config.model.in_features:
            raise PlaygroundError(
                f"The model expects {config.model.in_features} inputs but the data has {self.X_train.shape[1]} features."
            )
        self.n_train = len(self.y_train)
        self.batch_size = min(train.batch_size, self.n_train)
        self.batch_clamped = train.batch_size > self.n_train
        self.shuffle = train.shuffle
        self.criterion = make_criterion(self.task, train.loss)
        self.optimizer = make_optimizer(self.model.parameters(), train)
        self.regularization = train.regularization if train.reg_rate > 0 else "none"
        self.reg_rate = train.reg_rate
        self._weights = weight_matrices(self.model)
        self.epoch = 0
        self.steps = 0
        self.history: list[dict[str, float]] = []
        self._params = list(self.model.parameters())
        self._modules = list(self.model.modules())
        self._seed_scratch = torch.empty((), dtype=torch.int64)
        self._perm_scratch = torch.empty(self.n_train, dtype=torch.int64)
        self._last_finite = [p.detach().clone() for p in self._params]
        self._next_snapshot = 0.0
        self.keep_best = bool(train.keep_best) and len(self.y_val) > 0
        self.patience = int(train.patience)
        self.best_val = math.inf
        self.best_epoch = 0
        self._best: list[torch.Tensor] | None = None
        self.lr = float(train.lr)
        self.lr_changes: list[tuple[int, float]] = list(train.lr_changes)  # (epochs done when it applied, new rate)
        # per-layer statistics every k-th epoch (layer_stats.py), or None: off; ``last_layers`` is the latest epoch's
        self.layer_stats = None if not layer_stats_every else LayerStats(self.model, self.X_train, layer_stats_every)
        self.last_layers: list[dict[str, Any]] | None = None

    # ------------------------------------------------------------------ pieces
    def _snapshot(self) -> None:
        """Keep the current weights as the last finite ones (one fused copy, cheap every epoch)."""
        with torch.no_grad():
            torch._foreach_copy_(self._last_finite, [p.detach() for p in self._params])

    def set_lr(self, lr: float) -> None:
        """Change the learning rate from the next epoch on, as PyTorch allows (``param_groups``); recorded so the
        run can be reproduced (``train.py`` applies the same changes at the same epochs)."""
        lr = float(lr)
        if not (math.isfinite(lr) and registry.BY_NAME["lr"].check(lr) is None):
            raise PlaygroundError(registry.BY_NAME["lr"].check(lr) or "The learning rate must be a number.")
        if lr == self.lr:
            return
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.lr = lr
        if self.lr_changes and self.lr_changes[-1][0] == self.epoch:
            self.lr_changes[-1] = (self.epoch, lr)
        else:
            self.lr_changes.append((self.epoch, lr))

    def _keep_if_best(self, val_loss: float) -> None:
        """Early stopping's bookkeeping after an epoch: remember the best weights; stop once patience runs out."""
        if val_loss < self.best_val:
            self.best_val, self.best_epoch = val_loss, self.epoch
            with torch.no_grad():
                if self._best is None:
                    self._best = [p.detach().clone() for p in self._params]
                else:
                    torch._foreach_copy_(self._best, [p.detach() for p in self._params])
        elif self.epoch - self.best_epoch >= self.patience:
            self.restore_best()
            raise EarlyStopped(
                f"Stopped early at epoch {self.epoch}: the validation loss had not improved for {self.patience} epochs. "
                f"The model keeps the weights of its best epoch, {self.best_epoch} (validation loss {self.best_val:.4g})."
            )

    def restore_best(self) -> str | None:
        """Put back the best validation epoch's weights (when keeping it); a sentence saying so, or None."""
        if not self.keep_best or self._best is None or self.best_epoch == self.epoch:
            return None
        with torch.no_grad():
            for p, kept in zip(self._params, self._best, strict=True):
                p.copy_(kept)
        return (f"The model keeps the weights of its best validation epoch, {self.best_epoch} of {self.epoch} "
                f"(validation loss {self.best_val:.4g}).")

    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self._params)

    def _set_training(self, training: bool) -> None:
        """``model.train()`` / ``model.eval()`` without the recursive walk: the same flags on every module,
        set from a list made once (the walk costs tens of microseconds, a full-batch step about a millisecond)."""
        for module in self._modules:
            if module.training is not training:
                # nn.Module.__setattr__ checks parameters, buffers and submodules first (a few microseconds a
                # module, twice an epoch); ``training`` is a plain attribute, so it is set directly.
                object.__setattr__(module, "training", training)

    def _penalty(self) -> torch.Tensor | None:
        return weight_penalty(self._weights, self.regularization, self.reg_rate)

    def state_dict_cpu(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu").clone() for k, v in self.model.state_dict().items()}

    def _diverged(self, value: float, epoch: int) -> Diverged:
        """Put back the last finite weights (the current ones if they still are) and say what happened."""
        if not self._weights_finite():
            with torch.no_grad():
                for p, kept in zip(self._params, self._last_finite, strict=True):
                    p.copy_(kept)
        word = "NaN" if math.isnan(value) else "infinite"
        return Diverged(DIVERGED_SENTENCE.format(value=word, epoch=epoch))

    # ------------------------------------------------------------------ training
    def train_epoch(self, control: Callable[[], bool] | None = None) -> float:
        """One pass over the training split (semantics in the module docstring); returns its data loss."""
        model, optimizer, criterion = self.model, self.optimizer, self.criterion
        X, y, n, batch = self.X_train, self.y_train, self.n_train, self.batch_size
        perm = epoch_permutation(n, self.g, self.shuffle, self._seed_scratch)
        if self.device.type != "cpu":
            perm = perm.to(self.device)
        penalty = self._penalty if self.regularization != "none" else None
        stats = self.layer_stats if self.layer_stats is not None and self.layer_stats.start_epoch(self.epoch + 1) else None
        self._set_training(True)  # model.train()
        total = 0.0
        next_check = time.monotonic() + CHECK_EVERY_S if control is not None else math.inf
        for i in range(0, n, batch):
            idx = perm[i : i + batch]
            optimizer.zero_grad()
            out = model(X[idx])
            loss = criterion(out, y[idx])
            value = loss.item()
            if not math.isfinite(value):
                raise self._diverged(value, self.epoch + 1)
            objective = loss if penalty is None else loss + penalty()
            objective.backward()
            if stats is not None:
                stats.after_backward()
            optimizer.step()
            total += value * len(idx)
            self.steps += 1
            if time.monotonic() >= next_check:
                if control():  # type: ignore[misc]
                    raise Stopped()
                next_check = time.monotonic() + CHECK_EVERY_S
        finish_epoch_draws(n, self.g, self.shuffle, self._perm_scratch)
        return total / n

    @torch.no_grad()
    def evaluate(self, X: torch.Tensor, y: torch.Tensor) -> tuple[float | None, float | None]:
        """Loss (weighted by batch size over the whole set) and accuracy (classification), as the course does."""
        n = len(y)
        if n == 0:
            return None, None
        self._set_training(False)  # model.eval()
        total, correct = 0.0, 0
        for i in range(0, n, EVAL_BATCH):
            xb, yb = (X, y) if n <= EVAL_BATCH else (X[i : i + EVAL_BATCH], y[i : i + EVAL_BATCH])
            out = self.model(xb)
            total += self.criterion(out, yb).item() * xb.size(0)
            if self.task == "classification":
                correct += int((out.argmax(1) == yb).sum().item())
        return total / n, (correct / n if self.task == "classification" else None)

    def run_epoch(self, control: Callable[[], bool] | None = None) -> EpochResult:
        """Train one epoch, then validate; appends to ``history``. Raises Stopped or Diverged."""
        for epoch, lr in self.lr_changes:  # a rate changed at this epoch (live, or recorded with the config)
            if epoch == self.epoch and self.optimizer.param_groups[0]["lr"] != lr:
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                self.lr = lr
        train_loss = self.train_epoch(control)
        self.epoch += 1
        val_loss, val_acc = self.evaluate(self.X_val, self.y_val)
        train_acc = None
        if self.task == "classification":
            _, train_acc = self.evaluate(self.X_train, self.y_train)
        if val_loss is not None and not math.isfinite(val_loss):
            raise self._diverged(val_loss, self.epoch)
        if val_loss is None and not self._weights_finite():
            raise self._diverged(math.nan, self.epoch)
        now = time.monotonic()
        if now >= self._next_snapshot:  # finite outputs on the validation split: these weights are finite
            self._snapshot()
            self._next_snapshot = now + SNAPSHOT_EVERY_S
        result = EpochResult(self.epoch, train_loss, val_loss, train_acc, val_acc)
        self.history.append(result.as_row())
        if self.layer_stats is not None:
            self.last_layers = self.layer_stats.summary() if self.layer_stats.armed else None
        if self.keep_best and val_loss is not None:
            self._keep_if_best(val_loss)
        return result

    def fit(self, epochs: int | None = None, control: Callable[[], bool] | None = None) -> str:
        """Train up to ``epochs`` (default: the config's); returns finished, stopped or diverged. Keeping the best
        validation epoch, the model ends with that epoch's weights."""
        for _ in range(epochs if epochs is not None else self.config.train.epochs):
            try:
                self.run_epoch(control)
            except EarlyStopped:
                return "finished"
            except Stopped:
                return "stopped"
            except Diverged:
                return "diverged"
        self.restore_best()
        return "finished"
