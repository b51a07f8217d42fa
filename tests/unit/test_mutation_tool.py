"""tools/mutation.py: which files a run mutates and which unit tests judge them."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def test_a_package_is_judged_by_its_own_unit_tests():
    targets = tool.normalise([str(ROOT / "playground/tensors")])
    assert targets == ["playground/tensors"]
    assert tool.only_mutate_patterns(targets) == ["playground/tensors/*"]
    assert tool.unit_tests_for(targets) == ["tests/unit/tensors/"]


def test_files_of_two_packages_and_a_top_level_module():
    targets = ["playground/runs/export.py", "playground/autograd/gradcheck.py", "playground/runs/url_state.py"]
    assert tool.only_mutate_patterns(targets) == targets
    assert tool.unit_tests_for(targets) == ["tests/unit/runs/", "tests/unit/autograd/"]
    top = tool.unit_tests_for(["playground/limits.py"])
    assert "tests/unit/test_size_limits.py" in top and all(t.startswith("tests/unit/test_") for t in top)


def test_the_whole_run_mutates_everything_with_all_unit_tests():
    assert tool.only_mutate_patterns([]) == [] and tool.unit_tests_for([]) == ["tests/unit/"]
    assert tool.unit_tests_for(["playground"]) == ["tests/unit/"]


def test_a_rerun_names_only_the_mutants_it_asks_for():
    assert tool.run_arguments(None) == ["run"] and tool.run_arguments(1) == ["run", "--max-children=1"]
    names = ["playground.tensors.ops.x__short__mutmut_1", "playground.tensors.ops.x__pow_dtype__mutmut_*"]
    assert tool.run_arguments(1, names) == ["run", "--max-children=1", *names]


def test_paths_outside_playground_are_refused():
    with pytest.raises(SystemExit, match="not under playground"):
        tool.normalise([str(ROOT / "tools/mutation.py")])
    with pytest.raises(SystemExit, match="does not exist"):
        tool.normalise([str(ROOT / "playground/nothing_here.py")])


def test_the_pinned_tool_and_its_config():
    assert "mutmut==3.8.1" in (ROOT / "requirements-dev.txt").read_text().splitlines()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    assert config["source_paths"] == ["playground/"]
    assert config["pytest_add_cli_args_test_selection"] == ["tests/unit/"]
    assert "not slow and not browser" in config["pytest_add_cli_args"]
    # mutmut's wall limit, (the tests' time + the constant) x 15: a survivor of 0.1 s tests gets at least 90 s
    assert (0.1 + tool.TIMEOUT_CONSTANT_S) * 15 >= 90


FORKED_MATMUL = """
import os, torch
a = torch.randn(512, 512)
(a @ a).sum()  # the tests that collected mutmut's stats ran matmuls in this process
pid = os.fork()
if pid == 0:  # mutmut's worker: one mutant's tests
    (a @ a).sum()
    os._exit(0)
print(os.waitpid(pid, 0)[1])
"""


def test_a_forked_test_run_can_use_torch_after_its_parent_did():
    import os
    import subprocess
    import sys

    environ = {k: v for k, v in os.environ.items() if k not in tool.SINGLE_THREADED}
    environ = tool.single_threaded({**environ, "OMP_NUM_THREADS": "4"})
    assert environ["OMP_NUM_THREADS"] == environ["MKL_NUM_THREADS"] == "1" and environ["PATH"] == os.environ["PATH"]
    done = subprocess.run([sys.executable, "-c", FORKED_MATMUL], env=environ, capture_output=True, text=True,
                          timeout=60)  # without one thread the child waits forever on OpenMP's dead team
    assert done.returncode == 0 and done.stdout.strip() == "0", done.stderr


def test_the_loader_a_test_started_in_mutmuts_process_is_stopped_and_reaped():
    from playground.runs import pt_loader

    pt_loader._LOADER._ensure_started()
    process = pt_loader._LOADER.process
    assert process is not None and process.poll() is None
    tool.stop_test_children()
    assert pt_loader._LOADER.process is None and process.returncode is not None  # reaped: os.wait cannot see it
