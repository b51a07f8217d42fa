"""Data for the Model Builder: seeded 2-D generators, input features, the split, and the CSV ``Dataset``.

Every generator has one signature, ``(n_samples, noise, seed) -> (X, y)``: ``X`` is a float32 tensor of
shape [n, 2] on the plane [-6, 6]^2, ``y`` an int64 tensor of class indices (classification) or a
float32 tensor of values (regression). Each is a pure function that uses only ``numpy`` (as ``np``),
``math`` and ``torch``, so the code export can copy its source with ``inspect.getsource``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import torch
from torch.utils.data import Dataset

from playground import limits
from playground.builder.config import CSV_DATASET, FEATURES, DataConfig, task_of
from playground.errors import PlaygroundError, library_message

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


GENERATORS = {
    "circle": make_circle,
    "xor": make_xor,
    "gaussian": make_gaussian,
    "spiral": make_spiral,
    "spiral3": make_spiral3,
    "blobs": make_blobs,
    "plane": make_plane,
    "multigauss": make_multigauss,
}
CLASS_COUNTS = {"circle": 2, "xor": 2, "gaussian": 2, "spiral": 2, "spiral3": 3, "blobs": 3}
DATASET_LABELS = {
    "circle": "Circle",
    "xor": "Exclusive or",
    "gaussian": "Two Gaussians",
    "spiral": "Spiral",
    "spiral3": "Spiral, 3 classes",
    "blobs": "Blobs, 3 classes",
    "plane": "Plane (regression)",
    "multigauss": "Multi-Gaussian (regression)",
    "csv": "Upload a CSV",
}


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
# Input features, as in the TensorFlow playground
# --------------------------------------------------------------------------------------------------

FEATURE_LABELS = {
    "x1": "x₁",
    "x2": "x₂",
    "x1^2": "x₁²",
    "x2^2": "x₂²",
    "x1*x2": "x₁·x₂",
    "sin_x1": "sin x₁",
    "sin_x2": "sin x₂",
}


def expand_features(X: torch.Tensor, features: tuple[str, ...] | list[str]) -> torch.Tensor:
    """The chosen input features of 2-D points ``X`` [n, 2], as a float32 tensor [n, len(features)]."""
    x1, x2 = X[:, 0], X[:, 1]
    columns = {
        "x1": lambda: x1,
        "x2": lambda: x2,
        "x1^2": lambda: x1 * x1,
        "x2^2": lambda: x2 * x2,
        "x1*x2": lambda: x1 * x2,
        "sin_x1": lambda: torch.sin(x1),
        "sin_x2": lambda: torch.sin(x2),
    }
    unknown = [f for f in features if f not in FEATURES]
    if unknown or not features:
        raise PlaygroundError(f"Choose input features from {', '.join(FEATURES)}.")
    return torch.stack([columns[f]() for f in features], dim=1).to(torch.float32)


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
# The CSV dataset: the course's MyDataset(filename)
# --------------------------------------------------------------------------------------------------


def _read_text(source: bytes | BinaryIO | Any) -> str:
    data = source if isinstance(source, (bytes, bytearray)) else source.read()
    if isinstance(data, str):
        data = data.encode()
    if len(data) > limits.MAX_CSV_BYTES:
        raise PlaygroundError(
            f"The CSV is {len(data) / 1e6:.1f} MB; the limit is {limits.MAX_CSV_BYTES / 1e6:.0f} MB. Upload a smaller file."
        )
    try:
        return bytes(data).decode("utf-8-sig")  # a byte-order mark (Excel) is dropped
    except UnicodeDecodeError as exc:
        try:
            return bytes(data).decode("latin-1")
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
            raise PlaygroundError("The CSV is not text; save it as UTF-8 CSV and upload it again.", library_message(exc)) from exc


def _delimiter(text: str) -> str:
    head = "\n".join(text[:200_000].splitlines()[:20])  # not splitlines() of the whole file: millions of strings
    counts = {sep: head.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ","


def _number(cell: str) -> float | None:
    cell = cell.strip()
    if not cell:
        return None
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _rows(text: str) -> list[list[str]]:
    """The non-blank rows, read one at a time so an oversized file is refused before it is all in memory
    (a 10 MB file of short rows would otherwise become millions of lists), and a malformed one
    (a cell over the csv module's field limit) is a sentence, not a crash."""
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text), delimiter=_delimiter(text)):
            if not any(c.strip() for c in row):
                continue
            if len(row) > limits.MAX_CSV_COLUMNS and not rows:
                raise PlaygroundError(f"The CSV has {len(row)} columns; at most {limits.MAX_CSV_COLUMNS} are allowed.")
            rows.append(row)
            if len(rows) > limits.MAX_CSV_ROWS + 1:
                raise PlaygroundError(f"The CSV has more than {limits.MAX_CSV_ROWS:,} rows; at most {limits.MAX_CSV_ROWS:,} are allowed.")
    except csv.Error as exc:
        raise PlaygroundError("The CSV could not be read: a cell is too long or a quote is not closed.",
                              library_message(exc)) from exc
    return rows


