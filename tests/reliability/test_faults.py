"""Faults, with nothing lost: a run-store writer killed with SIGKILL mid-write, an unwritable data folder,
a full disk, a training stopped mid-epoch, page switches and widget changes during training, and a
training worker killed mid-run. (A browser session that disappears is in test_session_gone.py.)"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from playground.builder.model import TrainedModel
from playground.errors import PlaygroundError
from playground.execution.pool import DIED_SENTENCE
from playground.runs import store as run_store
from playground.runs.store import SqliteRunStore
from playground.runs.store_postgres import PostgresRunStore
from tests.app.conftest import open_page, texts
from tests.reliability.conftest import ROOT, assert_no_traceback, record
from tests.runs_stores import location
from tests.sample_runs import make_trained

DEADLINE_S = 120

# ------------------------------------------------------------------------ run store: SIGKILL mid-write

WRITER = textwrap.dedent("""
    import os, sys
    from playground.builder.config import ModelSpec
    from tests.sample_runs import make_trained

    where, log_path, first_seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if where.startswith("postgresql://"):
        from playground.runs.store_postgres import PostgresRunStore
        store = PostgresRunStore(where)
    else:
        from playground.runs.store import SqliteRunStore
        store = SqliteRunStore(where)
    spec = ModelSpec(in_features=2, hidden=(256, 256), activations=("relu", "relu"), out_features=3)
    seed = first_seed
    with open(log_path, "a") as log:
        log.write("ready\\n"); log.flush()
        while True:
            run_id = store.save(make_trained(spec=spec, seed=seed))
            log.write(f"{run_id} {seed}\\n"); log.flush(); os.fsync(log.fileno())
            seed += 1
""")


def expected_weights(seed: int) -> dict[str, torch.Tensor]:
    from playground.builder.config import ModelSpec

    spec = ModelSpec(in_features=2, hidden=(256, 256), activations=("relu", "relu"), out_features=3)
    return make_trained(spec=spec, seed=seed).state_dict


def test_sigkill_during_run_store_writes_leaves_only_whole_runs(tmp_path, new_store, store_kind):
    """A writer saving ~260 KB runs in a loop is SIGKILLed at random moments, five times, then restarted.
    Every run it finished is listed with the right weights; nothing half-written is listed. Against both
    stores: SQLite with weight files, and PostgreSQL (a killed client's open transaction is rolled back)."""
    where = location(new_store())  # a folder (SQLite) or a database URL (PostgreSQL)
    data_dir, log_path = Path(where), tmp_path / "completed.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rng = random.Random(6)
    kills = 0
    seed = 0
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, where, str(log_path), str(seed)], cwd=ROOT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not log_path.exists() or "ready" not in log_path.read_text()):
            time.sleep(0.05)
        time.sleep(0.5 + rng.random() * 1.5)  # some runs complete, the kill lands at a random point of a write
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        kills += 1
        done = [line.split() for line in log_path.read_text().splitlines() if line != "ready"]
        seed = int(done[-1][1]) + 1000 if done else seed + 1000  # fresh seeds for the next writer
    completed = {run_id: int(s) for run_id, s in (line.split() for line in log_path.read_text().splitlines() if line != "ready")}
    assert len(completed) >= 5, "the writer should have finished some runs between kills"

    store = PostgresRunStore(where) if store_kind == "postgres" else SqliteRunStore(where)  # the restart
    assert store.writable
    listed = {summary.run_id for summary in store.list()}
    assert set(completed) <= listed  # every completed run is intact ...
    assert len(listed - set(completed)) <= kills  # ... plus at most one committed-but-unlogged run a kill
    for run_id in listed:  # ... and nothing listed is half-written: every listed run loads, with its weights
        trained = store.get(run_id)
        seed_of = completed.get(run_id)
        if seed_of is not None:
            want = expected_weights(seed_of)
            assert all(torch.equal(trained.state_dict[k], want[k]) for k in want), run_id
    record("faults", f"run store ({store_kind}): SIGKILLs during writes", kills)
    record("faults", f"run store ({store_kind}): runs completed and intact after restart", len(completed))
    if store_kind == "sqlite":
        leftovers = [p.name for p in (data_dir / "weights").iterdir() if p.name.startswith(".tmp-")]
        record("faults", "run store (sqlite): temporary files left by kills (unlisted, swept after an hour)",
               len(leftovers))
    # A store that keeps working after the crashes: one more run is kept and listed.
    new_id = store.save(make_trained(seed=99))
    assert new_id in {s.run_id for s in store.list()}


