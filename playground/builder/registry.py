"""Every Model Builder setting and every named choice, one row each: the one source of truth.

A ``Setting`` row says all there is to say about one setting: where it lives in the ``RunConfig``, its
type, range and default, how a person sees it (label, help, widget, step), when it is shown, its key in a
link, how it is written in code, whether a sweep may vary it, and since which version it exists. The
widgets, the defaults, the URL, config validation, the Runs comparison, the code panels and ``train.py``
all read these rows. The choices (datasets, input features, activations, optimizers, losses,
regularisations) are rows too; the optimizers' rows are in ``playground/optimizers.py`` (shared with the Autograd
page) and re-exported here. The TensorFlow playground's ``state.ts`` is the model; there it drives only
the URL.

This module imports nothing from the rest of the builder, so every other module may import it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from playground import limits
from playground.optimizers import OPTIMIZERS, OptimizerChoice  # noqa: F401  (re-exported: the rows live there)

# ================================================================================================ choices


@dataclass(frozen=True)
class Choice:
    """One named choice: ``name`` is what a config and a link hold, ``label`` what a person reads."""

    name: str
    label: str
    help: str = ""


@dataclass(frozen=True)
class DatasetChoice(Choice):
    """A dataset: its task, its classes (0 for regression) and the generator in ``datasets`` that makes it."""

    task: str = "classification"
    classes: int = 2
    generator: str = ""  # a function of playground.builder.datasets; "" for an uploaded CSV


@dataclass(frozen=True)
class FeatureChoice(Choice):
    """An input feature built from the two coordinates, as in the TF playground: computed and written alike."""

    code: str = ""  # the expression over x1 and x2, as the code panels and train.py write it
    compute: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None


@dataclass(frozen=True)
class ActivationChoice(Choice):
    module: type[nn.Module] | None = None  # None: the layer stays linear

    @property
    def code(self) -> str | None:
        return f"nn.{self.module.__name__}()" if self.module is not None else None


@dataclass(frozen=True)
class LossChoice(Choice):
    tasks: tuple[str, ...] = ()
    module: type[nn.Module] | None = None

    @property
    def code(self) -> str:
        return f"nn.{self.module.__name__}()"


@dataclass(frozen=True)
class RegularizationChoice(Choice):
    term: str = ""  # the penalty of one weight matrix ``w``, summed over the Linear layers' weights


def _by_name(rows: tuple[Choice, ...]) -> dict[str, Any]:
    names = [row.name for row in rows]
    assert len(set(names)) == len(names), f"two rows share a name: {names}"
    return {row.name: row for row in rows}


CSV = "csv"

DATASETS: dict[str, DatasetChoice] = _by_name((
    DatasetChoice("circle", "Circle", "A disc of one class inside a ring of the other.", "classification", 2,
                  "make_circle"),
    DatasetChoice("xor", "Exclusive or", "One class where x1 and x2 have the same sign.", "classification", 2,
                  "make_xor"),
    DatasetChoice("gaussian", "Two Gaussians", "Two clouds; noise spreads them into each other.",
                  "classification", 2, "make_gaussian"),
    DatasetChoice("spiral", "Spiral", "Two interleaved spirals: hard for a small network.", "classification", 2,
                  "make_spiral"),
    DatasetChoice("spiral3", "Spiral, 3 classes", "Three interleaved spirals.", "classification", 3,
                  "make_spiral3"),
    DatasetChoice("blobs", "Blobs, 3 classes", "Three Gaussian blobs.", "classification", 3, "make_blobs"),
    DatasetChoice("plane", "Plane (regression)", "y = (x1 + x2) / 12 plus noise.", "regression", 0, "make_plane"),
    DatasetChoice("multigauss", "Multi-Gaussian (regression)", "Six signed Gaussian bumps plus noise.",
                  "regression", 0, "make_multigauss"),
    DatasetChoice(CSV, "Upload a CSV", "Your own table: numeric feature columns and a target column.",
                  "classification", 0, ""),
))
GENERATED_DATASETS = tuple(name for name in DATASETS if name != CSV)

FEATURES: dict[str, FeatureChoice] = _by_name((
    FeatureChoice("x1", "x₁", "", "x1", lambda x1, x2: x1),
    FeatureChoice("x2", "x₂", "", "x2", lambda x1, x2: x2),
    FeatureChoice("x1^2", "x₁²", "", "x1 * x1", lambda x1, x2: x1 * x1),
    FeatureChoice("x2^2", "x₂²", "", "x2 * x2", lambda x1, x2: x2 * x2),
    FeatureChoice("x1*x2", "x₁·x₂", "", "x1 * x2", lambda x1, x2: x1 * x2),
    FeatureChoice("sin_x1", "sin x₁", "", "torch.sin(x1)", lambda x1, x2: torch.sin(x1)),
    FeatureChoice("sin_x2", "sin x₂", "", "torch.sin(x2)", lambda x1, x2: torch.sin(x2)),
))

ACTIVATIONS: dict[str, ActivationChoice] = _by_name((
    ActivationChoice("relu", "ReLU", "max(0, x)", nn.ReLU),
    ActivationChoice("tanh", "Tanh", "from -1 to 1", nn.Tanh),
    ActivationChoice("sigmoid", "Sigmoid", "from 0 to 1", nn.Sigmoid),
    ActivationChoice("leaky_relu", "LeakyReLU", "x, or 0.01 x below 0", nn.LeakyReLU),
    ActivationChoice("linear", "Linear", "no activation", None),
))

AUTO_LOSS = "auto"  # the task's usual loss: CrossEntropyLoss for classes, MSELoss for values
LOSSES: dict[str, LossChoice] = _by_name((
    LossChoice("cross_entropy", "CrossEntropyLoss", "Takes logits and int64 class indices.", ("classification",),
               nn.CrossEntropyLoss),
    LossChoice("mse", "MSELoss", "Mean of (output - target)²: large errors count most.", ("regression",),
               nn.MSELoss),
    LossChoice("l1", "L1Loss", "Mean of |output - target|: every error counts alike.", ("regression",), nn.L1Loss),
    LossChoice("huber", "HuberLoss", "Squared for small errors, absolute for large ones (delta 1).",
               ("regression",), nn.HuberLoss),
))
TASK_LOSS = {"classification": "cross_entropy", "regression": "mse"}

REGULARIZATIONS: dict[str, RegularizationChoice] = _by_name((
    RegularizationChoice("none", "None", "", ""),
    RegularizationChoice("l1", "L1", "Adds rate · Σ|w|: pushes weights to exactly 0.", "w.abs().sum()"),
    RegularizationChoice("l2", "L2", "Adds rate · Σw²: keeps weights small.", "w.pow(2).sum()"),
))

TASKS = ("classification", "regression")


def resolve_loss(name: str, task: str) -> LossChoice:
    """The loss a run trains with: ``auto`` is the task's usual one."""
    return LOSSES[TASK_LOSS[task] if name == AUTO_LOSS else name]


