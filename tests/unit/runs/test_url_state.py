"""Sharing by URL: every setup survives encode/decode; hostile links never crash and are explained."""

from __future__ import annotations

import urllib.parse

from hypothesis import given, settings
from hypothesis import strategies as st

from playground import limits
from playground.builder import registry
from playground.builder.config import (
    ACTIVATIONS,
    FEATURES,
    DataConfig,
    ModelSpec,
    RunConfig,
    TrainConfig,
    task_of,
)
from playground.runs import url_state
from playground.runs.url_state import SETTINGS, decode, encode


def setting_values(setting):
    """A strategy of valid values for one registry row, as its widget offers them."""
    if setting.kind == "bool":
        return st.booleans()
    if setting.kind == "choice":
        return st.sampled_from([o for o in setting.options if o != registry.CSV])
    if setting.steps:
        return st.sampled_from(setting.steps)
    if setting.kind == "int":
        return st.integers(int(setting.low), int(setting.high))
    return st.floats(setting.low, setting.high)


@st.composite
def run_configs(draw) -> RunConfig:
    """A setup drawn row by row from the registry (every shareable setting), then made canonical as the page
    makes it: the settings that do not apply at their defaults."""
    values = {s.name: draw(setting_values(s)) for s in SETTINGS if s.kind not in ("choices", "ints")}
    values["val"] = draw(st.floats(0.0, min(0.8, 0.95 - values["train"])))
    if values["optimizer"] != "sgd" or values["momentum"] == 0:
        values["nesterov"] = False
    features = tuple(draw(st.lists(st.sampled_from(FEATURES), min_size=1, max_size=len(FEATURES), unique=True)))
    hidden = tuple(draw(st.lists(st.integers(1, limits.MAX_LAYER_WIDTH), max_size=limits.MAX_HIDDEN_LAYERS)))
    activations = tuple(draw(st.sampled_from(ACTIVATIONS)) for _ in hidden)
    task = task_of(values["dataset"])
    if task not in registry.LOSSES.get(values["loss"], registry.LOSSES["mse"]).tasks:
        values["loss"] = registry.AUTO_LOSS
    sections = {"data": {"features": features}, "model": {"hidden": hidden, "activations": activations},
                "train": {}}
    for setting in SETTINGS:
        if setting.name in values:
            sections[setting.section][setting.attr] = values[setting.name]
    model = ModelSpec(in_features=len(features), out_features=url_state.class_count(values["dataset"]), task=task,
                      **sections["model"])
    return RunConfig(data=DataConfig(**sections["data"]), model=model, train=TrainConfig(**sections["train"])).canonical()


@settings(max_examples=200, deadline=None)
@given(run_configs())
def test_encode_then_decode_is_the_same_setup(config):
    params = encode(config)
    state = decode(params)
    assert state.notes == ()
    assert state.config == config
    assert state.config.key() == config.key()
    # ... and through a real query string, as a browser sends it.
    query = urllib.parse.urlencode(params)
    assert decode(dict(urllib.parse.parse_qsl(query, keep_blank_values=True))).config == config


def test_every_setting_that_applies_is_encoded_and_no_other():
    values = RunConfig().values()
    assert set(encode(RunConfig())) == {s.url_key for s in SETTINGS if s.shown(values)}
    sgd = RunConfig().with_train(optimizer="sgd", momentum=0.9)
    assert {"momentum", "nesterov"} <= set(encode(sgd)) and "beta1" not in encode(sgd)


def test_a_bare_link_opens_the_defaults():
    state = decode({})
    assert state.config == RunConfig() and state.notes == () and state.run_id is None


def test_the_dataset_sets_the_model_outputs():
    state = decode({"dataset": "spiral3"})
    assert state.config.model.out_features == 3 and state.config.model.task == "classification"
    state = decode({"dataset": "plane", "features": "x1,x2,x1^2"})
    assert state.config.model.out_features == 1 and state.config.model.task == "regression"
    assert state.config.model.in_features == 3


def test_out_of_range_values_are_clamped_with_a_note():
    state = decode({"noise": "5", "lr": "0", "epochs": "999999", "layers": "8,9999"})
    assert state.config.data.noise == 1.0
    assert state.config.train.lr == limits.MIN_LEARNING_RATE
    assert state.config.train.epochs == limits.MAX_EPOCHS
    assert state.config.model.hidden == (8, limits.MAX_LAYER_WIDTH)
    text = "\n".join(state.notes)
    assert "noise 5 is above the largest, 1; it was set to 1" in text
    assert "learning rate 0 is below the smallest" in text
    assert "epochs 999999 is above the largest, 2000" in text
    assert len(state.notes) == 4


def test_wrong_types_are_ignored_with_a_note():
    state = decode({"noise": "loud", "epochs": "1.5", "shuffle": "maybe", "dataset": "moons", "lr": "nan"})
    assert state.config == RunConfig()
    assert len(state.notes) == 5
    assert any("noise is not a number" in n for n in state.notes)
    assert any("epochs is not a whole number" in n for n in state.notes)
    assert any("dataset is not one of" in n for n in state.notes)


