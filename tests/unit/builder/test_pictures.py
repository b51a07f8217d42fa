"""The live pictures: PNG pixels decoded back equal what was drawn (Pillow, which Streamlit brings, is the
oracle), the boundary names its classes and draws every point, the network and the curves say what they show,
and user text in them stays text. And when the live view redraws them: the epoch line at least four times a
second while a run trains, the pictures once a second then and never while a run waits or is paused; the input
pictures made once a server and bounded."""

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


def label_titles(root: ElementTree.Element) -> list[str]:
    """The <title>s of the input names (a layer's group has its own, naming the layer)."""
    return [t.text for g in root.iter(f"{SVG}g") if not g.get("data-layer") for t in g.findall(f"{SVG}title")]


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


# ------------------------------------------------------------------------------------------------ when and how often
# The live view's pieces that decide what is redrawn (views/model_builder_live.py): cheap for the browser, issue 11.


def test_the_epoch_line_goes_four_times_a_second_and_the_pictures_once_a_second_only_while_training():
    from playground.execution.pool import ACTIVE, DONE
    from views.model_builder_live import Shown, page_refresh, pictures_refresh

    for status in (*ACTIVE, *DONE):
        item = Shown("job", None, None, status=status)
        training = status in ("starting", "running", "pausing")
        line, drawn = page_refresh(item), pictures_refresh(item)
        if training:
            assert line is not None and 1 / line >= 4, (status, line)  # issue 11: the epoch line >= 4 times a second
            assert drawn is not None and drawn >= 2 * line, (status, drawn)  # the pictures far less often
        else:
            assert drawn is None, status  # waiting, paused or ended: the pictures do not change
            assert (line is None) == (status in DONE), status  # a waiting or paused run is still looked at
    for kind in ("run", "untrained"):  # a kept, opened or untrained model is drawn once
        assert page_refresh(Shown(kind, None, None)) is None and pictures_refresh(Shown(kind, None, None)) is None


