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
import shutil
import sys
import tempfile
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


RUNS_KEPT = limits.RUNS_PAGE_SIZE + 5  # the table's first page full, and a second one
SWEEP_EPOCHS = 40  # each member's curve (64 drawn, tabled and kept while the page shows the sweep); the views are the bulk


def _largest_model_run(seed: int):
    """A kept run of the largest model (8 x 256) and the longest history (MAX_EPOCHS epochs)."""
    from playground.builder.config import ModelSpec
    from tests.sample_runs import make_trained

    spec = ModelSpec(in_features=2, hidden=(limits.MAX_LAYER_WIDTH,) * limits.MAX_HIDDEN_LAYERS,
                     activations=("tanh",) * limits.MAX_HIDDEN_LAYERS, out_features=3)
    return make_trained(spec, seed=seed, epochs=limits.MAX_EPOCHS, lr=0.001 * (seed + 1))


def runs_setup() -> None:
    """The store the page lists: MAX_RUNS_COMPARED runs of the largest model and longest history, and more small
    ones (kept before the measurement: the page's cost is reading and drawing them)."""
    from playground.runs.default_store import open_default_store
    from tests.sample_runs import make_trained

    store = open_default_store()
    for seed in range(RUNS_KEPT - limits.MAX_RUNS_COMPARED):
        store.save(make_trained(seed=100 + seed))
    for seed in range(limits.MAX_RUNS_COMPARED):  # the newest: on the table's first page, where runs are chosen
        store.save(_largest_model_run(seed))


def _on_first_page(at, big: bool) -> list[str]:
    """MAX_RUNS_COMPARED runs of the table's first page (where the page offers them): the large ones, or small ones."""
    from playground.runs.default_store import open_default_store

    store = open_default_store()
    shown = [r for r in at.dataframe[0].value.index if (store.summary(r).epochs_run == limits.MAX_EPOCHS) == big]
    assert len(shown) >= limits.MAX_RUNS_COMPARED, shown
    return shown[: limits.MAX_RUNS_COMPARED]


def _runs_requests(at, chosen: list[str]) -> None:
    at.multiselect(key="runs_selected").set_value(chosen).run()
    at.slider(key="runs_smoothing").set_value(0.99).run()
    at.toggle(key="runs_only_differences").set_value(True).run()
    at.selectbox(key="runs_action_run").set_value(chosen[0]).run()
    at.pagination(key="runs_page").set_value(2).run()
    at.pagination(key="runs_page").set_value(1).run()
    at.toggle(key="runs_only_differences").set_value(False).run()
    at.slider(key="runs_smoothing").set_value(0.0).run()
    at.multiselect(key="runs_selected").set_value([]).run()


def runs_light(at) -> None:
    """The same requests on the small runs: every part of the page used once (its imports, first-use costs)."""
    at.run()
    _runs_requests(at, _on_first_page(at, big=False))


def runs_heavy(at) -> None:
    """The most runs overlaid (each of the longest history and the largest model), smoothed, their settings side by
    side; a large run chosen for its actions (its downloads made); the table's second page."""
    _runs_requests(at, _on_first_page(at, big=True))


def sweeps_light(at) -> None:
    """The page, and a small sweep trained and shown (the worker, the pictures and the table made once)."""
    at.number_input(key="sw_epochs").set_value(2).run()
    _sweep(at)


def _sweep(at) -> None:
    at.button(key="sw_play").click().run()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        at.run()
        view = at.session_state["sw_control"].view()
        if view is not None and not view.active:
            at.run()
            return
        time.sleep(0.5)
    raise TimeoutError("the sweep did not end in 300 s")


def sweeps_heavy(at) -> None:
    """A sweep of the most members (8 learning rates x 8 seeds: 64), trained and shown: its 64 small multiples,
    curves, heatmaps and table; a member chosen, kept as a run."""
    s = at.session_state
    at.toggle(key="sw_two").set_value(True).run()
    at.text_input(key="sw_values_0_lr").set_value("0.001, 0.003, 0.01, 0.02, 0.03, 0.05, 0.1, 0.3").run()
    at.text_input(key="sw_values_1_seed").set_value(", ".join(str(i) for i in range(8))).run()
    at.number_input(key="sw_epochs").set_value(SWEEP_EPOCHS).run()
    from tests.app.conftest import texts

    assert f"**{limits.MAX_SWEEP_MEMBERS}** models" in texts(at), "not a sweep of the most members"
    _sweep(at)
    view = s["sw_control"].view()
    assert view.status == "finished" and view.info["members"] == limits.MAX_SWEEP_MEMBERS, (view.status, view.message)
    at.selectbox(key="sw_member").set_value(limits.MAX_SWEEP_MEMBERS - 1).run()
    at.button(key="sw_keep").click().run()


PAGES = {
    "Tensor Lab": ("app.py", tensor_lab_light, tensor_lab_heavy),
    "Autograd": ("pages/autograd.py", autograd_light, autograd_heavy),
    "Model Builder": ("pages/model_builder.py", model_builder_light, model_builder_heavy),
    "Runs": ("pages/runs.py", runs_light, runs_heavy),
    "Sweeps": ("pages/sweeps.py", sweeps_light, sweeps_heavy),
}
SETUP = {"Runs": runs_setup}


def main() -> None:
    from tests.app.conftest import open_page

    passes = int(os.environ.get("PASSES", "2"))
    if os.environ.get("NO_TRIM") == "1":  # the A/B of docs/RELIABILITY.md: glibc keeps what a request freed
        from playground.builder import datasets

        datasets.give_back = lambda: False
    # The runs the pages keep go to a folder of this probe's own (the Runs page lists what its setup kept there).
    os.environ["PLAYGROUND_DATA_DIR"] = tempfile.mkdtemp(prefix="playground-memory-probe-")
    os.environ.pop("PLAYGROUND_STORE_URL", None)
    for name in os.environ.get("PAGES", ",".join(PAGES)).split(","):
        path, light, heavy = PAGES[name]
        if name in SETUP:
            SETUP[name]()
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
    from playground.execution import server

    if server._EXECUTOR is not None:  # the Sweeps page's trainers: worker processes of their own
        server._EXECUTOR.shutdown()
    shutil.rmtree(os.environ["PLAYGROUND_DATA_DIR"], ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
