"""Entry point: `streamlit run app.py`. Navigation, page config and the sidebar; no logic.

Two ways this file runs. `streamlit run app.py` first imports it as a module and finds ``app``, an ``st.App``
serving this same file: its lifespan starts the warm-up (views/warm_up.py), which imports what the pages import
while the first browser is still loading Streamlit's scripts. Each visitor's run then executes it as
``__main__``: ``main()``, the pages and the sidebar.

On a server's first run nothing here imports torch before the page: the page draws what needs no computing first
(the Model Builder its title and control bar) while torch loads, and the sidebar's torch version and devices are
filled in after it. Once torch is loaded they are named before the page, so a page that stops early has them too."""

from __future__ import annotations

import contextlib
from pathlib import Path

import streamlit as st

from playground.limits import MAX_SEED
from views.warm_up import loaded

ICON = Path(__file__).resolve().parent / "assets" / "icon.png"  # bundled: no icon is fetched from a font server
PAGES = [
    ("views/tensor_lab.py", "Tensor Lab", ":material/grid_on:", None),
    ("views/autograd.py", "Autograd", ":material/account_tree:", "autograd"),
    ("views/model_builder.py", "Model Builder", ":material/model_training:", "model_builder"),
    ("views/sweeps.py", "Sweeps", ":material/grid_view:", "sweeps"),
    ("views/runs.py", "Runs", ":material/history:", "runs"),
]


def name_torch_and_devices(where) -> None:
    from playground.device import available_devices, limit_server_threads, torch_version

    limit_server_threads()
    where.caption(f"torch {torch_version()}")
    for device in available_devices():
        where.caption(f"Device: {device.label}")


def main() -> None:
    st.set_page_config(page_title="PyTorch Playground", page_icon=str(ICON), layout="wide")
    page = st.navigation([st.Page(path, title=title, icon=icon, url_path=url, default=url is None)
                          for path, title, icon, url in PAGES])
    with st.sidebar:
        st.markdown("**PyTorch Playground**")
        versions = st.container()  # torch and the devices
        st.number_input(
            "Global seed",
            min_value=0,
            max_value=MAX_SEED,
            value=0,
            step=1,
            key="global_seed",
            help="Every random thing on every page (random tensors, data, initial weights) starts from this seed.",
        )
    if loaded("torch"):  # by an earlier run or the warm-up: naming it costs nothing
        name_torch_and_devices(versions)
        page.run()
    else:  # the server's first run, before the warm-up got there: the page first, while torch loads
        try:
            page.run()
        finally:
            name_torch_and_devices(versions)


@contextlib.asynccontextmanager
async def warm_then_serve(_app):
    from views.warm_up import start

    start()
    yield


if __name__ == "__main__":
    main()
else:  # imported by `streamlit run app.py`, which serves this st.App (each visitor's run is the branch above)
    app = st.App(__file__, lifespan=warm_then_serve)
