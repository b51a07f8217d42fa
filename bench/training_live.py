"""Live training: the Model Builder's epoch line, the browser's and the server's CPU while a run trains, the
engine's speed with the page open against no page, and concurrency (1, 2 and 4 sessions training at once; an
idle session's rerun meanwhile).

    python -m bench training_live

With the page open: the real app in headless Chromium at 1440x900, the Model Builder opened by its URL
(``/model_builder?epochs=N&seed=S``) and Play pressed, twice a pair:

- watched, at the page's default speed (10 epochs a second): a MutationObserver in the page records each
  change of the epoch line in the control bar ("Epoch N / M · training ..."; read with ``textContent``, which
  does not force a layout), and the page's websocket is watched (messages, bytes, the fragments' runs). The
  epoch line's changes a second while it trains are the refresh figure (target >= 4/s). CPU seconds of each
  process this benchmark started (Chromium's, split by process type; the server; its training worker) are
  read at the run's 10% and 85% epochs: their rate between is what each used while the page trained
  (Chromium's target <= 0.5 core).
- fast, "as fast as it goes" (chosen on the Speed select-slider: its thumb focused, End pressed): the same
  figures, and, once the run ends and the page keeps it in the run store, the run's ``duration_s``, the
  worker's own training time: steps per second with the page open.

With no page: the same configuration (read back from the kept run) submitted at full speed to the engine's
worker pool (``playground.execution.pool.WorkerPool``, as the page submits it, the decision-boundary views
included) from this process, no server and no browser; steps per second from the worker's own stats. Page
and no page take turns (different seeds), three pairs of each. Target: page open >= 0.8x no page.

Concurrency: a pool of 4 workers in this process; 1, 2 and 4 runs submitted together (one per
"session"); aggregate steps per second (the sum of each run's steps over its own training time, and
over the wall time from submission to the last finish). Meanwhile an idle session (the Tensor Lab in
AppTest, in this process, where the pool's drain threads also run, as in the server) reruns in a loop:
its median rerun time is compared with the same reruns while nothing trains.
"""

from __future__ import annotations

import math
import os
import time

from bench.common import (
    ROOT,
    Budget,
    Row,
    Section,
    chromium,
    chromium_available,
    cpu_seconds,
    median,
    scratch_dir,
    section_stamp,
    spread,
    start_server,
    stop_server,
    table,
    write_sections,
)
from playground.execution.pool import REFRESH_PICTURES_S, REFRESH_TRAINING_S, REFRESH_WAITING_S

TITLE = "Live training and concurrency"
WATCH_EPOCHS = 80  # at the default 10 epochs a second: about 8 s of training
FAST_EPOCHS = 400  # as fast as it goes: 12,000 steps of the default setup, a few seconds
CONCURRENCY_EPOCHS = 100
IDLE_PAUSE_S = 0.25  # between an idle session's reruns (a person clicking), so they do not hog a core
REFRESH_TARGET = 4.0
BROWSER_TARGET = 0.5  # cores
RATIO_TARGET = 0.8
VIEWPORT = {"width": 1440, "height": 900}

OBSERVER_JS = """() => {
    window.__epochs = [];
    window.__epoch = 0;
    let last = null;
    const read = () => {
        const bar = document.querySelector('.st-key-mb_bar');
        const m = bar && /Epoch (\\d+)/.exec(bar.textContent);
        if (m && m[1] !== last) {
            last = m[1];
            window.__epoch = Number(m[1]);
            window.__epochs.push([performance.now(), Number(m[1])]);
        }
    };
    new MutationObserver(read).observe(document.body, {subtree: true, childList: true, characterData: true});
    read();
}"""


def steps_of(config) -> int:
    from playground.builder.datasets import split_sizes

    n_train = split_sizes(config.data.n_samples, config.data.train_fraction, config.data.val_fraction)[0]
    return math.ceil(n_train / min(config.train.batch_size, n_train)) * config.train.epochs


