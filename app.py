"""Entry point: `streamlit run app.py`. Navigation, page config and the sidebar; no logic.

On a server's first run nothing here imports torch before the page: the page draws what needs no computing first
(the Model Builder its title and control bar) while torch's libraries load (playground/preload.py); the page's
icon, the sidebar's global seed, torch's version and the devices are drawn after it (the icon costs an import of
NumPy, the seed's widget scripts would be fetched before the control bar's). Once torch is loaded they are drawn
before the page, so a page that stops early has them too."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

from playground import preload
from playground.limits import MAX_SEED

SIDEBAR_PX = 232  # narrower than Streamlit's 300 px: its pages, the seed and the versions fit; the pages get the room
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"  # bundled: no icon is fetched from a font server
st.set_page_config(page_title="PyTorch Playground", layout="wide", initial_sidebar_state=SIDEBAR_PX)  # icon: below

PAGES = [
    st.Page("views/tensor_lab.py", title="Tensor Lab", icon=":material/grid_on:", default=True),
    st.Page("views/autograd.py", title="Autograd", icon=":material/account_tree:", url_path="autograd"),
    st.Page("views/model_builder.py", title="Model Builder", icon=":material/model_training:", url_path="model_builder"),
    st.Page("views/sweeps.py", title="Sweeps", icon=":material/grid_view:", url_path="sweeps"),
    st.Page("views/runs.py", title="Runs", icon=":material/history:", url_path="runs"),
]

# Pages that draw something before they import torch (views/model_builder_bar.py): on a server's first run the
# page's icon and the sidebar's seed are drawn after them (measured by bench/startup.py: first paint 0.1 to 0.3 s
# sooner), for the other pages before, as their seed's scripts are then fetched while torch loads.
PAINT_BEFORE_TORCH = {"model_builder"}

page = st.navigation(PAGES)

with st.sidebar:
    st.markdown("**PyTorch Playground**")
    versions = st.container()  # torch and the devices: filled after the page on a server's first run (below)
    seed_slot = st.container()  # the global seed: the same


def draw_icon_and_global_seed() -> None:
    st.set_page_config(page_icon=str(ICON))  # calls add up: the title and layout stay
    seed_slot.number_input(
        "Global seed",
        min_value=0,
        max_value=MAX_SEED,
        value=0,
        step=1,
        key="global_seed",
        help="Every random thing on every page (random tensors, data, initial weights) starts from this seed.",
    )


def name_torch_and_devices() -> None:
    from playground.device import available_devices, limit_server_threads, torch_version

    limit_server_threads()
    versions.caption(f"torch {torch_version()}")
    for device in available_devices():
        versions.caption(f"Device: {device.label}")


if "torch" in sys.modules:  # loaded by an earlier run: naming it costs nothing
    draw_icon_and_global_seed()
    name_torch_and_devices()
    page.run()
else:  # the server's first run: the page first, while torch loads
    preload.start()  # torch's C++ libraries, without holding the GIL (playground/preload.py)
    paints_first = page.url_path in PAINT_BEFORE_TORCH
    if not paints_first:  # its seed's scripts are fetched while torch loads
        draw_icon_and_global_seed()
        preload.wait()  # the page imports torch first thing: the GIL stays free while the libraries load
    try:
        page.run()
    finally:
        if paints_first:
            draw_icon_and_global_seed()
        name_torch_and_devices()
