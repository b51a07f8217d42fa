"""SVG pictures of the per-layer statistics (layer_stats.py): the gradient flow of one epoch (a bar per layer,
log scale) and each layer's weight distribution over the epochs (TensorBoard's "distributions" view: bands
between quantiles, the median as a line)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import torch

from playground import limits
from playground.builder.config import ModelSpec
from playground.builder.layer_stats import QUANTILES
from playground.builder.model import build_model, linear_layers
from playground.builder.pictures import FONT, TRAIN_COLOUR, _svg_open

BAND_PAIRS = ((0, 8), (1, 7), (2, 6), (3, 5))  # quantile indexes: 0-100, 7-93, 16-84, 31-69
BAND_OPACITY = (0.15, 0.25, 0.35, 0.5)
MEDIAN = QUANTILES.index(0.5)
DEAD_COLOUR = "#d62728"


def recorded(history: Sequence[dict], until: int | None = None) -> list[dict]:
    """The rows that carry layer statistics, up to epoch ``until`` (all of them with None)."""
    return [row for row in history if row.get("layers") and (until is None or int(row["epoch"]) <= until)]


def layer_names(spec: ModelSpec) -> list[str]:
    """The names the per-layer statistics give a spec's Linear layers ("layers.0", "layers.2", ...), input to output:
    the network picture's layer k (``data-layer="k"``) is the k-th. Built on the meta device: no memory, no draw from
    the random generator."""
    with torch.device("meta"):
        model = build_model(spec)
    names = {id(m): name for name, m in model.named_modules()}
    return [names[id(m)] for m in linear_layers(model)][: limits.LAYER_STATS_MAX_LAYERS]


def _log_range(values: list[float]) -> tuple[float, float]:
    positive = [v for v in values if v > 0]
    if not positive:
        return -3.0, 0.0
    lo, hi = math.floor(math.log10(min(positive))), math.ceil(math.log10(max(positive)))
    return (lo, hi) if hi > lo else (lo - 1, hi + 1)


def gradient_flow_svg(row: dict[str, Any] | None, width: int = 420, height: int = 190,
                      selected: str | None = None) -> str:
    """One bar per layer: the mean gradient norm of the epoch's steps (log scale), a whisker from its smallest to
    its largest step; under each, the update-to-weight ratio and, before a ReLU-family activation, the share
    of dead units. The ``selected`` layer's bar is outlined (the one whose weights are shown alone)."""
    layers = (row or {}).get("layers") or []
    left, right, top, bottom = 44, 8, 18, 44
    inner_w, inner_h = width - left - right, height - top - bottom
    parts = [_svg_open(width, height)]
    title = f"gradient norm per layer · epoch {int(row['epoch'])}" if row else "gradient norm per layer"
    parts.append(f"<text x='{left + inner_w / 2:.0f}' y='12' font-size='11' text-anchor='middle' {FONT}>"
                 f"{title} (log scale)</text>")
    parts.append(f"<rect x='{left}' y='{top}' width='{inner_w}' height='{inner_h}' fill='#fafafa' stroke='#ddd'/>")
    if not layers:
        parts.append(f"<text x='{left + inner_w / 2:.0f}' y='{top + inner_h / 2:.0f}' font-size='11' "
                     f"text-anchor='middle' {FONT} fill='#777'>each layer's gradient appears here as it trains</text>")
        parts.append("</svg>")
        return "".join(parts)
    values = [v for layer in layers for v in ((layer.get("grad") or {}).get("q") or []) if v is not None]
    lo, hi = _log_range(values)

    def sy(v: float) -> float:
        value = min(max(math.log10(v), lo), hi) if v > 0 else lo
        return top + (hi - value) / (hi - lo) * inner_h

    for power in range(int(lo), int(hi) + 1):
        y = sy(10.0**power)
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{left + inner_w}' y2='{y:.1f}' stroke='#eee'/>")
        parts.append(f"<text x='{left - 3}' y='{y + 3:.1f}' font-size='9' text-anchor='end' {FONT}>1e{power}</text>")
    slot = inner_w / len(layers)
    for label, y in (("Δw/w", top + inner_h + 22), ("dead", top + inner_h + 33)):  # the rows beneath, named once
        if label == "Δw/w" or any(layer.get("dead") is not None for layer in layers):
            parts.append(f"<text x='{left - 3}' y='{y}' font-size='8' text-anchor='end' {FONT} fill='#555'>{label}</text>")
    for i, layer in enumerate(layers):
        grad = layer.get("grad") or {}
        x = left + slot * i
        name = escape(str(layer.get("name", i)))
        mean = grad.get("mean")
        # The group is what a pointer hovers and clicks (its whole slot, the clear rect last); its <title> names it.
        parts.append(f"<g class='layer' data-layer='{name}'><title>{name}"
                     + (f": mean gradient norm {mean:.3g}" if mean is not None else "") + "</title>")
        if mean is not None:
            y = sy(mean)
            outline = " stroke='#d62728' stroke-width='2'" if layer.get("name") == selected else ""
            parts.append(f"<rect x='{x + slot * 0.2:.1f}' y='{y:.1f}' width='{slot * 0.6:.1f}' "
                         f"height='{top + inner_h - y:.1f}' fill='{TRAIN_COLOUR}'{outline}/>")
            q = grad.get("q") or []
            if len(q) >= 2 and q[0] is not None and q[-1] is not None:
                cx = x + slot / 2
                parts.append(f"<line x1='{cx:.1f}' y1='{sy(q[0]):.1f}' x2='{cx:.1f}' y2='{sy(q[-1]):.1f}' "
                             "stroke='#333' stroke-width='1'/>")
        parts.append(f"<text x='{x + slot / 2:.1f}' y='{top + inner_h + 11}' font-size='9' text-anchor='middle' "
                     f"{FONT}>{name}</text>")
        ratio = layer.get("update_ratio")
        if ratio is not None:
            parts.append(f"<text x='{x + slot / 2:.1f}' y='{top + inner_h + 22}' font-size='8' text-anchor='middle' "
                         f"{FONT} fill='#555'>{ratio:.0e}</text>")
        dead = layer.get("dead")
        if dead is not None:
            colour = DEAD_COLOUR if dead >= 0.5 else "#555"
            parts.append(f"<text x='{x + slot / 2:.1f}' y='{top + inner_h + 33}' font-size='8' text-anchor='middle' "
                         f"{FONT} fill='{colour}'>{dead:.0%}</text>")
        parts.append(f"<rect x='{x:.1f}' y='{top}' width='{slot:.1f}' height='{height - top}' fill='transparent'/></g>")
    parts.append("</svg>")
    return "".join(parts)