def test_unknown_repeated_and_long_values():
    state = decode({"colour": "red", "seed": ["1", "2", "3"], "lr": "1" * (limits.MAX_QUERY_VALUE_CHARS + 1)})
    assert state.config.train.seed == 3
    assert state.config.train.lr == RunConfig().train.lr
    text = "\n".join(state.notes)
    assert "'colour' is not one the playground knows" in text
    assert "gives 'seed' 3 times; the last one was used" in text
    assert "longer than 2,000 characters" in text


def test_hostile_key_names_are_not_echoed():
    state = decode({"<img src=x onerror=alert(1)>": "1", "[click](http://evil)": "1"})
    text = "\n".join(state.notes)
    assert "<img" not in text and "evil" not in text and "unreadable name" in text


def test_too_many_keys_are_cut():
    params = {f"k{i}": "1" for i in range(limits.MAX_QUERY_KEYS + 50)}
    state = decode(params)
    assert any(f"only the first {limits.MAX_QUERY_KEYS} were read" in n for n in state.notes)
    assert len(state.notes) == limits.MAX_QUERY_KEYS + 1


def test_combinations_are_mended():
    state = decode({"train": "0.9", "val": "0.5"})
    assert state.config.data.val_fraction == 0.05
    state = decode({"layers": "4,4,4", "activations": "relu"})  # one activation for every layer
    assert state.config.model.activations == ("relu", "relu", "relu") and state.notes == ()
    state = decode({"layers": "4,4,4", "activations": "relu,sigmoid"})
    assert state.config.model.activations == ("relu", "sigmoid", "sigmoid") and state.notes
    state = decode({"layers": "", "activations": ""})
    assert state.config.model.hidden == () and state.config.model.activations == ()
    state = decode({"features": "x1,x1,bogus"})
    assert state.config.data.features == ("x1",) and state.config.model.in_features == 1
    assert len(state.notes) == 2


def test_csv_cannot_travel_in_a_link():
    state = decode({"dataset": "csv"})
    assert state.config.data.dataset == RunConfig().data.dataset and "CSV" in state.notes[0]


def test_run_id():
    assert decode({"run": "0123456789AB"}).run_id == "0123456789ab"
    bad = decode({"run": "../../etc/passwd"})
    assert bad.run_id is None and bad.notes


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(
    st.one_of(st.sampled_from([s.name for s in SETTINGS] + ["run"]), st.text(max_size=20)),
    st.one_of(st.text(max_size=50), st.lists(st.text(max_size=10), max_size=3),
              st.sampled_from(["1e309", "-0", "nan", "inf", "1,2,,3", " 8 ", "0x10", "١٢"])),
    max_size=12,
))
def test_any_link_gives_a_valid_setup_and_never_raises(params):
    state = decode(params)
    RunConfig.from_dict(state.config.to_dict())  # valid through and through
    assert all(isinstance(note, str) and note for note in state.notes)
    assert decode(encode(state.config)).config == state.config.canonical()


def test_values_between_a_widgets_choices_move_to_the_nearest():
    choices = {"lr": [0.001, 0.003, 0.01, 0.03, 0.1, 0.3], "reg_rate": [0.0, 0.001, 0.01, 0.1]}
    state = decode({"lr": "0.07", "reg_rate": "0.004", "seed": "3"}, choices=choices)
    assert state.config.train.lr == 0.1 and state.config.train.reg_rate == 0.001 and state.config.train.seed == 3
    assert any("learning rate 0.07 is not one of the choices; the nearest, 0.1, was used" in n for n in state.notes)
    assert decode({"lr": "0.03"}, choices=choices).notes == ()


def test_a_link_writes_switches_as_1_or_0_and_leaves_out_an_uploaded_tables_dataset_and_features():
    from dataclasses import replace

    from playground.builder.config import RunConfig

    base = RunConfig()
    link = url_state.encode(base)
    assert (link["shuffle"], link["deterministic"], link["keep_best"], link["benchmark"]) == ("1", "1", "0", "0")
    assert link["dataset"] == "circle" and "features" in link
    csv = replace(base, data=replace(base.data, dataset="csv", csv_name="h.csv", csv_target="y"))
    csv_link = url_state.encode(csv)
    assert "dataset" not in csv_link and "features" not in csv_link  # a CSV cannot travel in a link
    assert {key: value for key, value in link.items() if key not in ("dataset", "features", "noise", "samples")} == (
        {key: value for key, value in csv_link.items()})  # every other setting still does
    assert url_state.decode(csv_link).config.data.dataset == base.data.dataset


def test_a_setting_the_playground_does_not_know_is_named_if_its_name_is_safe():
    assert url_state.decode({"a b": "1"}).notes == (
        "The link's setting with an unreadable name is not one the playground knows; it was ignored.",)
    assert url_state.decode({"colour": "1"}).notes == (
        "The link's setting 'colour' is not one the playground knows; it was ignored.",)


