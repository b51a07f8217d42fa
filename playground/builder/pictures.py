"""The Model Builder's live pictures as SVG: the decision boundary (or regression surface) with its colour key,
the network with each neuron's picture inside its node and links coloured and sized by weight, and the loss
curves. Pure functions of numbers.

They are images, not Plotly figures: the page redraws them a few times a second while a model trains, and a
browser draws an SVG of a few hundred elements (a heatmap is one embedded PNG) far more cheaply than a Plotly
figure, so the browser leaves the cores to the training. One colour scale serves every picture: orange for
low (class 0), white in the middle, blue for high (class 1), as in the TensorFlow playground.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Sequence
from html import escape

import numpy as np

from playground.builder.decision_boundary import Heatmap

LOW = np.array([245.0, 162.0, 93.0])  # orange: low values, class 0
MID = np.array([247.0, 247.0, 247.0])
HIGH = np.array([66.0, 146.0, 198.0])  # blue: high values, class 1
CLASS_COLOURS = ["#f28e2b", "#4e79a7", "#59a14f", "#e15759", "#b07aa1", "#9c755f", "#ff9da7", "#79706e",
                 "#bab0ac", "#edc948"]
POSITIVE, NEGATIVE = "#4e79a7", "#f28e2b"
TRAIN_COLOUR, VAL_COLOUR = "#4e79a7", "#f28e2b"
MAX_POINTS_DRAWN = 1500
FONT = "font-family='sans-serif'"
# Input names beside the network: their font, the gap to the node (half the largest node and a margin), the share
# of the picture they may take, and how much of a longer name its <title> keeps.
LABEL_FONT = 11
LABEL_PAD = 21.0
LABEL_SHARE = 0.4
LABEL_TITLE_CHARS = 200


# ------------------------------------------------------------------------------------------------ pixels


def diverging(t: np.ndarray) -> np.ndarray:
    """Values in [0, 1] to RGB uint8: orange, white, blue."""
    t = np.clip(np.asarray(t, dtype=np.float32), 0.0, 1.0)[..., None]
    rgb = np.where(t < 0.5, LOW + (MID - LOW) * (t * 2), MID + (HIGH - MID) * (t * 2 - 1))
    return rgb.round().astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """A minimal PNG of an RGB uint8 image [h, w, 3] (no Pillow needed; rows are stored as they are)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width = rgb.shape[:2]
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def data_uri(rgb: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(rgb)).decode()


def heat_rgb(heat: Heatmap, discretize: bool = False, n_classes: int = 2,
             value_range: tuple[float, float] | None = None) -> np.ndarray:
    """The heatmap as an RGB image, row 0 at the top (the plane's largest y)."""
    values = heat.values[::-1]
    if heat.kind == "probability":
        t = values.astype(np.float32) / 255.0
        if discretize:
            t = (t >= 0.5).astype(np.float32) * 0.8 + 0.1
        return _lighter(diverging(t))
    if heat.kind == "class":
        colours = np.array([_rgb(CLASS_COLOURS[i % len(CLASS_COLOURS)]) for i in range(max(n_classes, 2))])
        base = colours[values.astype(np.int64) % len(colours)]
        confidence = heat.confidence[::-1].astype(np.float32) / 255.0 if heat.confidence is not None else 1.0
        strength = 0.55 if discretize else 0.25 + 0.35 * np.asarray(confidence)[..., None]
        return (255 - (255 - base) * strength).round().astype(np.uint8)
    low, high = value_range or (float(np.nanmin(heat.values)), float(np.nanmax(heat.values)))
    t = (values - low) / (high - low) if high > low else np.full(values.shape, 0.5)
    if discretize:
        t = np.round(t * 4) / 4
    return _lighter(diverging(t))


def class_probability_rgb(values: np.ndarray, k: int) -> np.ndarray:
    """An output neuron's picture: class ``k``'s probability over the plane (uint8, 0 to 255 for 0 to 1, row 0 at
    the bottom) as white to the class's colour, the colour of its points and of the boundary; row 0 at the top."""
    t = np.asarray(values)[::-1].astype(np.float32)[..., None] / 255.0
    colour = _rgb(CLASS_COLOURS[k % len(CLASS_COLOURS)])
    return (255 - (255 - colour) * t).round().astype(np.uint8)


