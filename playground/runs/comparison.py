"""The Runs page's computations: the table of kept runs, filters and sorting, smoothed curves, and the
hyperparameters of several runs side by side with their differences marked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import pandas as pd

from playground.builder.config import RunConfig
from playground.runs.store import RunSummary
from playground.runs.url_state import SETTINGS

TABLE_COLUMNS = (
    "run", "date", "dataset", "architecture", "optimizer", "lr", "batch", "epochs", "best val loss",
    "test accuracy", "test MSE", "device", "duration (s)", "status",
)
SORTABLE = TABLE_COLUMNS[1:]


def architecture(config: RunConfig) -> str:
    """Widths and activations, input to output, e.g. ``2 → 8 tanh → 8 tanh → 2``."""
    model = config.model
    inner = [f"{width} {activation}" for width, activation in zip(model.hidden, model.activations, strict=True)]
    return " → ".join([str(model.in_features), *inner, str(model.out_features)])


def run_label(summary: RunSummary) -> str:
    """How a run is named in pickers and legends: its id, dataset and architecture."""
    return f"{summary.run_id} · {summary.config.data.dataset} · {architecture(summary.config)}"


def runs_table(summaries: Sequence[RunSummary]) -> pd.DataFrame:
    """One row a run, the columns the Runs page shows (numbers stay numbers, so they sort as numbers)."""
    rows = []
    for s in summaries:
        metrics = s.test_metrics or {}
        rows.append({
            "run": s.run_id,
            "date": datetime.fromtimestamp(s.created_at, tz=UTC).replace(tzinfo=None),
            "dataset": s.config.data.dataset,
            "architecture": architecture(s.config),
            "optimizer": s.config.train.optimizer,
            "lr": s.config.train.lr,
            "batch": s.config.train.batch_size,
            "epochs": s.epochs_run,
            "best val loss": _number(s.best_val_loss),
            "test accuracy": _number(metrics.get("accuracy")),
            "test MSE": _number(metrics.get("mse")),
            "device": s.device,
            "duration (s)": round(s.duration_s, 2),
            "status": s.status,
        })
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def filter_and_sort(
    table: pd.DataFrame,
    datasets: Iterable[str] = (),
    optimizers: Iterable[str] = (),
    text: str = "",
    sort_by: str = "date",
    descending: bool = True,
) -> pd.DataFrame:
    """Rows whose dataset and optimizer are among those chosen (all when none) and whose run id or
    architecture contains ``text``; sorted by one column, missing values last."""
    datasets, optimizers = list(datasets), list(optimizers)
    keep = pd.Series(True, index=table.index)
    if datasets:
        keep &= table["dataset"].isin(datasets)
    if optimizers:
        keep &= table["optimizer"].isin(optimizers)
    text = (text or "").strip().lower()[:100]
    if text:
        keep &= table["run"].str.lower().str.contains(text, regex=False) | table["architecture"].str.lower().str.contains(
            text, regex=False
        )
    result = table[keep]
    if sort_by in table.columns:
        result = result.sort_values(sort_by, ascending=not descending, na_position="last", kind="stable")
    return result.reset_index(drop=True)


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
            raw = [float(epoch.get(key, math.nan)) for epoch in history]
            if all(math.isnan(v) for v in raw):
                continue
            for epoch, value, smooth in zip(history, raw, ema(raw, weight), strict=True):
                rows.append({"run": label, "epoch": int(epoch.get("epoch", 0)), "split": split,
                             "value": smooth, "raw": value})
    return pd.DataFrame(rows, columns=["run", "epoch", "split", "value", "raw"])


def hyperparameters(configs: dict[str, RunConfig], extra: dict[str, dict[str, object]] | None = None) -> pd.DataFrame:
    """Each setting a row, each run a column (as text), plus a ``differs`` column."""
    columns: dict[str, dict[str, str]] = {}
    for label, config in configs.items():
        column = {"architecture": architecture(config), "task": config.model.task}
        for setting in SETTINGS:
            value = getattr(getattr(config, setting.section), setting.attr)
            if isinstance(value, tuple):
                value = ", ".join(str(v) for v in value) or "(none)"
            elif isinstance(value, float):
                value = f"{value:g}"
            column[setting.label] = str(value)
        for key, value in (extra or {}).get(label, {}).items():
            column[key] = str(value)
        columns[label] = column
    table = pd.DataFrame(columns)
    table["differs"] = table.nunique(axis=1, dropna=False) > 1
    return table


def differing(table: pd.DataFrame) -> list[str]:
    """The settings (row names) whose values are not the same in every run."""
    return [str(name) for name in table.index[table["differs"]]]
