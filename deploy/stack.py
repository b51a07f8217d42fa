"""A class server on one machine, on loopback only: PostgreSQL, a Ray head, app replicas, nginx in front, each
piece supervised on its own by supervisord.

    python -m deploy.stack up                    # 2 replicas behind nginx on http://127.0.0.1:8080
    python -m deploy.stack up --replicas 3 --port 9000 --ray-cpus 8
    python -m deploy.stack status                # each piece: RUNNING, STARTING, BACKOFF ...
    python -m deploy.stack stop                  # stops every piece; the kept runs stay in the state folder

``up`` writes a supervisord configuration into the state folder (``--state-dir``; default
``./class-server-state``, or ``/var/lib/playground-class-server`` when run as root) and starts supervisord,
which starts every piece and restarts any that exits: a dead replica, nginx, the Ray head or PostgreSQL never
takes the others down. What persists there (``stop`` keeps it, ``up`` again reuses it): PostgreSQL's data
(``postgres/pgdata``: the kept runs), the shared data folder (``data/``), Ray's token (``ray/auth_token``) and
the chosen ports (``stack.json``). The tests and ``bench/cluster.py`` start the same pieces through
``ClassServer``, so the recipe is what is tested. docs/DEPLOY.md explains how the same pieces spread over
several machines.

- PostgreSQL (Debian's ``postgresql``): a cluster made once in the state folder (as the ``postgres`` user
  when run as root: PostgreSQL refuses root), on 127.0.0.1, its URL handed to every replica as
  ``PLAYGROUND_STORE_URL``. Skipped when ``initdb`` is missing; the replicas then share one SQLite folder.
- Ray: ``ray start --head --block`` with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (every Ray socket on
  127.0.0.1) and token authentication with a token of its own. Its CPUs default to the machine's.
- Replicas: ``streamlit run app.py`` on 127.0.0.1, one port each, in shared mode.
- nginx: sticky sessions by a cookie (``playground_route``), the websocket upgrade passed through, uploads
  up to the app's limit, and any identity header a client sends removed (only an authenticating proxy may
  set it: docs/SECURITY.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
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
DEFAULT_STATE_DIR = Path("class-server-state")  # relative to where ``up`` runs
ROOT_STATE_DIR = Path("/var/lib/playground-class-server")  # the default when run as root
DEFAULT_PORTS = {"nginx": 8080, "replica": 8501, "ray": 6379, "postgres": 5433}
# The identity header an authenticating proxy may set (playground/runs/owners.py, PLAYGROUND_OWNER_HEADER);
# the recipe's nginx authenticates nobody, so it removes whatever a client sends under these names.
IDENTITY_HEADERS = ("X-Forwarded-User", "X-Remote-User", "Remote-User", "X-Auth-Request-User", "X-Forwarded-Email")
CLIENT_ADDRESS_HEADER = "X-Real-IP"  # nginx sets it to the client's address; a replica reads it (and nothing else)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOOPBACK, port)) == 0


def http_ok(url: str, timeout: float = 3) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except OSError:
        return False


def wait_until(condition, timeout: float, what: str, alive=None, log: Path | None = None) -> None:
    """Poll ``condition`` until true; ``alive`` (optional) says whether the piece may still come up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if alive is not None and not alive():
            raise RuntimeError(f"{what} exited; log: {log}\n{tail(log)}")
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up in {timeout:.0f} s; log: {log}\n{tail(log)}")


def tail(path: Path | None, lines: int = 20) -> str:
    if path is None or not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def machine_cpus() -> int:
    """The cores this process may run on (its affinity, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def ray_cpus_for(asked: int | None, replicas: int, cpus: int | None = None) -> tuple[int, str]:
    """The logical CPUs the Ray head offers: the jobs' (``asked``, default the machine's cores) plus one for
    each replica's warm actor (an idle actor holds a CPU of Ray's, none of the machine's). A warning when
    more jobs' CPUs are asked for than the machine has ("" otherwise)."""
    cpus = cpus or machine_cpus()
    jobs = cpus if asked is None else asked
    if jobs < 1:
        raise ValueError("--ray-cpus must be at least 1")
    warning = ""
    if jobs > cpus:
        warning = (f"warning: --ray-cpus {jobs} is more than this machine's {cpus} cores: {jobs} trainings will run "
                   "at once and share them, each slower.")
    return jobs + replicas * RAY_IDLE_ACTORS, warning


