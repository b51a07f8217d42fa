"""The Model Builder's widgets, drawn from the settings registry: one function draws any row, one reads every
row back into a RunConfig, one sets every widget from a RunConfig, and the settings are kept across visits to
other pages. Adding a setting to the registry adds its widget here without a line of this file changing.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from playground import limits
from playground.builder import registry
from playground.builder.config import CSV_DATASET, DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.registry import Setting
from playground.device import available_devices

STATE = st.session_state
SAVED = "mb_saved_settings"  # not a widget key, so Streamlit keeps it while other pages run
LAYER_KEYS = ("mb_width_", "mb_act_")
FEATURE_KEY = "mb_feat_"
LAYERS_KEY = "mb_layers"
NEW_LAYER = (registry.BY_NAME["layers"].default[0], registry.BY_NAME["activations"].default[0])  # width, activation
CSV_TASK_LABELS = {"": "inferred", "classification": "classification", "regression": "regression"}


def label_of(setting: Setting) -> str:
    text = setting.label
    return text[0].upper() + text[1:]


def option_label(setting: Setting, value: Any, task: str = "classification") -> str:
    if setting.name == "loss" and value == registry.AUTO_LOSS:
        return registry.resolve_loss(value, task).label
    if setting.name == "csv_task":
        return CSV_TASK_LABELS.get(value, str(value))
    return setting.format(value)


def draw(setting: Setting, where: Any = None, label: str | None = None, task: str = "classification",
         disabled: bool = False, label_visibility: str = "visible") -> None:
    """The widget of one registry row, bound to its session key (its value is read back by ``read_config``)."""
    where = where if where is not None else st
    key, text, help_text = setting.widget_key, label or label_of(setting), setting.help or None
    common = {"key": key, "help": help_text, "disabled": disabled, "label_visibility": label_visibility}
    kind = setting.widget
    if kind == "select_slider":
        options = sorted(set(setting.steps) | {STATE.get(key, setting.default)})
        where.select_slider(text, options, format_func=lambda v: f"{v:,g}", **common)
    elif kind == "slider":
        where.slider(text, float(setting.low), float(setting.high), step=setting.step, **common)
    elif kind == "number":
        if setting.kind == "int":
            where.number_input(text, min_value=int(setting.low), max_value=int(setting.high), step=int(setting.step or 1),
                               **common)
        else:
            where.number_input(text, min_value=float(setting.low), max_value=float(setting.high),
                               step=float(setting.step or 0.01), format=setting.fmt or "%g", **common)
    elif kind == "checkbox":
        where.checkbox(text, **common)
    elif kind == "toggle":
        where.toggle(text, **common)
    elif kind in ("select", "radio"):
        options = list(setting.options)
        if setting.name == "loss":  # the task's losses; its usual one is "auto", listed once
            options = [o for o in options if o == registry.AUTO_LOSS
                       or (task in registry.LOSSES[o].tasks and o != registry.TASK_LOSS[task])]
        if kind == "radio":
            where.radio(text, options, format_func=lambda v: option_label(setting, v, task), horizontal=True, **common)
        else:
            where.selectbox(text, options, format_func=lambda v: option_label(setting, v, task), **common)
    elif kind == "device":
        devices = available_devices()
        where.selectbox(text, [d.name for d in devices], format_func={d.name: d.label for d in devices}.get, **common)
    else:
        raise AssertionError(f"{setting.name}: the widget {kind!r} is drawn by the page itself")


# ------------------------------------------------------------------------------------------- state <-> config


def widgets_from_config(config: RunConfig) -> list[str]:
    """Set every widget's key from ``config`` (before the widgets are drawn). Returns notes for values a widget
    cannot show (a device this server lacks)."""
    notes: list[str] = []
    values = config.values()
    for setting in registry.SETTINGS:
        value = values[setting.name]
        if setting.widget in ("none", "layers", "features", "csv_target"):
            continue
        if setting.kind == "float":
            value = float(value)
        STATE[setting.widget_key] = value
    data, model = config.data, config.model
    if data.dataset == CSV_DATASET:
        STATE["mb_csv_target"] = data.csv_target or None
    else:
        for feature in registry.FEATURES:
            STATE[FEATURE_KEY + feature] = feature in data.features
    STATE[LAYERS_KEY] = len(model.hidden)
    for i, (width, activation) in enumerate(zip(model.hidden, model.activations, strict=True)):
        STATE[f"mb_width_{i}"] = width
        STATE[f"mb_act_{i}"] = activation
    STATE["mb_lr_changes"] = config.train.lr_changes
    devices = [d.name for d in available_devices()]
    if config.train.device not in devices:
        STATE["mb_device"] = "cpu"
        notes.append(f"This server has no {config.train.device}; the run is set to the CPU.")
    return notes


def value_of(setting: Setting) -> Any:
    """A widget's value as its registry row types it."""
    value = STATE.get(setting.widget_key, setting.default)
    if setting.kind == "int":
        return int(value)
    if setting.kind == "float":
        return float(value)
    if setting.kind == "bool":
        return bool(value)
    return value


