"""The Model Builder's "Save and load" panel, driven like a user in a host script that stands in for the
page: a finished run is kept, the weights download, a file uploads back and loads, a bad file is a
sentence, a spec that differs offers to rebuild, and a kept setup or ``?run=<id>`` opens the kept run.
"""

from __future__ import annotations

import io
import os

import pytest
import torch
from streamlit.testing.v1 import AppTest

from playground.builder.model import TrainedModel
from playground.runs import export
from playground.runs.store import SqliteRunStore
from tests.app.conftest import cut_short, texts
from tests.sample_runs import SPEC, make_trained
from views import model_builder_io

HOST = """
import streamlit as st
from views import model_builder_io
from tests.sample_runs import make_trained

config = st.session_state.get("host_config") or make_trained(seed=1).config
model_builder_io.render(st.session_state.get("mb_trained"), config)
"""


@pytest.fixture
def store(tmp_path, monkeypatch) -> SqliteRunStore:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    return SqliteRunStore(tmp_path / "data")


def host(trained: TrainedModel | None = None, config=None) -> AppTest:
    at = AppTest.from_string(HOST, default_timeout=60)
    if trained is not None:
        at.session_state["mb_trained"] = trained
    if config is not None:
        at.session_state["host_config"] = config
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_a_finished_run_is_kept_once(store):
    trained = make_trained(seed=1)
    at = host(trained)
    assert "was kept as run" in texts(at)
    assert len(store.list()) == 1
    at.run()  # a rerun (a tab opened, say) does not keep it twice, and still says it was kept
    assert len(store.list()) == 1 and "was kept as run" in texts(at)
    other = host(trained)  # another session with the very same run finds it already kept
    assert len(store.list()) == 1 and "Kept in the run store as run" in texts(other)


def test_downloads_are_offered_only_with_weights(store):
    at = host(None)
    buttons = {b.key: b for b in at.get("download_button")}
    assert {"mb_io_download_pt", "mb_io_download_safetensors", "mb_io_download_spec",
            "mb_io_download_train_py"} <= set(buttons)
    assert not buttons["mb_io_download_train_py"].proto.disabled  # the script needs only the setup
    assert all(buttons[k].proto.disabled for k in ("mb_io_download_pt", "mb_io_download_safetensors"))
    assert "Train a model (or load weights)" in texts(at)
    at = host(make_trained(seed=1))
    buttons = {b.key: b for b in at.get("download_button")}
    assert not buttons["mb_io_download_pt"].proto.disabled


def test_uploading_weights_loads_them(store):
    trained = make_trained(seed=1)
    other = make_trained(seed=7)  # same architecture, other weights
    at = host(trained)
    at.file_uploader(key="mb_io_upload").upload("other.pt", export.to_pt_bytes(other)).run()
    assert not at.exception
    assert "Loaded other.pt into the current model" in texts(at)
    loaded = at.session_state["mb_loaded_model"]
    assert same_weights(loaded.state_dict, other.state_dict) and loaded.config == trained.config
    # The loaded model predicts as the original does.
    x = torch.randn(4, SPEC.in_features)
    assert torch.equal(loaded.build()(x), other.build()(x))


