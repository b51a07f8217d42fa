"""The class server's faults under load (deploy/loadgen.py visitors training and watching, new visitors opening
pages): kill -9 a replica, a Ray worker, the Ray head, nginx; restart PostgreSQL; restart the whole stack.

For each: supervisord brings the piece back and no other piece goes down with it; pages keep answering through
the surviving pieces (the fraction of new visitors' pages answered and the longest gap are recorded in
artifacts/figures.json, docs/RELIABILITY.md "Class server faults"); no kept run is lost (the rows before are
all there after); a run is said kept only once it is in the database; a visitor whose training was cut off is
told so in a sentence. Waits poll generously: the machine is small and shared.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

import psutil
import pytest

from deploy.loadgen import Tally, Visitor
from deploy.stack import http_ok, postgres_bindir
from playground.execution.jobs import DIED_SENTENCE
from playground.execution.ray_executor import CUT_OFF_SENTENCE, HEAD_LOST_SENTENCE
from tests.cluster.services import routes_to_each_replica, tree
from tests.reliability.conftest import record
from views.model_builder_io import NOT_KEPT_YET

EPOCHS = 120  # at the page's 10 epochs a second: long enough for the fault to strike mid-training
PROBE_EVERY_S = 1.0
PROBE_TIMEOUT_S = 20.0
BACK_TIMEOUT_S = 240.0
pytestmark = [pytest.mark.timeout(900)]


def kept_rows(server) -> set[str]:
    import psycopg

    with psycopg.connect(server.store_url, connect_timeout=10) as db:
        return {row[0] for row in db.execute("SELECT run_id FROM runs")}


def everything_up(server) -> bool:
    """Every piece RUNNING under supervisord, every replica and nginx answering."""
    try:
        states = server.status()
    except Exception:  # noqa: BLE001 - supervisord busy: not yet
        return False
    return (all(info["state"] == "RUNNING" for info in states.values())
            and all(http_ok(f"{r.url}/_stcore/health") for r in server.replica_servers)
            and http_ok(f"{server.url}/_stcore/health"))


def wait_for(condition, timeout: float = BACK_TIMEOUT_S, what: str = "") -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen in {timeout:.0f} s")


@pytest.fixture
def stack(class_server):
    """The session's class server, every piece up before a fault and again after it."""
    if not class_server.postgres:
        pytest.skip("PostgreSQL is not installed")
    wait_for(lambda: everything_up(class_server), what="the whole stack up")
    from playground.runs.store_postgres import PostgresRunStore

    assert PostgresRunStore(class_server.store_url).writable  # its tables made, as a replica makes them
    yield class_server
    wait_for(lambda: everything_up(class_server), what="the whole stack up again")


@dataclass
class Probes:
    """New visitors opening a page, one a second, through nginx: (sent at, answered)."""

    url: str
    results: list[tuple[float, float, bool]] = field(default_factory=list)  # (sent, answered at, ok)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def one(self) -> None:
        visitor = Visitor(self.url, Tally(), "probe")
        sent = time.monotonic()
        ok = False
        try:
            await asyncio.wait_for(visitor.connect(), PROBE_TIMEOUT_S)
            await asyncio.wait_for(visitor.rerun(""), PROBE_TIMEOUT_S)
            ok = not visitor.errors
        except Exception:  # noqa: BLE001 - an unanswered page is the figure
            ok = False
        finally:
            with contextlib.suppress(Exception):
                await visitor.close()
        self.results.append((sent, time.monotonic(), ok))

    async def run(self) -> None:
        tasks = []
        while not self.stop.is_set():
            tasks.append(asyncio.create_task(self.one()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), PROBE_EVERY_S)
        await asyncio.gather(*tasks)

    def between(self, start: float, end: float) -> list[tuple[float, float, bool]]:
        return [r for r in self.results if start <= r[0] <= end]

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without an answered page between ``start`` and ``end``."""
        answered = sorted(done for _, done, ok in self.results if ok and start <= done <= end)
        marks = [start, *answered, end]
        return max(b - a for a, b in zip(marks, marks[1:], strict=False))


async def start_training(visitor: Visitor, seed: int, epochs: int = EPOCHS) -> None:
    await visitor.connect()
    await visitor.rerun("")
    await visitor.rerun("model_builder", query=f"epochs={epochs}&seed={seed}")
    await visitor.rerun(trigger="mb_play", kind="click")


async def wait_training_started(visitors: list[Visitor], timeout: float = 240) -> None:
    """Until each visitor's run has been seen training (runs may start apart: an actor may have to start first)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen |= {v.name for v in visitors if v.epoch_line and v.epoch_line[1] == "training"}
        if len(seen) == len(visitors):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"trainings did not start: {[v.epoch_line for v in visitors]} {[v.errors for v in visitors]}")


