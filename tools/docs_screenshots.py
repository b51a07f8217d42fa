"""Write a screenshot of each page at 1440x900 (the first screen, what a learner sees) to docs/images/.

Run on purpose, not by the tests: python tools/docs_screenshots.py
It starts the app on a free port with an empty run store, opens each page in Debian's Chromium, trains the Model
Builder's default model for a few seconds so its pictures show learning, and saves docs/images/<page>.png.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
PAGES = {"tensor_lab": "", "autograd": "autograd", "model_builder": "model_builder", "runs": "runs"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(port: int, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise RuntimeError("the app did not start")


def idle(tab) -> None:
    tab.wait_for_timeout(400)
    tab.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=60_000)
    tab.wait_for_timeout(400)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    data = tempfile.mkdtemp(prefix="playground-docs-")
    env = dict(os.environ, PLAYGROUND_DATA_DIR=data)
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for_server(port)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            tab = browser.new_page(viewport={"width": 1440, "height": 900})
            for name, path in PAGES.items():
                tab.goto(f"http://127.0.0.1:{port}/{path}")
                tab.wait_for_selector(".st-key-global_seed", timeout=90_000)
                idle(tab)
                if name == "model_builder":
                    tab.locator(".st-key-mb_play button").first.click()
                    tab.wait_for_function("() => { const m = /Epoch (\\d+)/.exec(document.body.innerText); "
                                          "return m && +m[1] >= 40 }", timeout=120_000)
                tab.screenshot(path=str(OUT / f"{name}.png"))
                print("wrote", OUT / f"{name}.png")
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
