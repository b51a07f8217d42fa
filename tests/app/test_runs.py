"""The Runs page, driven like a user: kept runs listed, filtered, overlaid, compared, opened, deleted."""

from __future__ import annotations

import pytest

from playground.runs.store import SqliteRunStore
from tests.app.conftest import open_page, texts
from tests.sample_runs import make_trained


@pytest.fixture
def store(tmp_path, monkeypatch) -> SqliteRunStore:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    return SqliteRunStore(tmp_path / "data")


def runs_table(at):
    return at.dataframe[0].value  # the first table on the page: the kept runs


def settings_table(at):
    return at.dataframe[1].value  # the second: settings side by side


def test_no_runs_says_how_to_get_some(store):
    at = open_page("views/runs.py")
    assert "No runs are kept yet" in texts(at)


def test_runs_are_listed_filtered_and_sorted(store):
    ids = [store.save(make_trained(seed=i, lr=0.01 * (i + 1), optimizer=("adam", "sgd")[i % 2])) for i in range(3)]
    at = open_page("views/runs.py")
    table = runs_table(at)
    assert sorted(table["run"]) == sorted(ids)
    assert {"date", "dataset", "architecture", "optimizer", "lr", "batch", "epochs", "best val loss",
            "test accuracy", "device", "duration (s)"} <= set(table.columns)

    at.multiselect(key="runs_filter_optimizer").set_value(["sgd"]).run()
    table = runs_table(at)
    assert list(table["run"]) == [ids[1]]
    assert "1 of 3 runs shown" in texts(at)

    at.multiselect(key="runs_filter_optimizer").set_value([]).run()
    at.selectbox(key="runs_sort_by").set_value("lr").run()
    at.toggle(key="runs_sort_descending").set_value(False).run()
    table = runs_table(at)
    assert list(table["lr"]) == [0.01, 0.02, 0.03]


def test_selected_runs_are_overlaid_and_their_differences_shown(store):
    a = store.save(make_trained(seed=1, lr=0.01))
    b = store.save(make_trained(seed=2, lr=0.05))
    at = open_page("views/runs.py")
    at.multiselect(key="runs_selected").set_value([a, b]).run()
    assert not at.exception
    charts = [e for e in at.get("plotly_chart")]
    assert len(charts) == 2  # loss and accuracy
    assert "Highlighted rows differ: learning rate, seed" in texts(at)
    settings = settings_table(at)
    assert settings.loc["learning rate", a] == "0.01" and settings.loc["learning rate", b] == "0.05"
    at.slider(key="runs_smoothing").set_value(0.9).run()
    assert not at.exception


def test_delete_asks_first(store):
    keep = store.save(make_trained(seed=1))
    doomed = store.save(make_trained(seed=2))
    at = open_page("views/runs.py")
    at.selectbox(key="runs_action_run").set_value(doomed).run()
    at.button(key="runs_delete").click().run()
    assert f"Delete run {doomed}" in texts(at)
    assert len(store.list()) == 2  # nothing gone yet
    at.button(key="runs_delete_no").click().run()
    assert len(store.list()) == 2 and f"Delete run {doomed}" not in texts(at)

    at.selectbox(key="runs_action_run").set_value(doomed).run()
    at.button(key="runs_delete").click().run()
    at.button(key="runs_delete_yes").click().run()
    assert not at.exception
    assert [s.run_id for s in store.list()] == [keep]
    assert f"Run {doomed} was deleted" in texts(at)


def test_open_in_model_builder_hands_over_the_run(store):
    kept = make_trained(seed=4, lr=0.07, optimizer="sgd")
    run_id = store.save(kept)
    at = open_page("views/runs.py")
    at.selectbox(key="runs_action_run").set_value(run_id).run()
    at.button(key="runs_open").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # The Model Builder took the run: its widgets carry the run's setup, and the run is its model.
    assert at.session_state["mb_trained"].config == kept.config
    assert at.session_state["mb_seed"] == 4 and at.session_state["mb_lr"] == 0.07
    assert at.session_state["mb_optimizer"] == "sgd" and at.session_state["mb_dataset"] == "spiral3"
    assert at.session_state["mb_url_run_handled"] == run_id
    assert len(store.list()) == 1  # opening a kept run does not keep it again


def test_a_run_linked_by_id_is_preselected(store):
    store.save(make_trained(seed=1))
    linked = store.save(make_trained(seed=2))
    at = open_page("views/runs.py")
    at.query_params["run"] = linked
    at.run()
    assert f"Run {linked} was opened from the link" in texts(at)
    assert at.selectbox(key="runs_action_run").value == linked


@pytest.mark.parametrize("bad", ["0123456789ab", "../../etc/passwd", "<script>"])
def test_a_bad_run_link_is_a_sentence(store, bad):
    store.save(make_trained(seed=1))
    at = open_page("views/runs.py")
    at.query_params["run"] = bad
    at.run()
    assert not at.exception
    assert at.error and ("no kept run" in at.error[0].value or "not a run id" in at.error[0].value)
    assert "<script>" not in texts(at).replace("'<script>'", "")


def test_an_unwritable_data_folder_is_said_and_the_page_still_works(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(blocker / "data"))
    at = open_page("views/runs.py")
    assert "runs will not be kept" in texts(at)