def training(visitors: list[Visitor]) -> list[Visitor]:
    return [v for v in visitors if v.epoch_line and v.epoch_line[1] == "training"]


async def settle(visitor: Visitor) -> None:
    """One more run of the page, so that what the page says after its run ended has been drawn."""
    if visitor.reader is not None and not visitor.reader.done():
        await visitor.rerun(visitor.page)


def seeds() -> int:
    """Seeds no other test of the session trains (a run of a seed already kept opens instead of training)."""
    return 5000 + (time.monotonic_ns() // 1000) % 1_000_000


@dataclass
class Fault:
    """What a fault did: the figures recorded and asserted on."""

    name: str
    probes: Probes
    struck: float
    back: float
    visitors: list[Visitor]
    at_strike: list[Visitor]  # those whose run was training when the fault struck

    def report(self) -> tuple[float, float]:
        during = self.probes.between(self.struck, self.back + 5)
        answered = sum(1 for _, _, ok in during if ok) / max(len(during), 1)
        gap = self.probes.longest_gap(self.struck, self.back + 5)
        record("class server faults", f"{self.name}: pages answered during the fault and 5 s after (fraction)",
               round(answered, 2))
        record("class server faults", f"{self.name}: longest time without a page answer (s)", round(gap, 1))
        record("class server faults", f"{self.name}: back under supervisord after (s)", round(self.back - self.struck, 1))
        return answered, gap


async def under_load(server, name: str, strike, back, visitors_per_replica: int = 1, epochs: int = EPOCHS,
                     after=None) -> Fault:
    """Visitors training on each replica (by their sticky route) and new visitors' pages probed, while ``strike``
    (in a thread) hits a piece; ``back`` says when it is back. ``after`` (async, given the visitors) runs once
    the piece is back, before the probes stop."""
    routes = routes_to_each_replica(server, visitors_per_replica)
    chosen = [route for pair in zip(*routes.values(), strict=True) for route in pair]
    tally = Tally()
    visitors = [Visitor(server.url, tally, f"{name}-{i}", route=route) for i, route in enumerate(chosen)]
    base = seeds()
    await asyncio.gather(*(start_training(v, base + i, epochs) for i, v in enumerate(visitors)))
    await wait_training_started(visitors)
    probes = Probes(server.url)
    probing = asyncio.create_task(probes.run())
    await asyncio.sleep(2 * PROBE_EVERY_S)
    at_strike = training(visitors)
    struck = time.monotonic()
    await asyncio.to_thread(strike)
    await asyncio.to_thread(wait_for, back, BACK_TIMEOUT_S, f"{name}: the piece back")
    came_back = time.monotonic()
    if after is not None:
        await after(visitors)
    await asyncio.sleep(5)
    probes.stop.set()
    await probing
    for visitor in visitors:
        with contextlib.suppress(Exception):
            await visitor.close()
    return Fault(name, probes, struck, came_back, visitors, at_strike)


def kill_tree(pid: int) -> None:
    for process in reversed(tree(pid)):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)


def restarted(server, name: str, old_pid: int):
    def check() -> bool:
        try:
            info = server.status()[name]
        except Exception:  # noqa: BLE001
            return False
        return info["state"] == "RUNNING" and info["pid"] not in (0, old_pid)

    return check


async def finish(visitors: list[Visitor], timeout: float = 300) -> list[tuple[int, str] | None]:
    lines = await asyncio.gather(*(v.wait_training(timeout) for v in visitors))
    await asyncio.gather(*(settle(v) for v in visitors))
    return lines


