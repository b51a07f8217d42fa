"""Model Builder driven like a user: build, train in the background, watch, test; bad inputs; hand-overs."""

from __future__ import annotations

import time

import pytest

from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.model import TrainedModel
from tests.app.conftest import MB_TABS, open_page, open_tab, picture_svgs, texts

PAGE = "pages/model_builder.py"
DEADLINE_S = 120


def poll_until_done(at, deadline_s: float = DEADLINE_S):
    """Rerun the page (as the fragment's timer would) until the run has ended."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        view = at.session_state["mb_control"].view()
        if not view.active:
            at.run()
            return view
        time.sleep(0.3)
    raise AssertionError("the run did not finish in time")


def charts(at) -> list:
    return at.get("plotly_chart")


def pictures(at) -> list:
    """The live pictures (network, boundary, curves): SVG images and the clickable network picture."""
    return picture_svgs(at)


def pick_dataset(at, name: str) -> None:
    at.button(key=f"mb_ds_{name}").click().run()


@pytest.fixture
def at():
    return open_page(PAGE)


def test_page_shows_data_model_and_the_course_examples(at):
    first = texts(at)
    assert "DataLoader(dataset, batch_size=4, shuffle=True)" in first  # the first tab is open
    assert "class Net(nn.Module):" not in first and "Sequential(" not in first  # closed tabs are not drawn
    shown = first + "\n".join(texts(open_tab(at, label)) for label in MB_TABS[1:])
    for words in ("**Data**", "**Features**", "**Network**", "**Output**",
                  "DataLoader(dataset, batch_size=4, shuffle=True)", "nn.Linear(32, 64)", "[64, 32]", "[64]",
                  "torch.backends.cudnn.deterministic = True", "Sequential(", "Epoch 0", "class Net(nn.Module):"):
        assert words in shown, words
    assert [t.label for t in at.tabs] == ["DataLoader", "Model and layers", "Code (train.py)", "Test", "Save and load",
                                          "History"]
    assert isinstance(at.session_state["mb_config"], RunConfig)
    assert open_tab(at, "Model and layers").dataframe  # the layer table
    assert len(pictures(at)) >= 2  # the untrained model's network and boundary


def test_train_circle_see_curves_metrics_and_confusion_matrix(at):
    at.number_input(key="mb_epochs").set_value(12).run()
    at.button(key="mb_play").click().run()
    view = poll_until_done(at)
    assert view.status == "finished" and view.epoch == 12
    trained = at.session_state["mb_trained"]
    assert isinstance(trained, TrainedModel) and len(trained.history) == 12
    assert trained.test_metrics["accuracy"] >= 0.8
    shown = texts(open_tab(at, "Test"))
    assert "Epoch 12 / 12" in shown and "finished" in shown
    assert "Confusion matrix" in shown and "Per class" in shown
    assert [m.label for m in at.metric][:2] == ["Test accuracy", "Test rows"]
    keys = {c.proto.id.rsplit("-", 1)[-1] for c in charts(at)}
    assert {"mb_confusion"} <= keys
    assert len(pictures(at)) >= 3  # network, boundary and curves
    assert open_tab(at, "Save and load").get("download_button")
    # a rerun does not lose anything
    at.run()
    assert at.session_state["mb_trained"] is trained


def test_regression_shows_mse_mae(at):
    pick_dataset(at, "plane")
    at.number_input(key="mb_epochs").set_value(3).run()
    at.button(key="mb_play").click().run()
    view = poll_until_done(at)
    assert view.status == "finished"
    labels = [m.label for m in open_tab(at, "Test").metric]
    assert "Test MSE" in labels and "Test MAE" in labels


def test_step_then_stop_keeps_the_partial_model(at):
    at.number_input(key="mb_epochs").set_value(2000).run()
    at.number_input(key="mb_batch").set_value(1).run()
    at.select_slider(key="mb_speed").set_value("as fast as it goes").run()
    at.button(key="mb_step").click().run()
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        at.run()
        view = at.session_state["mb_control"].view()
        if view.status == "paused" and view.epoch == 1:
            break
        time.sleep(0.2)
    assert view.epoch == 1 and view.status == "paused"
    at.button(key="mb_play").click().run()
    time.sleep(1.0)
    at.button(key="mb_stop").click().run()
    at.run()
    trained = at.session_state["mb_trained"]
    assert trained.status == "stopped" and len(trained.history) >= 1
    assert "stopped" in texts(at)
    at.button(key="mb_reset").click().run()
    assert "mb_trained" not in at.session_state and "Epoch 0" in texts(at)


def test_bad_settings_get_a_sentence_and_nothing_breaks(at):
    at.slider(key="mb_train_fraction").set_value(0.9).run()
    at.slider(key="mb_val_fraction").set_value(0.3).run()
    assert not at.exception
    assert any("leave some data for the test" in e.value for e in at.error)
    at.slider(key="mb_val_fraction").set_value(0.2).run()
    at.slider(key="mb_train_fraction").set_value(0.6).run()
    assert not at.error
    at.number_input(key="mb_batch").set_value(5000).run()
    assert any("clamped" in i.value for i in at.info)


def test_csv_upload_good_and_bad(at):
    pick_dataset(at, "csv")
    uploader = at.file_uploader[0]
    uploader.set_value(("empty.csv", b"", "text/csv")).run()
    assert not at.exception
    assert any("empty" in e.value for e in at.error)
    at.file_uploader[0].set_value(("nan.csv", b"a,b,label\n1,2,0\n3,,1\n" + b"5,6,0\n" * 30, "text/csv")).run()
    assert any("Row 2, column 'b'" in e.value for e in at.error)
    missing_newline = b"x,y,label\n" + b"\n".join(f"{i % 7},{i % 5},{'hi' if i % 7 > 3 else 'lo'}".encode() for i in range(41))
    at.file_uploader[0].set_value(("no-newline.csv", missing_newline, "text/csv")).run()
    assert sum(at.session_state["mb_control"].data.sizes if at.session_state["mb_control"].data is not None else (0,)) in (0, 41)
    assert at.session_state["mb_config"].data.n_samples == 41  # the rows the reader read, not the newlines
    good = b"x,y,label\n" + b"".join(f"{i % 7},{i % 5},{'hi' if i % 7 > 3 else 'lo'}\n".encode() for i in range(60))
    at.file_uploader[0].set_value(("good.csv", good, "text/csv")).run()
    assert not at.error, [e.value for e in at.error]
    config = at.session_state["mb_config"]
    assert config.data.dataset == "csv" and config.model.in_features == 2 and config.data.csv_target == "label"
    at.radio(key="mb_csv_task").set_value("regression").run()
    assert any("regression" in e.value for e in at.error)


def test_a_setup_handed_over_is_applied_to_the_widgets(at):
    config = RunConfig(
        data=DataConfig(dataset="spiral3", n_samples=300, features=("x1", "x2", "sin_x1"), seed=4),
        model=ModelSpec(in_features=3, hidden=(12, 6, 4), activations=("relu", "tanh", "sigmoid"), out_features=3),
        train=TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, batch_size=32, epochs=7, seed=3),
    )
    at.session_state["mb_apply_config"] = config
    at.run()
    assert at.session_state["mb_config"] == config
    assert at.number_input(key="mb_layers").value == 3 and at.selectbox(key="mb_act_2").value == "sigmoid"


def test_a_loaded_model_is_tested_and_can_be_resumed(at):
    import torch

    from playground.builder.model import build_model

    config = RunConfig(model=ModelSpec(hidden=(8, 8), activations=("tanh", "tanh")), train=TrainConfig(epochs=2))
    torch.manual_seed(0)
    state = build_model(config.model).state_dict()
    history = ({"epoch": 1, "train_loss": 0.7, "val_loss": 0.7, "train_acc": 0.5, "val_acc": 0.5},)
    at.session_state["mb_loaded_model"] = TrainedModel(config=config, state_dict=state, history=history)
    open_tab(at, "Test")
    assert "Model loaded" in texts(at)
    assert [m.label for m in at.metric][0] == "Test accuracy"
    assert not any(e.label.startswith("Code: load") for e in at.expander)  # not in the Test tab ...
    open_tab(at, "Save and load")  # ... but beside the .pt download, naming the file it downloads
    pt_name = f"model-{at.session_state['mb_config'].key()}.pt"
    assert any(e.label.startswith(f"Code: load {pt_name} in plain PyTorch") for e in at.expander)
    assert "load_state_dict(torch.load(" in texts(at)
    open_tab(at, "Test")
    at.checkbox(key="mb_resume").check().run()
    at.button(key="mb_play").click().run()
    view = poll_until_done(at)
    assert [row["epoch"] for row in view.history] == [1, 2, 3]


def test_a_dead_worker_is_said_and_the_session_trains_again(at):
    import os
    import signal

    at.number_input(key="mb_epochs").set_value(2000).run()
    at.number_input(key="mb_batch").set_value(1).run()
    at.button(key="mb_play").click().run()
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        at.run()
        view = at.session_state["mb_control"].view()
        if view.status == "running" and view.info.get("pid"):
            break
        time.sleep(0.2)
    os.kill(view.info["pid"], signal.SIGKILL)
    view = poll_until_done(at)
    assert view.status == "failed"
    assert any("stopped unexpectedly" in e.value for e in at.error)
    at.number_input(key="mb_epochs").set_value(2).run()
    at.number_input(key="mb_batch").set_value(10).run()
    at.button(key="mb_play").click().run()
    assert poll_until_done(at).status == "finished"


def test_the_first_load_has_no_code_block_and_the_dataloader_batch_and_code_open_on_a_click(at):
    """A code block makes the browser load Streamlit's syntax highlighter (about 0.5 s before a second visitor saw
    the control bar, bench/RESULTS.md): the first screen has none; the DataLoader tab's printed batch and its code
    are one click away, and drawn once opened."""
    assert len(at.code) == 0
    shown = texts(at)
    assert "DataLoader(dataset, batch_size=4, shuffle=True)" in shown and "x [4, 2] and y [4]" in shown
    assert [e.label for e in at.expander][:2] == ["Its first batch, printed", "Code: Dataset and DataLoader (runs as shown)"]
    at.session_state["mb_dl_batch"] = True
    at.run()
    printed = "\n".join(c.value for c in at.code)
    assert "x = tensor([[" in printed and "# x.shape = [4, 2]" in printed and "# y.shape = [4]" in printed
    at.session_state["mb_dl_code"] = True
    at.run()
    assert any("DataLoader(" in c.value and "batch_size" in c.value for c in at.code)
    assert not at.exception


def test_a_worker_is_warmed_once_the_page_is_drawn_not_before(monkeypatch):
    """The page warms a training worker (so Play does not wait for Python and torch to start) as its last step:
    started first, its CPU competed with a server's first visitor's page (bench/startup.py)."""
    import playground.execution.server as server
    from views import model_builder_io

    order: list[str] = []
    real_pool, real_sync = server.get_executor(), model_builder_io.sync_url

    class Recording:
        def __getattr__(self, name):
            return getattr(real_pool, name)

        def prewarm(self, count=1):
            order.append(f"prewarm {count}")
            real_pool.prewarm(count)

    def sync_url(config):
        order.append("url")
        real_sync(config)

    monkeypatch.setattr(server, "get_executor", Recording)
    monkeypatch.setattr(model_builder_io, "sync_url", sync_url)
    at = open_page(PAGE)
    assert not at.exception
    assert at.get("image"), "the pictures are drawn"
    assert order == ["url", "prewarm 1"], order  # once, after the last thing the page draws
    assert len(real_pool.workers) >= 1


def test_every_neuron_of_the_network_shows_a_picture_the_output_ones_too():
    """The default classifier's network: a picture in each input, hidden and output node (the output nodes used to
    be empty boxes for a model with two outputs), the output ones in their classes' colours."""
    import base64
    import io
    import xml.etree.ElementTree as ElementTree

    import numpy as np
    from PIL import Image

    from playground.builder.pictures import CLASS_COLOURS

    at = open_page(PAGE)
    svgs = picture_svgs(at)
    network = [s for s in svgs if ">output<" in s and ">layer 1<" in s]
    assert len(network) == 1
    spec = at.session_state["mb_config"].model
    images = ElementTree.fromstring(network[0]).findall(".//{http://www.w3.org/2000/svg}image")
    assert spec.widths[-1] == 2 and len(images) == sum(spec.widths)  # inputs, hidden and the 2 outputs
    assert "its class's probability" in texts(at)
    for k, image in enumerate(images[-2:]):  # the output column is drawn last: each is white to its class's colour
        href = image.get("href")
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1]))).convert("RGB"), float)
        colour = np.array([int(CLASS_COLOURS[k][i : i + 2], 16) for i in (1, 3, 5)], float)
        share = (255 - pixels) / (255 - colour)  # how far from white towards the colour, each channel
        assert np.abs(share - share.mean(axis=2, keepdims=True)).max() < 0.05
        assert 0.05 < share.mean() < 0.95  # an untrained model: neither class sure anywhere


