"""Write a screenshot of each page at 1440x900 (the first screen, what a learner sees) to docs/images/.

Run on purpose, not by the tests: python tools/docs_screenshots.py [PAGE ...] (all pages, or only those named:
tensor_lab autograd model_builder sweeps runs course)
It keeps three short real runs of the default setup (learning rates 0.003, 0.03 and 0.3, with their per-layer
statistics) in a fresh run store, starts the app on a free port, opens each page in Debian's Chromium, trains the
Model Builder's default model and a sweep for a few seconds so their pictures show learning, shows the Runs page's
comparison of the kept runs, and saves docs/images/<page>.png.

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
PAGES = {"tensor_lab": "", "autograd": "autograd", "model_builder": "model_builder", "sweeps": "sweeps", "runs": "runs",
         "course": "course"}
KEPT_RATES = (0.003, 0.03, 0.3)


def keep_runs(data: str) -> None:
    """Real short runs of the default setup, kept in the run store of ``data`` as a finished page run keeps them."""
    import dataclasses

    sys.path.insert(0, str(ROOT))
    from playground.builder.config import RunConfig
    from playground.builder.datasets import prepare_data
    from playground.builder.evaluation import make_trained_model
    from playground.builder.training import Trainer
    from playground.runs.store import SqliteRunStore

    store = SqliteRunStore(Path(data))
    base = RunConfig()
    for lr in KEPT_RATES:
        config = dataclasses.replace(base, train=dataclasses.replace(base.train, lr=lr, epochs=60, optimizer="sgd"))
        prepared = prepare_data(config.data)
        trainer = Trainer(config, prepared.arrays(), device="cpu", layer_stats_every=1)
        rows = []
        for _ in range(config.train.epochs):
            trainer.run_epoch()
            rows.append({**trainer.history[-1], "layers": trainer.last_layers})
        trained = make_trained_model(config, trainer.model.state_dict(), rows, "finished", prepared)
        store.save(trained)


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
    """The page's run is over and drawn: no stale element, no "Loading PyTorch…" note (a server's first run), no
    running man, no element still waiting for its script (Streamlit's grey skeleton)."""
    tab.wait_for_timeout(400)
    tab.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]') && "
                          "!document.body.innerText.includes('Loading PyTorch') && "
                          "!document.querySelector('[data-testid=\"stStatusWidget\"]') && "
                          "!document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=120_000)
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


def main(argv: list[str] | None = None) -> int:
    chosen = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--lessons"] or list(PAGES)
    unknown = [name for name in chosen if name not in PAGES]
    if unknown:
        print(f"unknown page(s): {', '.join(unknown)}; the pages are {', '.join(PAGES)}")
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    data = tempfile.mkdtemp(prefix="playground-docs-")
    if "runs" in chosen:
        keep_runs(data)
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
                if name not in chosen:
                    continue
                tab.goto(f"http://127.0.0.1:{port}/{path}")
                tab.wait_for_selector(".st-key-global_seed", timeout=90_000)
                idle(tab)
                if name == "model_builder":
                    tab.locator(".st-key-mb_play button").first.click()
                    tab.wait_for_function("() => { const m = /Epoch (\\d+)/.exec(document.body.innerText); "
                                          "return m && +m[1] >= 40 }", timeout=120_000)
                if name == "sweeps":  # every member trains at once: the grid, the best member and the curves fill
                    tab.locator(".st-key-sw_play button").first.click()
                    tab.wait_for_function("() => { const m = /Epoch (\\d+) \\//.exec(document.body.innerText); "
                                          "return m && +m[1] >= 40 }", timeout=180_000)
                    idle(tab)
                if name == "runs":  # the three kept runs overlaid, their settings and their layers
                    tab.locator(".st-key-runs_selected").first.wait_for()
                    tab.get_by_text("Compare runs").first.scroll_into_view_if_needed()
                    tab.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')"
                                 ".scrollBy(0, document.evaluate(\"//h3[contains(., 'Compare runs')]\", document, null, "
                                 "9, null).singleNodeValue.getBoundingClientRect().top - 60)")
                    idle(tab)
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
