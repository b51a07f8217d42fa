"""The Model Builder's live parts: what run is shown (a training job, a finished or opened run, or the untrained
model of the settings), the epoch line in the control bar redrawn on a timer by a fragment, the network and the
output by another, less often, and the replay of past epochs. Pictures are SVG from playground/builder/pictures.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st
import torch

from playground.builder import pictures
from playground.builder import replay as replay_line
from playground.builder.config import CSV_DATASET, RunConfig
from playground.builder.datasets import PreparedData, expand_features
from playground.builder.decision_boundary import (
    THUMB_SIDE,
    grid_points,
    heatmap,
    layer_weights,
    neuron_thumbnails,
    output_thumbnails,
)
from playground.builder.memo import IdentityMemo
from playground.builder.model import TrainedModel, build_model
from playground.builder.registry import ACTIVATIONS
from playground.execution.jobs import live_phase, pictures_interval, refresh_interval
from playground.execution.server import live_jobs
from views.model_builder_bar import DEFAULT_SPEED, SPEEDS, controller  # noqa: F401 - the speeds, as the page names them

STATE = st.session_state


@dataclass
class Shown:
    """What the live view shows: a job's snapshot, or a kept/loaded/just-finished run, or the untrained model."""

    kind: str  # job | run | untrained
    config: RunConfig | None
    data: PreparedData | None
    status: str = "untrained"
    epoch: int = 0
    target: int = 0
    history: list[dict] = field(default_factory=list)
    view: dict[str, Any] | None = None
    snapshots: tuple[dict[str, Any], ...] = ()
    lr_changes: tuple[tuple[int, float], ...] = ()
    job: Any = None
    snap: Any = None
    run_id: str | None = None
    message: str = ""
    detail: str | None = None
    note: str = ""  # said after the status: a kept run that Play opened instead of training

    @property
    def active(self) -> bool:
        return self.snap is not None and self.snap.active


def cached(name: str, inputs: tuple, build):
    """``build()``, reused while ``inputs`` are the same objects as last time (this session's memo)."""
    return STATE.setdefault("mb_figure_memo", IdentityMemo()).get(name, inputs, build)


def kept_run_id(trained: TrainedModel | None) -> str | None:
    """The run-store id of a run shown, once it has been kept (the Save and load part keeps it)."""
    if trained is None:
        return None
    from views.model_builder_io import fingerprint

    return STATE.get("mb_io_kept", {}).get(fingerprint(trained))


def shown(config: RunConfig | None, data: PreparedData | None) -> Shown:
    """The run the live view shows now."""
    control = controller()
    snap = control.view()
    trained = STATE.get("mb_trained")
    if snap is not None and (snap.active or not isinstance(trained, TrainedModel) or control.collected != snap.id
                             or STATE.get("mb_trained_source") == "trained"):
        cfg, prepared = control.spec, control.data
        return Shown("job", cfg, prepared, snap.status, snap.epoch, control.target(cfg.train.epochs if cfg else 0),
                     snap.history, snap.view if snap.status != "failed" else None, snap.snapshots,
                     snap.lr_changes or (cfg.train.lr_changes if cfg else ()), control.handle, snap,
                     kept_run_id(trained) if isinstance(trained, TrainedModel) and not snap.active else None,
                     snap.message, snap.detail)
    if isinstance(trained, TrainedModel):
        history = list(trained.history)
        epoch = int(history[-1]["epoch"]) if history else 0
        source = STATE.get("mb_trained_source", "trained")
        status = {"loaded": "loaded"}.get(source, trained.status)
        note = STATE.get("mb_reopened_note", "") if source == "reopened" else ""
        return Shown("run", trained.config, data if data is not None and config == trained.config else None, status,
                     epoch, epoch, history, None, (), trained.config.train.lr_changes, run_id=kept_run_id(trained),
                     note=note)
    return Shown("untrained", config, data, "untrained", 0, config.train.epochs if config else 0)


# ------------------------------------------------------------------------------------------------ the views