# ---------------------------------------------------------------------------------------------- a standalone piece

@dataclass
class Service:
    """A child process of this process, stopped by its id: ``stop_signal`` first, then SIGKILL."""

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
    """Start a process; it is stopped by ``Service.stop`` (by its id), or when this process dies."""
    out = open(log, "ab")  # noqa: SIM115 - the child keeps it; closed when this process exits
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                            preexec_fn=_die_with_parent)  # noqa: PLW1509 - no threads run in the child before exec
    return Service(name, proc, log, stop_signal)


def ray_command() -> str:
    ray = Path(sys.executable).with_name("ray")
    return str(ray) if ray.exists() else (shutil.which("ray") or "ray")


def ray_head_args(port: int, cpus: int, gpus: int | None, object_store_mb: int) -> list[str]:
    args = [ray_command(), "start", "--head", "--block", "--node-ip-address", LOOPBACK, "--port", str(port),
            "--num-cpus", str(cpus), "--object-store-memory", str(object_store_mb * 2**20),
            "--include-dashboard", "false", "--disable-usage-stats",
            "--dashboard-agent-listen-port", str(free_port()), "--metrics-export-port", str(free_port())]
    if gpus is not None:
        args += ["--num-gpus", str(gpus)]
    return args


def ray_client_env(token_path: Path) -> dict[str, str]:
    """What a process joining a Ray cluster of this recipe needs in its environment (before it imports Ray)."""
    return dict(RAY_LOOPBACK_ENV, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_path))


