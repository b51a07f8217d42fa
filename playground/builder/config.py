"""The Model Builder's setup as data: frozen dataclasses that validate themselves and round-trip to a dict.

One run is a ``RunConfig``: its data (``DataConfig``), its model (``ModelSpec``) and its training
(``TrainConfig``). The same objects feed the widgets, the URL, the run store and code generation.
A run is keyed by its configuration (``RunConfig.key()``), so the same setup and seed opens the kept run.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from playground import limits
from playground.errors import PlaygroundError

CLASSIFICATION_DATASETS = ("circle", "xor", "gaussian", "spiral", "spiral3", "blobs")
REGRESSION_DATASETS = ("plane", "multigauss")
GENERATED_DATASETS = CLASSIFICATION_DATASETS + REGRESSION_DATASETS
CSV_DATASET = "csv"
DATASETS = GENERATED_DATASETS + (CSV_DATASET,)

# Input features built from the two coordinates, as in the TensorFlow playground.
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin_x1", "sin_x2")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")
OPTIMIZERS = ("sgd", "adam")
REGULARIZATIONS = ("none", "l1", "l2")
TASKS = ("classification", "regression")


def _check(condition: bool, sentence: str) -> None:
    if not condition:
        raise PlaygroundError(sentence)


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def task_of(dataset: str) -> str:
    """The task a generated dataset poses (a CSV's task is chosen when it is read)."""
    return "regression" if dataset in REGRESSION_DATASETS else "classification"


@dataclass(frozen=True)
class DataConfig:
    """Which data, how much, how noisy, how it is split, and which input features the model sees."""

    dataset: str = "circle"
    n_samples: int = 500
    noise: float = 0.1
    train_fraction: float = 0.6
    val_fraction: float = 0.2
    features: tuple[str, ...] = ("x1", "x2")
    seed: int = 0
    standardize: bool = False
    # CSV only: a name to show and reproduce with (never used as a path), the target column, the task.
    csv_name: str = ""
    csv_target: str = ""
    csv_task: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        _check(self.dataset in DATASETS, f"Unknown dataset {self.dataset!r}; choose one of {', '.join(DATASETS)}.")
        _check(
            isinstance(self.n_samples, int) and limits.MIN_SAMPLES <= self.n_samples <= limits.MAX_SAMPLES,
            f"The number of samples must be a whole number from {limits.MIN_SAMPLES} to {limits.MAX_SAMPLES:,}.",
        )
        _check(_finite(self.noise) and 0.0 <= self.noise <= 1.0, "Noise must be between 0 and 1.")
        _check(
            _finite(self.train_fraction) and 0.1 <= self.train_fraction <= 0.9,
            "The training share must be between 10% and 90%.",
        )
        _check(
            _finite(self.val_fraction) and 0.0 <= self.val_fraction <= 0.8,
            "The validation share must be between 0% and 80%.",
        )
        _check(
            self.train_fraction + self.val_fraction <= 0.95 + 1e-9,
            "Training and validation together may take at most 95%: leave some data for the test.",
        )
        if self.dataset != CSV_DATASET:
            _check(len(self.features) >= 1, "Choose at least one input feature.")
            unknown = [f for f in self.features if f not in FEATURES]
            _check(not unknown, f"Unknown input feature(s) {unknown}; choose from {', '.join(FEATURES)}.")
            _check(len(set(self.features)) == len(self.features), "Each input feature may be chosen once.")
        _check(isinstance(self.seed, int) and 0 <= self.seed <= limits.MAX_SEED, f"The seed must be from 0 to {limits.MAX_SEED}.")
        _check(self.csv_task in ("",) + TASKS, f"The task must be one of {', '.join(TASKS)}.")

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
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class ModelSpec:
    """An MLP: input width, hidden layers (width and activation each), output width, dropout, task."""

    in_features: int = 2
    hidden: tuple[int, ...] = (8, 8)
    activations: tuple[str, ...] = ("tanh", "tanh")
    out_features: int = 2
    task: str = "classification"
    dropout: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "activations", tuple(self.activations))
        _check(
            isinstance(self.in_features, int) and 1 <= self.in_features <= limits.MAX_CSV_COLUMNS,
            f"The model needs from 1 to {limits.MAX_CSV_COLUMNS} inputs.",
        )
        _check(
            len(self.hidden) <= limits.MAX_HIDDEN_LAYERS,
            f"At most {limits.MAX_HIDDEN_LAYERS} hidden layers are allowed.",
        )
        _check(
            all(1 <= h <= limits.MAX_LAYER_WIDTH for h in self.hidden),
            f"Each hidden layer must have from 1 to {limits.MAX_LAYER_WIDTH} neurons.",
        )
        _check(len(self.activations) == len(self.hidden), "Each hidden layer needs exactly one activation.")
        unknown = [a for a in self.activations if a not in ACTIVATIONS]
        _check(not unknown, f"Unknown activation(s) {unknown}; choose from {', '.join(ACTIVATIONS)}.")
        _check(self.task in TASKS, f"The task must be one of {', '.join(TASKS)}.")
        if self.task == "regression":
            _check(self.out_features == 1, "A regression model has exactly one output.")
        else:
            _check(
                isinstance(self.out_features, int) and 2 <= self.out_features <= limits.MAX_CLASSES,
                f"A classifier needs from 2 to {limits.MAX_CLASSES} classes.",
            )
        _check(_finite(self.dropout) and 0.0 <= self.dropout < 0.9, "Dropout must be from 0 to 0.9.")

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
    """How to train: optimizer and its settings, batches, epochs, regularisation, seed, device."""

    optimizer: str = "adam"
    lr: float = 0.03
    momentum: float = 0.0  # SGD
    weight_decay: float = 0.0  # SGD and Adam
    beta1: float = 0.9  # Adam
    beta2: float = 0.999  # Adam
    batch_size: int = 10
    shuffle: bool = True
    epochs: int = 100
    regularization: str = "none"
    reg_rate: float = 0.0
    seed: int = 0
    device: str = "cpu"
    cudnn_deterministic: bool = True
    cudnn_benchmark: bool = False

    def __post_init__(self) -> None:
        _check(self.optimizer in OPTIMIZERS, f"Unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
        _check(
            _finite(self.lr) and limits.MIN_LEARNING_RATE <= self.lr <= limits.MAX_LEARNING_RATE,
            f"The learning rate must be from {limits.MIN_LEARNING_RATE:g} to {limits.MAX_LEARNING_RATE:g}.",
        )
        _check(_finite(self.momentum) and 0.0 <= self.momentum < 1.0, "Momentum must be from 0 to just below 1.")
        _check(_finite(self.weight_decay) and 0.0 <= self.weight_decay <= 1.0, "Weight decay must be from 0 to 1.")
        _check(_finite(self.beta1) and 0.0 <= self.beta1 < 1.0, "Adam's beta1 must be from 0 to just below 1.")
        _check(_finite(self.beta2) and 0.0 <= self.beta2 < 1.0, "Adam's beta2 must be from 0 to just below 1.")
        _check(
            isinstance(self.batch_size, int) and 1 <= self.batch_size <= limits.MAX_BATCH_SIZE,
            f"The batch size must be a whole number from 1 to {limits.MAX_BATCH_SIZE:,}.",
        )
        _check(
            isinstance(self.epochs, int) and 1 <= self.epochs <= limits.MAX_EPOCHS,
            f"Epochs must be a whole number from 1 to {limits.MAX_EPOCHS:,}.",
        )
        _check(
            self.regularization in REGULARIZATIONS,
            f"Regularisation must be one of {', '.join(REGULARIZATIONS)}.",
        )
        _check(_finite(self.reg_rate) and 0.0 <= self.reg_rate <= 1.0, "The regularisation rate must be from 0 to 1.")
        _check(isinstance(self.seed, int) and 0 <= self.seed <= limits.MAX_SEED, f"The seed must be from 0 to {limits.MAX_SEED}.")
        _check(
            self.device == "cpu" or (self.device.startswith("cuda") and len(self.device) <= 8),
            "The device must be 'cpu' or a CUDA device such as 'cuda:0'.",
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**_known(cls, data))


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run's result. Same RunConfig, same result (on the same device)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelSpec = field(default_factory=ModelSpec)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data.to_dict(), "model": self.model.to_dict(), "train": self.train.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        _check(isinstance(data, dict), "A run configuration must be a mapping of data, model and train.")
        return cls(
            data=DataConfig.from_dict(data.get("data", {})),
            model=ModelSpec.from_dict(data.get("model", {})),
            train=TrainConfig.from_dict(data.get("train", {})),
        )

    def key(self) -> str:
        """A stable id of this configuration: the run store finds a finished run by it."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_train(self, **changes: Any) -> RunConfig:
        return replace(self, train=replace(self.train, **changes))


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Only the fields ``cls`` has; unknown keys are dropped (a newer or older dict still loads)."""
    _check(isinstance(data, dict), f"{cls.__name__} expects a mapping.")
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
