"""The Model Builder's "Inside the layers" toggle: after a small run, a gradient-flow bar and a weight distribution
per layer, one layer chosen alone (its bar outlined), scrubbed with the replay; the history download has the per-layer
statistics."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ElementTree

from tests.app.conftest import open_page, open_tab
from tests.app.test_model_builder import PAGE, poll_until_done

SVG = "{http://www.w3.org/2000/svg}"


def svgs(at) -> list[ElementTree.Element]:
    return [ElementTree.fromstring(base64.b64decode(img.url.split(",", 1)[1]).decode()) for element in at.get("image")
            for img in element.proto.imgs if img.url.startswith("data:image/svg+xml;base64,")]


def groups(at, kind: str) -> list[str]:
    return [g.get("data-layer") for svg in svgs(at) for g in svg.iter(f"{SVG}g") if g.get("class") == kind]


def titles(at) -> str:
    return " ".join(t.text or "" for svg in svgs(at) for t in svg.iter(f"{SVG}text"))


def test_inside_the_layers_shows_one_bar_and_one_distribution_per_layer_live_and_replayed():
    at = open_page(PAGE)
    at.number_input(key="mb_epochs").set_value(4).run()
    assert groups(at, "layer") == []  # the network picture until the toggle is on
    at.toggle(key="mb_inside").set_value(True).run()
    assert "each layer's gradient appears here as it trains" in titles(at)  # untrained: the empty chart says so
    at.button(key="mb_play").click().run()
    poll_until_done(at)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    trained = at.session_state["mb_trained"]
    names = [f"layers.{i}" for i, m in enumerate(trained.build().layers) if hasattr(m, "weight")]
    assert groups(at, "layer") == names and groups(at, "distribution") == names
    assert "gradient norm per layer · epoch 4" in titles(at) and "Δw/w" in titles(at)

    at.selectbox(key="mb_inside_pick").set_value(names[1]).run()  # one layer chosen: its weights alone, its bar outlined
    assert not at.exception, [e.value for e in at.exception]
    assert groups(at, "distribution") == [names[1]] and groups(at, "layer") == names
    outlined = [g.get("data-layer") for svg in svgs(at) for g in svg.iter(f"{SVG}g") if g.get("class") == "layer"
                and any(r.get("stroke") for r in g.iter(f"{SVG}rect"))]
    assert outlined == [names[1]]
    at.selectbox(key="mb_inside_pick").set_value("every layer").run()
    assert groups(at, "distribution") == names

    at.slider(key="mb_replay").set_value(2).run()  # the replay scrubs the gradient flow back to epoch 2
    assert not at.exception, [e.value for e in at.exception]
    assert "gradient norm per layer · epoch 2" in titles(at)

    open_tab(at, "History")
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Layer statistics (CSV)" in labels
    assert "layers" not in at.dataframe[0].value.columns  # the metrics table stays flat
