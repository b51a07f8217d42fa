"""What every benchmark shares: the machine, statistics, a Streamlit server, Chromium, and RESULTS.md.

Every figure is reported beside a baseline measured in the same run (interleaved where it can be), as a
ratio, because this machine is shared and absolute times drift with its load. Nothing here imports torch
(start-up is measured from a cold Python and the machine summary must not pay for it).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Sessions whose browser went away are dropped after this many seconds on the bench's servers
# (Streamlit 1.67's server.disconnectedSessionTTL; its default is 120 s).
SESSION_TTL_S = 5

HELLO_APP = '''import streamlit as st

st.title("Hello")
st.write("hello world")
'''

# A trivial app with one of each widget the benchmarks touch: the baseline for a rerun.
TRIVIAL_APP = '''import streamlit as st

st.title("Trivial")
choice = st.radio("choice", ["a", "b", "c"], key="choice", horizontal=True)
level = st.slider("level", 0, 100, 50, key="level")
flag = st.checkbox("flag", key="flag")
st.write(f"choice {choice}, level {level}, flag {flag}")
'''


# ---------------------------------------------------------------------------------------------- machine

def machine() -> dict[str, str]:
    """CPU model, cores, RAM, Python, torch and streamlit versions (torch's read without importing it)."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(Exception):
        import psutil

        ram = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"

    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    gpu = "none seen"
    with contextlib.suppress(Exception):
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            gpu = ", ".join(out.stdout.strip().splitlines())
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": ram,
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": version("torch"),
        "streamlit": version("streamlit"),
        "os": platform.platform(),
    }


def load_note() -> str:
    """The load average now: other work on the machine makes absolute figures noisy (ratios less so)."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------------------------------- time budget

class Budget:
    """The seconds a benchmark may spend: from BENCH_BUDGET_S (set by `python -m bench`) or a default.

    On a loaded machine a benchmark does fewer repetitions (never none) rather than run out of time and
    lose everything it measured.
    """

    def __init__(self, default_s: float) -> None:
        self.total = float(os.environ.get("BENCH_BUDGET_S", default_s))
        self.started = time.perf_counter()

    def spent(self) -> float:
        return time.perf_counter() - self.started

    def used(self, share: float) -> bool:
        """True once ``share`` of the budget is spent."""
        return self.spent() > share * self.total


# ---------------------------------------------------------------------------------------------- statistics

def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    """min..max of a sample, for the reader to judge the noise."""
    return f"{min(values):.3g}..{max(values):.3g}" if values else "-"


# ---------------------------------------------------------------------------------------------- results

@dataclass
class Row:
    """One figure beside its same-run baseline. ``ratio`` is figure / baseline."""

    what: str
    value: float | None
    unit: str
    baseline_what: str = ""
    baseline: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "not measured"
    if value != value:  # NaN
        return "n/a"
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def table(rows: list[Row]) -> str:
    lines = ["| measurement | figure | baseline (same run) | baseline figure | ratio | target | met |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else "-"
        met = {True: "met", False: "**not met**", None: "-"}[r.met]
        what = r.what + (f" ({r.note})" if r.note else "")
        lines.append(f"| {what} | {fmt(r.value, r.unit)} | {r.baseline_what or '-'} | "
                     f"{fmt(r.baseline, r.unit) if r.baseline_what else '-'} | {ratio} | {r.target or '-'} | {met} |")
    return "\n".join(lines)


@dataclass
class Section:
    """One benchmark's part of RESULTS.md: a ``## title`` heading and its body."""

    title: str
    body: list[str] = field(default_factory=list)

    def add(self, *lines: str) -> None:
        self.body.extend(lines)

    def text(self) -> str:
        return f"## {self.title}\n\n" + "\n".join(self.body).rstrip() + "\n"


HEADER_TITLE = "# Benchmark results"


def split_sections(text: str) -> tuple[str, list[tuple[str, str]]]:
    """The preamble and each ``## title`` section (title, whole text including the heading)."""
    parts = re.split(r"(?m)^(?=## )", text)
    preamble, sections = parts[0], []
    for part in parts[1:]:
        title = part.splitlines()[0][3:].strip()
        sections.append((title, part.rstrip() + "\n"))
    return preamble, sections


def write_sections(new: list[Section], preamble: str | None = None, path: Path = RESULTS,
                   order: list[str] | None = None) -> None:
    """Replace the sections with these titles (others' sections, e.g. training throughput, are kept).

    ``order``: titles to put first, in this order; the other sections follow as they were.
    """
    old = path.read_text() if path.exists() else ""
    old_preamble, sections = split_sections(old)
    by_title = {s.title: s.text() for s in new}
    merged: list[str] = []
    for title, text in sections:
        merged.append(by_title.pop(title, text))
    merged.extend(by_title.values())
    if order:
        rank = {title: i for i, title in enumerate(order)}
        titles = [split_sections(m)[1][0][0] for m in merged]
        merged = [m for _, m in sorted(zip(titles, merged, strict=True), key=lambda tm: rank.get(tm[0], len(rank)))]
    head = preamble if preamble is not None else (old_preamble.strip() or HEADER_TITLE) + "\n"
    path.write_text(head.rstrip() + "\n\n" + "\n".join(m.rstrip() + "\n" for m in merged))


