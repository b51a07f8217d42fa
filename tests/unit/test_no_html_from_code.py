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



def _constant(value: ast.expr, constants: set[str]) -> bool:
    """A module-level string constant, or an f-string filled only with named constants (no call, no subscript)."""
    if isinstance(value, ast.Name):
        return value.id in constants
    if isinstance(value, ast.JoinedStr):
        return all(isinstance(part, ast.Constant) or isinstance(part.value, (ast.Name, ast.Attribute))
                   and not any(isinstance(n, (ast.Call, ast.Subscript)) for n in ast.walk(part.value))
                   for part in value.values)
    return isinstance(value, ast.Constant) and isinstance(value.value, str)


def test_a_components_html_css_and_js_are_constants_of_the_projects_own():
    """st.components.v2 runs its HTML, CSS and JS in the page unsanitised: each is a constant of the project's own,
    nothing built from what a user sends. What a component draws comes as data: the clickable pictures'
    (views/svg_picker.py) an SVG from playground/ with user text escaped there (tests/unit/builder/test_pictures.py),
    the owner cookie's (views/identity.py) a token the server made."""
    registered = []
    for path in SOURCES:
        tree = ast.parse(path.read_text())
        constants = {t.id for n in tree.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                     and isinstance(n.value.value, str) for t in n.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("components.v2.component"):
                registered.append(path.name)
                for keyword in node.keywords:
                    if keyword.arg in ("html", "css", "js"):
                        assert _constant(keyword.value, constants), (path.name, keyword.arg)
    assert sorted(registered) == ["identity.py", "svg_picker.py"]  # a new component is looked at here first
