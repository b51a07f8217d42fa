"""The Sweeps page's pictures as SVG, pure functions of numbers: every member's boundary as small multiples in
a grid labelled by its values, the members' curves overlaid and coloured by value, and a heatmap of a final
metric over the grid. The best member is marked in all three (gold), the member chosen to open too (dark).

Each is one SVG image, redrawn a few times a second while a sweep trains: 64 tiles are 64 small embedded PNGs
and one set of training points drawn once (``<defs>``) and placed in every tile (``<use>``), so the browser's
work stays that of one picture. Colours follow ``pictures.py``: orange low (class 0), blue high (class 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

import numpy as np

from playground.builder.decision_boundary import Heatmap
from playground.builder.pictures import CLASS_COLOURS, FONT, data_uri, diverging, heat_rgb

# viridis at five points, for the values of a setting (a colour a value); cut before its pale yellow on white
VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
LINE_T_MAX = 0.85
BLUES = ((247, 251, 255), (8, 48, 107))  # the metric heatmap: pale (worse) to dark blue (better)
BEST_COLOUR, CHOSEN_COLOUR = "#e6a100", "#222222"
UNIT = 100.0  # the training points are drawn once in a 100 x 100 box, scaled into each tile
MAX_SWATCHES = 8  # a legend lists at most this many values; more get a colour bar


def _hex(rgb: Sequence[float]) -> str:
    return "#" + "".join(f"{int(round(max(0.0, min(255.0, c)))):02x}" for c in rgb)


def sequential(t: float, anchors: Sequence[Sequence[float]] = VIRIDIS) -> str:
    """A colour for ``t`` in [0, 1] along ``anchors`` (viridis by default)."""
    t = 0.0 if not math.isfinite(t) else min(1.0, max(0.0, t))
    span = len(anchors) - 1
    i = min(int(t * span), span - 1)
    f = t * span - i
    return _hex([a + (b - a) * f for a, b in zip(anchors[i], anchors[i + 1], strict=True)])


def value_positions(values: Sequence[float]) -> list[float]:
    """Each value's place in [0, 1] among ``values``: on a log scale when they are all positive and span more than
    a decade (learning rates), else linear (seeds, dropout); 0.5 each when they are all equal."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return [0.5] * len(values)
    log = min(finite) > 0 and max(finite) / min(finite) > 10
    scaled = [math.log10(v) if log and v > 0 else v for v in values]
    low, high = (math.log10(min(finite)), math.log10(max(finite))) if log else (min(finite), max(finite))
    if high - low < 1e-300:
        return [0.5] * len(values)
    return [(v - low) / (high - low) if math.isfinite(v) else 0.5 for v in scaled]


def _svg_open(width: float, height: float) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' "
            f"width='{width:.0f}' height='{height:.0f}' viewBox='0 0 {width:.0f} {height:.0f}'>")


def _text(x: float, y: float, text: str, size: float = 10, anchor: str = "middle", colour: str = "#222",
          weight: str = "normal") -> str:
    return (f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' fill='{colour}' "
            f"font-weight='{weight}' {FONT}>{escape(text)}</text>")


def _short_value(value: float) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def compact(value: float) -> str:
    """A number in about six characters, for a cell: ``0.0123``, ``1.46``, ``0.0082``, ``8.3e-4``, ``2.1e5``."""
    if value == 0 or 0.01 <= abs(value) < 1000:
        return f"{value:.3g}"
    if 0.001 <= abs(value) < 0.01:
        return f"{value:.2g}"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{'-' if exponent[0] == '-' else ''}{exponent[1:].lstrip('0') or '0'}"


# ------------------------------------------------------------------------------------------------ layout


