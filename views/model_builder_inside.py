"""The Model Builder's "inside the layers" view, in place of the network picture when its toggle is on: the
gradient flow of the epoch shown (live, or the replayed one) and each layer's weight distribution over the
epochs, or one chosen layer's alone. Pictures are SVG from playground/builder/layer_pictures.py. The network picture
and the gradient-flow bars are drawn by views/svg_picker.py, so a layer can be hovered (its name shows) and clicked:
a layer clicked in the network opens this view with its weights alone and its bar outlined; a bar clicked shows
that layer alone, clicked again every layer. The selector beneath the bars does the same from the keyboard."""

from __future__ import annotations

import streamlit as st

from playground.builder import layer_pictures
from playground.builder.config import ModelSpec
from views import svg_picker
from views.model_builder_live import Shown, cached

TOGGLE_KEY = "mb_inside"
LAYER_KEY = "mb_inside_layer"  # the layer whose weights are shown alone (None: every layer)
PICK_KEY = "mb_inside_pick"
NETWORK_PICKER = "mb_network_picker"
FLOW_PICKER = "mb_gradient_flow_picker"
EVERY = "every layer"
STATE = st.session_state


def _chose() -> None:
    picked = STATE.get(PICK_KEY)
    STATE[LAYER_KEY] = None if picked in (None, EVERY) else picked


def pick_in_network(spec: ModelSpec, index: str) -> None:
    """Layer ``index`` (1 for the first Linear layer) clicked in the network picture: the inside view, that layer
    alone. Anything else (a hostile value sent by hand) changes nothing."""
    names = {str(k): name for k, name in enumerate(layer_pictures.layer_names(spec), start=1)}
    if index in names:
        STATE[LAYER_KEY] = names[index]
        STATE[TOGGLE_KEY] = True


def pick_bar(names: list[str], name: str) -> None:
    """A gradient bar clicked: that layer alone; the one already alone clicked again: every layer."""
    if name in names:
        STATE[LAYER_KEY] = None if STATE.get(LAYER_KEY) == name else name


def network(spec: ModelSpec, svg: str) -> None:
    """The network picture (pictures.network_svg), its layers hovered and clicked; the chosen layer outlined."""
    names = cached("layer_names", (spec,), lambda: layer_pictures.layer_names(spec))  # not rebuilt each redraw
    chosen = STATE.get(LAYER_KEY)
    svg_picker.picture(svg, NETWORK_PICKER, lambda index: pick_in_network(spec, index),
                       chosen=str(names.index(chosen) + 1) if chosen in names else None)


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
    with st.container(key="mb_gradient_flow"):  # a bar clicked chooses its layer (its bar is outlined in red)
        svg_picker.picture(flow, FLOW_PICKER, lambda name: pick_bar(names, name))
    if names:  # the keyboard's way (and AppTest's): the same choice
        STATE[PICK_KEY] = chosen or EVERY
        st.selectbox("Weights of", [EVERY, *names], key=PICK_KEY, on_change=_chose, label_visibility="collapsed",
                     format_func=lambda name: "Weights of every layer" if name == EVERY else f"Weights of {name} alone",
                     help="Choose a layer to see its weights alone; its gradient bar above is outlined.")
    st.container(key="mb_weight_distributions").image(spread, width="stretch")
    st.caption("Bars: each layer's mean gradient norm over the epoch's steps (whisker: smallest to largest step). "
               "Δw/w: how far the epoch moved the weights, relative to them. Bands: the weights' quantiles per epoch "
               "(0-100, 7-93, 16-84, 31-69 %), the line their median.")
