"""The Model Builder's setup in the URL's query string, so a copied link opens the same setup.

One declarative table (``SETTINGS``) names every shareable setting: its query key, where it lives in the
RunConfig, its kind and its range, as the TensorFlow playground's ``state.ts`` does. ``encode`` writes a
RunConfig as query parameters; ``decode`` reads them back. Anything a link can hold is survivable: an
unknown key, a repeated key, a value that is too long, of the wrong type or out of range is ignored or
clamped, and each such change is reported as a note the page shows. A run is opened by ``?run=<id>``, a lesson
(builder/lessons.py) by ``?lesson=<name>``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from playground import limits
from playground.builder import lessons, registry
from playground.builder.config import CSV_DATASET, DataConfig, ModelSpec, RunConfig, TrainConfig, task_of
from playground.builder.registry import Setting
from playground.errors import PlaygroundError

RUN_KEY = "run"
LESSON_KEY = "lesson"  # a lesson's name (builder/lessons.py): its settings first, then the link's own on top
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")

# Every setting that can travel in a link, by its query key: the registry's rows (a CSV and the device cannot).
SETTINGS: tuple[Setting, ...] = tuple(registry.URL_SETTINGS.values())
SETTINGS_BY_NAME = dict(registry.URL_SETTINGS)
KNOWN_KEYS = frozenset(SETTINGS_BY_NAME) | {RUN_KEY, LESSON_KEY}


@dataclass(frozen=True)
class UrlState:
    """What a link asked for: the setup (always valid), a run id if any, and a note for each change made."""

    config: RunConfig
    run_id: str | None = None
    notes: tuple[str, ...] = ()
    given: frozenset[str] = field(default_factory=frozenset)  # the settings the link actually set
    lesson: str | None = None  # the lesson the link opens (its name), if any


def class_count(dataset: str) -> int:
    """Outputs the model needs for a generated dataset: its classes, or 1 for regression."""
    if task_of(dataset) == "regression":
        return 1
    return int(registry.DATASETS[dataset].classes)


# ------------------------------------------------------------------------------------------- encode


def encode(config: RunConfig) -> dict[str, str]:
    """Every shareable setting that applies to ``config`` as query parameters: the link describes what is on
    screen (a CSV dataset cannot travel in a link; settings that do not apply are left out)."""
    params: dict[str, str] = {}
    values = config.values()
    for setting in SETTINGS:
        if setting.section == "data" and config.data.dataset == CSV_DATASET and setting.name in ("dataset", "features"):
            continue
        if not setting.shown(values):
            continue
        params[setting.url_key] = _format(values[setting.name], setting)
    return params


def _format(value: Any, setting: Setting) -> str:
    if setting.kind == "bool":
        return "1" if value else "0"
    if setting.kind == "float":
        return repr(float(value))  # shortest text that reads back to the same float
    if setting.kind in ("choices", "ints"):
        return ",".join(str(v) for v in value)
    return str(value)


# ------------------------------------------------------------------------------------------- decode


def decode(
    params: Mapping[str, Any],
    base: RunConfig | None = None,
    choices: Mapping[str, Sequence[float]] | None = None,
) -> UrlState:
    """The setup a link describes, starting from ``base`` (the defaults) for anything it does not set.

    ``params`` maps each key to a string or a list of strings (a key given several times). A setting whose
    widget offers only some values (its registry ``steps``, e.g. the learning rates) moves a value between them
    to the nearest, with a note; ``choices`` overrides those steps by name. Never raises.
    """
    base = base or RunConfig()
    notes: list[str] = []
    values: dict[str, Any] = {}
    run_id = None
    lesson = None
    keys = list(params.keys())
    if len(keys) > limits.MAX_QUERY_KEYS:
        notes.append(
            f"The link has {len(keys)} settings; only the first {limits.MAX_QUERY_KEYS} were read."
        )
        keys = keys[: limits.MAX_QUERY_KEYS]
    for key in keys:
        raw = _single(key, params[key], notes)
        if raw is None:
            continue
        name = str(key)
        if name not in KNOWN_KEYS:
            notes.append(f"The link's setting {_shown(name)} is not one the playground knows; it was ignored.")
            continue
        if len(raw) > limits.MAX_QUERY_VALUE_CHARS:
            notes.append(
                f"The link's {name} is longer than {limits.MAX_QUERY_VALUE_CHARS:,} characters; it was ignored."
            )
            continue
        if name == RUN_KEY:
            run_id = raw.strip().lower() if re.fullmatch(r"[0-9a-fA-F]{12}", raw.strip()) else None
            if run_id is None:
                notes.append("The link's run is not a run id (12 letters and digits, 0-9 and a-f); it was ignored.")
            continue
        if name == LESSON_KEY:
            lesson = lessons.find(raw)
            if lesson is None:
                notes.append(f"The link's lesson is not one of the playground's ({', '.join(lessons.LESSONS)}); it "
                             "was ignored.")
            continue
        setting = SETTINGS_BY_NAME[name]
        if name == "dataset" and raw.strip().lower() == CSV_DATASET:
            notes.append("A CSV dataset cannot travel in a link; upload the CSV again. The dataset was left as it was.")
            continue
        parsed = _parse(raw, setting, notes)
        steps = (choices or {}).get(name, setting.steps)
        if parsed is not None and steps and setting.kind in ("int", "float"):
            parsed = _nearest(parsed, steps, setting, notes)
        if parsed is not None:
            values[name] = parsed
    if lesson is not None:
        try:
            base = lesson.setup(base)
        except PlaygroundError as exc:  # a base the lesson's settings do not fit: the lesson is not opened
            notes.append(f"The lesson could not be set up ({exc.sentence}); it was ignored.")
            lesson = None
    config = _assemble(values, base, notes)
    return UrlState(config=config, run_id=run_id, notes=tuple(notes), given=frozenset(values),
                    lesson=lesson.name if lesson is not None else None)


def _single(key: Any, value: Any, notes: list[str]) -> str | None:
    """One string per key: the last of a repeated key (as browsers and Streamlit read it), noted."""
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        items = [v for v in value if isinstance(v, str)]
        if not items:
            return None
        if len(items) > 1:
            notes.append(f"The link gives {_shown(str(key))} {len(items)} times; the last one was used.")
        return items[-1]
    return None


def _shown(name: str) -> str:
    """A key as a note may show it: plain letters only, so a hostile link cannot write into the page."""
    return f"'{name}'" if _SAFE_NAME.match(name) else "with an unreadable name"


def _parse(raw: str, setting: Setting, notes: list[str]) -> Any:
    text = raw.strip()
    label = setting.label
    if setting.kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        notes.append(f"The link's {label} must be 1 or 0 (true or false); it was ignored.")
        return None
    if setting.kind == "choice":
        if text.lower() in setting.options:
            return text.lower()
        notes.append(f"The link's {label} is not one of {', '.join(setting.options)}; it was ignored.")
        return None
    if setting.kind in ("int", "float"):
        number = _number(text, setting.kind == "int")
        if number is None:
            notes.append(f"The link's {label} is not a {'whole ' if setting.kind == 'int' else ''}number; it was ignored.")
            return None
        return _clamp(number, setting, notes)
    # Lists: comma-separated.
    items = [item.strip() for item in text.split(",")] if text else []
    if len(items) > setting.max_items:
        notes.append(f"The link lists {len(items)} {label}; only the first {setting.max_items} were kept.")
        items = items[: setting.max_items]
    if setting.kind == "choices":
        kept = []
        for item in items:
            item = item.lower()
            if item not in setting.options:
                notes.append(f"The link's {label} include one that is not one of {', '.join(setting.options)}; it was dropped.")
            elif item in kept and setting.name == "features":
                notes.append(f"The link's {label} name one twice; it was kept once.")
            else:
                kept.append(item)
        return tuple(kept)
    widths = []
    for item in items:
        number = _number(item, True)
        if number is None:
            notes.append(f"The link's {label} must be whole numbers of neurons; one that was not was dropped.")
            continue
        widths.append(_clamp(number, setting, notes))
    return tuple(widths)


def _number(text: str, whole: bool) -> int | float | None:
    if len(text) > limits.MAX_QUERY_NUMBER_CHARS:  # no real number of this playground is longer; refused unparsed
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    if whole:
        if value != int(value):
            return None
        return int(value)
    return value


def _clamp(value: int | float, setting: Setting, notes: list[str]) -> int | float:
    low, high = setting.low, setting.high
    label = "width of a hidden layer" if setting.kind == "ints" else setting.label  # each item of a list of widths
    if low is not None and value < low:
        notes.append(f"The link's {label} {value:g} is below the smallest, {low:g}; it was set to {low:g}.")
        value = low
    elif high is not None and value > high:
        notes.append(f"The link's {label} {value:g} is above the largest, {high:g}; it was set to {high:g}.")
        value = high
    return int(value) if setting.kind in ("int", "ints") else float(value)


def _nearest(value: float, allowed: Sequence[float], setting: Setting, notes: list[str]) -> float:
    """The allowed value closest to ``value`` (on a log scale when all are positive, as rates are)."""
    options = sorted(float(a) for a in allowed)
    if not options or value in options:
        return value
    if value > 0 and options[0] > 0:
        best = min(options, key=lambda a: abs(math.log(a) - math.log(value)))
    else:
        best = min(options, key=lambda a: abs(a - value))
    notes.append(f"The link's {setting.label} {value:g} is not one of the choices; the nearest, {best:g}, was used.")
    return int(best) if setting.kind == "int" else best


def _assemble(values: dict[str, Any], base: RunConfig, notes: list[str]) -> RunConfig:
    """Put the parsed values into ``base``, mending combinations that do not fit together (each noted)."""
    sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}}
    for name, value in values.items():
        setting = SETTINGS_BY_NAME[name]
        sections[setting.section][setting.attr] = value

    data_changes = sections["data"]
    if base.data.dataset == CSV_DATASET and "dataset" not in data_changes:
        data_changes = {k: v for k, v in data_changes.items() if k != "features"}
    if "features" in data_changes and not data_changes["features"]:
        notes.append("The link chose no input features; the current ones were kept.")
        del data_changes["features"]
    train_fraction = data_changes.get("train_fraction", base.data.train_fraction)
    val_fraction = data_changes.get("val_fraction", base.data.val_fraction)
    if train_fraction + val_fraction > 0.95 + 1e-9:
        new_val = max(0.0, round(0.95 - train_fraction, 6))
        notes.append(
            f"The link's training and validation shares add up to more than 95%; "
            f"the validation share was set to {new_val:g}."
        )
        data_changes["val_fraction"] = new_val

    model_changes = sections["model"]
    hidden = model_changes.get("hidden", base.model.hidden)
    activations = model_changes.get("activations", base.model.activations)
    if len(activations) != len(hidden):
        if "activations" in model_changes and len(activations) >= 1:
            fill = activations[-1]
        else:
            fill = activations[-1] if activations else (base.model.activations or ("tanh",))[-1]
        mended = tuple(activations[: len(hidden)]) + (fill,) * max(0, len(hidden) - len(activations))
        if "activations" in model_changes and len(activations) != 1:
            notes.append(
                f"The link gives {len(activations)} activations for {len(hidden)} hidden layers; "
                "they were matched layer by layer."
            )
        model_changes["activations"] = mended
        model_changes["hidden"] = hidden

    try:
        data = replace(base.data, **data_changes)
        dataset = data.dataset
        model_changes.setdefault("hidden", base.model.hidden)
        if dataset != CSV_DATASET:
            model_changes["in_features"] = len(data.features)
            model_changes["task"] = task_of(dataset)
            model_changes["out_features"] = class_count(dataset)
        model = replace(base.model, **model_changes)
        train = replace(base.train, **sections["train"])
        return RunConfig(data=data, model=model, train=train)
    except PlaygroundError as exc:
        notes.append(f"The link's settings do not fit together ({exc.sentence}); the current setup was kept.")
        return base


def defaults() -> RunConfig:
    """The setup a bare link opens: the dataclasses' defaults, with outputs matching the dataset."""
    data = DataConfig()
    model = replace(ModelSpec(), in_features=len(data.features), out_features=class_count(data.dataset),
                    task=task_of(data.dataset))
    return RunConfig(data=data, model=model, train=TrainConfig())
