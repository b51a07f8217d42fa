"""A run is said kept only once its commit is confirmed (issue 22 item 2), against PostgreSQL with a fault
injected at the commit of the save's transaction, as a restart or a lost connection would:

- the commit fails (the transaction is rolled back): the page does not say "kept", says the run is not kept yet
  and offers "Keep this run again"; pressed once the store answers, the run is kept, once;
- the commit goes through but its answer is lost: the page cannot know, so it says the same; pressed again, the
  run that was kept is found (same setup, same weights), not kept a second time.

The Model Builder's Save and load panel runs in a host script (AppTest), on a throwaway PostgreSQL on loopback
(tests/runs_stores.py), as the replicas use it through ``PLAYGROUND_STORE_URL``.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import texts
from tests.sample_runs import make_trained
from views import model_builder_io

HOST = """
import streamlit as st
from views import model_builder_io
from tests.sample_runs import make_trained

model_builder_io.render(st.session_state.get("mb_trained"), make_trained(seed=1).config)
"""


@pytest.fixture
def postgres_store(postgres_server, monkeypatch):
    from playground.runs import default_store
    from playground.runs.store_postgres import PostgresRunStore

    url = postgres_server.database()
    monkeypatch.setenv("PLAYGROUND_STORE_URL", url)
    monkeypatch.setattr(default_store, "_OPEN_STORES", {})
    return PostgresRunStore(url)


def rows(store) -> int:
    import psycopg

    with psycopg.connect(store.url) as db:
        return db.execute("SELECT count(*) FROM runs").fetchone()[0]


@pytest.mark.parametrize("fault", ["commit fails", "answer lost after the commit"])
def test_a_run_is_said_kept_only_once_its_commit_is_confirmed_and_kept_once_again(postgres_store, monkeypatch, fault):
    import psycopg

    from playground.runs.store_postgres import PostgresRunStore

    real = PostgresRunStore._transaction
    armed = {"now": True}

    @contextmanager
    def at_commit(self):
        """The save's transaction, with the connection lost at its commit: before it (rolled back) or after it."""
        with real(self) as db:
            yield db
            if armed["now"] and fault == "commit fails":
                armed["now"] = False
                raise psycopg.OperationalError("server closed the connection unexpectedly")
        if armed["now"]:
            armed["now"] = False
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(PostgresRunStore, "_transaction", at_commit)
    at = AppTest.from_string(HOST, default_timeout=60)
    at.session_state["mb_trained"] = make_trained(seed=1)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    said = texts(at)
    assert "kept as run" not in said and "Kept in the run store" not in said  # never said kept
    assert model_builder_io.NOT_KEPT_YET in said
    assert not armed["now"]  # the fault struck
    assert rows(postgres_store) == (0 if fault == "commit fails" else 1)
    at.button(key="mb_io_keep_again").click().run()  # the store answers again
    said = texts(at)
    assert not at.exception and model_builder_io.NOT_KEPT_YET not in said
    [kept] = postgres_store.list()
    assert rows(postgres_store) == 1  # kept once: a commit that went through is found, not made twice
    assert f"kept as run {kept.run_id}" in said or f"Kept in the run store as run {kept.run_id}" in said
