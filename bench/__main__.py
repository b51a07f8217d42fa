"""Run the benchmarks and rewrite bench/RESULTS.md.

    python -m bench                 # every benchmark (about 5 minutes on the 2-core machine)
    python -m bench startup         # one (or several): startup interaction browser_roundtrip
                                    #   training_live memory scale training_throughput sweep sweep_statistics gpu_check
                                    #   cluster first_visit
    python -m bench --list

Each benchmark runs in its own Python process (a cold start for each, nothing shared between them), with
a time limit (its own, cut so that the whole run stays within ten minutes), and writes its own section of bench/RESULTS.md; sections written by others (the training
throughput benchmark of the Model Builder) are kept. A full run also rewrites the header: the machine,
the date and what ran. A benchmark that fails or is missing gets a "not measured" note with the reason.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import RESULTS, ROOT, Section, load_note, machine, now_utc, split_sections, write_sections

# name: (module, section title, time limit in seconds)
BENCHMARKS: dict[str, tuple[str, str, int]] = {
    "startup": ("bench.startup", "Start-up", 120),
    "first_visit": ("bench.first_visit", "First visit: the loading note, the page ready, Play's first epoch", 240),
    "interaction": ("bench.interaction", "Interaction latency (server side, AppTest)", 120),
    "browser_roundtrip": ("bench.browser_roundtrip", "Browser round trip", 150),
    "training_live": ("bench.training_live", "Live training and concurrency", 200),
    "memory": ("bench.memory", "Memory", 200),
    "scale": ("bench.scale", "Scale of the work", 60),
    "training_throughput": ("bench.training_throughput", "Training throughput", 90),
    "sweep": ("bench.sweep", "Sweeps", 120),
    "sweep_statistics": ("bench.sweep_statistics", "Sweeps: each member's per-layer statistics", 300),
    "gpu_check": ("bench.gpu_check", "GPU check", 240),
    "cluster": ("bench.cluster", "Cluster: Ray, replicas and capacity", 420),
}


TOTAL_BUDGET_S = 600  # python -m bench as a whole
MIN_SLICE_S = 45  # kept back for each benchmark still to come


def run_one(name: str, limit: float | None = None) -> tuple[str, float, str]:
    """Run one benchmark in a fresh process; returns (status, seconds, note)."""
    module, title, own_limit = BENCHMARKS[name]
    limit = int(min(own_limit, limit if limit is not None else own_limit))
    path = ROOT / Path(*module.split(".")).with_suffix(".py")
    if not path.exists():
        note = f"not measured: {path.relative_to(ROOT)} does not exist yet"
        if name != "training_throughput":  # that section belongs to the Model Builder's benchmark
            write_sections([Section(title, [note + "."])])
        return "missing", 0.0, note
    before = RESULTS.read_text() if RESULTS.exists() else ""
    started = time.perf_counter()
    print(f"\n=== {name} ({module}, limit {limit} s)", flush=True)
    try:
        # The benchmark paces itself within the budget; unbuffered, so a timed-out one still shows its lines.
        env = dict(os.environ, BENCH_BUDGET_S=str(int(limit * 0.85)), PYTHONUNBUFFERED="1")
        proc = subprocess.run([sys.executable, "-m", module], cwd=ROOT, timeout=limit, capture_output=True, text=True,
                              env=env)
        out, code = proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        code = None
    seconds = time.perf_counter() - started
    tail = "\n".join(line for line in out.splitlines() if "missing ScriptRunContext" not in line)[-4000:]
    print(tail, flush=True)
    if code == 0:
        after = RESULTS.read_text() if RESULTS.exists() else ""
        if name == "training_throughput" and after == before:
            # It printed its figures without writing a section: keep what it printed.
            write_sections([Section(title, [f"Printed by `python -m {module}` ({now_utc()}):", "", "```",
                                            tail.strip(), "```"])])
        return "ok", seconds, ""
    reason = f"timed out after {limit} s" if code is None else f"exited with code {code}"
    last = [line for line in tail.splitlines() if line.strip()][-3:]
    note = f"not measured in this run: `python -m {module}` {reason}" + (f" ({' / '.join(last)[:400]})" if last else "")
    if name not in ("gpu_check", "training_throughput"):  # those sections are left as their own scripts wrote them
        _, old = split_sections(RESULTS.read_text() if RESULTS.exists() else "")
        previous = dict(old).get(title, "")
        body = [note + "."]
        if previous:
            body += ["", "The figures below are from an earlier run:", "",
                     previous.split("\n", 1)[1].strip() if "\n" in previous else ""]
        write_sections([Section(title, body)])
    return "failed", seconds, note


def header(statuses: list[tuple[str, str, float, str]]) -> str:
    m = machine()
    lines = ["# Benchmark results", "",
             f"Written by `python -m bench` on {now_utc()}. Every figure is beside a baseline measured in the same "
             "run (interleaved with it where possible) and their ratio, because the machine is shared and absolute "
             "times move with its load.", "",
             f"- Machine: {m['cpu']}, {m['cores']} cores, {m['ram']} RAM, GPU: {m['gpu']}",
             f"- Software: Python {m['python']}, torch {m['torch']}, streamlit {m['streamlit']}, {m['os']}",
             f"- Load when the run started: {statuses[0][3] if statuses and statuses[0][0] == 'load' else load_note()}",
             "", "| benchmark | status | seconds |", "|---|---|---|"]
    for name, status, seconds, note in statuses:
        if name == "load":
            continue
        lines.append(f"| {name} | {status}{': ' + note if note and status != 'ok' else ''} | {seconds:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run the benchmarks; rewrite bench/RESULTS.md.")
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--budget", type=int, default=TOTAL_BUDGET_S,
                        help=f"seconds for the whole run (default {TOTAL_BUDGET_S}); on a heavily loaded machine "
                        "a larger budget lets each benchmark finish its repetitions")
    args = parser.parse_args(argv)
    if args.list:
        for name, (module, title, limit) in BENCHMARKS.items():
            print(f"{name:20} {module:28} {title} (limit {limit} s)")
        return 0
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    load = load_note()
    started = time.perf_counter()
    statuses = [("load", "", 0.0, load)]
    for index, name in enumerate(names):
        left = args.budget - (time.perf_counter() - started) - MIN_SLICE_S * (len(names) - index - 1)
        status, seconds, note = run_one(name, max(MIN_SLICE_S, left))
        statuses.append((name, status, seconds, note))
    total = time.perf_counter() - started
    if args.names and RESULTS.exists():  # a partial run says so in the header, which keeps the full run's table
        preamble, _ = split_sections(RESULTS.read_text())
        lines = preamble.rstrip().splitlines()  # earlier partial runs' lines stay: each names its benchmarks
        done = ", ".join(f"{n} ({s})" for n, s, _, _ in statuses[1:])
        lines += ["", f"Rerun on its own afterwards ({now_utc()}, {load}): {done}. Each section says when it was measured."]
        write_sections([], preamble="\n".join(line for i, line in enumerate(lines)
                                               if not (line == "" and i and lines[i - 1] == "")) + "\n")
    if not args.names:  # a full run rewrites the header
        write_sections([], preamble=header(statuses) + f"\nThe whole run took {total:.0f} s (budget {args.budget} s).\n",
                       order=[title for _, title, _ in BENCHMARKS.values()])
    print(f"\nDone in {total:.0f} s: " + ", ".join(f"{n} {s}" for n, s, _, _ in statuses[1:]))
    print(f"Results: {RESULTS.relative_to(ROOT)}")
    return 0 if all(s in ("ok", "missing") for _, s, _, _ in statuses[1:]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