def _lighter(rgb: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """The background a little paler than the points drawn on it, so they stand out, as in the TF playground."""
    return (255 - (255 - rgb.astype(np.float32)) * strength).round().astype(np.uint8)


def _rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


# ------------------------------------------------------------------------------------------------ boundary


def boundary_svg(
    heat: Heatmap,
    points: Sequence[tuple[np.ndarray, np.ndarray, str]] = (),
    discretize: bool = False,
    classes: Sequence[str] = (),
    size: int = 340,
    value_range: tuple[float, float] | None = None,
) -> str:
    """The plane: the model's output as a heatmap, the points on top (``(xy, labels, "train"|"test")``), axes
    named x₁ and x₂ below and beside it, and a colour key beneath that names what each colour means."""
    margin_left, margin_bottom, key_height = 34, 30, 24
    width, height = margin_left + size + 8, size + margin_bottom + key_height + 8
    x0, x1, y0, y1 = heat.extent
    if value_range is None and heat.kind == "value":
        all_values = [heat.values.reshape(-1)] + [np.asarray(lab, dtype=np.float64).reshape(-1) for _, lab, _ in points]
        joined = np.concatenate(all_values)
        value_range = (float(np.nanmin(joined)), float(np.nanmax(joined)))

    def sx(x: float) -> float:
        return margin_left + (x - x0) / (x1 - x0) * size

    def sy(y: float) -> float:
        return 4 + (y1 - y) / (y1 - y0) * size

    parts = [_svg_open(width, height),
             f"<image x='{margin_left}' y='4' width='{size}' height='{size}' preserveAspectRatio='none' "
             f"style='image-rendering:pixelated' href='{data_uri(heat_rgb(heat, discretize, len(classes), value_range))}'/>"]
    for xy, labels, kind in points:
        xy, labels = np.asarray(xy), np.asarray(labels).reshape(-1)
        if len(xy) > MAX_POINTS_DRAWN:
            keep = np.linspace(0, len(xy) - 1, MAX_POINTS_DRAWN).round().astype(int)
            xy, labels = xy[keep], labels[keep]
        stroke = "#111" if kind == "test" else "#fff"
        for (x, y), label in zip(xy, labels, strict=True):
            if not (x0 <= x <= x1 and y0 <= y <= y1):
                continue
            fill = _point_colour(heat, label, value_range)
            if kind == "test":
                r = 4.2
                parts.append(f"<rect x='{sx(x) - r:.1f}' y='{sy(y) - r:.1f}' width='{2 * r:.1f}' height='{2 * r:.1f}' "
                             f"transform='rotate(45 {sx(x):.1f} {sy(y):.1f})' fill='{fill}' stroke='{stroke}' stroke-width='1'/>")
            else:
                parts.append(f"<circle cx='{sx(x):.1f}' cy='{sy(y):.1f}' r='3.4' fill='{fill}' stroke='{stroke}' "
                             "stroke-width='0.8'/>")
    parts.append(f"<rect x='{margin_left}' y='4' width='{size}' height='{size}' fill='none' stroke='#999'/>")
    for tick in (x0, (x0 + x1) / 2, x1):
        parts.append(f"<text x='{sx(tick):.1f}' y='{size + 17}' font-size='10' text-anchor='middle' {FONT}>{tick:g}</text>")
        parts.append(f"<text x='{margin_left - 4}' y='{sy(tick) + 3:.1f}' font-size='10' text-anchor='end' {FONT}>{tick:g}</text>")
    parts.append(f"<text x='{margin_left + size / 2}' y='{size + 28}' font-size='12' text-anchor='middle' {FONT}>x₁</text>")
    parts.append(f"<text x='10' y='{4 + size / 2}' font-size='12' text-anchor='middle' {FONT}>x₂</text>")
    parts.append(_colour_key(heat, classes, value_range, margin_left, size + margin_bottom + 6, size,
                             any(kind == "test" for _, _, kind in points)))
    parts.append("</svg>")
    return "".join(parts)


def _point_colour(heat: Heatmap, label: object, value_range: tuple[float, float] | None) -> str:
    if heat.kind == "value":
        low, high = value_range or (0.0, 1.0)
        t = (float(label) - low) / (high - low) if high > low else 0.5
        r, g, b = diverging(np.array(t))
        return f"#{r:02x}{g:02x}{b:02x}"
    index = int(label)
    if heat.kind == "probability":
        return CLASS_COLOURS[index % 2]
    return CLASS_COLOURS[index % len(CLASS_COLOURS)]


def _colour_key(heat: Heatmap, classes: Sequence[str], value_range, x: float, y: float, width: float, test: bool) -> str:
    """What the colours mean: one swatch a class, or a gradient from the lowest to the highest value."""
    parts = []
    if heat.kind == "value":
        low, high = value_range or (0.0, 1.0)
        gradient = diverging(np.linspace(0, 1, 64))[None, :, :]
        parts.append(f"<image x='{x + 40}' y='{y + 2}' width='{width - 80}' height='10' preserveAspectRatio='none' "
                     f"href='{data_uri(np.repeat(gradient, 2, axis=0))}'/>")
        parts.append(f"<text x='{x + 36}' y='{y + 11}' font-size='10' text-anchor='end' {FONT}>{low:.3g}</text>")
        parts.append(f"<text x='{x + width - 36}' y='{y + 11}' font-size='10' {FONT}>{high:.3g}</text>")
    else:
        names = list(classes) or [f"class {i}" for i in range(2)]
        step = width / max(len(names), 1)
        for i, name in enumerate(names[:10]):
            colour = CLASS_COLOURS[i % len(CLASS_COLOURS)]
            parts.append(f"<rect x='{x + i * step:.1f}' y='{y + 2}' width='10' height='10' fill='{colour}'/>")
            parts.append(f"<text x='{x + i * step + 14:.1f}' y='{y + 11}' font-size='10' {FONT}>"
                         f"{escape(_short(name, 14))}</text>")
    if test:
        parts.append(f"<text x='{x + width}' y='{y + 22}' font-size='9' text-anchor='end' {FONT}>"
                     "◆ test points, ● training points</text>")
    return "".join(parts)


def _short(text: str, limit: int) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def network_caption(parameters: int, over_plane: bool) -> str:
    """The words under the network picture. Only inputs on a plane (a generated dataset) give the neurons pictures;
    a CSV's inputs are not a plane, so nothing is said about one."""
    links = "links blue for positive, orange for negative weights, thicker for larger."
    if over_plane:
        return (f"{parameters:,} parameters. Each neuron shows what it computes over the plane (an output: its class's "
                f"probability); {links}")
    return f"{parameters:,} parameters. Each input is a column of the CSV; {links}"


def _char_px(ch: str) -> float:
    return 9.6 if ch in "mwMW@" else 3.4 if ch in "ijlt.,:;|!'" else 7.8 if ch.isupper() else 6.2


def text_px(text: str) -> float:
    """A generous width of ``text`` in the 11 px sans-serif of the labels (Chromium draws ``sepal_length`` 62 px
    wide, ``SEPAL_LENGTH_CM`` 109 px, ``m`` 9.2 px): what to leave room for."""
    return sum(_char_px(ch) for ch in text)


def _fit(text: str, room: float) -> str:
    """``text`` whole if it fits ``room`` pixels, else its longest start that fits with an ellipsis after it."""
    if text_px(text) <= room:
        return text
    used, room_for_cut = 0.0, room - _char_px("…")
    for end, ch in enumerate(text):
        used += _char_px(ch)
        if used > room_for_cut:
            return text[:end] + "…"
    return text


def _label_room(labels: Sequence[str], width: int) -> float:
    """The room left of the input nodes for their names: the longest whole (``sepal_length``), up to ``LABEL_SHARE``
    of the picture; a longer one is cut with an ellipsis and named whole in its ``<title>``."""
    if not labels:
        return 12.0
    longest = max(text_px(str(label)[:LABEL_TITLE_CHARS]) for label in labels)
    return min(max(64.0, LABEL_PAD + longest), width * LABEL_SHARE)


def _svg_open(width: float, height: float) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' xmlns:xlink='http://www.w3.org/1999/xlink' "
            f"width='{width:.0f}' height='{height:.0f}' viewBox='0 0 {width:.0f} {height:.0f}'>")


