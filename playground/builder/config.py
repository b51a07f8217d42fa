"""The Model Builder's setup as data: frozen dataclasses that validate themselves and round-trip to a dict.

One run is a ``RunConfig``: its data (``DataConfig``), its model (``ModelSpec``) and its training
(``TrainConfig``). Each field that is a setting takes its default, range and options from its row in
``registry.SETTINGS`` and is checked by it; the rules that join several settings are written here. A run
is keyed by its configuration (``RunConfig.key()``), so the same setup and seed opens the kept run; a
setting added later is left out of the key while it has its default, so runs kept before keep their keys.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from playground import limits
from playground.builder import registry
from playground.builder.registry import default
from playground.errors import PlaygroundError

# The choices, by name (the rows themselves live in the registry).
CSV_DATASET = registry.CSV
DATASETS = tuple(registry.DATASETS)
GENERATED_DATASETS = registry.GENERATED_DATASETS
CLASSIFICATION_DATASETS = tuple(n for n in GENERATED_DATASETS if registry.DATASETS[n].task == "classification")
REGRESSION_DATASETS = tuple(n for n in GENERATED_DATASETS if registry.DATASETS[n].task == "regression")
FEATURES = tuple(registry.FEATURES)
ACTIVATIONS = tuple(registry.ACTIVATIONS)
OPTIMIZERS = tuple(registry.OPTIMIZERS)
REGULARIZATIONS = tuple(registry.REGULARIZATIONS)
TASKS = registry.TASKS


def _check(condition: bool, sentence: str) -> None:
    if not condition:
        raise PlaygroundError(sentence)


def _check_rows(obj: Any, section: str) -> None:
    """Every field of ``obj`` that is a registry setting, checked by its row (type, range, options)."""
    for setting in registry.section_settings(section):
        problem = setting.check(getattr(obj, setting.attr))
        if problem:
            raise PlaygroundError(problem)


def task_of(dataset: str) -> str:
    """The task a generated dataset poses (a CSV's task is chosen when it is read)."""
    return registry.DATASETS[dataset].task if dataset in registry.DATASETS else "classification"


@dataclass(frozen=True)
class DataConfig:
    """Which data, how much, how noisy, how it is split, and which input features the model sees."""

    dataset: str = default("data", "dataset")
    n_samples: int = default("data", "n_samples")
    noise: float = default("data", "noise")
    train_fraction: float = default("data", "train_fraction")
    val_fraction: float = default("data", "val_fraction")
    features: tuple[str, ...] = default("data", "features")
    seed: int = default("data", "seed")
    standardize: bool = default("data", "standardize")
    # CSV only: a name to show and reproduce with (never used as a path), the target column, the task.
    csv_name: str = default("data", "csv_name")
    csv_target: str = default("data", "csv_target")
    csv_task: str = default("data", "csv_task")
    standardize_target: bool = default("data", "standardize_target")

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        _check_rows(self, "data")
        _check(
            self.train_fraction + self.val_fraction <= 0.95 + 1e-9,
            "Training and validation together may take at most 95%: leave some data for the test.",
        )
        if self.dataset != CSV_DATASET:
            _check(len(self.features) >= 1, "Choose at least one input feature.")
            _check(len(set(self.features)) == len(self.features), "Each input feature may be chosen once.")

    @property
    def task(self) -> str:
        if self.dataset == CSV_DATASET:
            return self.csv_task or "classification"
        return task_of(self.dataset)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = list(self.features)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataConfig:
        values = _known(cls, data)
        if "features" in values and isinstance(values["features"], list):
            values["features"] = tuple(values["features"])
        return cls(**values)


@dataclass(frozen=True)
class ModelSpec:
    """An MLP: input width, hidden layers (width and activation each), output width, dropout, task."""

    in_features: int = 2
    hidden: tuple[int, ...] = default("model", "hidden")
    activations: tuple[str, ...] = default("model", "activations")
    out_features: int = 2
    task: str = "classification"
    dropout: float = default("model", "dropout")

    def __post_init__(self) -> None:
        _check(isinstance(self.hidden, (tuple, list)) and isinstance(self.activations, (tuple, list)),
               "The hidden layers and their activations must be lists.")
        object.__setattr__(self, "hidden", tuple(self.hidden))
        object.__setattr__(self, "activations", tuple(self.activations))
        _check_rows(self, "model")
        _check(
            isinstance(self.in_features, int) and not isinstance(self.in_features, bool)
            and 1 <= self.in_features <= limits.MAX_CSV_COLUMNS,
            f"The model needs from 1 to {limits.MAX_CSV_COLUMNS} inputs.",
        )
        _check(len(self.activations) == len(self.hidden), "Each hidden layer needs exactly one activation.")
        _check(self.task in TASKS, f"The task must be one of {', '.join(TASKS)}.")
        if self.task == "regression":
            _check(self.out_features == 1, "A regression model has exactly one output.")
        else:
            _check(
                isinstance(self.out_features, int) and 2 <= self.out_features <= limits.MAX_CLASSES,
                f"A classifier needs from 2 to {limits.MAX_CLASSES} classes.",
            )

    @property
    def widths(self) -> tuple[int, ...]:
        """Every layer's width, input to output, e.g. (2, 8, 8, 2)."""
        return (self.in_features, *self.hidden, self.out_features)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        data["activations"] = list(self.activations)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class TrainConfig:
    """How to train: optimizer and its settings, loss, batches, epochs, regularisation, seed, device."""

    optimizer: str = default("train", "optimizer")
    lr: float = default("train", "lr")
    momentum: float = default("train", "momentum")
    weight_decay: float = default("train", "weight_decay")
    beta1: float = default("train", "beta1")
    beta2: float = default("train", "beta2")
    batch_size: int = default("train", "batch_size")
    shuffle: bool = default("train", "shuffle")
    epochs: int = default("train", "epochs")
    regularization: str = default("train", "regularization")
    reg_rate: float = default("train", "reg_rate")
    seed: int = default("train", "seed")
    device: str = default("train", "device")
    cudnn_deterministic: bool = default("train", "cudnn_deterministic")
    cudnn_benchmark: bool = default("train", "cudnn_benchmark")
    nesterov: bool = default("train", "nesterov")
    alpha: float = default("train", "alpha")
    loss: str = default("train", "loss")
    keep_best: bool = default("train", "keep_best")
    patience: int = default("train", "patience")
    lr_changes: tuple[tuple[int, float], ...] = default("train", "lr_changes")

    def __post_init__(self) -> None:
        if isinstance(self.lr_changes, (list, tuple)):
            pairs = tuple(tuple(p) if isinstance(p, (list, tuple)) else p for p in self.lr_changes)
            object.__setattr__(self, "lr_changes", pairs)
        _check_rows(self, "train")
        if self.optimizer == "sgd" and self.nesterov:
            _check(self.momentum > 0, "Nesterov momentum needs a momentum above 0; raise the momentum or turn Nesterov off.")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["lr_changes"] = [list(pair) for pair in self.lr_changes]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's result. Same RunConfig, same result (on the same device)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        loss = self.train.loss
        if loss != registry.AUTO_LOSS:
            row = registry.LOSSES[loss]
            _check(self.model.task in row.tasks,
                   f"{row.label} is a loss for {' and '.join(row.tasks)}; this {self.model.task} model trains with "
                   f"{registry.resolve_loss(registry.AUTO_LOSS, self.model.task).label}.")

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data.to_dict(), "model": self.model.to_dict(), "train": self.train.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """A RunConfig from a dict (a kept run, a spec file); anything malformed is a sentence."""
        _check(isinstance(data, dict), "A run configuration must be a mapping of data, model and train.")
        try:
            return cls(
                data=DataConfig.from_dict(data.get("data", {})),
                model=ModelSpec.from_dict(data.get("model", {})),
                train=TrainConfig.from_dict(data.get("train", {})),
            )
        except PlaygroundError:
            raise
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            raise PlaygroundError("The run configuration is malformed: a value has the wrong type.",
                                  type(exc).__name__) from None

    def values(self) -> dict[str, Any]:
        """Setting name -> value for every registry setting, plus the task (what ``Setting.shown`` reads)."""
        out: dict[str, Any] = {s.name: getattr(getattr(self, s.section), s.attr) for s in registry.SETTINGS}
        out["task"] = self.model.task
        return out

    def canonical(self) -> RunConfig:
        """The same training with every setting that does not apply (hidden) at its default: two setups
        that train alike get one key. E.g. momentum while Adam is chosen, the regularisation rate with none."""
        values = self.values()
        changes: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
        for setting in registry.SETTINGS:
            if setting.url_key is None or setting.section == "model" or setting.name in ("samples", "features"):
                continue  # CSV fields, the device, and a CSV's row count and columns are not hidden by others
            if not setting.shown(values) and values[setting.name] != setting.default:
                changes[setting.section][setting.attr] = setting.default
        if self.train.loss == registry.TASK_LOSS[self.model.task]:  # the task's usual loss, named: one key for it
            changes["train"]["loss"] = registry.AUTO_LOSS
        if not any(changes.values()):
            return self
        return RunConfig(data=replace(self.data, **changes["data"]), model=self.model,
                         train=replace(self.train, **changes["train"]))

    def key(self) -> str:
        """A stable id of this configuration: the run store finds a finished run by it. Settings added
        after the first version are left out while they have their default, so older keys stay valid."""
        document = self.to_dict()
        for setting in registry.SETTINGS:
            if setting.since > 1 and document[setting.section].get(setting.attr) in (setting.default, _jsonish(setting.default)):
                del document[setting.section][setting.attr]
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_train(self, **changes: Any) -> RunConfig:
        return replace(self, train=replace(self.train, **changes))


def _jsonish(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields ``cls`` has; unknown keys are dropped (a newer or older dict still loads)."""
    _check(isinstance(data, dict), f"{cls.__name__} expects a mapping.")
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