def distributions_svg(history: Sequence[dict], until: int | None = None, width: int = 420,
                      panel_height: int = 70, columns: int = 2, only: str | None = None) -> str:
    """Each layer's weights over the epochs: shaded bands between the quantiles (0-100, 7-93, 16-84 and 31-69 per
    cent, darker inside) and the median, one small panel a layer; the replayed epoch marked. ``only``: that layer
    alone (its name), in one wide panel."""
    rows = recorded(history)
    layers = rows[-1]["layers"] if rows else []
    chosen = [i for i, layer in enumerate(layers) if layer.get("name") == only]
    if chosen:
        columns, panel_height = 1, max(panel_height, 90)
    count = max(len(chosen or layers), 1)
    if count > 4:  # a deep network: three panels a row, lower ones, so the view stays one screen high
        columns, panel_height = 3, min(panel_height, 48)
    columns = min(columns, count)
    panels_down = -(-count // columns)
    gap, left, top = 34, 34, 14  # the gap holds the next panel's value labels
    panel_w = (width - left - gap * (columns - 1) - 4) / columns
    height = top + panels_down * (panel_height + top) + 4
    parts = [_svg_open(width, height)]
    if not rows:
        parts.append(f"<text x='{width / 2:.0f}' y='{height / 2:.0f}' font-size='11' text-anchor='middle' {FONT} "
                     "fill='#777'>each layer's weights appear here as it trains</text></svg>")
        return "".join(parts)
    first, last = int(rows[0]["epoch"]), int(rows[-1]["epoch"])
    for place, i in enumerate(chosen or range(len(layers))):
        layer = layers[i]
        px = left + (place % columns) * (panel_w + gap)
        py = top + (place // columns) * (panel_height + top)
        series = [(int(r["epoch"]), r["layers"][i]["weight"]["q"]) for r in rows
                  if i < len(r["layers"]) and all(v is not None for v in r["layers"][i]["weight"]["q"])]
        name = escape(str(layer.get("name", i)))
        parts.append(f"<g class='distribution' data-layer='{name}'>")
        parts.append(f"<rect x='{px:.1f}' y='{py}' width='{panel_w:.1f}' height='{panel_height}' fill='#fafafa' "
                     "stroke='#ddd'/>")
        parts.append(f"<text x='{px + 3:.1f}' y='{py - 3}' font-size='9' {FONT}>{name} weights</text>")
        if series:
            lo = min(q[0] for _, q in series)
            hi = max(q[-1] for _, q in series)
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5

            def sx(e: float, px: float = px) -> float:
                return px + (e - first) / max(last - first, 1) * panel_w

            def sy(v: float, py: float = py, lo: float = lo, hi: float = hi) -> float:
                return py + (hi - v) / (hi - lo) * panel_height

            for (a, b), opacity in zip(BAND_PAIRS, BAND_OPACITY, strict=True):
                upper = " ".join(f"{sx(e):.1f},{sy(q[b]):.1f}" for e, q in series)
                lower = " ".join(f"{sx(e):.1f},{sy(q[a]):.1f}" for e, q in reversed(series))
                parts.append(f"<polygon points='{upper} {lower}' fill='{TRAIN_COLOUR}' fill-opacity='{opacity}'/>")
            median = " ".join(f"{sx(e):.1f},{sy(q[MEDIAN]):.1f}" for e, q in series)
            parts.append(f"<polyline points='{median}' fill='none' stroke='{TRAIN_COLOUR}' stroke-width='1.2'/>")
            for value, y in ((hi, py + 8), (lo, py + panel_height)):
                parts.append(f"<text x='{px - 2:.1f}' y='{y:.1f}' font-size='8' text-anchor='end' {FONT}>"
                             f"{value:.2g}</text>")
            if until is not None and first <= until <= last:
                x = sx(until)
                parts.append(f"<line x1='{x:.1f}' y1='{py}' x2='{x:.1f}' y2='{py + panel_height}' stroke='#d62728' "
                             "stroke-width='1.5'/>")
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
