"""A lesson in a real browser: its link sets the model up and says what to look at; after Play the lesson's figure
shows the problem in Inside the layers; the fix button trains the fix and the figure shows it work. The lesson and
its pictures fit the first screen (1440x900). Screenshots: tests/browser/artifacts/lesson-<name>-{problem,fix}.png
(tools/docs_screenshots.py --lessons writes the README's)."""

from __future__ import annotations

import pytest

from playground.builder import lessons
from tests.browser.conftest import ARTIFACTS, open_page, wait_idle
from tests.browser.test_model_builder_screen import inside

pytestmark = pytest.mark.browser

SIZE = (1440, 900)


@pytest.fixture
def screen(browser, app_url):
    context = browser.new_context(viewport={"width": SIZE[0], "height": SIZE[1]})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


def lesson_says(tab, text: str) -> None:
    """Wait until the lesson's panel says ``text`` (its figure is redrawn with the pictures as the run ends)."""
    tab.locator(".st-key-mb_lesson").get_by_text(text, exact=False).first.wait_for(timeout=120_000)
    wait_idle(tab)


def test_the_vanishing_lesson_shows_its_problem_then_its_fix_on_one_screen(screen, app_url):
    lesson = lessons.LESSONS["vanishing"]
    open_page(screen, app_url, "model_builder?lesson=vanishing&epochs=4")
    panel = screen.locator(".st-key-mb_lesson").first
    assert "Lesson: Vanishing gradients" in panel.inner_text()
    assert "lesson=vanishing" in screen.url and "epochs=4" in screen.url  # the copied URL keeps both
    screen.locator(".st-key-mb_play button").first.click()
    lesson_says(screen, lesson.problem)
    for selector in (".st-key-mb_lesson", ".st-key-mb_lesson_fix button", ".st-key-mb_gradient_flow .frame svg",
                     ".st-key-mb_boundary img", ".st-key-mb_play button"):
        assert inside(screen, selector, SIZE), selector
    screen.screenshot(path=str(ARTIFACTS / "lesson-vanishing-problem.png"))
    screen.locator(".st-key-mb_lesson_fix button").first.click()
    lesson_says(screen, lesson.fixed[:60])
    # The URL is written at the end of the page's run (views/model_builder_io.sync_url), after the lesson's text:
    # under load the text is painted first, so the URL is awaited, not read at once.
    screen.wait_for_function("() => decodeURIComponent(location.search).includes('activations=tanh')", timeout=60_000)
    assert "activations=tanh" in screen.url.replace("%2C", ",") and "lesson=vanishing" in screen.url
    assert inside(screen, ".st-key-mb_gradient_flow .frame svg", SIZE)
    screen.screenshot(path=str(ARTIFACTS / "lesson-vanishing-fix.png"))
