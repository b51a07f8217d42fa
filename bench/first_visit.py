"""A server's first visit (issue 27 item 1): how long until the page says something, until it is ready, and how
long Play waits for its first epoch, beside a hello-world Streamlit app started the same way in the same run.

    python -m bench first_visit

Each round starts a fresh server (a cold Python process) for each of:

- the hello-world app: its "hello world" line drawn (the baseline);
- the Tensor Lab (the root URL): the first thing in the page's main area (the "Loading PyTorch…" note that
  views/page_frame.py draws on a server's first run) and the page fully rendered;
- the Model Builder, Play pressed the moment it is painted (the impatient visitor): the time from the press to
  the epoch line reading epoch 1 or more (a trainer that is still starting is waited for);
- the Model Builder, Play pressed once the page is fully rendered and the server idle: the same time from the press
  (issue 27's target: within 1 s), and the time from `Popen` to the page ready (fully rendered).

The press is a click in the page (the button's own ``click()``), and its times are taken in the page itself, so
Playwright's polling is not in them.
"""

from __future__ import annotations

import time

from bench.common import (
    HELLO_APP,
    ROOT,
    Budget,
    Row,
    Section,
    chromium,
    chromium_available,
    image_drawn_js,
    median,
    open_with_marks,
    scratch_dir,
    section_stamp,
    spread,
    start_server,
    stop_server,
    table,
    wait_until_idle,
    write_app,
    write_sections,
)

TITLE = "First visit: the loading note, the page ready, Play's first epoch"
BUDGET_S = 150
PLAY_TARGET_S = 1.0  # issue 27: Play's first epoch within 1 s of the press on an idle server
HAS_TEXT = "!!document.body && document.body.textContent.includes({!r})"
MAIN_TEXT = "(() => {{ const m = document.querySelector('[data-testid=\"stMain\"]'); return !!(m && m.textContent.includes({!r})); }})()"
RENDERED_MB = " && ".join(image_drawn_js(f".st-key-mb_{name}") for name in ("boundary", "network", "curves"))

# Click Play and resolve, two frames after the epoch line first reads epoch 1 or more, with the milliseconds since
# the click (and the wall-clock time of the click, for setting it against the server's start).
PLAY_JS = """async () => {
    const button = document.querySelector('.st-key-mb_play button');
    const clicked = performance.timeOrigin + performance.now();
    const t0 = performance.now();
    button.click();
    return await new Promise((resolve, reject) => {
        const limit = setTimeout(() => reject(new Error('no epoch within 90 s')), 90000);
        const check = () => {
            const bar = document.querySelector('.st-key-mb_bar');
            const m = bar && /Epoch (\\d+)/.exec(bar.textContent);
            if (m && Number(m[1]) >= 1) {
                requestAnimationFrame(() => requestAnimationFrame(() => {
                    clearTimeout(limit);
                    resolve([performance.now() - t0, clicked]);
                }));
            } else {
                requestAnimationFrame(check);
            }
        };
        check();
    });
}"""


def hello_round(browser, tmp, hello_script, rep: int) -> dict:
    server = start_server(hello_script, tmp, log=tmp / f"hello-{rep}.log")
    try:
        marks = open_with_marks(browser, server.url, {"rendered": HAS_TEXT.format("hello world")})
    finally:
        stop_server(server)
    return {"rendered": marks["rendered"] - server.started_wall}


def tensor_lab_round(browser, tmp, data, rep: int) -> dict:
    from views.page_frame import LOADING_NOTE

    server = start_server(ROOT / "app.py", ROOT, data_dir=data, log=tmp / f"tensor-lab-{rep}.log")
    try:
        marks = open_with_marks(browser, server.url, {
            "note": MAIN_TEXT.format(LOADING_NOTE),
            "rendered": HAS_TEXT.format("PyTorch vs NumPy: the course's reference"),
        })
    finally:
        stop_server(server)
    return {name: at - server.started_wall for name, at in marks.items() if not name.startswith("wire")}