def grid_layout(shape: Sequence[int]) -> tuple[int, int, list[tuple[int, int]]]:
    """Rows, columns and each member's (row, column): two axes as the grid itself (the first axis down, the second
    across); one axis wrapped in rows of at most eight."""
    if len(shape) == 2:
        rows, cols = shape
        return rows, cols, [(i // cols, i % cols) for i in range(rows * cols)]
    n = shape[0]
    cols = min(n, 8)
    rows = -(-n // cols)
    return rows, cols, [(i // cols, i % cols) for i in range(n)]


# ------------------------------------------------------------------------------------------------ tiles


def _points_defs(points: tuple[np.ndarray, np.ndarray] | None, extent: tuple[float, float, float, float],
                 regression: bool, value_range: tuple[float, float] | None) -> str:
    """The training points, drawn once in a UNIT box (``<g id='pts'>``), for every tile to place."""
    if points is None:
        return ""
    xy, labels = np.asarray(points[0], dtype=np.float64), np.asarray(points[1]).reshape(-1)
    x0, x1, y0, y1 = extent
    parts = ["<defs><g id='pts'>"]
    for (x, y), label in zip(xy, labels, strict=True):
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            continue
        if regression:
            low, high = value_range or (0.0, 1.0)
            t = (float(label) - low) / (high - low) if high > low else 0.5
            fill = _hex(diverging(np.array(t)).tolist())
        else:
            fill = CLASS_COLOURS[int(label) % len(CLASS_COLOURS)]
        px, py = (x - x0) / (x1 - x0) * UNIT, (y1 - y) / (y1 - y0) * UNIT
        parts.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='2.6' fill='{fill}' stroke='#fff' stroke-width='0.7'/>")
    parts.append("</g></defs>")
    return "".join(parts)


def tiles_svg(
    tiles: Sequence[Heatmap | None],
    shape: Sequence[int],
    axis_names: Sequence[str],
    axis_points: Sequence[Sequence[float]],
    statuses: Sequence[str] = (),
    best: int | None = None,
    chosen: int | None = None,
    points: tuple[np.ndarray, np.ndarray] | None = None,
    classes: Sequence[str] = (),
    width: int = 760,
) -> str:
    """Every member's boundary (or regression surface) in a grid labelled by its values: two axes as rows and
    columns, one axis in rows of eight. The training points sit on every tile; a diverged member is greyed and
    says so; the best member has a gold frame and a star, the chosen one a dark frame."""
    rows, cols, places = grid_layout(shape)
    two = len(shape) == 2
    left = 64 if two else 8
    top = 34 if two else 20
    gap = 6
    label_h = 0 if two else 13
    tile = max(48.0, min(150.0, (width - left - 8) / cols - gap))
    total_w = left + cols * (tile + gap) + 8
    total_h = top + rows * (tile + gap + label_h) + 8
    shown = [t for t in tiles if t is not None]
    regression = bool(shown) and shown[0].kind == "value"
    value_range = None
    if regression:
        pool = [t.values.reshape(-1) for t in shown]
        if points is not None:
            pool.append(np.asarray(points[1], dtype=np.float32).reshape(-1))
        joined = np.concatenate(pool)
        joined = joined[np.isfinite(joined)]
        value_range = (float(joined.min()), float(joined.max())) if joined.size else (0.0, 1.0)
    extent = shown[0].extent if shown else (-1.0, 1.0, -1.0, 1.0)
    parts = [_svg_open(total_w, total_h), _points_defs(points, extent, regression, value_range)]
    if two:
        parts.append(_text(left + cols * (tile + gap) / 2, 11, f"{axis_names[1]} →", 11, weight="bold"))
        parts.append(_text(4, 11, f"{axis_names[0]} ↓", 11, anchor="start", weight="bold"))
        for c, value in enumerate(axis_points[1]):
            parts.append(_text(left + c * (tile + gap) + tile / 2, top - 6, _short_value(value), 10))
        for r, value in enumerate(axis_points[0]):
            parts.append(_text(left - 6, top + r * (tile + gap) + tile / 2 + 4, _short_value(value), 10, anchor="end"))
    else:
        parts.append(_text(left, 13, str(axis_names[0]), 11, anchor="start", weight="bold"))
    n_classes = max(len(classes), 2)
    for member, (r, c) in enumerate(places):
        if member >= len(tiles):
            break
        x = left + c * (tile + gap)
        y = top + r * (tile + gap + label_h)
        status = statuses[member] if member < len(statuses) else "training"
        heat = tiles[member]
        parts.append(f"<g><title>member {member + 1}</title>")
        if heat is None:
            parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{tile:.1f}' height='{tile:.1f}' fill='#eee'/>")
        else:
            uri = data_uri(heat_rgb(heat, n_classes=n_classes, value_range=value_range))
            parts.append(f"<image x='{x:.1f}' y='{y:.1f}' width='{tile:.1f}' height='{tile:.1f}' "
                         f"preserveAspectRatio='none' href='{uri}'/>")
            if points is not None:
                parts.append(f"<use href='#pts' xlink:href='#pts' transform='translate({x:.1f} {y:.1f}) "
                             f"scale({tile / UNIT:.4f})'/>")
        if status == "diverged":
            parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{tile:.1f}' height='{tile:.1f}' fill='#777' "
                         "fill-opacity='0.65'/>")
            parts.append(_text(x + tile / 2, y + tile / 2 + 4, "diverged", 10, colour="#fff", weight="bold"))
        elif status == "stopped early":
            parts.append(f"<rect x='{x:.1f}' y='{y + tile - 13:.1f}' width='{tile:.1f}' height='13' fill='#fff' "
                         "fill-opacity='0.8'/>")
            parts.append(_text(x + tile / 2, y + tile - 3, "stopped early", 9))
        frame, stroke = "#999", 0.8
        if member == chosen:
            frame, stroke = CHOSEN_COLOUR, 2.5
        parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{tile:.1f}' height='{tile:.1f}' fill='none' "
                     f"stroke='{frame}' stroke-width='{stroke}'/>")
        if member == best:
            parts.append(f"<rect x='{x - 2.5:.1f}' y='{y - 2.5:.1f}' width='{tile + 5:.1f}' height='{tile + 5:.1f}' "
                         f"fill='none' stroke='{BEST_COLOUR}' stroke-width='3'/>")
            parts.append(_text(x + tile - 3, y + 14, "★", 14, anchor="end", colour=BEST_COLOUR, weight="bold"))
        if not two:
            parts.append(_text(x + tile / 2, y + tile + 11, _short_value(axis_points[0][member]), 10))
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------------ curves


def _legend(colour_name: str, colour_points: Sequence[float], x: float, y: float, width: float) -> str:
    """The colour of each value of the colouring setting: swatches, or a colour bar beyond MAX_SWATCHES."""
    positions = value_positions(list(colour_points))
    parts = [_text(x, y + 9, f"{colour_name}:", 10, anchor="start")]
    start = x + 8 + 6 * len(colour_name) + 6
    if len(colour_points) <= MAX_SWATCHES:
        step = min(70.0, max(52.0, (width - (start - x)) / max(len(colour_points), 1)))
        for i, (value, t) in enumerate(zip(colour_points, positions, strict=True)):
            sx = start + i * step
            parts.append(f"<rect x='{sx:.1f}' y='{y + 1}' width='14' height='9' "
                         f"fill='{sequential(t * LINE_T_MAX)}'/>")
            parts.append(_text(sx + 17, y + 9, _short_value(value), 9, anchor="start"))
        return "".join(parts)
    bar = max(60.0, width - (start - x) - 90)
    for k in range(24):
        parts.append(f"<rect x='{start + 30 + k * bar / 24:.1f}' y='{y + 1}' width='{bar / 24 + 0.5:.1f}' height='9' "
                     f"fill='{sequential(k / 23 * LINE_T_MAX)}'/>")
    parts.append(_text(start + 26, y + 9, _short_value(min(colour_points)), 9, anchor="end"))
    parts.append(_text(start + 34 + bar, y + 9, _short_value(max(colour_points)), 9, anchor="start"))
    return "".join(parts)


def curves_svg(
    rows: Sequence[dict],
    colour_values: Sequence[float],
    colour_name: str,
    colour_points: Sequence[float],
    best: int | None = None,
    chosen: int | None = None,
    total_epochs: int | None = None,
    width: int = 620,
    height: int = 230,
) -> str:
    """Every member's validation loss (training loss without a validation split) and, for a classifier, its
    validation accuracy, one line a member coloured by its value of ``colour_name``; the best member's line
    thicker with a gold halo, the chosen one's dashed. A legend says which colour is which value."""
    members = len(colour_values)
    keys = {}
    if rows:
        keys["loss"] = "val_loss" if any(np.isfinite(r["val_loss"]).any() for r in rows) else "train_loss"
        if "val_acc" in rows[0]:
            keys["accuracy"] = "val_acc" if keys["loss"] == "val_loss" else "train_acc"
    panels = list(keys.items()) or [("loss", "val_loss")]
    left, right, top, bottom = 46, 10, 18, 40
    gap = 30
    panel_w = (width - left - right - gap * (len(panels) - 1)) / len(panels)
    inner_h = height - top - bottom
    epochs = [int(r["epoch"]) for r in rows]
    last = max(total_epochs or 0, epochs[-1] if epochs else 1, 1)
    first = epochs[0] - 1 if epochs else 0
    positions = value_positions(list(colour_values))
    colours = [sequential(t * LINE_T_MAX) for t in positions]
    stride = max(1, len(rows) // 300)  # at most ~300 points a line
    sample = list(range(0, len(rows), stride))
    if rows and sample[-1] != len(rows) - 1:
        sample.append(len(rows) - 1)
    parts = [_svg_open(width, height)]
    for p, (title, key) in enumerate(panels):
        px = left + p * (panel_w + gap)
        matrix = np.array([rows[i][key] for i in sample], dtype=np.float64).reshape(len(sample), members) if rows \
            else np.zeros((0, members))
        finite = matrix[np.isfinite(matrix)]
        log = False
        if title == "accuracy":
            lo, hi = 0.0, 1.0
        else:
            positive = finite[finite > 0]
            log = positive.size > 0 and positive.max() / positive.min() > 10
            if log:
                lo, hi = math.log10(positive.min()), math.log10(positive.max())
            else:
                lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5

        def sx(e: float, px: float = px) -> float:
            return px + (e - first) / max(last - first, 1) * panel_w

        def sy(v: float, lo: float = lo, hi: float = hi, log: bool = log) -> float:
            value = math.log10(v) if log else v
            return top + (hi - value) / (hi - lo) * inner_h

        name = {"val_loss": "validation loss", "train_loss": "training loss", "val_acc": "validation accuracy",
                "train_acc": "training accuracy"}[key]
        parts.append(f"<rect x='{px:.1f}' y='{top}' width='{panel_w:.1f}' height='{inner_h}' fill='#fafafa' "
                     "stroke='#ddd'/>")
        parts.append(_text(px + panel_w / 2, 12, name + (" (log scale)" if log else ""), 11))
        for value, y in ((lo, top + inner_h), (hi, top)):
            parts.append(_text(px - 3, y + 3, f"{10 ** value if log else value:.3g}", 9, anchor="end"))
        parts.append(_text(px + panel_w, top + inner_h + 11, f"epoch {last}", 9, anchor="end"))
        order = [m for m in range(members) if m not in (best, chosen)] + [m for m in (chosen, best)
                                                                          if m is not None and m < members]
        for member in dict.fromkeys(order):
            pairs = [(sx(epochs[i]), sy(v)) for i, v in zip(sample, matrix[:, member], strict=True)
                     if math.isfinite(v) and (v > 0 or not log)]
            if not pairs:
                continue
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pairs)
            if member == best:
                parts.append(f"<polyline points='{path}' fill='none' stroke='{BEST_COLOUR}' stroke-width='5' "
                             "stroke-opacity='0.55'/>")
            dash = " stroke-dasharray='5,3'" if member == chosen else ""
            stroke = 2.4 if member in (best, chosen) else 1.2
            if len(pairs) == 1:
                parts.append(f"<circle cx='{pairs[0][0]:.1f}' cy='{pairs[0][1]:.1f}' r='2' fill='{colours[member]}'/>")
            else:
                parts.append(f"<polyline points='{path}' fill='none' stroke='{colours[member]}' "
                             f"stroke-width='{stroke}' stroke-opacity='0.9'{dash}/>")
    if not rows:
        parts.append(_text(left + (width - left - right) / 2, top + inner_h / 2, "each member's curve appears here as "
                           "it trains", 11, colour="#777"))
    parts.append(_legend(colour_name, colour_points, left, height - 16, width - left - right))
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------------ heatmap


def metric_grid_svg(
    values: Sequence[float],
    shape: Sequence[int],
    axis_names: Sequence[str],
    axis_points: Sequence[Sequence[float]],
    title: str,
    higher_is_better: bool,
    best: int | None = None,
    chosen: int | None = None,
    width: int = 380,
) -> str:
    """A final metric over the grid, one cell a member with its number written in, darker blue for better; a
    member with no number (it diverged before an epoch) is grey with a dash. Two axes: rows and columns; one axis:
    one row."""
    values = np.asarray(values, dtype=np.float64)
    two = len(shape) == 2
    rows, cols = (shape[0], shape[1]) if two else (1, shape[0])
    left = 58 if two else 8
    top = 40
    cell_w = max(34.0, min(90.0, (width - left - 8) / cols))
    cell_h = min(34.0, cell_w)
    total_w, total_h = left + cols * cell_w + 8, top + rows * cell_h + 8
    finite = values[np.isfinite(values)]
    log = not higher_is_better and finite.size > 0 and finite.min() > 0 and finite.max() / finite.min() > 10
    scaled = np.log10(np.where(values > 0, values, np.nan)) if log else values
    good = scaled[np.isfinite(scaled)]
    low, high = (float(good.min()), float(good.max())) if good.size else (0.0, 1.0)
    parts = [_svg_open(total_w, total_h), _text(left, 12, title + (" (colour on a log scale)" if log else ""), 11,
                                                anchor="start", weight="bold")]
    if two:
        parts.append(_text(left + cols * cell_w / 2, 25, f"{axis_names[1]} →", 10))
        parts.append(_text(4, 25, f"{axis_names[0]} ↓", 10, anchor="start"))
        for c, value in enumerate(axis_points[1]):
            parts.append(_text(left + c * cell_w + cell_w / 2, top - 3, _short_value(value), 9))
        for r, value in enumerate(axis_points[0]):
            parts.append(_text(left - 5, top + r * cell_h + cell_h / 2 + 3, _short_value(value), 9, anchor="end"))
    else:
        parts.append(_text(left, 25, str(axis_names[0]), 10, anchor="start"))
        for c, value in enumerate(axis_points[0]):
            parts.append(_text(left + c * cell_w + cell_w / 2, top - 3, _short_value(value), 9))
    for member in range(min(len(values), rows * cols)):
        r, c = divmod(member, cols)
        x, y = left + c * cell_w, top + r * cell_h
        value = values[member]
        if not math.isfinite(value):
            parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{cell_w:.1f}' height='{cell_h:.1f}' fill='#ccc' "
                         "stroke='#fff'/>")
            parts.append(_text(x + cell_w / 2, y + cell_h / 2 + 4, "—", 10, colour="#555"))
            continue
        t = (scaled[member] - low) / (high - low) if high > low else 1.0
        t = t if higher_is_better else 1.0 - t
        fill = sequential(0.1 + 0.9 * t, BLUES)
        ink = "#fff" if t > 0.55 else "#111"
        parts.append(f"<rect x='{x:.1f}' y='{y:.1f}' width='{cell_w:.1f}' height='{cell_h:.1f}' fill='{fill}' "
                     "stroke='#fff'><title>member " f"{member + 1}</title></rect>")
        parts.append(_text(x + cell_w / 2, y + cell_h / 2 + 4, compact(value), 10 if cell_w >= 44 else 9, colour=ink))
        if member == chosen:
            parts.append(f"<rect x='{x + 2:.1f}' y='{y + 2:.1f}' width='{cell_w - 4:.1f}' height='{cell_h - 4:.1f}' "
                         f"fill='none' stroke='{CHOSEN_COLOUR}' stroke-width='2' stroke-dasharray='4,2'/>")
        if member == best:
            parts.append(f"<rect x='{x + 1:.1f}' y='{y + 1:.1f}' width='{cell_w - 2:.1f}' height='{cell_h - 2:.1f}' "
                         f"fill='none' stroke='{BEST_COLOUR}' stroke-width='3'/>")
    parts.append("</svg>")
    return "".join(parts)
