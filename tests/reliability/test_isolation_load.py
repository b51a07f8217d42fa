"""Isolation and load in real browsers (slow).

- Two browser contexts train different models at the same time; each sees only its own model and run,
  and each download holds its own weights (compared tensor by tensor with the run store).
- Load: concurrent Playwright contexts (loopback only, bounded in count and time) open every page
  and train the default model for 2 epochs, each with its own seed; all finish without errors, every
  page answers, and the server's memory returns near its baseline after they close. The suite runs 8 (twice the
  worker cap; Play waits until every session has opened its pages, so the runs can overlap); RELIABILITY_LOAD_SESSIONS=20 runs
  the full measurement, whose throughput, slowest page response and peak memory go to artifacts/figures.json
  ("load"; a run of another size records under its own section, kept out of docs/RELIABILITY.md's table).
- Limits hold server-side: a second training from one session is refused with a sentence, trainings
  beyond the server's cap are queued, and models beyond the limits are refused with a sentence.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
import threading
import time

import pytest
import torch

from playground import limits
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.errors import PlaygroundError
from playground.execution.pool import WorkerPool
from playground.runs.store import SqliteRunStore
from tests.browser.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, open_page, wait_idle
from tests.reliability.browser_helpers import SESSION_TTL_S, Server, epoch_and_status, wait_epoch
from tests.reliability.conftest import assert_plain, record

FULL_SESSIONS = 20  # the measurement docs/RELIABILITY.md reports: RELIABILITY_LOAD_SESSIONS=20
SESSIONS = int(os.environ.get("RELIABILITY_LOAD_SESSIONS", "8"))  # the suite: twice MAX_CONCURRENT_TRAININGS
SECTION = "load" if SESSIONS == FULL_SESSIONS else f"load ({SESSIONS} sessions)"
EPOCHS = 2
PAGES = ("", "autograd", "runs", "model_builder")  # the Model Builder last, by a link: the session trains there
KEPT = re.compile(r"was kept as run|Kept in the run store as run")  # said once kept, then on every rerun
LOAD_DEADLINE_S = 420  # the whole load phase, all sessions together


# ------------------------------------------------------------------------------------------ isolation


def _train(tab, url: str, layers: int | None, epochs: int) -> None:
    open_page(tab, url, "model_builder")
    settings = ([("mb_layers", layers)] if layers is not None else []) + [("mb_epochs", epochs)]
    for key, value in settings:
        box = tab.locator(f".st-key-{key} input")
        box.fill(str(value))
        box.press("Enter")
        wait_idle(tab)


def _download(tab, key: str) -> bytes:
    with tab.expect_download() as info:
        tab.locator(f".st-key-{key} button").first.click()
    with open(info.value.path(), "rb") as handle:
        return handle.read()


@pytest.mark.slow
@pytest.mark.browser
def test_two_sessions_train_different_models_at_once_and_each_keeps_its_own(browser, tmp_path):
    server = Server(tmp_path / "data", "reliability-isolation")
    contexts = []
    try:
        tabs = []
        for _ in range(2):
            context = browser.new_context(accept_downloads=True, viewport={"width": 1440, "height": 1100})
            contexts.append(context)
            tab = context.new_page()
            tab.set_default_timeout(60_000)
            tabs.append(tab)
        a, b = tabs
        # Runs far longer than the test: both are surely training at the same time; each is then stopped,
        # and a stopped run is kept like a finished one.
        _train(a, server.url, layers=None, epochs=2_000)  # the default: two hidden layers of 8
        _train(b, server.url, layers=1, epochs=2_000)
        a.locator(".st-key-mb_play button").first.click()
        b.locator(".st-key-mb_play button").first.click()
        wait_epoch(a, 2)
        wait_epoch(b, 2)
        assert epoch_and_status(a)[1] == "training" and epoch_and_status(b)[1] == "training"  # at the same time
        before = [epoch_and_status(tab)[0] for tab in (a, b)]
        wait_epoch(a, before[0] + 2)
        wait_epoch(b, before[1] + 2)
        assert epoch_and_status(a)[1] == "training" and epoch_and_status(b)[1] == "training"  # both went on together
        a_params = re.search(r"([\d,]+) parameters", a.inner_text("body")).group(1)
        b_params = re.search(r"([\d,]+) parameters", b.inner_text("body")).group(1)
        assert a_params != b_params and b_params not in a.inner_text("body").split(" parameters")[0][-12:]
        ids = []
        for tab in (a, b):
            tab.locator(".st-key-mb_stop button").first.click()
            # A tab clicked while the page's previous run is still drawing can come back unselected when that run
            # ends (lazy tabs rerun the page): click again, as a user would, until it holds.
            for attempt in range(4):
                tab.get_by_role("tab", name="Save and load").click()
                try:
                    tab.get_by_text(KEPT).first.wait_for(timeout=15_000 if attempt < 3 else 60_000)
                    break
                except Exception:  # noqa: BLE001 - retried; the last attempt's timeout propagates
                    if attempt == 3:
                        raise
                    wait_idle(tab)
            wait_idle(tab)
            epoch, status = epoch_and_status(tab)
            assert 2 <= epoch < 2_000 and status == "stopped"
            assert tab.locator('[data-testid="stException"]').count() == 0
            ids.append(re.search(r"(?:kept as run|Kept in the run store as run) ([0-9a-f]{12})",
                                 tab.inner_text("body")).group(1))
        assert ids[0] != ids[1]
        # Each page shows only its own run id.
        assert ids[1] not in a.inner_text("body") and ids[0] not in b.inner_text("body")
        downloads = [torch.load(io.BytesIO(_download(tab, "mb_io_download_pt")), weights_only=True) for tab in (a, b)]
    finally:
        for context in contexts:
            context.close()
        server.stop()
    store = SqliteRunStore(tmp_path / "data")
    for run_id, weights, hidden in zip(ids, downloads, ((8, 8), (8,)), strict=True):
        kept = store.get(run_id)
        assert kept.config.model.hidden == hidden
        assert sorted(weights) == sorted(kept.state_dict)
        assert all(torch.equal(weights[k], kept.state_dict[k]) for k in weights)  # the download is its own run
    assert sorted(downloads[0]) != sorted(downloads[1])  # two hidden layers against one


# ------------------------------------------------------------------------------------------ load


class MemorySampler(threading.Thread):
    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.samples: list[tuple[float, float]] = []
        self.workers: list[int] = []  # worker processes alive at each sample
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                self.samples.append((self.server.rss_mb(), self.server.workers_rss_mb()))
                self.workers.append(len(self.server.workers()))
            except Exception:  # noqa: BLE001 - the server may be stopping
                pass
            time.sleep(0.5)


async def _wait_idle(tab, timeout: float = 90_000) -> None:
    await tab.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    await tab.wait_for_timeout(250)
    await tab.wait_for_function(
        """() => {
            const status = document.querySelector('[data-testid="stStatusWidget"]');
            const running = status && /Running|Connecting/.test(status.innerText);
            return !running && !document.querySelector('[data-stale="true"]');
        }""",
        timeout=timeout,
    )


def _log(line: str) -> None:
    """Progress of the load run, for reading while it runs: tests/browser/artifacts/reliability-load-progress.log."""
    with open(ARTIFACTS / "reliability-load-progress.log", "a") as handle:
        handle.write(f"{time.strftime('%H:%M:%S')} {line}\n")


NAV_TITLES = {"": "Tensor Lab", "autograd": "Autograd", "runs": "Runs", "model_builder": "Model Builder"}


class _Gate:
    """Play is pressed once every session has opened its pages (or failed): the runs then overlap, more of them live
    than the worker cap (some wait in the queue) and than limits.LIVE_RUNS_AT_FULL_RATE (the crowded server's slower
    redraws). Without it the slow page loads spread the 2-epoch runs out: the 20 never used more than 3 workers."""

    def __init__(self, sessions: int) -> None:
        self.sessions = sessions
        self.arrived: set[int] = set()
        self.open = asyncio.Event()

    def arrive(self, index: int) -> None:
        self.arrived.add(index)
        if len(self.arrived) >= self.sessions:
            self.open.set()

    async def wait(self, index: int, until: float) -> None:
        self.arrive(index)
        await asyncio.wait_for(self.open.wait(), max(1.0, until - time.monotonic()))


async def _session(browser, url: str, index: int, result: dict, until: float | None = None,
                   gate: _Gate | None = None) -> None:
    """One visitor: opens the app (a full load), goes to every page through the sidebar as a user does
    (each page's script runs on the server), then trains the default model for EPOCHS epochs. ``until``: when the
    whole load's time is up (the visitor then says what its page shows, rather than being cancelled silently);
    ``gate``: Play waits for every other session's pages."""
    context = await browser.new_context(viewport={"width": 1000, "height": 700})
    tab = await context.new_page()
    tab.set_default_timeout(150_000)
    try:
        for n, path in enumerate(PAGES):
            start = time.monotonic()
            if n == 0:
                await tab.goto(f"{url}/{path}")
                await tab.wait_for_selector(".st-key-global_seed", timeout=150_000)
            elif path == "model_builder":  # a shared link carries the setup: 2 epochs and each visitor its
                # own seed (a setup that already finished would open the kept run instead of training)
                await tab.goto(f"{url}/{path}?epochs={EPOCHS}&seed={index + 1}")
                await tab.wait_for_selector(".st-key-global_seed", timeout=150_000)
            else:
                await tab.locator('[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]', has_text=NAV_TITLES[path]).first.click()
                await tab.wait_for_url(re.compile(f"/{path}(\\?.*)?$"), timeout=60_000)
            await tab.locator("h1", has_text=NAV_TITLES[path]).first.wait_for(timeout=150_000)
            await _wait_idle(tab)
            result["pages"].append((path or "tensor_lab", time.monotonic() - start))
            _log(f"session {index} {path or 'tensor_lab'} {time.monotonic() - start:.1f}s")
            result["exceptions"] += await tab.locator('[data-testid="stException"]').count()
        if gate is not None:
            await gate.wait(index, until or time.monotonic() + LOAD_DEADLINE_S)
        start = time.monotonic()
        await tab.locator(".st-key-mb_play button").first.click()
        deadline = min(time.monotonic() + LOAD_DEADLINE_S, until or float("inf"))
        found = None
        while time.monotonic() < deadline:
            # textContent, not innerText: reading it needs no layout of the page, and 20 tabs asking for one
            # twice a second took the (niced, shared) browser's time from the pages themselves
            text = await tab.evaluate("() => document.body.textContent")
            result["queued"] = result["queued"] or "in the queue" in text  # the page said its run waits
            found = re.search(r"Epoch (\d+)(?: / \d+)? · (\w+)", text)
            if found and found.group(2) in ("finished", "failed", "diverged", "stopped"):
                result["status"] = (int(found.group(1)), found.group(2))
                break
            await tab.wait_for_timeout(1000)
        if result["status"] is None:  # what the page said when the time was up, for whoever reads the failure
            result["seen"] = found.group(0) if found else "no epoch line"
            status = await tab.locator('[data-testid="stStatusWidget"]').all_inner_texts()
            _log(f"session {index} never said finished: last epoch line {result['seen']!r}; status widget {status}")
            with contextlib.suppress(Exception):
                await tab.screenshot(path=str(ARTIFACTS / f"load-session-{index}.png"))
        result["train_s"] = time.monotonic() - start
        _log(f"session {index} trained {result['status']} in {result['train_s']:.1f}s")
        result["exceptions"] += await tab.locator('[data-testid="stException"]').count()
    except Exception as exc:  # noqa: BLE001 - reported per session below
        result["error"] = f"session {index}: {type(exc).__name__}: {str(exc)[:300]}"
        with contextlib.suppress(Exception):  # what the visitor saw, for whoever reads the failure
            await tab.screenshot(path=str(ARTIFACTS / f"load-session-{index}.png"))
            body = await tab.inner_text("body")
            status = await tab.locator('[data-testid="stStatusWidget"]').all_inner_texts()
            _log(f"session {index} failed; status widget {status}; page text: {body[-1500:]!r}")
    finally:
        if gate is not None:
            gate.arrive(index)  # a failed session lets the others press Play
        await context.close()


def _niced_chromium(tmp_path) -> str:
    """Chromium started at a low priority. The 20 browsers share this machine's cores with the server;
    in real use they run on the visitors' machines. Niced, they no longer starve the server and its
    (also niced, but less) training workers, so the test measures the server rather than the browsers."""
    wrapper = tmp_path / "chromium-niced"
    wrapper.write_text(f"#!/bin/sh\nexec nice -n 19 {CHROMIUM} \"$@\"\n")
    wrapper.chmod(0o755)
    return str(wrapper)


async def _load(chromium: str, url: str) -> tuple[list[dict], float]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        results = [{"pages": [], "exceptions": 0, "status": None, "train_s": None, "queued": False}
                   for _ in range(SESSIONS)]
        start = time.monotonic()
        until = start + LOAD_DEADLINE_S
        gate = _Gate(SESSIONS)
        await asyncio.wait_for(
            asyncio.gather(*(_session(browser, url, i, r, until, gate) for i, r in enumerate(results))),
            timeout=LOAD_DEADLINE_S + 60,
        )
        elapsed = time.monotonic() - start
        # One more visitor after the TTL: Streamlit drops expired sessions when its session cache is next used.
        await asyncio.sleep(SESSION_TTL_S + 1)
        context = await browser.new_context()
        tab = await context.new_page()
        await tab.goto(url)
        await tab.wait_for_selector(".st-key-global_seed", timeout=60_000)
        await context.close()
        await browser.close()
    return results, elapsed


def _run_async(coro):
    """Playwright's async API in a thread of its own (the sync fixtures own this thread's loop)."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(LOAD_DEADLINE_S + 180)
    assert not thread.is_alive(), "the load run overran its bound"
    if "error" in box:
        raise box["error"]
    return box["value"]


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(900)
def test_concurrent_sessions_open_every_page_and_train(chromium_path, tmp_path):
    assert SESSIONS > limits.MAX_CONCURRENT_TRAININGS, "fewer sessions than workers would never queue a run"
    chromium_path = _niced_chromium(tmp_path)
    server = Server(tmp_path / "data", "reliability-load")
    sampler = MemorySampler(server)
    try:
        # Baseline: a warm server (one visitor opened every page, imports done, a worker started).
        _run_async(_warm(chromium_path, server.url))
        time.sleep(2)
        baseline_server, baseline_workers = server.rss_mb(), server.workers_rss_mb()
        sampler.start()
        cpu_before = server.ps.cpu_times()
        results, elapsed = _run_async(_load(chromium_path, server.url))
        cpu_after = server.ps.cpu_times()
        time.sleep(5)
        after_server, after_workers = server.rss_mb(), server.workers_rss_mb()
        # Every page still answers after the load.
        answered = _run_async(_answers(chromium_path, server.url))
    finally:
        sampler.running = False
        server.stop()
    errors = [r["error"] for r in results if "error" in r]
    assert not errors, errors
    assert all(r["exceptions"] == 0 for r in results)
    assert all(r["status"] and r["status"][1] == "finished" and 1 <= r["status"][0] <= EPOCHS for r in results), [
        r["status"] or r.get("seen") for r in results]
    assert answered == len(PAGES)
    page_times = [t for r in results for _, t in r["pages"]]
    slowest = max((p for r in results for p in r["pages"]), key=lambda p: p[1])
    peak_server = max(s for s, _ in sampler.samples)
    peak_workers = max(w for _, w in sampler.samples)
    record(SECTION, "sessions", SESSIONS)
    record(SECTION, "wall time for all sessions (s)", round(elapsed, 1))
    record(SECTION, "trainings finished per minute", round(SESSIONS / elapsed * 60, 1))
    record(SECTION, "page loads per second", round(len(page_times) / elapsed, 2))
    record(SECTION, "slowest page response (s, page)", [round(slowest[1], 1), slowest[0]])
    record(SECTION, "median page response (s)", round(sorted(page_times)[len(page_times) // 2], 2))
    record(SECTION, f"slowest training of {EPOCHS} epochs, queue included (s)", round(max(r["train_s"] for r in results), 1))
    record(SECTION, "server RSS baseline / peak / after (MB)", [round(baseline_server), round(peak_server), round(after_server)])
    record(SECTION, "workers RSS baseline / peak / after (MB)", [round(baseline_workers), round(peak_workers), round(after_workers)])
    record(SECTION, "worker processes at most (limit)", [max(sampler.workers), limits.MAX_CONCURRENT_TRAININGS])
    record(SECTION, "sessions whose page said their run waited in the queue", sum(r["queued"] for r in results))
    server_cpu = (cpu_after.user + cpu_after.system) - (cpu_before.user + cpu_before.system)
    record(SECTION, "server process CPU over the load (cores, of 2)", round(server_cpu / elapsed, 2))
    assert after_server <= baseline_server + max(150.0, 0.5 * (peak_server - baseline_server)), (
        baseline_server, peak_server, after_server)
    # The pool never grows past its cap. How far it grows is recorded, not asserted: it depends on how the runs
    # overlap (under load 8 sessions reached the cap of 4; on a quiet machine one warm worker ran all 8 two-epoch
    # runs one after another). Queueing beyond the cap is asserted by test_limits_hold_server_side below.
    assert 1 <= max(sampler.workers) <= limits.MAX_CONCURRENT_TRAININGS, max(sampler.workers)


async def _warm(chromium: str, url: str) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        result = {"pages": [], "exceptions": 0, "status": None, "train_s": None, "queued": False}
        await _session(browser, url, -1, result)
        assert "error" not in result, result
        await browser.close()


async def _answers(chromium: str, url: str) -> int:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        context = await browser.new_context()
        tab = await context.new_page()
        ok = 0
        for path in PAGES:
            await tab.goto(f"{url}/{path}")
            await tab.wait_for_selector(".st-key-global_seed", timeout=60_000)
            await _wait_idle(tab)
            ok += await tab.locator('[data-testid="stException"]').count() == 0
        await browser.close()
    return ok


# ------------------------------------------------------------------------------------------ limits


def _setup(owner_epochs: int = 2_000) -> tuple[RunConfig, dict]:
    config = RunConfig(data=DataConfig(dataset="circle", n_samples=200), train=TrainConfig(epochs=owner_epochs))
    return config, prepare_data(config.data).arrays()


def test_limits_hold_server_side_one_run_a_session_and_a_capped_pool():
    pool = WorkerPool(max_workers=2)
    handles = []
    try:
        config, arrays = _setup()
        handles.append(pool.submit(config, arrays, owner="one-session"))
        with pytest.raises(PlaygroundError) as caught:  # many trainings from one session: refused
            pool.submit(config, arrays, owner="one-session")
        assert_plain(caught.value, "already training")
        for i in range(3):  # more sessions than the cap: queued, in order
            handles.append(pool.submit(config, arrays, owner=f"other-{i}"))
        positions = [h.snapshot().queue_position for h in handles]
        queued = sorted(p for p in positions if p)
        assert positions[-1] >= 1 and queued == list(range(1, len(queued) + 1))  # the last waits, in order
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(h.snapshot().status == "running" for h in handles) < 2:
            time.sleep(0.1)
        assert len(pool.workers) <= 2 and sum(h.snapshot().status == "running" for h in handles) == 2
        assert sum(h.snapshot().status == "queued" for h in handles) == 2
    finally:
        for handle in handles:
            handle.stop()
        pool.shutdown()


@pytest.mark.parametrize(("spec", "fragment"), [
    ({"hidden": [limits.MAX_LAYER_WIDTH + 1], "activations": ["relu"]}, "neurons"),
    ({"hidden": [8] * (limits.MAX_HIDDEN_LAYERS + 1), "activations": ["relu"] * (limits.MAX_HIDDEN_LAYERS + 1)}, "hidden layers"),
    ({"in_features": 10**6}, "inputs"),
    ({"out_features": 10**6}, "classes"),
], ids=["too-wide", "too-deep", "too-many-inputs", "too-many-classes"])
def test_models_beyond_the_limits_are_refused_with_a_sentence(spec, fragment):
    with pytest.raises(PlaygroundError) as caught:
        ModelSpec.from_dict(spec)
    assert_plain(caught.value, fragment)


@pytest.mark.parametrize(("train", "fragment"), [
    ({"epochs": limits.MAX_EPOCHS + 1}, "Epochs"),
    ({"batch_size": limits.MAX_BATCH_SIZE + 1}, "Batch size"),
    ({"lr": 100.0}, "Learning rate"),
    ({"lr": float("nan")}, "Learning rate"),
], ids=["epochs", "batch", "lr-100", "lr-nan"])
def test_training_settings_beyond_the_limits_are_refused_with_a_sentence(train, fragment):
    with pytest.raises(PlaygroundError) as caught:
        TrainConfig.from_dict(train)
    assert_plain(caught.value, fragment)
