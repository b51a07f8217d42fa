"""The Model Builder as a one-screen playground in a real browser: the control bar, the boundary and the loss curve
are on the first screen at 1440x900 before and while training, the control bar at 1280x720; the speed control
paces the epochs; the replay redraws an earlier epoch."""

from __future__ import annotations

import pytest

from tests.browser.conftest import open_page, wait_idle
from tests.reliability.browser_helpers import epoch_and_status, wait_epoch

pytestmark = pytest.mark.browser


def inside(tab, selector: str, size: tuple[int, int]) -> bool:
    """The element's whole box lies inside the first screen (no scrolling)."""
    box = tab.locator(selector).first.bounding_box()
    return bool(box) and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= size[0] + 1 \
        and box["y"] + box["height"] <= size[1] + 1


def set_speed(tab, label: str) -> None:
    """Choose a speed on the select-slider by its label (keyboard: Home, then right arrows)."""
    from tests.browser.conftest import wait_idle as idle

    options = ["1 / s", "3 / s", "10 / s", "30 / s", "as fast as it goes"]
    thumb = tab.locator('.st-key-mb_speed input[type="range"]').first
    thumb.focus()
    thumb.press("Home")
    for _ in range(options.index(label)):
        thumb.press("ArrowRight")
    idle(tab)


# Text on the playground that is cut: a label clipped by its box (an ellipsis, hidden overflow), or a word broken
# over two lines ("Netwo / rk"). The teaching tabs, code and pictures are left out.
CUT_TEXT_JS = r"""() => {
  const roots = [...document.querySelectorAll('.st-key-mb_bar, .st-key-mb_hyper, .st-key-mb_main')];
  const clipped = [], broken = [];
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || !el.offsetParent || !node.textContent.trim()) continue;
      if (el.closest('[data-testid="stTabs"], [role="tabpanel"], svg, code, pre')) continue;
      // clipped: the text's box, or a box around it that hides overflow, is narrower than the text
      for (let box = el; box && box !== root; box = box.parentElement) {
        const style = getComputedStyle(box);
        if ((style.overflowX === 'hidden' || style.textOverflow === 'ellipsis') && box.scrollWidth > box.clientWidth + 1) {
          clipped.push(node.textContent.trim().slice(0, 40)); break;
        }
      }
      // broken: a word split over two lines
      const re = /\S+/g; let m;
      while ((m = re.exec(node.textContent))) {
        const range = document.createRange();
        range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (tops.size > 1) broken.push(m[0]);
      }
    }
  }
  return {clipped: [...new Set(clipped)], broken: [...new Set(broken)]};
}"""


@pytest.fixture
def screen(browser, app_url):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    context.close()


def test_play_boundary_and_curve_are_on_the_first_screen_before_and_while_training(screen, app_url):
    size = (1440, 900)
    open_page(screen, app_url, "model_builder?epochs=2000&seed=11")
    for selector in (".st-key-mb_play button", ".st-key-mb_boundary img", ".st-key-mb_curves img",
                     ".st-key-mb_network .frame svg", ".st-key-mb_ds_spiral button"):
        assert inside(screen, selector, size), selector
    # The title and its one-line caption are read whole: nothing of them under Streamlit's header.
    header = screen.locator('[data-testid="stHeader"]').first.bounding_box()
    for selector in (".st-key-mb_heading h1", ".st-key-mb_subtitle"):
        box = screen.locator(selector).first.bounding_box()
        assert box["y"] >= header["y"] + header["height"] - 1, (selector, box, header)
    caption = screen.locator(".st-key-mb_subtitle").first
    assert "tabs below" in caption.inner_text() and caption.bounding_box()["height"] < 30  # one line
    play = screen.locator(".st-key-mb_play button").first.bounding_box()
    screen.locator(".st-key-mb_play button").first.click()
    wait_epoch(screen, 2)
    assert epoch_and_status(screen)[1] == "training"
    for selector in (".st-key-mb_pause button", ".st-key-mb_boundary img", ".st-key-mb_curves img"):
        assert inside(screen, selector, size), selector
    # The epoch line grew by its losses, yet the buttons beside it stay where they were clicked.
    assert "validation loss" in screen.locator(".st-key-mb_epoch_line").first.inner_text()
    pause = screen.locator(".st-key-mb_pause button").first.bounding_box()
    assert abs(pause["y"] - play["y"]) <= 1 and abs(pause["x"] - play["x"]) <= 1, (play, pause)
    screen.locator(".st-key-mb_stop button").first.click()
    wait_idle(screen)
    screen.locator(".st-key-mb_epoch_line").get_by_text("stopped").first.wait_for()
    again = screen.locator(".st-key-mb_play button").first.bounding_box()
    assert abs(again["y"] - play["y"]) <= 1, (play, again)


