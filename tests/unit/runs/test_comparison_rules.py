"""The Runs page's rules, each against an oracle built by hand: the tasks offered and their order, the filters'
options, names told apart by seed or by the order kept, colours that wrap after ten, TensorBoard's smoothing at
its edges (weights clamped, gaps, None), the curves' raw and smoothed columns, the overlay's scale and ticks, and
the settings table's extra rows and marks (playground/runs/comparison.py)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ElementTree
from dataclasses import replace

import pytest

from playground.builder.config import RunConfig
from playground.runs import comparison as compare
from playground.runs.store import RunSummary

SVG = "{http://www.w3.org/2000/svg}"


def summary(run_id: str, created_at: float, seed: int = 0, name: str | None = "twin") -> RunSummary:
    base = RunConfig()
    config = replace(base, train=replace(base.train, seed=seed))
    return RunSummary(run_id=run_id, config=config, created_at=created_at, status="finished", device="cpu",
                      duration_s=1.0, best_val_loss=0.5, epochs_run=3, test_metrics={}, name=name)


def test_tasks_come_in_a_fixed_order_and_a_task_without_runs_is_not_offered():
    facets = [("regression", "plane", "adam", 2), ("classification", "circle", "sgd", 1),
              ("classification", "xor", "adam", 0), ("regression", "plane", "sgd", 3)]
    assert list(compare.task_choices(facets).items()) == [("classification", 1), ("regression", 5)]
    assert compare.task_choices([("classification", "xor", "adam", 0)]) == {}
    assert compare.filter_options(facets, "regression") == (["plane"], ["adam", "sgd"])  # sorted, each once
    assert compare.filter_options(facets, "other") == ([], [])


def test_twins_are_told_apart_by_seed_when_seeds_differ_else_by_the_order_kept():
    by_seed = compare.legend_names([summary("bbbbbbbbbbbb", 2.0, seed=7), summary("aaaaaaaaaaaa", 1.0, seed=3)])
    assert by_seed == {"bbbbbbbbbbbb": "twin (seed 7)", "aaaaaaaaaaaa": "twin (seed 3)"}
    same_seed = [summary("cccccccccccc", 5.0), summary("aaaaaaaaaaaa", 9.0), summary("bbbbbbbbbbbb", 5.0)]
    assert compare.legend_names(same_seed) == {"bbbbbbbbbbbb": "twin (1)", "cccccccccccc": "twin (2)",
                                               "aaaaaaaaaaaa": "twin (3)"}  # kept first, ties by id
    partly = [summary("aaaaaaaaaaaa", 1.0, seed=1), summary("bbbbbbbbbbbb", 2.0, seed=1),
              summary("cccccccccccc", 3.0, seed=2)]
    assert sorted(compare.legend_names(partly).values()) == ["twin (1)", "twin (2)", "twin (3)"]
    assert compare.legend_names([summary("aaaaaaaaaaaa", 1.0), summary("bbbbbbbbbbbb", 1.0, name="other")]) == {
        "aaaaaaaaaaaa": "twin", "bbbbbbbbbbbb": "other"}


def test_colours_follow_the_palette_in_the_order_chosen_and_wrap_after_ten():
    ids = [f"{k:012x}" for k in range(12)]
    colours = compare.colours(ids)
    assert [colours[i] for i in ids] == [*compare.PALETTE, compare.PALETTE[0], compare.PALETTE[1]]
    assert compare.origin_label("") == "Model Builder" and compare.origin_label(None) == "Model Builder"
    assert compare.origin_label("sweep: seed 3") == "sweep: seed 3"


def test_smoothing_clamps_its_weight_and_leaves_gaps_as_gaps():
    values = [1.0, 2.0, 4.0]
    assert compare.ema(values, -3) == values  # below 0: as 0
    assert compare.ema(values, 5) == pytest.approx(compare.ema(values, 0.999))  # above: as 0.999, still finite
    assert compare.ema(values, 1.0) == pytest.approx(compare.ema(values, 0.999))
    heavy = compare.ema([0.0, 10.0], 0.999)
    assert heavy[1] == pytest.approx(0.999 * 0.001 * 0 / (1 - 0.999**2) + 0.001 * 10 / (1 - 0.999**2))
    gaps = compare.ema([2.0, None, math.inf, 4.0], 0.5)
    assert gaps[0] == 2.0 and math.isnan(gaps[1]) and math.isnan(gaps[2])
    assert gaps[3] == pytest.approx((0.5 * 0.5 * 2.0 + 0.5 * 4.0) / (1 - 0.25))  # the gap is skipped, not zero
    assert compare.ema([], 0.5) == []


def test_curves_keep_the_raw_values_beside_the_smoothed_ones():
    history = ({"epoch": 1, "train_loss": 1.0, "val_loss": 2.0, "train_acc": True},
               {"epoch": 2, "train_loss": 3, "val_loss": None}, {"train_loss": 5.0, "val_loss": "x"})
    frame = compare.curves({"r": history}, "loss", 0.5)
    train = frame[frame.split == "train"]
    assert train["raw"].tolist() == [1.0, 3.0, 5.0] and train["epoch"].tolist() == [1, 2, 0]  # no epoch: 0
    assert train["value"].tolist() == pytest.approx(compare.ema([1.0, 3.0, 5.0], 0.5))
    val = frame[frame.split == "val"]
    assert val["raw"].tolist()[0] == 2.0 and all(math.isnan(v) for v in val["raw"].tolist()[1:])
    assert compare.curves({"r": history}, "acc", 0.0).empty  # a bool is not an accuracy
    assert list(compare.curves({}, "loss", 0.0).columns) == ["run", "epoch", "split", "value", "raw"]


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)


def axis_labels(svg: ElementTree.Element) -> list[str]:
    return [t.text for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "end" and t.get("font-size") == "10"
            and t.text != "epoch"]


def overlay(histories: dict, metric: str, weight: float = 0.0, names: dict | None = None, colours=None) -> str:
    names = names or {run: run for run in histories}
    return compare.overlay_svg(compare.curves(histories, metric, weight), names,
                               colours if colours is not None else compare.colours(list(names)), metric)


def test_the_value_axis_fits_the_values_and_accuracy_spans_zero_to_one():
    history = ({"epoch": 1, "train_loss": 2.0, "train_acc": 0.5}, {"epoch": 3, "train_loss": 6.0, "train_acc": 0.75})
    loss = parse(overlay({"a": history}, "loss"))
    assert axis_labels(loss) == ["2", "3", "4", "5", "6"]  # four bands from the lowest value to the highest
    assert [t.text for t in loss.iter(f"{SVG}text") if t.get("text-anchor") == "middle"] == ["1", "2", "3"]
    acc = parse(overlay({"a": history}, "acc"))
    assert axis_labels(acc) == ["0", "0.25", "0.5", "0.75", "1"]
    assert "Accuracy per epoch" in "".join(acc.itertext()) and "(log scale)" not in "".join(acc.itertext())
    flat = parse(overlay({"a": ({"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 2.0})}, "loss"))
    assert axis_labels(flat) == ["1.5", "1.75", "2", "2.25", "2.5"]  # one value: half a unit either side
    decade = overlay({"a": ({"epoch": 1, "train_loss": 10.0}, {"epoch": 2, "train_loss": 1.0})}, "loss")
    assert "(log scale)" not in decade  # exactly ten times: linear still
    log = parse(overlay({"a": ({"epoch": 1, "train_loss": 100.0}, {"epoch": 2, "train_loss": 1.0},
                               {"epoch": 3, "train_loss": -1.0})}, "loss"))
    assert axis_labels(log) == ["1", "3.16", "10", "31.6", "100"]
    [curve] = [p for p in log.iter(f"{SVG}polyline") if p.get("class") == "curve"]
    assert len(curve.get("points").split()) == 2  # a loss of 0 or below has no place on a log scale


def test_curve_points_sit_where_their_epoch_and_value_say():
    history = ({"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 4.0}, {"epoch": 3, "train_loss": 6.0})
    svg = parse(overlay({"a": history}, "loss"))
    frame = next(r for r in svg.iter(f"{SVG}rect"))
    x0, y0 = float(frame.get("x")), float(frame.get("y"))
    w, h = float(frame.get("width")), float(frame.get("height"))
    [curve] = [p for p in svg.iter(f"{SVG}polyline") if p.get("class") == "curve"]
    points = [tuple(map(float, p.split(","))) for p in curve.get("points").split()]
    expected = [(x0, y0 + h), (x0 + w / 2, y0 + h / 2), (x0 + w, y0)]
    assert points == [pytest.approx(p, abs=0.06) for p in expected]
    assert x0 + w <= float(svg.get("width")) and y0 + h <= float(svg.get("height"))


def test_the_legend_has_two_names_a_row_under_the_chart_and_long_names_are_cut():
    histories = {run: ({"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}) for run in "abc"}
    names = {"a": "x" * 46, "b": "y" * 47, "c": "c"}
    svg = parse(overlay(histories, "loss", names=names, colours={"a": "#123456"}))
    legend = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "legend"]
    texts = ["".join(g.itertext()) for g in legend]
    assert texts == ["x" * 46, "y" * 45 + "…", "c"]  # the legend's room: 46 characters
    xs = [float(g.find(f"{SVG}text").get("x")) for g in legend]
    ys = [float(g.find(f"{SVG}text").get("y")) for g in legend]
    assert xs[0] == xs[2] < xs[1] and ys[0] == ys[1] < ys[2]
    frame = next(svg.iter(f"{SVG}rect"))
    assert ys[0] > float(frame.get("y")) + float(frame.get("height"))  # under the chart
    assert ys[2] < float(svg.get("height"))  # the chart leaves room for the second row
    strokes = [g.find(f"{SVG}line").get("stroke") for g in legend]
    assert strokes == ["#123456", compare.PALETTE[0], compare.PALETTE[0]]  # a run without a colour: the first
    one = parse(overlay({"a": ({"epoch": 4, "train_loss": 1.0},)}, "loss"))
    [dot] = list(one.iter(f"{SVG}circle"))
    assert dot.get("data-split") == "train" and float(dot.get("cx")) == float(next(one.iter(f"{SVG}rect")).get("x"))


def test_a_run_without_points_is_left_out_of_the_picture_and_its_legend():
    histories = {"a": ({"epoch": 1, "train_loss": 1.0},), "b": ({"epoch": 1, "val_loss": math.nan},)}
    svg = parse(overlay(histories, "loss"))
    assert [g.get("data-run") for g in svg.iter(f"{SVG}g") if g.get("class") == "legend"] == ["a"]


def test_the_settings_table_takes_extra_rows_and_marks_what_differs():
    base = RunConfig()
    other = replace(base, train=replace(base.train, lr=0.1))
    table = compare.hyperparameters({"one": base, "two": other}, extra={"one": {"duration": 1.5},
                                                                        "two": {"duration": 1.5}})
    assert table.loc["duration"].tolist() == ["1.5", "1.5", False]
    assert table.loc["learning rate", "differs"] and not table.loc["batch size", "differs"]
    assert compare.differing(table) == ["learning rate"]
    assert table.loc["architecture", "one"] == "2-8-8-2 tanh"
    momentum = [label for label in table.index if "momentum" in label.lower()]
    assert momentum and all(table.loc[label, "one"] == "—" for label in momentum)  # Adam has no momentum row


def test_the_history_table_puts_the_known_columns_first_then_the_rest_in_order():
    history = ({"lr": 0.1, "val_acc": 0.5, "epoch": 1, "layers": []}, {"epoch": 2, "extra": 3, "lr": 0.05})
    table = compare.history_table(history)
    assert list(table.columns) == ["epoch", "val_acc", "lr", "extra"]
    assert table["extra"].isna().tolist() == [True, False] and table["lr"].tolist() == [0.1, 0.05]
    assert compare.history_json([{"epoch": 1, "train_loss": -math.inf, 2: 1.0}]) == (
        '[\n {\n  "epoch": 1,\n  "train_loss": null,\n  "2": 1.0\n }\n]')


def test_the_settings_table_shows_the_task_each_run_trained_for():
    from playground.builder.config import ModelSpec
    from tests.sample_runs import make_trained

    line = ModelSpec(in_features=2, hidden=(4,), activations=("relu",), out_features=1, task="regression")
    configs = {"c": make_trained(dataset="circle").config, "r": make_trained(line, dataset="plane").config}
    table = compare.hyperparameters(configs)
    assert table.loc["task"].tolist() == ["classification", "regression", True]  # not the CSV's "(inferred)"
    assert "task" in compare.differing(table)


def test_the_scale_ignores_a_diverged_loss_and_a_loss_of_zero_and_turns_log_past_ten_times():
    diverged = parse(overlay({"a": ({"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": math.inf},
                                    {"epoch": 3, "train_loss": 6.0})}, "loss"))
    assert axis_labels(diverged) == ["2", "3", "4", "5", "6"]  # inf is left out of the range
    zero = overlay({"a": ({"epoch": 1, "train_loss": 0.0}, {"epoch": 2, "train_loss": 1.0})}, "loss")
    assert "(log scale)" not in zero and axis_labels(parse(zero)) == ["0", "0.25", "0.5", "0.75", "1"]
    past_ten = overlay({"a": ({"epoch": 1, "train_loss": 10.5}, {"epoch": 2, "train_loss": 1.0})}, "loss")
    assert "(log scale)" in past_ten
    other = parse(overlay({"a": ({"epoch": 1, "train_lr": 0.1}, {"epoch": 2, "train_lr": 0.05})}, "lr"))
    assert "lr per epoch" in "".join(other.itertext())  # a metric without a title is named as given


def test_the_settings_table_has_one_row_a_setting_and_marks_a_value_only_one_run_has():
    from playground.builder import registry

    base = RunConfig()
    table = compare.hyperparameters({"one": base, "two": base}, extra={"two": {"duration": 2.0}})
    labels = list(dict.fromkeys(s.label for s in registry.SETTINGS if s.label != "task"))
    assert list(table.index) == ["architecture", "task", *labels, "duration"]
    assert table.loc["duration", "differs"] and compare.differing(table) == ["duration"]  # one run has none


def frame_box(svg: ElementTree.Element) -> tuple[float, float, float, float]:
    rect = next(svg.iter(f"{SVG}rect"))
    return float(rect.get("x")), float(rect.get("y")), float(rect.get("width")), float(rect.get("height"))


def test_the_overlays_axes_sit_around_the_chart_and_every_text_is_an_element():
    history = ({"epoch": 1, "train_loss": 2.0}, {"epoch": 2, "train_loss": 4.0}, {"epoch": 3, "train_loss": 6.0})
    svg = parse(overlay({"a": history}, "loss"))
    x0, y0, w, h = frame_box(svg)
    width, height = float(svg.get("width")), float(svg.get("height"))
    grid = [line for line in svg.iter(f"{SVG}line") if line.get("stroke") == "#eee"]
    assert [(float(g.get("x1")), float(g.get("x2"))) for g in grid] == [(x0, x0 + w)] * 5  # across the chart
    assert [float(g.get("y1")) for g in grid] == pytest.approx([y0 + h, y0 + 3 * h / 4, y0 + h / 2, y0 + h / 4, y0],
                                                               abs=0.06)  # from the bottom up, four bands
    values = [t for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "end" and t.get("font-size") == "10"
              and t.text != "epoch"]
    assert all(float(t.get("x")) < x0 for t in values)  # left of the chart, each beside its line
    assert [abs(float(t.get("y")) - float(g.get("y1"))) < 6 for t, g in zip(values, grid, strict=True)] == [True] * 5
    ticks = [t for t in svg.iter(f"{SVG}text") if t.get("text-anchor") == "middle"]
    assert all(y0 + h < float(t.get("y")) < height for t in ticks)  # epochs under the chart
    [name] = [t for t in svg.iter(f"{SVG}text") if t.text == "epoch"]
    assert float(name.get("x")) == x0 + w and y0 + h < float(name.get("y")) < height
    assert max(float(t.get("y")) for t in ticks) < float(name.get("y"))
    [key] = [t for t in svg.iter(f"{SVG}text") if "dashed" in (t.text or "")]
    assert key.text == "solid: training · dashed: validation" and 0 < float(key.get("x")) <= width
    titles = [t.text for t in svg.iter(f"{SVG}text") if t.get("font-weight") == "bold"]
    assert titles == ["Loss per epoch"]
    assert all(not (element.tail or "").strip() for element in svg.iter())  # no stray text outside an element
    log = parse(overlay({"a": ({"epoch": 1, "train_loss": 100.0}, {"epoch": 2, "train_loss": 1.0})}, "loss"))
    assert [t.text for t in log.iter(f"{SVG}text") if t.get("font-weight") == "bold"] == ["Loss per epoch (log scale)"]


def test_on_a_log_scale_a_tenfold_fall_moves_the_same_height_and_zero_is_not_drawn():
    history = tuple({"epoch": e, "train_loss": v} for e, v in ((1, 100.0), (2, 10.0), (3, 1.0), (4, 0.0)))
    svg = parse(overlay({"a": history}, "loss"))
    x0, y0, w, h = frame_box(svg)
    [curve] = [p for p in svg.iter(f"{SVG}polyline") if p.get("class") == "curve"]
    ys = [float(p.split(",")[1]) for p in curve.get("points").split()]
    assert ys == pytest.approx([y0, y0 + h / 2, y0 + h], abs=0.06)  # the epoch with a loss of 0 has no point


def test_a_single_epoch_an_empty_chart_and_a_validation_only_run():
    one = parse(overlay({"a": ({"epoch": 4, "train_loss": 1.0},)}, "loss"))
    assert [t.text for t in one.iter(f"{SVG}text") if t.get("text-anchor") == "middle"] == ["4", "5"]
    empty = parse(compare.overlay_svg(compare.curves({}, "loss", 0.0), {}, {}, "loss"))
    assert axis_labels(empty) == ["0", "0.25", "0.5", "0.75", "1"]
    assert [t.text for t in empty.iter(f"{SVG}text") if t.get("text-anchor") == "middle"] == ["1", "2"]
    val_only = parse(overlay({"a": ({"epoch": 1, "val_loss": 1.0}, {"epoch": 2, "val_loss": 0.5})}, "loss",
                             colours={}))
    [curve] = [p for p in val_only.iter(f"{SVG}polyline") if p.get("class") == "curve"]
    assert curve.get("data-split") == "val" and curve.get("stroke") == compare.PALETTE[0]  # no colour given


def test_the_raw_curve_is_drawn_faint_behind_the_smoothed_one_and_only_when_they_differ():
    history = ({"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": None}, {"epoch": 3, "train_loss": 0.2})
    plain = parse(overlay({"a": history}, "loss", 0.0))
    assert [p.get("class") for p in plain.iter(f"{SVG}polyline")] == ["curve"]  # a gap is not a difference
    smooth = parse(overlay({"a": history}, "loss", 0.9))
    raw, curve = list(smooth.iter(f"{SVG}polyline"))  # the raw one first: behind
    assert (raw.get("class"), curve.get("class")) == ("raw", "curve")
    assert float(raw.get("opacity")) < float(curve.get("opacity")) == 1.0
    assert float(raw.get("stroke-width")) < float(curve.get("stroke-width"))


def test_each_legend_entry_is_a_swatch_then_its_name_in_two_columns_and_curves_take_the_runs_colour():
    histories = {run: ({"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5}) for run in "ab"}
    svg = parse(overlay(histories, "loss", colours={"a": "#123456", "b": "#654321"}))
    x0, y0, w, h = frame_box(svg)
    entries = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "legend"]
    for column, entry in enumerate(entries):
        line, text = entry.find(f"{SVG}line"), entry.find(f"{SVG}text")
        x1, x2, tx = float(line.get("x1")), float(line.get("x2")), float(text.get("x"))
        assert x1 == pytest.approx(x0 + column * w / 2, abs=0.06) and x1 < x2 < tx  # swatch, then the name
    curves = {p.get("data-run"): p.get("stroke") for p in svg.iter(f"{SVG}polyline") if p.get("class") == "curve"}
    assert curves == {"a": "#123456", "b": "#654321"}


def test_a_range_of_1e_12_is_drawn_as_it_is_and_a_narrower_one_is_widened():
    kept = parse(overlay({"a": ({"epoch": 1, "train_loss": 0.0}, {"epoch": 2, "train_loss": 1e-12})}, "loss"))
    assert axis_labels(kept) == ["0", "2.5e-13", "5e-13", "7.5e-13", "1e-12"]
    widened = parse(overlay({"a": ({"epoch": 1, "train_loss": 0.0}, {"epoch": 2, "train_loss": 1e-13})}, "loss"))
    assert axis_labels(widened) == ["-0.5", "-0.25", "5e-14", "0.25", "0.5"]  # half a unit either side
