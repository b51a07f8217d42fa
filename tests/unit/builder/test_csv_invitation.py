"""The invitation the CSV dataset shows before any file: what it says a CSV should look like is what the reader
takes (its example's header, any of the three separators, the target last by default, the row bounds)."""

from __future__ import annotations

import re

import pytest

from playground import limits
from playground.builder.config import DataConfig
from playground.builder.datasets import csv_invitation, prepare_data
from playground.errors import AwaitingInput, PlaygroundError


def test_no_file_is_an_invitation_not_an_error_and_its_bounds_are_the_limits():
    with pytest.raises(AwaitingInput) as caught:
        prepare_data(DataConfig(dataset="csv", features=()), None)
    assert isinstance(caught.value, PlaygroundError) and caught.value.sentence == csv_invitation()
    said = csv_invitation()
    assert f"{limits.MIN_SAMPLES} to {limits.MAX_CSV_ROWS:,} rows" in said
    assert f"at most {limits.MAX_CSV_COLUMNS} columns" in said and f"at most {limits.MAX_CLASSES} labels" in said


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_a_csv_shaped_as_the_invitation_says_is_read_with_its_last_column_as_the_target(separator):
    header, row = re.findall(r"`([^`]+)`", csv_invitation())
    lines = [header.replace(",", separator)]
    species = ("setosa", "versicolor")
    for i in range(limits.MIN_SAMPLES):
        values = row.split(",")
        lines.append(separator.join([f"{float(values[0]) + i * 0.1:.1f}", f"{float(values[1]) - i * 0.05:.2f}",
                                     species[i % 2]]))
    data = prepare_data(DataConfig(dataset="csv", features=()), ("\n".join(lines) + "\n").encode())
    assert data.feature_names == tuple(header.split(",")[:-1]) and data.classes == species
    assert sum(data.sizes) == limits.MIN_SAMPLES
