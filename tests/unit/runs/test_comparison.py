"""The Runs page's computations: the table per task, names and colours for legends, TensorBoard smoothing,
settings side by side, the history as a table and JSON, and readable run names."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from playground.builder.config import ModelSpec
from playground.errors import PlaygroundError
from playground.runs import comparison as compare
from playground.runs import naming
from playground.runs.store import SqliteRunStore
from tests.sample_runs import make_trained

REGRESSION = ModelSpec(in_features=2, hidden=(4,), activations=("relu",), out_features=1, task="regression")


@pytest.fixture
def summaries(tmp_path):
    store = SqliteRunStore(tmp_path)
    store.save(make_trained(seed=1, lr=0.03, optimizer="adam"))
    store.save(make_trained(seed=2, lr=0.01, optimizer="sgd", dataset="blobs"))
    wide = ModelSpec(in_features=2, hidden=(16,), activations=("relu",), out_features=3)
    store.save(make_trained(wide, seed=3, lr=0.1, optimizer="sgd"))
    store.save(make_trained(REGRESSION, seed=4, dataset="plane"))
    return store.list()


def test_the_table_has_the_columns_of_its_task_and_numbers_stay_numbers(summaries):
    classifiers = [s for s in summaries if s.task == "classification"]
    table = compare.runs_table(classifiers, "classification")
    assert list(table.columns) == list(compare.TASK_COLUMNS["classification"]) and len(table) == 3
    assert list(table.index) == [s.run_id for s in classifiers]
    assert table["test accuracy"].dtype.kind == "f" and table["best val loss"].dtype.kind == "f"
    assert table["test accuracy"].tolist() == pytest.approx([s.test_metrics["accuracy"] for s in classifiers])
    assert set(table["name"]) == {"spiral3 · 2-8 tanh-4 relu-3 · Adam 0.03", "blobs · 2-8 tanh-4 relu-3 · SGD 0.01",
                                  "spiral3 · 2-16-3 relu · SGD 0.1"}
    [regressor] = [s for s in summaries if s.task == "regression"]
    table = compare.runs_table([regressor], "regression")
    assert "test accuracy" not in table.columns
    assert table["test MSE"].iloc[0] == pytest.approx(regressor.test_metrics["mse"])
    assert table["test MAE"].iloc[0] == pytest.approx(regressor.test_metrics["mae"])


def test_tasks_and_filter_options_come_from_the_facets():
    facets = [("classification", "circle", "adam", 2), ("classification", "xor", "sgd", 1), ("regression", "plane", "adam", 4)]
    assert compare.task_choices(facets) == {"classification": 3, "regression": 4}
    assert compare.filter_options(facets, "classification") == (["circle", "xor"], ["adam", "sgd"])
    assert compare.task_choices(facets[:1]) == {"classification": 2}


def test_default_names_say_dataset_architecture_optimizer_and_lr():
    run = make_trained(ModelSpec(in_features=2, hidden=(8, 8), activations=("tanh", "tanh"), out_features=2),
                       dataset="circle", lr=0.03)
    assert naming.default_name(run.config) == "circle · 2-8-8-2 tanh · Adam 0.03"
    mixed = make_trained(seed=0, lr=0.1, optimizer="sgd")
    assert naming.default_name(mixed.config) == "spiral3 · 2-8 tanh-4 relu-3 · SGD 0.1"
    line = make_trained(ModelSpec(in_features=2, hidden=(), activations=(), out_features=1, task="regression"),
                        dataset="plane")
    assert naming.architecture(line.config) == "2-1 linear"


@pytest.mark.parametrize(("typed", "kept"), [("  a\tb\n c ", "a b c"), ("", ""), ("x\x00y\u202ez", "x y z"),
                                             ("é" * 120, "é" * 120)])
def test_names_typed_by_the_owner_are_cleaned(typed, kept):
    assert naming.clean_name(typed) == kept


@pytest.mark.parametrize("bad", ["x" * 121, "x" * 10_000, None, 5])
def test_names_too_long_or_not_text_are_refused(bad):
    with pytest.raises(PlaygroundError):
        naming.clean_name(bad)


def test_legend_names_are_unique_and_colours_distinct(summaries):
    twins = [summaries[0], summaries[0].__class__(**{**summaries[0].__dict__, "run_id": "aaaaaaaaaaaa"})]
    names = compare.legend_names(twins)
    assert len(set(names.values())) == 2 and all(n.startswith(summaries[0].label) for n in names.values())
    seeds = compare.legend_names(summaries)
    assert seeds == {s.run_id: s.label for s in summaries}  # distinct labels stay as they are
    colours = compare.colours([f"{k:012x}" for k in range(8)])
    assert len(set(colours.values())) == 8


SVG = "{http://www.w3.org/2000/svg}"


def test_overlay_svg_names_runs_escapes_them_and_dashes_validation():
    import xml.etree.ElementTree as ElementTree

    histories = {"a": make_trained(seed=1, epochs=4).history, "b": make_trained(seed=2, epochs=4).history}
    names = {"a": "<a href='x'>click</a>", "b": "plain"}
    colours = compare.colours(["a", "b"])
    svg = ElementTree.fromstring(compare.overlay_svg(compare.curves(histories, "loss", 0.0), names, colours, "loss"))
    legend = {g.get("data-run"): "".join(g.itertext()) for g in svg.iter(f"{SVG}g") if g.get("class") == "legend"}
    assert legend == names  # the user's text, escaped in the markup (it parsed), shown as typed; one entry a run
    curves = [line for line in svg.iter(f"{SVG}polyline") if line.get("class") == "curve"]
    assert {(c.get("data-run"), c.get("data-split"), c.get("stroke-dasharray")) for c in curves} == {
        ("a", "train", None), ("a", "val", "6,4"), ("b", "train", None), ("b", "val", "6,4")}
    assert {c.get("stroke") for c in curves if c.get("data-run") == "a"} == {colours["a"]}
    assert len(curves[0].get("points").split()) == 4  # an epoch a point
    assert not [line for line in svg.iter(f"{SVG}polyline") if line.get("class") == "raw"]  # unsmoothed: no raw

    smoothed = ElementTree.fromstring(compare.overlay_svg(compare.curves(histories, "loss", 0.9), names, colours,
                                                          "loss"))
    raw = [line for line in smoothed.iter(f"{SVG}polyline") if line.get("class") == "raw"]
    assert len(raw) == 4 and {line.get("opacity") for line in raw} == {"0.25"}  # the raw curves faint behind
    texts = " ".join(t.text or "" for t in smoothed.iter(f"{SVG}text"))
    assert "Loss per epoch" in texts and "dashed: validation" in texts


def test_overlay_svg_puts_a_loss_that_spans_decades_on_a_log_scale():
    history = tuple({"epoch": e, "train_loss": 10.0 ** -e} for e in range(1, 5))
    svg = compare.overlay_svg(compare.curves({"a": history}, "loss", 0.0), {"a": "a"}, {"a": "#000"}, "loss")
    assert "(log scale)" in svg and ">0.0001<" in svg and ">0.1<" in svg
    flat = compare.overlay_svg(compare.curves({"a": history[:1]}, "loss", 0.0), {"a": "a"}, {"a": "#000"}, "loss")
    assert "(log scale)" not in flat and "<circle" in flat  # one epoch: a dot


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
    regression = make_trained(REGRESSION, dataset="plane")
    assert compare.curves({"r": regression.history}, "acc", 0.5).empty  # no accuracy for regression


def test_settings_side_by_side_mark_the_differences(summaries):
    configs = {s.run_id: s.config for s in summaries[1:]}
    table = compare.hyperparameters(configs)
    differ = compare.differing(table)
    assert {"learning rate", "optimizer", "dataset", "hidden layers", "activations", "architecture", "seed"} <= set(differ)
    assert "batch size" not in differ and "noise" not in differ
    single = compare.hyperparameters({summaries[0].run_id: summaries[0].config})
    assert compare.differing(single) == []


def test_history_as_a_table_and_as_json():
    run = make_trained(seed=1, epochs=3)
    history = (*run.history, {"epoch": 4, "train_loss": math.inf, "val_loss": math.nan, "train_acc": 0.5,
                              "val_acc": 0.5, "lr": 0.01})
    table = compare.history_table(history)
    assert list(table.columns) == ["epoch", "train_loss", "val_loss", "train_acc", "val_acc", "lr"]
    assert table["train_loss"].tolist()[:3] == [e["train_loss"] for e in run.history]
    parsed = json.loads(compare.history_json(history))  # strict JSON: a diverged loss is null
    assert parsed[:3] == [dict(e) for e in run.history]
    assert parsed[3]["train_loss"] is None and parsed[3]["val_loss"] is None and parsed[3]["lr"] == 0.01


def test_each_tasks_columns_have_a_width_and_fit_beside_the_sidebar():
    for task in ("classification", "regression"):
        widths = compare.column_widths(task)
        assert list(widths) == list(compare.TASK_COLUMNS[task])
        assert sum(widths.values()) <= 886  # what a 1280 px window leaves beside the sidebar
    assert compare.column_widths("regression")["name"] < compare.column_widths("classification")["name"]
    assert compare.column_widths("other") == compare.column_widths("classification")  # an unknown task: the default


def test_no_match_names_each_filter_in_force_and_how_many_runs_are_kept():
    from playground.runs.store import RunQuery

    query = RunQuery(task="regression", datasets=("plane", "my*data"), optimizers=("adam", "sgd"), text="  my [run] ")
    assert compare.no_match_sentence(query, 3) == (
        "No kept run matches these filters (name or run id contains \u201cmy \\[run\\]\u201d; dataset plane or "
        "my\\*data; optimizer adam or sgd; regression). Your 3 kept runs are still there: change or clear the filters "
        "above to see them.")
    assert compare.no_match_sentence(RunQuery(task="classification", text="   "), 1) == (
        "No kept run matches these filters (classifiers). Your 1 kept run is still there: change or clear the "
        "filters above to see them.")
    assert compare.no_match_sentence(RunQuery(task="other", optimizers=("sgd",)), 2).startswith(
        "No kept run matches these filters (optimizer sgd). Your 2 kept runs are")


def test_a_rows_date_pinned_and_missing_numbers_are_what_the_store_kept(summaries, monkeypatch):
    import time

    pinned = summaries[1].__class__(**{**summaries[1].__dict__, "pinned": 1, "test_metrics": {"accuracy": math.nan},
                                       "best_val_loss": math.inf})
    monkeypatch.setenv("TZ", "America/New_York")  # a server in another zone still shows UTC
    time.tzset()
    try:
        table = compare.runs_table([summaries[0], pinned], "classification")
    finally:
        monkeypatch.undo()
        time.tzset()
    first = table.loc[summaries[0].run_id]
    utc = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(summaries[0].created_at))  # shown in UTC, whatever the zone
    assert first["date"].strftime("%Y-%m-%d %H:%M:%S") == utc and first["date"].tzinfo is None
    assert table["pinned"].dtype == bool and table["pinned"].tolist() == [False, True]
    assert first["epochs"] == summaries[0].epochs_run and first["status"] == summaries[0].status
    row = table.loc[pinned.run_id]
    assert pd.isna(row["test accuracy"]) and pd.isna(row["best val loss"])  # a dash
    assert table.index.name == "run" and compare.runs_table([], "regression").columns.tolist() == list(
        compare.TASK_COLUMNS["regression"])
    assert list(compare.runs_table(summaries[:1], "other").columns) == list(compare.TASK_COLUMNS["classification"])
