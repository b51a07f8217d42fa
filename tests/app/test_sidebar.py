"""The sidebar (app.py): torch's version and the devices are named on every page, though app.py imports torch
only after the page has drawn (so a page's first paint does not wait for it)."""

from __future__ import annotations

import pytest
import torch

from tests.app.conftest import open_page


@pytest.mark.parametrize("page", ["app.py", "pages/model_builder.py", "pages/runs.py"])
def test_the_sidebar_names_torch_and_the_devices(page):
    at = open_page(page, timeout=120)
    captions = [c.value for c in at.sidebar.caption]
    assert f"torch {torch.__version__}" in captions
    assert "Device: CPU" in captions
    assert at.sidebar.number_input(key="global_seed").value == 0
    at.run()  # and again on a rerun
    assert [c.value for c in at.sidebar.caption] == captions
