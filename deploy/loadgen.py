"""A load generator that speaks Streamlit's own websocket protocol: many visitors, no browser.

A browser costs a core of its own; a hundred of them would measure the browsers, not the server. Each
``Visitor`` here does what the page's JavaScript does on the wire, and nothing else: it fetches the page
(through nginx, which hands it the sticky-session cookie), opens ``/_stcore/stream``, asks for script runs
(``BackMsg.rerun_script``: a page, a query string, a button's trigger) and reads the ``ForwardMsg``s
back until ``script_finished``; it honours ``auto_rerun`` as the browser does (a fragment on a timer:
the live training view every 0.35 s). Every answer's time (request sent to ``script_finished``) is kept.

    python -m deploy.loadgen http://127.0.0.1:8080 --visitors 20 --epochs 2

Loopback only: the target must be a 127.x address (this is a test tool, bounded in count and time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from deploy.stack import ROUTE_COOKIE  # nginx's sticky-session cookie

KEPT = re.compile(r"kept as run ([0-9a-f]{12})")  # the page's "This finished run was kept as run <id>: ..."
EPOCH_LINE = re.compile(r"Epoch (\d+)(?: / \d+)?\*\* · (\w+)")  # the live view: "**Epoch 12 / 100** · training on cpu"
ENDED = ("finished", "stopped", "diverged", "failed")
OWNER_COOKIE = "playground_owner"  # playground.runs.owners.COOKIE_NAME (not imported: no torch here)
ANSWER_TIMEOUT_S = 120.0


@dataclass
class Answer:
    """One script run as a visitor saw it: what was asked (open, click, fragment) and how long it took."""

    kind: str
    page: str
    seconds: float
    ok: bool = True


@dataclass
class Tally:
    """Every answer of a load run, and the visitors' outcomes."""

    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    trainings: list[tuple[int, str, float]] = field(default_factory=list)  # (epoch, status, seconds)

    def seconds(self, kinds: tuple[str, ...] = ("open", "click")) -> list[float]:
        return [a.seconds for a in self.answers if a.kind in kinds]

    def percentile(self, q: float, kinds: tuple[str, ...] = ("open", "click")) -> float:
        values = sorted(self.seconds(kinds))
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]

    def median(self, kinds: tuple[str, ...] = ("open", "click")) -> float:
        values = self.seconds(kinds)
        return statistics.median(values) if values else float("nan")


def check_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    if not (host.startswith("127.") or host == "localhost"):
        raise ValueError(f"the load generator only sends traffic to loopback addresses, not {host!r}")


