"""The Model Builder's title and control bar, drawn before the page imports PyTorch.

On a server just started, the first visitor's page waits for ``import torch`` (1.1 to 1.4 s on 2 cores, nearly as
long as a hello-world page takes to appear) before anything that computes can run. The title and the buttons need
none of it, so the page draws them first from this module and imports the rest after: the visitor sees where to
press Play while PyTorch loads (bench/startup.py measures both marks). Only Streamlit and the standard library here:
nothing in this module may import torch, pandas, or a playground module that does (a unit test checks).

What the buttons show (Play or Pause, enabled or not) is read from the page's job controller
(playground/execution/controller.py, which imports nothing heavy), and from whether the previous run of the page found the setup ready; the page checks both against what it
computes and reruns once when they differ (``Controls.stale``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from playground.execution.controller import PLAYING, JobController, JobKind, Press
from views.widgets import record_press

STATE = st.session_state
SPEEDS = {"1 / s": 1.0, "3 / s": 3.0, "10 / s": 10.0, "30 / s": 30.0, "as fast as it goes": None}
DEFAULT_SPEED = "10 / s"
CONTROL_KEY = "mb_control"  # this session's JobController of the Model Builder's run
PRESSED_KEY = "mb_pressed"  # the control pressed, until the page acts on it
READY_KEY = "mb_ready"  # whether the last run of the page found the settings ready to train
OPENING_KEY = "mb_opening"  # the run id the Runs page is opening here, said until the page has drawn it
STARTS = (Press.PLAY, Press.AGAIN)  # presses that start a run when none is active
SPEED_KEPT = "mb_speed_kept"  # the speed, kept outside its widget: Streamlit drops a widget's state on other pages
# Layout only: tighter margins so the playground fits one screen, the control bar stays in view, and the
# dataset and feature buttons show their pictures at a useful size (a file: nothing dynamic in it).
CSS = Path(__file__).with_name("model_builder.css")


@dataclass(frozen=True)
class Controls:
    """The state the bar's buttons were drawn for, and the page's containers in screen order (the page fills them
    once it has computed what goes in them). What was pressed is taken later, by ``take_press``."""

    ready: bool  # drawn as ready to train
    active: bool  # drawn for a job that is training or paused
    playing: bool  # drawn with Pause instead of Play
    notice: Any
    bar: Any
    hyper: Any
    main: Any
    columns: tuple[Any, ...]  # the bar's slots: [5] the epoch line, [7] the replay slider
    opening: Any = None  # "Opening <run> ...", drawn while the page draws a run the Runs page opened; then emptied

    def stale(self, ready: bool, active: bool, playing: bool) -> bool:
        """Whether the buttons were drawn for another state than the one the page computed."""
        return (self.ready, self.active, self.playing) != (ready, active, playing)


def controller() -> JobController:
    """This session's run of the Model Builder: its job, what it trains, its kept result."""
    if not isinstance(STATE.get(CONTROL_KEY), JobController):
        STATE[CONTROL_KEY] = JobController(JobKind.RUN)
    return STATE[CONTROL_KEY]


def press(control: Press) -> None:
    """``on_click`` of the bar's buttons (``views.widgets.record_press``): a press survives a run cut short."""
    record_press(PRESSED_KEY, control)


def take_press() -> Press | None:
    """The press waiting in the session, taken (None when there is none)."""
    pressed = STATE.pop(PRESSED_KEY, None)
    return pressed if isinstance(pressed, Press) else None


def on_speed_change() -> None:
    controller().set_speed(SPEEDS.get(STATE.get("mb_speed", DEFAULT_SPEED)))


def job_state() -> tuple[bool, bool]:
    """(active, playing) of this session's training job."""
    view = controller().view()
    active = view is not None and view.active
    return active, active and view.status in PLAYING


def drawn_state(ready: bool) -> tuple[bool, bool]:
    """(active, playing) to draw the buttons for: the job's, or, for a press of Play or Train again waiting to start
    a run (none active, the setup ready), the run's it starts. The page starts that run and draws it in this very
    run, with no second run to redraw the buttons (``Controls.stale`` still catches a press that started nothing)."""
    active, playing = job_state()
    if not active and ready and STATE.get(PRESSED_KEY) in STARTS:
        return True, True
    return active, playing


def draw() -> Controls:
    """The stylesheet, the title, a place for a notice, the control bar's buttons and speed, and the (empty)
    containers of the hyperparameters and the playground beneath, in that order on screen."""
    st.html(CSS)
    STATE["mb_speed"] = STATE.get("mb_speed", STATE.get(SPEED_KEPT, DEFAULT_SPEED))  # before its widget is drawn
    heading, caption = st.columns([1, 4], vertical_alignment="bottom")
    heading.container(key="mb_heading").title("Model Builder")
    subtitle = ("Real PyTorch: choose data and a network, press Play, watch it learn. The code and the course's "
                "examples are in the tabs below.")  # one line at 1280 px: two would reach under the page's header
    caption.container(key="mb_subtitle").caption(subtitle)
    notice = st.container()
    opening = None
    if isinstance(STATE.get(OPENING_KEY), str):  # said first, while the rest of the page draws the run
        opening = notice.empty()
        opening.caption(f":material/hourglass_top: Opening {STATE.pop(OPENING_KEY)} in the Model Builder…")
    bar = st.container(key="mb_bar")
    hyper = st.container(key="mb_hyper")
    main = st.container(key="mb_main")
    ready = bool(STATE.get(READY_KEY, True))
    active, playing = drawn_state(ready)
    with bar:
        cols = st.columns([1.4, 0.75, 0.75, 0.75, 1.45, 4.5, 1.6, 1.9], gap="small", vertical_alignment="bottom")
        if playing:
            cols[0].button("Pause", icon=":material/pause:", key="mb_pause", type="primary", width="stretch",
                           on_click=press, args=(Press.PAUSE,))
        else:
            cols[0].button("Play", icon=":material/play_arrow:", key="mb_play", type="primary", disabled=not ready,
                           width="stretch", help="Train the model (or go on, when paused).", on_click=press,
                           args=(Press.PLAY,))
        cols[1].button(":material/skip_next:", key="mb_step", disabled=not ready, width="stretch",
                       help="Step: train one epoch, then pause.", on_click=press, args=(Press.STEP,))
        cols[2].button(":material/stop:", key="mb_stop", disabled=not active, width="stretch",
                       help="Stop now and keep the model as it is.", on_click=press, args=(Press.STOP,))
        cols[3].button(":material/restart_alt:", key="mb_reset", width="stretch",
                       help="Reset: stop and forget this run, back to the seed's untrained model.", on_click=press,
                       args=(Press.RESET,))
        cols[4].button("Train again", key="mb_train_again", disabled=not ready or active, width="stretch",
                       help="Train this very setup as a new run, even if it already ran.", on_click=press,
                       args=(Press.AGAIN,))
        STATE[SPEED_KEPT] = cols[6].select_slider(
            "Speed", list(SPEEDS), key="mb_speed", on_change=on_speed_change,
            help="Epochs a second at most: slow to watch the boundary bend, or as fast as it goes.")
    return Controls(ready, active, playing, notice, bar, hyper, main, tuple(cols), opening)
