"""Results of the Autograd page's pure computations, shared by every session, bounded in bytes and in age.

Each result is keyed by what computed it and a hash of its spec; its size is counted (NumPy arrays and
strings exactly, containers and dataclasses walked), the least recently used go first when the total would
pass the bound, anything unused for ``AUTOGRAD_CACHE_TTL_S`` is dropped, and a result larger than a quarter
of the bound is returned without being kept. Errors are never kept. Results are shared: never mutate one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from playground import limits

T = TypeVar("T")
_WALK_DEPTH = 8


def size_of(value: Any, depth: int = 0) -> int:
    """About the bytes ``value`` holds: arrays and strings exactly, containers and dataclasses walked."""
    if isinstance(value, np.ndarray):
        return value.nbytes + 112
    if isinstance(value, (str, bytes)):
        return sys.getsizeof(value)
    if depth >= _WALK_DEPTH:
        return sys.getsizeof(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return 56 + sum(size_of(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return sys.getsizeof(value) + sum(size_of(k, depth + 1) + size_of(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sys.getsizeof(value) + sum(size_of(item, depth + 1) for item in value)
    return sys.getsizeof(value)


class ResultCache:
    """A least-recently-used cache with a byte bound and an expiry, safe to share between sessions (threads)."""

    def __init__(self, max_bytes: int, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.clock = clock
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, tuple[float, int, Any]] = OrderedDict()  # key -> (last used, bytes, value)
        self.bytes = 0

    def get(self, kind: str, spec: dict, compute: Callable[[], T]) -> T:
        """The kept result of ``kind`` for ``spec``, or ``compute()`` (kept when it fits)."""
        key = kind + ":" + hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
        with self.lock:
            self._expire(self.clock())
            entry = self.entries.get(key)
            if entry is not None:
                self.entries[key] = (self.clock(), entry[1], entry[2])
                self.entries.move_to_end(key)
                return entry[2]
        value = compute()
        size = size_of(value) + len(key)
        if size <= self.max_bytes // 4:
            with self.lock:
                if key not in self.entries:
                    self.entries[key] = (self.clock(), size, value)
                    self.bytes += size
                while self.bytes > self.max_bytes and self.entries:
                    _, (_, dropped, _) = self.entries.popitem(last=False)
                    self.bytes -= dropped
        return value

    def _expire(self, now: float) -> None:
        while self.entries:
            key, (used, size, _) = next(iter(self.entries.items()))
            if now - used < self.ttl_s:
                return
            del self.entries[key]
            self.bytes -= size

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.bytes = 0


RESULTS = ResultCache(limits.AUTOGRAD_CACHE_BYTES, limits.AUTOGRAD_CACHE_TTL_S)
