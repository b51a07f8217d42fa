"""Mutation testing over playground/ with mutmut, narrowed to what a run can afford.

    python tools/mutation.py                     # the whole run: every file in playground/, all of tests/unit
    python tools/mutation.py playground/tensors  # one package, judged by tests/unit/tensors only
    python tools/mutation.py playground/runs/export.py playground/runs/url_state.py
    python tools/mutation.py --changed           # the .py files under playground/ that `git diff --name-only main` lists
    python tools/mutation.py playground/tensors/literal.py --tests tests/unit/tensors/test_literal*.py
                                                 # one file judged by its own mirror tests only (faster)
    python tools/mutation.py playground/tensors --keep --mutants 'playground.tensors.ops.x__pow_dtype__mutmut_*'
                                                 # rerun only these mutants (names or globs) of an earlier run

Each mutant is judged by the fast unit tests that mirror its package (tests/unit/<package>), plus the
top-level tests/unit/test_*.py for the top-level modules (limits.py, errors.py ...). The results stay in
mutants/ (git-ignored); `python -m mutmut results` lists the survivors, `python -m mutmut show NAME` shows one.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "playground"


def changed_files(base: str) -> list[str]:
    """The playground/*.py files that differ from `base` (committed or not)."""
    out = subprocess.run(
        ["git", "diff", "--name-only", base], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if line.startswith(SOURCE + "/") and line.endswith(".py")]


def normalise(targets: list[str]) -> list[str]:
    """Paths relative to the repository root, each a playground/ file or package, refusing anything else."""
    result = []
    for target in targets:
        path = Path(target)
        path = (path if path.is_absolute() else Path.cwd() / path).resolve()
        relative = path.relative_to(ROOT).as_posix()
        if not (relative == SOURCE or relative.startswith(SOURCE + "/")):
            raise SystemExit(f"{target} is not under {SOURCE}/")
        if not path.exists():
            raise SystemExit(f"{target} does not exist")
        result.append(relative)
    return result


def only_mutate_patterns(targets: list[str]) -> list[str]:
    """mutmut's only_mutate globs for these files and packages (empty: everything)."""
    return [t if t.endswith(".py") else t.rstrip("/") + "/*" for t in targets if t != SOURCE]


def unit_tests_for(targets: list[str]) -> list[str]:
    """The unit test folders/files that cover these targets: tests/unit/<package>, or tests/unit/test_*.py
    for a top-level module such as playground/limits.py."""
    if not targets or SOURCE in targets:
        return ["tests/unit/"]
    selected: list[str] = []
    for target in targets:
        parts = Path(target).parts  # ('playground', 'tensors', 'ops.py') or ('playground', 'limits.py')
        if len(parts) >= 3 or not parts[-1].endswith(".py"):
            folder = f"tests/unit/{parts[1]}/"
            candidates = [folder] if (ROOT / folder).is_dir() else []
        else:
            candidates = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests/unit").glob("test_*.py"))
        selected += [c for c in candidates if c not in selected]
    return selected or ["tests/unit/"]


# torch's OpenMP thread team does not survive a fork: mutmut forks each mutant's test run from a process whose
# tests already ran a matmul, and the child's first parallel matmul then waits forever (counted as a timeout).
SINGLE_THREADED = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
# mutmut's wall-clock limit per mutant is (its tests' time + this) x 15 s: at mutmut's 1 s, a surviving mutant whose
# tests take 0.1 s was cut at 17 s on a loaded machine and counted as a timeout (killed); 6 s gives it 105 s.
TIMEOUT_CONSTANT_S = 6.0


def single_threaded(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with torch's CPU thread pools set to one thread, whatever it asked for."""
    return {**environ, **SINGLE_THREADED}


def stop_test_children() -> None:
    """Stop the processes the tests run in mutmut's own process left behind (the .pt loader, which stops by itself
    when idle): mutmut waits for any child to learn that a mutant's run ended, and one it did not start ends it
    with a KeyError."""
    loader = sys.modules.get("playground.runs.pt_loader")
    if loader is not None:
        loader.stop_loader()


def run_arguments(max_children: int | None, mutants: list[str] | tuple[str, ...] = ()) -> list[str]:
    """mutmut's command line: `run`, its parallelism, and the mutants to run (none named: all of them)."""
    return ["run"] + ([f"--max-children={max_children}"] if max_children else []) + list(mutants)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="playground/ files or packages (default: all of playground/)")
    parser.add_argument("--changed", action="store_true", help="only the playground/ files changed since --base")
    parser.add_argument("--base", default="main", help="git revision --changed compares with (default: main)")
    parser.add_argument("--tests", nargs="+", default=None,
                        help="judge by these test files only (default: the targets' package's unit tests)")
    parser.add_argument("--max-children", type=int, default=None, help="parallel mutants (default: CPU count)")
    parser.add_argument("--keep", action="store_true", help="reuse mutants/ from an earlier run of the same targets")
    parser.add_argument("--mutants", nargs="+", default=(),
                        help="run only these mutants (names or globs, as `mutmut results` lists them); with --keep, "
                             "an earlier run's other results stay")
    parser.add_argument("--dry-run", action="store_true", help="print what would be mutated and tested, run nothing")
    args = parser.parse_args(argv)

    targets = normalise(args.targets)
    if args.changed:
        targets += [t for t in changed_files(args.base) if t not in targets]
        if not targets:
            print(f"No playground/ file changed since {args.base}: nothing to mutate.")
            return 0
    patterns = only_mutate_patterns(targets)
    tests = [Path(t).resolve().relative_to(ROOT).as_posix() for t in args.tests] if args.tests else unit_tests_for(targets)
    print(f"mutating: {patterns or [SOURCE + '/*']}\ntests: {tests}")
    if args.dry_run:
        return 0

    import os

    os.chdir(ROOT)
    os.environ.update(single_threaded(dict(os.environ)))  # before torch is imported by the first test run
    if not args.keep and (ROOT / "mutants").exists():
        shutil.rmtree(ROOT / "mutants")  # stale stats from another selection would judge with the wrong tests

    from mutmut import configuration

    config = configuration.config()  # reads [tool.mutmut] in pyproject.toml
    config.only_mutate = patterns
    config.pytest_add_cli_args_test_selection = tests
    config.timeout_constant = max(config.timeout_constant, TIMEOUT_CONSTANT_S)

    import mutmut.__main__ as mutmut_main
    from mutmut.__main__ import cli

    forced_fail = mutmut_main.run_forced_fail_test  # the last test run in this process before the mutants'

    def forced_fail_then_stop_children(runner):  # noqa: ANN001, ANN202 - mutmut's runner
        forced_fail(runner)
        stop_test_children()

    mutmut_main.run_forced_fail_test = forced_fail_then_stop_children

    cli_args = run_arguments(args.max_children, args.mutants)
    try:
        cli.main(cli_args, prog_name="mutmut", standalone_mode=False)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
