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
    picture = page.locator(".st-key-tl_shape_picture img").first  # an image: no HTML of the app's in the page
    picture.wait_for()
    svg = picture.evaluate("img => fetch(img.src).then(r => r.text())")
    assert 'class="shape-picture"' in svg
    # Three inputs, each its own colour, and the output's joined dim split into three parts.
    assert svg.count('data-role="part"') == 6
    assert svg.count("out [2, 6, 3]") == 1
    picture.evaluate("img => img.decode()")  # it is a well-formed SVG the browser draws
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


PRESET_LABELS = ("Course: [1, 2, 3, 4] ** 2", "Course: squeeze(0) on [1, 2, 3]", "Course: unsqueeze(1) on [2, 3]",
                 "Course: cat along dim 1", "view after transpose")


def test_preset_labels_are_read_whole_at_1440_and_1280(browser, app_url):
    """Issue 11: "Course: squeeze(0) on [1..." was cut off in five narrow columns."""
    for width, height in ((1440, 900), (1280, 720)):
        context = browser.new_context(viewport={"width": width, "height": height})
        tab = context.new_page()
        tab.set_default_timeout(30_000)
        try:
            open_page(tab, app_url, "")
            for label in PRESET_LABELS:
                button = tab.get_by_role("button", name=label, exact=True)
                button.wait_for()
                assert button.inner_text().strip() == label
                clipped = button.evaluate(
                    "b => [b, ...b.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1"
                    " && getComputedStyle(e).overflow !== 'visible')")
                assert not clipped, (width, label)
                box = button.bounding_box()
                assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (width, label, box)
        finally:
            context.close()


def test_the_literal_is_kept_when_made_by_goes_to_zeros_ones_and_back(page, app_url):
    open_page(page, app_url, "")
    box = page.locator(".st-key-tl_literal input")
    box.fill("[[7, 8], [9, 10]]")
    box.press("Enter")
    wait_idle(page)
    for source in ("zeros", "ones", "literal"):
        page.locator(".st-key-tl_source").click()
        page.get_by_role("option", name=source, exact=True).click()
        wait_idle(page)
    assert page.locator(".st-key-tl_literal input").input_value() == "[[7, 8], [9, 10]]"