def builder_round(browser, tmp, data, rep: int, at_once: bool) -> dict:
    """A fresh server's Model Builder; Play pressed as soon as it is painted (``at_once``) or once the page is fully
    rendered and the server idle. Seconds from `Popen` to the page ready, and from the press to epoch 1."""
    server = start_server(ROOT / "app.py", ROOT, data_dir=data, log=tmp / f"builder-{rep}-{at_once}.log")
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        tab = context.new_page()
        tab.set_default_timeout(120_000)
        tab.goto(f"{server.url}/model_builder")
        out: dict[str, float] = {}
        if at_once:
            tab.wait_for_function("() => !!document.querySelector('.st-key-mb_play button')", polling="raf")
        else:
            tab.wait_for_function(f"() => {RENDERED_MB}", polling="raf")
            out["ready"] = time.time() - server.started_wall
            out["idle_wait"] = wait_until_idle(server.pid, timeout_s=30)
        took_ms, clicked = tab.evaluate(PLAY_JS)
        out["press"] = clicked / 1000.0 - server.started_wall
        out["play"] = took_ms / 1000.0
    finally:
        context.close()
        stop_server(server)
    return out


def measure(reps: int = 2, log=print) -> dict:
    budget = Budget(BUDGET_S)
    results: dict[str, list[dict]] = {"hello": [], "tensor_lab": [], "at_once": [], "idle": []}
    with scratch_dir("first-visit") as tmp, chromium() as browser:
        hello = write_app(tmp, HELLO_APP, "hello.py")
        data = tmp / "data"
        for rep in range(reps):
            if rep and budget.used(0.5):
                log(f"  stopping after {rep} round(s): half of the {budget.total:.0f} s budget is spent")
                break
            for kind in ("hello", "tensor_lab", "at_once", "idle"):
                if kind == "hello":
                    r = hello_round(browser, tmp, hello, rep)
                elif kind == "tensor_lab":
                    r = tensor_lab_round(browser, tmp, data, rep)
                else:
                    r = builder_round(browser, tmp, data, rep, at_once=kind == "at_once")
                results[kind].append(r)
                log(f"  {kind:10} rep {rep}: " + ", ".join(f"{k} {v:.2f} s" for k, v in r.items()))
    return results


def run(reps: int = 2, write: bool = True, log=print) -> Section:
    stamp = section_stamp()
    r = measure(reps, log)

    def med(kind: str, key: str) -> float:
        return median([x[key] for x in r[kind]])

    def sp(kind: str, key: str) -> str:
        return f"{spread([x[key] for x in r[kind]])} s"

    hello = med("hello", "rendered")
    idle_play = med("idle", "play")
    first = "hello-world app's first render"
    rows = [
        Row("Tensor Lab, a server's first visit: the loading note painted (the page's first words)",
            med("tensor_lab", "note"), "s", first, hello, "reported", None, sp("tensor_lab", "note")),
        Row("Tensor Lab, a server's first visit: fully rendered", med("tensor_lab", "rendered"), "s", first, hello,
            "reported", None, sp("tensor_lab", "rendered")),
        Row("Model Builder, a server's first visit: `Popen` to ready (Play, the boundary, network and curves drawn)",
            med("idle", "ready"), "s", first, hello, "reported", None, sp("idle", "ready")),
        Row("Play pressed on the ready page of an idle server: the press to the epoch line at epoch 1", idle_play, "s",
            "-", None, f"<= {PLAY_TARGET_S:.0f} s", idle_play <= PLAY_TARGET_S, sp("idle", "play")),
        Row("Play pressed the moment the Model Builder is painted (a server's first visit): the press to epoch 1",
            med("at_once", "play"), "s", "-", None, "reported", None,
            sp("at_once", "play") + f"; pressed {med('at_once', 'press'):.2f} s after `Popen`"),
    ]
    section = Section(TITLE)
    section.add(stamp, "",
                f"Medians of {len(r['idle'])} round(s), each a fresh server for each line (1440x900, headless Chromium). "
                "Times from just before `Popen` of `python -m streamlit run`, or from the press, to when the page itself "
                "saw the thing painted. The server's first run starts a trainer at once (views/page_frame.py), niced "
                "before it imports torch (playground/execution/worker_start.py).", "", table(rows), "")
    if write:
        write_sections([section])
    return section


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="A server's first visit against a hello-world app")
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args(argv)
    if not chromium_available():
        section = Section(TITLE, ["not measured: Chromium (/usr/bin/chromium) or Playwright is missing."])
        write_sections([section])
        print(section.text())
        return 0
    print(run(args.reps).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
