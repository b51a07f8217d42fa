"""What the pages import, imported once on a thread when the server starts (app.py's st.App lifespan).

`import torch` alone takes about 1.3 s on 2 cores; without this the first visitor's page waits for it (and for
pandas, Plotly and the playground) after the browser has connected. Started with the server, it runs while the
browser loads Streamlit's own scripts, so the first visitor's pictures come sooner (bench/startup.py). Nothing
is computed and nothing a visitor sends is read: only imports, then one torch thread for the server's own work
(``limit_server_threads``). Never CUDA: the training workers are spawned, and a server that touched CUDA must not
fork.

The list is read from the page files themselves (their top-level imports), so a new page or a new import is warmed
without a change here. A module that fails to import is logged and left to the page, where the error is shown as
usual.
"""

from __future__ import annotations

import ast
import importlib
import logging
import sys
import threading
import time
from pathlib import Path

LOG = logging.getLogger("playground.warm_up")
VIEWS = Path(__file__).resolve().parent
PAGES = ("tensor_lab.py", "autograd.py", "model_builder.py", "sweeps.py", "runs.py")


def page_imports(pages: tuple[str, ...] = PAGES) -> list[str]:
    """The modules the page files import at their top level, in order, each once (``__future__`` left out)."""
    names: list[str] = []
    for page in pages:
        for node in ast.parse((VIEWS / page).read_text()).body:
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level and node.module != "__future__":
                found = [f"{node.module}.{alias.name}" if node.module == "views" else node.module for alias in node.names]
            else:
                continue
            for name in found:
                if name not in names:
                    names.append(name)
    return names


def loaded(name: str) -> bool:
    """Whether module ``name`` has been imported completely (a module being imported by another thread is in
    ``sys.modules`` already, and importing it again waits for that thread)."""
    module = sys.modules.get(name)
    return module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False)


def warm_up(names: list[str] | None = None) -> dict[str, float]:
    """Import ``names`` (the pages' imports by default); returns the seconds each took (0 for one already loaded)."""
    took: dict[str, float] = {}
    for name in page_imports() if names is None else names:
        started = time.perf_counter()
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the page imports it again and shows its error there
            LOG.exception("warm-up: importing %s failed", name)
        took[name] = time.perf_counter() - started
    from playground.device import limit_server_threads

    limit_server_threads()
    return took


def start() -> threading.Thread:
    """``warm_up()`` on a daemon thread (a server stopping does not wait for it)."""
    thread = threading.Thread(target=warm_up, name="playground-warm-up", daemon=True)
    thread.start()
    return thread
