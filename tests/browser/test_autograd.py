"""The Autograd page in a real browser: the graphs render as SVG, the optimizer paths as a plotly plot."""

from __future__ import annotations

import pytest

from tests.browser.conftest import open_page, wait_idle

pytestmark = pytest.mark.browser

GRAPH = '[data-testid="stGraphVizChart"] svg'


def svg_texts(page) -> list[str]:
    """The text of every node of every graph on the page, one string per graph."""
    page.wait_for_selector(GRAPH)
    return page.eval_on_selector_all(
        GRAPH, "svgs => svgs.map(s => Array.from(s.querySelectorAll('text')).map(t => t.textContent).join('\\n'))"
    )


def test_course_graph_renders_as_svg_with_values_and_gradients(page, app_url):
    open_page(page, app_url, "autograd")
    forward, backward = svg_texts(page)
    for label in ("x", "shape 2×2", "data [[1., 0.], [-1., 1.]]", "grad [[2., 0.], [-2., 2.]]", "pow 2", "sum",
                  "x.pow(2).sum()", "data 3."):
        assert label in forward.splitlines(), label
    for label in ("SumBackward0", "PowBackward0", "AccumulateGrad", "x.grad"):
        assert label in backward.splitlines(), label
    box = page.locator(GRAPH).first.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 300  # three records drawn top to bottom
    assert page.locator('[data-testid="stException"]').count() == 0


def test_new_expression_redraws_the_graphs(page, app_url):
    open_page(page, app_url, "autograd")
    page.wait_for_selector(GRAPH)
    box = page.locator(".st-key-ag_expression input")
    box.fill("(x.sin() * 2).sum()")
    box.press("Enter")
    wait_idle(page)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('[data-testid=\"stGraphVizChart\"] svg text'))"
        ".some(t => t.textContent === 'SinBackward0')"
    )
    forward, backward = svg_texts(page)
    assert "sin" in forward.splitlines() and "*" in forward.splitlines()
    assert "MulBackward0" in backward.splitlines()
    # A bad expression: a sentence, no traceback, and the page still answers.
    box = page.locator(".st-key-ag_expression input")
    box.fill("__import__('os')")
    box.press("Enter")
    wait_idle(page)
    page.get_by_text("The function __import__() is not allowed").wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_the_optimizer_view_draws_its_paths_and_its_time_is_recorded(page, app_url):
    """Issue 11: the optimizer-paths view took 3.1 s with only Streamlit's small running icon as feedback.
    Measured from the click to the paths plot drawn; the Rosenbrock preset (1,000 steps) as well. The view as
    drawn: its two plots (paths on the contour, loss per step), the default optimizers' legend, a point a step."""
    import time

    from tests.reliability.conftest import record

    open_page(page, app_url, "autograd")
    page.wait_for_selector(GRAPH)
    started = time.perf_counter()
    page.get_by_text("Optimizer paths", exact=True).click()
    page.wait_for_selector(".js-plotly-plot .scatterlayer .trace")
    wait_idle(page)
    view_s = time.perf_counter() - started
    plots = page.locator(".js-plotly-plot")
    assert plots.count() == 2  # the paths on the contour, the loss per step
    legend = plots.first.locator(".legendtext").all_text_contents()
    assert "SGD (lr 0.05)" in legend and "Adam (lr 0.1)" in legend
    # each path is drawn: a line with as many points as steps + 1
    points = page.evaluate(
        "() => document.querySelectorAll('.js-plotly-plot')[0]._fullData"
        ".filter(t => t.name && t.name.startsWith('SGD')).map(t => t.x.length)"
    )
    assert points == [101]
    assert page.locator("code", has_text="optimizer.zero_grad()").count() >= 1
    page.locator(".st-key-ag_f2_preset").click()
    started = time.perf_counter()
    page.get_by_role("option", name="Rosenbrock", exact=True).click()
    page.wait_for_function(
        "() => { const p = document.querySelectorAll('.js-plotly-plot')[0];"
        " return p && p._fullData && p._fullData.some(t => t.name && t.name.startsWith('SGD') && t.x.length > 500); }")
    wait_idle(page)
    rosenbrock_s = time.perf_counter() - started
    record("autograd (browser)", "click to optimizer paths drawn (s): the view / the Rosenbrock preset",
           f"{view_s:.2f} / {rosenbrock_s:.2f}")
    assert page.locator('[data-testid="stException"]').count() == 0  # the times are figures, not assertions


def test_the_lesson_buttons_show_their_whole_names_at_1280_px(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    try:
        open_page(tab, app_url, "autograd")
        lessons = '[class*="st-key-agbtn_lesson_"] button p'
        tab.wait_for_function(f"() => document.querySelectorAll('{lessons}').length >= 5")  # all five drawn
        wait_idle(tab)
        labels = tab.locator(lessons)
        cut = labels.evaluate_all("""ps => ps.filter(p => {  // the label or a box around it, up to its button, clips it
            for (let e = p; e; e = e.parentElement) {
                if (e.scrollWidth > e.clientWidth + 1) return true;
                if (e.tagName === 'BUTTON') break;
            }
            return false;
        }).map(p => p.textContent)""")
        assert cut == [], cut  # "backward() twice add..." before the buttons took the width of their names
    finally:
        context.close()
