"""The live pictures: PNG pixels decoded back equal what was drawn (Pillow, which Streamlit brings, is the
oracle), the boundary names its classes and draws every point, the network and the curves say what they show,
and user text in them stays text."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ElementTree

import numpy as np
from PIL import Image

from playground.builder import pictures
from playground.builder.decision_boundary import Heatmap

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # well-formed XML, or this raises


def test_png_bytes_decode_to_the_same_pixels():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(pictures.png_bytes(rgb))).convert("RGB"))
    assert np.array_equal(decoded, rgb)


def test_one_colour_scale_orange_low_white_middle_blue_high():
    low, mid, high = pictures.diverging(np.array([0.0, 0.5, 1.0]))
    assert tuple(low) == tuple(pictures.LOW.astype(int)) and tuple(high) == tuple(pictures.HIGH.astype(int))
    assert tuple(mid) == tuple(pictures.MID.astype(int))


def test_the_boundary_draws_every_point_and_names_the_classes():
    heat = Heatmap("probability", np.full((8, 8), 200, dtype=np.uint8), (-6.0, 6.0, -6.0, 6.0))
    xy = np.array([[0.0, 0.0], [1.0, -1.0], [-5.0, 5.0]])
    svg = pictures.boundary_svg(heat, [(xy, np.array([0, 1, 1]), "train"), (xy[:1], np.array([0]), "test")],
                                classes=("cats <b>", "dogs"))
    root = parse(svg)
    assert len(root.findall(f".//{SVG}circle")) == 3  # training points
    assert len([r for r in root.findall(f".//{SVG}rect") if r.get("transform")]) == 1  # a test diamond
    texts = [e.text for e in root.iter(f"{SVG}text")]
    assert "cats <b>" in texts and "dogs" in texts and "x₁" in texts and "x₂" in texts  # a key, escaped as text
    assert "<b>" not in svg.replace("&lt;b&gt;", "")


def test_a_regression_surface_keys_its_range():
    values = np.linspace(-2, 3, 64, dtype=np.float32).reshape(8, 8)
    svg = pictures.boundary_svg(Heatmap("value", values, (-6.0, 6.0, -6.0, 6.0)))
    texts = [e.text for e in parse(svg).iter(f"{SVG}text")]
    assert "-2" in texts and "3" in texts


def test_the_network_draws_links_by_sign_and_thumbnails_inside_nodes():
    weights = [np.array([[1.0, -2.0], [0.5, 0.0], [-1.0, 1.0]]), np.array([[1.0, 1.0, -1.0]])]
    thumbs = [np.zeros((3, 4, 4), dtype=np.uint8)]
    svg = pictures.network_svg((2, 3, 1), weights, thumbs, labels=("x1", "a&b"), activations=("tanh",))
    root = parse(svg)
    lines = root.findall(f".//{SVG}line")
    assert len(lines) == 2 * 3 + 3 * 1
    colours = [line.get("stroke") for line in lines]
    assert colours.count(pictures.NEGATIVE) == 3 and colours.count(pictures.POSITIVE) == 6
    assert len(root.findall(f".//{SVG}image")) == 3  # one picture in each hidden node
    assert "a&b" in [e.text for e in root.iter(f"{SVG}text")]


def test_many_layers_keep_their_headers_apart():
    widths = (2, 8, 8, 8, 8, 8, 8, 8, 8, 2)
    svg = pictures.network_svg(widths, activations=("relu",) * 8)
    titles = [e for e in parse(svg).iter(f"{SVG}text") if e.get("font-weight") == "bold"]
    xs = [float(e.get("x")) for e in titles]
    assert len(xs) == len(widths) and all(b - a >= 30 for a, b in zip(xs, xs[1:], strict=False))


def test_the_curves_mark_learning_rate_changes_and_the_replayed_epoch():
    history = [{"epoch": i, "train_loss": 1 / i, "val_loss": 1.5 / i, "train_acc": i / 20, "val_acc": i / 25}
               for i in range(1, 21)]
    svg = pictures.curves_svg(history, "classification", lr_changes=((10, 0.1),), marker_epoch=5)
    root = parse(svg)
    assert len(root.findall(f".//{SVG}polyline")) == 4  # loss and accuracy, train and validation
    assert "lr 0.1" in [e.text for e in root.iter(f"{SVG}text")]
    assert any(line.get("stroke") == "#d62728" for line in root.iter(f"{SVG}line"))
    assert re.search(r"loss \(log scale\)", svg)  # a loss falling twentyfold is drawn on a log scale
    empty = pictures.curves_svg([], "regression")
    assert "appears here" in empty
