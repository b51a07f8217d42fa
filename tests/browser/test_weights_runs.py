"""Weights, runs and sharing in a real browser: a kept run's weights download and load with plain
``torch.load``; uploads go back through the page; the Runs page survives a server restart; a shared
link opens the same setup in a second browser context."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch

from playground.model import build_model
from playground.run_store import SqliteRunStore
from tests.browser.conftest import ARTIFACTS, free_port, open_page, start_app, stop_app, wait_idle
from tests.sample_runs import make_trained

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def kept(tmp_path_factory):
    """A data folder with two kept runs, for a server of this module's own."""
    data_dir = tmp_path_factory.mktemp("kept-runs")
    store = SqliteRunStore(data_dir)
    first = make_trained(seed=1, epochs=12)
    second = make_trained(seed=2, epochs=12, lr=0.1, optimizer="sgd")
    return data_dir, {store.save(first): first, store.save(second): second}


@pytest.fixture(scope="module")
def runs_url(kept, chromium_path):
    data_dir, _ = kept
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = start_app(port, data_dir, ARTIFACTS / "server-runs.log")
    yield f"http://127.0.0.1:{port}"
    stop_app(proc)


@pytest.fixture
def tab(browser, runs_url):
    context = browser.new_context(viewport={"width": 1440, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def download(page, key: str) -> bytes:
    with page.expect_download() as info:
        page.locator(f".st-key-{key} button").click()
    path = info.value.path()
    return Path(path).read_bytes()


def test_runs_page_lists_kept_runs_and_downloads_loadable_weights(tab, runs_url, kept):
    _, runs = kept
    open_page(tab, runs_url, "runs")
    tab.get_by_text("Kept runs").wait_for()
    tab.get_by_text("2 of 2 runs shown").wait_for()
    run_id = next(iter(runs))
    open_page(tab, runs_url, f"runs?run={run_id}")
    tab.get_by_text(f"Run {run_id} was opened from the link").wait_for()

    data = download(tab, "runs_download_pt")
    state = torch.load(io.BytesIO(data), weights_only=True)  # plain torch.load, as the course does
    model = build_model(runs[run_id].config.model)
    model.load_state_dict(state)
    model.eval()
    x = torch.randn(32, runs[run_id].config.model.in_features)
    with torch.no_grad():
        assert torch.equal(model(x), runs[run_id].build()(x))

    script = download(tab, "runs_download_train_py").decode()
    assert "class Net(nn.Module):" in script and "torch.save(model.state_dict(), ARGS.out)" in script
    assert tab.locator('[data-testid="stException"]').count() == 0


def test_runs_page_overlays_curves(tab, runs_url):
    open_page(tab, runs_url, "runs")
    tab.wait_for_selector(".js-plotly-plot .scatterlayer .trace")
    assert tab.locator(".js-plotly-plot").count() == 2  # loss and accuracy
    tab.get_by_text("Highlighted rows differ").wait_for()


def test_a_bad_run_link_is_a_sentence(tab, runs_url):
    open_page(tab, runs_url, "runs?run=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    tab.get_by_text("That is not a run id").wait_for()
    assert tab.locator('[data-testid="stException"]').count() == 0
    wait_idle(tab)


def test_kept_runs_survive_a_server_restart(browser, kept, chromium_path):
    data_dir, runs = kept
    for attempt in range(2):  # start, stop, start again on the same data folder
        port = free_port()
        proc = start_app(port, data_dir, ARTIFACTS / f"server-restart-{attempt}.log")
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1100})
            page = context.new_page()
            page.set_default_timeout(60_000)
            open_page(page, f"http://127.0.0.1:{port}", "runs")
            page.get_by_text(f"{len(runs)} of {len(runs)} runs shown").wait_for()
            context.close()
        finally:
            stop_app(proc)
