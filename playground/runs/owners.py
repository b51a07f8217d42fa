"""Who owns a kept run.

Personal mode (the default, ``streamlit run app.py`` on one's own machine, listening on localhost): every
kept run belongs to the one user, ``PERSONAL_OWNER``. Shared mode (``PLAYGROUND_MODE=shared``, a class
server): each visitor is an owner, found in this order:

1. the signed-in user, where Streamlit's ``st.login`` is configured (``st.user.is_logged_in``);
2. a header set by an authenticating reverse proxy, only when ``PLAYGROUND_OWNER_HEADER`` names it;
3. an anonymous token: 32 random bytes the server makes, kept in the visitor's cookie so that reloads and
   new tabs are the same owner. The store keeps only a hash of it. A client that keeps no cookie would be a
   new owner on every visit, so new anonymous owners are counted per client address (``NewOwnerBudget``);
   past ``limits.MAX_NEW_OWNERS_PER_ADDRESS`` in a window, that address's cookie-less visitors are one owner.

No value a visitor can put in the URL is ever read. No streamlit here: the view passes in the request's
cookies, headers and user.
"""

from __future__ import annotations

import collections
import hashlib
import ipaddress
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from playground import limits
from playground.errors import PlaygroundError

MODE_ENV = "PLAYGROUND_MODE"
OWNER_HEADER_ENV = "PLAYGROUND_OWNER_HEADER"
ADDRESS_HEADER_ENV = "PLAYGROUND_CLIENT_ADDRESS_HEADER"  # set by the proxy in front (the recipe's nginx: X-Real-IP)
SHARED_BY_ADDRESS_LABEL = "an anonymous visitor without a cookie (one owner for every such visitor at your address)"
PERSONAL = "personal"
SHARED = "shared"
PERSONAL_OWNER = "local"
COOKIE_NAME = "playground_owner"
COOKIE_MAX_AGE_S = 365 * 24 * 3600
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
OWNER_PATTERN = re.compile(r"^(local|(user|proxy|anon):[0-9a-f]{32})$")
MAX_HEADER_VALUE_CHARS = 320
MAX_LABEL_CHARS = 80


@dataclass(frozen=True)
class Identity:
    """An owner id (opaque, what the store keeps), how it was found, and what the page may call it.

    ``new_token`` is set when an anonymous token was just made: the view writes it into the cookie.
    """

    owner: str
    kind: str  # personal | signed-in | proxy | anonymous
    label: str
    token: str | None = None
    new_token: bool = False

    @property
    def shared(self) -> bool:
        return self.kind != "personal"


def mode_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``personal`` unless ``PLAYGROUND_MODE`` says ``shared``. A value that is neither counts as shared:
    a typo on a class server must not show every visitor every run."""
    value = (environ if environ is not None else os.environ).get(MODE_ENV, "").strip().lower()
    return PERSONAL if value in ("", PERSONAL) else SHARED


def mode_note(environ: Mapping[str, str] | None = None) -> str:
    """A sentence for the operator when ``PLAYGROUND_MODE`` holds something unknown; "" otherwise."""
    value = (environ if environ is not None else os.environ).get(MODE_ENV, "").strip().lower()
    if value in ("", PERSONAL, SHARED):
        return ""
    return f"{MODE_ENV} is neither 'personal' nor 'shared', so the server runs in shared mode (each visitor sees only their runs)."


def check_owner(owner: object) -> str:
    """An owner id as this module makes them; anything else is refused (it never reaches SQL as text)."""
    if not isinstance(owner, str) or not OWNER_PATTERN.fullmatch(owner):
        raise PlaygroundError("That is not an owner of runs on this server.")
    return owner


def _digest(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(f'{kind}|{value}'.encode()).hexdigest()[:32]}"


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_LABEL_CHARS else text[: MAX_LABEL_CHARS - 1] + "…"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def identify(
    mode: str,
    cookies: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    user: Mapping[str, Any] | None = None,
    session_token: str | None = None,
    owner_header: str | None = None,
    address: str | None = None,
    budget: NewOwnerBudget | None = None,
) -> Identity:
    """The owner of this visit. ``session_token`` is the anonymous token this browser session already
    holds (so a session never changes owner); ``owner_header`` names a header a trusted proxy sets;
    ``address`` is the client's address, counted in ``budget`` when a new anonymous owner would be made."""
    if mode != SHARED:
        return Identity(PERSONAL_OWNER, "personal", "you (personal mode: every kept run is yours)")
    user = user or {}
    if user.get("is_logged_in") is True:
        subject = user.get("sub") or user.get("email")
        if isinstance(subject, str) and subject:
            issuer = user.get("iss") if isinstance(user.get("iss"), str) else ""
            label = user.get("email") or user.get("name") or "the signed-in user"
            return Identity(_digest("user", f"{issuer}|{subject}"), "signed-in", _short(str(label)))
    if owner_header:
        value = _header(headers or {}, owner_header)
        if value:
            return Identity(_digest("proxy", value), "proxy", _short(value))
    for token in (session_token, (cookies or {}).get(COOKIE_NAME)):
        if isinstance(token, str) and TOKEN_PATTERN.fullmatch(token):
            return Identity(_digest("anon", token), "anonymous", "an anonymous visitor (this browser)", token)
    if address is not None and budget is not None and not budget.allow(address):
        return Identity(_digest("anon", f"address|{address}"), "anonymous", SHARED_BY_ADDRESS_LABEL)
    token = new_token()
    return Identity(_digest("anon", token), "anonymous", "an anonymous visitor (this browser)", token, new_token=True)


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.strip().lower()
    for key, value in headers.items():
        if str(key).lower() == wanted:
            value = str(value).strip()
            return value if 0 < len(value) <= MAX_HEADER_VALUE_CHARS else ""
    return ""


