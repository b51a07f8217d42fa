"""Copy artifacts/figures.json (written by the tests as they run; git ignores it) into the figures table of
docs/RELIABILITY.md, between its markers, on purpose. Run after the reliability tests:

    python tests/reliability/write_figures.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "RELIABILITY.md"
OPEN = "<!-- figures: written from artifacts/figures.json by tests/reliability/write_figures.py -->\n"
CLOSE = "\n<!-- /figures -->"
SOURCES = {"csv": "test_hostile_csv.py", "extremes": "test_faults.py", "faults": "test_faults.py",
           "session gone": "test_session_gone.py", "load": "test_isolation_load.py",
           "weights": "test_hostile_weights.py", "autograd": "test_hostile_autograd.py",
           "autograd (browser)": "tests/browser/test_autograd.py", "memory": "test_memory_returns.py"}


def table(figures: dict) -> str:
    machine = figures["_machine"]
    lines = [
        f"Machine: {machine['platform']}, {machine['cpus']} CPU cores, 24 GiB RAM, Python {machine['python']}, "
        "torch 2.13.0+cpu, Chromium from Debian. Written by the last run of the tests (a full `CI=true pytest` on a "
        "clean clone, tests one after another); on a machine shared with other work the times are longer.",
        "",
        "| area | figure | value | measured (UTC) | by |",
        "|---|---|---|---|---|",
    ]
    for section, source in SOURCES.items():
        for name, item in figures.get(section, {}).items():
            value = item["value"]
            if isinstance(value, list):
                value = " / ".join(str(v) for v in value)
            lines.append(f"| {section} | {name} | {value} | {item['measured_at'].removesuffix(' UTC')} | `{source}` |")
    return "\n".join(lines)


def main() -> None:
    figures = json.loads((HERE.parents[1] / "artifacts" / "figures.json").read_text())
    text = DOC.read_text()
    start = text.index(OPEN) + len(OPEN)
    end = text.index(CLOSE)
    DOC.write_text(text[:start] + table(figures) + text[end:])


if __name__ == "__main__":
    main()
