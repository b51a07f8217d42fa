"""The Model Builder in a real browser: train on the circle in the background, keep training while
another widget is touched, stop, and see the decision boundary and a test accuracy of at least 0.9."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import open_page, wait_idle
from tests.reliability.browser_helpers import epoch_and_status, wait_epoch

pytestmark = pytest.mark.browser

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
