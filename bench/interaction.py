"""Interaction latency, server side: the time of one rerun after a user's change, through AppTest.

    python -m bench interaction

Each page is opened through app.py (as the test suite does) and driven like a user: one widget is set
and the script reruns; the rerun is timed. The baseline is the same kind of change on a trivial app
(a title, a radio, a slider, a checkbox) run by AppTest in the same process. All interactions and the
baseline take turns, repetition by repetition, so that load from other work on the machine falls on
all of them alike. Values change every repetition (a new literal, a new slider position) so that
the pages' caches are not simply hit, except where the interaction is a toggle between two states.

Targets: Tensor Lab and Autograd at most 100 ms median, Model Builder (without training) at most
200 ms. The Runs page has no target; it is reported.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.common import (
    ROOT,
    TRIVIAL_APP,
    Budget,
    Row,
    Section,
    median,
    scratch_dir,
    section_stamp,
    spread,
    table,
    write_sections,
)

TARGET_MS = {"Tensor Lab": 100.0, "Autograd": 100.0, "Model Builder": 200.0}
# Where the time goes when a target is missed (cProfile of the script thread, 2026-11-26); printed with a miss.
CAUSES = {
    "Autograd": (
        "Autograd's optimizer view: moving the start point misses the page's cache, so `run_paths` runs every "
        "optimizer's steps again (100 steps x 2 optimizers = 200 real `torch.optim` steps with a backward each, "
        "about 60% of the rerun: per-step overhead of autograd and the optimizer wrappers, not arithmetic), then "
        "builds the Plotly figures. Ways out for the Autograd page: fewer default steps, or a path computed once "
        "per start point in a background thread, or gradients of the closed-form surface batched over all steps "
        "of the cheap optimizers."),
    "Model Builder": (
        "Model Builder: about half of each rerun is the live-view fragment, drawn on every rerun even without "
        "training: the untrained model's decision-boundary heatmap and neuron thumbnails (a forward pass over a "
        "grid per neuron), the network picture and the boundary figure, built as `plotly.graph_objects` (whose "
        "property validation dominates). Ways out for its page: cache the untrained view by (model spec, seed, "
        "data), and build the figures as plain dicts (as the Autograd page did to save ~25 ms a rerun)."),
}
PAGES = {"Tensor Lab": "app.py", "Autograd": "pages/autograd.py",
         "Model Builder": "pages/model_builder.py", "Runs": "pages/runs.py"}


@dataclass
class Interaction:
    page: str
    name: str
    act: Callable  # (at, i) -> None: set the widget for repetition i (the timed rerun follows)
    setup: Callable | None = None  # (at) -> None: untimed, once, after the page opened
    before: Callable | None = None  # (at, i) -> None: untimed, before each timed rerun
    needs: tuple[str, ...] = ()  # widget keys that must be on the page (else: not measured, and why)
    times: list[float] = field(default_factory=list)
    skipped: str = ""


def _cycle(values, i):
    return values[i % len(values)]


def tensor_lab() -> list[Interaction]:
    from playground.tensors.ops import OPS

    def keepdim_setup(at):
        at.radio(key="tl_op").set_value("sum").run()
        at.checkbox(key="tl_all_dims").set_value(False).run()

    return [
        Interaction("Tensor Lab", "change the op", lambda at, i: at.radio(key="tl_op").set_value(_cycle(OPS, i)),
                    needs=("tl_op",)),
        Interaction("Tensor Lab", "type a new literal",
                    lambda at, i: at.text_input(key="tl_literal").set_value(f"[[{i}, {i + 1}], [{i + 2}, {i + 3}]]"),
                    needs=("tl_literal",)),
        Interaction("Tensor Lab", "toggle keepdim (sum over dim 0)",
                    lambda at, i: at.checkbox(key="tl_keepdim").set_value(i % 2 == 0), setup=keepdim_setup,
                    needs=("tl_op",)),
        Interaction("Tensor Lab", "press the cat preset", lambda at, i: at.button(key="tl_preset_cat").click(),
                    before=lambda at, i: at.button(key="tl_preset_tensor").click().run(), needs=("tl_preset_cat",)),
    ]


def autograd() -> list[Interaction]:
    from playground.autograd.variables import PRESETS

    presets = list(PRESETS)
    exprs = ["x.pow(2).sum()", "(x * x).sum()", "x.sin().sum()", "(x.exp() + x).mean()", "x.tanh().pow(3).sum()",
             "(2 * x - 1).pow(2).mean()"]

    def set_view(name_start: str):
        def setup(at):
            radio = at.radio(key="ag_view")
            choice = next(o for o in radio.options if o.startswith(name_start))
            radio.set_value(choice).run()
        return setup

    return [
        Interaction("Autograd", "change the expression (graph view)",
                    lambda at, i: at.text_input(key="ag_expression").set_value(
                        _cycle(exprs, i) if i < len(exprs) else f"x.pow(2).sum() * {i}"),
                    needs=("ag_expression",)),
        Interaction("Autograd", "choose a preset (graph view)",
                    lambda at, i: at.selectbox(key="ag_preset").set_value(_cycle(presets, i + 1)),
                    needs=("ag_preset",)),
        Interaction("Autograd", "move the tangent slider (f and f' view)",
                    lambda at, i: at.slider(key="ag_f1_at").set_value(round(-2.9 + (i * 0.37) % 5.8, 2)),
                    setup=set_view("f and f"), needs=("ag_view",)),
        Interaction("Autograd", "move the arrows slider (gradient field view)",
                    lambda at, i: at.slider(key="ag_f2_arrows").set_value(5 + i % 25),
                    setup=set_view("Gradient field"), needs=("ag_view",)),
        Interaction("Autograd", "move the start-x slider (optimizer view)",
                    lambda at, i: at.slider(key="ag_opt_x0").set_value(
                        round(at.slider(key="ag_opt_x0").min + (0.1 + 0.8 * ((i * 0.37) % 1.0))
                              * (at.slider(key="ag_opt_x0").max - at.slider(key="ag_opt_x0").min), 2)),
                    setup=set_view("Optimizer"), needs=("ag_view",)),
    ]


def model_builder() -> list[Interaction]:
    """The Model Builder's common changes, without training (keys as pages/model_builder.py names them)."""
    return [
        Interaction("Model Builder", "move the learning-rate slider",
                    lambda at, i: at.select_slider(key="mb_lr").set_value((0.003, 0.01, 0.03, 0.1, 0.3)[i % 5]),
                    needs=("mb_lr",)),
        Interaction("Model Builder", "toggle an input feature (x1^2)",
                    lambda at, i: at.checkbox(key="mb_feat_x1^2").set_value(i % 2 == 0), needs=("mb_feat_x1^2",)),
        Interaction("Model Builder", "change a layer's width",
                    lambda at, i: at.number_input(key="mb_width_0").set_value(4 + i % 12), needs=("mb_width_0",)),
        Interaction("Model Builder", "move the noise slider",
                    lambda at, i: at.slider(key="mb_noise").set_value(round(0.05 * (i % 10), 2)), needs=("mb_noise",)),
    ]


