"""Live training: the page's refresh rate while a run trains, the engine's speed with the page open versus
with no page, and concurrency (1, 2 and 4 sessions training at once; an idle session's rerun meanwhile).

    python -m bench training_live

With the page open: the real app in headless Chromium, the Model Builder opened, its Epochs and Seed
inputs set (typed, Enter) and Play pressed. A MutationObserver in the page records each change of the
"Epoch N" counter with its time, and the page's websocket is watched for the fragment's
``script_finished`` messages: their rate while the run trains is the refresh rate (target >= 2/s).
When the run ends the page keeps it in the run store; its ``duration_s`` is the worker's own training
time, so its steps per second is the engine's figure with a page open.

With no page: the same configuration (read back from the kept run) submitted to the engine's worker
pool (``playground.execution.pool.WorkerPool``, as the page submits it, the decision-boundary views
included) from this process, no server and no browser; steps per second from the worker's own stats.
The two take turns, twice (different seeds). Target: page open >= 0.9x no page.

Concurrency: a pool of 4 workers in this process; 1, 2 and 4 runs submitted together (one per
"session"); aggregate steps per second (the sum of each run's steps over its own training time, and
over the wall time from submission to the last finish). Meanwhile an idle session (the Tensor Lab in
AppTest, in this process, where the pool's drain threads also run, as in the server) reruns in a loop:
its median rerun time is compared with the same reruns while nothing trains.
"""

from __future__ import annotations

import math
import os
import re
import time

from bench.common import (
    ROOT,
    Budget,
    Row,
    Section,
    chromium,
    chromium_available,
    median,
    new_tab,
    scratch_dir,
    script_finished_kind,
    section_stamp,
    spread,
    start_server,
    stop_server,
    table,
    write_sections,
)
from playground.execution.pool import REFRESH_PICTURES_S, REFRESH_TRAINING_S, REFRESH_WAITING_S

TITLE = "Live training and concurrency"
EPOCHS = 100
CONCURRENCY_EPOCHS = 100
IDLE_PAUSE_S = 0.25  # between an idle session's reruns (a person clicking), so they do not hog a core
REFRESH_TARGET = 2.0
RATIO_TARGET = 0.9

IDLE_JS = """() => {
    const status = document.querySelector('[data-testid="stStatusWidget"]');
    const running = status && /Running|Connecting/.test(status.innerText);
    return !running && !document.querySelector('[data-stale="true"]');
}"""
OBSERVER_JS = """() => {
    window.__epochs = [];
    let last = null;
    const read = () => {
        const m = /Epoch (\\d+)/.exec(document.body.innerText);
        if (m && m[1] !== last) { last = m[1]; window.__epochs.push([performance.now(), Number(m[1])]); }
    };
    new MutationObserver(read).observe(document.body, {subtree: true, childList: true, characterData: true});
    read();
}"""


def steps_of(config) -> int:
    from playground.builder.datasets import split_sizes

    n_train = split_sizes(config.data.n_samples, config.data.train_fraction, config.data.val_fraction)[0]
    return math.ceil(n_train / min(config.train.batch_size, n_train)) * config.train.epochs


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the browser (every Chromium process), the server process and its training
    workers: read before and after a run, they show where the machine's cores went while the page was open."""
    import psutil

    out = {"browser": 0.0, "server": 0.0, "workers": 0.0}
    server = psutil.Process(server_pid)
    children = {c.pid for c in server.children(recursive=True)}
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            if proc.pid == server_pid:
                kind = "server"
            elif proc.pid in children and "resource_tracker" not in cmd:
                kind = "workers"
            elif "chromium" in (proc.info["name"] or "") or "/chromium" in cmd:
                kind = "browser"
            else:
                continue
            times = proc.cpu_times()
            out[kind] += times.user + times.system
        except psutil.Error:
            continue
    return out