# ------------------------------------------------------------------------------------------------ network


def network_svg(
    widths: Sequence[int],
    weights: Sequence[np.ndarray] | None = None,
    thumbnails: Sequence[np.ndarray] | None = None,
    labels: Sequence[str] = (),
    activations: Sequence[str] = (),
    max_neurons: int = 16,
    height: int = 360,
    width: int = 420,
    input_pictures: Sequence[np.ndarray] | None = None,
    output_picture: np.ndarray | None = None,
    output_pictures: Sequence[np.ndarray] | None = None,
    activation_labels: Sequence[str] = (),
) -> str:
    """The network: a column of nodes a layer (at most ``max_neurons`` drawn, the rest counted), each hidden
    node showing what that neuron computes over the plane (``thumbnails[layer][neuron]``, uint8), links blue for
    positive and orange for negative weights, thicker for larger |weight| (``weights[k]`` is [out, in]). The output
    nodes show ``output_pictures[neuron]`` (RGB), or a single output node ``output_picture``.

    Each Linear layer (its links in and the column of nodes it computes) is one ``<g data-layer="k">`` (k from 1)
    whose ``<title>`` names it, "Linear 1: 2 → 8, Tanh" (``activation_labels``, else ``activations``), so the page
    can highlight and choose a layer where the picture is hovered or clicked."""
    shown = [min(w, max_neurons) for w in widths]
    columns = len(widths)
    label_room = _label_room(labels, width)
    header = 30
    step_x = (width - label_room - 20) / max(columns - 1, 1)
    node = max(10.0, min(30.0, (height - header - 8) / max(max(shown), 1) - 4, step_x * 0.45))

    def xy(k: int, i: int) -> tuple[float, float]:
        spacing = (height - header - 8) / max(shown[k], 1)
        return label_room + k * step_x, header + spacing * (i + 0.5)

    scale = 1.0
    if weights:
        magnitudes = [float(np.abs(w).max()) for w in weights if w.size]
        scale = max(magnitudes) if magnitudes and max(magnitudes) > 0 else 1.0
    links: dict[int, list[str]] = {}  # layer k's links in, drawn in its group
    for k in range(columns - 1):
        drawn = links.setdefault(k + 1, [])
        for j in range(shown[k + 1]):
            xb, yb = xy(k + 1, j)
            for i in range(shown[k]):
                xa, ya = xy(k, i)
                if weights and k < len(weights) and j < weights[k].shape[0] and i < weights[k].shape[1]:
                    w = float(weights[k][j, i])
                    colour = POSITIVE if w >= 0 else NEGATIVE
                    stroke = 0.4 + 4.0 * min(abs(w) / scale, 1.0)
                    opacity = 0.35 + 0.6 * min(abs(w) / scale, 1.0)
                else:
                    colour, stroke, opacity = "#bbbbbb", 0.6, 0.6
                drawn.append(f"<line x1='{xa + node / 2:.1f}' y1='{ya:.1f}' x2='{xb - node / 2:.1f}' y2='{yb:.1f}' "
                             f"stroke='{colour}' stroke-width='{stroke:.2f}' stroke-opacity='{opacity:.2f}'/>")
    names = ["input"] + [f"{w}" + (f" {activations[i]}" if i < len(activations) else "") for i, w in enumerate(widths[1:-1])]
    names.append("output")
    words = list(activation_labels) or list(activations)
    parts = [_svg_open(width, height)]
    for k in range(columns):
        if k:  # a Linear layer: its links in, its column of nodes
            what = words[k - 1] if k < columns - 1 and k - 1 < len(words) else "output" if k == columns - 1 else ""
            parts.append(f"<g data-layer='{k}'><title>"
                         f"{escape(f'Linear {k}: {widths[k - 1]} → {widths[k]}' + (f', {what}' if what else ''))}</title>")
            left = label_room + (k - 1) * step_x + node / 2  # where a pointer picks it: from the last column to its own
            parts.append(f"<rect x='{left:.1f}' y='0' width='{step_x:.1f}' height='{height}' fill='transparent'/>")
            parts.extend(links.get(k, ()))
        cx = label_room + k * step_x
        title = names[k] if k in (0, columns - 1) else f"layer {k}"
        sub = f"{widths[k]}" if k in (0, columns - 1) else names[k]
        if shown[k] < widths[k]:
            sub += f" ({shown[k]} drawn)"
        parts.append(f"<text x='{cx:.1f}' y='11' font-size='11' text-anchor='middle' {FONT} font-weight='bold'>"
                     f"{escape(_short(title, 12))}</text>")
        parts.append(f"<text x='{cx:.1f}' y='23' font-size='10' text-anchor='middle' {FONT} fill='#555'>"
                     f"{escape(_short(sub, max(8, int(step_x / 6))))}</text>")
        for i in range(shown[k]):
            x, y = xy(k, i)
            picture = None
            if k == 0 and input_pictures is not None and i < len(input_pictures):
                picture = input_pictures[i]
            elif 0 < k < columns - 1 and thumbnails and k - 1 < len(thumbnails) and i < len(thumbnails[k - 1]):
                picture = thumbnails[k - 1][i]
            elif k == columns - 1 and output_pictures is not None and i < len(output_pictures):
                picture = output_pictures[i]
            elif k == columns - 1 and output_picture is not None and shown[k] == 1:
                picture = output_picture
            if picture is not None:
                rgb = diverging(np.asarray(picture)[::-1].astype(np.float32) / 255.0) if picture.ndim == 2 else picture
                parts.append(f"<image x='{x - node / 2:.1f}' y='{y - node / 2:.1f}' width='{node:.1f}' height='{node:.1f}' "
                             f"preserveAspectRatio='none' href='{data_uri(rgb)}'/>")
                parts.append(f"<rect x='{x - node / 2:.1f}' y='{y - node / 2:.1f}' width='{node:.1f}' height='{node:.1f}' "
                             "fill='none' stroke='#333' stroke-width='1'/>")
            else:
                parts.append(f"<rect x='{x - node / 2:.1f}' y='{y - node / 2:.1f}' width='{node:.1f}' height='{node:.1f}' "
                             "rx='3' fill='#fff' stroke='#333' stroke-width='1.2'/>")
            if k == 0 and i < len(labels):
                label = str(labels[i])
                drawn = _fit(label, x - node / 2 - 4)
                text = (f"<text x='{x - node / 2 - 4:.1f}' y='{y + 4:.1f}' font-size='{LABEL_FONT}' text-anchor='end' "
                        f"{FONT}>{escape(drawn)}</text>")
                if drawn != label:  # cut: the whole name in the <title> of a group around it
                    text = f"<g><title>{escape(_short(label, LABEL_TITLE_CHARS))}</title>{text}</g>"
                parts.append(text)
        if k:
            parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------------------------ curves


