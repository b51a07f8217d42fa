"""PyTorch's C++ libraries loaded ahead of ``import torch``, on a thread that does not hold Python's GIL.

On a server's first visit, ``import torch`` holds the GIL for about 0.17 s at a stretch while the dynamic loader maps
and initialises ``libtorch_cpu.so`` (measured here: the longest pause of another thread during the import is
170 to 240 ms; with the libraries loaded first, 35 to 55 ms). Streamlit's web server shares that GIL: while it is
held, nothing the page has drawn reaches the browser and none of the browser's requests for the widgets' scripts is
answered. Loading the two libraries first, through ``dlopen`` called by ctypes (a foreign call that releases the
GIL), takes that pause out of the import: the import that follows finds them loaded.

Only ``libc10.so`` and ``libtorch_cpu.so``: neither depends on Python or on CUDA's libraries, so their initialisers
can neither wait for the GIL nor pick a CUDA library before torch's own import has set the search up. Nothing here
imports torch. Where anything is missing (another platform, another layout, no ``dlopen``), nothing is loaded and
``import torch`` does it all, as without this module.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
import threading
from pathlib import Path

LIBRARIES = ("libc10.so", "libtorch_cpu.so")  # in load order: the second needs the first

_lock = threading.Lock()
_thread: threading.Thread | None = None


def library_paths() -> list[Path]:
    """The libraries of the torch that ``import torch`` would import, without importing it ([] when not found)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return []
    folder = Path(spec.origin).parent / "lib"
    paths = [folder / name for name in LIBRARIES]
    return paths if all(path.is_file() for path in paths) else []


def _load(paths: list[Path]) -> None:
    try:
        dlopen = ctypes.CDLL(None).dlopen  # a CDLL function: the GIL is released while it runs
    except (OSError, AttributeError):
        return
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
    for path in paths:
        if not dlopen(os.fsencode(path), os.RTLD_NOW):
            return  # left to torch's import, which says why if it fails too


def start() -> bool:
    """Start loading, once a process, unless torch is imported already. Whether a load was started (now or
    before)."""
    global _thread
    with _lock:
        if _thread is None and "torch" not in sys.modules and sys.platform.startswith("linux"):
            paths = library_paths()
            if paths:
                _thread = threading.Thread(target=_load, args=(paths,), name="torch-preload", daemon=True)
                _thread.start()
        return _thread is not None


def wait(timeout: float = 10.0) -> None:
    """Wait (the GIL released) for a load that was started: an ``import torch`` begun meanwhile would wait for the
    dynamic loader's lock while holding the GIL. Returns at once when none was started or it is done."""
    thread = _thread
    if thread is not None:
        thread.join(timeout)
