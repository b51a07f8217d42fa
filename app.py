"""Entry point: `streamlit run app.py`. Navigation, page config and the sidebar; no logic."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from playground.device import available_devices, limit_server_threads, torch_version
from playground.limits import MAX_SEED

limit_server_threads()
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
    st.caption(f"torch {torch_version()}")
    for device in available_devices():
        st.caption(f"Device: {device.label}")
    st.number_input(
        "Global seed",
        min_value=0,
        max_value=MAX_SEED,
        value=0,
        step=1,
        key="global_seed",
        help="Every random thing on every page (random tensors, data, initial weights) starts from this seed.",
    )

page.run()
