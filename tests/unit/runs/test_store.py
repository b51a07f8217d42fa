"""The run store: save, list, load, delete; atomic under a crash; concurrent writers; an unwritable folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

from playground.errors import PlaygroundError
from playground.runs import store as run_store
from playground.runs.store import SqliteRunStore
from tests.sample_runs import make_trained

ROOT = Path(__file__).resolve().parents[3]


def test_save_list_get_find_delete(tmp_path):
    store = SqliteRunStore(tmp_path / "data")
    assert store.writable and store.list() == []
    first = make_trained(seed=1)
    second = make_trained(seed=2, status="stopped")
    id1 = store.save(first)
    id2 = store.save(second)
    listed = store.list()
    assert [s.run_id for s in listed] == [id2, id1]  # newest first
    summary = listed[1]
    assert summary.config == first.config and summary.status == "finished"
    assert summary.best_val_loss == pytest.approx(min(e["val_loss"] for e in first.history))
    assert summary.epochs_run == 3
    assert json.dumps(summary.test_metrics, sort_keys=True) == json.dumps(first.test_metrics, sort_keys=True)

    again = store.get(id1)
    assert again.config == first.config and again.history == first.history
    assert again.standardization == first.standardization and again.classes == first.classes
    for key, value in first.state_dict.items():
        assert torch.equal(again.state_dict[key], value)
    assert store.history(id2) == second.history

    assert store.find(first.config.key()) == id1
    assert store.find(second.config.key()) is None  # stopped runs are kept, but do not count as done

    assert store.delete(id1) is True
    assert store.delete(id1) is False
    assert [s.run_id for s in store.list()] == [id2]
    with pytest.raises(PlaygroundError, match="no kept run"):
        store.get(id1)
    assert not (store.weights_dir / f"{id1}.safetensors").exists()


def test_runs_survive_a_new_store_object(tmp_path):
    run_id = SqliteRunStore(tmp_path).save(make_trained())
    assert SqliteRunStore(tmp_path).get(run_id).status == "finished"


def test_data_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(run_store.DATA_DIR_ENV, str(tmp_path / "from-env"))
    store = run_store.open_default_store()
    assert store.data_dir == tmp_path / "from-env" and (tmp_path / "from-env" / "runs.sqlite3").exists()


@pytest.mark.parametrize("bad", ["../../etc/passwd", "", "ABCDEF123456", "x" * 5000, "1234'; DROP--", None, 12])
def test_malformed_run_ids_are_refused_plainly(tmp_path, bad):
    store = SqliteRunStore(tmp_path)
    with pytest.raises(PlaygroundError, match="not a run id"):
        store.get(bad)  # type: ignore[arg-type]


def test_unknown_run_id_is_a_sentence(tmp_path):
    with pytest.raises(PlaygroundError, match="no kept run with id 0123456789ab"):
        SqliteRunStore(tmp_path).get("0123456789ab")


def test_a_run_being_trained_is_not_kept(tmp_path):
    with pytest.raises(PlaygroundError, match="Only finished or stopped"):
        SqliteRunStore(tmp_path).save(make_trained(status="running"))


def test_damaged_or_missing_weights_are_said_plainly(tmp_path):
    store = SqliteRunStore(tmp_path)
    run_id = store.save(make_trained())
    path = store.weights_dir / f"{run_id}.safetensors"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(PlaygroundError, match="damaged"):
        store.get(run_id)
    path.unlink()
    with pytest.raises(PlaygroundError, match="missing"):
        store.get(run_id)


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


def test_a_failed_index_write_removes_the_weight_file(tmp_path, monkeypatch):
    store = SqliteRunStore(tmp_path)
    monkeypatch.setattr(run_store, "_row_of", lambda *a: {"run_id": None})  # NOT NULL fails in the INSERT
    with pytest.raises(PlaygroundError, match="index could not be written"):
        store.save(make_trained())
    monkeypatch.undo()
    assert SqliteRunStore(tmp_path).list() == []
    assert list(store.weights_dir.iterdir()) == []


CRASH_AFTER_WEIGHTS = textwrap.dedent(
    """
    import os, sys
    from playground.runs import store as run_store
    from tests.sample_runs import make_trained

    class Crash:  # the process dies after the weight file is in place, before the index row commits
        def __init__(self, db): pass
        def __enter__(self): os._exit(3)
        def __exit__(self, *a): pass

    run_store._transaction = Crash
    run_store.SqliteRunStore(sys.argv[1]).save(make_trained())
    """
)

CRASH_MID_WRITE = textwrap.dedent(
    """
    import os, sys, time
    from playground.runs import store as run_store
    from tests.sample_runs import make_trained

    real_fsync = os.fsync
    def stall(fd):  # the temporary file is written; hang before the rename, and be killed
        print("writing", flush=True)
        time.sleep(600)
    run_store.os.fsync = stall
    run_store.SqliteRunStore(sys.argv[1]).save(make_trained())
    """
)


def test_a_process_dying_after_the_weights_lists_no_half_run(tmp_path):
    result = subprocess.run([sys.executable, "-c", CRASH_AFTER_WEIGHTS, str(tmp_path)], cwd=ROOT, timeout=120)
    assert result.returncode == 3
    store = SqliteRunStore(tmp_path)
    assert store.list() == []
    assert len(list(store.weights_dir.glob("*.safetensors"))) == 1  # an unlisted leftover ...
    old = 0
    for path in store.weights_dir.iterdir():
        os.utime(path, (old, old))
    assert list(SqliteRunStore(tmp_path).weights_dir.iterdir()) == []  # ... swept once it is old


def test_a_process_killed_mid_write_lists_no_half_run(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", CRASH_MID_WRITE, str(tmp_path)], cwd=ROOT,
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"writing"
        proc.kill()
    finally:
        proc.wait(timeout=60)
    store = SqliteRunStore(tmp_path)
    assert store.list() == []
    assert list(store.weights_dir.glob("*.safetensors")) == []  # only a temporary .part file, never a run
    run_id = store.save(make_trained())  # and the store still works
    assert [s.run_id for s in store.list()] == [run_id]


# -------------------------------------------------------------------------------------- concurrency


def test_concurrent_writers_in_threads(tmp_path):
    errors: list[BaseException] = []
    ids: list[str] = []
    lock = threading.Lock()

    def writer(seed: int) -> None:
        try:
            store = SqliteRunStore(tmp_path)  # each writer its own store object, as each session has
            for k in range(3):
                run_id = store.save(make_trained(seed=seed * 10 + k))
                with lock:
                    ids.append(run_id)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    store = SqliteRunStore(tmp_path)
    assert sorted(s.run_id for s in store.list()) == sorted(ids) and len(ids) == 24
    for run_id in ids:
        store.get(run_id)  # every listed run loads, weights and all


WRITER = textwrap.dedent(
    """
    import sys
    from playground.runs.store import SqliteRunStore
    from tests.sample_runs import make_trained
    store = SqliteRunStore(sys.argv[1])
    for k in range(4):
        print(store.save(make_trained(seed=int(sys.argv[2]) * 10 + k)))
    """
)


def test_concurrent_writers_in_processes(tmp_path):
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(i)], cwd=ROOT, stdout=subprocess.PIPE)
        for i in range(4)
    ]
    ids = []
    for proc in procs:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0
        ids += out.decode().split()
    store = SqliteRunStore(tmp_path)
    assert sorted(s.run_id for s in store.list()) == sorted(ids) and len(ids) == 16
    for run_id in ids:
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
        assert [s.run_id for s in store.list()] == [run_id]
        with pytest.raises(PlaygroundError, match="runs will not be kept"):
            store.save(make_trained())
    finally:
        for path in (tmp_path, tmp_path / "weights"):
            path.chmod(0o755)


def test_a_store_that_cannot_write_still_reads_the_index_read_only(tmp_path):
    run_id = SqliteRunStore(tmp_path).save(make_trained())
    store = SqliteRunStore(tmp_path)
    store.writable, store.reason = False, "runs will not be kept (test)"
    assert [s.run_id for s in store.list()] == [run_id]
    assert store.get(run_id).status == "finished"
    with pytest.raises(PlaygroundError, match="runs will not be kept"):
        store.delete(run_id)
