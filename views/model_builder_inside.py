"""The Model Builder's "inside the layers" view, in place of the network picture when its toggle is on: the
gradient flow of the epoch shown (live, or the replayed one) and each layer's weight distribution over the
epochs. Pictures are SVG from playground/builder/layer_pictures.py."""

from __future__ import annotations

import streamlit as st

from playground.builder import layer_pictures
from views.model_builder_live import Shown, cached

TOGGLE_KEY = "mb_inside"


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
    flow = cached("inside_flow", (last, replay, item.config),
                  lambda: layer_pictures.gradient_flow_svg(row))
    spread = cached("inside_spread", (last, replay, item.config),
                    lambda: layer_pictures.distributions_svg(history, replay))
    st.container(key="mb_gradient_flow").image(flow, width="stretch")
    st.container(key="mb_weight_distributions").image(spread, width="stretch")
    st.caption("Bars: each layer's mean gradient norm over the epoch's steps (whisker: smallest to largest step). "
               "Δw/w: how far the epoch moved the weights, relative to them. Bands: the weights' quantiles per epoch "
               "(0-100, 7-93, 16-84, 31-69 %), the line their median.")
