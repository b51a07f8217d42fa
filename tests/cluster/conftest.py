"""The class-server recipe (deploy/stack.py) started once for the test session (shared by the cluster test modules; the fault suite leaves every piece running again): two replicas behind
nginx, one Ray head, PostgreSQL where it is installed, all on loopback, each piece under supervisord, stopped at
the module's end (its state folder removed then)."""

from __future__ import annotations

import pytest

from deploy.stack import ClassServer
from tests.cluster.services import require_nginx, require_ray, require_supervisor, state_folder


@pytest.fixture(scope="session")
def class_server():
    require_ray()
    require_nginx()
    require_supervisor()
    with state_folder() as folder:
        # The replicas read an identity header, as behind an authenticating proxy; the recipe's nginx must remove
        # any a client sends (test_class_server.py's forged header).
        server = ClassServer(folder, replicas=2, ray=True, ray_cpus=4,
                             extra_env={"PLAYGROUND_OWNER_HEADER": "X-Forwarded-User"})
        server.start()
        try:
            yield server
        finally:
            server.stop()