def model_view(model: torch.nn.Module, cfg: RunConfig, prepared: PreparedData) -> dict:
    """What a model computes: its drawn weights, and over the plane its output and each neuron's."""
    out: dict[str, Any] = {"weights": layer_weights(model)}
    if cfg.data.dataset != CSV_DATASET:
        out["heatmap"] = heatmap(model, cfg.data.features, prepared.standardization, prepared.task)
        out["thumbnails"] = neuron_thumbnails(model, cfg.data.features, prepared.standardization)
        out["outputs"] = output_thumbnails(model, cfg.data.features, prepared.standardization, prepared.task)
    return out


def static_view(item: Shown) -> dict | None:
    """The view of a run not sending views: a kept or loaded run's weights, or the seed's untrained model."""
    cfg, prepared = item.config, item.data
    if cfg is None or prepared is None:
        return None
    trained = STATE.get("mb_trained") if item.kind == "run" else None

    def build() -> dict:
        if isinstance(trained, TrainedModel):
            model = trained.build()
        else:
            torch.manual_seed(cfg.train.seed)
            model = build_model(cfg.model)
        return model_view(model, cfg, prepared)

    return cached("static_view", (cfg, prepared, trained), build)


def view_at(item: Shown, replay: int | None) -> dict | None:
    """The view to draw: the replayed epoch's snapshot (the nearest kept one at or before it), or the latest."""
    if replay is not None and item.snapshots:
        before = [s for s in item.snapshots if s.get("epoch", 0) <= replay]
        return before[-1] if before else item.snapshots[0]
    if item.view is not None:
        return item.view
    return static_view(item)


_INPUT_PICTURES: dict[tuple[str, ...], list[np.ndarray]] = {}  # the same for everyone: made once a server
_INPUT_PICTURES_KEPT = 64  # choices of features kept (each a few KB); the oldest goes first
_INPUT_PICTURES_LOCK = threading.Lock()  # sessions run in threads of one process and share the pictures


def input_pictures(cfg: RunConfig) -> list[np.ndarray] | None:
    """Each input feature over the plane (uint8), drawn inside the network's input nodes and beside the feature
    checkboxes. They depend on the chosen features only, so they are made once a server for each choice (the last
    ``_INPUT_PICTURES_KEPT`` choices kept) and shared, not remade at every rerun."""
    if cfg.data.dataset == CSV_DATASET:
        return None
    features = tuple(cfg.data.features)
    with _INPUT_PICTURES_LOCK:
        made = _INPUT_PICTURES.get(features)
    if made is None:
        values = expand_features(grid_points(THUMB_SIDE), features)
        low, high = values.min(0).values, values.max(0).values
        scaled = (values - low) / torch.where(high > low, high - low, torch.ones_like(high))
        made = [(scaled[:, i] * 255).round().to(torch.uint8).reshape(THUMB_SIDE, THUMB_SIDE).numpy()
                for i in range(values.shape[1])]
        with _INPUT_PICTURES_LOCK:
            while len(_INPUT_PICTURES) >= _INPUT_PICTURES_KEPT:
                _INPUT_PICTURES.pop(next(iter(_INPUT_PICTURES)))
            _INPUT_PICTURES[features] = made
    return made


def status_line(item: Shown, replay: int | None = None) -> str:
    """The epoch counter (the epoch drawn, while the replay shows an earlier one) and what the run is doing."""
    if item.kind == "untrained":
        return "**Epoch 0** · press Play: the pictures show what the untrained model computes"
    label = controller().status_label(item.status)
    if item.kind == "run":
        counter = replay_line.epoch_counter(item.epoch, None, replay)
        if item.status == "loaded":
            return f"**{counter}** · loaded weights: they were not trained here"
        if item.note:
            return f"**{counter}** · {label} · {item.note}"
        named = f" · run {item.run_id}" if item.run_id else ""
        return f"**{counter}** · {label}{named}"
    where = f" on {item.snap.info['device']}" if item.snap is not None and item.snap.info.get("device") else ""
    queue = f" · position {item.snap.queue_position} in the queue" if item.snap is not None and item.snap.queue_position else ""
    named = f" · run {item.run_id}" if item.run_id else ""
    return f"**{replay_line.epoch_counter(item.epoch, item.target, replay)}** · {label}{where}{queue}{named}"


