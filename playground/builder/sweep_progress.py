"""A sweep's progress as its job streams it, and read back member by member.

The worker sends one row an epoch for all the members together: ``{"epoch": e, "train_loss": array, "val_loss":
array}`` (and ``train_acc``, ``val_acc`` for a classifier), each a float64 array with one entry a member, NaN where
that member did not train that epoch (it had diverged or stopped early). 64 members of 2,000 epochs stay a few MB,
where a dict a member and epoch would take tens. A view holds each member's boundary over the plane (a small
``Heatmap``; None off the plane), each member's status and the sentence that says why it stopped.

``member_history(rows, i)`` gives member i's history in a run's own rows (``EpochResult.as_row``), the same rows its
single run would have; ``final_metrics`` and ``best_member`` give what the page's heatmap and mark show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from playground import limits
from playground.builder.config import ModelSpec
from playground.builder.datasets import PLANE, expand_features, standardize
from playground.builder.decision_boundary import Heatmap, grid_points, heatmap
from playground.builder.instability import Instability, unstable
from playground.builder.model import build_model
from playground.builder.sweep_layer_stats import layer_names, member_layers

if TYPE_CHECKING:
    from playground.builder.sweep import MemberEpoch, SweepTrainer

METRICS = ("train_loss", "val_loss", "train_acc", "val_acc")
TRAINING, DIVERGED, STOPPED_EARLY = "training", "diverged", "stopped early"  # SweepTrainer.status's words


# ------------------------------------------------------------------------------------------------ rows


def epoch_row(epoch: int, members: int, results: Sequence[MemberEpoch], classification: bool,
              layers: np.ndarray | None = None) -> dict[str, Any]:
    """One epoch of every member as one row (see the module's docstring) from ``SweepTrainer.run_epoch``'s results;
    ``layers``: the epoch's per-layer statistics of every member (``SweepTrainer.last_layers``), when recorded."""
    keys = METRICS if classification else METRICS[:2]
    row: dict[str, Any] = {"epoch": int(epoch)}
    for key in keys:
        row[key] = np.full(members, np.nan)
    for item in results:
        if item.result is None:
            continue
        kept = item.result.as_row()
        for key in keys:
            row[key][item.member] = kept.get(key, math.nan)
    if layers is not None:
        row["layers"] = layers
    return row


def trained_in(row: dict[str, Any], member: int) -> bool:
    """Whether ``member`` trained in the epoch of ``row`` (a run's train loss is finite in every row it keeps)."""
    return bool(np.isfinite(row["train_loss"][member]))


def member_history(rows: Sequence[dict[str, Any]], member: int, spec: ModelSpec | None = None) -> list[dict[str, Any]]:
    """Member ``member``'s history in the rows its single run keeps: epoch, train_loss, val_loss (NaN without a
    validation split) and, for a classifier, train_acc and val_acc; given the member's model ``spec``, its layers'
    statistics too (``layers``) in the epochs that recorded them, as its run keeps them."""
    names = layer_names(spec) if spec is not None else None
    history = []
    for row in rows:
        if not trained_in(row, member):
            continue
        out: dict[str, float] = {"epoch": int(row["epoch"]), "train_loss": float(row["train_loss"][member]),
                                 "val_loss": float(row["val_loss"][member])}
        if "train_acc" in row:
            out["train_acc"] = float(row["train_acc"][member])
            out["val_acc"] = float(row["val_acc"][member])
        if names is not None and row.get("layers") is not None:
            layers = member_layers(row["layers"], member, names)
            if layers:
                out["layers"] = layers
        history.append(out)
    return history


def metric_matrix(rows: Sequence[dict[str, Any]], key: str, members: int) -> np.ndarray:
    """One metric of every member over the epochs: [epochs, members], NaN where a member did not train."""
    if not rows or key not in rows[0]:
        return np.full((len(rows), members), np.nan)
    return np.stack([np.asarray(row[key], dtype=np.float64) for row in rows]).reshape(len(rows), members)


def final_metrics(rows: Sequence[dict[str, Any]], members: int, keep_best: bool = False) -> dict[str, np.ndarray]:
    """Each metric of each member at its last epoch (NaN for a member that never finished one); keeping the best
    validation epoch, at that epoch instead (the first of equal ones, as a run keeps it), since those are the
    weights the member keeps. Also ``epoch``."""
    out = {key: np.full(members, np.nan) for key in ("epoch", *METRICS)}
    if not rows:
        return out
    trained = np.isfinite(metric_matrix(rows, "train_loss", members))
    pick = len(rows) - 1 - trained[::-1].argmax(0)  # each member's last epoch
    if keep_best:
        val = metric_matrix(rows, "val_loss", members)
        score = np.where(trained & np.isfinite(val), val, np.inf)
        pick = np.where(np.isfinite(score).any(0), score.argmin(0), pick)
    has = trained.any(0)
    columns = np.arange(members)
    epochs = np.array([row["epoch"] for row in rows], dtype=np.float64)
    out["epoch"] = np.where(has, epochs[pick], np.nan)
    for key in METRICS:
        if key in rows[0]:
            out[key] = np.where(has, metric_matrix(rows, key, members)[pick, columns], np.nan)
    return out


def ranking_metric(metrics: dict[str, np.ndarray]) -> str:
    """What "best" means: the lowest validation loss, or the lowest training loss where there is no validation split."""
    return "val_loss" if np.isfinite(metrics["val_loss"]).any() else "train_loss"


def best_member(metrics: dict[str, np.ndarray], statuses: Sequence[str]) -> int | None:
    """The member with the lowest final validation loss (training loss without a validation split) among those
    that did not diverge; the first on a tie; None when there is none."""
    values = metrics[ranking_metric(metrics)]
    candidates = [i for i, status in enumerate(statuses) if status != DIVERGED and np.isfinite(values[i])]
    if not candidates:
        return None
    return min(candidates, key=lambda i: (values[i], i))


def worst_member(metrics: dict[str, np.ndarray], statuses: Sequence[str]) -> int | None:
    """The member that did worst: the first that diverged, else the highest final loss (the ranking's); None
    when fewer than two members have anything to compare."""
    values = metrics[ranking_metric(metrics)]
    diverged = [i for i, status in enumerate(statuses) if status == DIVERGED]
    finite = [i for i in range(len(values)) if np.isfinite(values[i]) and i not in diverged]
    if len(diverged) + len(finite) < 2:
        return None
    return diverged[0] if diverged else max(finite, key=lambda i: (values[i], -i))


def last_layers(rows: Sequence[dict[str, Any]], member: int, spec: ModelSpec) -> dict[str, Any] | None:
    """Member ``member``'s last epoch that recorded its layers' statistics, as a run's row (``epoch``,
    ``layers``: what ``layer_pictures.gradient_flow_svg`` draws); None before one did."""
    names = None
    for row in reversed(rows):
        if row.get("layers") is None:
            continue
        names = names or layer_names(spec)
        layers = member_layers(row["layers"], member, names)
        if layers:
            return {"epoch": int(row["epoch"]), "layers": layers}
    return None


def member_run_status(job_status: str, member_status: str) -> str:
    """A member's status as a run of its own: diverged, finished (also when it stopped early, as a run keeping its
    best epoch does), or stopped when the sweep was stopped before its end."""
    if member_status == DIVERGED:
        return "diverged"
    if member_status == STOPPED_EARLY or job_status == "finished":
        return "finished"
    return "stopped"


def outcome_sentence(statuses: Sequence[str]) -> str:
    """What happened to the members, in a sentence ("" when every member trained to the end)."""
    total = len(statuses)
    diverged = sum(1 for s in statuses if s == DIVERGED)
    early = sum(1 for s in statuses if s == STOPPED_EARLY)
    parts = []
    if diverged:
        parts.append(f"{diverged} of {total} models diverged and stopped alone (lower their learning rate or "
                     "regularisation rate); the others trained on")
    if early:
        parts.append(f"{early} of {total} stopped early, each keeping the weights of its best validation epoch")
    return ("; ".join(parts) + ".") if parts else ""


def unstable_members(rows: Sequence[dict[str, Any]], configs: Sequence[Any]) -> list[Instability | None]:
    """Each member's loss that swings or climbs while staying finite (``instability.unstable`` over its own
    history, with its optimizer and learning rate for the fix); None for a member whose loss settled. ``configs``:
    the members' RunConfigs (``SweepConfig.members``)."""
    return [unstable(member_history(rows, i), c.train.optimizer, c.train.lr) for i, c in enumerate(configs)]


def unstable_sentence(found: Sequence[Instability | None]) -> str:
    """The members whose loss swings or climbs, in a sentence ("" when none does)."""
    flagged = sum(1 for f in found if f is not None)
    if not flagged:
        return ""
    return (f"{flagged} of {len(found)} models finished with a loss that swings or climbs instead of settling "
            "(marked \"unstable\" below): their learning rate is too large for their optimizer; try smaller rates, "
            "or Adam.")


ALL_DIVERGED_SENTENCE = ("Every model of the sweep diverged (its loss became NaN or infinite): lower the learning "
                         "rates or the regularisation rates and sweep again. Each keeps its last finite weights.")


# ------------------------------------------------------------------------------------------------ views


def _heatmap(out: torch.Tensor, side: int, task: str) -> Heatmap:
    """One member's outputs over the plane's grid as a compact Heatmap (as ``decision_boundary.heatmap`` makes it)."""
    extent = (-PLANE, PLANE, -PLANE, PLANE)
    out = out.float().cpu()
    if task == "regression":
        return Heatmap("value", out[:, 0].reshape(side, side).numpy().astype(np.float32), extent)
    probs = torch.softmax(out, dim=1)
    if probs.shape[1] == 2:
        values = (probs[:, 1].clamp(0, 1) * 255).round().to(torch.uint8)
        return Heatmap("probability", values.reshape(side, side).numpy(), extent)
    confidence, cls = probs.max(dim=1)
    return Heatmap("class", cls.to(torch.uint8).reshape(side, side).numpy(), extent,
                   confidence=(confidence.clamp(0, 1) * 255).round().to(torch.uint8).reshape(side, side).numpy())


def member_tiles(trainer: SweepTrainer, features: Sequence[str] | None, standardization: dict | None,
                 kept: dict[int, Heatmap], side: int = limits.SWEEP_TILE_SIDE) -> list[Heatmap | None]:
    """Each member's boundary (or regression surface) over the plane: the members still training in one batched
    forward on the sweep's device; a member that stopped once, from its kept weights, remembered in ``kept``
    (its weights no longer change). None for every member when the inputs are not a plane (a CSV)."""
    members = len(trainer.configs)
    if not features:
        return [None] * members
    tiles: list[Heatmap | None] = [None] * members
    active = trainer.active
    if active:
        X = standardize(expand_features(grid_points(side), tuple(features)), standardization)
        out = trainer.outputs(X)
        for row, member in enumerate(active):
            tiles[member] = _heatmap(out[row], side, trainer.task)
    for member in range(members):
        if member in active:
            continue
        if member not in kept:
            model = build_model(trainer.configs[member].model)
            model.load_state_dict(trainer.state_dict_cpu(member))
            kept[member] = heatmap(model, tuple(features), standardization, trainer.task, side=side)
        tiles[member] = kept[member]
    return tiles


def sweep_view(trainer: SweepTrainer, features: Sequence[str] | None, standardization: dict | None,
               kept: dict[int, Heatmap]) -> dict[str, Any]:
    """What the page draws of a sweep now: the epoch, each member's tile, status and sentence."""
    return {"epoch": trainer.epoch, "tiles": member_tiles(trainer, features, standardization, kept),
            "status": list(trainer.status), "reasons": list(trainer.reason)}