def test_a_rate_too_large_is_said_beside_the_curves_with_the_fix(at):
    """SGD at lr 10 on the circle: the loss swings (finite) and the run ends "finished"; the page says it swings
    and what to try. A healthy run says nothing of the kind."""
    at.select_slider(key="mb_speed").set_value("as fast as it goes").run()
    at.number_input(key="mb_epochs").set_value(30).run()
    at.selectbox(key="mb_optimizer").set_value("sgd").run()
    at.select_slider(key="mb_lr").set_value(10.0).run()
    at.button(key="mb_play").click().run()
    assert poll_until_done(at).status == "finished"
    said = [w.value for w in at.warning]
    assert any("swings between" in w and "smaller learning rate (try 1)" in w and "Adam" in w for w in said), said
    at.selectbox(key="mb_optimizer").set_value("adam").run()
    at.select_slider(key="mb_lr").set_value(0.03).run()
    at.button(key="mb_play").click().run()
    poll_until_done(at)
    assert not any("swings between" in w.value or "rose" in w.value for w in at.warning)


def count_bar_draws(monkeypatch) -> list:
    """Each run of the page draws the control bar once, first: the list grows by one a run (reruns included)."""
    from views import model_builder_bar

    runs: list = []
    real = model_builder_bar.draw

    def draw():
        runs.append(model_builder_bar.STATE.get(model_builder_bar.PRESSED_KEY))
        return real()

    monkeypatch.setattr(model_builder_bar, "draw", draw)
    return runs


