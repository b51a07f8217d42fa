"""The server's memory around the heaviest requests each page allows, measured in a process of its own.

Run as ``python -m tests.reliability.memory_probe`` (tests/reliability/test_memory_returns.py does): each page
script runs through AppTest in this process, in a script thread as on a server. Per page: one light pass over
its views (its imports and first-use costs), the baseline RSS; then the heaviest allowed requests, ``PASSES``
times, the RSS after each pass and the peak; printed as one JSON line. ``NO_TRIM=1`` leaves out the
``malloc_trim`` after a CSV is read, for the comparison in docs/RELIABILITY.md.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

from playground import limits


def proc_status(field: str) -> float:
    """A VmRSS/VmHWM line of /proc/self/status, in MB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def settled_rss() -> float:
    gc.collect()
    time.sleep(0.2)
    return proc_status("VmRSS:")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # VmHWM back to the current RSS (Linux 4.0+)


def tensor_lab_light(at) -> None:
    at.run()


def tensor_lab_heavy(at) -> None:
    """The largest tensors and results the page makes: 10,000 numbers typed, built, summed out of an empty one."""
    s = at.session_state
    for values in (
        {"tl_source": "literal", "tl_literal": "[" + ", ".join(["1.5"] * limits.MAX_TENSOR_ELEMENTS) + "]", "tl_op": "pow"},
        {"tl_source": "randn", "tl_shape": str(limits.MAX_TENSOR_ELEMENTS), "tl_op": "mean", "tl_all_dims": True},
        {"tl_source": "zeros", "tl_shape": f"0, {limits.MAX_TENSOR_SIZE}", "tl_op": "sum", "tl_all_dims": False, "tl_dim": 0},
        {"tl_source": "zeros", "tl_shape": f"0, {limits.MAX_TENSOR_SIZE}, {limits.MAX_TENSOR_SIZE}", "tl_op": "sum",
         "tl_all_dims": False, "tl_dim": 0},  # refused before it is made
    ):
        for key, value in values.items():
            s[key] = value
        at.run()


def autograd_light(at) -> None:
    for view in at.radio(key="ag_view").options:
        at.session_state["ag_view"] = view
        at.run()


def autograd_heavy(at) -> None:
    """An expression of 1,000,000-number intermediates (8 million in all), the finest plots, the longest paths."""
    s = at.session_state
    views = at.radio(key="ag_view").options
    s["ag_view"] = views[0]
    s["ag_preset"] = "Random layer: relu(W @ x).sum()"
    at.run()
    s["ag_var_0_shape"], s["ag_var_1_shape"] = "1000, 1", "1, 1000"
    for i in range(2):
        s["ag_expression"] = f"((W @ x).sin() * (W @ x).cos() + (W @ x).exp() * {i + 1}).sum()"
        at.run()
    s["ag_view"], s["ag_f1_points"] = views[1], limits.MAX_GRID_POINTS
    at.run()
    s["ag_view"], s["ag_f2_side"], s["ag_f2_arrows"], s["ag_f2_surface"] = views[2], limits.MAX_GRID_SIDE, limits.MAX_ARROW_SIDE, True
    at.run()
    s["ag_view"], s["ag_opt_steps"] = views[3], limits.MAX_OPTIMIZER_STEPS
    at.run()
    s["ag_view"] = views[0]
    at.run()


def model_builder_light(at) -> None:
    """The page, and a small CSV read: pandas and the reader imported, as the heavy pass will use them."""
    from playground.builder.datasets import CsvDataset

    at.run()
    CsvDataset(("a,b,label\n" + "".join(f"{i % 5},{i % 3},{i % 2}\n" for i in range(40))).encode())


def _largest_csv() -> bytes:
    """100,000 rows in 10 MB: the largest CSV an upload may be."""
    n, header = limits.MAX_CSV_ROWS, "name,a,b,label\n"
    pad = (limits.MAX_CSV_BYTES - len(header)) // n - 8
    return (header + "".join(f"{'n' * pad}{i % 10},{i % 7},{i % 3},{i % 2}\n" for i in range(n))).encode()


def model_builder_heavy(at) -> None:
    """The most samples the page draws, and the largest CSV read (the upload's reader, as the page calls it)."""
    from playground.builder.datasets import CsvDataset

    at.session_state["mb_n_samples"] = limits.MAX_SAMPLES
    at.run()
    CsvDataset(_largest_csv())
    at.session_state["mb_n_samples"] = 500
    at.run()


PAGES = {
    "Tensor Lab": ("app.py", tensor_lab_light, tensor_lab_heavy),
    "Autograd": ("pages/autograd.py", autograd_light, autograd_heavy),
    "Model Builder": ("pages/model_builder.py", model_builder_light, model_builder_heavy),
}


def main() -> None:
    from tests.app.conftest import open_page

    passes = int(os.environ.get("PASSES", "2"))
    if os.environ.get("NO_TRIM") == "1":  # the A/B of docs/RELIABILITY.md: glibc keeps what a request freed
        from playground.builder import datasets

        datasets.give_back = lambda: False
    for name in os.environ.get("PAGES", ",".join(PAGES)).split(","):
        path, light, heavy = PAGES[name]
        at = open_page(path, timeout=180)
        light(at)
        before = settled_rss()
        reset_peak()
        after = []
        for _ in range(passes):
            heavy(at)
            assert not at.exception, [e.value for e in at.exception]
            after.append(round(settled_rss(), 1))
        peak = proc_status("VmHWM:")
        del at
        print(json.dumps({"page": name, "before_mb": round(before, 1), "peak_mb": round(peak, 1), "after_mb": after}),
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
