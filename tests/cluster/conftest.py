"""The class-server recipe (deploy/stack.py) started once for the module that asks for it: two replicas behind
nginx, one Ray head, PostgreSQL where it is installed, all on loopback, stopped by their process ids."""

from __future__ import annotations

import pytest

from deploy.stack import ClassServer, postgres_bindir
from tests.cluster.services import require_nginx, require_ray


@pytest.fixture(scope="module")
def class_server(tmp_path_factory):
    require_ray()
    require_nginx()
    server = ClassServer(tmp_path_factory.mktemp("class-server"), replicas=2, ray=True, ray_cpus=4,
                         postgres=postgres_bindir() is not None)
    server.start()
    yield server
    server.stop()