def _widget(at, key: str):
    for kind in ("slider", "select_slider", "number_input", "selectbox", "multiselect", "checkbox", "toggle",
                 "radio", "text_input"):
        try:
            return getattr(at, kind)(key=key)
        except (KeyError, AttributeError, IndexError):
            continue
    raise KeyError(key)


def runs() -> list[Interaction]:
    return [
        Interaction("Runs", "type in the filter", lambda at, i: at.text_input(key="runs_filter_text").set_value(
            _cycle(["8", "tanh", "", "4", "relu", ""], i)), needs=("runs_filter_text",)),
        Interaction("Runs", "move the smoothing slider (two runs overlaid)",
                    lambda at, i: at.slider(key="runs_smoothing").set_value(round((i * 0.13) % 0.95, 2)),
                    setup=lambda at: at.multiselect(key="runs_selected").set_value(
                        at.multiselect(key="runs_selected").options[:2]).run(), needs=("runs_selected",)),
        Interaction("Runs", "Open in Model Builder (the click until the Model Builder has drawn)",
                    lambda at, i: at.button(key="runs_open").click(),
                    before=lambda at, i: (at.switch_page(PAGES["Runs"]), at.run()), needs=("runs_open",)),
        Interaction("Runs", "toggle 'only the settings that differ'",
                    lambda at, i: at.toggle(key="runs_only_differences").set_value(i % 2 == 0),
                    setup=lambda at: at.multiselect(key="runs_selected").set_value(
                        at.multiselect(key="runs_selected").options[:2]).run(), needs=("runs_selected",)),
    ]


def seed_runs(count: int = 6) -> None:
    """Kept runs in the store PLAYGROUND_DATA_DIR points at, for the Runs page to list and compare."""
    from playground.runs.default_store import open_default_store
    from tests.sample_runs import make_trained

    store = open_default_store()
    for i in range(count):
        store.save(make_trained(seed=i, lr=0.01 * (i + 1), optimizer=("adam", "sgd")[i % 2], epochs=20))


def has_key(at, key: str) -> bool:
    try:
        _widget(at, key)
        return True
    except KeyError:
        pass
    try:
        at.button(key=key)
        return True
    except (KeyError, IndexError):
        return False


