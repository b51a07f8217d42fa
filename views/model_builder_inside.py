"""The Model Builder's "inside the layers" view, in place of the network picture when its toggle is on: the
gradient flow of the epoch shown (live, or the replayed one) and each layer's weight distribution over the
epochs, or one chosen layer's alone. Pictures are SVG from playground/builder/layer_pictures.py, shown with st.image: a
picture there cannot be clicked, so a layer is chosen with the selector beneath the bars (its bar is then outlined),
and each bar's SVG <title> names the layer and its figure where the picture is opened on its own."""

from __future__ import annotations

import streamlit as st

from playground.builder import layer_pictures
from views.model_builder_live import Shown, cached

TOGGLE_KEY = "mb_inside"
LAYER_KEY = "mb_inside_layer"  # the layer whose weights are shown alone (None: every layer)
PICK_KEY = "mb_inside_pick"
EVERY = "every layer"
STATE = st.session_state


def _chose() -> None:
    picked = STATE.get(PICK_KEY)
    STATE[LAYER_KEY] = None if picked in (None, EVERY) else picked


def toggle() -> bool:
    return st.toggle("Inside the layers", key=TOGGLE_KEY,
                     help="Each layer's gradient norm (log scale), how far an epoch moves its weights, its dead ReLU "
                          "units, and its weights' spread over the epochs. Drag the replay to see an earlier epoch.")


def render(item: Shown, replay: int | None) -> None:
    """The two pictures of the run shown, at the replayed epoch (None: the latest)."""
    history = item.history
    rows = layer_pictures.recorded(history, replay)
    row = rows[-1] if rows else None
    last = history[-1] if history else None  # the same row object until an epoch arrives
    names = [layer.get("name", "") for layer in (row or {}).get("layers") or []]
    chosen = STATE.get(LAYER_KEY)
    chosen = chosen if chosen in names else None
    flow = cached("inside_flow", (last, replay, item.config, chosen),
                  lambda: layer_pictures.gradient_flow_svg(row, selected=chosen))
    spread = cached("inside_spread", (last, replay, item.config, chosen),
                    lambda: layer_pictures.distributions_svg(history, replay, only=chosen))
    st.container(key="mb_gradient_flow").image(flow, width="stretch")
    if names:  # a picture in st.image cannot be clicked: the layer is chosen here (its bar is outlined in red)
        STATE[PICK_KEY] = chosen or EVERY
        st.selectbox("Weights of", [EVERY, *names], key=PICK_KEY, on_change=_chose, label_visibility="collapsed",
                     format_func=lambda name: "Weights of every layer" if name == EVERY else f"Weights of {name} alone",
                     help="Choose a layer to see its weights alone; its gradient bar above is outlined.")
    st.container(key="mb_weight_distributions").image(spread, width="stretch")
    st.caption("Bars: each layer's mean gradient norm over the epoch's steps (whisker: smallest to largest step). "
               "Δw/w: how far the epoch moved the weights, relative to them. Bands: the weights' quantiles per epoch "
               "(0-100, 7-93, 16-84, 31-69 %), the line their median.")
