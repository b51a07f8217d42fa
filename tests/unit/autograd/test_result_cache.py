"""The Autograd page's result cache: bounded in bytes, dropped when unused, never keeping errors."""

from __future__ import annotations

import numpy as np
import pytest

from playground import limits
from playground.autograd.graph import trace
from playground.autograd.result_cache import ResultCache, size_of
from playground.autograd.variables import ExpressionSpec, VariableSpec
from playground.errors import PlaygroundError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def array_mb(mb: float) -> np.ndarray:
    return np.zeros(int(mb * 1024 * 1024 / 8))


def test_size_of_counts_arrays_and_text_exactly_and_walks_containers_and_dataclasses():
    """Each case against sys.getsizeof, which counts a 1-D array's numbers and header (8,112 bytes for 1,000)."""
    import sys
    from dataclasses import dataclass

    array, text = np.zeros(1000), "x" * 300
    assert size_of(array) == sys.getsizeof(array) == 8112 and size_of(text) == sys.getsizeof(text)
    assert size_of(b"ab") == sys.getsizeof(b"ab") and size_of(3.5) == sys.getsizeof(3.5)
    items = [array, text]
    assert size_of(items) == sys.getsizeof(items) + 8112 + sys.getsizeof(text)
    assert size_of(tuple(items)) == sys.getsizeof(tuple(items)) + 8112 + sys.getsizeof(text)
    table = {"a": array}
    assert size_of(table) == sys.getsizeof(table) + sys.getsizeof("a") + 8112

    @dataclass(frozen=True)
    class Pair:
        values: np.ndarray
        name: str

    assert size_of(Pair(array, text)) == 56 + 8112 + sys.getsizeof(text)
    assert size_of(Pair) == sys.getsizeof(Pair)  # the class itself is not walked


def test_size_of_walks_8_levels_deep_and_no_further():
    import sys
    from dataclasses import dataclass

    array = np.zeros(1000)

    def nested(levels):
        value = array
        for _ in range(levels):
            value = [value]
        return value

    lists = sum(sys.getsizeof([0]) for _ in range(8))
    assert size_of(nested(8)) == lists + 8112  # the array sits at depth 8: counted
    assert size_of(nested(9)) == lists + sys.getsizeof([0])  # the list at depth 8 is not walked


    @dataclass(frozen=True)
    class Box:
        content: object

    # a dataclass's fields are one level down: 7 lists in one reach the array, 8 do not
    assert size_of(Box(nested(7))) == 56 + lists - sys.getsizeof([0]) + 8112
    assert size_of(Box(nested(8))) == 56 + lists
    # so are a dict's keys and values
    assert size_of({"k": nested(7)}) == sys.getsizeof({"k": 0}) + sys.getsizeof("k") + lists - sys.getsizeof([0]) + 8112
    assert size_of({"k": nested(8)}) == sys.getsizeof({"k": 0}) + sys.getsizeof("k") + lists


def test_a_hit_is_not_recomputed_and_specs_are_keys():
    cache = ResultCache(10 * 1024 * 1024, 60)
    calls = []
    first = cache.get("trace", {"a": 1}, lambda: calls.append(1) or [1])
    assert cache.get("trace", {"a": 1}, lambda: calls.append(1) or [2]) is first and calls == [1]
    cache.get("check", {"a": 1}, lambda: calls.append(1) or [3])
    cache.get("trace", {"a": 2}, lambda: calls.append(1) or [4])
    assert len(calls) == 3 and len(cache.entries) == 3


def test_the_byte_bound_evicts_the_least_recently_used():
    cache = ResultCache(10 * 1024 * 1024, 600)
    for i in range(4):
        cache.get("r", {"i": i}, lambda: array_mb(2.4))
    cache.get("r", {"i": 0}, lambda: pytest.fail("0 was used last-but-three: still kept"))
    cache.get("r", {"i": 4}, lambda: array_mb(2.4))  # 5 x 2.4 MB > 10 MB: the least recently used (1) goes
    assert cache.bytes <= cache.max_bytes
    recomputed = []
    cache.get("r", {"i": 1}, lambda: recomputed.append(1) or array_mb(0.1))
    assert recomputed == [1]


def test_a_result_over_a_quarter_of_the_bound_is_returned_but_not_kept():
    cache = ResultCache(4 * 1024 * 1024, 600)
    big = cache.get("r", {}, lambda: array_mb(1.01))
    assert big.nbytes > cache.max_bytes // 4 and not cache.entries and cache.bytes == 0


