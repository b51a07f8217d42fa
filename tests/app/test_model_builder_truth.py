"""The Model Builder's view tells the truth: a kept run opened again shows as finished with its id, curves and
test results; Train again trains the same setup anew; a learning rate changed while it trains applies at once
and is recorded; other settings changed meanwhile are said to apply to the next run; the global seed seeds the
page; a link's odd widths are named as widths."""

from __future__ import annotations

import time

from playground.runs.default_store import open_default_store
from playground.runs.owners import PERSONAL_OWNER
from tests.app.conftest import open_page, open_tab, picture_svgs, texts

PAGE = "pages/model_builder.py"


def run_until(at, condition, deadline_s: float = 120):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        view = at.session_state["mb_control"].view()
        if condition(view):
            at.run()
            return view
        time.sleep(0.2)
    raise AssertionError("timed out")


def fast(at) -> None:
    at.select_slider(key="mb_speed").set_value("as fast as it goes").run()


def test_a_finished_setup_reopens_as_that_run_and_train_again_trains_it_anew():
    at = open_page(PAGE, timeout=120)
    fast(at)
    at.number_input(key="mb_epochs").set_value(5).run()
    at.button(key="mb_play").click().run()
    first = run_until(at, lambda v: v is not None and not v.active)
    assert first.status == "finished"
    run_id = at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]
    assert f"run {run_id}" in texts(at)  # the link and the status line name the kept run
    at.button(key="mb_reset").click().run()
    assert "Epoch 0" in texts(at)
    at.button(key="mb_play").click().run()  # the same setup again: the kept run opens, as itself
    shown = texts(at)
    # said in the status line, where the learner looks (not only in a toast that vanishes)
    assert "already ran" in shown and f"Epoch 5** · finished · kept run {run_id} from " in shown
    assert "not trained again: press Train again for a new run" in shown
    assert [m.label for m in open_tab(at, "Test").metric][:1] == ["Test accuracy"]  # its test results
    assert len(picture_svgs(at)) >= 3  # its curves, boundary and network
    at.button(key="mb_train_again").click().run()
    again = run_until(at, lambda v: v is not None and not v.active)
    assert again.status == "finished" and again.id != first.id  # a new run of the very same setup
    at.run()
    new_id = at.query_params["run"][0] if isinstance(at.query_params["run"], list) else at.query_params["run"]
    assert new_id != run_id and f"run {new_id}" in texts(at)  # kept as a new run, with its own id
    assert "not trained again" not in texts(at)
    kept = {s.run_id: s for s in open_default_store().list(PERSONAL_OWNER)}
    assert {run_id, new_id} <= set(kept)  # both kept
    runs = open_page("pages/runs.py")
    table = runs.dataframe[0].value
    assert {run_id, new_id} <= set(table["run id"])  # told apart on the Runs page: by id, and by name
    assert table.set_index("run id").loc[new_id, "name"] != table.set_index("run id").loc[run_id, "name"]


def test_a_learning_rate_changed_while_it_trains_is_applied_and_recorded():
    at = open_page(PAGE, timeout=120)
    at.number_input(key="mb_epochs").set_value(400).run()
    at.select_slider(key="mb_speed").set_value("30 / s").run()
    at.button(key="mb_play").click().run()
    run_until(at, lambda v: v is not None and v.epoch >= 2)
    at.select_slider(key="mb_lr").set_value(0.1).run()
    at.number_input(key="mb_batch").set_value(20).run()  # not live: said to apply to the next run
    view = run_until(at, lambda v: v is not None and v.lr_changes)
    assert view.lr_changes[0][1] == 0.1
    shown = texts(at)
    assert "Learning rate changed while it trained" in shown and "apply to the next run" in shown
    assert "batch size" in shown
    at.button(key="mb_stop").click().run()
    run_until(at, lambda v: v is not None and not v.active)
    trained = at.session_state["mb_trained"]
    assert trained.config.train.lr_changes == view.lr_changes  # recorded with the run: train.py repeats it
    assert "LR_CHANGES = {" in texts(open_tab(at, "Code (train.py)"))


def test_the_global_seed_seeds_the_model_builder():
    at = open_page(PAGE, timeout=120)
    at.number_input(key="global_seed").set_value(7).run()
    config = at.session_state["mb_config"]
    assert config.train.seed == 7 and config.data.seed == 7


def test_a_links_odd_widths_are_named_as_widths():
    at = open_page(PAGE, timeout=120)
    at.query_params["layers"] = "999,1"
    at.run()
    notes = [w.value for w in at.warning]
    assert any("width of a hidden layer 999" in n for n in notes), notes
    assert at.session_state["mb_config"].model.hidden == (256, 1)


def test_where_there_is_a_gpu_a_small_single_run_still_defaults_to_the_cpu_and_says_why(monkeypatch):
    import playground.device

    monkeypatch.setattr(playground.device, "cuda_available", lambda: True)
    at = open_page(PAGE, timeout=120)
    assert at.session_state["mb_config"].train.device == "cpu"
    at.run()
    assert any("trains on the CPU even though" in c.value for c in at.caption), [c.value for c in at.caption][:5]


def test_the_control_bar_drawn_before_torch_follows_the_setup_in_the_same_interaction():
    """The bar is drawn first, from the previous run's state (views/model_builder_bar.py); a change that makes the
    setup untrainable disables Play in the same interaction, and a fix enables it again."""
    at = open_page(PAGE, timeout=120)
    assert not at.button(key="mb_play").disabled and not at.button(key="mb_train_again").disabled
    at.slider(key="mb_train_fraction").set_value(0.9).run()  # 0.9 training + 0.2 validation: no rows left to test on
    assert at.session_state["mb_ready"] is False
    assert at.button(key="mb_play").disabled and at.button(key="mb_step").disabled
    assert at.button(key="mb_train_again").disabled
    assert not at.exception
    at.slider(key="mb_train_fraction").set_value(0.6).run()
    assert not at.button(key="mb_play").disabled and not at.button(key="mb_step").disabled


def test_the_speed_is_kept_across_a_visit_to_another_page():
    at = open_page(PAGE, timeout=120)
    at.select_slider(key="mb_speed").set_value("3 / s").run()
    at.switch_page("app.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.select_slider(key="mb_speed").value == "3 / s"


def test_pause_replaces_play_in_the_same_interaction_as_the_click():
    at = open_page(PAGE, timeout=120)
    at.select_slider(key="mb_speed").set_value("1 / s").run()
    at.button(key="mb_play").click().run()
    assert not at.exception, [e.value for e in at.exception]
    keys = {b.key for b in at.button}
    assert "mb_pause" in keys and "mb_play" not in keys
    assert not at.button(key="mb_stop").disabled
    at.button(key="mb_stop").click().run()