def make_token(path: Path) -> None:
    """The cluster's own token (kept across restarts): whoever can read it may run code on the cluster."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))


class RayHead:
    """A Ray head started directly as a child of this process (the engine tests' own cluster; the class
    server's head runs under supervisord instead)."""

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
        return ray_client_env(self.token_path)

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        make_token(self.token_path)
        log = self.folder / "ray-head.log"
        self.service = spawn("ray-head", ray_head_args(self.port, self.cpus, self.gpus, self.object_store_mb), log,
                             env=dict(os.environ, **self.client_env))
        wait_until(lambda: "Ray runtime started" in log.read_text(errors="replace"), 120, "the Ray head",
                   lambda: self.service.proc.poll() is None, log)

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop(timeout=30)


# ---------------------------------------------------------------------------------------------- PostgreSQL

def postgres_bindir() -> Path | None:
    """Debian's PostgreSQL binaries (the newest installed version), or None."""
    versions = sorted((p for p in POSTGRES_BIN.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


def as_postgres(args: list[str]) -> list[str]:
    """``args`` run as the ``postgres`` user when this process is root (PostgreSQL refuses root)."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def prepare_postgres(folder: Path, bindir: Path) -> Path:
    """The persistent data folder ``folder/pgdata``, made by initdb the first time only (trust auth: loopback,
    one machine). As root, ``folder`` is handed to ``postgres``, who must be able to reach it."""
    data = folder / "pgdata"
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        folder.chmod(0o700)
        reach = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(folder)], capture_output=True)
        if reach.returncode != 0:
            raise RuntimeError(f"the postgres user cannot reach {folder}: give every folder above it o+x, or choose "
                               f"another --state-dir (e.g. {ROOT_STATE_DIR})")
    if not (data / "PG_VERSION").exists():
        made = subprocess.run(as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "playground", "--auth=trust",
                                           "-E", "UTF8"]), capture_output=True, text=True)
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed: {made.stderr.strip()[-600:]}")
    return data


def postgres_args(bindir: Path, data: Path, port: int) -> list[str]:
    # Durable by default (fsync on): a kept run survives a crash of the machine, not just of PostgreSQL.
    return [str(bindir / "postgres"), "-D", str(data), "-h", LOOPBACK, "-p", str(port), "-k", str(data),
            "-c", "max_connections=200"]


def postgres_url(port: int) -> str:
    return f"postgresql://playground@{LOOPBACK}:{port}/playground"


def create_database(bindir: Path, port: int, timeout: float = 90) -> None:
    """The app's database, once (the server must be up: this waits for it)."""
    deadline = time.monotonic() + timeout
    while True:
        made = subprocess.run([str(bindir / "createdb"), "-h", LOOPBACK, "-p", str(port), "-U", "playground",
                               "playground"], capture_output=True, text=True)
        if made.returncode == 0 or "already exists" in made.stderr:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"createdb failed: {made.stderr.strip()[-600:]}")
        time.sleep(0.5)


# ---------------------------------------------------------------------------------------------- nginx

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
            # The client's address as nginx saw it, replacing whatever the client claimed.
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header {address_header} $remote_addr;
            # This proxy authenticates nobody: an identity header a client sends is removed, never passed on.
{identity}
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
            proxy_buffering off;
            # A replica that is down: the next one is tried at once (its visitors get a fresh session).
            proxy_next_upstream error timeout http_502 http_503;
            proxy_connect_timeout 2s;
            add_header Set-Cookie "{cookie}=$playground_route; Path=/; HttpOnly; SameSite=Lax" always;
        }}
    }}
}}
"""


def nginx_conf(folder: Path, listen_port: int, upstream_ports: list[int], max_body_mb: int = 12,
               identity_headers: tuple[str, ...] = IDENTITY_HEADERS) -> str:
    """nginx's configuration: loopback only, cookie-sticky sessions over ``upstream_ports``, identity headers
    from clients removed."""
    servers = "\n".join(f"        server {LOOPBACK}:{port} max_fails=1 fail_timeout=5s;" for port in upstream_ports)
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    identity = "\n".join(f'            proxy_set_header {name} "";' for name in identity_headers)
    return NGINX_CONF.format(folder=folder, user=user, cookie=ROUTE_COOKIE, servers=servers,
                             listen=f"{LOOPBACK}:{listen_port}", max_body=f"{max_body_mb}m", identity=identity,
                             address_header=CLIENT_ADDRESS_HEADER)


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def served_by(folder: Path) -> list[tuple[str, str, str]]:
    """(replica address, request URI, route key) of each request nginx logged in ``folder``."""
    log = folder / "access.log"
    rows = []
    for line in (log.read_text(errors="replace").splitlines() if log.exists() else []):
        parts = line.split(" ")
        if len(parts) >= 4:
            rows.append((parts[0], parts[2].strip('"'), parts[3]))
    return rows


# ---------------------------------------------------------------------------------------------- a piece's leftovers

def run_piece(name: str, state: Path, command: list[str]) -> None:
    """What supervisord runs for a piece whose children may outlive it (the Ray head's raylet and agents, nginx's
    workers): the previous run's process group, if any of it is left after a kill -9, is killed first (its
    leftovers would hold the ports), then this process (same pid, same group) becomes ``command``."""
    record = state / "run" / f"{name}.pgid"
    with contextlib.suppress(FileNotFoundError, ValueError):
        old = int(record.read_text())
        if old != os.getpgrp():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(old, signal.SIGKILL)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    os.killpg(old, 0)  # raises ProcessLookupError once the whole group is gone
                    time.sleep(0.1)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(str(os.getpgrp()))
    os.execvp(command[0], command)


# ---------------------------------------------------------------------------------------------- the whole

def supervisor_quote(value: str) -> str:
    """A value for supervisord's ``environment=`` (double-quoted; ``%`` is its expansion character)."""
    if '"' in value or "\n" in value:
        raise ValueError(f"cannot pass {value!r} through supervisord's configuration")
    return '"' + value.replace("%", "%%") + '"'