# ============================================================================================== settings

LR_STEPS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
SAMPLE_STEPS = (20, 50, 100, 200, 300, 500, 750, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000)
REG_RATE_STEPS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)

Values = Mapping[str, Any]  # setting name -> value, plus "task" (what the data poses)


@dataclass(frozen=True)
class Setting:
    """One setting of the Model Builder, everything about it in one row.

    ``kind`` is int, float, bool, choice (one of ``options``), choices (a tuple of them), ints (a tuple of
    whole numbers, the hidden widths), text (a bounded string) or device ("cpu" or "cuda:<n>"). ``low``/``high`` bound numbers (each item, for ints); ``high_open``
    makes ``high`` itself invalid. ``widget`` names how the view draws it (``steps`` are a select-slider's
    values; a link's value between them moves to the nearest). ``when`` says when it is shown (and so
    applies); an optimizer's own settings are shown while that optimizer is chosen. ``url`` is its key in
    a link (None: it cannot travel in one). ``code`` is how its value is written in the code panels and
    ``train.py`` (``{value}`` is the value's repr). ``since`` is the version that added it: a run's key
    leaves out settings added after the first at their default, so runs kept before keep their keys.
    """

    name: str
    section: str  # data | model | train
    attr: str
    kind: str
    label: str
    default: Any
    help: str = ""
    widget: str = "number"
    low: float | None = None
    high: float | None = None
    high_open: bool = False
    step: float | None = None
    steps: tuple[float, ...] = ()
    options: tuple[str, ...] = ()
    max_items: int = 0
    when: Callable[[Values], bool] | None = None
    url: str | None = ""  # "" means the same as ``name``
    code: str | Callable[[Any], str] = ""
    sweepable: bool = False
    since: int = 1
    fmt: str = ""
    key: str = ""  # the widget's key after "mb_" ("" means the same as ``name``)

    @property
    def url_key(self) -> str | None:
        return self.name if self.url == "" else self.url

    @property
    def widget_key(self) -> str:
        """The Streamlit key of its widget (kept across page visits under the same name)."""
        return f"mb_{self.key or self.name}"

    def code_text(self, value: Any) -> str:
        """How ``value`` appears in code (for the code panels, train.py, and the tests that check both)."""
        if callable(self.code):
            return self.code(value)
        return self.code.format(value=code_literal(value)) if self.code else ""

    def check(self, value: Any) -> str | None:
        """None when ``value`` is valid for this setting, else a sentence saying what is allowed."""
        label = self.label[0].upper() + self.label[1:]
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"{label} must be on or off."
        if self.kind == "choice":
            return None if value in self.options else f"{label} must be one of {', '.join(self.options)}."
        if self.kind in ("int", "float"):
            whole = self.kind == "int"
            if not _number_ok(value, whole):
                return f"{label} must be a {'whole ' if whole else ''}number."
            return self._range_error(label, value)
        if self.kind == "text":
            ok = isinstance(value, str) and len(value) <= limits.MAX_NAME_CHARS
            return None if ok else f"{label} must be text of at most {limits.MAX_NAME_CHARS} characters."
        if self.kind == "schedule":
            ok = isinstance(value, tuple) and len(value) <= limits.MAX_LR_CHANGES and all(
                isinstance(pair, tuple) and len(pair) == 2 and _number_ok(pair[0], True) and 0 <= pair[0] <= limits.MAX_EPOCHS
                and _number_ok(pair[1], False) and limits.MIN_LEARNING_RATE <= pair[1] <= limits.MAX_LEARNING_RATE
                for pair in value)
            return None if ok else (f"The learning-rate changes must be at most {limits.MAX_LR_CHANGES} pairs of an epoch "
                                    "and a rate within the limits.")
        if self.kind == "device":
            ok = isinstance(value, str) and (value == "cpu" or (value.startswith("cuda") and len(value) <= 8))
            return None if ok else "The device must be 'cpu' or a CUDA device such as 'cuda:0'."
        if self.kind in ("choices", "ints"):
            if not isinstance(value, tuple):
                return f"{label} must be a list."
            if self.max_items and len(value) > self.max_items:
                return f"At most {self.max_items} {self.label} are allowed."
            for item in value:
                if self.kind == "choices" and item not in self.options:
                    return f"Unknown {self.label} {item!r}; choose from {', '.join(self.options)}."
                if self.kind == "ints" and (not _number_ok(item, True) or self._range_error(label, item)):
                    return f"Each hidden layer must have a whole number of neurons from {self.low:g} to {self.high:g}."
            return None
        raise AssertionError(f"unknown kind {self.kind}")

    def _range_error(self, label: str, value: float) -> str | None:
        low, high = self.low, self.high
        below = low is not None and value < low
        above = high is not None and (value >= high if self.high_open else value > high)
        if not (below or above):
            return None
        if self.high_open:
            return f"{label} must be from {low:,g} to just below {high:,g}."
        return f"{label} must be from {low:,g} to {high:,g}."

    def shown(self, values: Values) -> bool:
        """Whether the setting applies to the setup ``values`` describes."""
        if self.name in OPTIMIZER_SETTINGS and self.name not in OPTIMIZERS[values.get("optimizer", "adam")].settings:
            return False
        return self.when(values) if self.when is not None else True

    def format(self, value: Any) -> str:
        """The value as a person reads it (tables, notes)."""
        if self.kind == "choice":
            return _choice_label(self.name, value)
        if isinstance(value, tuple):
            return ", ".join(_choice_label(self.name, v) if self.kind == "choices" else str(v) for v in value) or "(none)"
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)


