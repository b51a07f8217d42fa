"""Handing freed memory back to the operating system after a heavy request.

glibc's malloc keeps memory a request freed in its arenas for the next one; a server process whose threads
each read a 10 MB CSV once keeps tens of MB it no longer uses. ``give_back`` asks glibc to return it
(``malloc_trim(0)``); elsewhere (macOS, musl, Windows) it does nothing. Measured in
tests/reliability/test_memory_returns.py, written down in docs/RELIABILITY.md.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _trim():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc: nothing to trim


def give_back() -> bool:
    """Return the freed memory glibc holds to the operating system; True when it returned some."""
    trim = _trim()
    return bool(trim(0)) if trim is not None else False
