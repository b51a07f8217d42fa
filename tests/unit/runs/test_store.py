"""The run store, against both stores (SQLite and a throwaway PostgreSQL): save, list, load, delete;
owners; bounds at their edges; paging; atomic under a crash; concurrent writers; an unwritable folder."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

from playground.builder.config import ModelSpec
from playground.errors import PlaygroundError
from playground.runs import default_store, export
from playground.runs import store as run_store
from playground.runs.owners import PERSONAL_OWNER, identify
from playground.runs.store import RunQuery, SqliteRunStore, SqlRunStore, StoreBounds
from tests.runs_stores import location, reopen
from tests.sample_runs import make_trained

ROOT = Path(__file__).resolve().parents[3]
ALICE = identify("shared", cookies={"playground_owner": "a" * 43}).owner
BOB = identify("shared", cookies={"playground_owner": "b" * 43}).owner
CAROL = identify("shared", cookies={"playground_owner": "c" * 43}).owner


def size_of(trained) -> int:
    """What a run's weights take in the store: its safetensors bytes."""
    return len(export.to_safetensors_bytes(trained))


def bounds(**changes) -> StoreBounds:
    values = dict(max_runs=1000, max_bytes=10**9, owner_max_runs=1000, owner_max_bytes=10**9, owner_saves=None)
    values.update(changes)
    return StoreBounds(**values)


def ids(summaries) -> list[str]:
    return [s.run_id for s in summaries]


# ------------------------------------------------------------------------------------ the basics


def test_save_list_get_find_delete(new_store):
    store = new_store()
    assert store.writable and store.list() == []
    first = make_trained(seed=1)
    second = make_trained(seed=2, status="stopped")
    id1 = store.save(first)
    id2 = store.save(second)
    listed = store.list()
    assert ids(listed) == [id2, id1]  # newest first
    summary = listed[1]
    assert summary.config == first.config and summary.status == "finished" and summary.owner == PERSONAL_OWNER
    assert summary.best_val_loss == pytest.approx(min(e["val_loss"] for e in first.history))
    assert summary.epochs_run == 3 and summary.size_bytes == size_of(first) and not summary.pinned
    assert summary.label == "spiral3 · 2-8 tanh-4 relu-3 · Adam 0.03"
    assert json.dumps(summary.test_metrics, sort_keys=True) == json.dumps(first.test_metrics, sort_keys=True)

    again = store.get(id1)
    assert again.config == first.config and again.history == first.history
    assert again.standardization == first.standardization and again.classes == first.classes
    for key, value in first.state_dict.items():
        assert torch.equal(again.state_dict[key], value)
    assert store.history(id2) == second.history
    assert store.summary(id2).status == "stopped"

    assert store.find(first.config.key()) == id1
    assert store.find(second.config.key()) is None  # stopped runs are kept, but do not count as done

    assert store.delete(id1) is True
    assert store.delete(id1) is False
    assert ids(store.list()) == [id2]
    with pytest.raises(PlaygroundError, match="no kept run"):
        store.get(id1)


def test_runs_survive_a_new_store_object(new_store):
    store = new_store()
    run_id = store.save(make_trained())
    assert reopen(store).get(run_id).status == "finished"


def test_data_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(run_store.DATA_DIR_ENV, str(tmp_path / "from-env"))
    monkeypatch.delenv(run_store.STORE_URL_ENV, raising=False)
    store = default_store.open_default_store()
    assert store.data_dir == tmp_path / "from-env" and (tmp_path / "from-env" / "runs.sqlite3").exists()
    assert default_store.open_default_store() is store  # one object per configuration, not one per rerun


def test_the_mode_chooses_the_bounds(tmp_path, monkeypatch):
    monkeypatch.setenv(run_store.DATA_DIR_ENV, str(tmp_path))
    monkeypatch.delenv(run_store.STORE_URL_ENV, raising=False)
    monkeypatch.delenv("PLAYGROUND_MODE", raising=False)
    assert default_store.open_default_store().bounds == StoreBounds.personal()
    monkeypatch.setenv("PLAYGROUND_MODE", "shared")
    shared = default_store.open_default_store().bounds
    assert shared == StoreBounds.shared() and shared.owner_saves is not None
    assert shared.owner_max_runs < shared.max_runs


