"""The Model Builder's "Inside the layers" toggle: after a small run, a gradient-flow bar and a weight distribution
per layer, one layer chosen alone (its bar outlined), scrubbed with the replay; the history download has the per-layer
statistics."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

from tests.app.conftest import open_page, open_tab, picture_svgs
from tests.app.test_model_builder import PAGE, poll_until_done

SVG = "{http://www.w3.org/2000/svg}"


def svgs(at) -> list[ElementTree.Element]:
    return [ElementTree.fromstring(svg) for svg in picture_svgs(at)]


def groups(at, kind: str) -> list[str]:
    return [g.get("data-layer") for svg in svgs(at) for g in svg.iter(f"{SVG}g") if g.get("class") == kind]


def picker(at, key: str):
    """The clickable picture component (views/svg_picker.py) drawn with ``key``, or None."""
    return next((e for e in at.get("bidi_component") if e.proto.id.endswith(f"-{key}")), None)


def click(at, key: str, layer: str):
    """What a click on a layer of the picture ``key`` sends: its trigger ``pick`` with the layer's data-layer, through
    the widget states as the browser sends it (so the component's own callback runs)."""
    states = at._tree.get_widget_states()
    state = states.widgets.add()
    state.id = f"$$STREAMLIT_INTERNAL_KEY_{picker(at, key).proto.id}__events"
    state.json_trigger_value = json.dumps([{"event": "pick", "value": layer}])
    at = at._run(states, timeout=60)
    assert not at.exception, [e.value for e in at.exception]
    return at


def outlined(at) -> list[str]:
    return [g.get("data-layer") for svg in svgs(at) for g in svg.iter(f"{SVG}g") if g.get("class") == "layer"
            and any(r.get("stroke") for r in g.iter(f"{SVG}rect"))]


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
    assert outlined(at) == [names[1]]
    at.selectbox(key="mb_inside_pick").set_value("every layer").run()
    assert groups(at, "distribution") == names

    # The pictures are clickable: the network picture gets each Linear layer as a group named in its <title> ...
    at.toggle(key="mb_inside").set_value(False).run()
    assert picker(at, "mb_gradient_flow_picker") is None
    network = ElementTree.fromstring(json.loads(picker(at, "mb_network_picker").proto.json)["svg"])
    layers = [(g.get("data-layer"), g.find(f"{SVG}title").text) for g in network.iter(f"{SVG}g") if g.get("data-layer")]
    assert layers == [("1", "Linear 1: 2 → 8, Tanh"), ("2", "Linear 2: 8 → 8, Tanh"), ("3", "Linear 3: 8 → 2, output")]
    # ... a click on layer 2 opens the inside view with that layer's weights alone, its bar outlined ...
    at = click(at, "mb_network_picker", "2")
    assert at.session_state["mb_inside"] is True and at.session_state["mb_inside_layer"] == names[1]
    assert groups(at, "distribution") == [names[1]] and outlined(at) == [names[1]]
    assert at.selectbox(key="mb_inside_pick").value == names[1]  # the selector says the same
    # ... a bar clicked shows its layer alone; clicked again, every layer; a value no layer has changes nothing.
    at = click(at, "mb_gradient_flow_picker", names[0])
    assert groups(at, "distribution") == [names[0]] and outlined(at) == [names[0]]
    at = click(at, "mb_gradient_flow_picker", names[0])
    assert groups(at, "distribution") == names and outlined(at) == []
    for hostile in ("<img src=x onerror=alert(1)>", "layers.99", ""):
        at = click(at, "mb_gradient_flow_picker", hostile)
        assert groups(at, "distribution") == names
    at.toggle(key="mb_inside").set_value(False).run()
    for hostile in ("0", "4", "-1", "1e3", "²", "<b>"):
        at = click(at, "mb_network_picker", hostile)
        assert at.session_state["mb_inside"] is False
    at.toggle(key="mb_inside").set_value(True).run()

    at.slider(key="mb_replay").set_value(2).run()  # the replay scrubs the gradient flow back to epoch 2
    assert not at.exception, [e.value for e in at.exception]
    assert "gradient norm per layer · epoch 2" in titles(at)

    open_tab(at, "History")
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Layer statistics (CSV)" in labels
    assert "layers" not in at.dataframe[0].value.columns  # the metrics table stays flat