class Visitor:
    """One visitor: a cookie jar, a websocket, the page's elements as last drawn, the fragments' timers."""

    def __init__(self, base_url: str, tally: Tally, name: str = "visitor", route: str | None = None,
                 headers: dict[str, str] | None = None, source: str | None = None) -> None:
        check_loopback(base_url)
        if source is not None:
            check_loopback(f"http://{source}")
        self.source = source  # the 127.x address its websocket comes from (a client address of its own), else any
        self.extra_headers = dict(headers or {})  # sent with the page and the websocket (e.g. a forged identity)
        self.owner_token: str | None = None  # the anonymous owner's cookie, once the page wrote it
        self.route = route  # a sticky-session key of our choosing (nginx's cookie), else the one nginx gives
        self.base_url = base_url.rstrip("/")
        self.tally = tally
        self.name = name
        self.ws = None
        self.cookie = ""
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.page_hash = ""
        self.page = ""
        self.buttons: dict[str, str] = {}  # widget key -> widget id
        self.downloads: dict[str, str] = {}  # download button key -> the file's URL (served by one replica)
        self.tabs: dict[str, str] = {}  # tabs key -> the tabs widget id (opened with rerun(tab=...))
        self.epoch_line: tuple[int, str] | None = None
        self.kept: set[str] = set()  # run ids the page said were kept
        self.sentences: list[str] = []  # every error, warning and note the page showed (alerts), in order
        self.texts: list[str] = []  # the latest markdown and captions the page drew (at most 200)
        self.errors: list[str] = []
        self.finished = asyncio.Event()
        self.run_lock = asyncio.Lock()
        self.timers: dict[str, asyncio.Task] = {}
        self.reader: asyncio.Task | None = None

    # ------------------------------------------------------------------ connection
    def fetch(self, path: str, cookie: bool = True) -> int:
        """GET ``path`` (e.g. a download's URL) as this visitor (with its cookies) or as a stranger; the status."""
        headers = {"User-Agent": "playground-loadgen"}
        if cookie and self.cookie:
            headers["Cookie"] = self.cookie
        request = urllib.request.Request(urllib.parse.urljoin(self.base_url + "/", path.lstrip("/")), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                resp.read()
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def _fetch_cookie(self) -> str:
        headers = {"User-Agent": "playground-loadgen", **self.extra_headers}
        sent = {ROUTE_COOKIE: self.route, OWNER_COOKIE: self.owner_token}
        sent = {k: v for k, v in sent.items() if v}
        if sent:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in sent.items())
        request = urllib.request.Request(self.base_url + "/", headers=headers)
        with urllib.request.urlopen(request, timeout=60) as resp:
            resp.read()
            cookies = [h.split(";", 1)[0].strip() for h in resp.headers.get_all("Set-Cookie") or []]
        jar = dict(c.split("=", 1) for c in cookies if "=" in c)
        jar.update(sent)
        return "; ".join(f"{k}={v}" for k, v in jar.items())

    async def connect(self) -> None:
        from websockets.asyncio.client import connect

        self.cookie = await asyncio.to_thread(self._fetch_cookie)
        ws_url = "ws" + self.base_url[len("http"):] + "/_stcore/stream"
        headers = {"Origin": self.base_url, "User-Agent": "playground-loadgen", **self.extra_headers}
        if self.cookie:
            headers["Cookie"] = self.cookie
        where = {"local_addr": (self.source, 0)} if self.source else {}
        self.ws = await connect(ws_url, subprotocols=["streamlit"], additional_headers=headers, max_size=None,
                                open_timeout=60, ping_interval=None, compression=None, **where)
        self.reader = asyncio.create_task(self._read(), name=f"{self.name}-reader")

    async def close(self) -> None:
        for task in self.timers.values():
            task.cancel()
        self.timers.clear()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader

    # ------------------------------------------------------------------ reading
    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self._on_message(ForwardMsg.FromString(frame))
        except Exception as exc:  # noqa: BLE001 - the connection closed: whoever waits is told
            self.errors.append(f"{self.name}: connection closed: {type(exc).__name__}")
        finally:
            self.finished.set()

    def _on_message(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            if not msg.metadata.run.fragment_ids:  # a full run starts (ours, or one the page asked for): as the
                for task in self.timers.values():  # browser does, drop the fragments' timers; it sends them anew
                    task.cancel()
                self.timers.clear()
            for page in msg.new_session.app_pages:
                self.pages[page.url_pathname] = page.page_script_hash
            self.page_hash = msg.new_session.page_script_hash or self.page_hash
        elif kind == "navigation":
            for page in msg.navigation.app_pages:
                self.pages[page.url_pathname] = page.page_script_hash
            self.page_hash = msg.navigation.page_script_hash or self.page_hash
        elif kind == "delta" and msg.delta.WhichOneof("type") == "add_block":
            block = msg.delta.add_block
            if block.WhichOneof("type") == "tab_container" and block.tab_container.id:
                self.tabs[block.tab_container.id.rsplit("-", 1)[-1]] = block.tab_container.id
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            which = element.WhichOneof("type")
            if which == "button":
                self.buttons[element.button.id.rsplit("-", 1)[-1]] = element.button.id
            elif which == "download_button" and element.download_button.url:
                self.downloads[element.download_button.id.rsplit("-", 1)[-1]] = element.download_button.url
            elif which == "markdown":
                self.texts = [*self.texts[-199:], element.markdown.body[:400]]
                found = EPOCH_LINE.search(element.markdown.body)
                if found:
                    self.epoch_line = (int(found.group(1)), found.group(2))
            elif which == "bidi_component" and "owner_cookie" in element.bidi_component.component_name:
                self._remember_owner(element.bidi_component.json)
            elif which == "alert":
                body = element.alert.body
                self.kept.update(KEPT.findall(body))
                if element.alert.format != element.alert.SUCCESS and (not self.sentences or self.sentences[-1] != body):
                    self.sentences.append(body[:400])
            elif which == "exception":
                self.errors.append(f"{self.name}: exception on the page: {element.exception.message[:200]}")
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            fragment = getattr(msg.stop_auto_rerun, "fragment_id", "")
            task = self.timers.pop(fragment, None)
            if task is not None:
                task.cancel()
        elif kind == "script_finished":
            self.finished.set()

    def _remember_owner(self, data: str) -> None:
        """The page's script writes the visitor's anonymous owner token into a cookie; do as the browser does, so
        a reconnecting visitor is the same owner."""
        import json

        with contextlib.suppress(ValueError, TypeError, AttributeError):
            token = json.loads(data).get("token")
            if isinstance(token, str) and re.fullmatch(r"[A-Za-z0-9_-]{43}", token):
                self.owner_token = token
                jar = dict(c.split("=", 1) for c in self.cookie.split("; ") if "=" in c)
                jar[OWNER_COOKIE] = token
                self.cookie = "; ".join(f"{k}={v}" for k, v in jar.items())

    # ------------------------------------------------------------------ asking
    def _start_timer(self, fragment_id: str, interval: float) -> None:
        old = self.timers.pop(fragment_id, None)
        if old is not None:
            old.cancel()
        if interval > 0:
            self.timers[fragment_id] = asyncio.create_task(self._tick(fragment_id, interval))

    async def _tick(self, fragment_id: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.rerun(fragment_id=fragment_id, kind="fragment")

    async def rerun(self, path: str | None = None, query: str = "", trigger: str | None = None,
                    fragment_id: str = "", kind: str = "open", tab: tuple[str, str] | None = None) -> float:
        """Ask for one script run and wait for its end; the time is kept in the tally. ``tab``: (the tabs' key, a
        label) opens that tab, as a click on it does."""
        async with self.run_lock:
            if fragment_id and self.timers.get(fragment_id) is not asyncio.current_task():
                return 0.0  # the fragment's timer was dropped while this rerun waited for the previous one
            if path is not None:
                self.page = path
                self.page_hash = self.pages.get(path, "") if path else ""
                self.buttons.clear()
                self.downloads.clear()
            back = BackMsg()
            state = back.rerun_script
            state.query_string = query
            state.page_script_hash = self.page_hash
            state.page_name = self.page
            state.context_info.timezone = "UTC"
            state.context_info.url = f"{self.base_url}/{self.page}"
            if fragment_id:
                state.fragment_id = fragment_id
                state.is_auto_rerun = True
            if trigger is not None:
                widget = state.widget_states.widgets.add()
                widget.id = self.buttons[trigger]
                widget.trigger_value = True
            if tab is not None:
                widget = state.widget_states.widgets.add()
                widget.id = self.tabs[tab[0]]
                widget.string_value = tab[1]
            self.finished.clear()
            started = time.monotonic()
            await self.ws.send(back.SerializeToString())
            ok = True
            try:
                await asyncio.wait_for(self.finished.wait(), ANSWER_TIMEOUT_S)
            except TimeoutError:
                ok = False
                self.errors.append(f"{self.name}: no answer in {ANSWER_TIMEOUT_S:.0f} s ({kind} {self.page})")
            seconds = time.monotonic() - started
            self.tally.answers.append(Answer(kind, self.page or "tensor_lab", seconds, ok))
            return seconds

    async def wait_training(self, timeout: float) -> tuple[int, str] | None:
        """Wait (the fragment timer redraws the epoch line) until the run has ended; its last line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.epoch_line and self.epoch_line[1] in ENDED:
                return self.epoch_line
            if self.ws is not None and self.reader is not None and self.reader.done():
                break
            await asyncio.sleep(0.2)
        return self.epoch_line


async def visit_and_train(base_url: str, tally: Tally, index: int, epochs: int, train_timeout: float = 300,
                          pages: tuple[str, ...] = ("", "autograd"), route: str | None = None) -> None:
    """One visitor of a class: opens the app and a page or two, goes to the Model Builder with a shared link
    (``epochs`` and its own seed), presses Play and watches until the run ends."""
    visitor = Visitor(base_url, tally, f"visitor-{index}", route=route)
    try:
        await visitor.connect()
        await visitor.rerun("")
        for page in pages[1:]:
            await visitor.rerun(page)
        await visitor.rerun("model_builder", query=f"epochs={epochs}&seed={index + 1}")
        started = time.monotonic()
        await visitor.rerun(trigger="mb_play", kind="click")
        line = await visitor.wait_training(train_timeout)
        tally.trainings.append((line[0] if line else 0, line[1] if line else "unknown", time.monotonic() - started))
    except Exception as exc:  # noqa: BLE001 - counted, not raised: one visitor's failure is a figure
        visitor.errors.append(f"visitor-{index}: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        tally.errors.extend(visitor.errors)
        await visitor.close()


async def run_visitors(base_url: str, visitors: int, epochs: int, stagger_s: float = 0.2,
                       train_timeout: float = 300) -> tuple[Tally, float]:
    """``visitors`` at once (started ``stagger_s`` apart), each opening pages and training; the tally and
    the wall time."""
    tally = Tally()
    started = time.monotonic()

    async def one(i: int) -> None:
        await asyncio.sleep(i * stagger_s)
        await visit_and_train(base_url, tally, i, epochs, train_timeout)

    await asyncio.gather(*(one(i) for i in range(visitors)))
    return tally, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.loadgen", description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the app (or nginx) on loopback, e.g. http://127.0.0.1:8080")
    parser.add_argument("--visitors", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--stagger", type=float, default=0.2, help="seconds between two visitors' arrivals")
    args = parser.parse_args(argv)
    if not 1 <= args.visitors <= 500:
        parser.error("--visitors must be 1..500")
    tally, wall = asyncio.run(run_visitors(args.url, args.visitors, args.epochs, args.stagger))
    done = sum(1 for _, status, _ in tally.trainings if status == "finished")
    print(f"{args.visitors} visitors in {wall:.1f} s: {done} trainings finished, {len(tally.errors)} errors")
    print(f"page answers: median {tally.median():.2f} s, 95th percentile {tally.percentile(0.95):.2f} s, "
          f"slowest {max(tally.seconds(), default=float('nan')):.2f} s")
    print(f"live-view answers: median {tally.median(('fragment',)):.2f} s, "
          f"95th percentile {tally.percentile(0.95, ('fragment',)):.2f} s")
    for error in tally.errors[:10]:
        print("  " + error)
    return 0 if not tally.errors and done == args.visitors else 1


if __name__ == "__main__":
    raise SystemExit(main())
