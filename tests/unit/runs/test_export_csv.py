"""The one CSV writer: formula cells neutralised (text and headers), numbers kept as numbers."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from playground.runs import export


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                                  "\tx", "\rx"])
def test_formula_cells_get_a_leading_quote(cell):
    text = export.to_csv_bytes(pd.DataFrame({"label": [cell], "value": [1.0]})).decode()
    read = pd.read_csv(io.StringIO(text), keep_default_na=False)
    assert read["label"][0] == "'" + cell
    assert read["value"][0] == 1.0


def test_numbers_headers_and_plain_text():
    table = pd.DataFrame({"=evil": ["cat", "dog"], "error": [-0.5, 2.0], "count": [-3, 4]})
    text = export.to_csv_bytes(table).decode()
    read = pd.read_csv(io.StringIO(text))
    assert list(read.columns) == ["'=evil", "error", "count"]
    assert read["error"].tolist() == [-0.5, 2.0] and read["count"].tolist() == [-3, 4]  # negatives stay numbers
    assert read["'=evil"].tolist() == ["cat", "dog"]


def test_the_index_is_neutralised_when_written():
    table = pd.DataFrame({"x": [1, 2]}, index=pd.Index(["=1+1", "ok"], name="@row"))
    read = pd.read_csv(io.StringIO(export.to_csv_bytes(table, index=True).decode()))
    assert list(read.columns) == ["'@row", "x"] and read["'@row"].tolist() == ["'=1+1", "ok"]


def test_the_neutraliser_leaves_other_values_alone():
    assert export.neutralise_cell(-1.5) == -1.5 and export.neutralise_cell(None) is None
    assert export.neutralise_cell("a=b") == "a=b" and export.neutralise_cell("") == ""


def test_numbers_and_dates_are_written_as_pandas_writes_them():
    import numpy as np

    table = pd.DataFrame({
        "prediction": np.array([0.1, -0.2, 0.3], dtype=np.float32),  # a model's output: float32 prints as 0.1
        "loss": [1.5, float("nan"), -2.0], "epoch": [1, 2, 3], "kept": [True, False, True],
        "when": pd.to_datetime(["2026-01-01 00:00:00", "2026-01-02 03:04:05", None]),
    })
    written = export.to_csv_bytes(table).decode()
    assert written == table.to_csv(index=False, lineterminator="\r\n")  # no cell here needs neutralising
    assert written.split("\r\n")[1] == "0.1,1.5,1,True,2026-01-01 00:00:00"