def read_config(n_features: int, n_outputs: int, task: str, csv_rows: int | None = None) -> RunConfig:
    """The RunConfig the widgets describe, made canonical (settings that do not apply at their defaults).
    ``n_features``, ``n_outputs`` and ``task`` come from the data. Raises PlaygroundError with a sentence."""
    sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    values = {s.name: value_of(s) for s in registry.SETTINGS}
    values["task"] = task
    for setting in registry.SETTINGS:
        if setting.widget in ("layers", "features", "none", "csv_target"):
            continue
        hidden = not setting.shown(values) and setting.url_key is not None and setting.name not in ("samples", "features")
        sections[setting.section][setting.attr] = setting.default if hidden else values[setting.name]
    data = sections["data"]
    if data["dataset"] == CSV_DATASET:
        data["features"] = ()
        data["n_samples"] = max(limits.MIN_SAMPLES, min(csv_rows or limits.MIN_SAMPLES, limits.MAX_SAMPLES))
        data["csv_name"] = str(STATE.get("mb_csv_name", ""))[: limits.MAX_NAME_CHARS]
        data["csv_target"] = str(STATE.get("mb_csv_target") or "")[: limits.MAX_NAME_CHARS]
    else:
        data["features"] = tuple(f for f in registry.FEATURES if STATE.get(FEATURE_KEY + f))
        data["csv_name"] = data["csv_target"] = data["csv_task"] = ""
    n_layers = int(STATE.get(LAYERS_KEY, 0))
    hidden = tuple(int(STATE.get(f"mb_width_{i}", NEW_LAYER[0])) for i in range(n_layers))
    activations = tuple(STATE.get(f"mb_act_{i}", NEW_LAYER[1]) for i in range(n_layers))
    train = sections["train"]
    train["lr_changes"] = tuple(STATE.get("mb_lr_changes", ()))
    config = RunConfig(
        data=DataConfig(**data),
        model=ModelSpec(in_features=n_features, hidden=hidden, activations=activations, out_features=n_outputs,
                        task=task, dropout=sections["model"]["dropout"]),
        train=TrainConfig(**train),
    )
    return config.canonical()


def _kept(key: str) -> bool:
    return key.startswith(("mb_",)) and (key in WIDGET_KEYS or key.startswith(LAYER_KEYS + (FEATURE_KEY,)))


# The speed is not here: the control bar draws it before these are restored, and keeps it itself (model_builder_bar).
WIDGET_KEYS = frozenset({s.widget_key for s in registry.SETTINGS} | {LAYERS_KEY, "mb_show_test", "mb_discretize",
                                                                       "mb_resume", "mb_lr_changes"})


def save_settings() -> None:
    """A copy of every setting, kept outside the widgets: Streamlit drops a widget's state when a run of another
    page does not draw it, so a visit to Tensor Lab would otherwise reset the builder."""
    STATE[SAVED] = {k: STATE[k] for k in list(STATE.keys()) if _kept(k)}


def restore_settings(defaults: RunConfig) -> list[str]:
    """Put back what Streamlit dropped (see ``save_settings``), and defaults for what was never set. Widgets not
    drawn this run (momentum while Adam is chosen) keep their values the same way."""
    notes: list[str] = []
    for key, value in STATE.get(SAVED, {}).items():
        if key not in STATE:
            STATE[key] = value
    if "mb_dataset" not in STATE:
        notes = widgets_from_config(defaults)
    for setting in registry.SETTINGS:
        if setting.widget not in ("layers", "features", "none", "csv_target"):
            STATE.setdefault(setting.widget_key, setting.default)
    for feature in registry.FEATURES:
        STATE.setdefault(FEATURE_KEY + feature, feature in defaults.data.features)
    for key in list(STATE.keys()):
        if _kept(key):
            STATE[key] = STATE[key]  # re-assign: a widget not drawn this run keeps its value
    return notes