@dataclass
class Program:
    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stopsignal: str = "TERM"
    group: bool = False  # stop (and kill) the whole process group
    priority: int = 50
    directory: Path | None = None
    stop_wait_s: int = 30  # then SIGKILL (of the whole group where ``group``)

    def section(self, logs: Path) -> str:
        lines = [f"[program:{self.name}]", "command=" + shlex.join(self.command).replace("%", "%%"),
                 f"priority={self.priority}", "autostart=true", "autorestart=true", "startsecs=2",
                 "startretries=1000", f"stopsignal={self.stopsignal}", f"stopwaitsecs={self.stop_wait_s}", "redirect_stderr=true",
                 f"stdout_logfile={logs / (self.name + '.log')}", "stdout_logfile_maxbytes=20MB",
                 "stdout_logfile_backups=2"]
        if self.group:
            lines += ["stopasgroup=true", "killasgroup=true"]
        if self.user:
            lines.append(f"user={self.user}")
        if self.directory:
            lines.append(f"directory={self.directory}")
        if self.env:
            lines.append("environment=" + ",".join(f"{k}={supervisor_quote(v)}" for k, v in self.env.items()))
        return "\n".join(lines) + "\n"


@dataclass
class ReplicaInfo:
    index: int
    port: int

    @property
    def name(self) -> str:
        return f"replica-{self.index}"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


@dataclass(frozen=True)
class RayClient:
    address: str
    client_env: dict[str, str]


