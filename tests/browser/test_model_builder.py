"""The Model Builder in a real browser: train on the circle in the background, keep training while
another widget is touched, stop, and see the decision boundary and a test accuracy of at least 0.9."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.conftest import open_page, wait_idle

pytestmark = pytest.mark.browser

EPOCH_JS = ("() => { const m = document.body.innerText.match(/Epoch (\\d+)(?: \\/ \\d+)? · (\\w+)/); "
            "return m ? [+m[1], m[2]] : [-1, ''] }")


def epoch_and_status(tab) -> tuple[int, str]:
    epoch, status = tab.evaluate(EPOCH_JS)
    return int(epoch), status


def wait_epoch(tab, at_least: int, timeout_s: float = 90) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        epoch, status = epoch_and_status(tab)
        if epoch >= at_least:
            return epoch
        assert status not in ("failed", "diverged"), status
        tab.wait_for_timeout(200)
    raise AssertionError(f"epoch {at_least} not reached; last {epoch_and_status(tab)}")


def test_train_circle_in_the_background_and_test_it(page, app_url):
    open_page(page, app_url, "model_builder")
    epochs = page.locator(".st-key-mb_epochs input")
    epochs.fill("2000")
    epochs.press("Enter")
    wait_idle(page)
    page.locator(".st-key-mb_play button").first.click()
    first = wait_epoch(page, 3)
    assert epoch_and_status(page)[1] == "training"

    # Touch another widget mid-training: the page reruns, the run goes on.
    page.locator(".st-key-mb_standardize label").first.click()
    wait_idle(page)
    page.locator(".st-key-mb_show_test label").first.click()
    later = wait_epoch(page, first + 3)
    assert later > first and epoch_and_status(page)[1] == "training"

    wait_epoch(page, 20, timeout_s=120)
    page.locator(".st-key-mb_stop button").first.click()
    wait_idle(page)
    page.get_by_role("tab", name="Test").click()
    page.wait_for_selector('[data-testid="stMetricValue"]', timeout=30_000)
    assert epoch_and_status(page)[1] == "stopped"
    values = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    assert values[0].strip() == "Test accuracy"
    accuracy = float(page.locator('[data-testid="stMetricValue"]').first.inner_text())
    assert accuracy >= 0.9

    boundary = page.locator(".st-key-mb_boundary img").first
    assert boundary.is_visible()
    box = boundary.bounding_box()
    assert box and box["width"] > 250 and box["height"] > 250
    assert page.get_by_text(re.compile("Confusion matrix")).count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
