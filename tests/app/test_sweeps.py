"""The Sweeps page driven like a user: the base is the Model Builder's setup, one or two settings vary, bad values
and grids past the limits are a sentence with Play disabled, a sweep trains in the background with step, pause,
play and stop, its pictures and table appear, and a member opens as a normal run."""

from __future__ import annotations

import time

import pytest

from playground import limits
from playground.builder import sweep_progress
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.model import TrainedModel
from playground.builder.sweep import exactness_sentence
from playground.execution.executor import BUSY_OWNER_SENTENCE
from playground.execution.server import get_executor
from playground.runs.default_store import open_default_store
from tests.app.conftest import cut_short, open_page, texts

PAGE = "pages/sweeps.py"
DEADLINE_S = 120


def poll(at, condition, deadline_s: float = DEADLINE_S):
    """Rerun the page (as the fragments' timers would) until ``condition(snapshot)``."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        view = at.session_state["sw_control"].view()
        if condition(view):
            at.run()
            return view
        time.sleep(0.2)
    raise AssertionError(f"timed out at {view.status}, epoch {view.epoch}")


def pictures(at) -> int:
    return len(at.get("image"))


@pytest.fixture
def at():
    return open_page(PAGE)


def test_the_page_starts_from_the_defaults_and_says_how_exact_a_sweep_is(at):
    shown = texts(at)
    assert "circle · 2\\-8\\-8\\-2 tanh · Adam 0\\.03" in shown and "from the Model Builder's defaults" in shown
    assert at.selectbox(key="sw_axis_0").value == "lr" and at.text_input(key="sw_values_0_lr").value == "0.01, 0.03, 0.1"
    assert "**3** models × 114 parameters" in shown
    assert "trains one member again, alone, as its own single run" in shown  # the engine's check, not yet made
    assert "This server has no CUDA GPU, so training runs on the CPU." in shown  # the device choice's sentence
    assert "Momentum is not a setting of Adam" in shown  # a sweepable setting that does not apply, said why
    assert "Momentum" not in at.selectbox(key="sw_axis_0").options and "Seed" in at.selectbox(key="sw_axis_0").options
    assert "Press Play" in shown and not at.button(key="sw_play").disabled
    assert at.button(key="sw_stop").disabled


def test_the_base_is_the_model_builders_setup():
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    config = RunConfig(data=DataConfig(dataset="spiral", n_samples=200),
                       model=ModelSpec(hidden=(5,), activations=("relu",)),
                       train=TrainConfig(optimizer="sgd", lr=0.1, epochs=7))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["mb_config"] = config
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    shown = texts(at)
    assert "spiral · 2\\-5\\-2 relu · SGD 0\\.1" in shown and "from the Model Builder's current setup" in shown
    assert "Momentum" in at.selectbox(key="sw_axis_0").options  # SGD has momentum
    assert at.number_input(key="sw_epochs").value == 7


@pytest.mark.parametrize("values, words", [
    ("0.01; 0.1", "The values of the learning rate must be numbers separated by commas"),
    ("0.1, 0.1", "may appear once"),
    ("0.1, 20", "learning rate 20 is not a valid run"),
    ("", "Give at least one value of the learning rate"),
])
def test_bad_values_are_a_sentence_and_play_is_disabled(at, values, words):
    at.text_input(key="sw_values_0_lr").set_value(values).run()
    assert not at.exception
    assert words in texts(at)
    assert at.button(key="sw_play").disabled and at.button(key="sw_step").disabled


def test_a_grid_past_the_limits_is_refused_by_the_widgets_and_the_logic(at, monkeypatch):
    at.toggle(key="sw_two").set_value(True).run()
    at.text_input(key="sw_values_0_lr").set_value(", ".join(f"0.0{i}" for i in range(1, 10))).run()
    at.text_input(key="sw_values_1_seed").set_value(", ".join(str(i) for i in range(8))).run()
    assert "at most 64 models; this grid has 9 x 8 = 72" in texts(at)
    assert at.button(key="sw_play").disabled
    at.radio(key="sw_form_0_lr").set_value("log range").run()
    assert at.number_input(key="sw_count_0_lr").max == limits.MAX_SWEEP_MEMBERS  # the widget's own bound
    at.toggle(key="sw_two").set_value(False).run()
    monkeypatch.setattr(limits, "MAX_SWEEP_WORK", 1_000)  # members x parameters x rows: the logic's bound
    at.run()
    assert "a sweep may do at most 1,000" in texts(at) and at.button(key="sw_play").disabled


def test_a_sweep_trains_shows_its_members_and_one_opens_as_a_run(at):
    at.number_input(key="sw_epochs").set_value(4).run()
    at.toggle(key="sw_two").set_value(True).run()
    at.text_input(key="sw_values_1_seed").set_value("0, 1").run()
    at.button(key="sw_play").click().run()
    view = poll(at, lambda v: not v.active)
    assert view.status == "finished" and view.epoch == 4 and view.info["members"] == 6
    shown = texts(at)
    assert "Epoch 4 / 4" in shown and "finished on cpu" in shown and "6 models" in shown
    assert exactness_sentence(view.stats["exactness"]) in shown  # what the engine's check found for this sweep
    assert "Best: learning rate" in shown
    assert pictures(at) >= 4  # the small multiples, the curves, the two heatmaps
    table = at.dataframe[0].value
    assert list(table["member"]) == [f"learning rate {lr:g}, seed {s}" for lr in (0.01, 0.03, 0.1) for s in (0, 1)]
    assert set(table["status"]) == {"finished"} and set(table["epochs"]) == {4}
    metrics = sweep_progress.final_metrics(view.history, 6)
    best = sweep_progress.best_member(metrics, view.view["status"])
    assert at.selectbox(key="sw_member").value == best  # the best member is chosen first

    at.selectbox(key="sw_member").set_value(3).run()
    at.button(key="sw_keep").click().run()
    assert not at.exception
    kept = at.session_state["sw_kept"]
    run_id = next(iter(kept.values()))
    assert f"Kept as run {run_id}" in texts(at)
    stored = open_default_store().get(run_id)
    assert stored.config == RunConfig(train=TrainConfig(epochs=4, lr=0.03, seed=1))
    member = at.session_state["sw_control"].spec.member(3)  # its history with its layers' statistics, as a run's
    assert stored.history == tuple(sweep_progress.member_history(view.history, 3, member.model))
    assert stored.status == "finished" and stored.history[-1]["layers"][0]["name"] == "layers.0"
    assert at.button(key="sw_keep").disabled  # kept once

    at.button(key="sw_open").click().run()
    assert not at.exception
    trained = at.session_state["mb_trained"]
    assert isinstance(trained, TrainedModel) and trained.config == stored.config
    assert "Model Builder" in [t.value for t in at.title]  # the page switched
    assert len(open_default_store().list()) == 1  # opening did not keep it twice


def test_step_pause_play_and_stop(at):
    at.number_input(key="sw_epochs").set_value(2000).run()
    at.button(key="sw_step").click().run()
    view = poll(at, lambda v: v.status == "paused" and v.epoch == 1)
    assert "paused" in texts(at)
    at.button(key="sw_play").click().run()
    poll(at, lambda v: v.epoch >= 3)
    at.button(key="sw_pause").click().run()
    view = poll(at, lambda v: v.status == "paused")
    at.button(key="sw_stop").click().run()
    view = poll(at, lambda v: not v.active)
    assert view.status == "stopped" and 3 <= view.epoch < 2000
    assert "Once the sweep has ended" not in texts(at) and at.selectbox(key="sw_member")


def test_a_sweep_waits_for_the_owners_run(at):
    config = RunConfig(train=TrainConfig(epochs=2000, batch_size=1))
    from playground.builder.datasets import prepare_data

    owner = "this-session"
    at.session_state["mb_owner"] = owner  # the Model Builder's owner key: one training a session, sweeps included
    busy = get_executor().submit(config, prepare_data(config.data).arrays(), owner=owner)
    try:
        at.button(key="sw_play").click().run()
        assert not at.exception
        assert BUSY_OWNER_SENTENCE in texts(at)
        assert at.session_state["sw_control"].handle is None
    finally:
        busy.stop()
        busy.wait(60)


def csv_setup() -> tuple[RunConfig, bytes]:
    rows = "\n".join(f"{i % 7},{(i * 3) % 11},{int(i % 7 > 3)}" for i in range(80))
    raw = f"a,b,label\n{rows}\n".encode()
    config = RunConfig(data=DataConfig(dataset="csv", n_samples=80, features=(), csv_name="table.csv",
                                       csv_target="label"),
                       model=ModelSpec(in_features=2, hidden=(4,), activations=("tanh",), out_features=2),
                       train=TrainConfig(epochs=3))
    return config, raw


def open_with(state: dict):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    return at


def test_a_csv_base_sweeps_without_a_plane_and_a_lost_csv_is_a_sentence():
    config, raw = csv_setup()
    at = open_with({"mb_config": config, "mb_csv_bytes": raw})
    assert "table\\.csv" in texts(at)
    at.button(key="sw_play").click().run()
    view = poll(at, lambda v: not v.active)
    assert view.status == "finished" and view.view["tiles"] == [None, None, None]
    shown = texts(at)
    assert "A CSV's inputs are not a plane" in shown and pictures(at) >= 3  # the curves and the two heatmaps
    lost = open_with({"mb_config": config})
    assert "no longer uploaded" in texts(lost) and lost.button(key="sw_play").disabled


def test_play_and_stop_cut_short_by_the_next_interaction_still_act(at, monkeypatch):
    """A click whose run is cut short by the next interaction (the browser sends the widgets again, without the
    press) still plays and stops the sweep: the press is kept in the session until the page acts on it."""
    import playground.execution.server as server

    at.number_input(key="sw_epochs").set_value(2000).run()
    fired = cut_short(monkeypatch, server, "get_executor")  # get_executor is called near the top of the page
    at.button(key="sw_play").click().run()
    assert fired, "the run was cut short"
    view = poll(at, lambda v: v.status == "running" and v.epoch >= 1)
    assert view.active
    fired = cut_short(monkeypatch, server, "get_executor")
    at.button(key="sw_stop").click().run()
    assert fired
    view = poll(at, lambda v: not v.active)
    assert view.status == "stopped" and view.epoch < 2000


def test_a_member_whose_loss_swings_is_marked_unstable_with_the_fix():
    """SGD at lr 10 and 0.1 on the circle: the lr 10 member's loss swings (finite, so it "finished"); the table and
    the member's own part mark it, and the lr 0.1 member is not marked."""
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    at = AppTest.from_file(str(APP), default_timeout=60)
    at.session_state["mb_config"] = RunConfig(train=TrainConfig(optimizer="sgd", lr=0.1, epochs=30))
    at.run()
    at.switch_page(PAGE)
    at.run()
    at.text_input(key="sw_values_0_lr").set_value("0.1, 10").run()
    at.button(key="sw_play").click().run()
    poll(at, lambda v: v is not None and not v.active)
    assert any("1 of 2 models finished with a loss that swings or climbs" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert list(table["status"]) == ["finished", "finished (unstable)"]
    at.selectbox(key="sw_member").set_value(1).run()
    assert any("swings between" in w.value and "or Adam" in w.value for w in at.warning)
    at.button(key="sw_keep").click().run()  # kept as a run: the Runs page says it came from this sweep's member
    (kept,) = open_default_store().list()
    assert kept.origin == "sweep: learning rate 10"
    runs = open_page("pages/runs.py")
    assert runs.dataframe[0].value.loc[kept.run_id, "from"] == "sweep: learning rate 10"


def test_the_controls_and_the_results_share_the_first_screen(at):
    """The controls in a left column, the members' grid, best member and curves in the one beside it (not below
    the form, out of sight at 1440x900)."""
    controls = [c for c in at.columns
                if any(x.key == "sw_play" for x in c.button) and any(x.key == "sw_epochs" for x in c.number_input)]
    results = [c for c in at.columns if any("each member's decision boundary appears here" in i.value for i in c.info)]
    assert controls and results  # each in a column of its own (results below the form are in none)
    assert not any(x.key == "sw_play" for x in results[0].button)
    assert not any("decision boundary appears here" in i.value for i in controls[0].info)