def rates(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores used by each role between two readings, and Chromium's in all."""
    out = {k: (after.get(k, 0.0) - before.get(k, 0.0)) / seconds for k in set(before) | set(after)}
    out["chromium"] = sum(v for k, v in out.items() if k.startswith("chromium "))
    return out


class Wire:
    """The page's websocket, as the browser receives it: message count and bytes, and the script runs."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, int, str]] = []  # (time, bytes, kind)

    def attach(self, tab) -> None:
        def on_ws(ws):
            if "_stcore/stream" in ws.url:
                ws.on("framereceived", self.on_frame)

        tab.on("websocket", on_ws)

    def on_frame(self, payload) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        kind = "text"
        if isinstance(payload, bytes | bytearray):
            try:
                msg = ForwardMsg.FromString(bytes(payload))
                kind = msg.WhichOneof("type") or "?"
                if kind == "script_finished":
                    kind = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
                elif kind == "new_session":
                    kind = "fragment run" if msg.metadata.run.fragment_ids else "full run"
            except Exception:  # noqa: BLE001 - a frame that is not a ForwardMsg: counted as such
                kind = "?"
        self.frames.append((time.perf_counter(), len(payload), kind))

    def between(self, start: float, end: float) -> dict[str, float]:
        window = [f for f in self.frames if start <= f[0] <= end]
        seconds = max(end - start, 1e-9)
        count = lambda kind: sum(1 for f in window if f[2] == kind)  # noqa: E731
        return {"messages": len(window) / seconds, "kib": sum(f[1] for f in window) / 1024 / seconds,
                "runs": (count("fragment run") + count("full run")) / seconds, "full_runs": count("full run") / seconds,
                "cut_short": count("FINISHED_EARLY_FOR_RERUN") / seconds}


def wait_idle(tab, wire: Wire, timeout_s: float = 120) -> None:
    """Until the last script run has finished and nothing has arrived for half a second."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tab.wait_for_timeout(100)
        finished = [f for f in wire.frames if f[2].startswith("FINISHED")]
        runs = [f for f in wire.frames if f[2] in ("full run", "fragment run")]
        if finished and runs and finished[-1][0] >= runs[-1][0] and time.perf_counter() - wire.frames[-1][0] > 0.5:
            return
    raise RuntimeError(f"the page did not settle within {timeout_s:.0f} s")


def set_speed_fastest(tab, wire: Wire) -> None:
    """The Speed select-slider's last stop, "as fast as it goes" (a react-aria slider: focus, End)."""
    thumb = tab.locator('.st-key-mb_speed input[type="range"]').first
    thumb.focus()
    thumb.press("End")
    tab.wait_for_timeout(300)
    wait_idle(tab, wire)


def page_run(browser, url: str, store, seed: int, epochs: int, server_pid: int, fast: bool,
             timeout_s: float = 150) -> dict:
    """Train from the Model Builder page: the epoch line's refresh, the CPU each process used and the wire's
    traffic while it trained, and (once kept) the engine's steps per second."""
    before = {s.run_id for s in store.list()}
    context = browser.new_context(viewport=VIEWPORT)
    tab = context.new_page()
    tab.set_default_timeout(120_000)
    wire = Wire()
    wire.attach(tab)
    try:
        tab.goto(f"{url}/model_builder?epochs={epochs}&seed={seed}")
        tab.locator(".st-key-mb_play button").first.wait_for()
        wait_idle(tab, wire)
        if fast:
            set_speed_fastest(tab, wire)
        tab.evaluate(OBSERVER_JS)
        clicked = time.perf_counter()
        tab.locator(".st-key-mb_play button").first.click()
        deadline = time.monotonic() + timeout_s
        marks: dict[str, tuple[float, dict[str, float]]] = {}
        kept = None
        while time.monotonic() < deadline:
            epoch = tab.evaluate("() => window.__epoch")
            for name, share in (("from", 0.10), ("to", 0.85)):
                if name not in marks and epoch >= share * epochs:
                    marks[name] = (time.perf_counter(), cpu_seconds(server_pid))
            new = [s for s in store.list() if s.run_id not in before]
            if new:
                kept = store.get(new[0].run_id)
                break
            tab.wait_for_timeout(50)
        if kept is None:
            raise RuntimeError(f"the run did not finish and get kept within {timeout_s:.0f} s")
        epochs_seen = tab.evaluate("() => window.__epochs")
    finally:
        context.close()
    # The refresh while it trained: between the first and the last change of the epoch line.
    changes = [(t / 1000.0, e) for t, e in epochs_seen if e > 0]
    window = changes[-1][0] - changes[0][0] if len(changes) >= 2 else 0.0
    counter_rate = (len(changes) - 1) / window if window > 0 else float("nan")
    out = {"config": kept.config, "steps": steps_of(kept.config), "train_seconds": kept.duration_s,
           "rate": steps_of(kept.config) / kept.duration_s, "counter_rate": counter_rate,
           "counter_changes": len(changes), "window": window, "cores": None, "wire": None,
           "click_to_kept": time.perf_counter() - clicked}
    if "from" in marks and "to" in marks and marks["to"][0] - marks["from"][0] > 0.5:
        (t0, c0), (t1, c1) = marks["from"], marks["to"]
        out["cores"] = rates(c0, c1, t1 - t0)
        out["wire"] = wire.between(t0, t1)
    return out


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


def measure_page(pairs: int = 3, log=print, budget=None, watch_epochs: int = WATCH_EPOCHS,
                 fast_epochs: int = FAST_EPOCHS) -> dict:
    """Pairs of (watched run, fast run, the fast run's configuration with no page), after an untimed warm-up."""
    from playground.runs.store import SqliteRunStore

    budget = budget or Budget(200)
    out: dict[str, list] = {"watch": [], "fast": [], "nopage": []}
    with scratch_dir("live") as tmp, chromium() as browser:
        data = tmp / "data"
        data.mkdir()
        store = SqliteRunStore(data)
        server = start_server(ROOT / "app.py", ROOT, data_dir=data, log=tmp / "app.log")
        pool = ready_pool(1)
        try:
            # An untimed visit: the server imports torch, its worker warms up, the browser caches the scripts.
            page_run(browser, server.url, store, seed=100, epochs=5, server_pid=server.pid, fast=True)
            for k in range(pairs):
                if k and budget.used(0.45):  # three pairs: two moved the engine's ratio by +-0.05 run to run
                    log(f"  stopping after {k} pair(s): the time budget is being spent (a loaded machine)")
                    break
                w = page_run(browser, server.url, store, seed=2 * k + 1, epochs=watch_epochs, server_pid=server.pid,
                             fast=False)
                out["watch"].append(w)
                log(f"  watched (10/s), seed {2 * k + 1}: epoch line {w['counter_rate']:.2f}/s; " + describe(w))
                f = page_run(browser, server.url, store, seed=2 * k + 2, epochs=fast_epochs, server_pid=server.pid,
                             fast=True)
                out["fast"].append(f)
                log(f"  fast, seed {2 * k + 2}: {f['rate']:.0f} steps/s ({f['steps']} steps in {f['train_seconds']:.2f} s); "
                    f"epoch line {f['counter_rate']:.2f}/s; " + describe(f))
                n = pool_runs(pool, [f["config"]])
                out["nopage"].append(n["rates"][0])
                log(f"  no page,   seed {2 * k + 2}: {n['rates'][0]:.0f} steps/s")
        finally:
            pool.shutdown()
            stop_server(server)
    return out


def describe(r: dict) -> str:
    """One log line's worth of a page run's CPU and wire figures."""
    if not r["cores"]:
        return "too short to read the CPU"
    c, w = r["cores"], r["wire"]
    by_type = ", ".join(f"{k[9:]} {v:.2f}" for k, v in sorted(c.items()) if k.startswith("chromium ") and v >= 0.005)
    return (f"Chromium {c['chromium']:.2f} cores ({by_type}), server {c.get('server', 0):.2f}, worker "
            f"{c.get('workers', 0):.2f}; wire {w['messages']:.0f} messages/s, {w['kib']:.0f} KiB/s, "
            f"{w['runs']:.2f} script runs/s ({w['full_runs']:.2f} full)")


def measure_concurrency(epochs: int = CONCURRENCY_EPOCHS, counts=(1, 2, 4), log=print, budget=None) -> dict:
    import threading

    from streamlit.testing.v1 import AppTest

    from playground.runs import url_state

    base = url_state.defaults()
    pool = ready_pool(max(counts))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("app.py")
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


def page_rows(live: dict) -> tuple[list[Row], list[str]]:
    """The page-open figures as rows, and a note for each target saying met or not and what was measured."""
    watch, fast = live["watch"], live["fast"]
    page_rate, nopage_rate = median([p["rate"] for p in fast]), median(live["nopage"])
    ratio = page_rate / nopage_rate
    rows: list[Row] = []
    notes: list[str] = []
    counter = median([p["counter_rate"] for p in watch])
    rows.append(Row("epoch line changes on screen while training at 10 epochs/s (the default speed)", counter, "/s",
                    "", None, f">= {REFRESH_TARGET:g}/s", counter >= REFRESH_TARGET,
                    "MutationObserver; " + ", ".join(f"{p['counter_rate']:.2f}" for p in watch)))
    fast_counter = median([p["counter_rate"] for p in fast])
    rows.append(Row("epoch line changes on screen while training as fast as it goes", fast_counter, "/s", "", None,
                    "reported", None, ", ".join(f"{p['counter_rate']:.2f}" for p in fast)))
    chromium_cores: dict[str, float] = {}
    for name, runs in (("at 10 epochs/s", watch), ("as fast as it goes", fast)):
        measured = [p for p in runs if p["cores"]]
        if not measured:
            rows.append(Row(f"Chromium's CPU while the page trains {name}", None, "cores",
                            note="not measured: the run was too short to read between its 10% and 85% epochs"))
            continue
        cores = median([p["cores"]["chromium"] for p in measured])
        chromium_cores[name] = cores
        keys = sorted({k for p in measured for k in p["cores"] if k.startswith("chromium ")})
        split = ", ".join(f"{k[9:]} {median([p['cores'].get(k, 0.0) for p in measured]):.2f}" for k in keys)
        rows.append(Row(f"Chromium's CPU while the page trains {name}", cores, "cores", "", None,
                        f"<= {BROWSER_TARGET:g} core", cores <= BROWSER_TARGET,
                        f"all its processes; by type: {split}"))
        for role, label in (("server", "the Streamlit server"), ("workers", "the training worker")):
            rows.append(Row(f"{label}'s CPU, same time", median([p["cores"].get(role, 0.0) for p in measured]), "cores",
                            "", None, "reported", None, f"of {os.cpu_count()}"))
        wire = {k: median([p["wire"][k] for p in measured]) for k in measured[0]["wire"]}
        rows.append(Row("the page's websocket, same time", wire["kib"], "KiB/s", "", None, "reported", None,
                        f"{wire['messages']:.0f} messages/s; {wire['runs']:.2f} script runs/s, {wire['full_runs']:.2f} "
                        f"of them full; {wire['cut_short']:.2f}/s cut short"))
        if wire["runs"] > 0:
            rows.append(Row(f"Chromium's CPU a script run ({name})", 1000 * cores / wire["runs"], "ms", "", None,
                            "reported", None, "its CPU over the runs it drew"))
    rows.append(Row("engine steps/s with the page open, as fast as it goes", page_rate, "steps/s",
                    "the same run with no page", nopage_rate, f">= {RATIO_TARGET:g}x", ratio >= RATIO_TARGET,
                    "pairs: " + "; ".join(f"{p['rate']:.0f} vs {n:.0f}" for p, n in zip(fast, live["nopage"], strict=True))))
    verdict = {True: "met", False: "not met"}
    notes.append(
        f"Epoch line: {counter:.2f} changes a second at the default speed ({verdict[counter >= REFRESH_TARGET]}, target "
        f"{REFRESH_TARGET:g}); the status fragment is asked for every {REFRESH_TRAINING_S:g} s while a run trains, so "
        f"it can change at most {1 / REFRESH_TRAINING_S:.1f} times a second; fewer means the server or the browser "
        "did not keep up (each run's CPU is in the table).")
    for name, cores in chromium_cores.items():
        notes.append(
            f"Chromium {name}: {cores:.2f} core ({verdict[cores <= BROWSER_TARGET]}, target {BROWSER_TARGET:g}). What "
            "it spends it on: each script run (a fragment's, every few hundred ms) makes Streamlit's page re-render its "
            "element tree, whatever changed; the cost of a run is in the table, and the runs a second with it.")
    notes.append(
        f"Engine speed: {ratio:.2f}x with the page open ({verdict[ratio >= RATIO_TARGET]}, target {RATIO_TARGET:g}x). "
        "Chromium, the server and the worker share this machine's cores (as on a student's laptop), and the worker "
        "is niced so that pages come first: what the page takes beyond a core comes out of training.")
    return rows, notes


def run(write: bool = True, log=print) -> Section:
    budget = Budget(200)
    stamp = section_stamp()
    s = Section(TITLE)
    s.add(stamp, "")
    rows, notes = [], []
    try:
        if not chromium_available():
            raise RuntimeError("Chromium (/usr/bin/chromium) or Playwright is missing")
        live = measure_page(log=log, budget=budget)
        rows, notes = page_rows(live)
        cfg = live["fast"][0]["config"]
        s.add(f"Page-open runs, at 1440x900: the Model Builder's default setup ({cfg.data.n_samples} samples, batch "
              f"{cfg.train.batch_size}, hidden {cfg.model.hidden} {cfg.model.activations[0]}), opened by its URL; each pair "
              f"is one run watched at the default speed ({WATCH_EPOCHS} epochs at 10 a second), one as fast as it goes "
              f"({FAST_EPOCHS} epochs, {live['fast'][0]['steps']} steps) and that configuration again on the engine with "
              f"no page; {len(live['fast'])} pair(s). CPU is read between each run's 10% and 85% epochs, for the "
              "processes this benchmark started only. The app asks for the epoch line every "
              f"{REFRESH_TRAINING_S:g} s while a run trains (every {REFRESH_WAITING_S:g} s while it waits or is paused) "
              f"and for the pictures every {REFRESH_PICTURES_S:g} s.", "")
    except Exception as exc:  # noqa: BLE001 - reported as not measured
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        log(f"  page-open part not measured: {msg}")
        rows.append(Row("refresh rate, CPU and steps/s with the page open", None, "", note=f"not measured: {msg}"))
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
    parser.add_argument("--page-only", action="store_true", help="the page-open part only, printed, not written")
    args = parser.parse_args(argv)
    if args.page_only:
        rows, notes = page_rows(measure_page())
        print(table(rows), "", *notes, sep="\n")
        return 0
    print(run().text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
