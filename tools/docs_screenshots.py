"""Write a screenshot of each page at 1440x900 (the first screen, what a learner sees) to docs/images/.

Run on purpose, not by the tests: python tools/docs_screenshots.py
It starts the app on a free port with an empty run store, opens each page in Debian's Chromium, trains the Model
Builder's default model for a few seconds so its pictures show learning, and saves docs/images/<page>.png.

python tools/docs_screenshots.py --lessons opens each lesson's link instead (playground/builder/lessons.py), trains
its setup, presses its fix, and saves docs/images/lesson-<name>-problem.png and -fix.png: the lesson's band and
Inside the layers, small.
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


LESSON_EPOCHS = 10
LESSON_CLIP = {"x": 300, "y": 95, "width": 1080, "height": 760}  # the band, the bar, the network and the output


def lesson_shots(tab, base: str) -> None:
    """Each lesson: its problem after training, then its fix after training (the band says which it shows)."""
    sys.path.insert(0, str(ROOT))
    from playground.builder.lessons import LESSONS

    for lesson in LESSONS.values():
        tab.goto(f"{base}/model_builder?lesson={lesson.name}&epochs={LESSON_EPOCHS}")
        tab.wait_for_selector(".st-key-global_seed", timeout=90_000)
        idle(tab)
        for shot, says, press in (("problem", lesson.problem, ".st-key-mb_play button"),
                                  ("fix", lesson.fixed[:50], ".st-key-mb_lesson_fix button")):
            tab.locator(press).first.click()
            tab.locator(".st-key-mb_lesson").get_by_text(says, exact=False).first.wait_for(timeout=180_000)
            idle(tab)
            tab.mouse.move(0, 0)  # no tooltip in the picture
            tab.wait_for_timeout(600)
            path = OUT / f"lesson-{lesson.name}-{shot}.png"
            tab.screenshot(path=str(path), clip=LESSON_CLIP)
            from PIL import Image

            Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
            print("wrote", path, path.stat().st_size // 1024, "KiB")


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
            if "--lessons" in sys.argv:  # small pictures: the page drawn at 0.8 of its size, 256 colours
                tab = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=0.8)
                lesson_shots(tab, f"http://127.0.0.1:{port}")
                browser.close()
                return 0
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
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:  # a training worker still stopping: the server, ours, is killed
            server.kill()
            server.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