def test_the_input_pictures_are_ramps_of_their_feature_made_once_a_server_and_bounded():
    from itertools import combinations

    from playground.builder import registry
    from playground.builder.config import DataConfig, RunConfig
    from views import model_builder_live as live

    config = RunConfig(data=DataConfig(features=("x1", "x2", "x1^2")))
    first = live.input_pictures(config)
    assert live.input_pictures(RunConfig(data=DataConfig(features=("x1", "x2", "x1^2")))) is first  # not remade
    x1, x2, x1_squared = first
    assert x1.dtype == np.uint8 and x1.min() == 0 and x1.max() == 255
    assert (x1 == x1[0]).all() and (np.diff(x1[0].astype(int)) > 0).all()  # x1 grows along each row
    assert (x2.T == x2[:, 0]).all() and (np.diff(x2[:, 0].astype(int)) > 0).all()  # x2 grows down the columns
    row = x1_squared[0].astype(int)
    assert (row == row[::-1]).all() and row.argmin() in (len(row) // 2 - 1, len(row) // 2)  # low in the middle
    names = list(registry.FEATURES)
    choices = [c for k in range(1, len(names) + 1) for c in combinations(names, k)]
    assert len(choices) > live._INPUT_PICTURES_KEPT
    for choice in choices:
        assert len(live.input_pictures(RunConfig(data=DataConfig(features=choice)))) == len(choice)
    assert len(live._INPUT_PICTURES) <= live._INPUT_PICTURES_KEPT


def test_output_neurons_show_their_class_probability_in_the_class_colour():
    probability = np.array([[0, 255], [128, 255]], dtype=np.uint8)  # row 0 is the plane's bottom
    rgb = pictures.class_probability_rgb(probability, 1)
    colour = [int(pictures.CLASS_COLOURS[1][i : i + 2], 16) for i in (1, 3, 5)]
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[1, 0].tolist() == [255, 255, 255]  # probability 0: white (the bottom row is drawn last)
    assert rgb[0, 1].tolist() == colour and rgb[1, 1].tolist() == colour  # probability 1: the class's colour
    assert all(colour[c] < rgb[0, 0, c] < 255 or colour[c] == 255 for c in range(3))  # 0.5: between
    outputs = [pictures.class_probability_rgb(probability, k) for k in range(3)]
    svg = pictures.network_svg((2, 4, 3), thumbnails=[np.zeros((4, 4, 4), dtype=np.uint8)], output_pictures=outputs)
    assert len(parse(svg).findall(f".//{SVG}image")) == 4 + 3  # every hidden and every output node
    without = pictures.network_svg((2, 4, 3), thumbnails=[np.zeros((4, 4, 4), dtype=np.uint8)])
    assert len(parse(without).findall(f".//{SVG}image")) == 4


def test_input_names_are_drawn_whole_inside_the_picture_and_a_long_one_is_named_in_its_title():
    """A CSV's column names (``sepal_length``, not ``epal_le...``): whole, their measured width inside the picture;
    one too long for the room is cut with an ellipsis, whole (escaped) in the <title> of its group."""
    names = ("sepal_length", "petal_width", "x")
    root = parse(pictures.network_svg((3, 4, 2), labels=names))
    texts = {e.text: e for e in root.iter(f"{SVG}text")}
    for name in names:
        assert name in texts
        left = float(texts[name].get("x")) - pictures.text_px(name)
        assert left >= 0, (name, left)
    assert not label_titles(root)

    long_name = "<b>&" + "very_long_column_name_" * 4
    svg = pictures.network_svg((2, 4, 2), labels=("short", long_name))
    root = parse(svg)
    titles = label_titles(root)
    assert titles == [long_name] and "<b>" not in svg  # escaped in the markup, whole once parsed
    cut = [e.text for e in root.iter(f"{SVG}text") if e.text and e.text.endswith("…")]
    assert len(cut) == 1 and long_name.startswith(cut[0][:-1]) and len(cut[0]) < len(long_name)
    assert float(next(e for e in root.iter(f"{SVG}text") if e.text == cut[0]).get("x")) - pictures.text_px(cut[0]) >= 0


def test_each_layer_of_the_network_is_a_group_named_in_its_title_and_user_text_stays_text():
    """The page highlights and chooses a layer by these groups (views/svg_picker.py): one a Linear layer, holding its
    links in and its column of nodes, its <title> "Linear k: in → out, activation". A hostile CSV column name is
    escaped: once parsed it is the text of a <text>, no element of its own."""
    hostile = "<img src=x onerror=alert(1)>"
    svg = pictures.network_svg((2, 3, 4, 1), labels=(hostile, "b"), activations=("relu", "tanh"),
                               activation_labels=("ReLU", "Tanh"))
    root = parse(svg)
    layers = [g for g in root.iter(f"{SVG}g") if g.get("data-layer")]
    assert [(g.get("data-layer"), g.find(f"{SVG}title").text) for g in layers] == [
        ("1", "Linear 1: 2 → 3, ReLU"), ("2", "Linear 2: 3 → 4, Tanh"), ("3", "Linear 3: 4 → 1, output")]
    assert [len(g.findall(f"{SVG}line")) for g in layers] == [2 * 3, 3 * 4, 4 * 1]  # every link, once, in its layer
    assert sum(len(g.findall(f"{SVG}line")) for g in layers) == len(list(root.iter(f"{SVG}line")))
    nodes = [len([r for r in g.findall(f"{SVG}rect") if r.get("fill") != "transparent"]) for g in layers]
    assert nodes == [3, 4, 1]  # its column of nodes (the inputs belong to no layer)
    assert "<img" not in svg and not [e for e in root.iter() if e.tag.endswith("img")]
    drawn = [e.text for e in root.iter(f"{SVG}text") if e.get("text-anchor") == "end" and e.text]
    assert any(hostile.startswith(text.rstrip("…")) for text in drawn)  # the name, drawn as text
    labels = pictures.network_svg((2, 3, 1), activations=("relu",))  # without labels, the row names are used
    assert parse(labels).find(f".//{SVG}g[@data-layer='1']/{SVG}title").text == "Linear 1: 2 → 3, relu"
