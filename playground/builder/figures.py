"""Plotly figures of the Model Builder: loss and accuracy curves, the decision-boundary heatmap with
points, the confusion matrix, predicted-vs-true and neuron thumbnails. Pure functions of data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from playground.builder.decision_boundary import Heatmap

MAX_CURVE_POINTS = 2000
CLASS_COLOURS = ["#ff7f0e", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]
BINARY_SCALE = [[0.0, "#f5a25d"], [0.5, "#f7f7f7"], [1.0, "#6baed6"]]


def downsample(rows: Sequence[dict], limit: int = MAX_CURVE_POINTS) -> list[dict]:
    """At most ``limit`` rows, evenly spaced, always keeping the last."""
    if len(rows) <= limit:
        return list(rows)
    index = np.linspace(0, len(rows) - 1, limit).round().astype(int)
    return [rows[i] for i in index]


def curves_figure(history: Sequence[dict], task: str) -> go.Figure:
    """Loss per epoch (and accuracy beside it for classification), train and validation.

    The two panels are laid out by hand (axis domains and two titles) rather than with ``make_subplots``,
    which costs several times more; the live view redraws this figure a few times a second."""
    rows = downsample(history)
    epochs = [r["epoch"] for r in rows]
    classification = bool(task == "classification" and rows and "train_acc" in rows[0])
    curves = [("train_loss", "train loss", "#1f77b4", None, 1), ("val_loss", "validation loss", "#ff7f0e", None, 1)]
    if classification:
        curves += [("train_acc", "train accuracy", "#1f77b4", "dot", 2), ("val_acc", "validation accuracy", "#ff7f0e", "dot", 2)]
    data = []
    for key, name, colour, dash, panel in curves:
        axis = "" if panel == 1 else "2"
        line = {"color": colour} | ({"dash": dash} if dash else {})
        data.append({"type": "scatter", "x": epochs, "y": [r[key] for r in rows], "name": name, "line": line,
                     "xaxis": f"x{axis}", "yaxis": f"y{axis}"})
    split = (0.0, 0.45, 0.55, 1.0) if classification else (0.0, 1.0)
    layout: dict = {
        "height": 300, "margin": {"l": 40, "r": 10, "t": 30, "b": 40}, "legend": {"orientation": "h", "y": -0.25},
        "xaxis": {"domain": list(split[:2]), "anchor": "y", "title": {"text": "epoch"}},
        "yaxis": {"anchor": "x"},
        "annotations": [_panel_title("loss", sum(split[:2]) / 2)],
    }
    if classification:
        layout["xaxis2"] = {"domain": list(split[2:]), "anchor": "y2", "title": {"text": "epoch"}}
        layout["yaxis2"] = {"anchor": "x2", "range": [0, 1.02]}
        layout["annotations"].append(_panel_title("accuracy", sum(split[2:]) / 2))
    return go.Figure(data=data, layout=layout)


def _panel_title(text: str, x: float) -> dict:
    return {"text": text, "x": x, "y": 1.0, "xref": "paper", "yref": "paper", "showarrow": False,
            "xanchor": "center", "yanchor": "bottom", "font": {"size": 16}}


def boundary_figure(
    heat: Heatmap,
    points: Sequence[tuple[np.ndarray, np.ndarray, str]] = (),
    discretize: bool = False,
    n_classes: int = 2,
) -> go.Figure:
    """The heatmap over the plane and scatter layers ``(xy [n, 2], labels, name)`` on top."""
    fig = go.Figure()
    if heat.kind == "probability":
        z = heat.values.astype(np.float32) / 255.0
        if discretize:
            z = (z >= 0.5).astype(np.float32)
        fig.add_trace(go.Heatmap(x=heat.xs, y=heat.ys, z=z, zmin=0, zmax=1, colorscale=BINARY_SCALE, showscale=False, hoverinfo="skip"))
    elif heat.kind == "class":
        colours = CLASS_COLOURS[: max(n_classes, 2)]
        scale = []
        for i, colour in enumerate(colours):
            scale += [[i / len(colours), colour], [(i + 1) / len(colours), colour]]
        z = heat.values.astype(np.float32) + 0.5
        fig.add_trace(go.Heatmap(x=heat.xs, y=heat.ys, z=z, zmin=0, zmax=len(colours), colorscale=scale,
                                 showscale=False, hoverinfo="skip", opacity=0.45 if discretize else 0.3))
    else:
        z = heat.values
        if discretize:
            z = np.round(z * 4) / 4
        fig.add_trace(go.Heatmap(x=heat.xs, y=heat.ys, z=z, colorscale="RdBu", showscale=True, hoverinfo="skip"))
    for xy, labels, name in points:
        if len(xy) == 0:
            continue
        test = name.startswith("test")
        if heat.kind == "value":
            marker = {"color": np.asarray(labels).reshape(-1), "colorscale": "RdBu", "size": 6,
                      "line": {"color": "black" if test else "white", "width": 1}}
        else:
            marker = {"color": [CLASS_COLOURS[int(c) % len(CLASS_COLOURS)] for c in np.asarray(labels).reshape(-1)],
                      "size": 6, "symbol": "diamond" if test else "circle",
                      "line": {"color": "black" if test else "white", "width": 1}}
        fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", marker=marker, name=name, hoverinfo="skip"))
    lo, hi = heat.extent[0], heat.extent[1]
    fig.update_layout(
        height=420, width=440, margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"range": [lo, hi], "constrain": "domain", "title": "x₁"},
        yaxis={"range": [heat.extent[2], heat.extent[3]], "scaleanchor": "x", "title": "x₂"},
        legend={"orientation": "h", "y": -0.12},
    )
    return fig


def confusion_figure(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> go.Figure:
    m = np.asarray(matrix)
    names = list(classes) or [str(i) for i in range(len(m))]
    fig = go.Figure(go.Heatmap(z=m, x=names, y=names, colorscale="Blues", text=m, texttemplate="%{text}", showscale=False))
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      xaxis={"title": "predicted"}, yaxis={"title": "true", "autorange": "reversed"})
    return fig


def predicted_vs_true_figure(pred: np.ndarray, true: np.ndarray) -> go.Figure:
    pred, true = np.asarray(pred).reshape(-1), np.asarray(true).reshape(-1)
    lo = float(min(pred.min(), true.min())) if len(pred) else 0.0
    hi = float(max(pred.max(), true.max())) if len(pred) else 1.0
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=true, y=pred, mode="markers", marker={"size": 5}, name="test rows"))
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dash", "color": "grey"}, name="perfect"))
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis={"title": "true"}, yaxis={"title": "predicted"})
    return fig


def thumbnails_image(layers: Sequence[np.ndarray], scale: int = 3, gap: int = 6) -> np.ndarray | None:
    """All neuron thumbnails as one RGB image (a row a layer): cheap to send and draw 2-4 times a second.

    Low outputs are orange, high outputs blue (each neuron on its own range), as in the boundary.
    """
    if not layers:
        return None
    side = layers[0].shape[1] * scale
    cols = max(layer.shape[0] for layer in layers)
    image = np.full((len(layers) * (side + gap) - gap, cols * (side + gap) - gap, 3), 255, dtype=np.uint8)
    low, mid, high = np.array([245, 162, 93.0]), np.array([247, 247, 247.0]), np.array([107, 174, 214.0])
    for r, layer in enumerate(layers):
        for c in range(layer.shape[0]):
            t = layer[c][::-1].astype(np.float32)[..., None] / 255.0  # row 0 is the bottom of the plane
            rgb = np.where(t < 0.5, low + (mid - low) * (t * 2), mid + (high - mid) * (t * 2 - 1))
            rgb = np.kron(rgb, np.ones((scale, scale, 1)))
            y0, x0 = r * (side + gap), c * (side + gap)
            image[y0 : y0 + side, x0 : x0 + side] = rgb.round().astype(np.uint8)
    return image
