"""A class server on one machine, on loopback only: PostgreSQL, a Ray head, app replicas, nginx in front.

    python -m deploy.stack up                    # 2 replicas behind nginx on http://127.0.0.1:8080
    python -m deploy.stack up --replicas 3 --port 9000 --ray-cpus 8
    python -m deploy.stack up --no-ray           # each replica trains in its own local worker pool

Each piece is a child process started here and stopped here by its process id (``stop`` or Ctrl-C):
nothing is installed, nothing listens beyond 127.0.0.1. The tests and ``bench/cluster.py`` start the same
pieces through ``ClassServer``, so the recipe is what is tested. docs/DEPLOY.md explains how the same
pieces spread over several machines.

- PostgreSQL (Debian's ``postgresql``): a fresh cluster in the work folder, on 127.0.0.1, its URL handed to
  every replica as ``PLAYGROUND_STORE_URL`` (the run store shared by the replicas). Skipped when
  ``initdb`` is missing; the replicas then share one ``PLAYGROUND_DATA_DIR``, which they always get.
- Ray: ``ray start --head --block`` with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, which keeps the node's
  address (and so every Ray socket) on 127.0.0.1, and token authentication with a token of its own (a
  file in the work folder); its address and the token's path go to the replicas (``PLAYGROUND_RAY_ADDRESS``,
  ``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN_PATH``). Stopping the blocking ``ray start`` stops what it started.
- Replicas: ``streamlit run app.py`` on 127.0.0.1, one port each, in shared mode (``PLAYGROUND_MODE=shared``:
  each visitor owns their runs and trains one model at a time across their tabs).
- nginx: sticky sessions by a cookie (``playground_route``: a visitor's first request gets a random
  route key, hashed to a replica; every later request, the websocket included, carries it back), the
  websocket upgrade passed through, uploads up to the app's limit.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAY_IDLE_ACTORS = 1  # warm actors each replica keeps (playground.limits.RAY_IDLE_ACTORS; not imported: no torch here)
LOOPBACK = "127.0.0.1"
# Ray takes the node's address from the route to the outside unless told otherwise; this setting makes it
# use the loopback address (a one-machine cluster: no worker nodes can join it).
RAY_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
POSTGRES_BIN = Path("/usr/lib/postgresql")
SESSION_TTL_S = 30  # a replica drops a session this long after its browser went away
ROUTE_COOKIE = "playground_route"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOOPBACK, port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status == 200
    except OSError:
        return False


def wait_until(condition, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}; log: {log}\n{tail(log)}")
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up in {timeout:.0f} s; log: {log}\n{tail(log)}")


def tail(path: Path | None, lines: int = 20) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Service:
    """A child process of this stack, stopped by its id: ``stop_signal`` first, then SIGKILL."""

    name: str
    proc: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    def stop(self, timeout: float = 20) -> None:
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            self.proc.wait(timeout=10)


def _die_with_parent() -> None:
    """In the child before exec: receive SIGTERM when the process that started it is gone (Linux), so a
    killed test or stack leaves nothing running."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def spawn(name: str, args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None,
          stop_signal: int = signal.SIGTERM) -> Service:
    """Start a piece; it is stopped by ``Service.stop`` (by its id), or when this process dies."""
    out = open(log, "ab")  # noqa: SIM115 - the child keeps it; closed when this process exits
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                            preexec_fn=_die_with_parent)  # noqa: PLW1509 - no threads run in the child before exec
    return Service(name, proc, log, stop_signal)


# ---------------------------------------------------------------------------------------------- pieces

