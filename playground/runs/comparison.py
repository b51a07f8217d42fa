"""The Runs page's computations: a page of the runs table with the columns that fit the task, names for
legends, smoothed curves drawn in distinct colours, the settings of several runs side by side with their
differences marked, and a run's per-epoch history as a table and as JSON.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from playground.builder import registry
from playground.builder.config import RunConfig
from playground.runs.naming import architecture, as_markdown_text

if TYPE_CHECKING:
    from playground.runs.store import RunQuery, RunSummary

# The columns of the runs table, per task: what a classifier and a regression model are judged by.
# (Duration and device are in the settings comparison: the table fits 1440 px without a hidden column.)
# A run's id and where it came from (the Model Builder, or a sweep's member) are columns: a run is found by either.
TASK_COLUMNS = {
    "classification": ("name", "run id", "from", "date", "epochs", "best val loss", "test accuracy", "status",
                       "pinned"),
    "regression": ("name", "run id", "from", "date", "epochs", "best val loss", "test MSE", "test MAE", "status",
                   "pinned"),
}
# Column widths in pixels: every column of either task fits the 886 px a 1280 px window leaves beside the sidebar.
COLUMN_WIDTHS = {"classification": {"name": 200}, "regression": {"name": 130}}
COMMON_WIDTHS = {"run id": 100, "from": 95, "date": 95, "epochs": 60, "best val loss": 100, "test accuracy": 100,
                 "test MSE": 85, "test MAE": 85, "status": 75, "pinned": 60}
TASK_LABELS = {"classification": "Classifiers", "regression": "Regression"}
# Sort choices offered per task (keys of store.SORT_COLUMNS).
TASK_SORTS = {
    "classification": ("date", "name", "test accuracy", "best val loss", "epochs", "learning rate", "duration"),
    "regression": ("date", "name", "test MSE", "test MAE", "best val loss", "epochs", "learning rate", "duration"),
}
# A qualitative palette (d3's category10): neighbours differ in hue, never shades of one colour.
PALETTE = ("#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#17BECF", "#BCBD22", "#7F7F7F")
METRIC_TITLES = {"loss": "Loss", "acc": "Accuracy"}


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def runs_table(summaries: Sequence[RunSummary], task: str = "classification") -> pd.DataFrame:
    """One row a run (indexed by run id), the columns that fit ``task``; numbers stay numbers, and a
    missing one is None (the page shows a dash)."""
    columns = TASK_COLUMNS.get(task, TASK_COLUMNS["classification"])
    names = legend_names(summaries)  # two runs of one setup (Train again) are told apart: "(2)"
    rows = []
    for s in summaries:
        metrics = s.test_metrics or {}
        row = {
            "name": names[s.run_id],
            "run id": s.run_id,
            "from": origin_label(getattr(s, "origin", "")),
            "date": datetime.fromtimestamp(s.created_at, tz=UTC).replace(tzinfo=None),
            "epochs": s.epochs_run,
            "best val loss": _number(s.best_val_loss),
            "test accuracy": _number(metrics.get("accuracy")),
            "test MSE": _number(metrics.get("mse")),
            "test MAE": _number(metrics.get("mae")),
            "status": s.status,
            "pinned": bool(s.pinned),
        }
        rows.append({column: row[column] for column in columns})
    table = pd.DataFrame(rows, columns=list(columns), index=[s.run_id for s in summaries])
    table.index.name = "run"
    return table


def column_widths(task: str) -> dict[str, int]:
    """The width of each column of ``task``'s table, in pixels."""
    widths = {**COMMON_WIDTHS, **COLUMN_WIDTHS.get(task, COLUMN_WIDTHS["classification"])}
    return {column: widths[column] for column in TASK_COLUMNS.get(task, TASK_COLUMNS["classification"])}


