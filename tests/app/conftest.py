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


def picture_svgs(at: AppTest) -> list[str]:
    """Every SVG picture on the page, in page order: those shown with st.image (a data URI) and those drawn by the
    clickable picture component (views/svg_picker.py: its data's ``svg``)."""
    import base64
    import json

    found: list[str] = []
    for element in at.get("image") + at.get("bidi_component"):
        if element.type == "bidi_component":
            found.append(json.loads(element.proto.json or "{}").get("svg", ""))
        else:
            found += [base64.b64decode(img.url.split(",", 1)[1]).decode() for img in element.proto.imgs
                      if img.url.startswith("data:image/svg+xml;base64,")]
    return found


def texts(at: AppTest) -> str:
    """Everything a user reads on the page, as one string, for simple 'is it shown' checks."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "code", "text", "subheader", "header", "title"):
        for element in getattr(at, kind):
            parts.append(str(element.value))
    return "\n".join(parts)


@pytest.fixture
def tensor_lab() -> AppTest:
    return open_page("app.py")


MB_TABS = ("DataLoader", "Model and layers", "Code (train.py)", "Test", "Save and load", "History")


def open_tab(at: AppTest, label: str) -> AppTest:
    """Open one of the Model Builder's teaching tabs, as a click on it does (only the open tab is drawn)."""
    at.session_state["mb_tab"] = label
    return at.run()


def cut_short(monkeypatch, target, name: str) -> list[bool]:
    """The page's next run is cut short where it calls ``target.<name>`` (something near the page's top), by
    another interaction arriving: a rerun request with the widgets as they are and no button pressed, what the
    browser sends for a tab click (it sends a press once, then clears it). Returns a list that holds True once that
    has happened; it happens once."""
    from streamlit.proto.WidgetStates_pb2 import WidgetStates
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.runtime.scriptrunner_utils.script_requests import RerunData

    real = getattr(target, name)
    fired: list[bool] = []

    def wrapper(*args, **kwargs):
        if not fired:
            fired.append(True)
            ctx = get_script_run_ctx()
            states = WidgetStates()
            for state in ctx.session_state.get_widget_states():
                if state.WhichOneof("value") != "trigger_value":
                    states.widgets.append(state)
            ctx.script_requests.request_rerun(RerunData(widget_states=states, page_script_hash=ctx.page_script_hash))
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)
    return fired
