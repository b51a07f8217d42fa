"""The Sweeps page in a real browser: a 3 x 3 sweep (learning rate by seed) runs to the end with its small
multiples, curves and heatmaps drawn, and one member opens as a normal run: kept in the run store, its weights
downloaded (plain ``torch.load``) equal to its own single run's to 1e-4 of its largest weights, its train.py
downloaded, and shown in the Model Builder and on the Runs page."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import torch

from playground.builder.config import RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.model import build_model
from playground.builder.sweep import SweepAxis, SweepConfig, relative_difference
from playground.builder.training import Trainer
from tests.browser.conftest import ARTIFACTS, open_page, wait_idle

pytestmark = pytest.mark.browser
EPOCHS = 6


def fill(page, key: str, value: str) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def download(page, key: str) -> bytes:
    with page.expect_download() as info:
        page.locator(f".st-key-{key} button").first.click()
    return Path(info.value.path()).read_bytes()


def test_a_3x3_sweep_runs_to_the_end_and_a_member_opens_as_a_run(page, app_url):
    page.set_default_timeout(60_000)
    open_page(page, app_url, "sweeps")
    page.get_by_text("Press Play: each member's decision boundary appears here").wait_for()
    fill(page, "sw_epochs", str(EPOCHS))
    fill(page, "sw_values_0_lr", "0.003, 0.01, 0.03")  # rates where training is not chaotic (see test_sweep.py)
    page.locator(".st-key-sw_two label").first.click()  # vary a second setting: the seed
    wait_idle(page)
    fill(page, "sw_values_1_seed", "0, 1, 2")
    page.get_by_text("**9** models".replace("**", "")).first.wait_for()
    page.locator(".st-key-sw_play button").first.click()
    page.get_by_text(re.compile(rf"Epoch {EPOCHS} / {EPOCHS} · finished on cpu · 9 models")).first.wait_for(
        timeout=180_000)
    wait_idle(page)
    for key in ("sw_tiles", "sw_curves", "sw_heat_loss", "sw_heat_acc"):
        page.locator(f".st-key-{key} img").first.wait_for()
    page.get_by_text(re.compile(r"Best: learning rate")).first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sweeps-3x3.png"), full_page=True)

    # The chosen member (the best, by default) as a normal run.
    page.locator(".st-key-sw_keep button").first.click()
    page.get_by_text(re.compile(r"Kept as run [0-9a-f]{12}")).wait_for()
    run_id = re.search(r"Kept as run ([0-9a-f]{12})", page.inner_text("body")).group(1)
    label = page.locator(".st-key-sw_member input").first.get_attribute("value")  # the member chosen: the best
    lr, seed = (float(v) for v in re.search(r"learning rate ([\d.e-]+), seed (\d+)", label).groups())
    member = SweepConfig(RunConfig(train=TrainConfig(epochs=EPOCHS)), (
        SweepAxis("lr", values=(lr,)), SweepAxis("seed", values=(int(seed),)))).member(0)

    weights = torch.load(io.BytesIO(download(page, "sw_download_pt")), weights_only=True)  # plain, as the course does
    build_model(member.model).load_state_dict(weights)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a training worker runs
    try:
        run = Trainer(member, prepare_data(member.data).arrays())  # the oracle: the member's own single run
        run.fit()
    finally:
        torch.set_num_threads(threads)
    assert relative_difference(weights, run.state_dict_cpu()) <= 1e-4  # batched sums add in another order
    script = download(page, "sw_download_train_py").decode()
    assert f"lr={lr!r}" in script or f"lr={lr:g}" in script
    assert f"SEED = {int(seed)}" in script

    page.locator(".st-key-sw_open button").first.click()
    page.wait_for_url(re.compile(rf"model_builder\?run={run_id}"))
    page.get_by_text(re.compile(rf"Epoch {EPOCHS} · finished · run {run_id}")).first.wait_for(timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    open_page(page, app_url, "runs")
    # Listed: the run id is a cell of the runs table (the data grid draws on a canvas and keeps its cells in a
    # hidden table, so the cell is attached, never visible; waiting for it visible failed whenever it came first).
    page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text=run_id).first.wait_for(state="attached")
