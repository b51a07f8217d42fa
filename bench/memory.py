"""Memory: the server's resident memory at rest, its growth per session, and after the sessions close.

    python -m bench memory

The real app is started with `--server.disconnectedSessionTTL 5` (Streamlit 1.67's option; its default
is 120 s), so that a closed tab's session is dropped 5 s later instead of two minutes later. RSS is read
with psutil: the server process, and its child processes (the training workers) separately.

1. Fresh: the server just answered its health check.
2. At rest: one warm-up visitor has opened every page (Tensor Lab, Autograd, Model Builder, Runs) and
   left, and its session has expired: the modules every page imports are loaded, the worker pool has
   started. This is the figure growth is measured from.
3. N sessions: N browser contexts each open the Tensor Lab, go to Autograd and then the Model Builder
   through the sidebar, and train the default model (a few epochs) to the end. They stay open.
   Growth per session = (server RSS now - at rest) / N. Target: at most 30 MB per session, beyond the
   worker pool (whose processes are reported on their own).
4. After: the contexts close; once the sessions expire, the server RSS again (target: back near rest).

The baseline is a hello-world app put through the same steps (N sessions open it) in the same run.
"""

from __future__ import annotations

import re
import time

from bench.common import (
    HELLO_APP,
    ROOT,
    SESSION_TTL_S,
    Budget,
    Row,
    Section,
    chromium,
    chromium_available,
    new_tab,
    scratch_dir,
    section_stamp,
    start_server,
    stop_server,
    table,
    write_app,
    write_sections,
)

TITLE = "Memory"
TARGET_MB = 30.0
SESSIONS = 3
TRAIN_EPOCHS = 10
MB = 2**20
IDLE_JS = """() => {
    const status = document.querySelector('[data-testid="stStatusWidget"]');
    const running = status && /Running|Connecting/.test(status.innerText);
    return !running && !document.querySelector('[data-stale="true"]');
}"""


def rss(pid: int) -> tuple[float, float, int]:
    """(server RSS, children's RSS summed, number of children), in MB."""
    import psutil

    proc = psutil.Process(pid)
    children = proc.children(recursive=True)
    kids = 0.0
    for child in children:
        try:
            kids += child.memory_info().rss
        except psutil.Error:
            pass
    return proc.memory_info().rss / MB, kids / MB, len(children)


def settle(seconds: float) -> None:
    time.sleep(seconds)


def idle(tab) -> None:
    tab.wait_for_timeout(200)
    tab.wait_for_function(IDLE_JS, timeout=120_000)


def visit_playground(browser, url: str, train: bool, seed: int = 0):
    """One session: Tensor Lab, then Autograd and the Model Builder through the sidebar; train if asked."""
    context, tab = new_tab(browser, timeout_ms=120_000)
    tab.goto(url)
    tab.get_by_text(re.compile(r"Same values, same shape")).first.wait_for()
    idle(tab)
    tab.get_by_role("link", name="Autograd").first.click()
    tab.locator(".st-key-ag_view").wait_for()
    idle(tab)
    tab.get_by_role("link", name="Model Builder").first.click()
    tab.locator(".st-key-mb_play button").wait_for()
    idle(tab)
    if train:
        # Each session its own seed (a link sets it): the same setup twice would open the kept run instead.
        tab.goto(f"{url}/model_builder?epochs={TRAIN_EPOCHS}&seed={seed}")
        tab.locator(".st-key-mb_play button").first.wait_for()
        idle(tab)
        tab.locator(".st-key-mb_play button").first.click()
        tab.get_by_text(re.compile(r"Epoch \d+(?: / \d+)? · finished")).first.wait_for(timeout=180_000)
        idle(tab)
    return context


def visit_runs(browser, url: str):
    context, tab = new_tab(browser, timeout_ms=120_000)
    tab.goto(f"{url}/runs")
    tab.locator(".st-key-global_seed").wait_for()
    idle(tab)
    return context


def visit_hello(browser, url: str):
    context, tab = new_tab(browser, timeout_ms=60_000)
    tab.goto(url)
    tab.get_by_text("hello world").first.wait_for()
    return context


