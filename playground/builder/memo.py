"""A memo for values built from objects that do not change: reused while the inputs are the very same objects.

The Model Builder's live view is redrawn on a timer, but the figures only change when the worker sends a new
view (a few times a second) or the history grows; between those, and all the while a run waits or is paused,
the page reuses what it built. Inputs are compared by identity (``is``), not equality: a new view is a new
object even when it holds equal numbers, and comparing large arrays would cost what the memo saves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class IdentityMemo:
    """One slot per name: ``get(name, inputs, build)`` returns the slot's value if ``inputs`` are the same
    objects as last time, else builds, stores and returns a new one. Holding the inputs keeps their ids
    from being reused by other objects."""

    def __init__(self) -> None:
        self._slots: dict[str, tuple[tuple, Any]] = {}
        self.builds = 0

    def get(self, name: str, inputs: tuple, build: Callable[[], Any]) -> Any:
        hit = self._slots.get(name)
        if hit is not None and len(hit[0]) == len(inputs) and all(a is b for a, b in zip(hit[0], inputs, strict=True)):
            return hit[1]
        value = build()
        self.builds += 1
        self._slots[name] = (tuple(inputs), value)
        return value
