"""Where a kept run came from: the store records a sweep member's origin, the Runs table shows it beside the run
id, and runs kept before origins were recorded (an index without the column) still load, shown as the Model
Builder's."""

from __future__ import annotations

import sqlite3

from playground.runs import comparison as compare
from playground.runs import naming
from playground.runs.store import SqliteRunStore
from tests.sample_runs import make_trained


def test_a_sweep_members_origin_is_kept_and_shown_beside_its_id(tmp_path):
    store = SqliteRunStore(tmp_path)
    builder = store.save(make_trained(seed=1))
    member = store.save(make_trained(seed=2), origin=naming.sweep_origin("learning rate 10"))
    assert store.summary(member).origin == "sweep: learning rate 10" and store.summary(builder).origin == ""
    table = compare.runs_table(store.list(), "classification")
    assert table.loc[member, "from"] == "sweep: learning rate 10" and table.loc[builder, "from"] == "Model Builder"
    assert table.loc[member, "run id"] == member and table.loc[builder, "run id"] == builder


def test_runs_kept_before_origins_still_load(tmp_path):
    store = SqliteRunStore(tmp_path)
    run_id = store.save(make_trained(seed=1))
    with sqlite3.connect(tmp_path / "runs.sqlite3") as db:  # the index as an older version left it
        db.execute("ALTER TABLE runs DROP COLUMN origin")
    reopened = SqliteRunStore(tmp_path)
    assert [s.run_id for s in reopened.list()] == [run_id] and reopened.summary(run_id).origin == ""
    assert reopened.get(run_id).history == store.get(run_id).history
    assert compare.runs_table(reopened.list())["from"].tolist() == ["Model Builder"]


def test_runs_of_one_setup_are_numbered_in_the_order_they_were_kept(tmp_path):
    store = SqliteRunStore(tmp_path)
    first, second = store.save(make_trained(seed=1)), store.save(make_trained(seed=1))
    names = compare.legend_names(store.list())
    assert names[first].endswith("(1)") and names[second].endswith("(2)")