def measure_app(browser, script, cwd, data, log_path, visit, warm_up, sessions: int, log, name: str,
                budget, share: float) -> dict:
    server = start_server(script, cwd, data_dir=data, log=log_path)
    out: dict = {}
    try:
        settle(1.0)
        out["fresh"] = rss(server.pid)
        for context in warm_up(server.url):
            context.close()
        settle(SESSION_TTL_S + 4)
        out["rest"] = rss(server.pid)
        log(f"  {name}: fresh {out['fresh'][0]:.0f} MB, at rest {out['rest'][0]:.0f} MB "
            f"(+ {out['rest'][2]} child processes, {out['rest'][1]:.0f} MB)")
        contexts = []
        for i in range(sessions):
            if i and budget.used(share):
                log(f"  {name}: stopping at {i} session(s): the time budget is being spent (a loaded machine)")
                break
            contexts.append(visit(server.url, i + 1))
            log(f"  {name}: session {i + 1} open, server {rss(server.pid)[0]:.0f} MB")
        settle(2.0)
        out["open"] = rss(server.pid)
        out["sessions"] = len(contexts)
        for context in contexts:
            context.close()
        settle(SESSION_TTL_S + 6)
        out["after"] = rss(server.pid)
        log(f"  {name}: {len(contexts)} open {out['open'][0]:.0f} MB, after closing {out['after'][0]:.0f} MB")
    finally:
        stop_server(server)
    return out


def measure(sessions: int = SESSIONS, log=print) -> dict:
    budget = Budget(200)
    with scratch_dir("memory") as tmp, chromium() as browser:
        data = tmp / "data"
        data.mkdir()
        hello = write_app(tmp, HELLO_APP, "hello.py")
        base = measure_app(browser, hello, tmp, None, tmp / "hello.log", lambda url, seed: visit_hello(browser, url),
                           lambda url: [visit_hello(browser, url)], sessions, log, "hello-world", budget, 0.2)
        app = measure_app(browser, ROOT / "app.py", ROOT, data, tmp / "app.log",
                          lambda url, seed: visit_playground(browser, url, train=True, seed=seed),
                          lambda url: [visit_playground(browser, url, train=False), visit_runs(browser, url)],
                          sessions, log, "playground", budget, 0.75)
    return {"hello": base, "app": app, "sessions": sessions}


def run(sessions: int = SESSIONS, write: bool = True, log=print) -> Section:
    stamp = section_stamp()
    r = measure(sessions, log)
    a, h, n = r["app"], r["hello"], r["app"]["sessions"]
    per = (a["open"][0] - a["rest"][0]) / n
    per_hello = (h["open"][0] - h["rest"][0]) / h["sessions"]
    back = a["after"][0] - a["rest"][0]
    rows = [
        Row("server RSS, fresh (health OK)", a["fresh"][0], "MB", "hello-world app, same", h["fresh"][0], "reported"),
        Row("server RSS at rest (every page loaded once, session expired)", a["rest"][0], "MB",
            "hello-world app, same", h["rest"][0], "reported"),
        Row("training workers at rest (child processes)", a["rest"][1], "MB", "", None, "reported", None,
            f"{a['rest'][2]} process(es): the worker pool and multiprocessing's resource tracker"),
        Row(f"server growth per session ({n} open, each trained the default model)", per, "MB",
            "hello-world app, per session", per_hello, f"<= {TARGET_MB:g} MB", per <= TARGET_MB),
        Row(f"training workers with {n} sessions open", a["open"][1], "MB", "", None, "reported", None,
            f"{a['open'][2]} process(es)"),
        Row(f"server RSS {SESSION_TTL_S + 6} s after the contexts closed", a["after"][0], "MB", "at rest",
            a["rest"][0], "back near rest", abs(back) <= max(TARGET_MB, 0.1 * a["rest"][0]),
            f"{back:+.0f} MB from rest"),
    ]
    s = Section(TITLE)
    s.add(stamp, "",
          f"psutil RSS. Servers run with `--server.disconnectedSessionTTL {SESSION_TTL_S}` (Streamlit 1.67's option, "
          "default 120 s), so closed sessions go within seconds. Each playground session opens the Tensor Lab, "
          f"then Autograd and the Model Builder through the sidebar, and trains the default model for {TRAIN_EPOCHS} "
          "epochs to the end; the hello-world sessions open its page. \"Back near rest\": within the larger of "
          f"{TARGET_MB:g} MB and 10% of rest. Python rarely hands freed memory back to the system, so RSS after the "
          "sessions close shows what is still held, not what is reusable.", "", table(rows))
    if write:
        write_sections([s])
    return s


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Server memory at rest and per session")
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    args = parser.parse_args(argv)
    if not chromium_available():
        s = Section(TITLE, ["not measured: Chromium (/usr/bin/chromium) or Playwright is missing."])
        write_sections([s])
        print(s.text())
        return 0
    print(run(args.sessions).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