def page_run(browser, url: str, store, seed: int, epochs: int, timeout_s: float = 120, server_pid: int | None = None) -> dict:
    """Train from the Model Builder page; the refresh rate seen, and the kept run's engine figure."""
    before = {s.run_id for s in store.list()}
    context, tab = new_tab(browser, timeout_ms=120_000)
    finished: list[tuple[float, str]] = []  # every script_finished message: (time, status)

    def on_frame(payload):
        kind = script_finished_kind(payload)
        if kind:
            finished.append((time.perf_counter(), kind))

    def on_ws(ws):
        if "_stcore/stream" in ws.url:
            ws.on("framereceived", on_frame)

    tab.on("websocket", on_ws)
    try:
        tab.goto(f"{url}/model_builder")
        tab.locator(".st-key-mb_play button").wait_for()
        tab.get_by_text(re.compile(r"Epoch 0")).first.wait_for()
        for key, value in (("mb_epochs", epochs), ("mb_seed", seed)):
            box = tab.locator(f".st-key-{key} input").first
            box.fill(str(value))
            box.press("Enter")
            tab.wait_for_timeout(300)
            tab.wait_for_function(IDLE_JS, timeout=60_000)
        tab.wait_for_timeout(500)
        tab.evaluate(OBSERVER_JS)
        cpu_before = cpu_seconds(server_pid) if server_pid else None
        clicked = time.perf_counter()
        tab.locator(".st-key-mb_play button").click()
        deadline = time.monotonic() + timeout_s
        kept = None
        while time.monotonic() < deadline:
            new = [s for s in store.list() if s.run_id not in before]
            if new:
                kept = store.get(new[0].run_id)
                break
            tab.wait_for_timeout(250)
        if kept is None:
            raise RuntimeError(f"the run did not finish and get kept within {timeout_s:.0f} s")
        cores = None
        if cpu_before is not None:
            cpu_after, wall = cpu_seconds(server_pid), time.perf_counter() - clicked
            cores = {k: (cpu_after[k] - cpu_before[k]) / wall for k in cpu_after}
        epochs_seen = tab.evaluate("() => window.__epochs")
    finally:
        context.close()
    # The refresh while it trained: between the first and the last change of the counter.
    changes = [(t / 1000.0, e) for t, e in epochs_seen if e > 0]
    if len(changes) >= 2:
        window = changes[-1][0] - changes[0][0]
        counter_rate = (len(changes) - 1) / window if window > 0 else float("nan")
    else:
        window, counter_rate = 0.0, float("nan")
    after = [(t, k) for t, k in finished if t >= clicked]
    span = (after[-1][0] - clicked) if after else float("nan")
    frag = sum(1 for _, k in after if k == "FINISHED_FRAGMENT_RUN_SUCCESSFULLY")
    early = sum(1 for _, k in after if k == "FINISHED_EARLY_FOR_RERUN")
    steps = steps_of(kept.config)
    return {"config": kept.config, "steps": steps, "train_seconds": kept.duration_s,
            "rate": steps / kept.duration_s, "counter_rate": counter_rate, "fragment_rate": frag / span,
            "cut_short_rate": early / span, "counter_changes": len(changes), "window": window, "cores": cores}


def pool_runs(pool, configs: list, timeout_s: float = 300) -> dict:
    """Submit every config at once (one owner each), wait for all; per-run rates and the aggregate."""
    from playground.builder.datasets import prepare_data

    prepared = [prepare_data(c.data) for c in configs]
    started = time.perf_counter()
    handles = [pool.submit(c, p.arrays(), owner=f"bench-{i}-{time.monotonic_ns()}", plane_features=c.data.features,
                           standardization=p.standardization) for i, (c, p) in enumerate(zip(configs, prepared, strict=True))]
    for h in handles:
        if not h.wait(timeout_s):
            raise RuntimeError("a run did not finish in time")
    wall = time.perf_counter() - started
    views = [h.snapshot() for h in handles]
    bad = [v for v in views if v.status != "finished"]
    if bad:
        raise RuntimeError(f"a run ended {bad[0].status}: {bad[0].message} {bad[0].detail or ''}")
    rates = [v.stats["steps"] / v.stats["train_seconds"] for v in views]
    return {"rates": rates, "aggregate": sum(rates), "wall_aggregate": sum(v.stats["steps"] for v in views) / wall,
            "steps": [v.stats["steps"] for v in views]}