def test_the_store_url_chooses_postgres(monkeypatch, postgres_server):
    from playground.runs.store_postgres import PostgresRunStore

    monkeypatch.setenv(run_store.STORE_URL_ENV, postgres_server.database())
    store = default_store.open_default_store()
    assert isinstance(store, PostgresRunStore) and store.writable
    run_id = store.save(make_trained())
    assert ids(store.list()) == [run_id]


def test_the_app_does_not_import_psycopg_without_a_store_url(tmp_path):
    code = ("import sys; from playground.runs import default_store; default_store.open_default_store().list(); "
            "import views.identity; print('psycopg' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if k != run_store.STORE_URL_ENV}
    env.update(PLAYGROUND_DATA_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_an_unreachable_database_is_a_sentence_not_a_crash():
    from playground.runs.store_postgres import PostgresRunStore

    pytest.importorskip("psycopg")
    store = PostgresRunStore("postgresql://nobody:secret@127.0.0.1:1/none", connect_timeout_s=2)
    assert not store.writable and "runs will not be kept" in store.reason and "secret" not in store.reason
    with pytest.raises(PlaygroundError, match="runs will not be kept"):
        store.save(make_trained())
    with pytest.raises(PlaygroundError, match="cannot be read") as caught:
        store.list()
    assert "secret" not in caught.value.sentence


@pytest.mark.parametrize("bad", ["../../etc/passwd", "", "ABCDEF123456", "x" * 5000, "1234'; DROP--", None, 12,
                                 "0123456789ab\n"])
def test_malformed_run_ids_are_refused_plainly(new_store, bad):
    store = new_store()
    with pytest.raises(PlaygroundError, match="not a run id"):
        store.get(bad)  # type: ignore[arg-type]
    with pytest.raises(PlaygroundError, match="not a run id"):
        store.delete(bad)  # type: ignore[arg-type]


def test_unknown_run_id_is_a_sentence(new_store):
    store = new_store()
    with pytest.raises(PlaygroundError, match="no kept run with id 0123456789ab"):
        store.get("0123456789ab")
    with pytest.raises(PlaygroundError, match="no kept run"):
        store.summary("0123456789ab")


def test_a_run_being_trained_is_not_kept(new_store):
    with pytest.raises(PlaygroundError, match="Only finished or stopped"):
        new_store().save(make_trained(status="running"))


def test_damaged_or_missing_weights_are_said_plainly(new_store, store_kind):
    store = new_store()
    run_id = store.save(make_trained())
    if store_kind == "sqlite":
        path = store.weights_dir / f"{run_id}.safetensors"
        path.write_bytes(path.read_bytes()[:-10])
    else:
        with store._transaction() as db:
            db.execute("UPDATE run_weights SET data = substring(data from 1 for 100) WHERE run_id = %s", (run_id,))
    with pytest.raises(PlaygroundError, match="damaged"):
        store.get(run_id)
    if store_kind == "sqlite":
        path.unlink()
    else:
        with store._transaction() as db:
            db.execute("DELETE FROM run_weights WHERE run_id = %s", (run_id,))
    with pytest.raises(PlaygroundError, match="missing"):
        store.get(run_id)


# ------------------------------------------------------------------------------------------ owners


def test_two_owners_cannot_list_find_change_or_delete_each_others_runs(new_store):
    store = new_store(bounds=StoreBounds.shared())
    trained = make_trained(seed=1)
    alices = store.save(trained, owner=ALICE)
    bobs = store.save(make_trained(seed=2), owner=BOB)
    assert ids(store.list(ALICE)) == [alices] and ids(store.list(BOB)) == [bobs]
    assert ids(store.list(ALICE, RunQuery())) == [alices] and store.count(BOB) == 1
    assert store.list() == []  # the personal owner has none on a shared server
    assert store.find(trained.config.key(), owner=BOB) is None  # Bob's Play never opens Alice's run
    assert store.find(trained.config.key(), owner=ALICE) == alices
    assert [f[3] for f in store.facets(BOB)] == [1]
    # Bob cannot delete, pin or rename Alice's run, even with its id ...
    assert store.delete(alices, owner=BOB) is False
    assert store.set_pinned(alices, BOB, True) is False
    assert store.rename(alices, BOB, "mine now") is False
    survivor = store.summary(alices)
    assert survivor.owner == ALICE and not survivor.pinned and survivor.name is None
    # ... but the id is a share link: he may read it (view and download), as a read-only copy.
    assert store.get(alices).config == trained.config and store.history(alices) == trained.history
    assert store.delete(alices, owner=ALICE) is True
    assert store.list(ALICE) == [] and ids(store.list(BOB)) == [bobs]


@pytest.mark.parametrize("bad", ["", "'; DROP TABLE runs; --", "anon:xyz", "user:" + "0" * 31, None, 7])
def test_only_owner_ids_the_store_made_are_accepted(new_store, bad):
    store = new_store()
    with pytest.raises(PlaygroundError, match="not an owner"):
        store.list(bad)  # type: ignore[arg-type]
    with pytest.raises(PlaygroundError, match="not an owner"):
        store.save(make_trained(), owner=bad)  # type: ignore[arg-type]
    assert store.usage(None).runs == 0


def test_names_are_kept_cleaned_and_reset(new_store):
    store = new_store()
    run_id = store.save(make_trained())
    assert store.rename(run_id, PERSONAL_OWNER, "  my\nbest\x00 run \t ") is True
    assert store.summary(run_id).label == "my best run"
    assert ids(store.list(query=RunQuery(text="BEST RUN"))) == [run_id]
    with pytest.raises(PlaygroundError, match="at most 120 characters"):
        store.rename(run_id, PERSONAL_OWNER, "x" * 121)
    store.rename(run_id, PERSONAL_OWNER, "x" * 120)  # the edge fits
    assert store.rename(run_id, PERSONAL_OWNER, "   ") is True
    assert store.summary(run_id).label == "spiral3 · 2-8 tanh-4 relu-3 · Adam 0.03"


# ------------------------------------------------------------------------------------------ bounds


def test_the_owner_run_bound_evicts_the_oldest_unpinned_run_with_a_note(new_store):
    store = new_store(bounds=bounds(owner_max_runs=3))
    first, second, third = (store.save(make_trained(seed=i), owner=ALICE) for i in range(3))
    bobs = store.save(make_trained(seed=9), owner=BOB)
    assert store.count(ALICE) == 3 and store.evictions(ALICE) == []  # at the bound: nothing evicted
    assert store.set_pinned(first, ALICE, True)
    fourth = store.save(make_trained(seed=3), owner=ALICE)  # one past: the oldest unpinned goes
    assert set(ids(store.list(ALICE))) == {first, third, fourth}
    [note] = store.evictions(ALICE)
    assert note.run_id == second and "removed to make room" in note.reason and "3 runs" in note.reason
    assert note.label == "spiral3 · 2-8 tanh-4 relu-3 · Adam 0.03"
    assert ids(store.list(BOB)) == [bobs] and store.evictions(BOB) == []  # another owner is untouched
    with pytest.raises(PlaygroundError, match="no kept run"):
        store.get(second)
    store.dismiss_evictions(ALICE)
    assert store.evictions(ALICE) == []


def test_when_every_run_is_pinned_the_new_one_is_refused_and_nothing_changes(new_store, store_kind):
    store = new_store(bounds=bounds(owner_max_runs=2))
    kept = [store.save(make_trained(seed=i), owner=ALICE) for i in range(2)]
    for run_id in kept:
        store.set_pinned(run_id, ALICE, True)
    with pytest.raises(PlaygroundError, match="the rest are pinned"):
        store.save(make_trained(seed=5), owner=ALICE)
    assert set(ids(store.list(ALICE))) == set(kept) and store.evictions(ALICE) == []
    if store_kind == "sqlite":
        assert sorted(p.stem for p in store.weights_dir.iterdir()) == sorted(kept)  # no stray weight file
    store.set_pinned(kept[0], ALICE, False)
    store.save(make_trained(seed=5), owner=ALICE)
    assert [n.run_id for n in store.evictions(ALICE)] == [kept[0]]


def test_the_owner_byte_bound_at_its_edge(new_store):
    runs = [make_trained(seed=1, lr=lr) for lr in (0.01, 0.02, 0.03)]  # the same size each
    assert len({size_of(run) for run in runs}) == 1
    store = new_store(bounds=bounds(owner_max_bytes=2 * size_of(runs[0])))
    a = store.save(runs[0], owner=ALICE)
    b = store.save(runs[1], owner=ALICE)
    assert store.usage(ALICE).bytes == 2 * size_of(runs[0]) and store.evictions(ALICE) == []  # exactly at the bound
    c = store.save(runs[2], owner=ALICE)
    assert set(ids(store.list(ALICE))) == {b, c} and [n.run_id for n in store.evictions(ALICE)] == [a]


def test_a_run_larger_than_a_bound_is_refused_with_a_sentence(new_store):
    store = new_store(bounds=bounds(owner_max_bytes=size_of(make_trained()) - 1))
    with pytest.raises(PlaygroundError, match="not kept. Download its weights instead"):
        store.save(make_trained(), owner=ALICE)
    assert store.usage(None) == run_store.Usage(0, 0)


def test_a_full_store_evicts_only_the_savers_own_runs_and_never_another_owners(new_store):
    store = new_store(bounds=bounds(max_runs=3, owner_max_runs=2))
    alices = [store.save(make_trained(seed=1), owner=ALICE), store.save(make_trained(seed=2), owner=ALICE)]
    bobs_first = store.save(make_trained(seed=3), owner=BOB)
    bobs_second = store.save(make_trained(seed=4), owner=BOB)  # the store is full: Bob's own oldest goes
    assert store.usage(None).runs == 3
    assert ids(store.list(ALICE)) == alices[::-1] and ids(store.list(BOB)) == [bobs_second]
    [note] = store.evictions(BOB)
    assert note.run_id == bobs_first and "in all" in note.reason and "your oldest" in note.reason
    # Carol has no run to give: her save is refused with a sentence, and nobody else's run goes.
    with pytest.raises(PlaygroundError, match="store is full .* never removed for yours"):
        store.save(make_trained(seed=5), owner=CAROL)
    assert ids(store.list(ALICE)) == alices[::-1] and ids(store.list(BOB)) == [bobs_second]
    assert store.evictions(ALICE) == [] and store.count(CAROL) == 0


def test_saves_are_rate_limited_per_owner(new_store, monkeypatch):
    store = new_store(bounds=bounds(owner_saves=2, window_s=60.0))
    clock = [1_000_000.0]
    monkeypatch.setattr(run_store.time, "time", lambda: clock[0])
    store.save(make_trained(seed=1), owner=ALICE)
    store.save(make_trained(seed=2), owner=ALICE)  # the edge: the second in the window is allowed
    with pytest.raises(PlaygroundError, match="You kept 2 runs in the last 60 seconds"):
        store.save(make_trained(seed=3), owner=ALICE)
    store.save(make_trained(seed=3), owner=BOB)  # another owner is not slowed down
    assert store.count(ALICE) == 2
    clock[0] += 60.5
    store.save(make_trained(seed=3), owner=ALICE)
    assert store.count(ALICE) == 3


def test_personal_mode_is_not_rate_limited():
    assert StoreBounds.personal().owner_saves is None
    assert StoreBounds.personal().owner_max_runs == StoreBounds.personal().max_runs


# ------------------------------------------------------------------------------------ paging, filters


def test_pages_filters_and_sorting(new_store):
    store = new_store()
    regression = ModelSpec(in_features=2, hidden=(4,), activations=("relu",), out_features=1, task="regression")
    made = {}
    for i in range(7):
        run = make_trained(seed=i, lr=0.01 * (i + 1), optimizer=("adam", "sgd")[i % 2],
                           dataset=("spiral3", "blobs")[i % 3 == 0])
        made[store.save(run)] = run
    reg = store.save(make_trained(regression, seed=20, dataset="plane"))
    assert store.count() == 8
    pages = [store.list(query=RunQuery(offset=k, limit=3)) for k in (0, 3, 6)]
    assert [len(p) for p in pages] == [3, 3, 2]
    assert sum((ids(p) for p in pages), []) == ids(store.list())  # every run once, newest first, no cut
    assert store.list(query=RunQuery(offset=9)) == []

    by_lr = store.list(query=RunQuery(task="classification", sort_by="learning rate", descending=False))
    assert [s.config.train.lr for s in by_lr] == sorted(r.config.train.lr for r in made.values())
    sgd = RunQuery(task="classification", optimizers=("sgd",))
    assert {s.config.train.optimizer for s in store.list(query=sgd)} == {"sgd"} and store.count(query=sgd) == 3
    blobs = store.list(query=RunQuery(datasets=("blobs",)))
    assert {s.config.data.dataset for s in blobs} == {"blobs"} and len(blobs) == 3
    assert ids(store.list(query=RunQuery(task="regression"))) == [reg]
    assert ids(store.list(query=RunQuery(text="PLANE · 2-4-1"))) == [reg]
    assert store.list(query=RunQuery(text="(.*")) == [] and store.list(query=RunQuery(text="%")) == []  # literal
    # Missing values sort last either way: the regression run has no accuracy.
    for descending in (True, False):
        ordered = store.list(query=RunQuery(sort_by="test accuracy", descending=descending, limit=50))
        assert ordered[-1].run_id == reg
    facets = store.facets()
    assert ("regression", "plane", "adam", 1) in facets and sum(f[3] for f in facets) == 8


# ------------------------------------------------------------------------------------------ crashes


def test_a_failed_rename_leaves_no_run_and_no_file(tmp_path, monkeypatch):
    store = SqliteRunStore(tmp_path)

    def crash(*args, **kwargs):
        raise OSError("disk pulled out")

    monkeypatch.setattr(run_store.os, "replace", crash)
    with pytest.raises(PlaygroundError, match="weights could not be written"):
        store.save(make_trained())
    monkeypatch.undo()
    reopened = SqliteRunStore(tmp_path)
    assert reopened.list() == []
    assert list(reopened.weights_dir.iterdir()) == []


def test_a_failed_index_write_removes_the_weights(new_store, store_kind, monkeypatch):
    store = new_store()
    real_row_of = run_store._row_of
    monkeypatch.setattr(run_store, "_row_of", lambda *a: {**real_row_of(*a), "config_key": None})  # NOT NULL fails
    with pytest.raises(PlaygroundError, match="index could not be written"):
        store.save(make_trained())
    monkeypatch.undo()
    assert reopen(store).list() == []
    if store_kind == "sqlite":
        assert list(store.weights_dir.iterdir()) == []


OPEN_AT = textwrap.dedent(
    """
    def open_at(where):
        if where.startswith("postgresql://"):
            from playground.runs.store_postgres import PostgresRunStore
            return PostgresRunStore(where)
        from playground.runs.store import SqliteRunStore
        return SqliteRunStore(where)
    """
)

CRASH_MID_TRANSACTION = OPEN_AT + textwrap.dedent(
    """
    import os, sys, time
    from playground.runs.store import SqlRunStore
    from tests.sample_runs import make_trained

    def stall(self, db, run_id, data):  # the row is inserted, the transaction not committed: hang, be killed
        type(self)._real(self, db, run_id, data)
        print("inserted", flush=True)
        time.sleep(600)

    store = open_at(sys.argv[1])
    type(store)._real = type(store)._weights_in_transaction
    type(store)._weights_in_transaction = stall
    store.save(make_trained())
    """
)


def test_a_process_killed_mid_transaction_lists_no_half_run(new_store, store_kind):
    store = new_store()
    proc = subprocess.Popen([sys.executable, "-c", CRASH_MID_TRANSACTION, location(store)], cwd=ROOT,
                            stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert proc.stdout.readline().strip() == b"inserted"
        proc.kill()
    finally:
        proc.wait(timeout=60)
    store = reopen(store)
    assert store.list() == [] and store.usage(None).runs == 0
    if store_kind == "sqlite":  # the weight file made before the transaction is an unlisted leftover ...
        assert len(list(store.weights_dir.glob("*.safetensors"))) == 1
        for path in store.weights_dir.iterdir():
            os.utime(path, (0, 0))
        assert list(SqliteRunStore(store.data_dir).weights_dir.iterdir()) == []  # ... swept once it is old
    run_id = store.save(make_trained())  # and the store still works
    assert ids(store.list()) == [run_id]


CRASH_MID_WRITE = textwrap.dedent(
    """
    import os, sys, time
    from playground.runs import store as run_store
    from tests.sample_runs import make_trained

    def stall(fd):  # the temporary file is written; hang before the rename, and be killed
        print("writing", flush=True)
        time.sleep(600)
    store = run_store.SqliteRunStore(sys.argv[1])
    run_store.os.fsync = stall
    store.save(make_trained())
    """
)


def test_a_process_killed_mid_file_write_lists_no_half_run(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", CRASH_MID_WRITE, str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        assert proc.stdout.readline().strip() == b"writing"
        proc.kill()
    finally:
        proc.wait(timeout=60)
    store = SqliteRunStore(tmp_path)
    assert store.list() == []
    assert list(store.weights_dir.glob("*.safetensors")) == []  # only a temporary .part file, never a run
    run_id = store.save(make_trained())
    assert ids(store.list()) == [run_id]


# -------------------------------------------------------------------------------------- concurrency


def test_concurrent_writers_in_threads(new_store):
    store = new_store()
    errors: list[BaseException] = []
    saved: list[str] = []
    lock = threading.Lock()

    def writer(seed: int) -> None:
        try:
            mine = reopen(store)  # each writer its own store object, as each app server has
            for k in range(3):
                run_id = mine.save(make_trained(seed=seed * 10 + k))
                with lock:
                    saved.append(run_id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(ids(store.list())) == sorted(saved) and len(saved) == 24
    for run_id in saved:
        store.get(run_id)  # every listed run loads, weights and all


WRITER = OPEN_AT + textwrap.dedent(
    """
    import sys
    from tests.sample_runs import make_trained
    store = open_at(sys.argv[1])
    for k in range(4):
        print(store.save(make_trained(seed=int(sys.argv[2]) * 10 + k)))
    """
)


def test_concurrent_writers_in_processes_keep_the_bounds(new_store):
    """Four processes (four app servers) save 16 runs into a store bounded at 10: every save either keeps
    its run or evicted an older one; the bound holds and every listed run loads."""
    store = new_store()
    where = location(store)
    bounded = textwrap.dedent(
        """
        from playground.runs.store import StoreBounds
        _open_at = open_at
        def open_at(where):
            store = _open_at(where)
            store.bounds = StoreBounds(10, 10**9, 10, 10**9)
            return store
        """
    )
    code = OPEN_AT + bounded + WRITER[len(OPEN_AT):]
    procs = [
        subprocess.Popen([sys.executable, "-c", code, where, str(i)], cwd=ROOT, stdout=subprocess.PIPE,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
        for i in range(4)
    ]
    saved = []
    for proc in procs:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0
        saved += out.decode().split()
    assert len(saved) == 16
    listed = ids(store.list())
    assert len(listed) == 10 and set(listed) <= set(saved)
    assert {n.run_id for n in store.evictions()} == set(saved) - set(listed)  # each eviction has its note
    for run_id in listed:
        store.get(run_id)


# ------------------------------------------------------------------------------------ no writing


def test_an_unusable_data_folder_still_gives_a_store_that_says_why(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = SqliteRunStore(blocker / "data")
    assert store.writable is False
    assert "runs will not be kept" in store.reason
    assert store.list() == [] and store.find("abc") is None
    with pytest.raises(PlaygroundError, match="runs will not be kept"):
        store.save(make_trained())
    with pytest.raises(PlaygroundError, match="no kept run"):
        store.get("0123456789ab")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders anyway")
def test_a_read_only_folder_lists_its_runs_but_keeps_no_new_ones(tmp_path):
    run_id = SqliteRunStore(tmp_path).save(make_trained())
    for path in (tmp_path, tmp_path / "weights"):
        path.chmod(0o555)
    try:
        store = SqliteRunStore(tmp_path)
        assert not store.writable
        assert ids(store.list()) == [run_id]
        with pytest.raises(PlaygroundError, match="runs will not be kept"):
            store.save(make_trained())
    finally:
        for path in (tmp_path, tmp_path / "weights"):
            path.chmod(0o755)


def test_a_store_that_cannot_write_still_reads_the_index_read_only(tmp_path):
    run_id = SqliteRunStore(tmp_path).save(make_trained())
    store = SqliteRunStore(tmp_path)
    store.writable, store.reason = False, "runs will not be kept (test)"
    assert ids(store.list()) == [run_id]
    assert store.get(run_id).status == "finished"
    for change in (lambda: store.delete(run_id), lambda: store.set_pinned(run_id, PERSONAL_OWNER, True),
                   lambda: store.rename(run_id, PERSONAL_OWNER, "x")):
        with pytest.raises(PlaygroundError, match="runs will not be kept"):
            change()


OLD_SCHEMA = """
CREATE TABLE runs (run_id TEXT PRIMARY KEY, config_key TEXT NOT NULL, created_at REAL NOT NULL, status TEXT NOT NULL,
    device TEXT NOT NULL, duration_s REAL NOT NULL, config_json TEXT NOT NULL, history_json TEXT NOT NULL,
    test_metrics_json TEXT NOT NULL, standardization_json TEXT NOT NULL, classes_json TEXT NOT NULL,
    feature_names_json TEXT NOT NULL, best_val_loss REAL, epochs_run INTEGER NOT NULL, weights_file TEXT NOT NULL,
    weights_sha256 TEXT NOT NULL);
"""


def test_an_index_kept_by_the_previous_version_is_upgraded_in_place(tmp_path):
    """Runs kept before owners and bounds existed stay listed: they are the personal user's."""
    source = SqliteRunStore(tmp_path / "new")
    run_id = source.save(make_trained(seed=3))
    with sqlite3.connect(source.db_path) as new_db:
        new_db.row_factory = sqlite3.Row
        row = dict(new_db.execute("SELECT * FROM runs").fetchone())
    old_dir = tmp_path / "old"
    (old_dir / "weights").mkdir(parents=True)
    (old_dir / "weights" / row["weights_file"]).write_bytes((source.weights_dir / row["weights_file"]).read_bytes())
    old_columns = [line.split()[0] for line in OLD_SCHEMA.split("(", 1)[1].split(",") if line.strip()]
    old_columns = [c for c in old_columns if c in row]
    with sqlite3.connect(old_dir / "runs.sqlite3") as db:
        db.executescript(OLD_SCHEMA)
        db.execute(f"INSERT INTO runs ({', '.join(old_columns)}) VALUES ({', '.join('?' * len(old_columns))})",
                   [row[c] for c in old_columns])
    upgraded = SqliteRunStore(old_dir)
    [summary] = upgraded.list()
    assert summary.run_id == run_id and summary.owner == PERSONAL_OWNER and summary.size_bytes == size_of(make_trained(seed=3))
    assert summary.label == "spiral3 · 2-8 tanh-4 relu-3 · Adam 0.03"
    assert upgraded.count(query=RunQuery(datasets=("spiral3",))) == 1
    assert upgraded.get(run_id).config == make_trained(seed=3).config


def test_the_sql_store_is_the_one_interface_both_stores_share():
    from playground.runs.store_postgres import PostgresRunStore

    assert issubclass(SqliteRunStore, SqlRunStore) and issubclass(PostgresRunStore, SqlRunStore)


def test_without_postgresql_the_postgres_cases_skip_with_a_reason_and_fail_under_ci(monkeypatch):
    from tests import runs_stores

    monkeypatch.setattr(runs_stores, "_binary", lambda name: None)
    reason = runs_stores.missing_reason()
    assert reason and "apt-get install -y postgresql" in reason
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI=true the PostgreSQL run-store tests must run"):
        runs_stores.skip_or_fail(reason)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        runs_stores.skip_or_fail(reason)
