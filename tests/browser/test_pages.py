"""Every page's URL as the very first request to a freshly started server (Streamlit's classic multipage app runs
that page's script alone, without app.py): the page, its sidebar (the global seed, torch's version) and the
navigation of views/page_frame.py, six links with the pages' names, the current one marked. A link in the
navigation then opens another page with the same frame."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS, free_port, launch_app, stop_apps, wait_healthy, wait_idle
from views.page_frame import PAGES

LABELS = ["Tensor Lab", "Autograd", "Model Builder", "Sweeps", "Runs", "Course"]
# url path (as links and bookmarks have it): the page's heading
HEADINGS = {"": "Tensor Lab", "autograd": "Autograd", "model_builder": "Model Builder", "sweeps": "Sweeps",
            "runs": "Runs", "course": "Course"}

NAVIGATION = """() => [...document.querySelectorAll('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]')]
    .map(a => {
        const label = a.querySelector('[data-testid="stMarkdownContainer"]');
        return {label: label.innerText.trim(), href: new URL(a.href).pathname,
                weight: Math.max(...[label, ...label.querySelectorAll('*')]
                    .map(e => parseInt(getComputedStyle(e).fontWeight, 10)))};
    })"""


@pytest.fixture(scope="module")
def fresh_servers(request, tmp_path_factory, chromium_path):
    """One server a page whose test was selected, all launched at once (their start-ups overlap each other and the
    tests) and not asked for anything here: each test's first request is its server's first. They stop together
    at the end."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    selected = {item.callspec.params["path"] for item in request.session.items
                if item.module is request.module and "path" in getattr(getattr(item, "callspec", None), "params", {})}
    launches = {}
    for path in [p for p in HEADINGS if p in selected]:
        port = free_port()
        data_dir = tmp_path_factory.mktemp("playground-data-fresh")
        launches[path] = (port, launch_app(port, data_dir, ARTIFACTS / f"server-fresh-{port}.log"))
    yield launches
    stop_apps([proc for _, proc in launches.values()])


@pytest.fixture
def fresh_server(fresh_servers, request):
    """The server started for this test's page alone, once it answers /_stcore/health; asked to stop after."""
    port, proc = fresh_servers[request.node.callspec.params["path"]]
    wait_healthy(proc, port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()  # its memory goes back while the next tests run; the module's end waits for it


def test_the_navigation_names_every_page():
    assert [p.label for p in PAGES] == LABELS
    assert [re.sub(r"^(app|pages/)|\.py$", "", p.script) for p in PAGES] == ["", "autograd", "model_builder",
                                                                             "sweeps", "runs", "course"]


@pytest.mark.parametrize("path", list(HEADINGS), ids=lambda p: p or "root")
def test_a_pages_url_as_a_fresh_servers_first_request(browser, fresh_server, path):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(90_000)
    try:
        tab.goto(f"{fresh_server}/{path}")
        tab.get_by_role("heading", name=HEADINGS[path], exact=True).first.wait_for()
        tab.wait_for_selector('[data-testid="stSidebar"] .st-key-global_seed input')
        tab.locator('[data-testid="stSidebar"]').get_by_text(re.compile(r"^torch \d")).wait_for()
        wait_idle(tab, timeout=90_000)
        links = tab.evaluate(NAVIGATION)
        assert [link["label"] for link in links] == LABELS
        # Every link's address is its page's; the home page's link is an empty relative address (Streamlit's for the
        # main page), so it reads as this page's: a click on it is followed below.
        assert [link["href"] for link in links[1:]] == ["/" + p for p in list(HEADINGS)[1:]]
        current = [link["label"] for link in links if link["weight"] >= 600]
        assert current == [HEADINGS[path]], links  # the current page, and only it, is marked
        assert not tab.locator('[data-testid="stSidebarNav"]').count()  # Streamlit's own navigation is hidden
        assert tab.locator('[data-testid="stException"]').count() == 0
        assert tab.get_by_text("Loading PyTorch").count() == 0  # the first run's note is gone once torch is loaded
        # A link of the navigation opens another page, in the same frame.
        other = "Runs" if path == "" else "Tensor Lab"
        tab.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]', has_text=other).click()
        tab.get_by_role("heading", name=other, exact=True).first.wait_for()
        wait_idle(tab, timeout=90_000)
        assert tab.url.rstrip("/") == f"{fresh_server}/runs" if path == "" else tab.url.rstrip("/") == fresh_server
        links = tab.evaluate(NAVIGATION)
        assert [link["label"] for link in links if link["weight"] >= 600] == [other]
        assert tab.locator('[data-testid="stSidebar"] .st-key-global_seed input').count() == 1
    finally:
        context.close()