def ready_pool(workers: int):
    from playground.execution.pool import WorkerPool

    pool = WorkerPool(max_workers=workers)
    pool.prewarm(workers)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not all(w.ready.is_set() for w in pool.workers):
        time.sleep(0.1)
    return pool


def idle_reruns(at, until, limit: int = 400, pause_s: float = 0.0) -> list[float]:
    """Rerun the Tensor Lab (changing the op) until ``until()`` is true; each rerun's seconds.

    ``pause_s`` between reruns paces them like a person clicking, so that the reruns themselves do not
    take a core from the training they are measured against.
    """
    from playground.tensors.ops import OPS

    times = []
    for i in range(limit):
        if until():
            break
        at.radio(key="tl_op").set_value(OPS[i % len(OPS)])
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        if pause_s:
            time.sleep(pause_s)
    return times


def measure_page(epochs: int = EPOCHS, pairs: int = 2, log=print, budget=None) -> dict:
    from playground.runs.store import SqliteRunStore

    budget = budget or Budget(200)
    out = {"page": [], "nopage": []}
    with scratch_dir("live") as tmp, chromium() as browser:
        data = tmp / "data"
        data.mkdir()
        store = SqliteRunStore(data)
        server = start_server(ROOT / "app.py", ROOT, data_dir=data, log=tmp / "app.log")
        pool = ready_pool(1)
        try:
            # A first, untimed visit: the server imports torch and its worker warms up.
            page_run(browser, server.url, store, seed=100, epochs=5)
            for k in range(pairs):
                if k and budget.used(0.3):
                    log(f"  stopping after {k} pair(s): the time budget is being spent (a loaded machine)")
                    break
                p = page_run(browser, server.url, store, seed=k + 1, epochs=epochs, server_pid=server.proc.pid)
                out["page"].append(p)
                log(f"  page open, seed {k + 1}: {p['rate']:.0f} steps/s ({p['steps']} steps in "
                    f"{p['train_seconds']:.2f} s); epoch counter changed {p['counter_rate']:.2f}/s, fragment "
                    f"reruns {p['fragment_rate']:.2f}/s")
                n = pool_runs(pool, [p["config"]])
                out["nopage"].append(n["rates"][0])
                log(f"  no page,   seed {k + 1}: {n['rates'][0]:.0f} steps/s")
        finally:
            pool.shutdown()
            stop_server(server)
    return out


def measure_concurrency(epochs: int = EPOCHS, counts=(1, 2, 4), log=print, budget=None) -> dict:
    import threading

    from streamlit.testing.v1 import AppTest

    from playground.runs import url_state

    base = url_state.defaults()
    pool = ready_pool(max(counts))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("views/tensor_lab.py")
    at.run()
    out = {"idle_baseline": [], "runs": {}}
    try:
        done = {"flag": False}
        for _ in range(3):
            idle_reruns(at, lambda: False, limit=2)  # warm-up
        out["idle_baseline"] = idle_reruns(at, lambda: False, limit=20, pause_s=IDLE_PAUSE_S)
        for count in counts:
            if budget is not None and count > 1 and budget.used(0.75):
                out["runs"][count] = {"error": "skipped: the time budget is being spent (a loaded machine)"}
                log(f"  {count} at once: skipped, the time budget is being spent")
                continue
            configs = [base.with_train(epochs=epochs, seed=10 + i) for i in range(count)]
            try:
                result = pool_runs(pool, configs)  # alone: the aggregate
            except Exception as exc:  # noqa: BLE001
                out["runs"][count] = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"  {count} at once: {out['runs'][count]['error']}")
                continue
            again: dict = {}

            def train(configs=configs, again=again):
                try:
                    again.update(pool_runs(pool, configs))
                except Exception as exc:  # noqa: BLE001
                    again["error"] = f"{type(exc).__name__}: {exc}"
                finally:
                    done["flag"] = True

            done["flag"] = False
            thread = threading.Thread(target=train)
            thread.start()
            time.sleep(0.5)  # let the runs start
            result["idle"] = idle_reruns(at, lambda: done["flag"], pause_s=IDLE_PAUSE_S)  # the same runs again
            thread.join(timeout=600)
            out["runs"][count] = result
            log(f"  {count} at once: aggregate {result['aggregate']:.0f} steps/s (wall {result['wall_aggregate']:.0f}), "
                f"idle rerun median {median(result['idle']) * 1000:.0f} ms over {len(result['idle'])}")
    finally:
        pool.shutdown()
    return out


