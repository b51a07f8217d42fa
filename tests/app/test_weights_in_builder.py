"""Save and load inside the real Model Builder: train, keep, download, upload back, evaluate; the kept
run is offered for the same setup and seed in a new session."""

from __future__ import annotations

import io
import time

import pytest
import torch

from playground.runs import export
from playground.runs.store import SqliteRunStore
from tests.app.conftest import open_page, open_tab, texts

PAGE = "pages/model_builder.py"


@pytest.fixture
def store(tmp_path, monkeypatch) -> SqliteRunStore:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    return SqliteRunStore(tmp_path / "data")


def train(at, epochs: int = 3, deadline_s: float = 120):
    at.number_input(key="mb_epochs").set_value(epochs).run()
    at.button(key="mb_play").click().run()
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if not at.session_state["mb_control"].view().active:
            at.run()
            return at.session_state["mb_trained"]
        time.sleep(0.3)
    raise AssertionError("the run did not finish in time")


def test_train_keep_download_upload_back_and_evaluate(store):
    at = open_page(PAGE)
    trained = train(at)
    assert trained.status == "finished" and len(trained.history) == 3
    [kept] = store.list()
    assert f"as run {kept.run_id}" in texts(at)  # "was kept as run ..." once, then "Kept ... as run ..."
    assert not at.get("download_button")  # the Save and load tab is closed: its downloads are not made
    open_tab(at, "Save and load")
    assert f"as run {kept.run_id}" in texts(at)
    assert {b.key for b in at.get("download_button")} >= {
        "mb_io_download_pt", "mb_io_download_safetensors", "mb_io_download_spec", "mb_io_download_train_py"}

    # What the .pt download holds, uploaded back through the page: loaded, shown, evaluated.
    data = export.to_pt_bytes(trained)
    assert torch.load(io.BytesIO(data), weights_only=True).keys() == trained.state_dict.keys()
    at.file_uploader(key="mb_io_upload").upload("model.pt", data).run()
    assert not at.exception
    shown = texts(at)
    assert "Loaded model.pt into the current model" in shown
    loaded = at.session_state["mb_trained"]
    assert all(torch.equal(loaded.state_dict[k], v) for k, v in trained.state_dict.items())
    open_tab(at, "Test")
    assert at.session_state["mb_trained"] is loaded
    assert at.metric and at.metric[0].label == "Test accuracy"
    assert float(at.metric[0].value) == pytest.approx(trained.test_metrics["accuracy"], abs=1e-3)
    assert len(store.list()) == 1  # a loaded file is not a new run


def test_the_same_setup_and_seed_in_a_new_session_offers_the_kept_run(store):
    first = open_page(PAGE)
    first.number_input(key="mb_epochs").set_value(3).run()
    trained = train(first)
    run_id = store.list()[0].run_id

    second = open_page(PAGE)  # a new session: a reload, another student
    second.number_input(key="mb_epochs").set_value(3).run()
    assert f"This setup and seed already ran (run {run_id})" in texts(second)
    second.button(key="mb_io_open_kept").click().run()
    assert not second.exception
    reopened = second.session_state["mb_trained"]
    assert all(torch.equal(reopened.state_dict[k], v) for k, v in trained.state_dict.items())
    assert f"Opened the kept run {run_id}" in texts(second)
    assert len(store.list()) == 1
