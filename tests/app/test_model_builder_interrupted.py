"""A click whose script run is cut short by the next click still counts, and a run that ends is kept and named at once.

Streamlit runs the page once for every interaction. When a second interaction reaches the server while the first
one's run is still going (a teaching tab clicked just after Stop: the tabs rerun the page), the first run stops at
its next element and the page runs again with what the browser sent last, which no longer holds the button's
press (the browser clears a button's press once it has sent it). A control that acted only where the page reads
its button was then lost: Stop did not stop, so the run was never kept (tests/reliability/test_isolation_load.py
failed about half the time so). ``cut_short`` makes that happen on purpose, in one run of one page.
"""

from __future__ import annotations

import re
import time

import pytest

from playground.runs.default_store import open_default_store
from tests.app.conftest import cut_short as cut_short_at
from tests.app.conftest import open_page, open_tab, texts
from views import model_builder_io

PAGE = "pages/model_builder.py"
DEADLINE_S = 60
KEPT = re.compile(r"was kept as run ([0-9a-f]{12})")
NAMED = re.compile(r"· stopped(?: on \S+)? · run ([0-9a-f]{12})")  # the epoch line of a stopped run, once kept


def cut_short(monkeypatch) -> list[bool]:
    """The page's next run is cut short just after it starts (at ``read_url``, before the control bar)."""
    return cut_short_at(monkeypatch, model_builder_io, "read_url")


def wait_until(at, ready, what: str, deadline_s: float = DEADLINE_S):
    """Rerun the page (as the epoch line's timer does) until ``ready(view)`` holds for the job's snapshot."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        view = at.session_state["mb_control"].view()
        if ready(view):
            return view
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen in {deadline_s} s; last {view.status} at epoch {view.epoch}")


@pytest.fixture
def training(monkeypatch):
    """The page with a long run (2,000 epochs) training."""
    at = open_page(PAGE)
    at.number_input(key="mb_epochs").set_value(2000).run()
    at.button(key="mb_play").click().run()
    wait_until(at, lambda v: v.status == "running" and v.epoch >= 1, "training")
    return at


def status_line(at) -> str:
    return next((m.value for m in at.markdown if str(m.value).startswith("**Epoch")), "")


def test_stop_cut_short_by_the_next_click_still_stops_and_the_run_is_kept(training, monkeypatch):
    at = training
    job = at.session_state["mb_control"].handle
    fired = cut_short(monkeypatch)
    at.button(key="mb_stop").click().run()
    assert fired and not at.exception
    view = job.snapshot()
    if view.active:  # the worker stops between two steps; the page's timer sees it a moment later
        view = wait_until(at, lambda v: not v.active, "the stop", deadline_s=15)
    assert view.status == "stopped" and 1 <= view.epoch < 2000
    trained = at.session_state["mb_trained"]
    assert trained.status == "stopped"
    shown = texts(open_tab(at, "Save and load"))
    run_id = KEPT.search(shown).group(1)
    assert open_default_store().get(run_id).status == "stopped"
    assert NAMED.search(status_line(at)).group(1) == run_id


def test_play_cut_short_by_the_next_click_still_starts_the_run(monkeypatch):
    at = open_page(PAGE)
    at.number_input(key="mb_epochs").set_value(3).run()
    fired = cut_short(monkeypatch)
    at.button(key="mb_play").click().run()
    assert fired and not at.exception
    assert at.session_state["mb_control"].handle is not None  # the press was not lost with the run it started
    view = wait_until(at, lambda v: not v.active, "the run")
    assert view.status == "finished" and view.epoch == 3


def test_a_run_that_ends_is_named_as_kept_by_the_run_that_collects_it(training):
    """The page run that finds the run ended (the epoch line's, or any other) keeps it in the run store before it
    draws the epoch line, so the line names the kept run at once, whichever tab is open."""
    at = training
    job = at.session_state["mb_control"].handle
    job.stop()  # ended from elsewhere (a budget, another tab): the page learns of it on its next run
    assert job.wait(30)
    at.run()
    assert at.session_state["mb_control"].collected == job.id
    line = status_line(at)
    run_id = NAMED.search(line)
    assert run_id, line
    assert open_default_store().get(run_id.group(1)).status == "stopped"
    assert f"was kept as run {run_id.group(1)}" in texts(open_tab(at, "Save and load"))
    assert len(open_default_store().list()) == 1  # kept once, however many runs of the page saw it


def test_a_run_that_ended_unseen_is_kept_before_a_new_run_takes_its_place(monkeypatch):
    """A paused run that ends before the page looks again (a budget, the server), then Play: the new run replaces
    it in the session, and it is kept first."""
    at = open_page(PAGE)
    at.number_input(key="mb_epochs").set_value(2000).run()
    at.button(key="mb_step").click().run()
    wait_until(at, lambda v: v.status == "paused" and v.epoch == 1, "one step")
    old = at.session_state["mb_control"].handle
    old.stop()
    assert old.wait(30)
    at.button(key="mb_play").click().run()  # the page's last run showed it paused: Play starts a new run
    assert at.session_state["mb_control"].handle.id != old.id
    kept = open_default_store().list()
    assert len(kept) == 1 and kept[0].status == "stopped"