def test_a_killed_replica_takes_nothing_else_down_and_its_peer_keeps_serving(stack):
    before = kept_rows(stack)
    victim = stack.replica_servers[0]
    other_pids = {name: info["pid"] for name, info in stack.status().items() if name != victim.name}
    old = stack.pid(victim.name)
    survivors: list = []
    returned: list = []

    async def after(visitors):
        survivors.extend(await finish(visitors, 300))
        for visitor in visitors:  # the cut-off visitor comes back (same owner cookie, same route) to the builder
            if any("connection closed" in e for e in visitor.errors):
                again = Visitor(stack.url, Tally(), visitor.name + "-again", route=visitor.route)
                again.owner_token = visitor.owner_token
                await again.connect()
                await again.rerun("")
                await again.rerun("model_builder")
                await again.close()
                returned.append(again)

    fault = asyncio.run(under_load(stack, "kill -9 a replica", lambda: os.kill(old, signal.SIGKILL),
                                   lambda: restarted(stack, victim.name, old)() and http_ok(f"{victim.url}/_stcore/health"),
                                   after=after))
    answered, _ = fault.report()
    # Nothing else went down: every other piece kept its process.
    assert {name: info["pid"] for name, info in stack.status().items() if name != victim.name} == other_pids
    # The surviving replica answered new visitors while the killed one was down.
    assert any(ok for sent, _, ok in fault.probes.between(fault.struck, fault.back) if sent >= fault.struck), fault.probes.results
    # The visitor on the other replica trained to the end; the killed replica's visitor was cut off (its
    # connection closed: Streamlit's page says it lost the server and reconnects to a fresh session).
    cut = [v for v in fault.visitors if any("connection closed" in e for e in v.errors)]
    assert len(cut) == 1, [v.errors for v in fault.visitors]
    # Back on the builder, the cut-off visitor is told that their training stopped with its server.
    assert cut[0].owner_token and cut[0] in fault.at_strike
    assert any(CUT_OFF_SENTENCE in s for s in returned[0].sentences), returned[0].sentences
    finished = [v for v in fault.visitors if v not in cut]
    assert all(v.epoch_line and v.epoch_line[1] == "finished" for v in finished), [v.epoch_line for v in finished]
    after_rows = kept_rows(stack)
    assert before <= after_rows
    for visitor in finished:
        assert visitor.kept and visitor.kept <= after_rows  # said kept, and it is in the database
    record("class server faults", "kill -9 a replica: kept runs before / after", [len(before), len(after_rows)])
    assert answered > 0


def test_a_killed_ray_worker_ends_its_job_with_a_sentence_and_the_others_finish(stack):
    before = kept_rows(stack)
    pieces = {name: info["pid"] for name, info in stack.status().items()}
    head = stack.pid("ray-head")

    def strike() -> None:
        actors = [p for p in tree(head) if p.name().startswith("ray::JobActor")]
        for actor in actors:
            actor.cpu_percent(None)
        time.sleep(1.0)
        busiest = max(actors, key=lambda p: p.cpu_percent(None))  # an actor that trains, not a warm idle one
        busiest.send_signal(signal.SIGKILL)

    lines: list = []

    async def after(visitors):
        lines.extend(await finish(visitors))

    fault = asyncio.run(under_load(stack, "kill -9 a Ray worker", strike, lambda: True, after=after))
    answered, _ = fault.report()
    assert {name: info["pid"] for name, info in stack.status().items()} == pieces  # no piece restarted
    statuses = sorted(line[1] for line in lines)
    assert fault.at_strike and statuses == ["failed"] + ["finished"] * (len(lines) - 1), statuses
    died = [v for v in fault.visitors if v.epoch_line[1] == "failed"]
    assert any(DIED_SENTENCE in s for s in died[0].sentences), died[0].sentences
    after_rows = kept_rows(stack)
    assert before <= after_rows
    for visitor in fault.visitors:
        assert visitor.kept <= after_rows
    assert answered == 1.0, fault.probes.results  # the pages never depended on the worker


def test_a_killed_ray_head_is_restarted_and_the_replicas_train_on_it_again(stack):
    before = kept_rows(stack)
    old = stack.pid("ray-head")
    replica_pids = {r.name: stack.pid(r.name) for r in stack.replica_servers}

    log = stack.logs / "ray-head.log"
    mark = log.stat().st_size

    def strike() -> None:
        [gcs] = [p for p in tree(old) if p.name() == "gcs_server"]
        gcs.send_signal(signal.SIGKILL)

    def back() -> bool:
        with log.open("rb") as f:
            f.seek(mark)
            return restarted(stack, "ray-head", old)() and b"Ray runtime started" in f.read()

    lines: list = []

    async def after(visitors):
        lines.extend(await finish(visitors, 120))
        # The replicas join the restarted head: a new training on each finishes.
        again = [Visitor(stack.url, Tally(), f"again-{i}", route=v.route) for i, v in enumerate(visitors)]
        await asyncio.gather(*(start_training(v, seeds() + 100 + i, 20) for i, v in enumerate(again)))
        lines.extend(await finish(again, 300))
        visitors.extend(again)

    fault = asyncio.run(under_load(stack, "kill -9 the Ray head", strike, back, after=after))
    answered, _ = fault.report()
    first, second = lines[:2], lines[2:]
    assert fault.at_strike
    for visitor, line in zip(fault.visitors[:2], first, strict=True):
        if visitor in fault.at_strike:  # cut off, and told why
            assert line[1] == "failed" and any(HEAD_LOST_SENTENCE in s for s in visitor.sentences), visitor.sentences
        else:
            assert line[1] == "finished"
    assert [line[1] for line in second] == ["finished", "finished"], second
    # The replicas lived through it (a driver left on a dead head is ended by Ray after a minute).
    assert {r.name: stack.pid(r.name) for r in stack.replica_servers} == replica_pids
    after_rows = kept_rows(stack)
    assert before <= after_rows and all(v.kept <= after_rows for v in fault.visitors)
    assert answered > 0.5, fault.probes.results


