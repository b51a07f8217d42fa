"""Data for the Model Builder: seeded 2-D generators, input features, the split, and the CSV ``Dataset``.

Every generator has one signature, ``(n_samples, noise, seed) -> (X, y)``: ``X`` is a float32 tensor of
shape [n, 2] on the plane [-6, 6]^2, ``y`` an int64 tensor of class indices (classification) or a
float32 tensor of values (regression). Each is a pure function that uses only ``numpy`` (as ``np``),
``math`` and ``torch``, so the code export can copy its source with ``inspect.getsource``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import torch
from torch.utils.data import Dataset

from playground import limits
from playground.builder.config import CSV_DATASET, DataConfig, task_of
from playground.builder.registry import DATASETS, FEATURES
from playground.errors import AwaitingInput, PlaygroundError, library_message
from playground.memory import give_back

PLANE = 6.0  # generated points live on [-PLANE, PLANE]^2

# --------------------------------------------------------------------------------------------------
# Generators: (n_samples, noise, seed) -> (X float32 [n, 2], y)
# --------------------------------------------------------------------------------------------------


def make_circle(n_samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 0 inside a disc of radius 2.5, class 1 on a ring from 3.5 to 5; half the points each."""
    rng = np.random.default_rng(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    r = np.concatenate([rng.uniform(0.0, 2.5, n0), rng.uniform(3.5, 5.0, n1)])
    angle = rng.uniform(0.0, 2 * math.pi, n_samples)
    X = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
    X += rng.normal(0.0, 1.0, X.shape) * noise * 1.5
    y = np.concatenate([np.zeros(n0), np.ones(n1)])
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def make_xor(n_samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class 1 where x1 and x2 have the same sign, class 0 where they differ; half the points each."""
    rng = np.random.default_rng(seed)
    n1 = n_samples // 2
    n0 = n_samples - n1
    magnitude = rng.uniform(0.3, 5.0, (n_samples, 2))
    same = rng.choice([-1.0, 1.0], n1)
    first = rng.choice([-1.0, 1.0], n0)
    signs = np.concatenate([np.stack([same, same], 1), np.stack([first, -first], 1)])
    X = magnitude * signs + rng.normal(0.0, 1.0, (n_samples, 2)) * noise * 1.5
    y = np.concatenate([np.ones(n1), np.zeros(n0)])
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def make_gaussian(n_samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two Gaussian clouds around (2, 2) and (-2, -2); more noise spreads them into each other."""
    rng = np.random.default_rng(seed)
    n0 = n_samples // 2
    n1 = n_samples - n0
    spread = 0.5 + 2.5 * noise
    X = np.concatenate([rng.normal(-2.0, spread, (n0, 2)), rng.normal(2.0, spread, (n1, 2))])
    y = np.concatenate([np.zeros(n0), np.ones(n1)])
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def make_spiral(n_samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two interleaved spirals, one a class."""
    rng = np.random.default_rng(seed)
    counts = [n_samples // 2, n_samples - n_samples // 2]
    points, labels = [], []
    for label, count in enumerate(counts):
        t = np.arange(count) / max(count, 1)
        r = 5.0 * t
        angle = 1.75 * t * 2 * math.pi + label * math.pi
        arm = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
        points.append(arm + rng.normal(0.0, 1.0, arm.shape) * noise)
        labels.append(np.full(count, label))
    X = np.concatenate(points)
    y = np.concatenate(labels)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def make_spiral3(n_samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three interleaved spirals, one a class (multi-class)."""
    rng = np.random.default_rng(seed)
    base = n_samples // 3
    counts = [base, base, n_samples - 2 * base]
    points, labels = [], []
    for label, count in enumerate(counts):
        t = np.arange(count) / max(count, 1)
        r = 5.0 * t
        angle = 1.5 * t * 2 * math.pi + label * 2 * math.pi / 3
        arm = np.stack([r * np.sin(angle), r * np.cos(angle)], axis=1)
        points.append(arm + rng.normal(0.0, 1.0, arm.shape) * noise)
        labels.append(np.full(count, label))
    X = np.concatenate(points)
    y = np.concatenate(labels)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def make_blobs(n_samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Three Gaussian blobs at 90, 210 and 330 degrees on a circle of radius 3.5 (multi-class)."""
    rng = np.random.default_rng(seed)
    base = n_samples // 3
    counts = [base, base, n_samples - 2 * base]
    spread = 0.4 + 2.0 * noise
    points, labels = [], []
    for label, count in enumerate(counts):
        angle = math.radians(90 + 120 * label)
        centre = np.array([3.5 * math.cos(angle), 3.5 * math.sin(angle)])
        points.append(centre + rng.normal(0.0, spread, (count, 2)))
        labels.append(np.full(count, label))
    X = np.concatenate(points)
    y = np.concatenate(labels)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def make_plane(n_samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Regression: y = (x1 + x2) / 12 plus uniform noise, a tilted plane."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-6.0, 6.0, (n_samples, 2))
    y = (X[:, 0] + X[:, 1]) / 12.0 + rng.uniform(-1.0, 1.0, n_samples) * noise * 0.5
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def make_multigauss(n_samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Regression: a sum of six signed Gaussian bumps over the plane, plus uniform noise."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-6.0, 6.0, (n_samples, 2))
    bumps = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]
    y = np.zeros(n_samples)
    for cx, cy, sign in bumps:
        d2 = (X[:, 0] - cx) ** 2 + (X[:, 1] - cy) ** 2
        y += sign * np.exp(-d2 / 2.0)
    y += rng.uniform(-1.0, 1.0, n_samples) * noise * 0.5
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


# The registry names each dataset's generator; these tables are read from it.
GENERATORS = {name: globals()[row.generator] for name, row in DATASETS.items() if row.generator}
CLASS_COUNTS = {name: row.classes for name, row in DATASETS.items() if row.generator and row.task == "classification"}
DATASET_LABELS = {name: row.label for name, row in DATASETS.items()}


def generate(dataset: str, n_samples: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked entry point to the generators (limits enforced here, not only by the sliders)."""
    if dataset not in GENERATORS:
        raise PlaygroundError(f"Unknown dataset {dataset!r}; choose one of {', '.join(GENERATORS)}.")
    if not (limits.MIN_SAMPLES <= int(n_samples) <= limits.MAX_SAMPLES):
        raise PlaygroundError(f"The number of samples must be from {limits.MIN_SAMPLES} to {limits.MAX_SAMPLES:,}.")
    if not (0.0 <= float(noise) <= 1.0):
        raise PlaygroundError("Noise must be between 0 and 1.")
    return GENERATORS[dataset](int(n_samples), float(noise), int(seed))


# --------------------------------------------------------------------------------------------------
# Input features, as in the TensorFlow playground (the registry computes and writes each one)
# --------------------------------------------------------------------------------------------------

FEATURE_LABELS = {name: row.label for name, row in FEATURES.items()}


def expand_features(X: torch.Tensor, features: tuple[str, ...] | list[str]) -> torch.Tensor:
    """The chosen input features of 2-D points ``X`` [n, 2], as a float32 tensor [n, len(features)]."""
    unknown = [f for f in features if f not in FEATURES]
    if unknown or not features:
        raise PlaygroundError(f"Choose input features from {', '.join(FEATURES)}.")
    x1, x2 = X[:, 0], X[:, 1]
    return torch.stack([FEATURES[f].compute(x1, x2) for f in features], dim=1).to(torch.float32)


# --------------------------------------------------------------------------------------------------
# Split and standardisation
# --------------------------------------------------------------------------------------------------


def split_sizes(n: int, train_fraction: float, val_fraction: float) -> tuple[int, int, int]:
    """How many rows go to train, validation and test (train and test get at least one each)."""
    n_train = max(1, int(round(n * train_fraction)))
    n_val = int(round(n * val_fraction))
    n_val = min(n_val, max(0, n - n_train - 1))
    return n_train, n_val, n - n_train - n_val


def split_indices(n: int, train_fraction: float, val_fraction: float, seed: int) -> tuple[torch.Tensor, ...]:
    """Seeded shuffle, then the first rows train, the next validation, the rest test."""
    n_train, n_val, _ = split_sizes(n, train_fraction, val_fraction)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[:n_train], order[n_train : n_train + n_val], order[n_train + n_val :]


def fit_standardization(X_train: torch.Tensor) -> dict[str, list[float]]:
    """Mean and standard deviation of each feature over the training split (std 0 becomes 1)."""
    mean = X_train.mean(dim=0)
    std = X_train.std(dim=0, unbiased=False) if len(X_train) > 1 else torch.ones_like(mean)
    std = torch.where(std > 1e-12, std, torch.ones_like(std))
    return {"mean": mean.tolist(), "std": std.tolist()}


def standardize(X: torch.Tensor, standardization: dict[str, list[float]] | None) -> torch.Tensor:
    if not standardization:
        return X
    mean = torch.tensor(standardization["mean"], dtype=X.dtype)
    std = torch.tensor(standardization["std"], dtype=X.dtype)
    return (X - mean) / std


# --------------------------------------------------------------------------------------------------
# The CSV dataset: the course's MyDataset(filename), read by the one CSV reader (csv_table.read_table)
# --------------------------------------------------------------------------------------------------


def _csv_bytes(source: bytes | BinaryIO | Any) -> bytes:
    data = source if isinstance(source, (bytes, bytearray)) else source.read()
    if isinstance(data, str):
        data = data.encode()
    if len(data) > limits.MAX_CSV_BYTES:
        raise PlaygroundError(
            f"The CSV is {len(data) / 1e6:.1f} MB; the limit is {limits.MAX_CSV_BYTES / 1e6:.0f} MB. Upload a smaller file."
        )
    return bytes(data)


def read_csv_table(source: bytes | BinaryIO, target: str | None = None, task: str | None = None) -> dict[str, Any]:
    """``csv_table.read_table`` with the playground's limits; every refusal a PlaygroundError sentence."""
    from playground.builder.csv_table import CsvProblem, read_table  # with pandas: only once a CSV is read

    data = _csv_bytes(source)
    try:
        return read_table(data, target, task, max_rows=limits.MAX_CSV_ROWS, max_columns=limits.MAX_CSV_COLUMNS,
                          max_classes=limits.MAX_CLASSES, max_cell_chars=limits.MAX_CSV_CELL_CHARS)
    except CsvProblem as exc:
        raise PlaygroundError(str(exc), plain=True) from None  # it quotes column names and cells: shown as text
    except (ValueError, TypeError, OverflowError, MemoryError, UnicodeError) as exc:
        raise PlaygroundError("The CSV could not be read; save it as a plain UTF-8 CSV and upload it again.",
                              library_message(exc)) from None
    finally:
        give_back()  # reading a 10 MB CSV frees ~40 MB that glibc would otherwise keep (docs/RELIABILITY.md)


class CsvDataset(Dataset):
    """A CSV as a ``torch.utils.data.Dataset``: read and checked in ``__init__``, one row from ``__getitem__``.

    ``source`` is the file's bytes or a file-like object (an upload), never a path a user typed.
    Feature columns are the numeric columns other than the target; text columns are left out and
    named in ``ignored_columns``. ``task`` is inferred from the target unless given.
    """

    def __init__(self, source: bytes | BinaryIO, target: str | None = None, task: str | None = None) -> None:
        table = read_csv_table(source, target, task)
        self.features: torch.Tensor = table["X"]
        self.targets: torch.Tensor = table["y"]
        self.feature_names: tuple[str, ...] = table["features"]
        self.ignored_columns: tuple[str, ...] = table["ignored"]
        self.columns: tuple[str, ...] = table["columns"]
        self.classes: tuple[str, ...] = table["classes"]
        self.rows: torch.Tensor = table["rows"]
        self.target: str = table["target"]
        self.task: str = table["task"]

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.features[index], self.targets[index]


def csv_columns(source: bytes) -> tuple[str, ...]:
    """The header of a CSV, for the target picker (the full checks run in ``CsvDataset``)."""
    from playground.builder.csv_table import CsvProblem, read_header  # with pandas: only once a CSV is read

    try:
        return read_header(_csv_bytes(source), limits.MAX_CSV_COLUMNS, limits.MAX_CSV_CELL_CHARS)
    except CsvProblem as exc:
        raise PlaygroundError(str(exc), plain=True) from None


# --------------------------------------------------------------------------------------------------
# Everything a run needs, ready
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedData:
    """The split tensors a run trains on (features expanded and standardised, the target standardised where
    asked) and what the views need.

    ``points_*`` are the raw 2-D coordinates of generated data (for the plane views); None for a CSV.
    ``rows_test`` is each test row's position in the original table (or the generator's output);
    ``X_test_raw`` its features before standardisation. ``target_standardization`` is ``{"mean", "std"}`` of
    the training split's targets when the model trains on a standardised target (``to_target_units``
    turns its outputs back).
    """

    task: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    feature_names: tuple[str, ...]
    classes: tuple[str, ...]
    standardization: dict[str, list[float]] | None
    points_train: torch.Tensor | None = None
    points_val: torch.Tensor | None = None
    points_test: torch.Tensor | None = None
    rows_test: torch.Tensor | None = None
    X_test_raw: torch.Tensor | None = None
    target_standardization: dict[str, float] | None = None

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_outputs(self) -> int:
        return 1 if self.task == "regression" else len(self.classes)

    @property
    def sizes(self) -> tuple[int, int, int]:
        return len(self.y_train), len(self.y_val), len(self.y_test)

    @property
    def nbytes(self) -> int:
        """Memory the tensors hold (a session's data cache is bounded by it)."""
        return sum(t.element_size() * t.nelement() for t in vars(self).values() if isinstance(t, torch.Tensor))

    def arrays(self) -> dict[str, Any]:
        """Plain tensors by name (sent to the training worker)."""
        return {name: getattr(self, name) for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")}

    def to_target_units(self, values: torch.Tensor) -> torch.Tensor:
        """Model outputs (or targets) on the standardised scale, back in the target's own units."""
        return to_target_units(values, self.target_standardization)


def fit_target_standardization(y_train: torch.Tensor) -> dict[str, float]:
    """Mean and standard deviation of the training split's targets (std 0 becomes 1)."""
    mean = float(y_train.double().mean()) if len(y_train) else 0.0
    std = float(y_train.double().std(unbiased=False)) if len(y_train) > 1 else 1.0
    return {"mean": mean, "std": std if std > 1e-12 else 1.0}


def to_target_units(values: torch.Tensor, stats: dict[str, float] | None) -> torch.Tensor:
    """``values * std + mean``: outputs of a model trained on a standardised target, in the target's units."""
    return values if not stats else values * stats["std"] + stats["mean"]


def csv_invitation() -> str:
    """What the page says while the CSV dataset waits for its file: what to upload and what it should look like."""
    return (
        "Upload a CSV file first, or choose a generated dataset. It should have a header row of column names, then "
        "one row per example (commas, semicolons or tabs between the cells): numeric feature columns and a target "
        "column, the last one unless you choose another (numbers for regression, at most "
        f"{limits.MAX_CLASSES} labels for classification); {limits.MIN_SAMPLES} to {limits.MAX_CSV_ROWS:,} rows, "
        f"at most {limits.MAX_CSV_COLUMNS} columns. For example `sepal_length,sepal_width,species` then "
        "`5.1,3.5,setosa`."
    )


def prepare_data(config: DataConfig, csv_source: bytes | None = None) -> PreparedData:
    """Generate (or read) the data of ``config``, expand features, split with its seed, standardise on train."""
    if config.dataset == CSV_DATASET:
        if csv_source is None:
            raise AwaitingInput(csv_invitation())
        dataset = CsvDataset(csv_source, target=config.csv_target or None, task=config.csv_task or None)
        if len(dataset) < limits.MIN_SAMPLES:
            raise PlaygroundError(f"The CSV has {len(dataset)} rows; the model needs at least {limits.MIN_SAMPLES}.")
        X, y = dataset.features, dataset.targets
        points, rows = None, dataset.rows
        names, classes, task = dataset.feature_names, dataset.classes, dataset.task
    else:
        points, y = generate(config.dataset, config.n_samples, config.noise, config.seed)
        X = expand_features(points, config.features)
        rows = torch.arange(len(y))
        names = tuple(config.features)
        task = task_of(config.dataset)
        classes = tuple(f"class {i}" for i in range(CLASS_COUNTS[config.dataset])) if task == "classification" else ()
    train, val, test = split_indices(len(y), config.train_fraction, config.val_fraction, config.seed)
    stats = fit_standardization(X[train]) if config.standardize else None
    Xs = standardize(X, stats)
    target_stats = None
    if task == "regression":
        y = y.reshape(-1, 1)  # MSELoss compares [n, 1] outputs with [n, 1] targets
        if config.standardize_target:
            target_stats = fit_target_standardization(y[train])
            y = (y - target_stats["mean"]) / target_stats["std"]
    return PreparedData(
        task=task,
        X_train=Xs[train], y_train=y[train], X_val=Xs[val], y_val=y[val], X_test=Xs[test], y_test=y[test],
        feature_names=names, classes=classes, standardization=stats,
        points_train=None if points is None else points[train],
        points_val=None if points is None else points[val],
        points_test=None if points is None else points[test],
        rows_test=rows[test], X_test_raw=X[test], target_standardization=target_stats,
    )
