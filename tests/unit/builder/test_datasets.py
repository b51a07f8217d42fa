"""Datasets: the seeded generators, features, the split, standardisation and the CSV Dataset."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from playground import limits
from playground.builder import datasets
from playground.builder.config import DataConfig
from playground.builder.datasets import CsvDataset, expand_features, prepare_data, split_indices
from playground.errors import PlaygroundError


@pytest.mark.parametrize("name", sorted(datasets.GENERATORS))
def test_generator_shapes_dtypes_and_determinism(name):
    X, y = datasets.generate(name, 101, 0.2, seed=7)
    assert X.shape == (101, 2) and X.dtype == torch.float32
    assert y.shape == (101,)
    assert y.dtype == (torch.float32 if name in ("plane", "multigauss") else torch.int64)
    X2, y2 = datasets.generate(name, 101, 0.2, seed=7)
    assert torch.equal(X, X2) and torch.equal(y, y2)
    X3, _ = datasets.generate(name, 101, 0.2, seed=8)
    assert not torch.equal(X, X3)
    assert torch.isfinite(X).all() and X.abs().max() < 12


@pytest.mark.parametrize("name", sorted(datasets.CLASS_COUNTS))
def test_classes_are_balanced(name):
    _, y = datasets.generate(name, 300, 0.3, seed=1)
    counts = torch.bincount(y, minlength=datasets.CLASS_COUNTS[name])
    assert len(counts) == datasets.CLASS_COUNTS[name]
    assert counts.max() - counts.min() <= 1


def test_noise_moves_points():
    clean, _ = datasets.make_gaussian(200, 0.0, 3)
    noisy, _ = datasets.make_gaussian(200, 1.0, 3)
    assert noisy.std() > clean.std()


@pytest.mark.parametrize("name", sorted(datasets.GENERATORS))
def test_generator_source_is_self_contained(name):
    """The code export copies the source: it must run with only numpy, math and torch."""
    function = datasets.GENERATORS[name]
    namespace = {"np": np, "math": math, "torch": torch}
    exec(inspect.getsource(function), namespace)  # our own source, not user input
    X, y = namespace[function.__name__](50, 0.1, 4)
    X0, y0 = function(50, 0.1, 4)
    assert torch.equal(X, X0) and torch.equal(y, y0)


def test_generate_enforces_limits():
    with pytest.raises(PlaygroundError):
        datasets.generate("circle", limits.MAX_SAMPLES + 1, 0.1, 0)
    with pytest.raises(PlaygroundError):
        datasets.generate("circle", 5, 0.1, 0)
    with pytest.raises(PlaygroundError):
        datasets.generate("nope", 50, 0.1, 0)


def test_expand_features_values():
    X = torch.tensor([[1.0, 2.0], [-0.5, 3.0]])
    F = expand_features(X, ("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin_x1", "sin_x2"))
    expected = torch.tensor([[1, 2, 1, 4, 2, math.sin(1), math.sin(2)], [-0.5, 3, 0.25, 9, -1.5, math.sin(-0.5), math.sin(3)]])
    assert torch.allclose(F, expected.float())
    with pytest.raises(PlaygroundError):
        expand_features(X, ("x3",))


def test_split_is_seeded_disjoint_and_complete():
    a = split_indices(100, 0.6, 0.2, seed=3)
    b = split_indices(100, 0.6, 0.2, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert [len(x) for x in a] == [60, 20, 20]
    assert sorted(torch.cat(a).tolist()) == list(range(100))
    assert not torch.equal(a[0], split_indices(100, 0.6, 0.2, seed=4)[0])


def test_standardisation_fits_on_train_only():
    data = prepare_data(DataConfig(dataset="plane", n_samples=200, standardize=True, seed=2))
    assert torch.allclose(data.X_train.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(data.X_train.std(0, unbiased=False), torch.ones(2), atol=1e-4)
    assert not torch.allclose(data.X_test.mean(0), torch.zeros(2), atol=1e-5)
    assert data.y_train.shape == (len(data.y_train), 1)  # MSELoss targets


def test_prepare_data_sizes_and_task():
    data = prepare_data(DataConfig(dataset="spiral3", n_samples=300, features=("x1", "x2", "sin_x1")))
    assert data.sizes == (180, 60, 60)
    assert data.n_features == 3 and data.n_outputs == 3 and data.task == "classification"
    assert data.points_train.shape == (180, 2)


GOOD = b"a,b,label\n" + b"".join(f"{i},{i * 2 % 7},{'yes' if i % 2 else 'no'}\n".encode() for i in range(30))


def test_csv_dataset_reads_a_good_file():
    ds = CsvDataset(GOOD)
    assert len(ds) == 30 and ds.feature_names == ("a", "b") and ds.task == "classification"
    assert ds.classes == ("no", "yes")
    x, y = ds[3]
    assert x.tolist() == [3.0, 6.0] and y.item() == 1
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))))
    assert batch[0].shape == (4, 2) and batch[1].shape == (4,)


def test_csv_bom_semicolons_and_text_columns():
    text = "\ufeffname;x;y;target\n" + "".join(f"n{i};{i};{i / 3};{i * 0.37}\n" for i in range(25))
    ds = CsvDataset(text.encode("utf-8"))
    assert ds.feature_names == ("x", "y") and ds.ignored_columns == ("name",)
    assert ds.task == "regression" and ds.targets.dtype == torch.float32
    assert CsvDataset(text.encode(), target="x", task="regression").feature_names == ("y", "target")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"a,b\n", "no data rows"),
        (b"name,label\n" + b"".join(f"n{i},{i % 2}\n".encode() for i in range(25)), "no numeric feature columns"),
        (b"a,b,label\n1,2,0\n3,,1\n5,6,0\n", "Row 2, column 'b'"),
        (b"a,b,label\n1,2,0\n3,x,1\n5,6,0\n", "Row 2, column 'b'"),
        (b"a,b,label\n1,2,0\n3,4,0\n", "only one class"),
        (b"a,b,label\n1,2,0\n3,4\n", "Row 2, column 'label' (the target) is empty"),  # a short row's missing cells are empty
        (b"a,b,label\n1,2,\n3,4,1\n", "the target"),
    ],
)
def test_bad_csvs_get_a_sentence(content, words):
    with pytest.raises(PlaygroundError) as info:
        CsvDataset(content)
    assert words in info.value.sentence


def test_text_target_for_regression_is_refused():
    content = b"a,label\n" + b"".join(f"{i},{'cat' if i % 2 else 'dog'}\n".encode() for i in range(25))
    with pytest.raises(PlaygroundError) as info:
        CsvDataset(content, task="regression")
    assert "text" in info.value.sentence and "regression" in info.value.sentence


def test_csv_limits(monkeypatch):
    monkeypatch.setattr(limits, "MAX_CSV_ROWS", 10)
    with pytest.raises(PlaygroundError, match="rows"):
        CsvDataset(GOOD)
    monkeypatch.setattr(limits, "MAX_CSV_ROWS", 100_000)
    wide = ",".join(f"c{i}" for i in range(limits.MAX_CSV_COLUMNS + 1)).encode() + b"\n"
    with pytest.raises(PlaygroundError, match="columns"):
        CsvDataset(wide + b",".join(b"1" for _ in range(limits.MAX_CSV_COLUMNS + 1)) + b"\n")
    monkeypatch.setattr(limits, "MAX_CSV_BYTES", 100)
    with pytest.raises(PlaygroundError, match="MB"):
        CsvDataset(GOOD)


def test_csv_through_prepare_data_and_too_few_rows():
    data = prepare_data(DataConfig(dataset="csv", n_samples=30, csv_target="label"), GOOD)
    assert data.n_features == 2 and data.classes == ("no", "yes") and data.points_train is None
    with pytest.raises(PlaygroundError, match="at least"):
        prepare_data(DataConfig(dataset="csv", n_samples=20), b"a,label\n1,0\n2,1\n")
    with pytest.raises(PlaygroundError, match="Upload"):
        prepare_data(DataConfig(dataset="csv", n_samples=20))
