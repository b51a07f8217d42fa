"""bench/ must not rot: import every benchmark and run its cheapest piece with tiny sizes (no timings asserted)."""

from __future__ import annotations

import importlib

import pytest

MODULES = ["bench", "bench.common", "bench.__main__", "bench.startup", "bench.interaction", "bench.browser_roundtrip",
           "bench.training_live", "bench.memory", "bench.scale", "bench.gpu_check", "bench.sweep",
           "bench.sweep_statistics"]


@pytest.mark.parametrize("name", MODULES)
def test_imports(name):
    importlib.import_module(name)


def test_results_sections_are_merged_not_overwritten(tmp_path):
    from bench.common import Row, Section, split_sections, table, write_sections

    path = tmp_path / "RESULTS.md"
    path.write_text("# Benchmark results\n\nold header\n\n## Training throughput\n\ntheirs\n\n## Start-up\n\nold\n")
    write_sections([Section("Start-up", ["new"]), Section("Memory", [table([Row("x", 2.0, "MB", "b", 4.0, "<= 3", True)])])],
                   path=path)
    preamble, sections = split_sections(path.read_text())
    assert "old header" in preamble
    assert [title for title, _ in sections] == ["Training throughput", "Start-up", "Memory"]
    text = dict(sections)
    assert "theirs" in text["Training throughput"] and "new" in text["Start-up"] and "old" not in text["Start-up"]
    assert "0.50x" in text["Memory"] and "| met |" in text["Memory"]
    write_sections([], path=path, order=["Memory", "Start-up"])
    assert [title for title, _ in split_sections(path.read_text())[1]] == ["Memory", "Start-up", "Training throughput"]


def test_runner_lists_every_benchmark(capsys):
    from bench.__main__ import BENCHMARKS, main

    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in BENCHMARKS)


def test_script_finished_is_read_from_a_websocket_frame():
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from bench.common import script_finished_kind

    msg = ForwardMsg()
    msg.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    assert script_finished_kind(msg.SerializeToString()) == "FINISHED_SUCCESSFULLY"
    assert script_finished_kind("text frame") is None


def test_machine_summary_names_versions_without_importing_torch():
    from bench.common import machine

    m = machine()
    assert m["cores"] and m["torch"] and m["streamlit"]


def test_scale_tiny():
    from bench.scale import measure

    r = measure(widths=(8,), depths=(1,), sizes=(100,), slice_s=0.02, rounds=1, log=lambda *_: None)
    assert len(r["width"]) == 1 and len(r["depth"]) == 1 and len(r["data"]) == 1 and r["baseline"]


def test_gpu_check_without_cuda_or_on_cpu():
    from bench import gpu_check

    assert gpu_check.main(["--quick", "--no-write"]) == 0
    case = gpu_check.Case("tiny", (4,), "tanh", 100, 10, 2, 0.03)
    result = gpu_check.check_case(case, "cpu", lambda *_: None)  # cpu against itself: exactly equal
    assert result["agree"] and result["first"]["grad_max_abs_diff"] == 0.0


def test_sweep_bench_tiny():
    from bench.sweep import measure

    r = measure(members_list=(2,), rounds=1, epochs=1, n_samples=100, log=lambda *_: None)
    assert r[2]["ratios"] and r[2]["sweep_bytes"] > 0 and r[2]["exactness"]["checked"]


def test_sweep_statistics_bench_tiny():
    from bench.sweep_statistics import statistics_cost

    (r,) = statistics_cost(members=2, rounds=1, log=lambda *_: None, plans=((50, 2),))
    assert r["on"][0] > 0 and r["off"][0] > 0 and r["ratios"][0] == r["on"][0] / r["off"][0]


def test_gpu_check_sweeps_run_on_the_cpu_too():
    from dataclasses import replace

    from bench import gpu_check

    case = replace(gpu_check.QUICK_SWEEP_CASES[0], members=(2,))
    (result,) = gpu_check.check_sweeps(case, "cpu", lambda *_: None, seconds=0.05)
    assert result["gpu"]["steps"] > 0 and result["cpu"]["steps"] > 0 and result["picked"] == "cuda:0"


def test_training_live_counts_steps_as_the_engine_does():
    from bench.training_live import steps_of
    from playground.builder.config import RunConfig

    config = RunConfig().with_train(epochs=3)
    assert steps_of(config) == 3 * 30  # 500 samples, 60% training, batch 10


def test_one_interaction_reruns_the_tensor_lab():
    from bench.interaction import open_app_page, tensor_lab

    at = open_app_page("app.py")
    first = tensor_lab()[0]
    first.act(at, 4)
    at.run()
    assert not at.exception


def test_cpu_used_counts_each_process_once_and_a_closed_tab_takes_nothing_away():
    from bench.common import cpu_by_process, cpu_used

    before = {10: ("chromium browser", 1.0), 11: ("chromium renderer", 5.0)}  # 11: a tab closed since
    after = {10: ("chromium browser", 1.5), 12: ("chromium renderer", 0.75), 20: ("server", 2.0)}
    used = cpu_used(before, after)
    assert used == {"chromium browser": 0.5, "chromium renderer": 0.75, "server": 2.0, "chromium": 1.25}
    assert all(seconds >= 0 for _, seconds in cpu_by_process(-1).values())  # this process's children, no server


def test_waiting_until_idle_waits_for_a_busy_server_and_not_for_an_idle_one():
    import subprocess
    import sys
    import time

    from bench.common import wait_until_idle

    code = "import time\nend = time.perf_counter() + {busy}\nwhile time.perf_counter() < end: pass\ntime.sleep(60)"
    for busy in (2.0, 0.0):
        server = subprocess.Popen([sys.executable, "-c", code.format(busy=busy)])
        try:
            time.sleep(0.5)  # Python started: the busy one is in its loop
            waited = wait_until_idle(server.pid, quiet_s=0.3, timeout_s=15)
            if busy:
                assert 1.0 <= waited < 15, waited
            else:
                assert waited < 1.5, waited
        finally:
            server.kill()
            server.wait()
