"""The shape picture: its colours mean one thing each, the legend names what is drawn, labels fit."""

from __future__ import annotations

import itertools
import re

import pytest

from playground.tensors.shape_picture import (
    PART_COLOURS,
    ROLE_COLOURS,
    joined_rows,
    legend_entries,
    reduced_rows,
    reshaped_rows,
    shape_picture,
)


def rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def distance(a: str, b: str) -> float:
    return sum((x - y) ** 2 for x, y in zip(rgb(a), rgb(b), strict=True)) ** 0.5


def test_cat_inputs_never_reuse_a_legend_colour():
    """Issue 11: the cat inputs were drawn in the legend's "reduced" and "reshaped" colours."""
    for part, (role, colour) in itertools.product(PART_COLOURS, ROLE_COLOURS.items()):
        assert distance(part, colour) > 80, (part, role, colour)
    for a, b in itertools.combinations(PART_COLOURS, 2):
        assert distance(a, b) > 80, (a, b)


def test_the_legend_names_what_the_picture_draws():
    svg = shape_picture(joined_rows(((2, 1, 3), (2, 3, 3), (2, 2, 3)), (2, 6, 3), 1))
    legend = re.findall(r'data-legend="([^"]+)" [^>]*fill="([^"]+)"', svg)
    assert [name for name, _ in legend] == ["kept", "x", "y", "z"]
    assert [colour for _, colour in legend[1:]] == list(PART_COLOURS)
    assert "reduced" not in [name for name, _ in legend] and "reshaped" not in [name for name, _ in legend]
    fills = set(re.findall(r'data-role="part" [^>]*fill="([^"]+)"', svg))
    assert fills == set(PART_COLOURS)
    inputs, outputs = reduced_rows(((2, 3),), (2,), 1, False)
    assert [name for name, _ in legend_entries(inputs + outputs)] == ["kept", "reduced"]


@pytest.mark.parametrize("shape", [(1, 1, 1, 1, 1, 1), (10000,), (2, 5000)])
def test_labels_never_run_into_the_blocks(shape):
    svg = shape_picture(reshaped_rows((shape,), shape))
    label_x = [float(x) for x in re.findall(r'<text x="([\d.]+)" y="[\d.]+" fill="#333" font-weight="bold">', svg)]
    first_block = min(float(x) for x in re.findall(r'<rect data-role="reshaped" data-size="\d+" x="([\d.]+)"', svg))
    label = f"x {list(shape)}"
    assert label_x and label_x[0] + 8 * len(label) <= first_block
    width = float(re.search(r'width="([\d.]+)"', svg).group(1))
    ends = [float(x) + float(w) for x, w in re.findall(r'<rect data-role="\w+" data-size="\d+" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', svg)]
    assert max(ends) <= width
