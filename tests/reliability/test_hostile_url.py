"""Hostile query strings: the Model Builder's link reader (views/model_builder_io.read_url, in a host
script standing in for the page), ``?run=`` on the Model Builder panel and on the Runs page, and
playground/url_state.decode directly. Every odd value is ignored or clamped with a sentence the page
shows; the setup stays valid; a normal link read next applies as usual; kept runs stay listed."""

from __future__ import annotations

import os

import pytest
from streamlit.testing.v1 import AppTest

from playground import limits
from playground.builder.config import RunConfig
from playground.runs.store import SqliteRunStore
from playground.runs.url_state import decode
from tests.app.conftest import texts
from tests.reliability.conftest import ROOT, assert_no_traceback, assert_sentence
from tests.sample_runs import make_trained

READER = """
import streamlit as st
from views import model_builder_io
from playground.builder.config import RunConfig
config = model_builder_io.read_url(RunConfig())
if config is not None:
    st.session_state["host_config"] = config
"""

LONG = "9" * (limits.MAX_QUERY_VALUE_CHARS + 1)

# (case id, query parameters, note fragment, check on the resulting RunConfig)
URL_CASES = [
    ("samples-below-range", {"samples": "1"}, "below the smallest", lambda c: c.data.n_samples == limits.MIN_SAMPLES),
    ("samples-above-range", {"samples": "10000000000"}, "above the largest", lambda c: c.data.n_samples == limits.MAX_SAMPLES),
    ("samples-wrong-type", {"samples": "lots"}, "not a whole number", lambda c: c.data.n_samples == RunConfig().data.n_samples),
    ("lr-huge", {"lr": "1e300"}, "above the largest", lambda c: c.train.lr == limits.MAX_LEARNING_RATE),
    ("lr-nan", {"lr": "nan"}, "not a number", lambda c: c.train.lr == RunConfig().train.lr),
    ("lr-negative", {"lr": "-1"}, "below the smallest", lambda c: c.train.lr == limits.MIN_LEARNING_RATE),
    ("epochs-negative", {"epochs": "-5"}, "below the smallest", lambda c: c.train.epochs == 1),
    ("layers-too-wide", {"layers": "100000,3"}, "above the largest", lambda c: c.model.hidden[0] == limits.MAX_LAYER_WIDTH),
    ("layers-too-many", {"layers": ",".join(["4"] * 50)}, "hidden layers", lambda c: len(c.model.hidden) <= limits.MAX_HIDDEN_LAYERS),
    ("activation-unknown", {"activations": "os.system,tanh"}, "not one of", lambda c: "os.system" not in c.model.activations),
    ("dataset-path", {"dataset": "../../etc/passwd"}, "not one of", lambda c: c.data.dataset == RunConfig().data.dataset),
    ("dataset-csv", {"dataset": "csv"}, "cannot travel in a link", lambda c: c.data.dataset == RunConfig().data.dataset),
    ("bool-wrong-type", {"shuffle": "maybe"}, "shuffle each epoch", lambda c: c.train.shuffle == RunConfig().train.shuffle),
    ("repeated-key", {"samples": ["100", "200", "300"]}, "3 times; the last one was used", lambda c: c.data.n_samples == 300),
    ("very-long-value", {"seed": LONG}, "longer than 2,000 characters", lambda c: c.train.seed == RunConfig().train.seed),
    ("unknown-key", {"evil": "1"}, "'evil' is not one the playground knows", lambda c: c == RunConfig()),
    ("script-in-key", {"<script>alert(1)</script>": "1"}, "with an unreadable name", lambda c: c == RunConfig()),
    ("too-many-keys", {f"k{i}": "1" for i in range(limits.MAX_QUERY_KEYS + 10)}, f"only the first {limits.MAX_QUERY_KEYS}",
     lambda c: c == RunConfig()),
    ("lesson-unknown", {"lesson": "<script>alert(1)</script>"}, "lesson is not one of the playground's",
     lambda c: c == RunConfig()),
    ("lesson-long", {"lesson": LONG}, "longer than 2,000 characters", lambda c: c == RunConfig()),
]


