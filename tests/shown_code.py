"""Run code panels exactly as the page shows them: each script as text in a file, in one fresh ``python -I``
process whose working folder is a temporary one, so neither ``playground`` nor ``tests`` can be imported
(checked first). Each script runs in its own namespace (``runpy``) with its own captured output, and any
exception is reported. One process for many scripts keeps the cost to one torch import.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

_RUNNER = '''
import contextlib, importlib.util, io, json, runpy, sys, traceback
for name in ("playground", "tests", "views"):
    assert importlib.util.find_spec(name) is None, f"the project's {name} is importable"
results = {}
for name, path in json.load(open(sys.argv[1])).items():
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(path, run_name="__main__")
        results[name] = {"stdout": out.getvalue(), "error": None}
    except BaseException:
        results[name] = {"stdout": out.getvalue(), "error": traceback.format_exc(limit=3)}
json.dump(results, open(sys.argv[2], "w"))
'''
NUMBER = re.compile(r"-?\d+\.?\d*(?:e[-+]?\d+)?|nan|-?inf")


def run_shown(scripts: dict[str, str], folder: Path, timeout: float = 300) -> dict[str, str]:
    """What each script printed, keyed like ``scripts``. Raises AssertionError naming any script that failed."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for index, (name, code) in enumerate(scripts.items()):
        path = folder / f"panel_{index}.py"
        path.write_text(code)
        paths[name] = str(path)
    (folder / "scripts.json").write_text(json.dumps(paths))
    (folder / "runner.py").write_text(_RUNNER)
    done = subprocess.run([sys.executable, "-I", str(folder / "runner.py"), str(folder / "scripts.json"),
                           str(folder / "results.json")], cwd=folder, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((folder / "results.json").read_text())
    failed = {name: result["error"] for name, result in results.items() if result["error"]}
    assert not failed, failed
    return {name: result["stdout"] for name, result in results.items()}


def numbers(text: str) -> list[float]:
    """Every number in ``text``, in order (``nan`` and ``inf`` included)."""
    return [float(n) for n in NUMBER.findall(text)]


def uncommented(panel: str) -> str:
    """The lines a panel shows as comments after its code (what it prints), without their ``# ``."""
    lines = panel.rstrip("\n").split("\n")
    tail: list[str] = []
    for line in reversed(lines):
        if not line.startswith("# "):
            break
        tail.append(line[2:])
    return "\n".join(reversed(tail))
