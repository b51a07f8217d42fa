"""Small view pieces shared by the pages (Streamlit only, no logic)."""

from __future__ import annotations

import streamlit as st

from playground.errors import AwaitingInput, PlaygroundError, as_text, library_message


def show_error(exc: BaseException, container=None) -> None:
    """A plain sentence, and the library's own message beneath it. Never a traceback."""
    where = container if container is not None else st
    if isinstance(exc, PlaygroundError):
        if isinstance(exc, AwaitingInput):  # nothing went wrong yet: an invitation, not a red banner
            where.info(exc.markdown, icon=":material/upload_file:")
        else:
            where.error(exc.markdown, icon=":material/error:")
        if exc.detail:
            where.caption(as_text(exc.detail))
    else:
        where.error("Something went wrong with that input; change it and try again.", icon=":material/error:")
        where.caption(as_text(library_message(exc)))


def show_code(code: str, title: str = "Code", expanded: bool = True) -> None:
    """The exact PyTorch (and NumPy) that reproduces what is on screen."""
    with st.expander(title, expanded=expanded, icon=":material/code:"):
        st.code(code, language="python")


def lazy_expander(title: str, key: str, expanded: bool = False, icon: str | None = None):
    """An expander whose content the caller draws only ``if box.open``. A code block anywhere on a page makes
    the browser load and run Streamlit's syntax highlighter: on the Model Builder, the closed DataLoader code
    and printed batch added about 0.5 s before a second visitor saw the control bar (bench/RESULTS.md)."""
    return st.expander(title, expanded=expanded, icon=icon, key=key, on_change="rerun")


def global_seed() -> int:
    """The seed set in the sidebar (0 until the sidebar has run)."""
    return int(st.session_state.get("global_seed", 0))


def record_press(key: str, control: str) -> None:
    """``on_click`` of a control bar's button: the press is kept in the session under ``key`` until the page takes
    it (``take_press``). Streamlit calls it first thing in the run a click starts, before anything that run draws.
    Read from the button's return value instead, a press was lost when another interaction (a click on a tab, a
    slider moved) cut that run short before the page acted on it: the next run no longer holds it."""
    st.session_state[key] = control


def take_press(key: str, controls: tuple[str, ...]) -> tuple[bool, ...]:
    """The press waiting under ``key``, as one flag per control in ``controls`` order (at most one is True). Take it
    where nothing is drawn between taking it and acting on it."""
    pressed = st.session_state.pop(key, None)
    return tuple(pressed == control for control in controls)