def task_choices(facets: Sequence[tuple[str, str, str, int]]) -> dict[str, int]:
    """Runs per task, in a fixed order, only the tasks the owner has."""
    counts: dict[str, int] = {}
    for task in TASK_COLUMNS:
        n = sum(f[3] for f in facets if f[0] == task)
        if n:
            counts[task] = n
    return counts


def filter_options(facets: Sequence[tuple[str, str, str, int]], task: str) -> tuple[list[str], list[str]]:
    """The datasets and optimizers among the owner's runs of ``task``: what the filters offer."""
    datasets = sorted({f[1] for f in facets if f[0] == task})
    optimizers = sorted({f[2] for f in facets if f[0] == task})
    return datasets, optimizers


def no_match_sentence(query: RunQuery, kept: int) -> str:
    """What the Runs page says when its filters match none of the owner's ``kept`` runs: the filters in force
    (the typed text escaped for Markdown, shown as typed) and how to see the runs again."""
    wanted = []
    if query.text.strip():
        wanted.append(f"name or run id contains \u201c{as_markdown_text(query.text.strip())}\u201d")
    for label, values in (("dataset", query.datasets), ("optimizer", query.optimizers)):
        if values:  # as the filter's widget shows them
            wanted.append(f"{label} {' or '.join(as_markdown_text(v) for v in values)}")
    if query.task in TASK_LABELS:
        wanted.append(TASK_LABELS[query.task].lower())
    runs = "run is" if kept == 1 else "runs are"
    return (f"No kept run matches these filters ({'; '.join(wanted)}). Your {kept} kept {runs} still there: change or "
            "clear the filters above to see them.")


def legend_names(summaries: Sequence[RunSummary]) -> dict[str, str]:
    """A name per run for legends and column headers: its label, made unique when two runs share one
    (by their seed where it differs, else by a number)."""
    names: dict[str, str] = {}
    by_label: dict[str, list[RunSummary]] = {}
    for s in summaries:
        by_label.setdefault(s.label, []).append(s)
    for label, group in by_label.items():
        if len(group) == 1:
            names[group[0].run_id] = label
            continue
        seeds = [s.config.train.seed for s in group]
        order = sorted(group, key=lambda s: (s.created_at, s.run_id))  # (1) the first kept, (2) the next
        for s in group:
            suffix = f"seed {s.config.train.seed}" if len(set(seeds)) == len(seeds) else str(order.index(s) + 1)
            names[s.run_id] = f"{label} ({suffix})"
    return names


def origin_label(origin: str | None) -> str:
    """Where a kept run came from, in a few words: the Model Builder (also a run kept before origins were
    recorded), or a sweep's member as the store records it (``naming.sweep_origin``)."""
    return origin or "Model Builder"


def colours(run_ids: Sequence[str]) -> dict[str, str]:
    """A distinct colour a run, in the order the runs were chosen."""
    return {run_id: PALETTE[k % len(PALETTE)] for k, run_id in enumerate(run_ids)}


def ema(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's smoothing: an exponential moving average, debiased so it starts at the first value.

    ``weight`` 0 leaves the curve as it is; near 1 it is very smooth. Non-finite values are left out of
    the average and stay non-finite in the output.
    """
    weight = min(max(float(weight), 0.0), 0.999)
    out: list[float] = []
    last = 0.0
    count = 0
    for value in values:
        if value is None or not math.isfinite(value):
            out.append(math.nan)
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        out.append(last / (1 - weight**count))
    return out


def curves(histories: dict[str, Sequence[dict[str, float]]], metric: str, weight: float) -> pd.DataFrame:
    """Long table (run, epoch, split, value, raw) of one metric ("loss" or "acc"), smoothed per run."""
    rows = []
    for label, history in histories.items():
        for split in ("train", "val"):
            key = f"{split}_{metric}"
            raw = [_as_float(epoch.get(key)) for epoch in history]
            if all(math.isnan(v) for v in raw):
                continue
            for epoch, value, smooth in zip(history, raw, ema(raw, weight), strict=True):
                rows.append({"run": label, "epoch": int(epoch.get("epoch", 0)), "split": split,
                             "value": smooth, "raw": value})
    return pd.DataFrame(rows, columns=["run", "epoch", "split", "value", "raw"])


def _as_float(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


OVERLAY_WIDTH, OVERLAY_HEIGHT = 620, 300
SPLIT_STROKE = {"train": "", "val": " stroke-dasharray='6,4'"}
_SVG_FONT = "font-family='sans-serif'"


def _legend_text(name: str, limit: int = 46) -> str:
    """A run's name as SVG text: escaped (it is the user's text) and cut to the legend's room."""
    return html.escape(name if len(name) <= limit else name[: limit - 1] + "…", quote=True)


