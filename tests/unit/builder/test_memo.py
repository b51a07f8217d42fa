"""The live view's memo: a value is rebuilt exactly when one of its inputs is a different object."""

from __future__ import annotations

import numpy as np

from playground.builder.memo import IdentityMemo


def test_the_same_objects_reuse_the_value_and_a_new_object_rebuilds_it():
    memo, view, other = IdentityMemo(), {"heatmap": np.zeros(3)}, {"heatmap": np.zeros(3)}
    calls = []

    def build(tag):
        calls.append(tag)
        return object()

    first = memo.get("boundary", (view, True), lambda: build("a"))
    assert memo.get("boundary", (view, True), lambda: build("b")) is first and calls == ["a"]
    assert memo.get("boundary", (other, True), lambda: build("c")) is not first  # equal, but a new view
    assert memo.get("boundary", (other, False), lambda: build("d")) is not first  # a toggle changed
    assert memo.get("network", (other, False), lambda: build("e")) is not None  # slots are separate
    assert calls == ["a", "c", "d", "e"] and memo.builds == 4


def test_held_inputs_keep_their_ids_from_being_reused():
    memo = IdentityMemo()
    memo.get("x", ({"n": 1},), lambda: "first")
    # The memo holds the dict, so no new object can take its id and be mistaken for it.
    assert all(memo.get("x", ({"n": 1},), lambda: "new") == "new" for _ in range(100))
