"""Start-up: from `streamlit run app.py` to /_stcore/health OK, and to a page painted and fully rendered in
headless Chromium (1440x900), beside a hello-world Streamlit app started the same way in the same run.

    python -m bench startup

Each repetition starts a fresh server for each app (a cold Python process; the disk cache is warm for all,
since they take turns) and opens its URL in a new browser tab as soon as the health check answers. The page
records, itself, when each thing was first painted (``bench.common.MARKS_JS``: a check on every animation
frame, the time taken two frames after it holds), so the figures do not include Playwright's polling:

- the hello-world app: its "hello world" line;
- the playground's Tensor Lab (its root URL): its verdict ("Same values, same shape ..."), its last section
  (the course's reference table) and the sidebar;
- the Model Builder opened by its URL (/model_builder): first paint, its title and the control bar's Play
  button; fully rendered, the decision boundary, the network and the loss curves drawn (each picture's
  <img> loaded and decoded, or its inline SVG laid out);
- the Runs page opened by its URL (/runs), with ``KEPT_RUNS`` runs kept in the data folder: its table and the
  overlaid loss curves of the two runs it compares first drawn (their picture loaded and decoded).

The apps take turns, in an order that rotates each repetition. A second visitor (a new tab on the now warm
server, once it is idle: the training worker the Model Builder warms after its page has started) is timed as well:
what a page costs once imports are done, the browser's share of it. Beside them, the cost of
`import torch` and of `import streamlit` in a fresh Python, measured in the same run.

Targets: the Model Builder's first paint at most 1.3x the hello-world app's first render and fully
rendered at most 1.6x (issue 11); the Tensor Lab's first render at most 1.5x (reported against it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.common import (
    HELLO_APP,
    ROOT,
    Budget,
    Row,
    Section,
    chromium,
    chromium_available,
    cpu_by_process,
    cpu_used,
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

TENSOR_LAB_TARGET = 1.5
PAINT_TARGET = 1.3
RENDERED_TARGET = 1.6
BUDGET_S = 150
TITLE = "Start-up"

HAS_TEXT = "!!document.body && document.body.textContent.includes({!r})"
# name: (url path, {mark: JS check}); "rendered" is the first render compared with the hello-world app's.
PAGES = {
    "hello": ("", {"rendered": HAS_TEXT.format("hello world")}),
    "tensor_lab": ("", {"rendered": " && ".join([
        "!!document.querySelector('.st-key-global_seed')",
        HAS_TEXT.format("Same values, same shape"),
        HAS_TEXT.format("PyTorch vs NumPy: the course's reference"),
        HAS_TEXT.format("shares memory on the CPU")])}),  # the reference table's last row: the page's last element
    "model_builder": ("model_builder", {
        "paint": "!!document.querySelector('.st-key-mb_heading h1') && !!document.querySelector('.st-key-mb_play button')",
        "rendered": " && ".join(image_drawn_js(f".st-key-mb_{name}") for name in ("boundary", "network", "curves")),
    }),
    # The Runs page (/runs) over KEPT_RUNS kept runs: its table, and the first two runs' loss curves overlaid.
    "runs": ("runs", {"rendered": "!!document.querySelector('[data-testid=\"stDataFrame\"] canvas') && "
                                  + image_drawn_js(".st-key-runs_chart_loss")}),
}
KEPT_RUNS = 12


def keep_runs(data_dir, n: int) -> None:
    """``n`` small finished runs in the run store of ``data_dir``, for the Runs page to list and compare."""
    import torch

    from playground.builder.config import RunConfig, TrainConfig
    from playground.builder.model import TrainedModel, build_model
    from playground.runs.store import SqliteRunStore

    store = SqliteRunStore(data_dir)
    for seed in range(n):
        config = RunConfig(train=TrainConfig(seed=seed, epochs=50))
        torch.manual_seed(seed)
        history = tuple({"epoch": e + 1, "train_loss": 1 / (e + 1), "val_loss": 1.1 / (e + 1), "train_acc": 0.9,
                         "val_acc": 0.88} for e in range(50))
        store.save(TrainedModel(config=config, state_dict=build_model(config.model).state_dict(), history=history))


def import_seconds(module: str, reps: int = 3) -> float:
    """Median wall time of `python -c "import <module>"` minus a bare `python -c pass`."""
    def once(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
        return time.perf_counter() - started

    bare = [once("pass") for _ in range(reps)]
    full = [once(f"import {module}") for _ in range(reps)]
    return median(full) - median(bare)


PAUSE_CODE = """
import threading, time
from playground import preload
if {preloaded}:
    preload.start()
    preload.wait()
