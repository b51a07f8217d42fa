"""The class-server recipe, tested as it is deployed (deploy/stack.py): nginx with sticky sessions in front of
two app replicas that share one Ray cluster and one run store, all on loopback.

- every piece listens on 127.0.0.1 only;
- a visitor's requests (the websocket included) stay on one replica, and that matters: a download's file
  lives on the replica that made it;
- load through the proxy: visitors spread over both replicas open pages and train at once, with Streamlit's
  own protocol (deploy/loadgen.py, no browser); every training finishes on a Ray actor, none in a
  replica's own worker processes, and nothing errs. Figures go to artifacts/figures.json.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time

import psutil
import pytest

from deploy.loadgen import ROUTE_COOKIE, Tally, Visitor, visit_and_train
from tests.cluster.services import routes_to_each_replica, tree
from tests.reliability.conftest import record

VISITORS = 8
EPOCHS = 2


def test_every_piece_listens_on_loopback_only(class_server):
    pids = {p.pid for info in class_server.status().values() for p in tree(info["pid"])}
    listening = [c for c in psutil.net_connections("inet") if c.status == psutil.CONN_LISTEN and c.pid in pids]
    names = {psutil.Process(c.pid).name() for c in listening}
    assert {"nginx", "gcs_server", "raylet"} <= names, names  # the pieces were seen
    strays = [(psutil.Process(c.pid).name(), c.laddr) for c in listening
              if not ipaddress.ip_address(c.laddr.ip.removeprefix("::ffff:")).is_loopback]
    assert not strays, strays


def test_a_visitor_stays_on_one_replica_where_its_files_are(class_server):
    routes = routes_to_each_replica(class_server, 1)
    assert all(routes.values())  # nginx spreads route keys over both replicas
    for address, (route,) in routes.items():  # and sends a key to the same replica every time
        probe = Visitor(class_server.url, Tally(), route=route)
        probe.cookie = f"{ROUTE_COOKIE}={route}"
        for _ in range(5):
            assert probe.fetch("/_stcore/health") == 200
        time.sleep(0.5)  # nginx's last log lines
        assert [a for a, _, r in class_server.served_by() if r == route] == [address] * 6

    async def train_and_download() -> tuple[Visitor, str]:
        visitor = Visitor(class_server.url, Tally(), "downloader")
        await visitor.connect()
        await visitor.rerun("")
        await visitor.rerun("model_builder", query="epochs=2&seed=1000")  # a seed no other test trains
        await visitor.rerun(trigger="mb_play", kind="click")
        assert (await visitor.wait_training(120))[1] == "finished", visitor.errors
        await visitor.rerun(tab=("mb_tab", "Test"))  # the Test tab opened: the trained model's test and downloads
        url = visitor.downloads.get("mb_download_predictions")  # the test predictions, a file in the replica's memory
        await visitor.close()
        return visitor, url

    visitor, url = asyncio.run(train_and_download())
    assert url, visitor.downloads
    # The weights file lives on one replica only: asked directly, one has it and the other does not ...
    direct = sorted(Visitor(r.url, Tally()).fetch(url, cookie=False) for r in class_server.replica_servers)
    assert direct == [200, 404]
    # ... and through nginx the visitor always reaches it, its cookie keeping it on its replica.
    assert [visitor.fetch(url) for _ in range(6)] == [200] * 6


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_class_trains_through_the_proxy_on_two_replicas_sharing_one_ray(class_server):
    routes = routes_to_each_replica(class_server, VISITORS // 2)
    chosen = [route for pair in zip(*routes.values(), strict=True) for route in pair]  # alternate replicas
    tally = Tally()

    async def load() -> float:
        started = time.monotonic()

        async def one(i: int) -> None:
            await asyncio.sleep(0.3 * i)
            await visit_and_train(class_server.url, tally, i, EPOCHS, train_timeout=300, route=chosen[i])

        await asyncio.gather(*(one(i) for i in range(VISITORS)))
        return time.monotonic() - started

    replica_pids = {class_server.pid(r.name) for r in class_server.replica_servers}
    wall = asyncio.run(load())
    assert not tally.errors, tally.errors
    assert [status for _, status, _ in tally.trainings] == ["finished"] * VISITORS
    assert all(epoch == EPOCHS for epoch, _, _ in tally.trainings)
    served = {address for address, uri, _ in class_server.served_by() if uri.startswith("/_stcore/stream")}
    assert served == {f"127.0.0.1:{r.port}" for r in class_server.replica_servers}  # both replicas had sessions
    # The trainings ran on Ray actors; no replica started worker processes of its own.
    for pid in replica_pids:
        assert not [p for p in tree(pid)[1:] if "multiprocessing" in " ".join(p.cmdline())]
    actors = [p for p in tree(class_server.pid("ray-head")) if p.name().startswith("ray::JobActor")]
    assert actors, "no Ray job actor was seen"
    replica_mb = [psutil.Process(pid).memory_info().rss / 2**20 for pid in replica_pids]
    actor_mb = [a.memory_info().rss / 2**20 for a in actors]
    record("cluster", "replica RSS after the load (MB, each)", [round(m) for m in replica_mb])
    record("cluster", "Ray job actor RSS (MB, median of the live ones)", round(sorted(actor_mb)[len(actor_mb) // 2]))
    record("cluster", "visitors through nginx to 2 replicas sharing one Ray (each trains 2 epochs)", VISITORS)
    record("cluster", "wall time for all visitors (s)", round(wall, 1))
    record("cluster", "page answers median / 95th percentile / slowest (s)",
           [round(tally.median(), 2), round(tally.percentile(0.95), 2), round(max(tally.seconds()), 2)])
    record("cluster", "live-view answers median / 95th percentile (s)",
           [round(tally.median(("fragment",)), 2), round(tally.percentile(0.95, ("fragment",)), 2)])
    record("cluster", "slowest training, Play to finished (s)", round(max(s for _, _, s in tally.trainings), 1))


def test_a_forged_identity_header_through_nginx_is_removed_and_gets_nobody_elses_runs(class_server):
    from playground.runs.owners import identify
    from playground.runs.store_postgres import PostgresRunStore
    from tests.sample_runs import make_trained

    if not class_server.postgres:
        pytest.skip("PostgreSQL is not installed")
    header = class_server.extra_env["PLAYGROUND_OWNER_HEADER"]
    alice = identify("shared", headers={header: "alice"}, owner_header=header)
    store = PostgresRunStore(class_server.store_url)
    run_id = store.save(make_trained(seed=4242), owner=alice.owner)

    async def runs_page(url: str) -> Visitor:
        visitor = Visitor(url, Tally(), "runs", headers={header: "alice"})
        await visitor.connect()
        await visitor.rerun("")
        await visitor.rerun("runs")
        await visitor.close()
        return visitor

    try:
        # Where an authenticating proxy sets the header (here: straight to a replica), it names the owner ...
        trusted = asyncio.run(runs_page(class_server.replica_servers[0].url))
        assert any("you are alice" in t for t in trusted.texts) and any("1 of 1 runs shown" in t for t in trusted.texts)
        # ... and the same header sent by a client through the recipe's nginx is removed: an anonymous visitor
        # with no runs, never Alice's.
        forged = asyncio.run(runs_page(class_server.url))
        assert not any("alice" in t for t in forged.texts), forged.texts
        assert any("you are an anonymous visitor" in t for t in forged.texts)
        assert any("No runs are kept yet" in s for s in forged.sentences), forged.sentences
    finally:
        store.delete(run_id, owner=alice.owner)


def test_the_state_persists_where_docs_deploy_says(class_server, monkeypatch):
    """docs/DEPLOY.md "What persists where": PostgreSQL's data in the state folder's postgres/pgdata (private to its
    user; the server really runs from it), the logs rotated at 20 MB, the default state folder per user."""
    from deploy import stack

    if not class_server.postgres:
        pytest.skip("PostgreSQL is not installed")
    import os
    import pwd

    import psycopg

    pgdata = class_server.state_dir / "postgres" / "pgdata"
    assert (pgdata / "PG_VERSION").exists() and pgdata.stat().st_mode & 0o077 == 0
    if os.geteuid() == 0:  # PostgreSQL refuses root: its data belongs to the postgres user
        assert pwd.getpwuid(pgdata.stat().st_uid).pw_name == "postgres"
    with psycopg.connect(class_server.store_url, connect_timeout=10) as db:
        assert db.execute("SHOW data_directory").fetchone()[0] == str(pgdata)
        assert db.execute("SHOW fsync").fetchone()[0] == "on"  # durable
    conf = class_server.conf_path.read_text()
    assert conf.count("stdout_logfile_maxbytes=20MB") == len(class_server.status())
    assert (class_server.state_dir / "data").is_dir() and "PLAYGROUND_DATA_DIR" in conf
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert stack.default_state_dir() == stack.Path("/var/lib/playground-class-server")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert stack.default_state_dir() == stack.Path("class-server-state")