def test_a_killed_nginx_is_restarted_and_pages_answer_again(stack):
    before = kept_rows(stack)
    old = stack.pid("nginx")
    others = {name: info["pid"] for name, info in stack.status().items() if name != "nginx"}
    fault = asyncio.run(under_load(stack, "kill -9 nginx", lambda: kill_tree(old), restarted(stack, "nginx", old)))
    answered, gap = fault.report()
    assert {name: info["pid"] for name, info in stack.status().items() if name != "nginx"} == others
    assert any(ok for sent, _, ok in fault.probes.results if sent > fault.back)  # pages answer again
    # The watching visitors lost their connection (the page says so and reconnects); their runs go on in their
    # replica's session meanwhile, and nothing kept was lost.
    assert all(any("connection closed" in e for e in v.errors) for v in fault.visitors)
    assert before <= kept_rows(stack)


def test_a_postgres_restart_loses_no_kept_run_and_a_run_not_kept_is_kept_once_it_is_back(stack):
    before = kept_rows(stack)
    others = {name: info["pid"] for name, info in stack.status().items() if name != "postgres"}
    state: dict = {}

    def strike() -> None:
        state["stopped_at"] = time.monotonic()
        stack.stop_piece("postgres")  # PostgreSQL's fast shutdown: the trainings end while it is down

    def back() -> bool:
        return True

    async def after(visitors):
        state["lines"] = await finish(visitors, 300)
        state["kept_while_down"] = {v.name: set(v.kept) for v in visitors}
        state["said"] = {v.name: list(v.sentences) for v in visitors}
        await asyncio.to_thread(stack.start_piece, "postgres")
        state["down_s"] = time.monotonic() - state["stopped_at"]
        for visitor in visitors:  # the page's button: keep it now that the store is back
            await visitor.rerun(trigger="mb_io_keep_again", kind="click")

    fault = asyncio.run(under_load(stack, "restart PostgreSQL", strike, back, epochs=100, after=after))
    fault.report()
    assert {name: info["pid"] for name, info in stack.status().items() if name != "postgres"} == others
    assert [line[1] for line in state["lines"]] == ["finished", "finished"]
    assert fault.at_strike
    for visitor in fault.at_strike:  # their runs ended while the store was down
        assert state["kept_while_down"][visitor.name] == set()  # never said kept while the store was down
        assert any(NOT_KEPT_YET in s for s in state["said"][visitor.name]), state["said"][visitor.name]
    for visitor in fault.visitors:
        assert len(visitor.kept) == 1, visitor.sentences  # kept (once it was back)
    after_rows = kept_rows(stack)
    assert before <= after_rows
    assert set().union(*(v.kept for v in fault.visitors)) <= after_rows
    record("class server faults", "restart PostgreSQL: kept runs before / after", [len(before), len(after_rows)])
    record("class server faults", "restart PostgreSQL: down for (s)", round(state["down_s"], 1))


def test_the_store_is_backed_up_and_restored_with_pg_dump(stack, tmp_path):
    """The commands of docs/DEPLOY.md, against the running stack."""
    import psycopg

    from playground.runs.store_postgres import PostgresRunStore
    from tests.sample_runs import make_trained

    bindir, port = postgres_bindir(), str(stack.ports["postgres"])
    store = PostgresRunStore(stack.store_url)
    run_id = store.save(make_trained(seed=7777))

    def weights() -> bytes | None:
        with psycopg.connect(stack.store_url) as db:
            row = db.execute("SELECT data FROM run_weights WHERE run_id = %s", (run_id,)).fetchone()
        return bytes(row[0]) if row else None

    kept = weights()
    dump = tmp_path / "runs.dump"
    subprocess.run([str(bindir / "pg_dump"), "-h", "127.0.0.1", "-p", port, "-U", "playground", "-Fc", "playground",
                    "-f", str(dump)], check=True, capture_output=True, timeout=120)
    assert store.delete(run_id) and weights() is None  # lost after the backup ...
    subprocess.run([str(bindir / "pg_restore"), "-h", "127.0.0.1", "-p", port, "-U", "playground", "-d", "playground",
                    "--clean", "--if-exists", str(dump)], check=True, capture_output=True, timeout=120)
    assert weights() == kept and store.get(run_id).status == "finished"  # ... and back, byte for byte


def test_a_restart_of_the_whole_stack_keeps_every_kept_run(stack):
    before = kept_rows(stack)
    assert before, "the fault tests above kept runs"
    started = time.monotonic()
    stack.stop()
    stack.start()
    record("class server faults", "whole stack stopped and started again (s)", round(time.monotonic() - started, 1))
    assert kept_rows(stack) == before
    record("class server faults", "whole stack restart: kept runs before / after", [len(before), len(kept_rows(stack))])