def owner_header_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """The header an authenticating proxy sets (e.g. ``X-Forwarded-User``), when the operator names one."""
    value = (environ if environ is not None else os.environ).get(OWNER_HEADER_ENV, "").strip()
    return value if re.fullmatch(r"[A-Za-z0-9-]{1,64}", value) else None


class NewOwnerBudget:
    """New anonymous owners per client address in a sliding window, in this server's memory (at most
    ``max_addresses`` addresses, the least recently seen forgotten first)."""

    def __init__(self, per_address: int = limits.MAX_NEW_OWNERS_PER_ADDRESS,
                 window_s: float = limits.NEW_OWNER_WINDOW_S, max_addresses: int = limits.MAX_TRACKED_ADDRESSES) -> None:
        self.per_address, self.window_s, self.max_addresses = per_address, window_s, max_addresses
        self.made: collections.OrderedDict[str, collections.deque] = collections.OrderedDict()
        self.lock = threading.Lock()

    def allow(self, address: str, now: float | None = None) -> bool:
        """True (and counted) when ``address`` may make one more new owner now."""
        now = time.monotonic() if now is None else now
        with self.lock:
            times = self.made.pop(address, None) or collections.deque()
            while times and now - times[0] >= self.window_s:
                times.popleft()
            allowed = len(times) < self.per_address
            if allowed:
                times.append(now)
            self.made[address] = times
            while len(self.made) > self.max_addresses:
                self.made.popitem(last=False)
            return allowed


NEW_OWNERS = NewOwnerBudget()  # this server's count


class OwnerAddresses:
    """The client address each training owner last came from, in this server's memory (at most ``max_owners``, the
    least recently noted forgotten first): the page notes it when it names the owner of a training
    (views/identity.training_owner), the executor reads it to bound the jobs one address has waiting."""

    def __init__(self, max_owners: int = limits.MAX_TRACKED_ADDRESSES) -> None:
        self.max_owners = max_owners
        self.seen: collections.OrderedDict[str, str] = collections.OrderedDict()
        self.lock = threading.Lock()

    def note(self, owner: str, address: str | None) -> None:
        if address is None:
            return
        with self.lock:
            self.seen.pop(owner, None)
            self.seen[owner] = address
            while len(self.seen) > self.max_owners:
                self.seen.popitem(last=False)

    def get(self, owner: str) -> str | None:
        with self.lock:
            return self.seen.get(owner)


TRAINING_ADDRESSES = OwnerAddresses()  # this server's


def client_address(headers: Mapping[str, str], peer: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The client's address: the header the proxy in front sets (``PLAYGROUND_CLIENT_ADDRESS_HEADER``; only a
    proxy that overwrites it may be named), else the connection's peer. None when it is not an IP address."""
    name = (environ if environ is not None else os.environ).get(ADDRESS_HEADER_ENV, "").strip()
    value = _header(headers, name) if re.fullmatch(r"[A-Za-z0-9-]{1,64}", name) else (peer or "")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None