def infer_task(values: list[str]) -> str:
    """Text or a few whole numbers (at most 10 distinct) mean classes; other numbers mean regression."""
    numbers = [_number(v) for v in values]
    if any(n is None for n in numbers):
        return "classification"
    distinct = set(numbers)
    if len(distinct) <= 10 and all(float(n).is_integer() for n in distinct):
        return "classification"
    return "regression"


class CsvDataset(Dataset):
    """A CSV as a ``torch.utils.data.Dataset``: read and checked in ``__init__``, one row from ``__getitem__``.

    ``source`` is the file's bytes or a file-like object (an upload), never a path a user typed.
    Feature columns are the numeric columns other than the target; text columns are left out and
    named in ``ignored_columns``. ``task`` is inferred from the target unless given.
    """

    def __init__(self, source: bytes | BinaryIO, target: str | None = None, task: str | None = None) -> None:
        text = _read_text(source)
        if not text.strip():
            raise PlaygroundError("The CSV is empty: it needs a header row and at least one row of data.")
        rows = _rows(text)
        if len(rows) < 2:
            raise PlaygroundError("The CSV has a header but no data rows; add rows of numbers below the header.")
        header = [name.strip() for name in rows[0]]
        body = rows[1:]
        if len(header) > limits.MAX_CSV_COLUMNS:
            raise PlaygroundError(f"The CSV has {len(header)} columns; at most {limits.MAX_CSV_COLUMNS} are allowed.")
        if len(body) > limits.MAX_CSV_ROWS:
            raise PlaygroundError(f"The CSV has {len(body):,} rows; at most {limits.MAX_CSV_ROWS:,} are allowed.")
        if len(header) < 2:
            raise PlaygroundError("The CSV needs at least two columns: one or more features and a target.")
        if len(set(header)) != len(header) or any(not name for name in header):
            raise PlaygroundError("Every column needs a name of its own in the header row.")
        for i, row in enumerate(body):
            if len(row) != len(header):
                raise PlaygroundError(
                    f"Row {i + 1} has {len(row)} cells but the header has {len(header)} columns; make every row the same length."
                )
        target = target or header[-1]
        if target not in header:
            raise PlaygroundError(f"There is no column {target!r}; choose the target from {', '.join(header)}.")
        t_index = header.index(target)
        target_cells = [row[t_index].strip() for row in body]
        for i, cell in enumerate(target_cells):
            if not cell:
                raise PlaygroundError(f"Row {i + 1}, column {target!r} (the target) is empty; fill it or remove the row.")

        features: list[str] = []
        ignored: list[str] = []
        columns: list[list[float]] = []
        for j, name in enumerate(header):
            if j == t_index:
                continue
            numbers = [_number(row[j]) for row in body]
            if all(n is None for n in numbers):
                ignored.append(name)
                continue
            bad = next((i for i, n in enumerate(numbers) if n is None), None)
            if bad is not None:
                shown = body[bad][j].strip() or "an empty cell"
                raise PlaygroundError(
                    f"Row {bad + 1}, column {name!r} is not a number ({shown!r}): fill in the missing value or remove the row."
                )
            features.append(name)
            columns.append(numbers)  # type: ignore[arg-type]
        if not features:
            raise PlaygroundError(
                "The CSV has no numeric feature columns besides the target; the model needs numbers as inputs."
            )

        task = task or infer_task(target_cells)
        if task not in ("classification", "regression"):
            raise PlaygroundError("The task must be classification or regression.")
        if task == "regression":
            values = [_number(c) for c in target_cells]
            bad = next((i for i, v in enumerate(values) if v is None), None)
            if bad is not None:
                raise PlaygroundError(
                    f"The target {target!r} has text ({target_cells[bad]!r} in row {bad + 1}), so it cannot be a "
                    "regression target; choose classification or a numeric column."
                )
            self.classes: tuple[str, ...] = ()
            y = torch.tensor(values, dtype=torch.float32)
        else:
            numbers = [_number(c) for c in target_cells]
            if all(n is not None for n in numbers):
                keys = sorted(set(numbers))  # type: ignore[type-var]
                names = [f"{k:g}" for k in keys]
                index = {k: i for i, k in enumerate(keys)}
                labels = [index[n] for n in numbers]
            else:
                names = sorted(set(target_cells))
                index = {k: i for i, k in enumerate(names)}
                labels = [index[c] for c in target_cells]
            if len(names) < 2:
                raise PlaygroundError(
                    f"The target {target!r} has only one class ({names[0]!r}); a classifier needs at least two."
                )
            if len(names) > limits.MAX_CLASSES:
                raise PlaygroundError(
                    f"The target {target!r} has {len(names)} distinct values; at most {limits.MAX_CLASSES} classes are "
                    "allowed. If it is a quantity, choose regression."
                )
            self.classes = tuple(names)
            y = torch.tensor(labels, dtype=torch.int64)

        self.features = torch.tensor(columns, dtype=torch.float32).T.contiguous()
        self.targets = y
        self.feature_names: tuple[str, ...] = tuple(features)
        self.ignored_columns: tuple[str, ...] = tuple(ignored)
        self.columns: tuple[str, ...] = tuple(header)
        self.target = target
        self.task = task

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.features[index], self.targets[index]


