"""Queued jobs bounded per client address (issue 22 item 3), the parts apart from the executor's count
(tests/unit/execution/test_executors.py::test_the_jobs_waiting_from_one_client_address...): the page notes where
each training owner comes from, and that memory is bounded."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from playground.runs import owners

HOST = """
import streamlit as st
from views.identity import training_owner

st.session_state["owner_seen"] = training_owner()
"""


def test_the_page_notes_the_client_address_of_each_training_owner(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODE", "shared")
    monkeypatch.setattr(owners, "client_address", lambda headers, peer, environ=None: "198.51.100.4")
    monkeypatch.setattr(owners, "TRAINING_ADDRESSES", owners.OwnerAddresses())
    at = AppTest.from_string(HOST, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    owner = at.session_state["owner_seen"]
    assert owner.startswith("owner:") and owners.TRAINING_ADDRESSES.get(owner) == "198.51.100.4"


def test_personal_mode_notes_no_address(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_MODE", "personal")
    monkeypatch.setattr(owners, "client_address", lambda headers, peer, environ=None: "198.51.100.4")
    monkeypatch.setattr(owners, "TRAINING_ADDRESSES", owners.OwnerAddresses())
    at = AppTest.from_string(HOST, default_timeout=60)
    at.run()
    assert not at.exception and not owners.TRAINING_ADDRESSES.seen


def test_the_addresses_remembered_are_bounded_the_last_noted_wins_and_the_oldest_go_first():
    book = owners.OwnerAddresses(max_owners=2)
    book.note("a", "192.0.2.1")
    book.note("a", "192.0.2.2")  # the same owner from elsewhere: its latest address
    book.note("b", "192.0.2.3")
    book.note("c", None)  # not an address: nothing noted
    assert book.get("a") == "192.0.2.2" and book.get("c") is None
    book.note("d", "192.0.2.4")
    assert book.get("a") is None and book.get("b") == "192.0.2.3" and len(book.seen) == 2
