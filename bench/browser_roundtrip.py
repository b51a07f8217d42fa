"""Browser round trip: from a click (or Enter) in headless Chromium to the updated page on screen.

    python -m bench browser_roundtrip

The real app (`streamlit run app.py`) and a trivial app run side by side; one tab each page. A timed
interaction starts just before Playwright's click (or the Enter key after the text is typed, untimed)
and ends when the browser has received Streamlit's ``script_finished`` message for the rerun it caused
(read from the page's own websocket) and painted twice after it (two animation frames), so what the
rerun changed is on screen. The baseline is a click on a radio of the trivial app, timed the same way,
taking turns with every interaction. No target is set for this one (the issue asks for the figures);
the server-side part of each is in the "Interaction latency" section.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.common import (
    ROOT,
    TRIVIAL_APP,
    Budget,
    Row,
    Section,
    chromium,
    chromium_available,
    median,
    new_tab,
    next_paint,
    scratch_dir,
    script_finished_kind,
    section_stamp,
    spread,
    start_server,
    stop_server,
    table,
    write_app,
    write_sections,
)

TITLE = "Browser round trip"


@dataclass
class Step:
    page: str  # url path on the app ("" is Tensor Lab); "trivial" for the baseline
    name: str
    act: Callable  # (tab, i) -> callable: untimed preparation, returns the timed action
    setup: Callable | None = None  # (tab) -> None, once
    times: list[float] = field(default_factory=list)
    skipped: str = ""


def _click_option(container: str, label: str):
    def timed(tab):
        tab.locator(container).get_by_text(label, exact=True).first.click()
    return timed


def _enter(selector: str, text: str):
    def prepare(tab):
        box = tab.locator(selector).first
        box.fill(text)
        return lambda tab: box.press("Enter")
    return prepare


def steps(extended: bool = False) -> list[Step]:
    """One or two interactions a page (each in its own tab); ``extended`` adds the rest."""
    ops = ("sum", "mean", "pow")
    core = [
        Step("", "Tensor Lab: change the op", lambda tab, i: _click_option(".st-key-tl_op", ops[i % 3])),
        Step("", "Tensor Lab: press the cat preset",
             lambda tab, i: _then(tab, lambda t: t.get_by_role("button", name="Course: [1, 2, 3, 4] ** 2").click(),
                                  lambda t: t.get_by_role("button", name="Course: cat along dim 1").click())),
        Step("autograd", "Autograd: type a new expression + Enter",
             lambda tab, i: _enter(".st-key-ag_expression input",
                                   ("(x * x).sum()", "x.sin().sum()", "x.pow(2).sum()")[i % 3] + " " * (i // 3))(tab)),
        Step("model_builder", "Model Builder: toggle an input feature (x₁²)",
             lambda tab, i: (lambda t: t.get_by_text("x₁²", exact=True).first.click())),
        Step("runs", "Runs: type in the filter + Enter",
             lambda tab, i: _enter(".st-key-runs_filter_text input", ("8", "tanh", "")[i % 3])(tab)),
    ]
    extra = [
        Step("", "Tensor Lab: type a new literal + Enter",
             lambda tab, i: _enter(".st-key-tl_literal input", f"[[{i}, {i + 1}], [{i + 2}, {i + 3}]]")(tab)),
        Step("", "Tensor Lab: toggle keepdim",
             lambda tab, i: (lambda t: t.locator(".st-key-tl_keepdim label").first.click()),
             setup=lambda tab: _setup_keepdim(tab)),
        Step("autograd", "Autograd: switch the view (graph <-> f and f')",
             lambda tab, i: _click_option(".st-key-ag_view", ("f and f′ (1-D)", "Graph and gradients")[i % 2])),
        Step("model_builder", "Model Builder: change a layer's width + Enter",
             lambda tab, i: _enter(".st-key-mb_width_0 input", str(4 + i % 8))(tab)),
    ]
    return core + (extra if extended else [])


def _then(tab, untimed, timed):
    """Run ``untimed`` (and wait for its rerun), then hand back ``timed``."""
    timed_run(tab, untimed)
    return timed


def _setup_keepdim(tab) -> None:
    timed_run(tab, _click_option(".st-key-tl_op", "sum"))
    box = tab.locator(".st-key-tl_all_dims input")
    if box.is_checked():
        timed_run(tab, lambda t: t.locator(".st-key-tl_all_dims label").first.click())


class Socket:
    """The page's Streamlit websocket, to wait for the end of the rerun an action causes."""

    def __init__(self, tab) -> None:
        self.ws = None
        tab.on("websocket", self._opened)

    def _opened(self, ws) -> None:
        if "_stcore/stream" in ws.url:
            self.ws = ws


SOCKETS: dict[int, Socket] = {}
IDLE_JS = """() => {
    const status = document.querySelector('[data-testid="stStatusWidget"]');
    const running = status && /Running|Connecting/.test(status.innerText);
    return !running && !document.querySelector('[data-stale="true"]');
}"""