def _number_ok(value: Any, whole: bool) -> bool:
    if isinstance(value, bool):
        return False
    if whole:
        return isinstance(value, int)
    return isinstance(value, (int, float)) and math.isfinite(value)


def code_literal(value: Any) -> str:
    """A value as Python source: floats round-trip, tuples and strings as Python writes them."""
    if isinstance(value, float):
        return repr(value)
    return repr(value) if not isinstance(value, bool) else str(value)


def _not_csv(values: Values) -> bool:
    return values.get("dataset") != CSV


def _regression(values: Values) -> bool:
    return values.get("task") == "regression"


SETTINGS: tuple[Setting, ...] = (
    # ---- data
    Setting("dataset", "data", "dataset", "choice", "dataset", "circle", widget="dataset",
            options=tuple(DATASETS), code=lambda v: f"{DATASETS[v].generator or 'read_table'}(",
            help="Generated 2-D data, or your own CSV."),
    Setting("samples", "data", "n_samples", "int", "number of samples", 500, widget="select_slider",
            low=limits.MIN_SAMPLES, high=limits.MAX_SAMPLES, steps=SAMPLE_STEPS, when=_not_csv,
            code="n_samples={value}", help="How many points the generator makes.", key="n_samples"),
    Setting("noise", "data", "noise", "float", "noise", 0.1, widget="slider", low=0.0, high=1.0, step=0.05,
            when=_not_csv, code="noise={value}", help="How far the points scatter from the pattern."),
    Setting("features", "data", "features", "choices", "input features", ("x1", "x2"), widget="features",
            options=tuple(FEATURES), max_items=len(FEATURES), when=_not_csv,
            help="What the network sees of each point: the coordinates, and products or sines of them."),
    Setting("train", "data", "train_fraction", "float", "training share", 0.6, widget="slider", low=0.1,
            high=0.9, step=0.05, code="train_fraction={value}", help="The share of rows the model trains on.", key="train_fraction"),
    Setting("val", "data", "val_fraction", "float", "validation share", 0.2, widget="slider", low=0.0,
            high=0.8, step=0.05, code="val_fraction={value}",
            help="Rows checked after every epoch; the rest is the test split.", key="val_fraction"),
    Setting("standardize", "data", "standardize", "bool", "standardise features", False, widget="checkbox",
            code="STANDARDIZE = {value}",
            help="Subtract each feature's mean and divide by its standard deviation, both fit on the training split."),
    Setting("standardize_target", "data", "standardize_target", "bool", "standardise the target", False,
            widget="checkbox", when=_regression, code="STANDARDIZE_TARGET = {value}", since=2,
            help="Train on (y - mean) / std of the training split's targets; predictions and test metrics are "
            "turned back into the target's own units. On by default for a CSV with a numeric target."),
    Setting("data_seed", "data", "seed", "int", "data seed", 0, low=0, high=limits.MAX_SEED, step=1,
            code="DATA_SEED = {value}", help="Seeds the generator and the split.", key="data_seed"),
    Setting("csv_name", "data", "csv_name", "text", "CSV file name", "", widget="none", url=None,
            code="CSV_NAME = {value}", help="The uploaded file's name: shown and written into train.py, never a path."),
    Setting("csv_target", "data", "csv_target", "text", "target column", "", widget="csv_target", url=None,
            code="TARGET = {value}", help="The column the model predicts; the numeric others are its inputs."),
    Setting("csv_task", "data", "csv_task", "choice", "task", "", widget="radio", options=("", *TASKS),
            url=None, code="CSV_TASK = {value}",
            help="Inferred: text or a few whole numbers mean classes; other numbers mean regression."),
    # ---- model
    Setting("layers", "model", "hidden", "ints", "hidden layers", (8, 8), widget="layers", low=1,
            high=limits.MAX_LAYER_WIDTH, max_items=limits.MAX_HIDDEN_LAYERS,
            help="The width of each hidden layer, input side first."),
    Setting("activations", "model", "activations", "choices", "activations", ("tanh", "tanh"), widget="layers",
            options=tuple(ACTIVATIONS), max_items=limits.MAX_HIDDEN_LAYERS,
            help="The activation after each hidden layer."),
    Setting("dropout", "model", "dropout", "float", "dropout", 0.0, widget="slider", low=0.0, high=0.8,
            step=0.05, code="nn.Dropout({value})", sweepable=True,
            help="nn.Dropout after each hidden layer: zeroes that share of activations while training; "
            "off in model.eval()."),
    # ---- train
    Setting("optimizer", "train", "optimizer", "choice", "optimizer", "adam", widget="select",
            options=tuple(OPTIMIZERS), code=lambda v: f"torch.optim.{OPTIMIZERS[v].torch_class}(model.parameters()",
            help="How the weights move after each batch."),
    Setting("lr", "train", "lr", "float", "learning rate", 0.03, widget="select_slider",
            low=limits.MIN_LEARNING_RATE, high=limits.MAX_LEARNING_RATE, steps=LR_STEPS, code="lr={value}",
            sweepable=True, help="How big a step the optimizer takes."),
    Setting("momentum", "train", "momentum", "float", "momentum", 0.0, widget="slider", low=0.0, high=0.99,
            step=0.01, code="momentum={value}", sweepable=True,
            help="Keeps part of the last step: speeds along valleys, damps zig-zags."),
    Setting("nesterov", "train", "nesterov", "bool", "Nesterov momentum", False, widget="checkbox",
            code="nesterov={value}", since=2,
            help="Looks ahead along the momentum before taking the gradient (needs momentum above 0)."),
    Setting("alpha", "train", "alpha", "float", "RMSprop's alpha", 0.99, widget="number", low=0.0, high=0.9999,
            step=0.001, fmt="%.4f", code="alpha={value}", since=2,
            help="How slowly RMSprop's average of squared gradients forgets."),
    Setting("beta1", "train", "beta1", "float", "Adam's beta1", 0.9, widget="number", low=0.0, high=0.999,
            step=0.01, fmt="%.3f", code="betas=({value}, ", help="Decay of the running average of gradients."),
    Setting("beta2", "train", "beta2", "float", "Adam's beta2", 0.999, widget="number", low=0.0, high=0.9999,
            step=0.0001, fmt="%.4f", code=", {value})", help="Decay of the running average of squared gradients."),
    Setting("weight_decay", "train", "weight_decay", "float", "weight decay", 0.0, widget="number", low=0.0,
            high=1.0, step=1e-4, fmt="%g", code="weight_decay={value}", sweepable=True,
            help="Shrinks every weight a little each step (AdamW: decoupled from the gradient; its own "
            "default is 0.01)."),
    Setting("batch", "train", "batch_size", "int", "batch size", 10, low=1, high=limits.MAX_BATCH_SIZE, step=1,
            code="batch_size={value}", help="Rows a step; larger than the training split means full batch."),
    Setting("epochs", "train", "epochs", "int", "epochs", 100, low=1, high=limits.MAX_EPOCHS, step=10,
            code="EPOCHS = {value}", help="Passes over the training split."),
    Setting("shuffle", "train", "shuffle", "bool", "shuffle each epoch", True, widget="checkbox",
            code="shuffle={value}", help="A new order of the training rows every epoch."),
    Setting("loss", "train", "loss", "choice", "loss", AUTO_LOSS, widget="select", options=(AUTO_LOSS, *LOSSES),
            when=_regression, code=lambda v: f"criterion = {resolve_loss(v, 'regression').code}", since=2,
            help="What the model minimises. A classifier uses CrossEntropyLoss."),
    Setting("lr_changes", "train", "lr_changes", "schedule", "learning-rate changes", (), widget="none", url=None,
            code=lambda v: f"LR_CHANGES = {dict(v)!r}", since=2,
            help="Learning rates set while the run trained (epochs done, new rate), applied again on a rerun."),
    Setting("reg", "train", "regularization", "choice", "regularisation", "none", widget="select",
            options=tuple(REGULARIZATIONS), code=lambda v: REGULARIZATIONS[v].term,
            help="A penalty on the weights (not biases) added to the training objective."),
    Setting("reg_rate", "train", "reg_rate", "float", "regularisation rate", 0.0, widget="select_slider",
            low=0.0, high=1.0, steps=REG_RATE_STEPS, when=lambda v: v.get("reg", "none") != "none",
            code="{value} * sum(", sweepable=True, help="How strongly the penalty counts."),
    Setting("keep_best", "train", "keep_best", "bool", "keep the best validation epoch", False,
            widget="checkbox", when=lambda v: v.get("val", 0.2) > 0, code="KEEP_BEST = {value}", since=2,
            help="Early stopping: stop once the validation loss has not improved for `patience` epochs, then "
            "put back the weights of the best epoch."),
    Setting("patience", "train", "patience", "int", "patience", 10, low=1, high=limits.MAX_EPOCHS, step=1,
            when=lambda v: bool(v.get("keep_best")) and v.get("val", 0.2) > 0, code="PATIENCE = {value}", since=2,
            help="Epochs without a better validation loss before training stops."),
    Setting("seed", "train", "seed", "int", "seed", 0, low=0, high=limits.MAX_SEED, step=1, sweepable=True,
            code="SEED = {value}", help="torch.manual_seed(seed) before the model is built; it also seeds the shuffling."),
    Setting("device", "train", "device", "device", "device", "cpu", widget="device", url=None,
            code="DEVICE = {value}", help="Where the model trains."),
    Setting("deterministic", "train", "cudnn_deterministic", "bool", "cudnn.deterministic", True,
            widget="checkbox", code="torch.backends.cudnn.deterministic = {value}",
            help="True: the same result every run (on a GPU).", key="cudnn_det"),
    Setting("benchmark", "train", "cudnn_benchmark", "bool", "cudnn.benchmark", False, widget="checkbox",
            code="torch.backends.cudnn.benchmark = {value}",
            help="True: cuDNN tries kernels and keeps the fastest; faster, but results can change from run to run.", key="cudnn_bench"),
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}
BY_ATTR: dict[tuple[str, str], Setting] = {(s.section, s.attr): s for s in SETTINGS}
OPTIMIZER_SETTINGS = frozenset(name for row in OPTIMIZERS.values() for name in row.settings) - {"lr"}
URL_SETTINGS: dict[str, Setting] = {s.url_key: s for s in SETTINGS if s.url_key}
SWEEPABLE = tuple(s for s in SETTINGS if s.sweepable)

assert len(BY_NAME) == len(SETTINGS) and len(BY_ATTR) == len(SETTINGS)


def section_settings(section: str) -> tuple[Setting, ...]:
    return tuple(s for s in SETTINGS if s.section == section)


def default(section: str, attr: str) -> Any:
    """The registry's default for a config field (the dataclasses take their defaults from here)."""
    return BY_ATTR[(section, attr)].default


def _choice_label(name: str, value: Any) -> str:
    table = {"dataset": DATASETS, "features": FEATURES, "activations": ACTIVATIONS, "optimizer": OPTIMIZERS,
             "reg": REGULARIZATIONS}.get(name)
    if name == "loss":
        return "the task's usual loss" if value == AUTO_LOSS else LOSSES[value].label if value in LOSSES else str(value)
    if table is not None and value in table:
        return table[value].label
    return str(value) if value != "" else "(inferred)"
