"""Entry point: `streamlit run app.py`. Navigation, page config and the sidebar; no logic.

On a server's first run nothing here imports torch before the page: the page draws what needs no computing first
(the Model Builder its title and control bar) while torch loads, and the sidebar's torch version and devices are
filled in after it. Once torch is loaded they are named before the page, so a page that stops early has them too."""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

from playground.limits import MAX_SEED

ICON = Path(__file__).resolve().parent / "assets" / "icon.png"  # bundled: no icon is fetched from a font server
st.set_page_config(page_title="PyTorch Playground", page_icon=str(ICON), layout="wide")

PAGES = [
    st.Page("views/tensor_lab.py", title="Tensor Lab", icon=":material/grid_on:", default=True),
    st.Page("views/autograd.py", title="Autograd", icon=":material/account_tree:", url_path="autograd"),
    st.Page("views/model_builder.py", title="Model Builder", icon=":material/model_training:", url_path="model_builder"),
    st.Page("views/sweeps.py", title="Sweeps", icon=":material/grid_view:", url_path="sweeps"),
    st.Page("views/runs.py", title="Runs", icon=":material/history:", url_path="runs"),
]

page = st.navigation(PAGES)

with st.sidebar:
    st.markdown("**PyTorch Playground**")
    versions = st.container()  # torch and the devices: filled after the page (below)
    st.number_input(
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
    name_torch_and_devices()
    page.run()
else:  # the server's first run: the page first, while torch loads
    try:
        page.run()
    finally:
        name_torch_and_devices()