def reader(query: dict) -> AppTest:
    at = AppTest.from_string(READER, default_timeout=30)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    return at


def warnings(at) -> str:
    return "\n".join(str(w.value) for w in at.warning)


@pytest.mark.parametrize(("query", "note", "check"), [c[1:] for c in URL_CASES], ids=[c[0] for c in URL_CASES])
def test_hostile_link_is_noted_and_the_setup_stays_valid(query, note, check):
    at = reader(query)
    assert_no_traceback(at)
    assert note in warnings(at), warnings(at)
    config = at.session_state["host_config"]
    assert isinstance(config, RunConfig) and check(config)
    RunConfig.from_dict(config.to_dict())  # still a valid, self-checking setup
    # A normal link read next applies as usual, with no note.
    at.query_params.clear()
    at.query_params["samples"] = "300"
    at.run()
    assert_no_traceback(at)
    assert at.session_state["host_config"].data.n_samples == 300 and not at.warning


@pytest.fixture
def kept_run(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    return SqliteRunStore(tmp_path / "data").save(make_trained(seed=3))


@pytest.mark.parametrize(("run", "sentence"), [
    ("../../etc/passwd", "is not a run id"),
    ("'; DROP TABLE runs; --", "is not a run id"),
    ("0" * 12, "no kept run"),
    (LONG, "is not a run id"),
], ids=["path", "sql", "missing-id", "very-long"])
def test_hostile_run_link_on_the_runs_page(kept_run, run, sentence):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["run"] = run
    at.switch_page("pages/runs.py")
    at.run()
    shown = [str(e.value) for e in at.error]
    assert_no_traceback(at)
    assert any(sentence.lower() in e.lower() for e in shown), shown
    assert kept_run in texts(at) or any(kept_run in str(df.value) for df in at.dataframe)  # the kept run is still listed
    assert [s.run_id for s in SqliteRunStore(os.environ["PLAYGROUND_DATA_DIR"]).list()] == [kept_run]


def test_hostile_run_link_on_the_model_builder_panel(kept_run):
    host = """
import streamlit as st
from views import model_builder_io
from tests.sample_runs import make_trained
model_builder_io.render(st.session_state.get("mb_trained"), make_trained(seed=1).config)
"""
    trained = make_trained(seed=1)
    at = AppTest.from_string(host, default_timeout=60)
    at.session_state["mb_trained"] = trained
    at.query_params["run"] = "../../../../etc/shadow"
    at.run()
    assert_sentence(at, "is not a run id")
    assert at.session_state["mb_trained"] is not None


@pytest.mark.parametrize("params", [
    {"samples": ["1", "2"] * 500},
    {"layers": ",".join(["256"] * 1000)},
    {"features": ",".join(["x1"] * 1000)},
    {"lr": "1" + "0" * 1999},
    {"x" * 10_000: "1"},
    {"noise": "inf", "train": "-inf", "val": "1e-400"},
], ids=["1000-repeats", "1000-layers", "1000-features", "1999-digit-number", "10k-char-key", "inf-and-denormal"])
def test_decode_never_raises_and_gives_a_valid_setup(params):
    state = decode(params)
    assert state.notes
    RunConfig.from_dict(state.config.to_dict())
    assert all(len(note) < 400 for note in state.notes)


# ------------------------------------------------------------------------ the real Model Builder page

PAGE_LINKS = [
    ("out-of-range-and-wrong-types", {"samples": "1", "lr": "1e300", "layers": "100000,3", "epochs": "many"},
     ["below the smallest", "above the largest", "not a whole number"],
     lambda c: c.data.n_samples == limits.MIN_SAMPLES and c.train.lr == limits.MAX_LEARNING_RATE and c.model.hidden[0] == 256),
    ("hostile-keys-and-long-values", {"<img src=x onerror=alert(1)>": "1", "seed": LONG, "dataset": "../../etc/passwd"},
     ["with an unreadable name", "longer than 2,000 characters", "not one of"],
     lambda c: c.data.dataset == RunConfig().data.dataset),
    ("repeated-keys", {"samples": ["100", "200"], "noise": ["0.1", "0.5"]}, ["2 times; the last one was used"],
     lambda c: c.data.n_samples == 200),
]


@pytest.mark.parametrize(("query", "notes", "check"), [c[1:] for c in PAGE_LINKS], ids=[c[0] for c in PAGE_LINKS])
def test_hostile_link_on_the_model_builder_page(tmp_path, monkeypatch, query, notes, check):
    """The page itself reads the link: every odd value is noted in a warning, the setup is valid, and a
    normal link opened next applies without a note."""
    from tests.app.conftest import open_page

    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    at = open_page("pages/model_builder.py", timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert_no_traceback(at)
    for note in notes:
        assert note in warnings(at), warnings(at)
    assert "<img" not in warnings(at)  # a hostile key never reaches the page
    assert check(at.session_state["mb_config"])
    assert not at.error, [e.value for e in at.error]
    at.query_params.clear()
    at.query_params["samples"] = "300"
    at.run()
    assert_no_traceback(at)
    assert at.session_state["mb_config"].data.n_samples == 300


# -------------------------------------------------------------------------------- each limit at its edge (issue 25)


def _padded(number: str, chars: int) -> str:
    """``number`` written with leading zeros to exactly ``chars`` characters."""
    return "0" * (chars - len(number)) + number


@pytest.mark.parametrize(("what", "at", "past", "note", "check_at"), [
    ("keys", {**{f"k{i}": "1" for i in range(limits.MAX_QUERY_KEYS - 1)}, "samples": "300"},
     {**{f"k{i}": "1" for i in range(limits.MAX_QUERY_KEYS)}, "samples": "300"}, f"only the first {limits.MAX_QUERY_KEYS}",
     lambda c: c.data.n_samples == 300),
    ("value characters", {"seed": _padded("7", limits.MAX_QUERY_VALUE_CHARS)},
     {"seed": _padded("7", limits.MAX_QUERY_VALUE_CHARS + 1)}, "longer than 2,000 characters", None),
    ("number characters", {"seed": _padded("7", limits.MAX_QUERY_NUMBER_CHARS)},
     {"seed": _padded("7", limits.MAX_QUERY_NUMBER_CHARS + 1)}, "seed is not a whole number", lambda c: c.train.seed == 7),
    ("hidden layers", {"layers": ",".join(["4"] * limits.MAX_HIDDEN_LAYERS)},
     {"layers": ",".join(["4"] * (limits.MAX_HIDDEN_LAYERS + 1))}, f"only the first {limits.MAX_HIDDEN_LAYERS}",
     lambda c: c.model.hidden == (4,) * limits.MAX_HIDDEN_LAYERS),
    ("layer width", {"layers": str(limits.MAX_LAYER_WIDTH)}, {"layers": str(limits.MAX_LAYER_WIDTH + 1)},
     "above the largest", lambda c: c.model.hidden == (limits.MAX_LAYER_WIDTH,)),
    ("epochs", {"epochs": str(limits.MAX_EPOCHS)}, {"epochs": str(limits.MAX_EPOCHS + 1)}, "above the largest",
     lambda c: c.train.epochs == limits.MAX_EPOCHS),
    ("batch size", {"batch": str(limits.MAX_BATCH_SIZE)}, {"batch": str(limits.MAX_BATCH_SIZE + 1)}, "above the largest",
     lambda c: c.train.batch_size == limits.MAX_BATCH_SIZE),
], ids=["keys", "value-chars", "number-chars", "layers", "width", "epochs", "batch"])
def test_each_link_limit_at_its_edge(what, at, past, note, check_at):
    """At the limit a link's value is read as given, with no note about it; one past it is ignored or clamped, noted,
    and the setup stays valid."""
    read = decode(at)
    assert not any(note in n for n in read.notes), read.notes
    if check_at is not None:
        assert check_at(read.config), read.config
    over = decode(past)
    assert any(note in n for n in over.notes), over.notes
    RunConfig.from_dict(over.config.to_dict())