def curves_svg(
    history: Sequence[dict],
    task: str,
    width: int = 420,
    height: int = 170,
    lr_changes: Sequence[tuple[int, float]] = (),
    marker_epoch: int | None = None,
    total_epochs: int | None = None,
) -> str:
    """Loss per epoch, train (blue) and validation (orange), on a log scale when it spans a decade; accuracy,
    for a classifier, in a second small panel. A dashed line marks each learning-rate change and the epoch the
    replay shows."""
    classification = task == "classification" and bool(history) and "train_acc" in history[0]
    panels = [("loss", ("train_loss", "val_loss"))] + ([("accuracy", ("train_acc", "val_acc"))] if classification else [])
    left, right, top, bottom = 46, 10, 16, 22
    gap = 28
    panel_width = (width - left - right - gap * (len(panels) - 1)) / len(panels)
    inner_height = height - top - bottom
    epochs = [int(r["epoch"]) for r in history]
    last = max(total_epochs or 0, epochs[-1] if epochs else 1, 1)
    first = epochs[0] - 1 if epochs else 0
    parts = [_svg_open(width, height)]
    for p, (title, keys) in enumerate(panels):
        px = left + p * (panel_width + gap)
        series = {key: [(e, float(r.get(key, math.nan))) for e, r in zip(epochs, history, strict=True)] for key in keys}
        values = [v for pairs in series.values() for _, v in pairs if math.isfinite(v)]
        if title == "accuracy":
            lo, hi, log = 0.0, 1.0, False
        else:
            positive = [v for v in values if v > 0]
            log = bool(positive) and max(positive) / min(positive) > 10
            lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
            if log:
                lo, hi = math.log10(min(positive)), math.log10(max(positive))
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5

        def sx(e: float, px: float = px) -> float:
            return px + (e - first) / max(last - first, 1) * panel_width

        def sy(v: float, lo: float = lo, hi: float = hi, log: bool = log if title == "loss" else False) -> float:
            value = math.log10(v) if log and v > 0 else v
            return top + (hi - value) / (hi - lo) * inner_height

        parts.append(f"<rect x='{px:.1f}' y='{top}' width='{panel_width:.1f}' height='{inner_height}' fill='#fafafa' "
                     "stroke='#ddd'/>")
        parts.append(f"<text x='{px + panel_width / 2:.1f}' y='11' font-size='11' text-anchor='middle' {FONT}>"
                     f"{title}{' (log scale)' if title == 'loss' and log else ''}</text>")
        for value, anchor in ((lo, "bottom"), (hi, "top")):
            shown = 10**value if (title == "loss" and log) else value
            y = top + (inner_height if anchor == "bottom" else 0)
            parts.append(f"<text x='{px - 3:.1f}' y='{y + 3:.1f}' font-size='9' text-anchor='end' {FONT}>{shown:.3g}</text>")
        parts.append(f"<text x='{px + panel_width:.1f}' y='{height - 6}' font-size='9' text-anchor='end' {FONT}>"
                     f"epoch {last}</text>")
        for epoch, lr in lr_changes:
            x = sx(epoch + 0.5)
            parts.append(f"<line x1='{x:.1f}' y1='{top}' x2='{x:.1f}' y2='{top + inner_height}' stroke='#888' "
                         "stroke-dasharray='3,3'/>")
            if p == 0:
                parts.append(f"<text x='{x + 2:.1f}' y='{top + 10}' font-size='9' {FONT} fill='#555'>lr {lr:g}</text>")
        if marker_epoch is not None:
            x = sx(marker_epoch)
            parts.append(f"<line x1='{x:.1f}' y1='{top}' x2='{x:.1f}' y2='{top + inner_height}' stroke='#d62728' "
                         "stroke-width='1.5'/>")
        for key, colour in zip(keys, (TRAIN_COLOUR, VAL_COLOUR), strict=True):
            points = [(sx(e), sy(v)) for e, v in _thin(series[key]) if math.isfinite(v) and (v > 0 or not log)]
            if len(points) == 1:
                parts.append(f"<circle cx='{points[0][0]:.1f}' cy='{points[0][1]:.1f}' r='2' fill='{colour}'/>")
            elif points:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
                parts.append(f"<polyline points='{path}' fill='none' stroke='{colour}' stroke-width='1.6'/>")
    if not history:
        parts.append(f"<text x='{left + (width - left - right) / 2:.0f}' y='{top + inner_height / 2:.0f}' font-size='11' "
                     f"text-anchor='middle' {FONT} fill='#777'>the loss of each epoch appears here as it trains</text>")
    parts.append(f"<text x='{left}' y='{height - 6}' font-size='9' {FONT} fill='{TRAIN_COLOUR}'>— train</text>")
    parts.append(f"<text x='{left + 44}' y='{height - 6}' font-size='9' {FONT} fill='{VAL_COLOUR}'>— validation</text>")
    parts.append("</svg>")
    return "".join(parts)


