"""playground/preload.py: torch's C++ libraries loaded before ``import torch``, without importing torch, and an
import that follows works as usual. Checked in fresh Pythons (this test process has torch loaded already)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from playground import preload

ROOT = Path(__file__).resolve().parents[2]


def run_fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_the_libraries_are_those_of_the_torch_that_is_imported():
    paths = preload.library_paths()
    assert [p.name for p in paths] == list(preload.LIBRARIES)
    assert all(p.is_file() and p.parent == Path(torch.__file__).parent / "lib" for p in paths)


def test_a_preload_maps_the_libraries_without_importing_torch_and_torch_imports_after_it():
    result = run_fresh("""
import json, sys
from playground import preload
started = preload.start()
again = preload.start()  # once a process
preload.wait()
maps = open("/proc/self/maps").read()
loaded = [name for name in preload.LIBRARIES if name in maps]
before = "torch" in sys.modules
import torch
print(json.dumps({"started": started, "again": again, "loaded": loaded, "torch_before": before,
                  "sum": torch.nn.Linear(3, 2)(torch.ones(1, 3)).shape[-1]}))
""")
    assert result == {"started": True, "again": True, "loaded": list(preload.LIBRARIES), "torch_before": False,
                      "sum": 2}


def test_nothing_is_started_once_torch_is_imported():
    result = run_fresh("""
import json, threading
import torch
from playground import preload
print(json.dumps({"started": preload.start(), "threads": [t.name for t in threading.enumerate()]}))
""")
    assert result["started"] is False and "torch-preload" not in result["threads"]