def open_app_page(page: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(page)
    at.run()
    return at


def measure(reps: int = 30, warmup: int = 2, pages: tuple[str, ...] | None = None, log=print) -> dict:
    """Round-robin over the baseline and every interaction; returns the raw times (seconds)."""
    from streamlit.testing.v1 import AppTest

    budget = Budget(120)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # app.py imports views/ and playground/ from the repository root
    groups = {"Tensor Lab": tensor_lab, "Autograd": autograd, "Model Builder": model_builder, "Runs": runs}
    chosen = pages or tuple(groups)
    interactions: list[Interaction] = []
    apps = {}
    for page in chosen:
        for inter in groups[page]():
            try:
                at = open_app_page(PAGES[page])
                if at.exception:
                    inter.skipped = f"the page raised: {at.exception[0].value}"[:200]
                missing = [k for k in inter.needs if not has_key(at, k)]
                if missing and not inter.skipped:
                    inter.skipped = f"widget {', '.join(missing)} is not on the page"
                if not inter.skipped and inter.setup:
                    inter.setup(at)
            except Exception as exc:  # noqa: BLE001 - a page that cannot be driven is reported, not fatal
                inter.skipped = f"{type(exc).__name__}: {exc}"[:200]
            if inter.skipped:
                log(f"  {page} / {inter.name}: not measured ({inter.skipped})")
            else:
                apps[id(inter)] = at
            interactions.append(inter)
    base = AppTest.from_string(TRIVIAL_APP, default_timeout=60)
    base.run()
    baseline: list[float] = []
    choices = ["a", "b", "c"]
    for rep in range(-warmup, reps):
        if rep > 2 and budget.used(0.8):
            log(f"  stopping after {rep} repetitions: 80% of the {budget.total:.0f} s budget is spent (a loaded machine)")
            break
        started = time.perf_counter()
        base.radio(key="choice").set_value(_cycle(choices, rep + 1)).run()
        if rep >= 0:
            baseline.append(time.perf_counter() - started)
        for inter in interactions:
            if inter.skipped:
                continue
            at = apps[id(inter)]
            i = rep + warmup
            try:
                if inter.before:
                    inter.before(at, i)
                inter.act(at, i)
                started = time.perf_counter()
                at.run()
                elapsed = time.perf_counter() - started
                if at.exception:
                    raise RuntimeError(at.exception[0].value)
            except Exception as exc:  # noqa: BLE001
                inter.skipped = f"failed at repetition {i}: {type(exc).__name__}: {exc}"[:200]
                log(f"  {inter.page} / {inter.name}: {inter.skipped}")
                continue
            if rep >= 0:
                inter.times.append(elapsed)
    return {"baseline": baseline, "interactions": interactions}


def run(reps: int = 20, pages: tuple[str, ...] | None = None, write: bool = True, log=print) -> Section:
    stamp = section_stamp()
    with scratch_dir("interaction") as data:
        os.environ["PLAYGROUND_DATA_DIR"] = str(data)
        seed_runs()
        result = measure(reps=reps, pages=pages, log=log)
    base_ms = median(result["baseline"]) * 1000
    rows = []
    for inter in result["interactions"]:
        target = TARGET_MS.get(inter.page)
        if inter.skipped or not inter.times:
            rows.append(Row(f"{inter.page}: {inter.name}", None, "ms", "trivial app: change a radio", base_ms,
                            f"<= {target:.0f} ms" if target else "", None, f"not measured: {inter.skipped}"))
            continue
        ms = median(inter.times) * 1000
        rows.append(Row(f"{inter.page}: {inter.name}", ms, "ms", "trivial app: change a radio", base_ms,
                        f"<= {target:.0f} ms median" if target else "none (reported)",
                        (ms <= target) if target else None,
                        f"n={len(inter.times)}, {spread([t * 1000 for t in inter.times])} ms"))
        log(f"  {inter.page} / {inter.name}: median {ms:.1f} ms (baseline {base_ms:.1f} ms)")
    section = Section("Interaction latency (server side, AppTest)")
    section.add(stamp, "",
                f"Median time of one rerun after the change, {len(result['baseline'])} repetitions each (after 2 warm-ups), every page "
                "opened through app.py (sidebar included) in AppTest; all interactions and the baseline take "
                "turns repetition by repetition. Baseline: the same kind of change in a trivial app (title, radio, "
                f"slider, checkbox), median {base_ms:.1f} ms ({spread([t * 1000 for t in result['baseline']])} ms). "
                "AppTest's own overhead is in both.", "", table(rows))
    missed = {r.what.split(":")[0] for r in rows if r.met is False}
    for page in ("Autograd", "Model Builder"):
        if page in missed:
            section.add("", CAUSES[page])
    if write:
        write_sections([section])
    return section


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Interaction latency (AppTest)")
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args(argv)
    print(run(reps=args.reps).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