gaps, stop = [], []
def watch():
    last = time.perf_counter()
    while not stop:
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
watcher = threading.Thread(target=watch)
watcher.start()
began = time.perf_counter()
import torch
took = time.perf_counter() - began
stop.append(1)
watcher.join()
print(max(gaps), took)
"""


def import_pause(preloaded: bool, reps: int = 3) -> tuple[float, float]:
    """Medians, in a fresh Python, of the longest pause of another thread (one that wakes every millisecond, as the
    web server's loop must to answer the browser) while ``import torch`` runs, and of the import's own time; with
    torch's libraries loaded first by playground/preload.py (not counted) or without."""
    pauses, times = [], []
    for _ in range(reps):
        out = subprocess.run([sys.executable, "-c", PAUSE_CODE.format(preloaded=preloaded)], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout.split()
        pauses.append(float(out[0]))
        times.append(float(out[1]))
    return median(pauses), median(times)


def one_start(browser, kind: str, script, cwd, data, log_path) -> dict:
    """A fresh server for ``kind``; each mark's seconds from just before Popen (first visitor) and from the
    second visitor's navigation; and the CPU seconds the server and Chromium used from just before Popen until the
    first visitor's last mark ("cpu: server", "cpu: chromium")."""
    path, checks = PAGES[kind]
    before = cpu_by_process(-1)  # Chromium's processes (no server yet)
    readings: list[dict] = []
    server = start_server(script, cwd, data_dir=data, log=log_path)
    try:
        url = f"{server.url}/{path}"
        first = open_with_marks(browser, url, checks, on_marks=lambda: readings.append(cpu_by_process(server.pid)))
        wait_until_idle(server.pid)  # the training worker the Model Builder warms after its page has started
        began = time.time()
        second = open_with_marks(browser, url, checks)
    finally:
        stop_server(server)
    used = cpu_used(before, readings[0])
    out = {"health": server.healthy_at - server.started, "cpu: chromium": used["chromium"],
           "cpu: server": sum(v for role, v in used.items() if not role.startswith("chromium"))}  # workers too
    for mark in first:
        out[mark] = first[mark] - server.started_wall
    for mark in second:
        out[f"second_{mark}"] = second[mark] - began
    return out


def measure(reps: int = 3, log=print, kinds: tuple[str, ...] = tuple(PAGES)) -> dict:
    """Rounds of starts (each app once, the order rotating) until ``reps`` rounds or 60% of the budget is spent
    (one round at least)."""
    budget = Budget(BUDGET_S)
    results: dict[str, list[dict]] = {kind: [] for kind in kinds}
    with scratch_dir("startup") as tmp, chromium() as browser:
        hello = write_app(tmp, HELLO_APP, "hello.py")
        data = tmp / "data"
        if "runs" in kinds:
            keep_runs(data, KEPT_RUNS)
        for rep in range(reps):
            if rep and budget.used(0.6):
                log(f"  stopping after {rep} round(s): 60% of the {budget.total:.0f} s budget is spent (a loaded machine)")
                break
            order = kinds[rep % len(kinds):] + kinds[:rep % len(kinds)]
            for kind in order:
                script, cwd = (hello, tmp) if kind == "hello" else (ROOT / "app.py", ROOT)
                r = one_start(browser, kind, script, cwd, data, tmp / f"{kind}-{rep}.log")
                results[kind].append(r)
                marks = ", ".join(f"{k} {v:.2f} s" for k, v in r.items() if not k.startswith(("wire", "second_wire")))
                log(f"  {kind:13} rep {rep}: {marks}")
    for kind in kinds:
        results[f"cpu_{kind}"] = median([x["cpu: server"] + x["cpu: chromium"] for x in results[kind]])
    results["cores"] = len(os.sched_getaffinity(0))
    results["import_torch"] = import_seconds("torch")
    results["import_streamlit"] = import_seconds("streamlit")
    results["pause_plain"], results["import_plain"] = import_pause(False)
    results["pause_preloaded"], results["import_preloaded"] = import_pause(True)
    log(f"  import torch {results['import_torch']:.2f} s, import streamlit {results['import_streamlit']:.2f} s; "
        f"longest pause of another thread during import torch {results['pause_plain'] * 1000:.0f} ms, "
        f"{results['pause_preloaded'] * 1000:.0f} ms with its libraries preloaded")
    return results


def run(reps: int = 3, write: bool = True, log=print) -> Section:
    stamp = section_stamp()
    r = measure(reps, log)

    def med(kind: str, key: str) -> float:
        return median([x[key] for x in r[kind]])

    def sp(kind: str, key: str) -> str:
        return f"{spread([x[key] for x in r[kind]])} s"

    hello = med("hello", "rendered")
    hello_second = med("hello", "second_rendered")
    ratios = {"tensor_lab": med("tensor_lab", "rendered") / hello, "paint": med("model_builder", "paint") / hello,
              "rendered": med("model_builder", "rendered") / hello}
    same = "hello-world app, same"
    first = "hello-world app's first render"
    rows = [
        Row("`streamlit run app.py` to /_stcore/health OK", med("model_builder", "health"), "s", same,
            med("hello", "health"), "reported", None, sp("model_builder", "health")),
        Row("Model Builder (opened by its URL): first paint, the title and the control bar", med("model_builder", "paint"),
            "s", first, hello, f"<= {PAINT_TARGET}x", ratios["paint"] <= PAINT_TARGET, sp("model_builder", "paint")),
        Row("Model Builder: fully rendered, the boundary, network and curves drawn", med("model_builder", "rendered"), "s",
            first, hello, f"<= {RENDERED_TARGET}x", ratios["rendered"] <= RENDERED_TARGET, sp("model_builder", "rendered")),
        Row("Tensor Lab (the root URL) fully rendered, first visitor", med("tensor_lab", "rendered"), "s", first, hello,
            f"<= {TENSOR_LAB_TARGET}x", ratios["tensor_lab"] <= TENSOR_LAB_TARGET, sp("tensor_lab", "rendered")),
        Row(f"Runs page (/runs, {KEPT_RUNS} kept runs) fully rendered: its table and two runs' curves, first visitor",
            med("runs", "rendered"), "s", first, hello, "reported (issue 27: the Model Builder's level)", None,
            sp("runs", "rendered") + f"; the Model Builder fully rendered {med('model_builder', 'rendered'):.2f} s"),
        Row("Runs page, a second visitor: fully rendered", med("runs", "second_rendered"), "s",
            "hello-world app's second visitor", hello_second, "reported", None, sp("runs", "second_rendered")),
        Row("CPU used by a first visit, `Popen` to fully rendered: the server and Chromium together",
            r["cpu_model_builder"], "s", same, r["cpu_hello"], "reported", None,
            f"server {med('model_builder', 'cpu: server'):.2f} s, Chromium {med('model_builder', 'cpu: chromium'):.2f} s; "
            f"the hello-world app's {med('hello', 'cpu: server'):.2f} s and {med('hello', 'cpu: chromium'):.2f} s"),
        Row(f"Model Builder: the least time that CPU allows on {r['cores']} cores (the CPU / {r['cores']}), "
            "fully rendered", r["cpu_model_builder"] / r["cores"], "s", first, hello, f"<= {RENDERED_TARGET}x", None),
        Row("Model Builder, a second visitor (server warm and idle): first paint", med("model_builder", "second_paint"), "s",
            "hello-world app's second visitor", hello_second, "reported", None, sp("model_builder", "second_paint")),
        Row("Model Builder, a second visitor: fully rendered", med("model_builder", "second_rendered"), "s",
            "hello-world app's second visitor", hello_second, "reported", None, sp("model_builder", "second_rendered")),
        Row("Tensor Lab, a second visitor: fully rendered", med("tensor_lab", "second_rendered"), "s",
            "hello-world app's second visitor", hello_second, "reported", None, sp("tensor_lab", "second_rendered")),
        Row("`import torch` in a fresh Python", r["import_torch"], "s", "`import streamlit`", r["import_streamlit"],
            "reported", None),
        Row("longest pause of another thread during `import torch`, its libraries preloaded (playground/preload.py)",
            r["pause_preloaded"] * 1000, "ms", "the same without the preload", r["pause_plain"] * 1000, "reported", None),
        Row("`import torch` after the preload (the preload's own time not counted; it holds no GIL)",
            r["import_preloaded"], "s", "`import torch` alone", r["import_plain"], "reported", None),
    ]
    section = Section(TITLE)
    section.add(stamp, "",
                f"Medians of {len(r['model_builder'])} fresh starts of each app, taking turns (the bench's servers run "
                "with `--server.disconnectedSessionTTL 5`, which does not affect start-up), at 1440x900. Times from "
                "just before `Popen` of `python -m streamlit run`, to when the page itself saw the thing painted.", "",
                table(rows), "")
    section.add(*explain(r, ratios))
    if write:
        write_sections([section])
    return section


def explain(r: dict, ratios: dict[str, float]) -> list[str]:
    """What the figures say, each target met or missed and where the time went (the numbers from this run)."""

    def med(kind: str, key: str) -> float:
        values = [x[key] for x in r[kind] if key in x]
        return median(values) if values else float("nan")

    def gap(kind: str, later: str, earlier: str, prefix: str = "") -> float:
        values = [x[prefix + later] - x[prefix + earlier] for x in r[kind] if prefix + later in x and prefix + earlier in x]
        return median(values) if values else float("nan")

    hello, paint, rendered = med("hello", "rendered"), med("model_builder", "paint"), med("model_builder", "rendered")
    verdict = {True: "met", False: "not met"}
    lines = [
        f"Model Builder: first paint {ratios['paint']:.2f}x the hello-world app's first render "
        f"({verdict[ratios['paint'] <= PAINT_TARGET]}, target {PAINT_TARGET}x), fully rendered "
        f"{ratios['rendered']:.2f}x ({verdict[ratios['rendered'] <= RENDERED_TARGET]}, target {RENDERED_TARGET}x): "
        f"{paint - hello:.2f} s and {rendered - hello:.2f} s more than the hello-world app. Tensor Lab: "
        f"{ratios['tensor_lab']:.2f}x ({verdict[ratios['tensor_lab'] <= TENSOR_LAB_TARGET]}, target "
        f"{TENSOR_LAB_TARGET}x).",
        "",
        "Where the Model Builder's first visit goes (medians; the page's websocket timed as the browser received it):",
        "",
        "| step | Model Builder | hello-world app |",
        "|---|---|---|",
        f"| `Popen` to the browser connected (server start, the app shell's HTML and scripts) | "
        f"{med('model_builder', 'wire: connected'):.2f} s | {med('hello', 'wire: connected'):.2f} s |",
        f"| connected to the page's `set_page_config` (views/page_frame.py: no torch imported before it) | "
        f"{gap('model_builder', 'wire: page config', 'wire: connected'):.2f} s | "
        f"{gap('hello', 'wire: page config', 'wire: connected'):.2f} s (no page config) |",
        f"| connected to the title and control bar painted (drawn before the page imports torch) | "
        f"{gap('model_builder', 'paint', 'wire: connected'):.2f} s | "
        f"{gap('hello', 'rendered', 'wire: connected'):.2f} s (its whole page) |",
        f"| connected to the first run's end (torch and the page's modules imported, the page computed and sent) | "
        f"{gap('model_builder', 'wire: run finished', 'wire: connected'):.2f} s | "
        f"{gap('hello', 'wire: run finished', 'wire: connected'):.2f} s |",
        f"| the run's end to the pictures drawn (the browser: scripts for each kind of widget, React, the images) | "
        f"{gap('model_builder', 'rendered', 'wire: run finished'):.2f} s | "
        f"{gap('hello', 'rendered', 'wire: run finished'):.2f} s |",
        f"| a second visitor (server warm, the browser's cache empty): the run's end to the control bar painted | "
        f"{gap('model_builder', 'paint', 'wire: run finished', 'second_'):.2f} s | "
        f"{gap('hello', 'rendered', 'wire: run finished', 'second_'):.2f} s |",
        "",
        f"`import torch` takes {r['import_torch']:.2f} s in a fresh Python here (same run): a first visitor's pictures "
        f"cannot come before it. They are drawn {rendered - paint:.2f} s after the control bar.",
    ]
    if "cpu_model_builder" in r and "cpu_hello" in r:
        cores, busy = r["cores"], r["cpu_hello"] / (r["cores"] * hello)
        least = r["cpu_model_builder"] / cores
        allowed = RENDERED_TARGET * hello * cores * busy  # CPU seconds a 1.6x visit could use at the hello app's rate
        lines += [
            "",
            f"The CPU a first visit needs, the server's and Chromium's (they share this machine's {cores} cores): "
            f"{r['cpu_model_builder']:.2f} s for the Model Builder (server {med('model_builder', 'cpu: server'):.2f} s, "
            f"Chromium {med('model_builder', 'cpu: chromium'):.2f} s), {r['cpu_hello']:.2f} s for the hello-world app "
            f"(server {med('hello', 'cpu: server'):.2f} s, Chromium {med('hello', 'cpu: chromium'):.2f} s). Even with "
            f"every core busy from `Popen` to the last picture, the Model Builder could not be fully rendered before "
            f"{least:.2f} s, {least / hello:.2f}x the hello-world app's first render (target {RENDERED_TARGET}x). The "
            f"hello-world app keeps the cores {busy:.0%} busy over its own first render; as busy as that, a visit "
            f"fully rendered at {RENDERED_TARGET}x could use {allowed:.2f} s of CPU, {r['cpu_model_builder'] - allowed:.2f} s "
            f"less than the Model Builder's, while `import torch` alone is {r['import_torch']:.2f} s of it (everything "
            "the page shows is computed by PyTorch on the server, so no picture comes before that import).",
        ]
    second, hello_second = med("model_builder", "second_rendered"), med("hello", "second_rendered")
    floor = med("model_builder", "health") + second
    lines += [
        "",
        f"Without any import: a second visitor, on a warm and idle server, has the Model Builder fully rendered "
        f"{second:.2f} s after navigating, the hello-world app {hello_second:.2f} s ({second / hello_second:.2f}x; the "
        f"server's run ends {gap('model_builder', 'wire: run finished', 'wire: connected', 'second_'):.2f} s after the "
        "browser connects, the rest is the browser drawing the page's widgets and pictures). A server's first visit "
        f"cannot be quicker than its start ({med('model_builder', 'health'):.2f} s) and that: {floor:.2f} s, "
        f"{floor / hello:.2f}x the hello-world app's first render, before `import torch` "
        f"({r['import_torch']:.2f} s) adds anything.",
    ]
    if "pause_plain" in r:
        lines += [
            "",
            f"While `import torch` maps and initialises libtorch_cpu.so it holds the GIL for "
            f"{r['pause_plain'] * 1000:.0f} ms at a stretch, and the web server can neither send the page's elements nor "
            "answer the browser's requests for their scripts. The Model Builder's first visit loads those libraries "
            "first on a thread that does not hold the GIL (playground/preload.py) and waits for them after drawing the "
            f"bar: the longest pause during the import that follows is {r['pause_preloaded'] * 1000:.0f} ms.",
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Start-up time against a hello-world app")
    parser.add_argument("--reps", type=int, default=3)
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
