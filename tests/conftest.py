"""Every test gets its own empty run store, so no test sees runs kept by another (or by a user's app)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_run_store(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "playground-data"))
