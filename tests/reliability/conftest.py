"""Shared pieces of the reliability catalogue: what every hostile case asserts, and where figures go.

Every case checks the same four things (the issue's oracle):
1. a plain sentence is shown: an error element carrying *our* sentence, not the generic fallback;
2. no traceback reaches the page (``at.exception`` is empty);
3. the page still works afterwards: a normal input gives the normal result;
4. nothing the user had is lost: other widgets keep their values.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from pathlib import Path

from playground.errors import PlaygroundError

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ROOT / "artifacts" / "figures.json"  # ignored by git; write_figures.py copies it into the docs
GENERIC_SENTENCE = "Something went wrong with that input"  # views/widgets.show_error's fallback for non-PlaygroundErrors
_LOCK = threading.Lock()


def errors(at) -> list[str]:
    return [str(e.value) for e in at.error]


def assert_no_traceback(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def assert_sentence(at, fragment: str) -> None:
    """An error element carries our plain sentence containing ``fragment``; none is the generic fallback."""
    shown = errors(at)
    assert_no_traceback(at)
    assert any(fragment in e for e in shown), f"expected {fragment!r} among errors {shown}"
    assert not any(GENERIC_SENTENCE in e for e in shown), shown


def assert_plain(exc: PlaygroundError, fragment: str) -> None:
    """A PlaygroundError from playground/: a short sentence, no traceback text, naming the problem."""
    assert isinstance(exc, PlaygroundError)
    assert fragment in exc.sentence, exc.sentence
    assert "Traceback" not in str(exc) and len(exc.sentence) < 1_000


def record(section: str, name: str, value) -> None:
    """Add one measured figure to artifacts/figures.json (merged across tests and runs)."""
    with _LOCK:
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(FIGURES.read_text())
        except (OSError, ValueError):
            data = {}
        data.setdefault("_machine", {})
        data["_machine"] = {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        }
        data.setdefault(section, {})[name] = {"value": value, "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}
        tmp = FIGURES.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, FIGURES)


# The browser fixtures (Debian's Chromium through Playwright; skipped without it, failed under CI=true).
from tests.browser.conftest import browser, chromium_path  # noqa: E402, F401