def test_uploading_a_safetensors_of_the_same_setup_loads_it_with_its_statistics(store):
    trained = make_trained(seed=1)
    at = host(None)
    at.file_uploader(key="mb_io_upload").upload("m.safetensors", export.to_safetensors_bytes(trained)).run()
    loaded = at.session_state["mb_loaded_model"]
    assert loaded.standardization == trained.standardization and loaded.classes == trained.classes


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("empty.pt", b"", "empty"),
        ("half.pt", None, "not a complete PyTorch checkpoint"),
        ("notes.txt.pt", b"hello, not weights", "not a complete PyTorch checkpoint"),
        ("model.pt", "whole", "whole model object"),
    ],
)
def test_a_bad_upload_is_a_sentence_and_keeps_the_model(store, name, data, expected):
    trained = make_trained(seed=1)
    if data is None:
        full = export.to_pt_bytes(trained)
        data = full[: len(full) // 2]
    elif data == "whole":
        buffer = io.BytesIO()
        torch.save(trained.build(), buffer)
        data = buffer.getvalue()
    at = host(trained)
    at.file_uploader(key="mb_io_upload").upload(name, data).run()
    assert not at.exception
    assert at.error and expected in at.error[0].value
    assert "mb_loaded_model" not in at.session_state
    at.run()  # the sentence stays while the file is in the uploader
    assert at.error and expected in at.error[0].value


def test_a_hostile_pickle_is_refused_and_never_runs(store, tmp_path):
    sentinel = tmp_path / "pwned"

    class RunsACommand:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    buffer = io.BytesIO()
    torch.save({"0.weight": RunsACommand()}, buffer)
    at = host(make_trained(seed=1))
    at.file_uploader(key="mb_io_upload").upload("evil.pt", buffer.getvalue()).run()
    assert at.error and "tries to run code" in at.error[0].value
    assert not sentinel.exists()


def test_a_pt_of_another_architecture_says_how_it_does_not_fit(store):
    from playground.builder.config import ModelSpec

    wide = ModelSpec(in_features=2, hidden=(16, 4), activations=("tanh", "relu"), out_features=3)
    at = host(make_trained(seed=1))
    at.file_uploader(key="mb_io_upload").upload("wide.pt", export.to_pt_bytes(make_trained(wide))).run()
    assert "0.weight has shape [16, 2] but the model expects [8, 2]" in at.error[0].value


def test_a_safetensors_with_another_spec_offers_to_rebuild(store):
    from playground.builder.config import ModelSpec

    wide = make_trained(ModelSpec(in_features=2, hidden=(16,), activations=("relu",), out_features=3), seed=3)
    at = host(make_trained(seed=1))
    at.file_uploader(key="mb_io_upload").upload("wide.safetensors", export.to_safetensors_bytes(wide)).run()
    assert "carries a setup that differs" in texts(at) and "hidden layers" in texts(at)
    at.button(key="mb_io_rebuild").click().run()
    assert at.session_state["mb_apply_config"] == wide.config
    assert same_weights(at.session_state["mb_loaded_model"].state_dict, wide.state_dict)
    assert "Rebuilt the model from wide.safetensors" in texts(at)


def test_a_spec_json_offers_to_rebuild_the_setup(store):
    other = make_trained(seed=5)
    at = host(make_trained(seed=1))
    at.file_uploader(key="mb_io_upload").upload("spec.json", export.spec_json(other).encode()).run()
    assert "seed" in texts(at)
    at.button(key="mb_io_rebuild").click().run()
    assert at.session_state["mb_apply_config"] == other.config


def test_a_setup_that_already_ran_offers_the_kept_run(store):
    kept = make_trained(seed=1)
    run_id = store.save(kept)
    at = host(None)  # nothing trained in this session, same setup as the kept run
    assert f"This setup and seed already ran (run {run_id})" in texts(at)
    at.button(key="mb_io_open_kept").click().run()
    assert same_weights(at.session_state["mb_trained"].state_dict, kept.state_dict)
    assert at.session_state["mb_apply_config"] == kept.config
    assert f"Opened the kept run {run_id}" in texts(at)
    assert len(store.list()) == 1  # opening it does not keep it again


def test_a_run_opens_from_the_url(store):
    kept = make_trained(seed=2)
    run_id = store.save(kept)
    at = AppTest.from_string(HOST, default_timeout=60)
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception
    assert at.session_state["mb_apply_config"] == kept.config
    assert f"Opened run {run_id} from the link" in texts(at)


@pytest.mark.parametrize("bad", ["0123456789ab", "'; DROP TABLE runs; --"])
def test_a_bad_run_in_the_url_is_a_sentence(store, bad):
    at = AppTest.from_string(HOST, default_timeout=60)
    at.query_params["run"] = bad
    at.run()
    assert not at.exception and at.error
    assert "mb_apply_config" not in at.session_state


def test_an_unwritable_store_says_runs_will_not_be_kept(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(blocker / "data"))
    at = host(make_trained(seed=1))
    assert "runs will not be kept" in texts(at)


URL_HOST = """
import json
import streamlit as st
from views import model_builder_io
from playground.builder.config import RunConfig

current = st.session_state.get("host_current") or RunConfig()
from_link = model_builder_io.read_url(current)
if from_link is not None:
    current = from_link
if st.button("seed + 1", key="host_bump"):
    current = current.with_train(seed=current.train.seed + 1)
st.session_state["host_current"] = current
model_builder_io.sync_url(current)
st.text(json.dumps(current.to_dict(), sort_keys=True))
"""


def shown_config(at):
    import json

    from playground.builder.config import RunConfig

    return RunConfig.from_dict(json.loads(at.text[-1].value))


def test_a_shared_link_sets_the_setup_and_notes_what_it_changed(store):
    at = AppTest.from_string(URL_HOST, default_timeout=60)
    at.query_params.update({"dataset": "spiral3", "noise": "5", "lr": "0.1", "layers": "6,6,6", "bogus": "1"})
    at.run()
    assert not at.exception
    config = shown_config(at)
    assert config.data.dataset == "spiral3" and config.model.out_features == 3
    assert config.data.noise == 1.0 and config.train.lr == 0.1 and config.model.hidden == (6, 6, 6)
    warning = at.warning[0].value
    assert "noise 5 is above the largest, 1" in warning and "'bogus' is not one the playground knows" in warning
    at.run()  # the same link, read once: no second warning, setup kept
    assert not at.warning and shown_config(at) == config


def test_the_url_follows_the_setup(store):
    from playground.runs import url_state

    at = AppTest.from_string(URL_HOST, default_timeout=60)
    at.run()
    at.button(key="host_bump").click().run()
    config = shown_config(at)
    assert config.train.seed == 1
    assert {k: at.query_params[k][-1] if isinstance(at.query_params[k], list) else at.query_params[k]
            for k in at.query_params} == url_state.encode(config)
    # A link copied now opens the same setup in a new session.
    other = AppTest.from_string(URL_HOST, default_timeout=60)
    other.query_params.update(url_state.encode(config))
    other.run()
    assert shown_config(other) == config and not other.warning


def test_a_hostile_link_never_breaks_the_page(store):
    at = AppTest.from_string(URL_HOST, default_timeout=60)
    at.query_params.update({"lr": "1" * 5000, "epochs": "-1e999", "features": ",,,", "<b>": "x", "run": "../../x"})
    at.run()
    assert not at.exception
    assert shown_config(at).train.lr == 0.03  # unchanged


def test_a_run_already_in_the_store_is_not_kept_twice(store):
    kept = make_trained(seed=3)
    run_id = store.save(kept)
    at = host(kept)  # e.g. reopened from the Runs page, or a reload of the same run
    assert f"Kept in the run store as run {run_id}" in texts(at)
    assert len(store.list()) == 1


def test_a_kept_run_is_named_in_the_link_so_a_reload_brings_it_back(store):
    trained = make_trained(seed=1)
    at = host(trained)
    run_id = store.list()[0].run_id
    assert at.query_params["run"] in (run_id, [run_id])
    # A reload: a new session on the same link opens that very run.
    again = AppTest.from_string(HOST, default_timeout=60)
    again.query_params["run"] = run_id
    again.run()
    assert same_weights(again.session_state["mb_trained"].state_dict, trained.state_dict)
    assert len(store.list()) == 1


def test_a_gpu_trained_file_of_the_same_setup_loads_on_this_machine(store):
    here = make_trained(seed=1)
    on_gpu = TrainedModel(**{**here.__dict__, "config": here.config.with_train(device="cuda:0"), "device": "cuda:0"})
    at = host(None, config=here.config)
    at.file_uploader(key="mb_io_upload").upload("gpu.safetensors", export.to_safetensors_bytes(on_gpu)).run()
    assert "Loaded gpu.safetensors into the current model" in texts(at)
    assert at.session_state["mb_trained"].config == here.config  # the device stays this machine's


# A click whose run is cut short by the next interaction (a tab clicked at once, say) before the tab's code is reached
# still acts: the press is kept in the session (views.widgets.record_press) and taken just before acting on it.


def test_open_the_kept_run_cut_short_by_the_next_click_still_opens_it(store, monkeypatch):
    kept = make_trained(seed=1)
    run_id = store.save(kept)
    at = host(None)
    fired = cut_short(monkeypatch, model_builder_io, "open_default_store")
    at.button(key="mb_io_open_kept").click().run()
    assert fired and not at.exception
    assert same_weights(at.session_state["mb_trained"].state_dict, kept.state_dict)
    assert f"Opened the kept run {run_id}" in texts(at)


@pytest.mark.parametrize("button", ["mb_io_rebuild", "mb_io_load_into_current"])
def test_the_choice_for_a_differing_file_cut_short_by_the_next_click_still_acts(store, monkeypatch, button):
    other = make_trained(seed=5)  # the same architecture, another seed: both choices are offered
    at = host(make_trained(seed=1))
    at.file_uploader(key="mb_io_upload").upload("other.safetensors", export.to_safetensors_bytes(other)).run()
    assert "carries a setup that differs" in texts(at)
    fired = cut_short(monkeypatch, model_builder_io, "open_default_store")
    at.button(key=button).click().run()
    assert fired and not at.exception
    assert same_weights(at.session_state["mb_loaded_model"].state_dict, other.state_dict)
    if button == "mb_io_rebuild":
        assert at.session_state["mb_apply_config"] == other.config
    assert "carries a setup that differs" not in texts(at)


def test_a_press_with_nothing_left_to_act_on_is_dropped(store):
    at = host(make_trained(seed=1))
    at.session_state["mb_io_pressed"] = "rebuild"  # no file waits for a choice
    at.run()
    assert not at.exception and "mb_io_pressed" not in at.session_state


def test_a_run_the_store_could_not_take_is_not_said_kept_and_is_kept_again_once_it_answers(store, monkeypatch):
    from playground.errors import PlaygroundError

    real_save = SqliteRunStore.save
    down = {"now": True}

    def save(self, trained, owner="local"):
        if down["now"]:  # the store is restarting: the commit never happened
            raise PlaygroundError("The run could not be kept: the run index could not be written.")
        return real_save(self, trained, owner)

    monkeypatch.setattr(SqliteRunStore, "save", save)
    at = host(make_trained(seed=1))
    assert "was kept as run" not in texts(at) and model_builder_io.NOT_KEPT_YET in texts(at)
    assert store.list() == []
    down["now"] = False  # the store is back
    at.button(key="mb_io_keep_again").click().run()
    assert "was kept as run" in texts(at) and model_builder_io.NOT_KEPT_YET not in texts(at)
    assert len(store.list()) == 1


def test_a_store_that_cannot_be_read_leaves_the_panel_drawn(store, monkeypatch):
    from playground.errors import PlaygroundError

    def find(self, config_key, owner="local"):
        raise PlaygroundError("The run database at postgresql://x@127.0.0.1:5433/x cannot be read.")

    monkeypatch.setattr(SqliteRunStore, "find", find)
    config = make_trained(seed=2).config
    at = host(make_trained(seed=1), config=config)  # another setup than the run shown: "already ran?" asks the store
    assert not at.exception
    assert model_builder_io.open_kept_run_instead(config) is False  # Train trains (kept once the store is back)
