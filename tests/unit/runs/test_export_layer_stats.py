"""The layer statistics download (playground/runs/export.py ``layer_stats_table``), pinned as a kept format: its
columns by name and order, one row per epoch and layer, each cell the recorded number it names, and a blank where
a run did not record a figure (an old run, a layer without bias, a layer that is not ReLU-family)."""

from __future__ import annotations

import io
import math

import pandas as pd

from playground import limits
from playground.runs import export

BINS = limits.LAYER_STATS_BINS
WEIGHT_QUANTILES = ["p00", "p07", "p16", "p31", "p50", "p69", "p84", "p93", "p100"]
GRAD_QUANTILES = ["p00", "p25", "p50", "p75", "p100"]
COLUMNS = (["epoch", "layer", "grad_norm_mean", "grad_norm_last"] + [f"grad_norm_{p}" for p in GRAD_QUANTILES]
           + ["update_ratio", "dead_share"]
           + ["weight_min", "weight_max"] + [f"weight_{p}" for p in WEIGHT_QUANTILES]
           + [f"weight_bin_{k}" for k in range(BINS)]
           + ["bias_min", "bias_max"] + [f"bias_{p}" for p in WEIGHT_QUANTILES]
           + [f"bias_bin_{k}" for k in range(BINS)])


def distribution(start: float) -> dict:
    """A histogram and quantiles as layer_stats.py records them: distinct numbers, so a cell read from the wrong
    place shows."""
    return {"lo": start, "hi": start + 1, "q": [start + k / 100 for k in range(len(WEIGHT_QUANTILES))],
            "counts": [int(start * 10) + k for k in range(BINS)]}


def layer(name: str, start: float, **changes) -> dict:
    record = {"name": name, "grad": {"mean": start + 0.5, "last": start + 0.25,
                                     "q": [start + k / 1000 for k in range(len(GRAD_QUANTILES))]},
              "update_ratio": start / 100, "dead": 0.125, "weight": distribution(start),
              "bias": distribution(start + 2)}
    record.update(changes)
    return record


def expected_row(epoch: int, record: dict) -> dict:
    """The row read off the record by hand: None wherever the record has no number."""
    row = {column: None for column in COLUMNS}
    row.update(epoch=epoch, layer=record["name"], update_ratio=record.get("update_ratio"), dead_share=record.get("dead"))
    grad = record.get("grad") or {}
    row["grad_norm_mean"], row["grad_norm_last"] = grad.get("mean"), grad.get("last")
    for p, value in zip(GRAD_QUANTILES, grad.get("q") or (), strict=False):
        row[f"grad_norm_{p}"] = value
    for part in ("weight", "bias"):
        d = record.get(part) or {}
        row[f"{part}_min"], row[f"{part}_max"] = d.get("lo"), d.get("hi")
        for p, value in zip(WEIGHT_QUANTILES, d.get("q") or (), strict=False):
            row[f"{part}_{p}"] = value
        for k, count in enumerate(d.get("counts") or ()):
            row[f"{part}_bin_{k}"] = count
    return row


def same(a, b) -> bool:
    missing = (a is None or (isinstance(a, float) and math.isnan(a)), b is None or (isinstance(b, float) and math.isnan(b)))
    return missing[0] and missing[1] if any(missing) else a == b


def test_the_columns_are_pinned_and_each_cell_is_the_number_it_names():
    history = [
        {"epoch": 1, "train_loss": 0.9, "layers": [layer("layers.0", 1.0), layer("layers.2", 3.0, dead=None)]},
        {"epoch": 2, "train_loss": 0.8, "layers": [layer("layers.0", 5.0), layer("layers.2", 7.0, bias=None)]},
    ]
    table = export.layer_stats_table(history)
    assert list(table.columns) == COLUMNS
    expected = [expected_row(e["epoch"], record) for e in history for record in e["layers"]]
    assert len(table) == 4
    for got, want in zip(table.to_dict("records"), expected, strict=True):
        assert [column for column in COLUMNS if not same(got[column], want[column])] == []
    assert table.loc[1, "dead_share"] is None or math.isnan(table.loc[1, "dead_share"])  # not ReLU-family: blank
    assert table.loc[3, ["bias_min", "bias_p50", "bias_bin_0"]].isna().all()  # no bias: blank, the weights kept
    assert table.loc[3, "weight_bin_15"] == 70 + 15


def test_a_record_with_fewer_quantiles_fills_the_first_columns_and_leaves_the_rest_blank():
    older = layer("layers.0", 1.0, grad={"mean": 0.5, "last": 0.25, "q": [0.1, 0.2]},
                  weight={"lo": 0.0, "hi": 1.0, "q": [0.3], "counts": [4, 5]})
    row = export.layer_stats_table([{"epoch": 1, "layers": [older]}]).iloc[0]
    assert (row["grad_norm_p00"], row["grad_norm_p25"], row["weight_p00"]) == (0.1, 0.2, 0.3)
    assert all(pd.isna(row.get(column)) for column in ("grad_norm_p50", "grad_norm_p100", "weight_p07"))
    assert (row["weight_bin_0"], row["weight_bin_1"]) == (4, 5) and row["grad_norm_last"] == 0.25


def test_a_layer_without_gradient_quantiles_or_histogram_gets_blanks_not_an_error():
    bare = {"name": "layers.0", "grad": {"mean": 0.5, "last": 0.25}, "update_ratio": 0.01, "dead": None,
            "weight": {"lo": -1.0, "hi": 1.0}}
    table = export.layer_stats_table([{"epoch": 3, "layers": [bare]}])
    assert len(table) == 1
    row = table.iloc[0]
    assert row["epoch"] == 3 and row["layer"] == "layers.0" and row["grad_norm_mean"] == 0.5
    assert row["weight_min"] == -1.0 and row["weight_max"] == 1.0
    blank = [f"grad_norm_{p}" for p in GRAD_QUANTILES] + [f"weight_{p}" for p in WEIGHT_QUANTILES]
    assert [column for column in blank if column not in table.columns or not pd.isna(row[column])] == []
    assert not [column for column in table.columns if "_bin_" in column]  # no histogram recorded: no bin columns


def test_epochs_without_statistics_give_no_rows_and_the_csv_reads_back():
    history = [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.4, "layers": None},
               {"epoch": 3, "train_loss": 0.3, "layers": [layer("layers.0", 2.0)]}]
    table = export.layer_stats_table(history)
    assert table["epoch"].tolist() == [3] and table["layer"].tolist() == ["layers.0"]
    assert export.layer_stats_table([{"epoch": 1, "train_loss": 0.3}]).empty  # an old run: no statistics
    read = pd.read_csv(io.BytesIO(export.to_csv_bytes(table)))
    assert list(read.columns) == COLUMNS and read["weight_p07"][0] == 2.01 and read["grad_norm_p100"][0] == 2.004