def metrics_line(history: list[dict], replay: int | None = None) -> str:
    """The losses (and accuracy) of the epoch drawn: the last, or the replayed one."""
    history = replay_line.history_until(history, replay)
    if not history:
        return ""
    last = history[-1]
    parts = [f"train loss {last['train_loss']:.4f}"]
    if last.get("val_loss") == last.get("val_loss"):  # not NaN: there is a validation split
        parts.append(f"validation loss {last['val_loss']:.4f}")
    if "val_acc" in last and last["val_acc"] == last["val_acc"]:
        parts.append(f"validation accuracy {last['val_acc']:.3f}")
    elif "train_acc" in last:
        parts.append(f"train accuracy {last['train_acc']:.3f}")
    return " · ".join(parts)


def _position(item: Shown) -> int | None:
    return item.snap.queue_position if item.snap is not None else None


def phase(item: Shown) -> str | None:
    """"training", "waiting" or None: a change of phase redraws the whole page (buttons, results)."""
    return live_phase(item.status, _position(item)) if item.kind == "job" else None


def page_refresh(item: Shown) -> float | None:
    """How often the epoch line is redrawn: every ``REFRESH_TRAINING_S`` while a run trains, seldom while it waits,
    and less often for everyone on a server with many live runs (``jobs.refresh_interval``)."""
    return refresh_interval(item.status, live_jobs(), _position(item)) if item.kind == "job" else None


def pictures_refresh(item: Shown) -> float | None:
    """How often the network and the output are redrawn: every ``REFRESH_PICTURES_S`` while a run trains, whatever
    its speed, and never otherwise. Each fragment run makes the browser re-render the whole page, and one that
    carries the pictures costs it about 1.7 times an epoch line's (measured by bench/training_live.py), so they
    are not redrawn with every epoch line. A run that waits or is paused does not change its pictures: the epoch
    line's fragment reruns the page when it starts, pauses or ends, and that full run draws them."""
    return pictures_interval(item.status, live_jobs(), _position(item)) if item.kind == "job" else None


def network_picture(item: Shown, view: dict | None) -> str:
    cfg = item.config
    spec = cfg.model
    names = item.data.feature_names if item.data is not None else tuple(cfg.data.features)
    output, outputs = None, None
    if view is not None and view.get("outputs") is not None:  # a classifier: each class's probability
        outputs = [pictures.class_probability_rgb(p, k) for k, p in enumerate(view["outputs"])]
    elif view is not None and view.get("heatmap") is not None and spec.out_features in (1, 2):
        output = pictures.heat_rgb(view["heatmap"])
    return cached("network", (view, cfg, item.data), lambda: pictures.network_svg(
        spec.widths, view.get("weights") if view else None, view.get("thumbnails") if view else None, labels=names,
        activations=spec.activations, input_pictures=input_pictures(cfg), output_picture=output,
        output_pictures=outputs, activation_labels=[ACTIVATIONS[a].label for a in spec.activations]))


def output_picture(item: Shown, view: dict | None, show_test: bool, discretize: bool) -> str | None:
    prepared = item.data
    if view is None or view.get("heatmap") is None or prepared is None or prepared.points_train is None:
        return None
    points = [(prepared.points_train.numpy(), prepared.y_train.numpy(), "train")]
    if show_test:
        points.append((prepared.points_test.numpy(), prepared.y_test.numpy(), "test"))
    return cached("boundary", (view, prepared, show_test, discretize), lambda: pictures.boundary_svg(
        view["heatmap"], points, discretize=discretize, classes=prepared.classes))


def curves_picture(item: Shown, replay: int | None) -> str | None:
    """The loss (and accuracy) curves; before any epoch, their empty axes saying what will appear."""
    if item.config is None:
        return None
    history = item.history
    return cached("curves", (item.job, len(history), item.config, replay, item.lr_changes), lambda: pictures.curves_svg(
        history, item.config.model.task, lr_changes=item.lr_changes, marker_epoch=replay,
        total_epochs=max(item.target, len(history))))