def overlay_svg(frame: pd.DataFrame, names: dict[str, str], colour_of: dict[str, str], metric: str,
                width: int = OVERLAY_WIDTH, height: int = OVERLAY_HEIGHT) -> str:
    """Curves of several runs as an SVG picture: a colour a run (named in the legend), solid for training, dashed
    for validation, the raw values faint behind a smoothed curve (TensorBoard's way); the loss on a log scale when
    it spans more than a decade. A picture rather than a Plotly chart: the Runs page opens without Plotly's
    script (bench/RESULTS.md, the Runs page's first open)."""
    title = METRIC_TITLES.get(metric, metric)
    shown = [run_id for run_id in names if not frame[frame["run"] == run_id].empty]
    rows_of_legend = -(-len(shown) // 2)
    left, right, top, bottom = 52, 12, 26, 30 + 16 * rows_of_legend
    inner_w, inner_h = width - left - right, height - top - bottom
    finite = [v for column in ("value", "raw") for v in frame[column] if isinstance(v, float) and math.isfinite(v)]
    positive = [v for v in finite if v > 0]
    log = metric == "loss" and bool(positive) and max(positive) / min(positive) > 10
    if metric == "acc":
        lo, hi = 0.0, 1.0
    elif log:
        lo, hi = math.log10(min(positive)), math.log10(max(positive))
    else:
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    epochs = [int(e) for e in frame["epoch"]] or [1]
    first, last = min(epochs), max(max(epochs), min(epochs) + 1)

    def sx(epoch: float) -> float:
        return left + (epoch - first) / (last - first) * inner_w

    def sy(value: float) -> float:
        v = math.log10(value) if log else value
        return top + (hi - v) / (hi - lo) * inner_h

    def drawable(value: float) -> bool:
        return math.isfinite(value) and (value > 0 or not log)

    scale = " (log scale)" if log else ""
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}'>",
             f"<text x='{left}' y='16' font-size='13' font-weight='bold' {_SVG_FONT}>{title} per epoch{scale}</text>",
             f"<text x='{width - right}' y='16' font-size='11' text-anchor='end' {_SVG_FONT} fill='#555'>"
             "solid: training · dashed: validation</text>",
             f"<rect x='{left}' y='{top}' width='{inner_w}' height='{inner_h}' fill='#fafafa' stroke='#ddd'/>"]
    for k in range(5):  # four bands of the value axis, labelled at each line
        v = lo + (hi - lo) * k / 4
        y = top + inner_h - inner_h * k / 4
        label = 10**v if log else v
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{left + inner_w}' y2='{y:.1f}' stroke='#eee'/>")
        parts.append(f"<text x='{left - 4}' y='{y + 3:.1f}' font-size='10' text-anchor='end' {_SVG_FONT}>{label:.3g}</text>")
    for epoch in sorted({first, last, (first + last) // 2}):
        parts.append(f"<text x='{sx(epoch):.1f}' y='{top + inner_h + 13}' font-size='10' text-anchor='middle' "
                     f"{_SVG_FONT}>{epoch}</text>")
    parts.append(f"<text x='{left + inner_w}' y='{top + inner_h + 25}' font-size='10' text-anchor='end' {_SVG_FONT} "
                 "fill='#555'>epoch</text>")
    for run_id in shown:
        colour = colour_of.get(run_id, PALETTE[0])
        run = frame[frame["run"] == run_id]
        for split in ("train", "val"):
            part = run[run["split"] == split]
            if part.empty:
                continue
            layers = [("value", "1", "2")]
            if any(a != b for a, b in zip(part["value"], part["raw"], strict=True)
                   if math.isfinite(a) and math.isfinite(b)):
                layers.insert(0, ("raw", "0.25", "1.2"))  # smoothed: the raw curve faint behind it
            for column, opacity, stroke in layers:
                points = [(sx(e), sy(v)) for e, v in zip(part["epoch"], part[column], strict=True) if drawable(v)]
                if len(points) == 1:
                    parts.append(f"<circle class='curve' data-run='{run_id}' data-split='{split}' "
                                 f"cx='{points[0][0]:.1f}' cy='{points[0][1]:.1f}' r='2.5' fill='{colour}' "
                                 f"opacity='{opacity}'/>")
                elif points:
                    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                    parts.append(f"<polyline class='{'curve' if column == 'value' else 'raw'}' data-run='{run_id}' "
                                 f"data-split='{split}' points='{path}' fill='none' stroke='{colour}' "
                                 f"stroke-width='{stroke}' opacity='{opacity}'{SPLIT_STROKE[split]}/>")
    for i, run_id in enumerate(shown):  # the legend: two names a row under the chart
        x = left + (i % 2) * (inner_w / 2)
        y = top + inner_h + 42 + 16 * (i // 2)
        colour = colour_of.get(run_id, PALETTE[0])
        parts.append(f"<g class='legend' data-run='{run_id}'><line x1='{x:.1f}' y1='{y - 4}' x2='{x + 18:.1f}' "
                     f"y2='{y - 4}' stroke='{colour}' stroke-width='3'/><text x='{x + 24:.1f}' y='{y}' font-size='11' "
                     f"{_SVG_FONT}>{_legend_text(names[run_id])}</text></g>")
    parts.append("</svg>")
    return "".join(parts)


def hyperparameters(configs: dict[str, RunConfig], extra: dict[str, dict[str, object]] | None = None) -> pd.DataFrame:
    """Each setting of the registry a row (as its row labels and formats it; "—" where it does not apply to a
    run), each run a column, plus a ``differs`` column."""
    columns: dict[str, dict[str, str]] = {}
    for label, config in configs.items():
        column = {"architecture": architecture(config), "task": config.model.task}
        values = config.values()
        for setting in registry.SETTINGS:
            column[setting.label] = setting.format(values[setting.name]) if setting.shown(values) else "—"
        column["task"] = config.model.task  # the CSV's task choice is labelled "task" too: the task it trained for
        for key, value in (extra or {}).get(label, {}).items():
            column[key] = str(value)
        columns[label] = column
    table = pd.DataFrame(columns)
    table["differs"] = table.nunique(axis=1, dropna=False) > 1
    return table


def differing(table: pd.DataFrame) -> list[str]:
    """The settings (row names) whose values are not the same in every run."""
    return [str(name) for name in table.index[table["differs"]]]


HISTORY_ORDER = ("epoch", "train_loss", "val_loss", "train_acc", "val_acc")


def history_table(history: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A run's per-epoch metrics, one row an epoch: epoch, loss and metrics per split (then any others)."""
    keys: list[str] = [key for key in HISTORY_ORDER if any(key in epoch for epoch in history)]
    for epoch in history:
        keys += [str(key) for key in epoch if key not in keys and key != "layers"]  # layers: export.layer_stats_table
    rows = [{key: epoch.get(key) for key in keys} for epoch in history]
    return pd.DataFrame(rows, columns=keys)


def history_json(history: Sequence[dict[str, Any]]) -> str:
    """The same history as JSON (a list of epochs); a non-finite value (a diverged loss) is null."""
    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    return json.dumps([{str(k): clean(v) for k, v in epoch.items()} for epoch in history], indent=1)