def test_the_control_bar_is_on_the_first_screen_at_1280x720(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    tab = context.new_page()
    try:
        open_page(tab, app_url, "model_builder")
        assert inside(tab, ".st-key-mb_bar", (1280, 720))
        tab.mouse.wheel(0, 600)  # it stays in view while the page scrolls
        tab.wait_for_timeout(300)
        assert inside(tab, ".st-key-mb_play button", (1280, 720))
    finally:
        context.close()


def test_the_speed_control_paces_the_epochs_and_the_replay_shows_an_earlier_epoch(screen, app_url):
    open_page(screen, app_url, "model_builder?epochs=30&seed=12")
    set_speed(screen, "1 / s")
    screen.locator(".st-key-mb_play button").first.click()
    wait_epoch(screen, 1)
    screen.wait_for_timeout(2500)
    slow = epoch_and_status(screen)[0]
    assert slow <= 6, slow  # at one epoch a second, 2.5 s later only a few more
    set_speed(screen, "as fast as it goes")
    wait_epoch(screen, 30, timeout_s=60)
    screen.get_by_text("finished").first.wait_for()
    wait_idle(screen)
    live_picture = screen.locator(".st-key-mb_boundary img").first.get_attribute("src")
    replay = screen.locator('.st-key-mb_replay input[type="range"]').first
    replay.focus()
    replay.press("Home")  # back to the first epoch the replay has
    wait_idle(screen)
    screen.get_by_text("(replay)").first.wait_for()
    assert screen.locator(".st-key-mb_boundary img").first.get_attribute("src") != live_picture


@pytest.mark.parametrize("size", [(1280, 720), (1440, 900)])
def test_no_label_is_cut_or_broken_before_and_after_a_run(browser, app_url, size):
    """At a 1280 px laptop's size too, every label of the bar and the playground is whole: the buttons' names, the
    feature names, the toggles, the headings (they were clipped to "P...", "x...", "Show test ..." and broken into
    "Netwo rk" before the sidebar and the margins gave the columns room)."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    try:
        open_page(tab, app_url, "model_builder?epochs=3&seed=13")
        assert tab.evaluate(CUT_TEXT_JS) == {"clipped": [], "broken": []}
        tab.locator(".st-key-mb_play button").first.click()
        tab.locator(".st-key-mb_epoch_line").get_by_text("finished").first.wait_for()
        wait_idle(tab)
        assert "validation loss" in tab.locator(".st-key-mb_epoch_line").first.inner_text()
        assert tab.locator(".st-key-mb_replay").count() == 1  # the replay slider is in the bar now
        assert tab.evaluate(CUT_TEXT_JS) == {"clipped": [], "broken": []}
    finally:
        context.close()



def weights_shown(tab) -> list[str]:
    """The layers whose weight distributions the inside view draws (its SVG image's panels)."""
    import base64
    import re

    src = tab.locator(".st-key-mb_weight_distributions img").first.get_attribute("src")
    svg = base64.b64decode(src.split(",", 1)[1]).decode() if src.startswith("data:") else tab.request.get(
        src if src.startswith("http") else tab.url.split("/model_builder")[0] + src).text()
    return re.findall(r"data-layer='([^']*)'", svg)


def test_a_layer_hovered_in_the_network_picture_is_named_and_clicked_is_shown_alone_inside(screen, app_url):
    """The network picture is drawn inline (views/svg_picker.py): hovering a layer names it beside the pointer;
    clicking it opens "Inside the layers" with that layer's weights alone and its gradient bar outlined; a bar clicked
    shows its layer alone, clicked again every layer."""
    open_page(screen, app_url, "model_builder?epochs=3&seed=13")
    screen.locator(".st-key-mb_play button").first.click()
    screen.locator(".st-key-mb_epoch_line").get_by_text("finished").first.wait_for()
    wait_idle(screen)
    layer = screen.locator(".st-key-mb_network g[data-layer='2']").first
    layer.hover()
    tip = screen.locator(".st-key-mb_network .tip").first
    tip.wait_for(state="visible")
    assert tip.inner_text() == "Linear 2: 8 → 8, Tanh"
    assert inside(screen, ".st-key-mb_network .tip", (1440, 900))
    outlined = ".st-key-mb_gradient_flow g[data-layer='{}'] rect[stroke='#d62728']"
    layer.click()
    screen.locator(outlined.format("layers.2")).first.wait_for()
    wait_idle(screen)
    assert screen.locator(".st-key-mb_network").count() == 0  # the inside view in its place
    assert weights_shown(screen) == ["layers.2"]
    bar = screen.locator(".st-key-mb_gradient_flow g[data-layer='layers.0']").first
    bar.hover()
    screen.locator(".st-key-mb_gradient_flow .tip").get_by_text("layers.0: mean gradient norm").wait_for()
    bar.click()
    screen.locator(outlined.format("layers.0")).first.wait_for()
    wait_idle(screen)
    assert screen.locator(outlined.format("layers.2")).count() == 0 and weights_shown(screen) == ["layers.0"]
    screen.locator(".st-key-mb_gradient_flow g[data-layer='layers.0']").first.click()
    screen.locator(outlined.format("layers.0")).first.wait_for(state="detached")
    wait_idle(screen)
    assert weights_shown(screen) == ["layers.0", "layers.2", "layers.4"]
