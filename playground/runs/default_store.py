"""The store the configuration names, one object per configuration and process. Above ``store`` and
``store_postgres`` (which builds on ``store``), so neither imports the other upwards."""

from __future__ import annotations

import os

from playground.runs import owners
from playground.runs.store import STORE_URL_ENV, RunStore, SqliteRunStore, StoreBounds, data_dir_from_env

_OPEN_STORES: dict[tuple[str, str, str], RunStore] = {}


def open_default_store() -> RunStore:
    """The store the configuration names: PostgreSQL at ``PLAYGROUND_STORE_URL`` when it is set (psycopg is
    imported only then), else SQLite in the folder ``PLAYGROUND_DATA_DIR`` names. Bounded for the mode
    (``PLAYGROUND_MODE``). One store object per configuration and process: every call shares it."""
    mode = owners.mode_from_env()
    url = os.environ.get(STORE_URL_ENV, "").strip()
    key = ("postgres", url, mode) if url else ("sqlite", str(data_dir_from_env()), mode)
    store = _OPEN_STORES.get(key)
    if store is None or not store.writable:
        if url:
            from playground.runs.store_postgres import PostgresRunStore

            store = PostgresRunStore(url, bounds=StoreBounds.for_mode(mode))
        else:
            store = SqliteRunStore(data_dir_from_env(), bounds=StoreBounds.for_mode(mode))
        if len(_OPEN_STORES) > 16:
            _OPEN_STORES.clear()
        _OPEN_STORES[key] = store
    return store
