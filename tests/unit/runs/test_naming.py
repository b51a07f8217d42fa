"""Run names (playground/runs/naming.py): the default name's parts, its cut at the limit, a typed name cleaned
at the limit and one past, and a name made safe inside Markdown."""

from __future__ import annotations

from dataclasses import replace

import pytest

from playground import limits
from playground.builder.config import ModelSpec, RunConfig
from playground.errors import PlaygroundError
from playground.runs import naming

LIMIT = limits.MAX_RUN_NAME_CHARS


def config(**changes) -> RunConfig:
    base = RunConfig()
    return replace(base, data=replace(base.data, **changes.pop("data", {})),
                   train=replace(base.train, **changes.pop("train", {})), **changes)


def test_the_limit_is_pinned():
    assert LIMIT == 120


def test_the_default_name_is_dataset_architecture_optimizer_and_rate():
    assert naming.default_name(config()) == "circle · 2-8-8-2 tanh · Adam 0.03"
    assert naming.optimizer_label(config(train={"optimizer": "sgd", "lr": 1e-4})) == "SGD 0.0001"
    mixed = ModelSpec(in_features=2, hidden=(8, 4), activations=("tanh", "relu"), out_features=3)
    assert naming.architecture(config(model=mixed)) == "2-8 tanh-4 relu-3"
    line = ModelSpec(in_features=3, hidden=(), activations=(), out_features=1, task="regression")
    assert naming.architecture(config(model=line)) == "3-1 linear"


def test_an_uploaded_table_is_named_by_its_file_and_a_nameless_one_by_its_kind():
    assert naming.dataset_label(config(data={"dataset": "csv", "csv_name": "houses.csv"})) == "houses.csv"
    assert naming.dataset_label(config(data={"dataset": "csv", "csv_name": ""})) == "csv"
    # a file name only names an uploaded table
    assert naming.dataset_label(config(data={"csv_name": "houses.csv"})) == "circle"


def test_the_default_name_and_a_sweeps_origin_are_cut_at_the_limit():
    long_file = "t" * 150 + ".csv"
    name = naming.default_name(config(data={"dataset": "csv", "csv_name": long_file}))
    assert name == long_file[:LIMIT]
    assert naming.sweep_origin("lr 0.1") == "sweep: lr 0.1"
    assert naming.sweep_origin("x" * 200) == ("sweep: " + "x" * 200)[:LIMIT]


def test_a_typed_name_at_the_limit_is_kept_and_one_past_is_refused_with_its_length():
    assert naming.clean_name("n" * LIMIT) == "n" * LIMIT
    with pytest.raises(PlaygroundError) as refused:
        naming.clean_name("n" * (LIMIT + 1))
    assert refused.value.sentence == f"A run's name is at most {LIMIT} characters; this one has {LIMIT + 1}."


def test_raw_text_up_to_four_times_the_limit_is_read_before_its_spaces_are_collapsed():
    assert naming.clean_name("a" + " " * (4 * LIMIT - 2) + "b") == "a b"
    with pytest.raises(PlaygroundError) as refused:
        naming.clean_name("a" + " " * (4 * LIMIT - 1) + "b")
    assert refused.value.sentence == f"A run's name is at most {LIMIT} characters."


def test_a_name_in_markdown_shows_the_characters_typed():
    assert naming.as_markdown_text("![x](http://e.com) :red[hi]") == (
        "\\!\\[x\\]\\(http\\://e\\.com\\) \\:red\\[hi\\]")
    assert naming.as_markdown_text("  a \n b  ") == "a b"
    assert naming.as_markdown_text("plain") == "plain"


@pytest.mark.parametrize("typed", [None, 5, b"bytes", ["a"]])
def test_a_name_that_is_not_text_is_refused_with_a_sentence(typed):
    with pytest.raises(PlaygroundError) as refused:
        naming.clean_name(typed)
    assert refused.value.sentence == "A run's name is text."
