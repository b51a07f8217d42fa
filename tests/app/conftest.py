"""AppTest fixtures: the real app.py, switched to one page, driven like a user."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"


def open_page(page_path: str, timeout: float = 60) -> AppTest:
    """Run app.py, switch to ``page_path`` and return the AppTest after the first run."""
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    at.run()
    at.switch_page(page_path)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Everything a user reads on the page, as one string, for simple 'is it shown' checks."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "code", "text", "subheader", "header", "title"):
        for element in getattr(at, kind):
            parts.append(str(element.value))
    return "\n".join(parts)


@pytest.fixture
def tensor_lab() -> AppTest:
    return open_page("views/tensor_lab.py")


MB_TABS = ("DataLoader", "Model and layers", "Code (train.py)", "Test", "Save and load", "History")


def open_tab(at: AppTest, label: str) -> AppTest:
    """Open one of the Model Builder's teaching tabs, as a click on it does (only the open tab is drawn)."""
    at.session_state["mb_tab"] = label
    return at.run()
