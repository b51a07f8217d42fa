"""Small view pieces shared by the pages (Streamlit only, no logic)."""

from __future__ import annotations

import streamlit as st

from playground.errors import PlaygroundError, as_text, library_message


def show_error(exc: BaseException, container=None) -> None:
    """A plain sentence, and the library's own message beneath it. Never a traceback."""
    where = container if container is not None else st
    if isinstance(exc, PlaygroundError):
        where.error(exc.markdown, icon=":material/error:")
        if exc.detail:
            where.caption(as_text(exc.detail))
    else:
        where.error("Something went wrong with that input; change it and try again.", icon=":material/error:")
        where.caption(as_text(library_message(exc)))


def show_code(code: str, title: str = "Code", expanded: bool = True, key: str | None = None) -> None:
    """The exact PyTorch (and NumPy) that reproduces what is on screen. With ``key``, the code is drawn only while
    the expander is open (opening it reruns the page): for a closed expander on a page's first load, whose
    highlighting would otherwise cost the browser (see ``lazy_expander``)."""
    box = lazy_expander(title, key, expanded=expanded, icon=":material/code:") if key else \
        st.expander(title, expanded=expanded, icon=":material/code:")
    if key is None or box.open:
        with box:
            st.code(code, language="python")


def lazy_expander(title: str, key: str, expanded: bool = False, icon: str | None = None):
    """An expander whose content the caller draws only ``if box.open``. A code block anywhere on a page makes
    the browser load and run Streamlit's syntax highlighter: on the Model Builder, the closed DataLoader code
    and printed batch added about 0.5 s before a second visitor saw the control bar (bench/RESULTS.md)."""
    return st.expander(title, expanded=expanded, icon=icon, key=key, on_change="rerun")


def global_seed() -> int:
    """The seed set in the sidebar (0 until the sidebar has run)."""
    return int(st.session_state.get("global_seed", 0))
