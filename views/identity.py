"""Who is using the page: ``current_owner()`` for every view that keeps or lists runs.

Personal mode: always the one local user. Shared mode (``PLAYGROUND_MODE=shared``): the signed-in user
(``st.user``, where ``st.login`` is configured), or a proxy's header when ``PLAYGROUND_OWNER_HEADER`` names
one, or an anonymous token kept in this browser's cookie. The logic is ``playground/runs/owners.py``; this
file only hands it what Streamlit knows about the request and writes a new token into the cookie.
"""

from __future__ import annotations

import uuid

import streamlit as st

from playground.runs import owners

_IDENTITY = "identity_of_session"  # the session's Identity: a session never changes owner

# Writes the anonymous token into a first-party cookie (JavaScript in the page: Streamlit has no server-side
# way to set a cookie from a script). The token is made by the server and matches [A-Za-z0-9_-]{43}; it is
# passed as data, never pasted into the code.
_COOKIE_WRITER = st.components.v2.component(
    "playground_owner_cookie",
    js=f"""
export default function (component) {{
  const token = component.data && component.data.token;
  if (typeof token !== "string" || !/^[A-Za-z0-9_-]{{43}}$/.test(token)) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = "{owners.COOKIE_NAME}=" + token + "; Path=/; Max-Age={owners.COOKIE_MAX_AGE_S}; SameSite=Strict" + secure;
}}
""",
)


def _user() -> dict:
    try:
        return dict(st.user.to_dict())
    except Exception:  # noqa: BLE001 - no user information is "not signed in"
        return {}


def current_identity() -> owners.Identity:
    """The owner of this browser session (worked out once a session, then kept)."""
    identity = st.session_state.get(_IDENTITY)
    mode = owners.mode_from_env()
    if isinstance(identity, owners.Identity) and (identity.kind == "personal") == (mode == owners.PERSONAL):
        if identity.kind != "anonymous" or not _signed_in():
            return identity
    previous_token = identity.token if isinstance(identity, owners.Identity) else None
    identity = owners.identify(
        mode,
        cookies=dict(st.context.cookies),
        headers=dict(st.context.headers),
        user=_user(),
        session_token=previous_token,
        owner_header=owners.owner_header_from_env(),
        address=owners.client_address(dict(st.context.headers), getattr(st.context, "ip_address", None)),
        budget=owners.NEW_OWNERS,
    )
    st.session_state[_IDENTITY] = identity
    return identity


def _signed_in() -> bool:
    return _user().get("is_logged_in") is True


def current_owner() -> str:
    """The owner id to pass to the run store."""
    identity = current_identity()
    if identity.kind == "anonymous" and identity.token and dict(st.context.cookies).get(owners.COOKIE_NAME) != identity.token:
        remember_in_cookie(identity.token)
    return identity.owner


def remember_in_cookie(token: str) -> None:
    """Put the anonymous token in this browser's cookie, so that a reload or a new tab is the same owner."""
    try:
        with st.sidebar:
            _COOKIE_WRITER(data={"token": token}, key="playground_owner_cookie")
    except (st.errors.StreamlitDuplicateElementKey, st.errors.DuplicateWidgetID):
        pass  # already written in this run (two views asked for the owner)


def training_owner() -> str:
    """Who a training (a run or a sweep) belongs to: one at a time each. In shared mode a visitor (all their tabs
    together); in personal mode each session, so one person may train in several tabs of their own machine."""
    if owners.mode_from_env() == owners.PERSONAL:
        return st.session_state.setdefault("mb_owner", uuid.uuid4().hex)
    owner = "owner:" + current_owner()
    # Where this visitor is now: the executor bounds the runs waiting from one address (limits).
    owners.TRAINING_ADDRESSES.note(owner, owners.client_address(dict(st.context.headers),
                                                                getattr(st.context, "ip_address", None)))
    return owner
