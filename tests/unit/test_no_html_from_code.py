"""No page puts HTML of its own making into the page (DESIGN: user text is shown as text, never as markdown or
HTML). Pictures are images; the one stylesheet is a file of the project's own, loaded with st.html(Path)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "views").glob("*.py"))]


def test_no_view_asks_for_unsafe_html():
    offenders = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg in ("unsafe_allow_html", "unsafe_allow_javascript"):
                offenders.append(f"{path.name}:{node.value.lineno}")
    assert not offenders, offenders


def test_st_html_is_given_only_the_projects_own_files():
    calls = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        paths = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) for t in n.targets
                 if isinstance(t, ast.Name) and isinstance(n.value, ast.Call)
                 and ast.unparse(n.value).startswith("Path(__file__).with_name(")}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "html"
                    and ast.unparse(node.func.value) == "st"):
                calls.append((path.name, ast.unparse(node.args[0]), paths))
    assert calls  # the Model Builder's stylesheet
    for name, argument, paths in calls:
        assert argument in paths, (name, argument)  # a Path to a file beside the view, nothing built at run time
    assert (ROOT / "views" / "model_builder.css").read_text().count("<") == 0  # CSS only, no markup
