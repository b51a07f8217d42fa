"""Tensor Lab in a real browser: choose cat, see both results and the shape picture (a screenshot goes to artifacts/)."""

from __future__ import annotations

from pathlib import Path

from tests.browser.conftest import open_page, wait_idle

SCREENSHOT = Path(__file__).resolve().parents[2] / "artifacts" / "images" / "tensor_lab.png"  # ignored by git


def test_cat_shows_result_and_shape_picture(page, app_url):
    open_page(page, app_url, "")  # Tensor Lab is the default page, at the root URL
    page.get_by_role("button", name="Course: cat along dim 1").click()
    wait_idle(page)
    page.get_by_text("Same values, same shape [2, 6, 3], same dtype float32.").wait_for()
    picture = page.locator("svg.shape-picture").first
    picture.wait_for()
    # Three inputs, each its own colour, and the output's joined dim split into three parts.
    parts = picture.locator('rect[data-role="part"]')
    assert parts.count() == 6
    assert picture.locator("text", has_text="out [2, 6, 3]").count() == 1
    box = picture.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100
    assert page.get_by_text("torch.cat([x, y, z], dim=1)").count() >= 1
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    picture.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(SCREENSHOT), full_page=False)


def test_bad_literal_shows_sentence_and_page_recovers(page, app_url):
    open_page(page, app_url, "")  # Tensor Lab is the default page, at the root URL
    box = page.locator(".st-key-tl_literal input")
    box.fill("[[1, 2], [3]]")
    box.press("Enter")
    wait_idle(page)
    page.get_by_text("The literal is ragged").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
    box = page.locator(".st-key-tl_literal input")
    box.fill("[1, 2, 3, 4]")
    box.press("Enter")
    wait_idle(page)
    page.get_by_text("Same values, same shape [4], same dtype float32.").wait_for()