@dataclass
class ClassServer:
    """The whole recipe on one machine under supervisord. ``state_dir``: what persists (PostgreSQL's data, the
    shared data folder, Ray's token, the ports) and the run-time files; ``ray``: a Ray head for the jobs (else each
    replica's own pool), with ``ray_cpus`` CPUs for jobs at once (default: the machine's cores); ``postgres``: a
    PostgreSQL run store (else one shared data folder); ``ports``: fixed ports (else free ones, kept in
    ``stack.json`` so a restart reuses them)."""

    state_dir: Path
    replicas: int = 2
    port: int | None = None
    ray: bool = True
    ray_cpus: int | None = None
    ray_gpus: int | None = None
    postgres: bool = True
    proxy: bool = True
    fixed_ports: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    ray_object_store_mb: int = 200
    warning: str = ""
    ports: dict[str, int] = field(default_factory=dict)
    replica_servers: list[ReplicaInfo] = field(default_factory=list)
    supervisord: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        if self.postgres and postgres_bindir() is None:
            self.postgres = False

    # -- places
    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def conf_path(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def nginx_dir(self) -> Path:
        return self.run_dir / "nginx"

    @property
    def token_path(self) -> Path:
        return self.state_dir / "ray" / "auth_token"

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['nginx']}" if self.proxy else self.replica_servers[0].url

    @property
    def store_url(self) -> str | None:
        return postgres_url(self.ports["postgres"]) if self.postgres else None

    @property
    def ray_address(self) -> str | None:
        return f"{LOOPBACK}:{self.ports['ray']}" if self.ray else None

    @property
    def ray_head(self) -> RayClient | None:
        """What a driver needs to join this stack's Ray cluster (None without Ray)."""
        return RayClient(self.ray_address, ray_client_env(self.token_path)) if self.ray else None

    def served_by(self) -> list[tuple[str, str, str]]:
        return served_by(self.nginx_dir)

    # -- configuration
    def _choose_ports(self) -> None:
        saved = self.state_dir / "stack.json"
        known = json.loads(saved.read_text()).get("ports", {}) if saved.exists() else {}
        wanted = {"nginx": self.port, "ray": None, "postgres": None}
        for index in range(self.replicas):
            wanted[f"replica-{index}"] = None
        for name, fixed in wanted.items():
            if fixed is not None:
                self.ports[name] = fixed
            elif name in known:
                self.ports[name] = int(known[name])
            elif self.fixed_ports:
                base = DEFAULT_PORTS["replica"] + int(name.split("-")[1]) if name.startswith("replica-") else DEFAULT_PORTS[name]
                self.ports[name] = base
            else:
                self.ports[name] = free_port()
        self.replica_servers = [ReplicaInfo(i, self.ports[f"replica-{i}"]) for i in range(self.replicas)]

    def app_env(self) -> dict[str, str]:
        env = {
            "PLAYGROUND_MODE": "shared",  # a class server: each visitor owns their runs (playground/runs/owners.py)
            "PLAYGROUND_DATA_DIR": str(self.state_dir / "data"),  # one folder for every replica
            "PLAYGROUND_CLIENT_ADDRESS_HEADER": CLIENT_ADDRESS_HEADER,  # nginx's, for the per-address bounds
        }
        if self.ray:
            env.update(ray_client_env(self.token_path), PLAYGROUND_RAY_ADDRESS=self.ray_address)
        if self.postgres:
            env["PLAYGROUND_STORE_URL"] = self.store_url
        env.update(self.extra_env)
        return env

    def programs(self) -> list[Program]:
        piece = [sys.executable, "-m", "deploy.stack", "piece", "--state-dir", str(self.state_dir)]
        found: list[Program] = []
        if self.postgres:
            bindir = postgres_bindir()
            data = self.state_dir / "postgres" / "pgdata"
            # SIGINT: PostgreSQL's fast shutdown (SIGTERM waits for every client to leave).
            found.append(Program("postgres", postgres_args(bindir, data, self.ports["postgres"]),
                                 user="postgres" if os.geteuid() == 0 else None, stopsignal="INT", priority=10))
        if self.ray:
            cpus, self.warning = ray_cpus_for(self.ray_cpus, self.replicas)
            args = ray_head_args(self.ports["ray"], cpus, self.ray_gpus, self.ray_object_store_mb)
            # Ray drains for 30 s on SIGTERM (waiting for jobs that are being stopped anyway): 5 s, then its group is
            # killed.
            found.append(Program("ray-head", [*piece, "ray-head", "--", *args], env=ray_client_env(self.token_path),
                                 group=True, priority=20, directory=ROOT, stop_wait_s=5))
        replica_env = dict(self.app_env(), PYTHONUNBUFFERED="1")
        for replica in self.replica_servers:
            found.append(Program(replica.name, [
                sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(replica.port),
                "--server.address", LOOPBACK, "--server.headless", "true", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none", "--server.disconnectedSessionTTL", str(SESSION_TTL_S)],
                env=replica_env, priority=30, directory=ROOT))
        if self.proxy:
            conf = self.nginx_dir / "nginx.conf"
            found.append(Program("nginx", [*piece, "nginx", "--", nginx_binary(), "-p", str(self.nginx_dir), "-c",
                                           str(conf), "-e", str(self.nginx_dir / "nginx-error.log"), "-g", "daemon off;"],
                                 stopsignal="QUIT", group=True, priority=40, directory=ROOT))
        return found

    def supervisord_conf(self) -> str:
        head = f"""\
[unix_http_server]
file={self.socket_path}
chmod=0700

[supervisord]
logfile={self.logs / 'supervisord.log'}
pidfile={self.run_dir / 'supervisord.pid'}
childlogdir={self.logs}
identifier=playground-class-server

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{self.socket_path}

"""
        return head + "\n".join(p.section(self.logs) for p in self.programs())

    def write(self) -> None:
        """Prepare the state folder: ports, token, PostgreSQL's data (first time), nginx's and supervisord's
        configurations."""
        for folder in (self.state_dir, self.run_dir, self.logs, self.state_dir / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        self._choose_ports()
        (self.state_dir / "stack.json").write_text(json.dumps({"ports": self.ports}, indent=1))
        if self.postgres:
            prepare_postgres(self.state_dir / "postgres", postgres_bindir())
        if self.ray:
            make_token(self.token_path)
        if self.proxy:
            temp = self.nginx_dir / "tmp"
            temp.mkdir(parents=True, exist_ok=True)
            temp.chmod(0o777)  # the workers (user nobody when started as root) buffer uploads there
            (self.nginx_dir / "nginx.conf").write_text(
                nginx_conf(self.nginx_dir, self.ports["nginx"], [r.port for r in self.replica_servers]))
        self.conf_path.write_text(self.supervisord_conf())

    # -- running
    def start(self, daemon: bool = False, timeout: float = 180) -> ClassServer:
        """Start supervisord (a child of this process, or ``daemon``: on its own) and wait until every piece
        answers."""
        self.write()
        if self.running():
            raise RuntimeError(f"a class server already runs from {self.state_dir} (python -m deploy.stack stop)")
        args = [supervisord_command(), "-c", str(self.conf_path)]
        ray_log = self.logs / "ray-head.log"
        self._ray_log_from = ray_log.stat().st_size if ray_log.exists() else 0  # this start's lines come after
        if daemon:
            subprocess.run(args, check=True, cwd=ROOT)
        else:
            log = open(self.logs / "supervisord.out", "ab")  # noqa: SIM115 - the child keeps it
            self.supervisord = subprocess.Popen([*args, "-n"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                                preexec_fn=_die_with_parent)  # noqa: PLW1509
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 180) -> None:
        wait_until(self.running, 30, "supervisord", log=self.logs / "supervisord.log")
        if self.postgres:
            create_database(postgres_bindir(), self.ports["postgres"], timeout)
        if self.ray:
            wait_until(self.ray_started, timeout, "the Ray head", log=self.logs / "ray-head.log")
        for replica in self.replica_servers:
            wait_until(lambda r=replica: http_ok(f"{r.url}/_stcore/health"), timeout, replica.name,
                       log=self.logs / f"{replica.name}.log")
        if self.proxy:
            wait_until(lambda: http_ok(f"{self.url}/_stcore/health"), timeout, "nginx", log=self.logs / "nginx.log")

    def ray_started(self) -> bool:
        """The Ray head (raylet included) reported itself started since this ``start``."""
        log = self.logs / "ray-head.log"
        if not log.exists():
            return False
        with log.open("rb") as f:
            f.seek(getattr(self, "_ray_log_from", 0))
            return b"Ray runtime started" in f.read()

    def rpc(self):
        """supervisord's XML-RPC interface over its unix socket (``supervisor.getProcessInfo`` and kin)."""
        import xmlrpc.client

        from supervisor.xmlrpc import SupervisorTransport

        return xmlrpc.client.ServerProxy("http://127.0.0.1",
                                         transport=SupervisorTransport(None, None, f"unix://{self.socket_path}"))

    def running(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            return self.rpc().supervisor.getState()["statename"] == "RUNNING"
        except OSError:
            return False
        except Exception:  # noqa: BLE001 - a socket left by a dead supervisord
            return False

    def status(self) -> dict[str, dict]:
        """Each piece's state (RUNNING, STARTING, BACKOFF, EXITED, FATAL ...) and process id."""
        return {info["name"]: {"state": info["statename"], "pid": info["pid"]}
                for info in self.rpc().supervisor.getAllProcessInfo()}

    def pid(self, name: str) -> int:
        """The process id of piece ``name`` (0 when it is not running)."""
        return int(self.rpc().supervisor.getProcessInfo(name)["pid"])

    def stop_piece(self, name: str) -> None:
        self.rpc().supervisor.stopProcess(name, True)

    def start_piece(self, name: str) -> None:
        self.rpc().supervisor.startProcess(name, True)

    def stop(self, timeout: float = 90) -> None:
        """Stop every piece (the last started first) and supervisord; the state folder stays."""
        if self.running():
            with contextlib.suppress(Exception):
                self.rpc().supervisor.shutdown()
        pidfile = self.run_dir / "supervisord.pid"
        deadline = time.monotonic() + timeout
        if self.supervisord is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.supervisord.wait(timeout)
            if self.supervisord.poll() is None:
                self.supervisord.kill()
            self.supervisord = None
        elif pidfile.exists():
            with contextlib.suppress(ValueError, ProcessLookupError):
                pid = int(pidfile.read_text())
                while time.monotonic() < deadline:
                    os.kill(pid, 0)
                    time.sleep(0.2)

    def __enter__(self) -> ClassServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def supervisord_command() -> str:
    found = Path(sys.executable).with_name("supervisord")
    return str(found) if found.exists() else (shutil.which("supervisord") or "supervisord")


def default_state_dir() -> Path:
    return ROOT_STATE_DIR if os.geteuid() == 0 else DEFAULT_STATE_DIR


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.stack", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start every piece under supervisord (in the background) and wait until they answer")
    up.add_argument("--replicas", type=int, default=2)
    up.add_argument("--port", type=int, default=DEFAULT_PORTS["nginx"], help="nginx's port on 127.0.0.1")
    up.add_argument("--ray-cpus", type=int, default=None, help="trainings at once on Ray (default: this machine's cores)")
    up.add_argument("--ray-gpus", type=int, default=None, help="GPUs the Ray head offers (default: as detected)")
    up.add_argument("--no-ray", action="store_true", help="train in each replica's local pool instead")
    up.add_argument("--no-postgres", action="store_true", help="keep runs in one shared SQLite folder instead")
    up.add_argument("--foreground", action="store_true", help="keep supervisord in the foreground (Ctrl-C stops all)")
    for command in (up, sub.add_parser("stop", help="stop every piece; the state folder stays"),
                    sub.add_parser("status", help="each piece's state")):
        command.add_argument("--state-dir", type=Path, default=None,
                             help=f"what persists (default ./{DEFAULT_STATE_DIR}, or {ROOT_STATE_DIR} as root)")
    piece = sub.add_parser("piece", help=argparse.SUPPRESS)  # what supervisord runs for the Ray head and nginx
    piece.add_argument("--state-dir", type=Path, required=True)
    piece.add_argument("name")
    piece.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "piece":
        run_piece(args.name, args.state_dir, args.rest[1:] if args.rest[:1] == ["--"] else args.rest)
        return 1  # not reached: exec
    state = (args.state_dir or default_state_dir()).resolve()
    if args.command == "up":
        server = ClassServer(state, replicas=args.replicas, port=args.port, ray=not args.no_ray,
                             ray_cpus=args.ray_cpus, ray_gpus=args.ray_gpus, postgres=not args.no_postgres,
                             fixed_ports=True)
        server.start(daemon=not args.foreground)
        if server.warning:
            print(server.warning, file=sys.stderr)
        print(f"Class server on {server.url} (state in {state}; logs in {server.logs})")
        for replica in server.replica_servers:
            print(f"  {replica.name}: {replica.url}")
        if server.ray:
            print(f"  Ray head: {server.ray_address}")
        print(f"  run store: {server.store_url or 'SQLite in ' + str(state / 'data')}")
        if args.foreground:
            stopping = {"now": False}
            signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
            signal.signal(signal.SIGINT, lambda *_: stopping.update(now=True))
            print("Ctrl-C stops it all.", flush=True)
            while not stopping["now"] and server.supervisord.poll() is None:
                time.sleep(1)
            server.stop()
        else:
            print("python -m deploy.stack status | stop", flush=True)
        return 0
    server = ClassServer(state)
    if not server.running():
        print(f"no class server runs from {state}")
        return 0 if args.command == "stop" else 3
    if args.command == "status":
        for name, info in server.status().items():
            print(f"{name:12} {info['state']:9} pid {info['pid']}")
        return 0
    server.stop()
    print(f"stopped; the kept runs stay in {state}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
