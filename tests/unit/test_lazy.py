"""playground/lazy.py: pandas imported when first used. The Model Builder's modules load none of it (0.3 s of a core
on a server's first visit), and what uses it gets the real module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas
import pytest

from playground.builder.csv_table import read_table
from playground.lazy import LazyModule
from playground.lazy import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
MODEL_BUILDER_MODULES = ("playground.builder.codegen", "playground.builder.datasets", "playground.builder.evaluation",
                         "playground.builder.csv_table", "playground.runs.export", "views.model_builder_io",
                         "views.model_builder_live", "views.settings_widgets")


def test_attributes_are_the_real_modules():
    assert pd.DataFrame is pandas.DataFrame and pd.errors.ParserError is pandas.errors.ParserError
    assert repr(LazyModule("json")) == "<lazily imported module 'json'>"
    assert LazyModule("json").dumps([1]) == "[1]"


def test_a_missing_module_is_an_import_error_when_used():
    ghost = LazyModule("no_such_module_here")  # made without error: nothing is imported yet
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        _ = ghost.anything


def test_the_model_builders_modules_import_no_pandas_until_a_table_is_made():
    code = ("import sys\n" + "\n".join(f"import {m}" for m in MODEL_BUILDER_MODULES)
            + "\nbefore = 'pandas' in sys.modules\nfrom playground.runs import export\nimport pandas\n"
            + "export.to_csv_bytes(pandas.DataFrame({'a': [1]}))\nprint(before)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"


def test_the_csv_reader_reads_through_the_lazy_alias():
    table = read_table(b"x,y,label\n1,2,a\n3,4,b\n5,6,a\n", target="label")
    assert list(table["features"]) == ["x", "y"] and list(table["classes"]) == ["a", "b"] and table["X"].shape == (3, 2)
