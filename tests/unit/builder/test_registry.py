"""Every row of the settings registry reaches every consumer: the config validates it (and refuses a value out
of its range with a sentence), a link round-trips it, the code panels and train.py write it, and a run that uses
a non-default value of it is reproduced by train.py (test_codegen.py runs those). The widgets are walked by
tests/app/test_registry_widgets.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from playground.builder import registry
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.errors import PlaygroundError
from playground.runs import url_state
from tests.unit.builder.test_codegen import CONFIGS, config_with, non_default

ROWS = [s for s in registry.SETTINGS if s.kind not in ("text",)]


@pytest.mark.parametrize("setting", registry.SETTINGS, ids=[s.name for s in registry.SETTINGS])
def test_the_default_is_valid_and_the_dataclass_takes_it_from_the_row(setting):
    assert setting.check(setting.default) is None
    section = {"data": DataConfig, "model": ModelSpec, "train": TrainConfig}[setting.section]()
    assert getattr(section, setting.attr) == setting.default


@pytest.mark.parametrize("setting", [s for s in ROWS if s.kind in ("int", "float")],
                         ids=[s.name for s in ROWS if s.kind in ("int", "float")])
def test_out_of_range_values_are_refused_with_a_sentence(setting):
    base = RunConfig()
    section = getattr(base, setting.section)
    for bad in (setting.low - 1, setting.high * 2 + 1, float("nan"), "3", True):
        with pytest.raises(PlaygroundError) as caught:
            replace(section, **{setting.attr: bad})
        assert caught.value.sentence.endswith(".") and "Traceback" not in caught.value.sentence


@pytest.mark.parametrize("setting", list(url_state.SETTINGS), ids=[s.name for s in url_state.SETTINGS])
def test_a_link_round_trips_a_non_default_value(setting):
    if setting.name == "features":
        value = ("x1", "x1*x2")
        config = replace(RunConfig(), data=DataConfig(features=value))
    elif setting.name == "layers":
        value = (16,)
        config = replace(RunConfig(), model=ModelSpec(hidden=value, activations=("tanh",)))
    elif setting.name == "activations":
        value = ("relu", "sigmoid")
        config = replace(RunConfig(), model=ModelSpec(hidden=(8, 8), activations=value))
    else:
        value = non_default(setting)
        config = config_with(setting, value)
    state = url_state.decode(url_state.encode(config))
    assert state.notes == (), state.notes
    assert getattr(getattr(state.config, setting.section), setting.attr) == value
    assert state.config == config.canonical()


@pytest.mark.parametrize("setting", [s for s in registry.SETTINGS if s.url_key is None or s.widget == "none"],
                         ids=[s.name for s in registry.SETTINGS if s.url_key is None or s.widget == "none"])
def test_settings_that_cannot_travel_in_a_link_say_so(setting):
    assert setting.name in ("csv_name", "csv_target", "csv_task", "device", "lr_changes")


def test_a_run_kept_before_a_setting_was_added_keeps_its_key():
    """Keys leave out settings added after the first version while they have their default: the key of a
    config written by the previous version (no such fields at all) equals today's key for the same setup."""
    config = RunConfig()
    document = config.to_dict()
    for setting in registry.SETTINGS:
        if setting.since > 1:
            del document[setting.section][setting.attr]
    assert RunConfig.from_dict(document).key() == config.key()
    changed = config.with_train(keep_best=True)
    assert changed.key() != config.key()


def test_every_setting_is_used_off_its_default_by_a_run_that_train_py_reproduces():
    """The configs test_codegen.py trains in the app and in train.py, together, move every training and model
    setting (and every data setting of generated data) off its default at least once."""
    moved = set()
    for config in CONFIGS.values():
        values = config.values()
        for setting in registry.SETTINGS:
            if values[setting.name] != setting.default:
                moved.add(setting.name)
    must = {s.name for s in registry.SETTINGS if not s.name.startswith("csv") and s.name not in (
        "device", "deterministic", "benchmark", "lr_changes", "samples")}
    # the CSV settings, the device and the cudnn flags are covered by their own tests in test_codegen.py
    assert must - moved == set(), must - moved
