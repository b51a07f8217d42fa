"""Plotly figures of the Model Builder's test results: the confusion matrix and predicted against true values.
Pure functions of data. (The live pictures, redrawn while a model trains, are SVG: pictures.py.)"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
import plotly.graph_objects as go


def confusion_figure(matrix: Sequence[Sequence[int]], classes: Sequence[str]) -> go.Figure:
    m = np.asarray(matrix)
    names = [escape(str(c))[:40] for c in classes] or [str(i) for i in range(len(m))]  # Plotly reads some HTML
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
