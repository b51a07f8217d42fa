"""Every registry row has its widget on the Model Builder, under its key, wired into the RunConfig the page
trains: set to a non-default value like a user would, the page's setup carries that value. Widgets appear only
when their setting applies (momentum with SGD, the loss for a regression), and each is shown under that
condition here."""

from __future__ import annotations

import pytest

from playground.builder import registry
from tests.app.conftest import open_page
from tests.unit.builder.test_codegen import non_default

ACCESSOR = {"select_slider": "select_slider", "slider": "slider", "number": "number_input", "checkbox": "checkbox",
            "toggle": "toggle", "select": "selectbox", "radio": "radio", "device": "selectbox"}
NEEDS = {  # what must be chosen first for the setting to apply (and so be shown)
    "momentum": [("selectbox", "mb_optimizer", "sgd")],
    "nesterov": [("selectbox", "mb_optimizer", "sgd"), ("slider", "mb_momentum", 0.9)],
    "alpha": [("selectbox", "mb_optimizer", "rmsprop")],
    "reg_rate": [("selectbox", "mb_reg", "l2")],
    "patience": [("checkbox", "mb_keep_best", True)],
    "loss": [("button", "mb_ds_plane", None)],
    "standardize_target": [("button", "mb_ds_plane", None)],
}
WIDGET_ROWS = [s for s in registry.SETTINGS if s.widget in ACCESSOR and s.name not in ("csv_task", "device")]


@pytest.fixture(scope="module")
def builder():
    return open_page("pages/model_builder.py", timeout=120)


@pytest.mark.parametrize("setting", WIDGET_ROWS, ids=[s.name for s in WIDGET_ROWS])
def test_each_setting_has_its_widget_and_reaches_the_config(builder, setting):
    at = builder
    at.button(key="mb_ds_circle").click().run()
    at.selectbox(key="mb_optimizer").set_value("adam").run()
    at.selectbox(key="mb_reg").set_value("none").run()
    for kind, key, value in NEEDS.get(setting.name, []):
        if kind == "button":
            at.button(key=key).click().run()
        else:
            getattr(at, kind)(key=key).set_value(value).run()
    if setting.name == "reg_rate":
        at.selectbox(key="mb_reg").set_value("l2").run()
    widget = getattr(at, ACCESSOR[setting.widget])(key=setting.widget_key)  # exists under its key, or KeyError
    value = non_default(setting)
    if setting.name == "reg":
        value = "l1"
    widget.set_value(value).run()
    assert not at.exception, [e.value for e in at.exception]
    config = at.session_state["mb_config"]
    assert getattr(getattr(config, setting.section), setting.attr) == value, setting.name
    widget = getattr(at, ACCESSOR[setting.widget])(key=setting.widget_key)
    widget.set_value(setting.default).run()


def test_a_setting_that_does_not_apply_is_not_shown_and_not_in_the_setup(builder):
    at = builder
    at.button(key="mb_ds_circle").click().run()
    at.selectbox(key="mb_optimizer").set_value("sgd").run()
    at.slider(key="mb_momentum").set_value(0.5).run()
    at.selectbox(key="mb_optimizer").set_value("adam").run()
    with pytest.raises(KeyError):
        at.slider(key="mb_momentum")
    assert at.session_state["mb_config"].train.momentum == 0.0  # Adam does not use it: the default, one key
    at.selectbox(key="mb_optimizer").set_value("sgd").run()
    assert at.slider(key="mb_momentum").value == 0.5  # kept while hidden