def postgres_bindir() -> Path | None:
    """Debian's PostgreSQL binaries (the newest installed version), or None."""
    versions = sorted((p for p in POSTGRES_BIN.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


class Postgres:
    """A fresh PostgreSQL cluster on 127.0.0.1 only (trust auth: loopback, one machine). As root it runs as
    the ``postgres`` user (PostgreSQL refuses to run as root), in a folder of its own under the temporary
    folder that this user can reach, removed again by ``stop``."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.service: Service | None = None
        self.bindir = postgres_bindir()
        self.own_folder = False

    @property
    def url(self) -> str:
        return f"postgresql://playground@{LOOPBACK}:{self.port}/playground"

    def _as_owner(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def start(self) -> None:
        if self.bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        if os.geteuid() == 0:
            self.folder = Path(tempfile.mkdtemp(prefix="playground-pg-"))
            self.own_folder = True
            shutil.chown(self.folder, "postgres")
        self.folder.mkdir(parents=True, exist_ok=True)
        data = self.folder / "pgdata"  # its socket goes there too (-k)
        log = self.folder / "postgres.log"
        made = subprocess.run(self._as_owner([str(self.bindir / "initdb"), "-D", str(data), "-U", "playground",
                                              "--auth=trust", "-E", "UTF8", "--no-sync"]), capture_output=True, text=True)
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stderr.strip()[-600:]}")
        self.service = spawn("postgres", self._as_owner([
            str(self.bindir / "postgres"), "-D", str(data), "-h", LOOPBACK, "-p", str(self.port),
            "-k", str(data), "-c", "fsync=off", "-c", "max_connections=100"]), log)  # SIGTERM: runuser passes it on
        wait_until(lambda: port_open(self.port), 60, "PostgreSQL", self.service.proc, log)
        deadline = time.monotonic() + 30
        while True:  # the port opens a moment before the server accepts connections
            made = subprocess.run([str(self.bindir / "createdb"), "-h", LOOPBACK, "-p", str(self.port), "-U", "playground",
                                   "playground"], capture_output=True, text=True)
            if made.returncode == 0 or "already exists" in made.stderr:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"createdb failed: {made.stderr.strip()[-600:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()
        if self.own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


class RayHead:
    """``ray start --head --block`` on 127.0.0.1 with ``cpus`` logical CPUs (and ``gpus`` where given)."""

    def __init__(self, folder: Path, cpus: int = 4, gpus: int | None = None, object_store_mb: int = 200,
                 port: int | None = None) -> None:
        self.folder = folder
        self.cpus, self.gpus, self.object_store_mb = cpus, gpus, object_store_mb
        self.port = port or free_port()
        self.service: Service | None = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def token_path(self) -> Path:
        return self.folder / "auth_token"

    @property
    def client_env(self) -> dict[str, str]:
        """What a process joining this cluster needs in its environment (before it imports Ray)."""
        return dict(RAY_LOOPBACK_ENV, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(self.token_path))

    def start(self) -> None:
        ray = Path(sys.executable).with_name("ray")
        command = [str(ray)] if ray.exists() else [shutil.which("ray") or "ray"]
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self.token_path.exists():  # the cluster's own token: whoever can read it may run code on it
            self.token_path.touch(mode=0o600)
            self.token_path.write_text(secrets.token_hex(32))
        log = self.folder / "ray-head.log"
        args = [*command, "start", "--head", "--block", "--node-ip-address", LOOPBACK, "--port", str(self.port),
                "--num-cpus", str(self.cpus), "--object-store-memory", str(self.object_store_mb * 2**20),
                "--include-dashboard", "false", "--disable-usage-stats",
                "--dashboard-agent-listen-port", str(free_port()),
                "--metrics-export-port", str(free_port())]
        if self.gpus is not None:
            args += ["--num-gpus", str(self.gpus)]
        self.service = spawn("ray-head", args, log, env=dict(os.environ, **self.client_env))
        wait_until(lambda: "Ray runtime started" in log.read_text(errors="replace"), 120, "the Ray head",
                   self.service.proc, log)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop(timeout=30)


class Replica:
    """One app server: ``streamlit run app.py`` on 127.0.0.1."""

    def __init__(self, folder: Path, index: int, env: dict[str, str], port: int | None = None,
                 app: Path = ROOT / "app.py") -> None:
        self.folder, self.index, self.env, self.app = folder, index, env, app
        self.port = port or free_port()
        self.service: Service | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, wait: bool = True) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / f"replica-{self.index}.log"
        args = [sys.executable, "-m", "streamlit", "run", str(self.app), "--server.port", str(self.port),
                "--server.address", LOOPBACK, "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none", "--server.disconnectedSessionTTL", str(SESSION_TTL_S)]
        self.service = spawn(f"replica-{self.index}", args, log, env=self.env, cwd=ROOT)
        if wait:
            self.wait()

    def wait(self, timeout: float = 120) -> None:
        assert self.service is not None
        wait_until(lambda: http_ok(f"{self.url}/_stcore/health"), timeout, f"replica {self.index}",
                   self.service.proc, self.service.log)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


NGINX_CONF = """\
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
{user}
events {{ worker_connections 2048; }}

http {{
    # Which replica served each request, for the operator (and the tests); visitors never see it.
    log_format upstreams '$upstream_addr $status "$request_uri" $playground_route';
    access_log {folder}/access.log upstreams;
    client_body_temp_path {folder}/tmp/body;
    proxy_temp_path {folder}/tmp/proxy;
    fastcgi_temp_path {folder}/tmp/fastcgi;
    uwsgi_temp_path {folder}/tmp/uwsgi;
    scgi_temp_path {folder}/tmp/scgi;

    # The websocket upgrade passes through; other requests keep their connection.
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}
    # Sticky sessions: the route key a visitor's first request is given (a random request id) comes back in
    # a cookie with every later request, the websocket included, and hashes to the same replica.
    map $cookie_{cookie} $playground_route {{
        ""      $request_id;
        default $cookie_{cookie};
    }}

    upstream playground {{
        hash $playground_route consistent;
{servers}
    }}

    server {{
        listen {listen};
        client_max_body_size {max_body};

        location / {{
            proxy_pass http://playground;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
            proxy_buffering off;
            add_header Set-Cookie "{cookie}=$playground_route; Path=/; HttpOnly; SameSite=Lax" always;
        }}
    }}
}}
"""


def nginx_conf(folder: Path, listen_port: int, upstream_ports: list[int], max_body_mb: int = 12) -> str:
    """nginx's configuration: loopback only, cookie-sticky sessions over ``upstream_ports``."""
    servers = "\n".join(f"        server {LOOPBACK}:{port};" for port in upstream_ports)
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    return NGINX_CONF.format(folder=folder, user=user, cookie=ROUTE_COOKIE, servers=servers,
                             listen=f"{LOOPBACK}:{listen_port}", max_body=f"{max_body_mb}m")


class Nginx:
    """Debian's nginx in the foreground with its own configuration, prefix and logs in ``folder``."""

    def __init__(self, folder: Path, upstream_ports: list[int], port: int | None = None) -> None:
        self.folder = folder
        self.upstream_ports = upstream_ports
        self.port = port or free_port()
        self.service: Service | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def served_by(self) -> list[tuple[str, str, str]]:
        """(replica address, request URI, route key) of each request logged so far."""
        log = self.folder / "access.log"
        rows = []
        for line in (log.read_text(errors="replace").splitlines() if log.exists() else []):
            parts = line.split(" ")
            if len(parts) >= 4:
                rows.append((parts[0], parts[2].strip('"'), parts[3]))
        return rows

    def start(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise RuntimeError("nginx is not installed (apt-get install nginx)")
        self.folder.mkdir(parents=True, exist_ok=True)
        temp = self.folder / "tmp"
        temp.mkdir(exist_ok=True)
        temp.chmod(0o777)  # the workers (user nobody when started as root) buffer uploads there
        conf = self.folder / "nginx.conf"
        conf.write_text(nginx_conf(self.folder, self.port, self.upstream_ports))
        log = self.folder / "nginx.log"
        args = [binary, "-p", str(self.folder), "-c", str(conf), "-e", str(self.folder / "nginx-error.log"),
                "-g", "daemon off;"]
        self.service = spawn("nginx", args, log, stop_signal=signal.SIGQUIT)
        wait_until(lambda: http_ok(f"{self.url}/_stcore/health"), 60, "nginx", self.service.proc, log)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop()


# ---------------------------------------------------------------------------------------------- the whole

@dataclass
class ClassServer:
    """The whole recipe on one machine. ``ray``: a Ray head for the jobs (else each replica's own pool), with
    ``ray_cpus`` logical CPUs for jobs that train at once; ``postgres``: a PostgreSQL run store (else one
    shared data folder); ``proxy``: nginx in front."""

    folder: Path
    replicas: int = 2
    port: int | None = None
    ray: bool = True
    ray_cpus: int = 4
    ray_gpus: int | None = None
    postgres: bool = True
    proxy: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    pieces: list = field(default_factory=list)
    replica_servers: list[Replica] = field(default_factory=list)
    ray_head: RayHead | None = None
    store: Postgres | None = None
    nginx: Nginx | None = None

    @property
    def url(self) -> str:
        if self.nginx is not None:
            return self.nginx.url
        return self.replica_servers[0].url

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PLAYGROUND_MODE"] = "shared"  # a class server: each visitor owns their runs (playground/runs/owners.py)
        env["PLAYGROUND_DATA_DIR"] = str(self.folder / "data")  # one folder for every replica (weights, SQLite)
        env.update(self.extra_env)
        if self.ray_head is not None:
            env.update(self.ray_head.client_env, PLAYGROUND_RAY_ADDRESS=self.ray_head.address)
        else:
            env.pop("PLAYGROUND_RAY_ADDRESS", None)
        if self.store is not None:
            env["PLAYGROUND_STORE_URL"] = self.store.url
        return env

    def start(self) -> ClassServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            if self.postgres and postgres_bindir() is not None:
                self.store = Postgres(self.folder / "postgres")
                self.store.start()
                self.pieces.append(self.store)
            if self.ray:
                # The jobs' CPUs, plus one for each replica's warm actor (limits.RAY_IDLE_ACTORS), which holds one
                # of the cluster's CPUs between jobs so that Play starts at once.
                self.ray_head = RayHead(self.folder / "ray", cpus=self.ray_cpus + self.replicas * RAY_IDLE_ACTORS,
                                        gpus=self.ray_gpus)
                self.ray_head.start()
                self.pieces.append(self.ray_head)
            env = self.env()
            for index in range(self.replicas):
                replica = Replica(self.folder / "replicas", index, env)
                replica.start(wait=False)
                self.replica_servers.append(replica)
                self.pieces.append(replica)
            for replica in self.replica_servers:
                replica.wait()
            if self.proxy:
                self.nginx = Nginx(self.folder / "nginx", [r.port for r in self.replica_servers], port=self.port)
                self.nginx.start()
                self.pieces.append(self.nginx)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every piece, the last started first."""
        while self.pieces:
            piece = self.pieces.pop()
            with contextlib.suppress(Exception):
                piece.stop()

    def __enter__(self) -> ClassServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start everything and wait (Ctrl-C stops it all)")
    up.add_argument("--replicas", type=int, default=2)
    up.add_argument("--port", type=int, default=8080, help="nginx's port on 127.0.0.1")
    up.add_argument("--ray-cpus", type=int, default=4, help="logical CPUs the Ray head offers to jobs")
    up.add_argument("--ray-gpus", type=int, default=None, help="GPUs the Ray head offers (default: as detected)")
    up.add_argument("--no-ray", action="store_true", help="train in each replica's local pool instead")
    up.add_argument("--no-postgres", action="store_true", help="keep runs in one shared SQLite folder instead")
    up.add_argument("--folder", type=Path, default=None, help="work folder (default: a new temporary one)")
    args = parser.parse_args(argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="playground-class-"))
    server = ClassServer(folder, replicas=args.replicas, port=args.port, ray=not args.no_ray, ray_cpus=args.ray_cpus,
                         ray_gpus=args.ray_gpus, postgres=not args.no_postgres)
    stopping = {"now": False}

    def on_signal(signum, frame) -> None:  # noqa: ARG001
        stopping["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with server:
        print(f"Class server on {server.url} (work folder {folder})")
        for replica in server.replica_servers:
            print(f"  replica {replica.index}: {replica.url}")
        if server.ray_head is not None:
            print(f"  Ray head: {server.ray_head.address} ({args.ray_cpus} CPUs for jobs)")
        print(f"  run store: {server.store.url if server.store else 'SQLite in ' + str(folder / 'data')}")
        print("Ctrl-C stops it all.", flush=True)
        while not stopping["now"]:
            dead = [p for p in server.pieces if p.service is not None and p.service.proc.poll() is not None]
            if dead:
                print(f"{dead[0].service.name} stopped (log: {dead[0].service.log}); stopping the rest.", flush=True)
                break
            time.sleep(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
