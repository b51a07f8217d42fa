"""The services the cluster tests need (a Ray head, nginx), started on loopback by the recipe's own code
(``deploy/stack.py``), once a test session, and stopped by their process ids.

Where a package is missing the tests that need it skip with a reason, except under CI=true, where
they fail: CI installs them (``.ci/run``: apt-get nginx, pip -r requirements-cluster.txt).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from deploy.loadgen import ROUTE_COOKIE, Tally, Visitor
from deploy.stack import LOOPBACK, RayHead

RAY_CPUS = 4  # logical CPUs for jobs: as many trainings at once as the local pool runs on this machine
_HEAD: RayHead | None = None


def require(available: bool, what: str, install: str) -> None:
    """Skip (or, under CI=true, fail) when ``what`` is missing."""
    if available:
        return
    message = f"{what} is not installed ({install})"
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must install it", pytrace=False)
    pytest.skip(message)


def require_ray() -> None:
    require(importlib.util.find_spec("ray") is not None, "ray", "pip install -r requirements-cluster.txt")


def require_nginx() -> None:
    require(shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists(), "nginx", "apt-get install nginx")


def require_supervisor() -> None:
    require(importlib.util.find_spec("supervisor") is not None, "supervisor", "pip install -r requirements-cluster.txt")


@contextlib.contextmanager
def state_folder() -> Iterator[Path]:
    """A class server's state folder for a test, removed afterwards. Under /tmp with o+x (pytest's own temporary
    folders are 0700), so that PostgreSQL's ``postgres`` user reaches its data folder when the tests run as root."""
    base = Path(tempfile.mkdtemp(prefix="playground-class-"))
    base.chmod(0o755)
    try:
        yield base / "state"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def ray_head() -> RayHead:
    """The test session's Ray head (started on first use, stopped when the session's process exits)."""
    global _HEAD
    require_ray()
    if _HEAD is None:
        head = RayHead(Path(tempfile.mkdtemp(prefix="playground-ray-")), cpus=RAY_CPUS, object_store_mb=150)
        head.start()
        atexit.register(head.stop)
        _HEAD = head
    return _HEAD


def connect_ray(head: RayHead):
    """Join the cluster from this process (a driver), on loopback, with the cluster's token: the settings must
    be in place before Ray is first imported; the node address is checked."""
    os.environ.update(head.client_env)
    import ray

    if not ray.is_initialized():
        ray.init(address=head.address, namespace="playground", log_to_driver=False, configure_logging=False)
    node_ip = ray.util.get_node_ip_address()
    assert node_ip == LOOPBACK, f"Ray took the node address {node_ip}: only loopback may be used here"
    return ray


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def logged_replica(server, route: str) -> str:
    """The replica nginx logged for ``route`` (nginx writes its log line just after the response)."""
    deadline = time.monotonic() + 10
    while True:
        served = {r: address for address, _, r in server.served_by()}
        if route in served or time.monotonic() > deadline:
            return served[route]
        time.sleep(0.05)


def routes_to_each_replica(server, per_replica: int) -> dict[str, list[str]]:
    """Route keys (nginx's sticky cookie) that nginx sends to each replica, found by asking: one plain GET each,
    read back from nginx's log of which replica served what."""
    replicas = {f"127.0.0.1:{r.port}" for r in server.replica_servers}
    found: dict[str, list[str]] = {address: [] for address in replicas}
    for i in range(200):
        if all(len(routes) >= per_replica for routes in found.values()):
            break
        probe = Visitor(server.url, Tally(), route=f"probe-{i}-{time.monotonic_ns()}")
        probe.cookie = f"{ROUTE_COOKIE}={probe.route}"
        assert probe.fetch("/_stcore/health") == 200
        address = logged_replica(server, probe.route)
        if len(found[address]) < per_replica:
            found[address].append(probe.route)
    return found
