"""The network as a picture: one column of neurons a layer, links coloured by the weight's sign and sized
by its magnitude (blue positive, orange negative, as in the TensorFlow playground).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.builder.decision_boundary import MAX_THUMBS_PER_LAYER

POSITIVE = "#1f77b4"
NEGATIVE = "#ff7f0e"
WIDTH_LEVELS = (0.5, 1.5, 3.0, 5.0)


def _column(count: int, shown: int) -> np.ndarray:
    return np.linspace(-(shown - 1) / 2, (shown - 1) / 2, shown) if shown > 1 else np.zeros(1)


def network_figure(
    widths: Sequence[int],
    weights: Sequence[np.ndarray] | None = None,
    labels: Sequence[str] = (),
    max_neurons: int = MAX_THUMBS_PER_LAYER,
) -> go.Figure:
    """Nodes for each layer (at most ``max_neurons`` drawn a layer, the rest counted) and weighted links.

    ``weights[k]`` is layer k's weight matrix [out, in] (possibly cut to the drawn neurons); without
    weights the links are drawn thin and grey.
    """
    shown = [min(w, max_neurons) for w in widths]
    positions = [_column(w, s) for w, s in zip(widths, shown, strict=True)]
    fig = go.Figure()
    scale = 1.0
    if weights:
        magnitudes = [np.abs(w).max() for w in weights if w.size]
        scale = max(magnitudes) if magnitudes and max(magnitudes) > 0 else 1.0
    buckets: dict[tuple[str, float], tuple[list, list]] = {}
    for k in range(len(widths) - 1):
        for j in range(shown[k + 1]):
            for i in range(shown[k]):
                if weights and k < len(weights) and j < weights[k].shape[0] and i < weights[k].shape[1]:
                    w = float(weights[k][j, i])
                    level = WIDTH_LEVELS[min(int(abs(w) / scale * len(WIDTH_LEVELS)), len(WIDTH_LEVELS) - 1)]
                    colour = POSITIVE if w >= 0 else NEGATIVE
                else:
                    level, colour = 0.5, "#bbbbbb"
                xs, ys = buckets.setdefault((colour, level), ([], []))
                xs.extend([k, k + 1, None])
                ys.extend([positions[k][i], positions[k + 1][j], None])
    for (colour, level), (xs, ys) in buckets.items():
        fig.add_trace(
            go.Scatter(x=xs, y=ys, mode="lines", line={"color": colour, "width": level}, hoverinfo="skip", showlegend=False)
        )
    names = ["input"] + [f"hidden {i}" for i in range(1, len(widths) - 1)] + ["output"]
    for k, (width, pos) in enumerate(zip(widths, positions, strict=True)):
        text = [labels[i] if k == 0 and i < len(labels) else "" for i in range(len(pos))]
        fig.add_trace(
            go.Scatter(
                x=[k] * len(pos), y=pos, mode="markers+text", text=text, textposition="middle left",
                marker={"size": 16, "color": "#ffffff", "line": {"color": "#333333", "width": 1.5}},
                hovertext=[f"{names[k]}, neuron {i}" for i in range(len(pos))], hoverinfo="text", showlegend=False,
            )
        )
        caption = f"{names[k]}<br>{width}" + (f" ({len(pos)} drawn)" if len(pos) < width else "")
        fig.add_annotation(x=k, y=(max(shown) + 1) / 2, text=caption, showarrow=False, font={"size": 11})
    fig.update_layout(
        height=max(240, 28 * max(shown) + 80), margin={"l": 40, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False, "range": [-0.6, len(widths) - 0.5]}, yaxis={"visible": False},
        plot_bgcolor="white",
    )
    return fig


def layer_table(model) -> list[dict[str, object]]:
    """One row per layer of the model's ``nn.Sequential``: its state_dict prefix, printout, weight and bias
    shapes, parameter count."""
    rows = []
    for index, module in enumerate(getattr(model, "layers", model)):
        weight = getattr(module, "weight", None)
        bias = getattr(module, "bias", None)
        rows.append({
            "index": f"layers.{index}" if hasattr(model, "layers") else index,
            "module": repr(module),
            "weight": str(list(weight.shape)) if weight is not None else "",
            "bias": str(list(bias.shape)) if bias is not None else "",
            "parameters": sum(p.numel() for p in module.parameters()),
        })
    return rows
