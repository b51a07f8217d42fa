"""Streamlit pages: widgets and layout only. Logic lives in playground/.

Streamlit treats a folder named ``pages/`` beside the entry script as the old (v1) multipage layout
until ``st.navigation`` has run once in the process. If the very first visitor of a fresh server opens
a page's URL directly (a shared link such as ``/model_builder?...``), Streamlit would run that page
alone, without app.py's navigation and sidebar. The first import of this package (which every page
does) notices that and reruns the script the v2 way, through app.py.
"""


def _leave_pages_directory_mode() -> None:
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        import streamlit as st

        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_pages_directory_mode()