def test_a_value_between_choices_moves_to_the_nearest_on_a_log_scale_and_a_width_past_the_limit_is_noted():
    state = url_state.decode({"lr": "0.019", "samples": "150", "layers": "8,100000"})
    assert state.config.train.lr == 0.03  # nearer 0.01 by difference, nearer 0.03 by ratio: rates go by ratio
    assert state.config.data.n_samples == 200 and type(state.config.data.n_samples) is int
    high = url_state.SETTINGS_BY_NAME["layers"].high
    assert state.notes == (
        "The link's learning rate 0.019 is not one of the choices; the nearest, 0.03, was used.",
        "The link's number of samples 150 is not one of the choices; the nearest, 200, was used.",
        f"The link's width of a hidden layer 100000 is above the largest, {high}; it was set to {high}.")


def test_a_bare_links_setup_is_the_defaults_with_outputs_matching_the_dataset():
    from playground.builder.config import DataConfig, RunConfig

    setup = url_state.defaults()
    assert setup == RunConfig() and setup.data == DataConfig()
    assert setup.model.in_features == len(setup.data.features) == 2
    assert setup.model.out_features == registry.DATASETS[setup.data.dataset].classes and setup.model.task == (
        "classification")
    assert (url_state.class_count("spiral3"), url_state.class_count("plane")) == (3, 1)


def test_a_links_limits_hold_at_the_limit_and_one_past():
    keys = limits.MAX_QUERY_KEYS
    at = url_state.decode({f"k{i}": "1" for i in range(keys)})
    assert len(at.notes) == keys and not any("only the first" in note for note in at.notes)
    past = url_state.decode({f"k{i}": "1" for i in range(keys + 1)})
    assert past.notes[0] == f"The link has {keys + 1} settings; only the first {keys} were read."
    chars = limits.MAX_QUERY_VALUE_CHARS
    assert url_state.decode({"lesson": "x" * chars}).notes[0].startswith("The link's lesson is not one of")
    assert url_state.decode({"lesson": "x" * (chars + 1)}).notes == (
        f"The link's lesson is longer than {chars:,} characters; it was ignored.",)
    digits = limits.MAX_QUERY_NUMBER_CHARS
    assert url_state.decode({"epochs": "0" * (digits - 2) + "20"}).config.train.epochs == 20  # 40 characters: read
    assert url_state.decode({"epochs": "0" * (digits - 1) + "20"}).notes == (
        "The link's epochs is not a whole number; it was ignored.",)


def test_each_kind_of_bad_value_is_noted_and_the_link_goes_on_reading():
    state = url_state.decode({"seed": [], "lesson": "x" * 3000, "run": "ABCDEF012345", "shuffle": "off",
                              "keep_best": "TRUE", "optimizer": "nope", "layers": "8,x,4", "lr": ["0.3", "0.1"],
                              "epochs": ["12"], "activations": "relu,relu,relu,relu,relu,relu,relu,relu,relu",
                              "features": "x1,x1,bogus"})
    assert state.run_id == "abcdef012345"  # upper case hex is a run id too
    config = state.config
    assert (config.train.shuffle, config.train.keep_best, config.train.lr, config.train.epochs) == (False, True, 0.1, 12)
    assert config.model.hidden == (8, 4) and config.data.features == ("x1",)
    options = ", ".join(url_state.SETTINGS_BY_NAME["optimizer"].options)
    features = ", ".join(url_state.SETTINGS_BY_NAME["features"].options)
    most = url_state.SETTINGS_BY_NAME["activations"].max_items
    for note in (
        "The link's lesson is longer than 2,000 characters; it was ignored.",
        f"The link's optimizer is not one of {options}; it was ignored.",
        "The link's hidden layers must be whole numbers of neurons; one that was not was dropped.",
        "The link gives 'lr' 2 times; the last one was used.",
        f"The link lists 9 activations; only the first {most} were kept.",
        "The link's input features name one twice; it was kept once.",
        f"The link's input features include one that is not one of {features}; it was dropped.",
    ):
        assert note in state.notes
    assert not any("'epochs'" in note for note in state.notes)  # one value in a list is no repeat
    bad_run = url_state.decode({"run": "xyz"})
    assert bad_run.notes == ("The link's run is not a run id (12 letters and digits, 0-9 and a-f); it was ignored.",)


def test_a_lesson_link_opens_its_lesson_and_reads_the_keys_after_it():
    from playground.builder import lessons

    name = next(iter(lessons.LESSONS))
    state = url_state.decode({"lesson": name, "lr": "0.1"})
    assert state.lesson == name and state.config.train.lr == 0.1 and state.notes == ()
    assert url_state.decode({"lesson": "nope"}).notes == (
        f"The link's lesson is not one of the playground's ({', '.join(lessons.LESSONS)}); it was ignored.",)


def test_a_run_id_in_lower_case_is_read_and_a_fractional_width_is_dropped():
    assert url_state.decode({"run": "abcdef012345"}) == url_state.decode({"run": "ABCDEF012345"})
    assert url_state.decode({"run": "abcdef012345"}).run_id == "abcdef012345"
    state = url_state.decode({"layers": "8,8.5,4"})
    assert state.config.model.hidden == (8, 4) and state.notes == (
        "The link's hidden layers must be whole numbers of neurons; one that was not was dropped.",)
