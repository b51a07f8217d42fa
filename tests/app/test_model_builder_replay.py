"""The Model Builder's epoch line while the replay slider draws an earlier epoch: it names that epoch and shows
that epoch's losses, not the last epoch's."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from playground.runs.store import SqliteRunStore
from tests.app.conftest import APP
from tests.sample_runs import make_trained


@pytest.fixture
def store(tmp_path, monkeypatch) -> SqliteRunStore:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("PLAYGROUND_STORE_URL", raising=False)
    return SqliteRunStore(tmp_path / "data")


def epoch_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Epoch"))


def losses_line(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("train loss"))


def test_the_epoch_line_names_the_replayed_epoch_and_its_losses(store):
    kept = make_trained(seed=1, epochs=6)
    run_id = store.save(kept)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["run"] = run_id
    at.run()
    at.switch_page("pages/model_builder.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert epoch_line(at).startswith("**Epoch 6**")
    assert losses_line(at).startswith(f"train loss {kept.history[-1]['train_loss']:.4f}")

    at.slider(key="mb_replay").set_value(3).run()
    assert not at.exception, [e.value for e in at.exception]
    assert epoch_line(at).startswith("**Epoch 3 / 6 (replay)**")
    assert losses_line(at).startswith(f"train loss {kept.history[2]['train_loss']:.4f}")
    assert "· epoch 3 (replay)" in "\n".join(m.value for m in at.markdown)  # the Output's title agrees

    at.slider(key="mb_replay").set_value(6).run()
    assert epoch_line(at).startswith("**Epoch 6**") and "(replay)" not in epoch_line(at)
