"""The Model Builder and the URL: a link sets the widgets, the URL follows the widgets, and Play on a
setup and seed that already finished opens the kept run instead of training again."""

from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from playground.builder.config import RunConfig

APP = Path(__file__).resolve().parents[2] / "app.py"
PAGE = "pages/model_builder.py"


def builder(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_link_sets_the_widgets_and_notes_what_it_changed():
    at = builder({"dataset": "xor", "layers": "4,3", "activations": "relu,relu", "lr": "0.07", "epochs": "99999"})
    config: RunConfig = at.session_state["mb_config"]
    assert config.data.dataset == "xor"
    assert config.model.hidden == (4, 3) and config.model.activations == ("relu", "relu")
    assert config.train.lr in (0.03, 0.1)  # snapped to the slider's nearest choice
    assert config.train.epochs == 2000  # clamped to the limit
    assert any("could not be used as they were" in w.value for w in at.warning)


def test_the_url_follows_the_widgets():
    at = builder()
    at.number_input(key="mb_epochs").set_value(7).run()
    assert at.query_params["epochs"] == ["7"] or at.query_params["epochs"] == "7"


def test_play_on_a_finished_setup_opens_the_kept_run():
    at = builder()
    at.number_input(key="mb_epochs").set_value(3).run()
    at.button(key="mb_play").click().run()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        at.run()
        view = at.session_state["mb_control"].view()
        if not view.active:
            break
        time.sleep(0.3)
    at.run()
    at.run()  # the panel keeps the finished run
    first = at.session_state["mb_trained"]
    assert len(first.history) == 3
    at.button(key="mb_reset").click().run()
    at.button(key="mb_play").click().run()
    assert any("already ran" in s.value for s in at.success) or any("already ran" in t.value for t in at.toast)
    reopened = at.session_state["mb_trained"]
    assert [h["train_loss"] for h in reopened.history] == [h["train_loss"] for h in first.history]
