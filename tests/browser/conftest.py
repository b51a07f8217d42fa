"""The real app in headless Chromium: one server for the session, one browser context a test.

Chromium is Debian's (/usr/bin/chromium); Playwright never downloads a browser here. Without it the
browser tests skip with a reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "tests" / "browser" / "artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_app(port: int, data_dir: Path, log_path: Path, extra_env: dict | None = None) -> subprocess.Popen:
    """Start `streamlit run app.py` on ``port``; returns at once (``wait_healthy`` waits for it)."""
    env = dict(os.environ, PLAYGROUND_DATA_DIR=str(data_dir), **(extra_env or {}))
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    proc.log_path = log_path
    return proc


def wait_healthy(proc: subprocess.Popen, port: int) -> None:
    """Wait until the server launched by ``launch_app`` answers /_stcore/health (90 s at most)."""
    log_path = proc.log_path
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early; see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"streamlit did not answer /_stcore/health in 90 s; see {log_path}")


def start_app(port: int, data_dir: Path, log_path: Path, extra_env: dict | None = None) -> subprocess.Popen:
    """Start `streamlit run app.py` on ``port`` and wait for /_stcore/health."""
    proc = launch_app(port, data_dir, log_path, extra_env)
    wait_healthy(proc, port)
    return proc


def stop_apps(procs: list[subprocess.Popen]) -> None:
    """Stop servers together: each is asked to stop before any is waited for."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def stop_app(proc: subprocess.Popen) -> None:
    stop_apps([proc])


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; under CI=true the browser tests must run")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def app_url(tmp_path_factory, chromium_path) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    data_dir = tmp_path_factory.mktemp("playground-data")
    proc = start_app(port, data_dir, ARTIFACTS / "server.log")
    yield f"http://127.0.0.1:{port}"
    stop_app(proc)


@pytest.fixture(scope="package")
def browser(chromium_path):
    # Package scope: the sync Playwright loop ends with tests/browser, so later async Playwright tests
    # (tests/reliability) do not find it running.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1440, "height": 1100}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    context.close()


def wait_idle(tab, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished the current script run."""
    tab.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    tab.wait_for_timeout(250)
    tab.wait_for_function(
        """() => {
            const status = document.querySelector('[data-testid="stStatusWidget"]');
            const running = status && /Running|Connecting/.test(status.innerText);
            return !running && !document.querySelector('[data-stale="true"]');
        }""",
        timeout=timeout,
    )
    tab.wait_for_timeout(200)


def open_page(tab, app_url: str, url_path: str = "") -> None:
    tab.goto(f"{app_url}/{url_path}")
    # The page's frame (views/page_frame.py) has run once its sidebar's global seed is drawn.
    tab.wait_for_selector(".st-key-global_seed", timeout=60_000)
    wait_idle(tab)