# ------------------------------------------------------------------------ unwritable folder, full disk

PANEL = """
import streamlit as st
from views import model_builder_io
from tests.sample_runs import make_trained
model_builder_io.render(st.session_state.get("mb_trained"), make_trained(seed=1).config)
"""


@pytest.fixture
def unwritable_dir(tmp_path, monkeypatch) -> Path:
    """A data folder that cannot be created even by root: its parent is a regular file."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder's parent should be")
    monkeypatch.setenv(run_store.DATA_DIR_ENV, str(blocker / "data"))
    return blocker / "data"


def test_unwritable_data_folder_the_app_runs_and_says_runs_cannot_be_kept(unwritable_dir):
    store = SqliteRunStore(unwritable_dir)
    assert not store.writable and "runs will not be kept" in store.reason
    with pytest.raises(PlaygroundError):
        store.save(make_trained(seed=1))
    assert store.list() == []
    # The Save-and-load panel: a trained model is still downloadable; the page says it will not be kept.
    at = AppTest.from_string(PANEL, default_timeout=60)
    at.session_state["mb_trained"] = make_trained(seed=1)
    at.run()
    assert_no_traceback(at)
    assert any("runs will not be kept" in str(w.value) for w in at.warning)
    buttons = {b.key: b for b in at.get("download_button")}
    assert not buttons["mb_io_download_pt"].proto.disabled
    # The Runs page opens and says so too.
    runs = open_page("pages/runs.py")
    assert any("runs will not be kept" in str(w.value) for w in runs.warning)
    # And the whole app starts on it (Tensor Lab works).
    lab = open_page("app.py")
    assert "tensor([ 1.,  4.,  9., 16.])" in texts(lab)


def test_full_disk_the_run_is_not_kept_and_the_page_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv(run_store.DATA_DIR_ENV, str(tmp_path / "data"))
    kept = SqliteRunStore(tmp_path / "data").save(make_trained(seed=2))

    def disk_full(final, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_store, "_write_atomically", disk_full)
    at = AppTest.from_string(PANEL, default_timeout=60)
    at.session_state["mb_trained"] = make_trained(seed=1)
    at.run()
    assert_no_traceback(at)
    assert any("could not be kept" in str(e.value) for e in at.error), [e.value for e in at.error]
    assert [s.run_id for s in SqliteRunStore(tmp_path / "data").list()] == [kept]  # the earlier run is intact


FULL_DISK = textwrap.dedent("""
    import json, resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, as on a full disk
    from playground.builder.config import ModelSpec
    from playground.errors import PlaygroundError
    from playground.runs.store import SqliteRunStore
    from tests.sample_runs import make_trained
    store = SqliteRunStore(sys.argv[1])
    first = store.save(make_trained(seed=1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
    big = ModelSpec(in_features=2, hidden=(256, 256), activations=("relu", "relu"), out_features=3)
    try:
        store.save(make_trained(spec=big, seed=2))
        outcome = "kept"
    except PlaygroundError as exc:
        outcome = exc.sentence
    print(json.dumps({"first": first, "outcome": outcome, "listed": [s.run_id for s in store.list()]}))
""")


def test_a_real_write_failure_is_a_sentence_and_the_store_stays_whole(tmp_path):
    """Process level: the file-size limit makes the weight write fail for real (EFBIG, like ENOSPC)."""
    out = subprocess.run([sys.executable, "-c", FULL_DISK, str(tmp_path / "data")], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["outcome"].startswith("The run could not be kept")
    assert result["listed"] == [result["first"]]
    assert not [p for p in (tmp_path / "data" / "weights").iterdir() if p.name.startswith(".tmp-")]


# ------------------------------------------------------------------------ training faults (Model Builder)

PAGE = "pages/model_builder.py"


@pytest.fixture
def builder(tmp_path, monkeypatch):
    monkeypatch.setenv(run_store.DATA_DIR_ENV, str(tmp_path / "data"))
    at = open_page(PAGE, timeout=120)
    at.select_slider(key="mb_speed").set_value("as fast as it goes").run()
    yield at
    job = at.session_state["mb_control"].handle
    if job is not None:
        job.stop()


def set_value(at, kind: str, key: str, value) -> None:
    getattr(at, kind)(key=key).set_value(value).run()
    assert_no_traceback(at)


def wait_view(at, condition, deadline_s: float = DEADLINE_S, rerun: bool = True):
    deadline = time.monotonic() + deadline_s
    view = None
    while time.monotonic() < deadline:
        if rerun:
            at.run()
            assert_no_traceback(at)
        view = at.session_state["mb_control"].view()
        if condition(view):
            return view
        time.sleep(0.2)
    raise AssertionError(f"timed out: {view and (view.status, view.epoch, view.message)}")


@pytest.mark.slow
def test_batch_1_on_the_largest_data_then_stop_mid_epoch_keeps_the_partial_model(builder):
    """The extreme: 100,000 samples with batch size 1 (60,000 steps an epoch). It starts, makes progress
    and, stopped in the middle of an epoch, keeps the weights of that moment and the epochs before."""
    at = builder
    set_value(at, "select_slider", "mb_n_samples", 100_000)
    set_value(at, "number_input", "mb_batch", 1)
    set_value(at, "number_input", "mb_epochs", 50)
    initial = {k: v.clone() for k, v in _initial_weights(at).items()}
    at.button(key="mb_play").click().run()
    assert_no_traceback(at)
    view = wait_view(at, lambda v: v.status == "running" and v.elapsed_s > 1.5, rerun=False)
    at.button(key="mb_stop").click().run()
    view = wait_view(at, lambda v: not v.active)
    assert view.status == "stopped"
    trained: TrainedModel = kept_model(at, view)
    assert trained.status == "stopped" and len(trained.history) == view.epoch
    per_epoch = view.info["n_train"]  # batch 1: one step a row
    assert view.stats["steps"] > view.epoch * per_epoch  # stopped inside an epoch, and those steps are kept
    assert any(not torch.equal(trained.state_dict[k], initial[k]) for k in initial)  # it learnt something
    assert "stopped" in texts(at)
    record("extremes", "batch 1 on 100,000 samples: steps per second", round(view.stats["steps"] / max(view.stats["train_seconds"], 1e-9)))
    # The stopped run is kept and the page still trains.
    store = SqliteRunStore(os.environ[run_store.DATA_DIR_ENV])
    assert [s.status for s in store.list()] == ["stopped"]


def kept_model(at, view) -> TrainedModel:
    """The model the page keeps once the run has ended (the live view collects it on its next render)."""
    for _ in range(10):
        at.run()
        assert_no_traceback(at)
        if "mb_trained" in at.session_state:
            return at.session_state["mb_trained"]
        time.sleep(0.2)
    raise AssertionError(f"no model kept after the run ended: status={view.status} epoch={view.epoch} "
                         f"final_state={'set' if view.final_state is not None else None} message={view.message!r}")


def _initial_weights(at) -> dict[str, torch.Tensor]:
    from playground.builder.model import build_model

    config = at.session_state["mb_config"]
    torch.manual_seed(config.train.seed)
    return build_model(config.model).state_dict()


@pytest.mark.slow
def test_switching_pages_and_touching_widgets_during_training_does_not_interrupt_it(builder):
    at = builder
    set_value(at, "number_input", "mb_epochs", 80)
    at.button(key="mb_play").click().run()
    wait_view(at, lambda v: v.status == "running" and v.epoch >= 1)
    # Touch the Model Builder's own widgets ...
    set_value(at, "slider", "mb_noise", 0.3)
    set_value(at, "number_input", "mb_seed", 5)
    # ... go to Tensor Lab and Autograd and use them ...
    at.switch_page("app.py")
    at.run()
    at.text_input(key="tl_literal").set_value("[[1, 2], [3, 4]]").run()
    assert_no_traceback(at)
    at.switch_page("pages/autograd.py")
    at.run()
    at.text_input(key="ag_expression").set_value("x.sin().sum()").run()
    assert_no_traceback(at)
    at.switch_page("pages/runs.py")
    at.run()
    assert_no_traceback(at)
    # ... and back: the run went on to the end, every epoch in order.
    at.switch_page(PAGE)
    at.run()
    view = wait_view(at, lambda v: not v.active)
    assert view.status == "finished" and [row["epoch"] for row in view.history] == list(range(1, 81))
    assert kept_model(at, view).status == "finished"


@pytest.mark.slow
def test_a_killed_worker_is_reported_and_the_session_trains_again(builder):
    at = builder
    set_value(at, "number_input", "mb_epochs", 2_000)
    at.button(key="mb_play").click().run()
    view = wait_view(at, lambda v: v.status == "running" and v.info.get("pid"))
    os.kill(view.info["pid"], signal.SIGKILL)
    view = wait_view(at, lambda v: not v.active)
    at.run()
    assert view.status == "failed" and view.message == DIED_SENTENCE
    assert DIED_SENTENCE in [str(e.value) for e in at.error]
    assert_no_traceback(at)
    # The session keeps working: a short run trains to the end.
    set_value(at, "number_input", "mb_epochs", 5)
    at.button(key="mb_play").click().run()
    view = wait_view(at, lambda v: not v.active)
    assert view.status == "finished" and view.epoch == 5
    at.run()
    assert DIED_SENTENCE not in [str(e.value) for e in at.error]


@pytest.mark.slow
def test_learning_rate_10_divergence_is_caught_with_a_sentence(builder):
    at = builder
    at.button(key="mb_ds_plane").click().run()  # regression: MSE with SGD at lr 10 explodes
    set_value(at, "selectbox", "mb_optimizer", "sgd")
    set_value(at, "select_slider", "mb_lr", 10.0)
    set_value(at, "number_input", "mb_epochs", 200)
    at.button(key="mb_play").click().run()
    view = wait_view(at, lambda v: not v.active)
    assert view.status == "diverged", (view.status, view.history[-1:])
    trained = kept_model(at, view)
    assert any("lower the learning rate" in str(e.value) for e in at.error)
    assert all(torch.isfinite(t).all() for t in trained.state_dict.values())  # its last finite weights
    record("extremes", "learning rate 10 (SGD, plane): diverged at epoch", view.epoch + 1)


@pytest.mark.slow
def test_the_largest_model_trains(builder):
    at = builder
    set_value(at, "number_input", "mb_layers", 8)
    for i in range(8):
        at.session_state[f"mb_width_{i}"] = 256
    set_value(at, "number_input", "mb_epochs", 2)
    assert at.session_state["mb_config"].model.hidden == (256,) * 8
    params = sum(v.numel() for v in _initial_weights(at).values())
    at.button(key="mb_play").click().run()
    view = wait_view(at, lambda v: not v.active)
    assert view.status == "finished" and view.epoch == 2
    record("extremes", "largest model (8 x 256): parameters", params)
    record("extremes", "largest model: seconds for 2 epochs of 300 rows", round(view.stats["train_seconds"], 2))


def test_model_builder_settings_survive_a_visit_to_another_page(builder):
    """Nothing the user had is lost: settings typed in the Model Builder are still there after a page switch."""
    at = builder
    set_value(at, "number_input", "mb_epochs", 7)
    set_value(at, "number_input", "mb_seed", 5)
    at.switch_page("app.py")
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert_no_traceback(at)
    assert (at.number_input(key="mb_epochs").value, at.number_input(key="mb_seed").value) == (7, 5)