def run(epochs: int = EPOCHS, write: bool = True, log=print) -> Section:
    budget = Budget(200)
    stamp = section_stamp()
    s = Section(TITLE)
    s.add(stamp, "")
    rows, notes = [], []
    try:
        if not chromium_available():
            raise RuntimeError("Chromium (/usr/bin/chromium) or Playwright is missing")
        live = measure_page(epochs, log=log, budget=budget)
        page_rate, nopage_rate = median([p["rate"] for p in live["page"]]), median(live["nopage"])
        counter = median([p["counter_rate"] for p in live["page"]])
        frag = median([p["fragment_rate"] for p in live["page"]])
        rows += [
            Row("epoch counter updates on screen while training", counter, "/s", "", None,
                f">= {REFRESH_TARGET:g}/s", counter >= REFRESH_TARGET,
                "MutationObserver; " + ", ".join(f"{p['counter_rate']:.2f}" for p in live["page"])),
            Row("fragment reruns that finished, while training", frag, "/s", "", None, "reported", None,
                "websocket; " + ", ".join(f"{p['fragment_rate']:.2f}" for p in live["page"])),
            Row("reruns cut short by the next one (FINISHED_EARLY_FOR_RERUN), while training",
                median([p["cut_short_rate"] for p in live["page"]]), "/s", "", None, "reported", None,
                "websocket; " + ", ".join(f"{p['cut_short_rate']:.2f}" for p in live["page"])),
            Row("engine steps/s with the page open", page_rate, "steps/s", "the same run with no page", nopage_rate,
                f">= {RATIO_TARGET:g}x", page_rate / nopage_rate >= RATIO_TARGET,
                "pairs: " + "; ".join(f"{p['rate']:.0f} vs {n:.0f}" for p, n in zip(live["page"], live["nopage"], strict=True))),
        ]
        split = [p["cores"] for p in live["page"] if p.get("cores")]
        cores = {k: median([c[k] for c in split]) for k in ("browser", "server", "workers")} if split else None
        if cores:
            for kind, label in (("browser", "Chromium"), ("server", "the server"), ("workers", "the training worker")):
                rows.append(Row(f"cores used by {label} while training with the page open", cores[kind], "cores", "", None,
                                "reported", None, f"of {os.cpu_count()}; CPU seconds over the run's wall time, median of the pairs"))
        if counter < REFRESH_TARGET:
            notes.append(
                f"Refresh: the epoch counter changed {counter:.2f} times a second (target {REFRESH_TARGET:g}). The "
                f"epoch line and the curves are asked for every {REFRESH_TRAINING_S:g} s and the pictures (boundary, "
                f"network, neurons) every {REFRESH_PICTURES_S:g} s; on this loaded machine the browser could not "
                "draw them that often.")
        if page_rate / nopage_rate < RATIO_TARGET:
            where = (f" While the page was open the browser used {cores['browser']:.2f} of the {os.cpu_count()} cores, "
                     f"the server {cores['server']:.2f} and the worker {cores['workers']:.2f}." if cores else "")
            notes.append(
                f"Engine speed: {page_rate / nopage_rate:.2f}x with the page open (target {RATIO_TARGET:g}x), not met."
                f"{where} Here Chromium runs on the same two cores as the server and the worker (as it would on a "
                "student's laptop running everything), and drawing a Streamlit page that changes a few times a "
                "second, Plotly figures above all, is most of a core of software rendering. The worker is niced "
                "(pages first), so that core comes out of training; with no page it competes with nothing. What "
                "the page does was cut (waiting runs redrawn every 2 s; unchanged figures reused; the curves built "
                "without make_subplots; the boundary and network redrawn once a second, apart from the epoch line), "
                "and the server's share is now small; the browser's is not the app's to remove while it shows the "
                "run live. Measured by hand on this machine: with the pictures not redrawn at all the browser still "
                "used about half a core. On a server with its own cores, or with the browser on another machine, "
                "the page would cost the training only the server's share.")
        cfg = live["page"][0]["config"]
        s.add(f"Page-open runs: the Model Builder's default setup with {epochs} epochs ({live['page'][0]['steps']} "
              f"steps: {cfg.data.n_samples} samples, batch {cfg.train.batch_size}, {cfg.model.hidden} {cfg.model.activations[0]}), "
              f"{len(live['page'])} seed(s), each followed by the same configuration on the engine with no page. The app's "
              f"epoch line and curves refresh every {REFRESH_TRAINING_S:g} s while a run trains (every {REFRESH_WAITING_S:g} s "
              f"while it waits in the queue or is paused), its pictures every {REFRESH_PICTURES_S:g} s while it trains.", "")
    except Exception as exc:  # noqa: BLE001 - reported as not measured
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        log(f"  page-open part not measured: {msg}")
        rows.append(Row("refresh rate and steps/s with the page open", None, "", note=f"not measured: {msg}"))
    try:
        conc = measure_concurrency(CONCURRENCY_EPOCHS, log=log, budget=budget)
        idle_base = median(conc["idle_baseline"]) * 1000
        one = conc["runs"].get(1, {}).get("aggregate")
        for count, r in conc["runs"].items():
            if "error" in r:
                rows.append(Row(f"{count} sessions training at once", None, "steps/s", note=f"not measured: {r['error']}"))
                continue
            rows.append(Row(f"{count} session(s) training at once: aggregate", r["aggregate"], "steps/s",
                            "1 session", one, "reported", None,
                            f"per run {', '.join(f'{x:.0f}' for x in r['rates'])}; over wall time {r['wall_aggregate']:.0f}"))
            rows.append(Row(f"an idle session's rerun while {count} train", median(r["idle"]) * 1000, "ms",
                            "the same rerun, nothing training", idle_base, "reported", None,
                            f"n={len(r['idle'])}, {spread([t * 1000 for t in r['idle']])} ms"))
        s.add(f"Concurrency: a pool of 4 workers (the app's cap, `limits.MAX_CONCURRENT_TRAININGS`), each run "
              f"the default setup with {CONCURRENCY_EPOCHS} epochs and its own seed, all submitted at once; the "
              "aggregate is measured with nothing else running, then the same runs are repeated while an idle "
              "session (the Tensor Lab in AppTest: change the op, rerun, every "
              f"{IDLE_PAUSE_S} s) reruns in the process that holds the pool, as the server does; its rerun with "
              f"nothing training: median {idle_base:.0f} ms. The app starts its workers niced, so pages keep "
              "priority over training.", "")
    except Exception as exc:  # noqa: BLE001
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        log(f"  concurrency not measured: {msg}")
        rows.append(Row("concurrency", None, "", note=f"not measured: {msg}"))
    s.add(table(rows), "", *[n + "\n" for n in notes], f"On {os.cpu_count()} cores each worker uses one torch thread: two runs can each have "
          "a core; beyond that they share, so the aggregate stops growing and an idle session's rerun competes "
          "with them for the CPU.")
    if write:
        write_sections([s])
    return s


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Live training and concurrency")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    print(run(args.epochs).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
