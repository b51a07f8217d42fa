"""What runs before the first paint imports no PyTorch: every page script up to its frame (views/page_frame.py),
and the Model Builder's title and control bar (views/model_builder_bar.py), so a server just started shows them
while torch loads. And the Model Builder's whole first run imports no pandas (0.4 s of a server's first visit): only
the tabs with a table need it. Checked in a fresh Python (this test process has torch loaded already)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "pandas", "numpy")  # seconds to import; Streamlit itself loads none of them


def modules_loaded_by(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    return {name.split(".")[0] for name in out.split()}


def top_level_imports(path: Path, before: str | None = None) -> list[str]:
    """The modules ``path`` imports at its top level (before the statement that calls ``before``, if given)."""
    names: list[str] = []
    for node in ast.parse(path.read_text()).body:
        if before and before in ast.unparse(node):
            break
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names += [f"{node.module}.{a.name}" if node.module == "views" else node.module for a in node.names]
    return names


def test_the_control_bar_module_imports_no_torch():
    loaded = modules_loaded_by("import views.model_builder_bar")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


PAGE_SCRIPTS = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]


def test_the_page_frame_imports_no_torch():
    loaded = modules_loaded_by("import views.page_frame")
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


@pytest.mark.parametrize("script", PAGE_SCRIPTS, ids=lambda p: p.name)
def test_every_page_draws_its_frame_before_it_imports_torch(script):
    """Each page script (Streamlit runs it alone) calls views/page_frame.start before anything heavy is imported,
    so the sidebar is drawn and torch's libraries start loading (playground/preload.py) before the import."""
    assert "page_frame.start(" in script.read_text()
    names = top_level_imports(script, before="page_frame.start(")
    assert "views.page_frame" in names
    loaded = modules_loaded_by("\n".join(f"import {n}" for n in names))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_model_builder_draws_its_bar_before_its_heavy_imports():
    page = ROOT / "pages" / "model_builder.py"
    first = top_level_imports(page, before="model_builder_bar.draw()")
    assert first == ["streamlit", "views.model_builder_bar", "views.page_frame"]
    everything = top_level_imports(page)
    assert "torch" in everything and everything.index("torch") > everything.index("views.model_builder_bar")


FIRST_RUN = """
import json, sys
import streamlit as st
from streamlit.testing.v1 import AppTest
from views import model_builder_bar

seen = {}
draw = model_builder_bar.draw

def spy():
    seen["seed_drawn"] = "global_seed" in st.session_state
    seen["torch_loaded"] = "torch" in sys.modules
    return draw()

model_builder_bar.draw = spy
configure = st.set_page_config
icons = []

def page_config(**kwargs):
    icons.append(str(kwargs.get("page_icon", "")))
    return configure(**kwargs)

st.set_page_config = page_config
at = AppTest.from_file(%r, default_timeout=120)
at.switch_page(%r)
at.run()
seen["errors"] = [str(e.value) for e in at.exception]
seen["pandas_loaded"] = "pandas" in sys.modules
seen["seed"] = at.number_input(key="global_seed").value
seen["play"] = "mb_play" in {b.key for b in at.button}
seen["torch_named"] = any(c.value.startswith("torch ") for c in at.sidebar.caption)
seen["icon"] = [i.rsplit("/", 1)[-1] for i in icons if i]
print(json.dumps(seen))
"""


def test_a_servers_first_run_draws_the_control_bar_before_the_sidebars_seed():
    """The seed's widget scripts would be fetched before the bar's (bench/startup.py: first paint 0.1 to 0.3 s
    later), and the page icon imports NumPy: both drawn after the page on a server's first run, and there once it
    has run."""
    out = subprocess.run([sys.executable, "-c", FIRST_RUN % (str(ROOT / "app.py"), "pages/model_builder.py")],
                         cwd=ROOT, check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen == {"seed_drawn": False, "torch_loaded": False, "errors": [], "seed": 0, "play": True,
                    "torch_named": True, "icon": ["icon.png"], "pandas_loaded": False}


ROOT_PAGE_RUN = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(%r, default_timeout=120)
at.run()
print(json.dumps({"errors": [str(e.value) for e in at.exception], "table": any(m.value.startswith("| what |") for m in at.markdown),
                  "pandas_loaded": "pandas" in sys.modules}))
"""


def test_the_root_pages_first_run_imports_no_pandas():
    """The Tensor Lab is every visitor's first page: its reference table is Markdown, not a table that needs
    pandas (0.4 s of a server's first visit)."""
    out = subprocess.run([sys.executable, "-c", ROOT_PAGE_RUN % str(ROOT / "app.py")], cwd=ROOT, check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout
    assert json.loads(out.strip().splitlines()[-1]) == {"errors": [], "table": True, "pandas_loaded": False}
