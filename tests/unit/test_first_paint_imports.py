"""What runs before the first paint imports no PyTorch: app.py up to its page, and the Model Builder's title and
control bar (views/model_builder_bar.py), so a server just started shows them while torch loads. Checked in a
fresh Python (this test process has torch loaded already)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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


def test_app_py_imports_no_torch_before_its_page_runs():
    names = top_level_imports(ROOT / "app.py")
    assert names, "app.py imports something"
    loaded = modules_loaded_by("\n".join(f"import {n}" for n in names))
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_model_builder_draws_its_bar_before_its_heavy_imports():
    page = ROOT / "views" / "model_builder.py"
    first = top_level_imports(page, before="model_builder_bar.draw()")
    assert first == ["streamlit", "views.model_builder_bar"]
    everything = top_level_imports(page)
    assert "torch" in everything and everything.index("torch") > everything.index("views.model_builder_bar")
