"""Helpers for the reliability tests that drive the real app: a server of our own (short session TTL),
its memory (the server process and its training workers), and the Model Builder's epoch line."""

from __future__ import annotations

import time
from pathlib import Path

import psutil

from tests.browser.conftest import ARTIFACTS, free_port, start_app, stop_app

SESSION_TTL_S = 5  # server.disconnectedSessionTTL for these servers: a closed tab's session goes after 5 s
EPOCH_JS = ("() => { const m = document.body.innerText.match(/Epoch (\\d+)(?: \\/ \\d+)? · (\\w+)/); "
            "return m ? [+m[1], m[2]] : [-1, ''] }")


class Server:
    """`streamlit run app.py` on a free port with a short disconnected-session TTL."""

    def __init__(self, data_dir: Path, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = start_app(self.port, data_dir, ARTIFACTS / f"{name}.log",
                              extra_env={"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": str(SESSION_TTL_S)})
        self.ps = psutil.Process(self.proc.pid)

    def rss_mb(self) -> float:
        """The server process alone."""
        return self.ps.memory_info().rss / 2**20

    def workers(self) -> list[psutil.Process]:
        return [p for p in self.ps.children(recursive=True) if _is_worker(p)]

    def workers_rss_mb(self) -> float:
        total = 0.0
        for p in self.workers():
            try:
                total += p.memory_info().rss / 2**20
            except psutil.Error:
                pass
        return total

    def busy_workers(self, window_s: float = 1.0) -> int:
        """Workers using more than a tenth of a core over ``window_s`` (training; an idle worker uses ~0)."""
        procs = self.workers()
        for p in procs:
            try:
                p.cpu_percent(None)
            except psutil.Error:
                pass
        time.sleep(window_s)
        busy = 0
        for p in procs:
            try:
                busy += p.cpu_percent(None) > 10
            except psutil.Error:
                pass
        return busy

    def stop(self) -> None:
        stop_app(self.proc)


def _is_worker(p: psutil.Process) -> bool:
    try:
        cmd = " ".join(p.cmdline())
    except psutil.Error:
        return False
    return "multiprocessing" in cmd and "resource_tracker" not in cmd


def epoch_and_status(tab) -> tuple[int, str]:
    epoch, status = tab.evaluate(EPOCH_JS)
    return int(epoch), status


def wait_epoch(tab, at_least: int, timeout_s: float = 90) -> int:
    deadline = time.monotonic() + timeout_s
    epoch, status = -1, ""
    while time.monotonic() < deadline:
        epoch, status = epoch_and_status(tab)
        if epoch >= at_least:
            return epoch
        assert status not in ("failed", "diverged"), status
        tab.wait_for_timeout(200)
    shot = ARTIFACTS / f"wait-epoch-{int(time.time())}.png"
    tab.screenshot(path=str(shot), full_page=True)
    body = tab.inner_text("body")
    start = max(0, body.find("Reset") - 200)
    raise AssertionError(f"epoch {at_least} not reached; last {epoch, status}; screenshot {shot}; page: {body[start:start + 800]!r}")
