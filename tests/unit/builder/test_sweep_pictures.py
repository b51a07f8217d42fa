"""The Sweeps page's SVG pictures: well-formed, one tile (or cell, or line) a member where the layout puts it,
labelled by its values, the best member marked, values coloured in their order."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from playground.builder import sweep_pictures as draw
from playground.builder.decision_boundary import Heatmap

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def tile(value: int, side: int = 8) -> Heatmap:
    return Heatmap("probability", np.full((side, side), value, dtype=np.uint8), (-6.0, 6.0, -6.0, 6.0))


def luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


@pytest.mark.parametrize("shape, rows, cols", [((3,), 1, 3), ((8,), 1, 8), ((9,), 2, 8), ((64,), 8, 8), ((3, 4), 3, 4),
                                               ((2, 32), 2, 32)])
def test_the_grid_is_the_axes_or_one_axis_in_rows_of_eight(shape, rows, cols):
    r, c, places = draw.grid_layout(shape)
    assert (r, c) == (rows, cols) and len(places) == int(np.prod(shape))
    assert places[0] == (0, 0) and len(set(places)) == len(places) and all(p[0] < r and p[1] < c for p in places)


def test_tiles_of_two_axes_are_labelled_by_their_values_and_the_best_is_marked():
    tiles = [tile(v) for v in range(0, 255, 255 // 6)][:6]
    points = (np.array([[0.0, 0.0], [1.0, -2.0], [9.0, 9.0]]), np.array([0, 1, 1]))  # the last is off the plane
    svg = draw.tiles_svg(tiles, (2, 3), ["learning rate", "seed"], [(0.01, 0.1), (0, 1, 2)],
                         ["training", "diverged", "training", "training", "stopped early", "training"], best=5,
                         chosen=2, points=points)
    root = parse(svg)
    assert len(root.findall(f".//{SVG}image")) == 6
    assert len(root.findall(f".//{SVG}use")) == 6  # the points, drawn once, placed on every tile
    assert len(root.find(f"{SVG}defs").findall(f".//{SVG}circle")) == 2
    words = texts(root)
    for label in ("learning rate ↓", "seed →", "0.01", "0.1", "0", "1", "2", "diverged", "stopped early", "★"):
        assert label in words, label
    frames = [r for r in root.iter(f"{SVG}rect") if r.get("stroke") == draw.BEST_COLOUR]
    assert len(frames) == 1
    x, y = float(frames[0].get("x")), float(frames[0].get("y"))
    images = root.findall(f".//{SVG}image")
    assert float(images[5].get("x")) - x == pytest.approx(2.5) and float(images[5].get("y")) - y == pytest.approx(2.5)
    assert [r for r in root.iter(f"{SVG}rect") if r.get("stroke") == draw.CHOSEN_COLOUR]


def test_tiles_of_one_axis_say_each_value_and_a_plane_less_member_is_grey():
    svg = draw.tiles_svg([tile(10), None, tile(200)], (3,), ["dropout"], [(0.0, 0.1, 0.3)])
    root = parse(svg)
    assert len(root.findall(f".//{SVG}image")) == 2 and "dropout" in texts(root)
    assert {"0", "0.1", "0.3"} <= set(texts(root)) and not root.findall(f".//{SVG}use")


def test_regression_tiles_share_one_colour_scale():
    low = Heatmap("value", np.zeros((4, 4), dtype=np.float32), (-6.0, 6.0, -6.0, 6.0))
    high = Heatmap("value", np.full((4, 4), 10.0, dtype=np.float32), (-6.0, 6.0, -6.0, 6.0))
    a = draw.tiles_svg([low, high], (2,), ["seed"], [(0, 1)])
    b = draw.tiles_svg([low, low], (2,), ["seed"], [(0, 1)])
    first_a = parse(a).findall(f".//{SVG}image")[0].get("href")
    first_b = parse(b).findall(f".//{SVG}image")[0].get("href")
    assert first_a != first_b  # zero is the low end beside ten, the middle when alone


def test_values_are_placed_on_a_log_scale_across_decades_and_linearly_otherwise():
    assert draw.value_positions([0.001, 0.01, 0.1]) == pytest.approx([0.0, 0.5, 1.0])
    assert draw.value_positions([0, 1, 3]) == pytest.approx([0.0, 1 / 3, 1.0])
    assert draw.value_positions([0.5, 0.5]) == [0.5, 0.5]
    assert draw.value_positions([0.0, 0.001, 0.1]) == pytest.approx([0.0, 0.01, 1.0])  # a zero: linear


def rows_of(losses: list[list[float]], accuracy: bool = True) -> list[dict]:
    out = []
    for epoch, values in enumerate(losses, start=1):
        row = {"epoch": epoch, "train_loss": np.array(values) * 1.1, "val_loss": np.array(values, dtype=np.float64)}
        if accuracy:
            row["train_acc"] = row["val_acc"] = 1.0 - np.array(values) / 2
        out.append(row)
    return out


def test_curves_are_one_line_a_member_coloured_in_the_order_of_its_value():
    rows = rows_of([[0.9, 0.8, np.nan], [0.5, 0.4, np.nan], [0.3, 0.2, np.nan]])  # member 2 diverged at once
    svg = draw.curves_svg(rows, [0.001, 0.01, 0.1], "learning rate", (0.001, 0.01, 0.1), best=1)
    root = parse(svg)
    lines = [p for p in root.iter(f"{SVG}polyline") if p.get("stroke") != draw.BEST_COLOUR]
    assert len(lines) == 2 * 2  # loss and accuracy, members 0 and 1
    halos = [p for p in root.iter(f"{SVG}polyline") if p.get("stroke") == draw.BEST_COLOUR]
    assert len(halos) == 2
    words = texts(root)
    assert "validation loss" in words and "validation accuracy" in words and "learning rate:" in words
    colours = [draw.sequential(t * draw.LINE_T_MAX) for t in (0.0, 0.5, 1.0)]
    assert {p.get("stroke") for p in lines} == set(colours[:2])
    assert len({luminance(c) for c in colours}) == 3


def test_curves_fall_back_to_the_training_loss_without_a_validation_split():
    rows = rows_of([[0.9, 0.8], [0.5, 0.4]], accuracy=False)
    for row in rows:
        row["val_loss"] = np.full(2, np.nan)
    words = texts(parse(draw.curves_svg(rows, [0, 1], "seed", (0, 1))))
    assert "training loss" in words and "validation accuracy" not in words
    empty = texts(parse(draw.curves_svg([], [0, 1], "seed", (0, 1))))
    assert any("appears here" in w for w in empty)


def test_many_values_get_a_colour_bar_instead_of_swatches():
    values = [float(v) for v in range(12)]
    words = texts(parse(draw.curves_svg(rows_of([values]), values, "seed", tuple(values))))
    assert "0" in words and "11" in words and "5" not in words


def test_the_metric_heatmap_writes_each_number_and_darkens_the_better():
    values = [0.6, 0.05, np.nan, 0.2]
    svg = draw.metric_grid_svg(values, (2, 2), ["learning rate", "seed"], [(0.01, 0.1), (0, 1)], "final validation loss",
                               higher_is_better=False, best=1)
    root = parse(svg)
    cells = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert len(cells) == 3  # the member without a number is a grey dash
    words = texts(root)
    assert {"0.6", "0.05", "0.2", "—"} <= set(words) and "final validation loss (colour on a log scale)" in words
    by_member = {int(c.find(f"{SVG}title").text.split()[-1]) - 1: c.get("fill") for c in cells}
    assert luminance(by_member[1]) < luminance(by_member[3]) < luminance(by_member[0])  # lower loss, darker
    assert len([r for r in root.iter(f"{SVG}rect") if r.get("stroke") == draw.BEST_COLOUR]) == 1
    accuracy = parse(draw.metric_grid_svg([0.9, 0.6], (2,), ["seed"], [(0, 1)], "accuracy", higher_is_better=True))
    fills = [r.get("fill") for r in accuracy.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert luminance(fills[0]) < luminance(fills[1])  # higher accuracy, darker


@pytest.mark.parametrize("value, text", [(0.0123, "0.0123"), (1.46, "1.46"), (0.00825, "0.0083"), (0.000825, "8.2e-4"),
                                         (123456.0, "1.2e5"), (0.0, "0"), (1.0, "1"), (-0.0005, "-5.0e-4")])
def test_a_cell_writes_its_number_in_a_few_characters(value, text):
    assert draw.compact(value) == text and float(text) == pytest.approx(value, rel=0.06)
