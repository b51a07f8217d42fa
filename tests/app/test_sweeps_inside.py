"""The Sweeps page's "inside the layers": the best and the worst member's gradient flow side by side, drawn from
each member's own per-layer statistics, and a kept member's run carries them."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ElementTree

from playground.builder import layer_pictures, sweep_progress
from playground.builder.config import RunConfig, TrainConfig
from playground.runs.default_store import open_default_store
from tests.app.conftest import texts
from tests.app.test_sweeps import PAGE, poll

SVG = "{http://www.w3.org/2000/svg}"


def flows(at) -> dict[str, str]:
    """The gradient-flow SVGs by their container's key (sw_flow_best, sw_flow_worst)."""
    out = {}
    for element in at.get("image"):
        for img in element.proto.imgs:
            if img.url.startswith("data:image/svg+xml;base64,"):
                svg = base64.b64decode(img.url.split(",", 1)[1]).decode()
                if "gradient norm per layer" in svg:
                    out[len(out)] = svg
    return out


def test_the_best_and_the_worst_members_gradient_flow_side_by_side():
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["mb_config"] = RunConfig(train=TrainConfig(optimizer="sgd", lr=0.1, epochs=3))
    at.run()
    at.switch_page(PAGE)
    at.run()
    at.text_input(key="sw_values_0_lr").set_value("0.001, 0.1, 3").run()
    at.button(key="sw_play").click().run()
    view = poll(at, lambda v: v is not None and not v.active)
    sweep = at.session_state["sw_control"].spec
    metrics = sweep_progress.final_metrics(view.history, 3)
    best = sweep_progress.best_member(metrics, view.view["status"])
    worst = sweep_progress.worst_member(metrics, view.view["status"])
    assert best is not None and worst is not None and best != worst
    shown = texts(at)
    assert "Inside the layers: the best and the worst member" in shown
    assert f"★ best: {sweep.label(best)}" in shown and f"worst: {sweep.label(worst)}" in shown
    drawn = list(flows(at).values())
    expected = [layer_pictures.gradient_flow_svg(sweep_progress.last_layers(view.history, m, sweep.member(m).model))
                for m in (best, worst)]
    assert drawn == expected  # each member's own figures, best on the left
    for svg in drawn:
        tree = ElementTree.fromstring(svg)
        assert [g.get("data-layer") for g in tree.iter(f"{SVG}g") if g.get("class") == "layer"] == [
            "layers.0", "layers.2", "layers.4"]
        assert "epoch 3" in "".join(t.text or "" for t in tree.iter(f"{SVG}text"))  # the last epoch is recorded
    assert drawn[0] != drawn[1]

    at.selectbox(key="sw_member").set_value(worst).run()
    at.button(key="sw_keep").click().run()
    (kept,) = open_default_store().list()
    history = open_default_store().get(kept.run_id).history
    assert history[-1]["layers"] == sweep_progress.last_layers(view.history, worst, sweep.member(worst).model)["layers"]