def test_unused_results_expire():
    clock = Clock()
    cache = ResultCache(10 * 1024 * 1024, ttl_s=600, clock=clock)
    cache.get("r", {"i": 0}, lambda: array_mb(1))
    clock.now = 599.0
    cache.get("r", {"i": 0}, lambda: pytest.fail("still fresh"))  # a hit renews it
    clock.now = 599.0 + 600.0
    cache.get("r", {"i": 1}, lambda: [1])
    assert list(cache.entries) and all(":" in k for k in cache.entries) and len(cache.entries) == 1
    assert cache.bytes < 1024 * 1024


def test_errors_are_never_kept():
    cache = ResultCache(1024 * 1024, 600)
    with pytest.raises(PlaygroundError):
        cache.get("r", {}, lambda: (_ for _ in ()).throw(PlaygroundError("no")))
    assert not cache.entries


def test_a_trace_entry_stays_small_even_for_the_largest_tensors():
    """Issue 12: an entry kept every node's full arrays (7.7 MB); nodes now keep a summary above 1,000 numbers."""
    big = ExpressionSpec((VariableSpec("W", "random", shape=(100, 100)), VariableSpec("V", "random", shape=(100, 100))),
                         "(" + " + ".join(["(W @ V).tanh() * W"] * 12) + ").sum()")
    size = size_of(trace(big))
    assert size < 1.5 * 1024 * 1024, size  # two 10,000-number leaf gradients (160 kB) and the graphs' text
    from tests.reliability.conftest import record

    record("autograd", "trace cache entry, 12 products of 100x100 matrices (MB; 8.07 with every node's arrays)",
           round(size / 1e6, 2))
    assert size < limits.AUTOGRAD_CACHE_BYTES // 4


# ---- pinned by the mutation run of 2026-12-08 (docs/MUTATION.md) --------------------------------------------------


def test_a_spec_is_the_same_key_whatever_the_order_of_its_fields_or_the_type_of_its_values():
    from pathlib import Path

    cache = ResultCache(1024 * 1024, 600)
    first = cache.get("r", {"a": 1, "b": [2, 3]}, lambda: [1])
    assert cache.get("r", {"b": [2, 3], "a": 1}, lambda: pytest.fail("the same spec, its keys in another order")) is first
    kept = cache.get("r", {"path": Path("x.csv")}, lambda: [2])  # a value JSON cannot write is read as its text
    assert cache.get("r", {"path": Path("x.csv")}, lambda: pytest.fail("the same spec")) is kept
    assert len(cache.entries) == 2


def test_each_entry_counts_its_value_and_its_key_and_the_total_is_the_sum():
    cache = ResultCache(1024 * 1024, 600)
    value = array_mb(0.01)
    cache.get("trace", {"a": 1}, lambda: value)
    key_length = len("trace:") + 64  # the kind, a colon and a sha256 in hex
    assert cache.bytes == size_of(value) + key_length
    cache.get("check", {"a": 1}, lambda: [1.0])
    assert cache.bytes == size_of(value) + size_of([1.0]) + 2 * key_length
    assert cache.bytes == sum(size for _, size, _ in cache.entries.values())


def test_a_result_of_exactly_a_quarter_of_the_bound_is_kept_and_a_full_cache_keeps_everything():
    value = array_mb(0.25)
    size = size_of(value) + len("r:") + 64
    cache = ResultCache(4 * size, 600)
    for i in range(4):  # four entries of exactly a quarter: the cache is full, not over
        cache.get("r", {"i": i}, lambda: array_mb(0.25))
    assert len(cache.entries) == 4 and cache.bytes == cache.max_bytes
    cache.get("r", {"i": 4}, lambda: array_mb(0.25))  # over: the least recently used goes, and its bytes with it
    assert len(cache.entries) == 4 and cache.bytes == 4 * size == sum(s for _, s, _ in cache.entries.values())
    recomputed = []
    cache.get("r", {"i": 0}, lambda: recomputed.append(0) or [0])  # 0 was dropped: computed again
    assert recomputed == [0]
    smaller = ResultCache(4 * size - 1, 600)
    smaller.get("r", {}, lambda: array_mb(0.25))  # one byte past a quarter
    assert not smaller.entries


def test_clear_empties_the_cache_and_counts_from_zero_again():
    cache = ResultCache(1024 * 1024, 600)
    cache.get("r", {"a": 1}, lambda: [1])
    cache.clear()
    assert not cache.entries and cache.bytes == 0
    cache.get("r", {"a": 2}, lambda: [2])
    assert cache.bytes == size_of([2]) + len("r:") + 64