def section_stamp() -> str:
    m = machine()
    return (f"Measured {now_utc()} on {m['cpu']} ({m['cores']} cores, {m['ram']}), torch {m['torch']}, "
            f"streamlit {m['streamlit']}; {load_note()} at the start.")


# ---------------------------------------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    started: float  # perf_counter just before Popen
    healthy_at: float = 0.0  # perf_counter when /_stcore/health first answered OK
    log: Path | None = None
    started_wall: float = 0.0  # time.time() just before Popen: the clock the browser's marks use

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid


def start_server(script: Path, cwd: Path, data_dir: Path | None = None, log: Path | None = None,
                 extra_args: tuple[str, ...] = (), timeout: float = 120) -> Server:
    """``streamlit run <script>`` on a free port, returned once /_stcore/health answers OK."""
    port = free_port()
    env = dict(os.environ)
    if data_dir is not None:
        env["PLAYGROUND_DATA_DIR"] = str(data_dir)
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
    args = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--server.disconnectedSessionTTL", str(SESSION_TTL_S), *extra_args]
    started, started_wall = time.perf_counter(), time.time()
    proc = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(proc, port, started, log=log, started_wall=started_wall)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early (code {proc.returncode}); log: {log}")
        if health_ok(port):
            server.healthy_at = time.perf_counter()
            return server
        time.sleep(0.02)
    stop_server(server)
    raise RuntimeError(f"streamlit did not answer /_stcore/health in {timeout:.0f} s; log: {log}")


def stop_server(server: Server) -> None:
    proc = server.proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-") as name:
        yield Path(name)


def write_app(folder: Path, source: str, name: str = "app.py") -> Path:
    """A stand-alone Streamlit app in ``folder`` (no pages/ folder beside it)."""
    path = folder / name
    path.write_text(source)
    return path


# ---------------------------------------------------------------------------------------------- CPU

def process_role(proc, server_pid: int, server_children: set[int]) -> str | None:
    """What a process this benchmark started is: the server, its training workers, or Chromium by type."""
    if proc.pid == server_pid:
        return "server"
    if proc.pid in server_children:
        return "workers"
    name = proc.name()
    if "chrom" not in name:
        return None
    kind = re.search(r"--type=([a-z-]+)", " ".join(proc.cmdline()))
    return "chromium " + (kind.group(1) if kind else "browser")


