"""The warm-up (views/warm_up.py): at server start, what the pages import is imported on a thread, so the first
visitor does not wait for torch after connecting. Checked: the list is the pages' imports; a fresh Python warmed
up has them and one torch thread; `streamlit run app.py` serves app.py as an st.App whose lifespan warms up, so
torch is loaded before any browser connects; a module another thread is still importing does not count as loaded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import types
import urllib.request
from pathlib import Path

import pytest

from views import warm_up

ROOT = Path(__file__).resolve().parents[2]


def test_the_list_is_every_pages_top_level_imports_once():
    names = warm_up.page_imports()
    assert len(names) == len(set(names))
    for expected in ("torch", "pandas", "views.model_builder_live", "views.settings_widgets", "playground.tensors.ops",
                     "playground.autograd.graph", "playground.runs.store"):
        assert expected in names, expected
    assert not any(name.startswith("__future__") for name in names)
    pages = {f"views.{page.removesuffix('.py')}" for page in warm_up.PAGES}
    assert not pages & set(names)  # pages are run as scripts, never imported


def test_warming_up_a_fresh_python_imports_the_pages_modules_and_limits_torch_threads():
    code = ("import sys; from views import warm_up; took = warm_up.warm_up(); import torch; "
            "print(all(n in sys.modules for n in took), torch.get_num_threads(), len(took))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    assert out[:2] == ["True", "1"] and int(out[2]) >= 30


def test_a_module_failing_to_import_is_logged_and_the_rest_still_warmed(caplog):
    took = warm_up.warm_up(["playground.no_such_module", "json"])
    assert set(took) == {"playground.no_such_module", "json"}
    assert "playground.no_such_module" in caplog.text


def test_a_module_being_imported_by_another_thread_is_not_loaded_yet(monkeypatch):
    half = types.ModuleType("half_imported")
    half.__spec__ = types.SimpleNamespace(_initializing=True)
    monkeypatch.setitem(sys.modules, "half_imported", half)
    assert not warm_up.loaded("half_imported")
    half.__spec__._initializing = False
    assert warm_up.loaded("half_imported")
    assert not warm_up.loaded("never_imported_module") and warm_up.loaded("json")


def test_streamlit_run_finds_app_py_as_an_st_app():
    from streamlit.web.server.app_discovery import discover_asgi_app

    found = discover_asgi_app(ROOT / "app.py")
    assert found.is_asgi_app and found.import_string == "app:app"


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the server's memory maps (Linux)")
def test_a_started_server_has_torch_loaded_before_any_browser_connects(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env={**os.environ, "PLAYGROUND_DATA_DIR": str(tmp_path)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        loaded = False
        while time.monotonic() < deadline and not loaded:
            time.sleep(0.2)
            loaded = "libtorch" in Path(f"/proc/{proc.pid}/maps").read_text()
        assert loaded, "torch was not imported at server start"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=10) as answer:
            assert answer.read() == b"ok"  # no page was asked for: only the health check, after
    finally:
        proc.terminate()
        proc.wait(timeout=30)
