"""Weights, runs and sharing in a real browser: a kept run's weights download and load with plain
``torch.load``; uploads go back through the page; the Runs page survives a server restart; a shared
link opens the same setup in a second browser context."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch

from playground.builder.model import build_model
from playground.runs.store import SqliteRunStore
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


class RunsServer:
    """This module's own server, on the data folder of ``kept``; ``restart`` stops it and starts a new one there."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.starts = 0
        self.proc = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.proc = start_app(port, self.data_dir, ARTIFACTS / f"server-runs-{self.starts}.log")
        self.starts += 1
        self.url = f"http://127.0.0.1:{port}"

    def restart(self) -> None:
        stop_app(self.proc)
        self.start()


@pytest.fixture(scope="module")
def runs_server(kept, chromium_path):
    data_dir, _ = kept
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    server = RunsServer(data_dir)
    server.start()
    yield server
    stop_app(server.proc)


@pytest.fixture
def runs_url(runs_server):
    return runs_server.url


@pytest.fixture
def tab(browser, runs_url):
    context = browser.new_context(viewport={"width": 1440, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    context.close()


def download(page, key: str) -> bytes:
    with page.expect_download() as info:
        page.locator(f".st-key-{key} button").first.click()  # a button with help has a nested one
    path = info.value.path()
    return Path(path).read_bytes()


def test_runs_page_lists_kept_runs_and_downloads_loadable_weights(tab, runs_url, kept):
    _, runs = kept
    run_id = next(iter(runs))
    open_page(tab, runs_url, f"runs?run={run_id}")  # the plain /runs lists them too: the restart test below
    tab.get_by_text("Kept runs").wait_for()
    tab.get_by_text("2 of 2 runs shown").wait_for()
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
    assert "class Net(nn.Module):" in script and "torch.save(model.state_dict(), args.out)" in script
    assert tab.locator('[data-testid="stException"]').count() == 0


def test_the_spec_json_s_load_code_loads_the_files_as_the_page_names_them(tab, runs_url, kept, tmp_path):
    """The three downloads saved under the names the browser suggests; the spec's load_code, run as it stands
    where the project cannot be imported, loads the .pt (and, by its commented line, the .safetensors) strictly."""
    import json

    from tests.shown_code import run_shown

    _, runs = kept
    run_id = next(iter(runs))
    open_page(tab, runs_url, f"runs?run={run_id}")
    tab.get_by_text(f"Run {run_id} was opened from the link").wait_for()
    names = {}
    for key in ("runs_download_pt", "runs_download_safetensors", "runs_download_json"):
        with tab.expect_download() as info:
            tab.locator(f".st-key-{key} button").first.click()
        names[key] = info.value.suggested_filename
        info.value.save_as(tmp_path / names[key])
    code = "\n".join(json.loads((tmp_path / names["runs_download_json"]).read_text())["load_code"]) + "\n"
    pt_line = next(line for line in code.splitlines() if line.startswith("state_dict = torch.load("))
    safetensors_line = next(line for line in code.splitlines() if line.startswith("# from safetensors"))
    assert names["runs_download_pt"] in pt_line and names["runs_download_safetensors"] in safetensors_line
    printed = run_shown({"pt": code + "print(sorted(model.state_dict()))\n",
                         "safetensors": code.replace(pt_line, safetensors_line.removeprefix("# "))
                         + "print(sorted(model.state_dict()))\n"}, tmp_path)
    assert printed["pt"] == printed["safetensors"] == f"{sorted(runs[run_id].state_dict)}\n"


def test_runs_page_overlays_curves(tab, runs_url):
    open_page(tab, runs_url, "runs")
    for metric in ("loss", "acc"):  # the overlaid curves: a picture each, loaded and decoded
        tab.wait_for_function(f"() => {{ const i = document.querySelector('.st-key-runs_chart_{metric} img'); "
                              "return !!(i && i.complete && i.naturalWidth > 0); }")
    tab.get_by_text("Highlighted rows differ").wait_for()


def test_a_bad_run_link_is_a_sentence(tab, runs_url):
    open_page(tab, runs_url, "runs?run=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    tab.get_by_text("That is not a run id").wait_for()
    assert tab.locator('[data-testid="stException"]').count() == 0
    wait_idle(tab)


def test_kept_runs_survive_a_server_restart(tab, runs_server, kept):
    """The module's server lists the kept runs, is stopped, and a new server on the same data folder lists them."""
    _, runs = kept
    for restarted in (False, True):
        if restarted:
            runs_server.restart()
        open_page(tab, runs_server.url, "runs")
        tab.get_by_text(f"{len(runs)} of {len(runs)} runs shown").wait_for()


# ------------------------------------------------------------------------------ the Model Builder


def builder_calls(name: str) -> bool:
    return f"model_builder_io.{name}(" in (Path(__file__).resolve().parents[2] / "pages" / "model_builder.py").read_text()


def train_a_few_epochs(page, app_url: str, epochs: int = 4) -> None:
    open_page(page, app_url, "model_builder")
    box = page.locator(".st-key-mb_epochs input")
    box.fill(str(epochs))
    box.press("Enter")
    wait_idle(page)
    page.locator(".st-key-mb_play button").first.click()
    page.get_by_text(re.compile(rf"Epoch {epochs} / {epochs} · finished")).first.wait_for(timeout=180_000)
    page.get_by_role("tab", name="Save and load").click()
    page.get_by_text("run was kept as run").wait_for(timeout=60_000)
    wait_idle(page)


def test_train_download_load_with_plain_torch_and_upload_back(page, app_url, tmp_path):
    import json

    import pandas as pd

    from playground.builder.config import RunConfig

    train_a_few_epochs(page, app_url)
    weights = download(page, "mb_io_download_pt")
    spec = json.loads(download(page, "mb_io_download_spec"))
    page.get_by_role("tab", name="Test").click()
    predictions = pd.read_csv(io.BytesIO(download(page, "mb_download_predictions")))

    # A freshly built model, the downloaded state_dict loaded with plain torch.load, as the course does.
    config = RunConfig.from_dict(spec["config"])
    model = build_model(config.model)
    model.load_state_dict(torch.load(io.BytesIO(weights), weights_only=True, map_location="cpu"))
    model.eval()
    features = list(spec["feature_names"])
    X = torch.tensor(predictions[features].to_numpy(), dtype=torch.float32)
    with torch.no_grad():
        probabilities = torch.softmax(model(X), dim=1).numpy()
    app_probabilities = predictions[[f"p({name})" for name in spec["classes"]]].to_numpy()
    assert abs(probabilities - app_probabilities).max() < 1e-5
    predicted = [spec["classes"][i] for i in probabilities.argmax(1)]
    assert predicted == list(predictions["predicted"].astype(str))

    # The link now names the kept run: a reload (a new session) brings the same model back.
    page.wait_for_function("() => new URLSearchParams(location.search).get('run')")
    run_id = page.evaluate("() => new URLSearchParams(location.search).get('run')")
    page.reload()
    page.get_by_text(f"Epoch 4** · finished · run {run_id}".replace("**", "")).first.wait_for(timeout=120_000)
    page.get_by_role("tab", name="Save and load").click()
    page.get_by_text(f"Opened run {run_id} from the link").first.wait_for(timeout=60_000)
    assert download(page, "mb_io_download_pt") == weights

    # Upload it back through the page.
    path = tmp_path / "model.pt"
    path.write_bytes(weights)
    page.locator(".st-key-mb_io_upload input[type=file]").set_input_files(str(path))
    page.get_by_text("Loaded model.pt into the current model").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0

    # A hostile file is refused with a sentence; the page keeps working.
    bad = tmp_path / "broken.pt"
    bad.write_bytes(weights[: len(weights) // 2])
    page.locator(".st-key-mb_io_upload input[type=file]").set_input_files(str(bad))
    page.get_by_text("not a complete PyTorch checkpoint").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0


@pytest.mark.skipif(not builder_calls("read_url"), reason="pages/model_builder.py does not call model_builder_io.read_url/sync_url yet")
def test_a_shared_link_opens_the_same_setup_in_another_browser(browser, page, app_url):
    open_page(page, app_url, "model_builder")
    page.get_by_role("button", name="More").click()  # the seed is among the settings under "More"
    box = page.locator(".st-key-mb_seed input")
    box.fill("42")
    box.press("Enter")
    wait_idle(page)
    page.keyboard.press("Escape")
    box = page.locator(".st-key-mb_layers input")
    box.fill("3")
    box.press("Enter")
    wait_idle(page)
    page.wait_for_function("() => location.search.includes('seed=42') && location.search.includes('layers=')")
    link = page.url

    other = browser.new_context(viewport={"width": 1440, "height": 1100})
    try:
        tab = other.new_page()
        tab.set_default_timeout(60_000)
        tab.goto(link)
        tab.wait_for_selector('[data-testid="stSidebar"]')
        wait_idle(tab)
        tab.get_by_role("button", name="More").click()
        tab.wait_for_function(  # the page may still be drawing its first run: wait for the values
            "() => document.querySelector('.st-key-mb_seed input')?.value === '42'"
            " && document.querySelector('.st-key-mb_layers input')?.value === '3'"
        )
        assert tab.locator('[data-testid="stException"]').count() == 0
        # A hostile link: notes, no crash.
        tab.goto(f"{app_url}/model_builder?noise=5&lr=abc&%3Cb%3E=1")
        wait_idle(tab)
        tab.get_by_text("could not be used as they were").wait_for()
        assert tab.locator('[data-testid="stException"]').count() == 0
    finally:
        other.close()
