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


def show_code(code: str, title: str = "Code", expanded: bool = True) -> None:
    """The exact PyTorch (and NumPy) that reproduces what is on screen."""
    with st.expander(title, expanded=expanded, icon=":material/code:"):
        st.code(code, language="python")


def global_seed() -> int:
    """The seed set in the sidebar (0 until the sidebar has run)."""
    return int(st.session_state.get("global_seed", 0))
