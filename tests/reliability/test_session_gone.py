"""A browser session that disappears mid-training frees its worker and memory within the session
timeout. The server runs with server.disconnectedSessionTTL = 5 s; the server's memory (its own RSS,
and its training workers') is measured before, during and after.

Found while writing it: Streamlit keeps a disconnected session in a cachetools TTLCache, which drops
expired entries only when the cache is next touched (another session disconnecting). On a server
nobody else visits, the vanished session (and its run) lives on until the app's own idle timeout,
limits.TRAINING_IDLE_TIMEOUT_S (90 s), stops the run. This test measures the common case, where
another visitor comes and goes after the TTL."""

from __future__ import annotations

import time

import pytest

from tests.browser.conftest import open_page, wait_idle
from tests.reliability.browser_helpers import SESSION_TTL_S, Server, epoch_and_status, wait_epoch
from tests.reliability.conftest import record

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_vanished_session_frees_its_worker_and_memory(browser, tmp_path):
    server = Server(tmp_path / "data", "reliability-session-gone")
    try:
        warm = browser.new_context()
        tab = warm.new_page()
        open_page(tab, server.url, "model_builder")  # imports and the worker pool are warm: the baseline
        warm.close()
        # The baseline once the prewarmed worker has finished warming up (a fixed TTL + 3 s before; the warm session
        # itself stays cached until a later disconnect, so waiting for its TTL frees nothing).
        warmed = time.monotonic() + 60
        while time.monotonic() < warmed and not (server.workers() and server.busy_workers() == 0):
            time.sleep(0.2)
        before_server, before_workers = server.rss_mb(), server.workers_rss_mb()

        context = browser.new_context()
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        open_page(tab, server.url, "model_builder")
        box = tab.locator(".st-key-mb_epochs input")
        box.fill("2000")
        box.press("Enter")
        wait_idle(tab)
        tab.locator(".st-key-mb_play button").first.click()
        wait_epoch(tab, 2)
        assert epoch_and_status(tab)[1] == "training"
        assert server.busy_workers() == 1
        during_server, during_workers = server.rss_mb(), server.workers_rss_mb()

        closed = time.monotonic()
        context.close()  # the tab disappears mid-training
        # Streamlit keeps a disconnected session in a TTL cache that expires entries only when the cache
        # is next used: another visitor's disconnect after the TTL. That is when the session is dropped.
        time.sleep(SESSION_TTL_S + 1)
        other = browser.new_context()
        open_page(other.new_page(), server.url, "")
        other.close()
        freed_after = None
        deadline = closed + SESSION_TTL_S + 150  # past the idle timeout too, to report the figure
        while time.monotonic() < deadline:
            if server.busy_workers() == 0:
                freed_after = time.monotonic() - closed
                break
            time.sleep(0.5)
        assert freed_after is not None, "the vanished session's run kept its worker busy"
        time.sleep(2)
        after_server, after_workers = server.rss_mb(), server.workers_rss_mb()
    finally:
        server.stop()

    record("session gone", "session TTL (s)", SESSION_TTL_S)
    record("session gone", "worker idle again after the tab closed (s)", round(freed_after, 1))
    record("session gone", "server RSS before / during / after (MB)",
           [round(before_server), round(during_server), round(after_server)])
    record("session gone", "workers RSS before / during / after (MB)",
           [round(before_workers), round(during_workers), round(after_workers)])
    # TTL, the next visitor's disconnect, then the collection a job unseen for limits.UNSEEN_COLLECT_S starts: well
    # before limits.TRAINING_IDLE_TIMEOUT_S (90 s), which would stop it anyway.
    assert freed_after <= SESSION_TTL_S + 70
    assert after_server <= during_server + 50  # nothing keeps growing once the session is gone
