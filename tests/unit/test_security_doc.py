"""docs/SECURITY.md describes the code as it is (issue 25 item 6).

Every module it cites under ``playground/`` exists, every ``module::name`` and ``module: name`` it cites is
defined there, and the claims of the input table about how each input is read are checked against the code
that reads it (the review once said CSVs were read "with the csv module row by row" long after the reader had
become ``pandas.read_csv``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "SECURITY.md").read_text()
CITED_FILE = re.compile(r"`(playground/[\w/]+\.py)(?:(?:::|: )(\w+))?`")
CITED_DOTTED = re.compile(r"`(playground/[\w/]+)\.(\w+)`")


def defined_names(path: Path) -> set[str]:
    """Top-level functions, classes and assigned names of a module, and the methods of its classes."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def cited() -> list[tuple[str, str | None]]:
    found = [(m[1], m[2]) for m in CITED_FILE.finditer(DOC)]
    found += [(m[1] + ".py", m[2]) for m in CITED_DOTTED.finditer(DOC) if not m[2] == "py"]
    return found


def test_the_review_cites_modules_at_all():
    assert len(cited()) >= 15


@pytest.mark.parametrize(("path", "name"), cited(), ids=[f"{p}::{n}" if n else p for p, n in cited()])
def test_every_cited_module_and_name_exists(path, name):
    module = ROOT / path
    assert module.is_file(), f"docs/SECURITY.md cites {path}, which does not exist"
    if name:
        assert name in defined_names(module), f"docs/SECURITY.md cites {path}::{name}, which is not defined there"


def source(path: str) -> str:
    return (ROOT / path).read_text()


def calls(path: str) -> set[str]:
    """Every dotted name called in a module: ``pd.read_csv``, ``ast.parse``, ``check_result_size``."""
    found = set()
    for node in ast.walk(ast.parse(source(path))):
        if isinstance(node, ast.Call):
            found.add(ast.unparse(node.func))
    return found


def imports(path: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_csv_files_are_read_as_the_review_says():
    doc_row = next(line for line in DOC.splitlines() if line.startswith("| CSV files |"))
    assert "`pandas.read_csv`" in doc_row and "csv` module" not in doc_row
    reader = "playground/builder/csv_table.py"
    assert "csv" not in imports(reader) and "pandas" in imports(reader)
    assert {"pd.read_csv", "pd.to_numeric", "read_header"} <= calls(reader)
    assert "nrows=max_rows + 1" in source(reader)  # "at most one row more than the row limit"
    assert source(reader).index("if len(frame) > max_rows") < source(reader).index("frame.dropna(how=\"all\")")
    assert "limits.MAX_CSV_BYTES" in source("playground/builder/datasets.py")
    assert not {"eval", "exec", "compile"} & calls(reader)


def test_shapes_and_operations_are_checked_as_the_review_says():
    assert "MAX_TENSOR_SIZE" in source("playground/tensors/literal.py").split("def check_shape", 1)[1].split("\ndef ", 1)[0]
    run_twin = source("playground/tensors/ops.py").split("def run_twin", 1)[1].split("\ndef ", 1)[0]
    assert run_twin.index("check_result_size(") < run_twin.index("op.torch_call(") < run_twin.index("op.numpy_call(")
    assert "parse_literal" in calls("playground/autograd/variables.py")  # one parser for both pages


def test_expressions_are_parsed_as_the_review_says():
    expression = "playground/autograd/expression.py"
    assert "ast.parse" in calls(expression)
    assert not {"eval", "exec", "compile"} & calls(expression)
    assert 'device="meta"' in source(expression).split("def _result_shape", 1)[1].split("\ndef ", 1)[0]
    assert "given more than once" in source(expression)


def test_links_are_read_as_the_review_says():
    url_state = source("playground/runs/url_state.py")
    for limit in ("MAX_QUERY_KEYS", "MAX_QUERY_VALUE_CHARS", "MAX_QUERY_NUMBER_CHARS"):
        assert f"limits.{limit}" in url_state, limit
    from playground import limits

    doc_row = next(line for line in DOC.splitlines() if line.startswith("| URL query strings |"))
    assert f"at most {limits.MAX_QUERY_KEYS} keys and {limits.MAX_QUERY_VALUE_CHARS:,} characters a value" in doc_row
    assert f"a number of at most {limits.MAX_QUERY_NUMBER_CHARS} characters" in doc_row


def test_the_counts_of_cases_the_review_gives_are_the_catalogues():
    from tests.reliability import test_hostile_autograd, test_hostile_csv

    assert f"{len(test_hostile_csv.REFUSED)} refused files" in DOC
    assert f"{len(test_hostile_autograd.EXPRESSION_CASES)} expression cases" in DOC