def csv_columns(source: bytes) -> tuple[str, ...]:
    """The header of a CSV, for the target picker (the full checks run in ``CsvDataset``)."""
    text = _read_text(source)
    try:
        for row in csv.reader(io.StringIO(text), delimiter=_delimiter(text)):
            if any(c.strip() for c in row):
                if len(row) > limits.MAX_CSV_COLUMNS:
                    raise PlaygroundError(f"The CSV has {len(row)} columns; at most {limits.MAX_CSV_COLUMNS} are allowed.")
                return tuple(name.strip() for name in row)
    except csv.Error as exc:
        raise PlaygroundError("The CSV could not be read: a cell is too long or a quote is not closed.",
                              library_message(exc)) from exc
    raise PlaygroundError("The CSV is empty: it needs a header row and at least one row of data.")


# --------------------------------------------------------------------------------------------------
# Everything a run needs, ready
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedData:
    """The split tensors a run trains on (features expanded and standardised) and what the views need.

    ``points_*`` are the raw 2-D coordinates of generated data (for the plane views); None for a CSV.
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

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def n_outputs(self) -> int:
        return 1 if self.task == "regression" else len(self.classes)

    @property
    def sizes(self) -> tuple[int, int, int]:
        return len(self.y_train), len(self.y_val), len(self.y_test)

    def arrays(self) -> dict[str, Any]:
        """Plain tensors by name (sent to the training worker)."""
        return {name: getattr(self, name) for name in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")}


def prepare_data(config: DataConfig, csv_source: bytes | None = None) -> PreparedData:
    """Generate (or read) the data of ``config``, expand features, split with its seed, standardise on train."""
    if config.dataset == CSV_DATASET:
        if csv_source is None:
            raise PlaygroundError("Upload a CSV file first, or choose a generated dataset.")
        dataset = CsvDataset(csv_source, target=config.csv_target or None, task=config.csv_task or None)
        if len(dataset) < limits.MIN_SAMPLES:
            raise PlaygroundError(f"The CSV has {len(dataset)} rows; the model needs at least {limits.MIN_SAMPLES}.")
        X, y = dataset.features, dataset.targets
        points = None
        names, classes, task = dataset.feature_names, dataset.classes, dataset.task
    else:
        points, y = generate(config.dataset, config.n_samples, config.noise, config.seed)
        X = expand_features(points, config.features)
        names = tuple(config.features)
        task = task_of(config.dataset)
        classes = tuple(f"class {i}" for i in range(CLASS_COUNTS[config.dataset])) if task == "classification" else ()
    train, val, test = split_indices(len(y), config.train_fraction, config.val_fraction, config.seed)
    stats = fit_standardization(X[train]) if config.standardize else None
    Xs = standardize(X, stats)
    if task == "regression":
        y = y.reshape(-1, 1)  # MSELoss compares [n, 1] outputs with [n, 1] targets
    return PreparedData(
        task=task,
        X_train=Xs[train], y_train=y[train], X_val=Xs[val], y_val=y[val], X_test=Xs[test], y_test=y[test],
        feature_names=names, classes=classes, standardization=stats,
        points_train=None if points is None else points[train],
        points_val=None if points is None else points[val],
        points_test=None if points is None else points[test],
    )
