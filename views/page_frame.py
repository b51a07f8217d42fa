"""Every page's frame: the page config and the sidebar (the navigation, torch's version and the devices, the global
seed). Each page script (app.py, pages/*.py) calls ``start`` before anything else; Streamlit's classic multipage
app runs the page's script alone, so this is the one place they share. No logic.

On a server's first run nothing here imports torch before the page draws: torch's C++ libraries start loading on a
thread that holds no GIL (playground/preload.py). A page that draws something before it imports torch (the Model
Builder's title and control bar, views/model_builder_bar.py) asks for the page icon, the seed, torch's version and
the devices to be drawn after that, by calling the returned ``Sidebar.finish`` once its heavy imports are done (the
seed's widget scripts would be fetched before the bar's; the icon costs an import of NumPy). For the other pages
the seed is drawn at once, its scripts fetched while torch loads. Once torch is loaded everything is drawn here.

A server's first run also says, at the top of the page, what it is loading (``LOADING_NOTE``: without it the page
showed grey skeletons for seconds), and starts the server's first trainer (``warm_trainer``), so that it is ready
by the time the visitor can press Play."""

from __future__ import annotations

import logging
import multiprocessing
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from playground import preload
from playground.limits import MAX_SEED

SIDEBAR_PX = 232  # narrower than Streamlit's 300 px: its pages, the seed and the versions fit; the pages get the room
ICON = Path(__file__).resolve().parents[1] / "assets" / "icon.png"  # bundled: no icon is fetched from a font server


@dataclass(frozen=True)
class PageLink:
    script: str  # relative to app.py's folder, as st.page_link and st.switch_page take it
    label: str
    icon: str


# The navigation, drawn with st.page_link: the classic multipage app's own labels come from the file names
# ("model builder"), so it is hidden (.streamlit/config.toml, client.showSidebarNavigation).
PAGES = (
    PageLink("app.py", "Tensor Lab", ":material/grid_on:"),
    PageLink("pages/autograd.py", "Autograd", ":material/account_tree:"),
    PageLink("pages/model_builder.py", "Model Builder", ":material/model_training:"),
    PageLink("pages/sweeps.py", "Sweeps", ":material/grid_view:"),
    PageLink("pages/runs.py", "Runs", ":material/history:"),
    PageLink("pages/course.py", "Course", ":material/school:"),
)
BUILDER = "pages/model_builder.py"  # the page other pages link to with a run or a setup
LOADING_NOTE = "Loading PyTorch… (the server's first visit: a few seconds)"


@dataclass
class Sidebar:
    """The sidebar's slots that may be filled after the page has drawn (on a server's first run)."""

    versions: object  # st.container: torch's version and the devices
    seed: object  # st.container: the global seed
    loading: object = None  # st.empty at the page's top: what the first run is loading, cleared once loaded
    pending: bool = field(default=False)

    def finish(self) -> None:
        """Draw what ``start`` left for after the page's first paint; nothing when it drew everything."""
        if self.pending:
            self.pending = False
            draw_icon_and_global_seed(self)
            name_torch_and_devices(self)
        if self.loading is not None:
            self.loading.empty()
            self.loading = None


def torch_loaded() -> bool:
    """Whether an earlier run of this server imported torch (else this is its first run)."""
    return "torch" in sys.modules


def warm_trainer() -> threading.Thread:
    """Start the server's first trainer (a worker process that imports torch and warms up), on a thread: the
    page's run does not wait for the executor's imports. Later pages find it started (``prewarm`` adds none)."""

    def warm() -> None:
        from playground.errors import PlaygroundError
        from playground.execution.server import get_executor

        try:
            get_executor().prewarm(1)
        except PlaygroundError:
            pass  # a cluster that cannot be joined: the first Play says why
        except Exception as error:  # noqa: BLE001 - a head start only: the first Play starts its trainer itself
            logging.getLogger(__name__).warning("The first trainer was not started ahead: %s", error)

    thread = threading.Thread(target=warm, name="playground-trainer-warm", daemon=True)
    if multiprocessing.parent_process() is None:  # a server's process; never a child re-running a page script
        thread.start()
    return thread


def start(paints_first: bool = False) -> Sidebar:
    """The page config and the sidebar. ``paints_first``: the page draws before it imports torch and calls
    ``finish`` after (on a server's first run the icon, the seed and the versions wait for it)."""
    st.set_page_config(page_title="PyTorch Playground", layout="wide", initial_sidebar_state=SIDEBAR_PX)
    with st.sidebar:
        for page in PAGES:
            st.page_link(page.script, label=page.label, icon=page.icon)
        st.markdown("**PyTorch Playground**")
        sidebar = Sidebar(versions=st.container(), seed=st.container())
    if torch_loaded():  # loaded by an earlier run: naming it costs nothing
        draw_icon_and_global_seed(sidebar)
        name_torch_and_devices(sidebar)
        return sidebar
    preload.start()  # the server's first run: torch's C++ libraries, without holding the GIL
    sidebar.loading = st.empty()
    sidebar.loading.info(LOADING_NOTE, icon=":material/hourglass_top:")
    warm_trainer()
    if paints_first:
        sidebar.pending = True
        return sidebar
    draw_icon_and_global_seed(sidebar)  # its scripts are fetched while torch loads
    preload.wait()  # the page imports torch first thing: the GIL stays free while the libraries load
    name_torch_and_devices(sidebar)
    sidebar.finish()  # clears the note
    return sidebar


def draw_icon_and_global_seed(sidebar: Sidebar) -> None:
    st.set_page_config(page_icon=str(ICON))  # calls add up: the title and layout stay
    sidebar.seed.number_input(
        "Global seed",
        min_value=0,
        max_value=MAX_SEED,
        value=0,
        step=1,
        key="global_seed",
        help="Every random thing on every page (random tensors, data, initial weights) starts from this seed.",
    )


def name_torch_and_devices(sidebar: Sidebar) -> None:
    from playground.device import available_devices, limit_server_threads, torch_version

    limit_server_threads()
    sidebar.versions.caption(f"torch {torch_version()}")
    for device in available_devices():
        sidebar.versions.caption(f"Device: {device.label}")
