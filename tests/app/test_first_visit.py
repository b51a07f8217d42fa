"""A server's first visit (issue 27 item 1): the page says what it is loading instead of grey skeletons, and the
server's first trainer is started at once, so that it is ready by the time the visitor can press Play.

``page_frame.torch_loaded`` is made to answer False, as on a server's first run; "while torch loads" is a run
stopped where the page waits for torch's libraries (``preload.wait``)."""

from __future__ import annotations

import threading

import pytest
import streamlit as st

from playground import preload
from playground.execution import server
from tests.app.conftest import open_page, texts
from views import page_frame


@pytest.fixture
def first_run(monkeypatch) -> list[str]:
    """Every run is a server's first; the trainer warms are recorded, not started."""
    warmed: list[str] = []
    monkeypatch.setattr(page_frame, "torch_loaded", lambda: False)
    monkeypatch.setattr(page_frame, "warm_trainer", lambda: warmed.append("warm"))
    return warmed


def stopped_while_loading(monkeypatch) -> None:
    monkeypatch.setattr(preload, "wait", lambda timeout=10.0: st.stop())


def notes(at) -> list[str]:
    return [str(element.value) for element in at.info]


@pytest.mark.parametrize("page", ["app.py", "pages/runs.py", "pages/model_builder.py"])
def test_a_first_run_says_it_is_loading_pytorch_while_it_does(monkeypatch, first_run, page):
    stopped_while_loading(monkeypatch)
    at = open_page(page)
    assert page_frame.LOADING_NOTE in notes(at)
    assert first_run  # the trainer was started before the wait
    if page.endswith("model_builder.py"):  # the bar is drawn before torch loads, the note above it
        assert at.button(key="mb_play") is not None


def test_the_note_goes_once_the_page_is_drawn(first_run):
    at = open_page("app.py")
    assert page_frame.LOADING_NOTE not in texts(at)
    assert at.title[0].value == "Tensor Lab"
    assert at.number_input(key="global_seed").value == 0
    assert first_run  # started on the first run (the executor adds none beside the one it has)


def test_a_later_run_neither_says_it_nor_warms(monkeypatch):
    warmed: list[str] = []
    monkeypatch.setattr(page_frame, "warm_trainer", lambda: warmed.append("warm"))
    at = open_page("app.py")
    assert page_frame.LOADING_NOTE not in texts(at) and not warmed


def test_warm_trainer_starts_one_trainer_on_the_servers_executor(monkeypatch):
    asked: list[int] = []

    class Executor:
        closed = False
        lock = threading.Lock()
        jobs: dict = {}

        def prewarm(self, count: int = 1) -> None:
            asked.append(count)

    monkeypatch.setattr(server, "_EXECUTOR", Executor())
    page_frame.warm_trainer().join(10)
    assert asked == [1]