def _thin(pairs: list[tuple[int, float]], limit: int = 400) -> list[tuple[int, float]]:
    if len(pairs) <= limit:
        return pairs
    index = np.linspace(0, len(pairs) - 1, limit).round().astype(int)
    return [pairs[i] for i in index]


# ------------------------------------------------------------------------------------------------ thumbnails


def scatter_thumbnail(xy: np.ndarray, labels: np.ndarray, regression: bool, side: int = 48,
                      extent: float = 6.0) -> np.ndarray:
    """A small picture of a dataset: its points coloured by class (or value) on white, RGB uint8."""
    image = np.full((side, side, 3), 255, dtype=np.uint8)
    xy, labels = np.asarray(xy, dtype=np.float64), np.asarray(labels, dtype=np.float64).reshape(-1)
    cols = np.clip(((xy[:, 0] + extent) / (2 * extent) * (side - 1)).round().astype(int), 0, side - 1)
    rows = np.clip(((extent - xy[:, 1]) / (2 * extent) * (side - 1)).round().astype(int), 0, side - 1)
    if regression:
        low, high = float(labels.min()), float(labels.max())
        colours = diverging((labels - low) / (high - low) if high > low else np.full(labels.shape, 0.5))
    else:
        colours = np.array([_rgb(CLASS_COLOURS[int(c) % len(CLASS_COLOURS)]) for c in labels], dtype=np.uint8)
    image[rows, cols] = colours
    return image
