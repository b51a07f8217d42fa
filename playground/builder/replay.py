"""The Model Builder's epoch line while its replay slider draws an earlier epoch: the epoch drawn and that
epoch's metrics, not the last epoch's."""

from __future__ import annotations

from collections.abc import Sequence


def replayed(replay: int | None, last_epoch: int) -> int | None:
    """The earlier epoch the replay draws, or None when the latest is drawn (no replay, or the slider at its end)."""
    return replay if replay is not None and 0 < replay < last_epoch else None


def epoch_counter(epoch: int, target: int | None = None, replay: int | None = None) -> str:
    """``Epoch 37 / 100 (replay)`` while an earlier epoch is drawn; otherwise ``Epoch 100 / 100`` (out of the
    epochs planned, ``target``) or ``Epoch 100`` where nothing is planned (a kept run)."""
    drawn = replayed(replay, epoch)
    if drawn is not None:
        return f"Epoch {drawn} / {target or epoch} (replay)"
    return f"Epoch {epoch} / {target}" if target else f"Epoch {epoch}"


def history_until(history: Sequence[dict], replay: int | None) -> list[dict]:
    """The per-epoch rows up to the replayed epoch (every row when none is replayed): whose metrics to show."""
    last = int(history[-1]["epoch"]) if history else 0
    drawn = replayed(replay, last)
    return [row for row in history if drawn is None or int(row["epoch"]) <= drawn]