def cpu_by_process(server_pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds so far (user + system) of each process this benchmark started, with its role: the server, its
    training workers, and Chromium (each of its processes by type). Only this process's descendants count: other
    programs on a shared machine (another browser, say) are not this page's cost."""
    import psutil

    out: dict[int, tuple[str, float]] = {}
    try:
        server_children = {c.pid for c in psutil.Process(server_pid).children(recursive=True)}
    except (psutil.Error, ValueError):
        server_children = set()
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            role = process_role(proc, server_pid, server_children)
            if role is None:
                continue
            times = proc.cpu_times()
            out[proc.pid] = (role, times.user + times.system)
        except psutil.Error:
            continue
    return out


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of each role (``cpu_by_process``), summed over its processes."""
    out: dict[str, float] = {}
    for role, seconds in cpu_by_process(server_pid).values():
        out[role] = out.get(role, 0.0) + seconds
    return out


def cpu_used(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds each role used between two ``cpu_by_process`` readings, and Chromium's in all ("chromium").
    Counted per process, so a process gone by the second reading (a closed tab's renderer) takes nothing away."""
    out: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        out[role] = out.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    out["chromium"] = sum(v for k, v in out.items() if k.startswith("chromium "))
    return out


def wait_until_idle(server_pid: int, quiet_s: float = 0.5, busy_below: float = 0.05, timeout_s: float = 20.0) -> float:
    """Wait until the server and its workers use less than ``busy_below`` of a core over ``quiet_s`` (a worker
    warmed after a page, say, has finished starting); the seconds waited (``timeout_s`` at most)."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout_s:
        before = cpu_seconds(server_pid)
        time.sleep(quiet_s)
        after = cpu_seconds(server_pid)
        used = sum(after.get(role, 0.0) - before.get(role, 0.0) for role in ("server", "workers"))
        if used < busy_below * quiet_s:
            break
    return time.perf_counter() - began


# ---------------------------------------------------------------------------------------------- browser

def chromium_available() -> bool:
    if not os.path.exists(CHROMIUM):
        return False
    try:
        import playwright  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    """A headless Chromium (Debian's), launched by Playwright; never downloads a browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_tab(browser, timeout_ms: float = 60_000):
    context = browser.new_context(viewport={"width": 1440, "height": 1100})
    tab = context.new_page()
    tab.set_default_timeout(timeout_ms)
    return context, tab


# Records, in the page itself, when each named condition first holds and has been painted: a check runs on
# every animation frame (a cheap DOM query, no layout), and once it holds the time is taken two frames later,
# when what made it true has been laid out and painted. Times are the browser's wall clock (epoch ms), the
# same clock as time.time() here, so they can be set against a server's start.
MARKS_JS = """(() => {
    const checks = %s;
    window.__marks = {};
    const tests = Object.entries(checks).map(([name, body]) => [name, new Function("return (" + body + ");")]);
    const pending = new Map(tests);
    const paintedAt = (name) => requestAnimationFrame(() => requestAnimationFrame(() => {
        window.__marks[name] = performance.timeOrigin + performance.now();
    }));
    const test = () => {
        for (const [name, fn] of [...pending]) {
            let ok = false;
            try { ok = Boolean(fn()); } catch (e) { ok = false; }
            if (ok) { pending.delete(name); paintedAt(name); }
        }
        if (pending.size) requestAnimationFrame(test);
    };
    requestAnimationFrame(test);
})();"""


def image_drawn_js(selector: str) -> str:
    """A mark check: the picture under ``selector`` is drawn. An <img> (st.image) has loaded and decoded (it has a
    natural width); a picture drawn inline by a component (views/svg_picker.py: the network, the gradient bars) has
    its shown SVG laid out, in the element or in a shadow root beneath it."""
    return ("(() => { const host = document.querySelector('" + selector + "'); if (!host) return false; "
            "const i = host.querySelector('img'); if (i) return i.complete && i.naturalWidth > 0; "
            "const roots = [host, ...Array.from(host.querySelectorAll('*')).filter(e => e.shadowRoot).map(e => e.shadowRoot)]; "
            "return roots.some(r => { const s = r.querySelector('.frame:not(.incoming) svg'); "
            "return !!s && s.getBoundingClientRect().width > 0; }); })()")


WIRE_EVENTS = {"new_session": "run started", "page_config_changed": "page config", "delta": "first element",
               "script_finished": "run finished"}


def open_with_marks(browser, url: str, checks: dict[str, str], timeout_ms: float = 120_000,
                    viewport: tuple[int, int] = (1440, 900), on_marks=None) -> dict[str, float]:
    """Open ``url`` in a fresh context and return, for each check (name: a JS expression), the wall-clock time
    (time.time() seconds) it first held and was painted; and when the page's websocket opened ("connected")
    and first brought each of ``WIRE_EVENTS`` (a script run starting, the page frame's ``set_page_config``, the first
    element, the first run finishing), which say where the time went: the server or the browser. ``on_marks``, if
    given, is called once every mark is in and before the tab is closed (its renderer process still there)."""
    import json

    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    wire: dict[str, float] = {}

    def on_frame(payload) -> None:
        if not isinstance(payload, bytes | bytearray) or len(wire) > len(WIRE_EVENTS):
            return
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            kind = ForwardMsg.FromString(bytes(payload)).WhichOneof("type")
        except Exception:  # noqa: BLE001 - not a ForwardMsg: not one of the events
            return
        if kind in WIRE_EVENTS:
            wire.setdefault(WIRE_EVENTS[kind], time.time())

    def on_ws(ws) -> None:
        if "_stcore/stream" in ws.url:
            wire.setdefault("connected", time.time())
            ws.on("framereceived", on_frame)

    try:
        context.add_init_script(MARKS_JS % json.dumps(checks))
        tab = context.new_page()
        tab.set_default_timeout(timeout_ms)
        tab.on("websocket", on_ws)
        tab.goto(url)
        tab.wait_for_function(f"() => window.__marks && Object.keys(window.__marks).length >= {len(checks)}",
                              timeout=timeout_ms)
        marks = {name: ms / 1000.0 for name, ms in tab.evaluate("() => window.__marks").items()}
        if on_marks is not None:
            on_marks()
        return {**{f"wire: {k}": v for k, v in wire.items()}, **marks}
    finally:
        context.close()


def script_finished_kind(payload) -> str | None:
    """If a websocket frame is Streamlit's ``script_finished`` message, its status name (else None)."""
    if not isinstance(payload, bytes | bytearray):
        return None
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    try:
        msg = ForwardMsg.FromString(bytes(payload))
    except Exception:  # noqa: BLE001 - not a ForwardMsg (or a partial one): not what we wait for
        return None
    if msg.WhichOneof("type") != "script_finished":
        return None
    return ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)


def next_paint(tab) -> None:
    """Wait for two animation frames: what the last message changed has been laid out and painted."""
    tab.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))")
