"""Readable names for kept runs: ``circle · 2-8-8-2 tanh · Adam 0.03`` by default, or a name the owner typed.

The store keeps the default name beside the run (to search and sort by it) and a typed name when there is
one; the Runs page shows the typed name first.
"""

from __future__ import annotations

import unicodedata

from playground import limits
from playground.builder import registry
from playground.builder.config import RunConfig
from playground.errors import PlaygroundError


def architecture(config: RunConfig) -> str:
    """Widths input to output with the activation, e.g. ``2-8-8-2 tanh`` (``2-8 tanh-4 relu-3`` when mixed)."""
    model = config.model
    widths = [model.in_features, *model.hidden, model.out_features]
    if not model.hidden:
        return f"{model.in_features}-{model.out_features} linear"
    if len(set(model.activations)) == 1:
        return "-".join(str(w) for w in widths) + f" {model.activations[0]}"
    inner = [f"{width} {activation}" for width, activation in zip(model.hidden, model.activations, strict=True)]
    return "-".join([str(model.in_features), *inner, str(model.out_features)])


def dataset_label(config: RunConfig) -> str:
    """The dataset's name; an uploaded table by its file name."""
    if config.data.dataset == "csv" and config.data.csv_name:
        return config.data.csv_name
    return config.data.dataset


def optimizer_label(config: RunConfig) -> str:
    """``Adam 0.03``: the optimizer as torch.optim spells it, and the learning rate."""
    row = registry.OPTIMIZERS.get(config.train.optimizer)
    name = row.label if row is not None else config.train.optimizer
    return f"{name} {config.train.lr:g}"


def default_name(config: RunConfig) -> str:
    """``circle · 2-8-8-2 tanh · Adam 0.03``: dataset, architecture, optimizer and learning rate."""
    return " · ".join((dataset_label(config), architecture(config), optimizer_label(config)))[: limits.MAX_RUN_NAME_CHARS]


def sweep_origin(member_label: str) -> str:
    """Where a sweep's member kept as a run came from: ``sweep: learning rate 10, seed 3`` (what the Runs page's
    "from" column shows; a run from the Model Builder has none)."""
    return f"sweep: {member_label}"[: limits.MAX_RUN_NAME_CHARS]


def clean_name(text: object) -> str:
    """A name typed by the owner: one line of printable text, trimmed, at most ``MAX_RUN_NAME_CHARS``.

    An empty name means "back to the default name" and is returned as "".
    """
    if not isinstance(text, str):
        raise PlaygroundError("A run's name is text.")
    if len(text) > limits.MAX_RUN_NAME_CHARS * 4:
        raise PlaygroundError(f"A run's name is at most {limits.MAX_RUN_NAME_CHARS} characters.")
    printable = "".join(" " if unicodedata.category(ch)[0] in "CZ" else ch for ch in text)
    name = " ".join(printable.split())
    if len(name) > limits.MAX_RUN_NAME_CHARS:
        raise PlaygroundError(f"A run's name is at most {limits.MAX_RUN_NAME_CHARS} characters; this one has {len(name)}.")
    return name


_MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!|<>~$:=")


def as_markdown_text(text: str) -> str:
    """A name (the user's text) made safe to put inside a markdown message: every character markdown or
    Streamlit's directives (``:red[...]``, ``:material/...:``) would read is backslash-escaped, so an image
    link or a colour directive is shown as the characters typed."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in " ".join(str(text).split()))