def test_play_starts_the_run_and_draws_it_in_the_press_run_itself(at, monkeypatch):
    """Play's first epoch comes sooner when the run that takes the press also draws the started run (Pause, the
    epoch line polling at the training rate) instead of a second run of the whole page to redraw the buttons."""
    runs = count_bar_draws(monkeypatch)
    at.number_input(key="mb_epochs").set_value(3).run()
    runs.clear()
    at.button(key="mb_play").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(runs) == 1, runs  # one run of the page, no rerun
    assert at.button(key="mb_pause").label == "Pause"  # drawn for the run it started
    view = at.session_state["mb_control"].view()
    assert view is not None and view.active or view.status == "finished"
    assert poll_until_done(at).status == "finished"
    assert "Epoch 3 / 3" in texts(at)


def test_a_press_that_cannot_start_a_run_says_why_and_the_buttons_show_play_again(at, monkeypatch):
    """The buttons are drawn for the run a Play press will start; when it cannot start (the server refuses it), the
    page draws them again for no run, and the refusal is still said after that rerun."""
    import playground.execution.server as server
    from playground.errors import PlaygroundError

    class Refusing:
        def submit_job(self, payload, owner, history=None):
            raise PlaygroundError("The server is busy: try again in a minute.", "queue full (test)")

        def __getattr__(self, name):
            return getattr(real, name)

    real = server.get_executor()
    monkeypatch.setattr(server, "get_executor", Refusing)
    runs = count_bar_draws(monkeypatch)
    at.button(key="mb_play").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(runs) == 2, runs  # drawn for the run Play would start, then again for none
    assert [e.value for e in at.error if "busy" in e.value] == ["The server is busy: try again in a minute."]
    assert r"queue full \(test\)" in [c.value for c in at.caption]  # the library's words, escaped as text
    assert at.button(key="mb_play").label == "Play" and not at.button(key="mb_play").disabled
    assert at.session_state["mb_control"].view() is None
    at.run()  # the next run of the page no longer says it
    assert not [e for e in at.error if "busy" in e.value]
