"""The Runs page's computations: table, filters and sorting, TensorBoard smoothing, settings side by side."""

from __future__ import annotations

import math

import pytest

from playground.builder.config import ModelSpec
from playground.runs import comparison as compare
from playground.runs.store import SqliteRunStore
from tests.sample_runs import make_trained


@pytest.fixture
def summaries(tmp_path):
    store = SqliteRunStore(tmp_path)
    store.save(make_trained(seed=1, lr=0.03, optimizer="adam"))
    store.save(make_trained(seed=2, lr=0.01, optimizer="sgd", dataset="blobs"))
    wide = ModelSpec(in_features=2, hidden=(16,), activations=("relu",), out_features=3)
    store.save(make_trained(wide, seed=3, lr=0.1, optimizer="sgd"))
    return store.list()


def test_table_has_a_row_a_run_with_numbers_as_numbers(summaries):
    table = compare.runs_table(summaries)
    assert list(table.columns) == list(compare.TABLE_COLUMNS)
    assert len(table) == 3
    assert table["lr"].dtype.kind == "f" and table["best val loss"].dtype.kind == "f"
    assert set(table["architecture"]) == {"2 → 8 tanh → 4 relu → 3", "2 → 16 relu → 3"}


def test_filter_and_sort(summaries):
    table = compare.runs_table(summaries)
    assert list(compare.filter_and_sort(table, optimizers=["sgd"], sort_by="lr", descending=False)["lr"]) == [0.01, 0.1]
    assert list(compare.filter_and_sort(table, datasets=["blobs"])["dataset"]) == ["blobs"]
    assert list(compare.filter_and_sort(table, text="16 RELU")["architecture"]) == ["2 → 16 relu → 3"]
    assert list(compare.filter_and_sort(table, sort_by="lr")["lr"]) == [0.1, 0.03, 0.01]
    assert len(compare.filter_and_sort(table, text="(.*")) == 0  # text is literal, never a regex


def test_ema_matches_tensorboard():
    assert compare.ema([1.0, 2.0, 3.0], 0.0) == [1.0, 2.0, 3.0]
    smooth = compare.ema([1.0, 2.0, 3.0], 0.5)
    assert smooth[0] == 1.0  # debiased: starts at the first value
    assert smooth[1] == pytest.approx((0.25 + 1.0) / 0.75)
    with_gap = compare.ema([1.0, math.nan, 3.0], 0.5)
    assert math.isnan(with_gap[1]) and with_gap[2] == pytest.approx((0.25 + 1.5) / 0.75)
    assert compare.ema([5.0] * 10, 0.99) == pytest.approx([5.0] * 10)


def test_curves_are_smoothed_per_run_and_split():
    histories = {"a": make_trained(seed=1, epochs=4).history, "b": make_trained(seed=2, epochs=2).history}
    frame = compare.curves(histories, "loss", 0.0)
    assert len(frame) == 4 * 2 + 2 * 2
    assert list(frame[(frame.run == "a") & (frame.split == "train")]["value"]) == [
        e["train_loss"] for e in histories["a"]
    ]
    regression = make_trained(ModelSpec(in_features=2, hidden=(4,), activations=("relu",), out_features=1,
                                        task="regression"), dataset="plane")
    assert compare.curves({"r": regression.history}, "acc", 0.5).empty  # no accuracy for regression


def test_settings_side_by_side_mark_the_differences(summaries):
    configs = {s.run_id: s.config for s in summaries}
    table = compare.hyperparameters(configs)
    differ = compare.differing(table)
    assert {"learning rate", "optimizer", "dataset", "hidden layers", "activations", "architecture", "seed"} <= set(differ)
    assert "batch size" not in differ and "noise" not in differ
    single = compare.hyperparameters({summaries[0].run_id: summaries[0].config})
    assert compare.differing(single) == []