def timed_run(tab, action, timeout_ms: float = 20_000) -> float:
    """Seconds from just before ``action(tab)`` to the rerun's script_finished received and painted."""
    ws = SOCKETS[id(tab)].ws
    with ws.expect_event("framereceived", predicate=lambda p: script_finished_kind(p) == "FINISHED_SUCCESSFULLY",
                         timeout=timeout_ms):
        started = time.perf_counter()
        action(tab)
    next_paint(tab)
    return time.perf_counter() - started


def open_tab(browser, url: str, ready: str):
    context, tab = new_tab(browser, timeout_ms=20_000)
    SOCKETS[id(tab)] = Socket(tab)
    tab.goto(url)
    tab.locator(ready).first.wait_for()
    deadline = time.monotonic() + 60
    while SOCKETS[id(tab)].ws is None and time.monotonic() < deadline:
        tab.wait_for_timeout(50)
    tab.wait_for_function(IDLE_JS, timeout=120_000)  # the first run has finished
    tab.wait_for_timeout(300)
    return context, tab


def measure(reps: int = 5, log=print, extended: bool = False) -> dict:
    from bench.interaction import seed_runs

    all_steps = steps(extended)
    baseline: list[float] = []
    budget = Budget(150)
    with scratch_dir("roundtrip") as tmp, chromium() as browser:
        data = tmp / "data"
        data.mkdir()
        os.environ["PLAYGROUND_DATA_DIR"] = str(data)
        seed_runs()
        trivial = write_app(tmp, TRIVIAL_APP, "trivial.py")
        servers = [start_server(ROOT / "app.py", ROOT, data_dir=data, log=tmp / "app.log"),
                   start_server(trivial, tmp, log=tmp / "trivial.log")]
        contexts = []
        try:
            app, triv = servers
            base_ctx, base_tab = open_tab(browser, triv.url, ".st-key-choice")
            contexts.append(base_ctx)
            tabs = {}
            for step in all_steps:  # a tab (a session) for each, so that one's changes never hide another's widget
                ctx, tab = open_tab(browser, f"{app.url}/{step.page}", ".st-key-global_seed")
                contexts.append(ctx)
                tabs[step.name] = tab
                if step.setup:
                    try:
                        step.setup(tab)
                    except Exception as exc:  # noqa: BLE001
                        step.skipped = f"setup failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"[:200]
            choices = ("b", "c", "a")
            for rep in range(-1, reps):  # one warm-up round
                if rep > 0 and budget.used(0.75):
                    log(f"  stopping after {rep} repetitions: 75% of the {budget.total:.0f} s budget is spent")
                    break
                i = rep + 1
                t = timed_run(base_tab, _click_option(".st-key-choice", choices[i % 3]))
                if rep >= 0:
                    baseline.append(t)
                for step in all_steps:
                    if step.skipped:
                        continue
                    tab = tabs[step.name]
                    try:
                        action = step.act(tab, i)
                        t = timed_run(tab, action)
                    except Exception as exc:  # noqa: BLE001 - reported as not measured
                        step.skipped = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"[:200]
                        log(f"  {step.name}: not measured ({step.skipped})")
                        continue
                    if rep >= 0:
                        step.times.append(t)
        finally:
            for ctx in contexts:
                ctx.close()
            for server in servers:
                stop_server(server)
    for step in all_steps:
        if step.times:
            log(f"  {step.name}: median {median(step.times) * 1000:.0f} ms")
    log(f"  baseline (trivial app, click a radio): median {median(baseline) * 1000:.0f} ms")
    return {"baseline": baseline, "steps": all_steps}


def run(reps: int = 3, write: bool = True, log=print, extended: bool = False) -> Section:
    stamp = section_stamp()
    r = measure(reps, log, extended)
    base = median(r["baseline"]) * 1000
    rows = []
    for step in r["steps"]:
        if not step.times:
            rows.append(Row(step.name, None, "ms", "trivial app: click a radio", base, "", None,
                            f"not measured: {step.skipped or 'no samples'}"))
            continue
        rows.append(Row(step.name, median(step.times) * 1000, "ms", "trivial app: click a radio", base,
                        "none (reported)", None, f"n={len(step.times)}, {spread([t * 1000 for t in step.times])} ms"))
    s = Section(TITLE)
    s.add(stamp, "",
          f"Medians of up to {reps} repetitions (n below) after one warm-up, each interaction taking turns with the baseline. Time "
          "from just before the click (or the Enter key, the text typed untimed) to Streamlit's `script_finished` "
          "message received on the page's websocket plus two animation frames (painted). Baseline: a radio click "
          f"in a trivial app, median {base:.0f} ms ({spread([t * 1000 for t in r['baseline']])} ms). Playwright's "
          "own overhead (actionability checks, the round trip to the browser) is in both. Each interaction has "
          "its own tab (session). `python -m bench.browser_roundtrip --all` adds the literal, keepdim, Autograd "
          "view switch and layer width.", "", table(rows))
    if write:
        write_sections([s])
    return s


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Browser round trip per interaction")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--all", action="store_true", help="also the literal, keepdim, view switch and width")
    args = parser.parse_args(argv)
    if not chromium_available():
        s = Section(TITLE, ["not measured: Chromium (/usr/bin/chromium) or Playwright is missing."])
        write_sections([s])
        print(s.text())
        return 0
    print(run(args.reps, extended=args.all).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
