"""Sweeps: the Model Builder's setup trained at several values of one or two settings, every member at once in one
background job. Seen live: each member's decision boundary as small multiples in a grid labelled by its values, the
curves overlaid and coloured by value, a heatmap of the final validation loss and accuracy, the best member marked.
Any member opens as a normal run. Widgets and layout only: the work is playground/builder/sweep*.py and the jobs."""

# ruff: noqa: E402 - the page's frame is drawn before its imports of torch (views/page_frame.py)
from __future__ import annotations

from typing import Any

import streamlit as st

from views import page_frame

page_frame.start()

import numpy as np
import pandas as pd

from playground import limits
from playground.builder import codegen, layer_pictures, registry
from playground.builder import sweep_pictures as draw
from playground.builder import sweep_progress as progress
from playground.builder.config import CSV_DATASET, DataConfig, RunConfig, TrainConfig
from playground.builder.datasets import PreparedData, prepare_data, split_sizes
from playground.builder.evaluation import make_trained_model
from playground.builder.model import TrainedModel, parameter_count
from playground.builder.sweep import SWEEPABLE, SweepAxis, SweepConfig, exactness_sentence
from playground.device import available_devices, choose_device
from playground.errors import PlaygroundError
from playground.execution.controller import (
    DataCache,
    Ending,
    JobController,
    JobKind,
    Outcome,
    Press,
    data_key,
    ending,
)
from playground.execution.jobs import live_phase, pictures_interval, refresh_interval, sweep_payload
from playground.execution.server import get_executor, live_jobs
from playground.runs import export, naming
from playground.runs.default_store import open_default_store
from playground.runs.naming import as_markdown_text
from playground.runs.store import KEPT_STATUSES
from views.widgets import global_seed, record_press, show_error

STATE = st.session_state
BUILDER = page_frame.BUILDER
AUTO_DEVICE = "auto"
PRESSED = "sw_pressed"  # the control bar button pressed, until the page acts on it (views.widgets.record_press)
CONTROL = "sw_control"  # this session's JobController of its sweep
SAVED = "sw_saved_settings"  # the widgets' values, kept while another page runs (Streamlit drops them)
WIDGET_PREFIXES = ("sw_axis_", "sw_form_", "sw_values_", "sw_low_", "sw_high_", "sw_count_", "sw_two", "sw_epochs",
                   "sw_device", "sw_colour_by")
DEFAULT_VALUES = {"lr": "0.01, 0.03, 0.1", "seed": "0, 1, 2", "momentum": "0, 0.5, 0.9",
                  "weight_decay": "0, 0.0001, 0.001, 0.01", "reg_rate": "0.0001, 0.001, 0.01", "dropout": "0, 0.1, 0.3"}
DEFAULT_RANGES = {"lr": (0.001, 1.0), "momentum": (0.1, 0.9), "weight_decay": (1e-5, 0.1), "reg_rate": (1e-5, 0.1),
                  "dropout": (0.05, 0.5)}
EXACTNESS_NOTE = (
    "Each member trains as its own single run would: the same initial weights, batches and dropout masks from its "
    "seed, and its own settings, batched into one computation (whose sums may add in another order).")


# ---------------------------------------------------------------------------------------------------
# The setup
# ---------------------------------------------------------------------------------------------------


def base_config() -> RunConfig:
    """The Model Builder's current setup, or the registry's defaults (with the global seed) before a visit there."""
    config = STATE.get("mb_config")
    if isinstance(config, RunConfig):
        return config
    seed = global_seed()
    return RunConfig(data=DataConfig(seed=seed), train=TrainConfig(seed=seed))


def load_data(config: RunConfig) -> PreparedData:
    """The base's prepared data, kept for this session while the data settings stay the same (one setup)."""
    csv = STATE.get("mb_csv_bytes") if config.data.dataset == CSV_DATASET else None
    if config.data.dataset == CSV_DATASET and not csv:
        raise PlaygroundError("The Model Builder's setup uses a CSV file that is no longer uploaded; upload it there "
                              "again, or choose a generated dataset.")
    if not isinstance(STATE.get("sw_data_cache"), DataCache):
        STATE["sw_data_cache"] = DataCache(entries=1, max_bytes=limits.MAX_SESSION_DATA_BYTES)
    return STATE["sw_data_cache"].get(data_key(config.data.to_dict(), csv), lambda: prepare_data(config.data, csv))


def controller() -> JobController:
    """This session's sweep: its job, what it trains, the members made of it once it ended."""
    if not isinstance(STATE.get(CONTROL), JobController):
        STATE[CONTROL] = JobController(JobKind.SWEEP)
    return STATE[CONTROL]


def owner() -> str:
    """Who a training belongs to (views.identity.training_owner): runs and sweeps share it."""
    from views.identity import training_owner

    return training_owner()


def restore_widgets() -> None:
    """Put back the widgets' values Streamlit dropped while another page ran."""
    for key, value in STATE.get(SAVED, {}).items():
        if key not in STATE:
            STATE[key] = value


def save_widgets() -> None:
    """A copy of the setting widgets' values, outside the widgets (see ``restore_widgets``)."""
    STATE[SAVED] = {k: STATE[k] for k in list(STATE.keys()) if str(k).startswith(WIDGET_PREFIXES)}


def cached(name: str, key: tuple, build):
    """``build()``, reused while ``key`` is equal to the last one of ``name`` (redraws between two views)."""
    slots: dict[str, tuple[tuple, Any]] = STATE.setdefault("sw_pictures", {})
    hit = slots.get(name)
    if hit is None or hit[0] != key:
        hit = slots[name] = (key, build())
    return hit[1]


def axis_widgets(index: int, where, choices: list[str], taken: str | None) -> SweepAxis:
    """One axis: which setting, and its values as a list or a log range. Raises PlaygroundError with a sentence."""
    options = [name for name in choices if name != taken]
    key = f"sw_axis_{index}"
    usual = "lr" if index == 0 else "seed"
    # Assigned every run (as the Model Builder's settings are): the widget then shows this value even when a click
    # during the page's first run interrupted it.
    STATE[key] = STATE[key] if STATE.get(key) in options else usual if usual in options else options[0]
    row = where.columns([1.3, 1], vertical_alignment="bottom")  # the setting and its form on one line
    setting = row[0].selectbox("Vary" if index == 0 else "and vary", options, key=key,
                              format_func=lambda name: SWEEPABLE[name].label.capitalize(),
                              help="A setting marked sweepable in the settings registry.")
    integer = SWEEPABLE[setting].integer
    form = "list"
    if not integer:
        form = row[1].radio("Values", ["list", "log range"], key=f"sw_form_{index}_{setting}", horizontal=True,
                           help="Listed values, or values spaced evenly on a log scale between two ends.")
    if form == "list":
        key = f"sw_values_{index}_{setting}"
        STATE.setdefault(key, DEFAULT_VALUES.get(setting, "0, 1"))
        text = where.text_input(f"Values of the {SWEEPABLE[setting].label}", key=key,
                                max_chars=limits.MAX_SWEEP_VALUES_CHARS, help="Numbers separated by commas.")
        return SweepAxis.from_text(setting, text)
    low, high = DEFAULT_RANGES.get(setting, (0.001, 0.1))
    row = registry.BY_NAME[setting]
    top = float(row.high) if row.high is not None else 1e6
    cols = where.columns(3)
    for name, value in (("low", low), ("high", high), ("count", 5)):
        STATE.setdefault(f"sw_{name}_{index}_{setting}", value)
    low = cols[0].number_input("From", min_value=1e-8, max_value=top, format="%g", key=f"sw_low_{index}_{setting}")
    high = cols[1].number_input("to", min_value=1e-8, max_value=top, format="%g", key=f"sw_high_{index}_{setting}")
    count = cols[2].number_input("values", min_value=2, max_value=limits.MAX_SWEEP_MEMBERS, step=1,
                                 key=f"sw_count_{index}_{setting}")
    return SweepAxis(setting, low=float(low), high=float(high), count=int(count))


# ---------------------------------------------------------------------------------------------------
# The job
# ---------------------------------------------------------------------------------------------------


def start_sweep(sweep: SweepConfig, data: PreparedData, paused: bool = False) -> None:
    """Queue the sweep as one job (it counts against the same trainers and owner limit as a run)."""
    plane = sweep.base.data.features if sweep.base.data.dataset != CSV_DATASET else None
    payload = sweep_payload(sweep, data.arrays(), plane_features=plane, standardization=data.standardization,
                            start_paused=paused)
    controller().start(get_executor(), payload, owner(), spec=sweep, data=data, step=paused)
    STATE["sw_kept"] = {}
    STATE.pop("sw_member", None)


def member_model(snap, sweep: SweepConfig, data: PreparedData, member: int) -> TrainedModel:
    """Member ``member`` as an ordinary run's record (its config, weights, history, test figures), made once and
    kept as the ended sweep's result."""
    control = controller()
    control.collect(lambda ended: {}, snap)  # the members made of the ended sweep, by (job id, member)
    made: dict[tuple[int, int], TrainedModel] = control.result if control.collected == snap.id else {}
    key = (snap.id, member)
    if key not in made:
        statuses = snap.stats.get("member_status") or ["training"] * sweep.n_members
        status = progress.member_run_status(snap.status, statuses[member])
        state = {k: np.array(v) for k, v in snap.final_state[member].items()}  # writable copies (Ray's are not)
        made[key] = make_trained_model(sweep.member(member), state,
                                       progress.member_history(snap.history, member, sweep.member(member).model),
                                       status, data,
                                       device=snap.info.get("device", "cpu"),
                                       duration_s=snap.stats.get("train_seconds", snap.elapsed_s))
    return made[key]


def keep_member(snap, sweep: SweepConfig, data: PreparedData, member: int) -> str:
    """Keep the member in the run store (once) and return its run id."""
    from views.identity import current_owner
    from views.model_builder_io import mark_kept

    kept: dict[tuple[int, int], str] = STATE.setdefault("sw_kept", {})
    key = (snap.id, member)
    if key not in kept:
        trained = member_model(snap, sweep, data, member)
        kept[key] = open_default_store().save(trained, owner=current_owner(), origin=naming.sweep_origin(sweep.label(member)))
        mark_kept(trained, kept[key])
    return kept[key]


# ---------------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------------

st.title("Sweeps")
st.caption("One setup, trained at several values of one or two settings: every model at once, in one background "
           "job. Compare how each value changes what the model learns, then open any of them as a normal run.")
get_executor().prewarm(1)
restore_widgets()
control = controller()
control.touch()

base = base_config()
source = "the Model Builder's current setup" if isinstance(STATE.get("mb_config"), RunConfig) else \
    "the Model Builder's defaults (open it to change them)"
# The controls on the left, the members' grid, the best member and the curves on the right: at 1440x900 they share
# the first screen, as the Model Builder's controls and pictures do.
controls_col, results_col = st.columns([1.0, 1.9], gap="medium")
with controls_col:
    bar_slot = st.container()  # Play, Step, Stop and the epoch line on top, filled once the settings are read
    st.markdown(f"**Base:** {as_markdown_text(naming.default_name(base))} · batch {base.train.batch_size} · "
                f"{base.data.n_samples} samples · {parameter_count(base.model):,} parameters, from {source}.")
    st.page_link(BUILDER, label="Change the setup in the Model Builder", icon=":material/model_training:")

    data: PreparedData | None = None
    problem: PlaygroundError | None = None
    try:
        data = load_data(base)
    except PlaygroundError as exc:
        problem = exc

    choices = [name for name in SWEEPABLE if not SWEEPABLE[name].pointless(base)]
    axes: list[SweepAxis] = []
    try:
        axes.append(axis_widgets(0, st, choices, None))
    except PlaygroundError as exc:
        problem = problem or exc
    STATE.setdefault("sw_two", False)  # the second setting beneath the first: the column is narrow
    two = st.toggle("Vary a second setting", key="sw_two",
                    help=f"A grid of both settings' values: at most {limits.MAX_SWEEP_MEMBERS} models in all.")
    if two and len(choices) > 1:
        try:
            axes.append(axis_widgets(1, st, choices, STATE.get("sw_axis_0")))
        except PlaygroundError as exc:
            problem = problem or exc
    left_out = [SWEEPABLE[name].pointless(base) for name in SWEEPABLE if name not in choices]
    if left_out:
        st.caption("Not offered for this setup: " + " ".join(left_out))

    settings_row = st.columns([1, 2], vertical_alignment="bottom")
    STATE.setdefault("sw_epochs", min(int(base.train.epochs), limits.MAX_EPOCHS))
    epochs = settings_row[0].number_input("Epochs", min_value=1, max_value=limits.MAX_EPOCHS, step=10, key="sw_epochs",
                                          help="Passes over the training split, for every member.")
    devices = [AUTO_DEVICE] + [d.name for d in available_devices()]
    labels = {d.name: d.label for d in available_devices()}
    device_choice = settings_row[1].selectbox("Device", devices, key="sw_device",
                                              format_func=lambda d: "chosen by measurement" if d == AUTO_DEVICE else labels[d])

    sweep: SweepConfig | None = None
    members = int(np.prod([len(a.points) for a in axes])) if len(axes) == (2 if two else 1) else 0
    chosen_device, why = choose_device(parameter_count(base.model), max(members, 1), base.train.batch_size)
    device = chosen_device if device_choice == AUTO_DEVICE else device_choice
    if problem is None and axes:
        try:
            sweep = SweepConfig(base.with_train(epochs=int(epochs), device=device), tuple(axes))
        except PlaygroundError as exc:
            problem = exc
    n_train = split_sizes(base.data.n_samples, base.data.train_fraction, base.data.val_fraction)[0]
    if members:
        work = members * parameter_count(base.model) * n_train
        st.caption(
            f"**{members}** models × {parameter_count(base.model):,} parameters × {n_train:,} training rows = {work:,} "
            f"an epoch (at most {limits.MAX_SWEEP_WORK:,}); at most {limits.MAX_SWEEP_MEMBERS} models. "
            + (f"Device: {device}. {why}" if device_choice == AUTO_DEVICE else f"Device: {device} (your choice). {why}"))
    if problem is not None:
        show_error(problem)

    # ---- the control bar ------------------------------------------------------------------------------------
    snap = control.view()
    active = snap is not None and snap.active
    ready = sweep is not None and data is not None
    bar = [*bar_slot.columns([1.6, 1, 1], vertical_alignment="center"), bar_slot.container()]
    if active and snap.status in ("running", "starting", "pausing", "queued"):
        bar[0].button("Pause", icon=":material/pause:", key="sw_pause", type="primary", width="stretch",
                      on_click=record_press, args=(PRESSED, Press.PAUSE))
    else:
        bar[0].button("Play", icon=":material/play_arrow:", key="sw_play", type="primary", disabled=not (ready or active),
                      width="stretch", help="Train every member of the sweep (or go on, when paused).",
                      on_click=record_press, args=(PRESSED, Press.PLAY))
    bar[1].button(":material/skip_next:", key="sw_step", disabled=not (ready or active), width="stretch",
                  help="Step: train one epoch of every member, then pause.", on_click=record_press, args=(PRESSED, Press.STEP))
    bar[2].button(":material/stop:", key="sw_stop", disabled=not active, width="stretch",
                  help="Stop now; every member keeps the weights it has.", on_click=record_press, args=(PRESSED, Press.STOP))
    # The press is taken here, with nothing drawn before acting on it: a run cut short earlier left it for this one.
    pressed = STATE.pop(PRESSED, None)
    try:
        outcome = control.act(pressed if isinstance(pressed, Press) else None, ready)
        if outcome in (Outcome.START_RUN, Outcome.START_STEP):
            start_sweep(sweep, data, paused=outcome is Outcome.START_STEP)
        if outcome is not Outcome.NOTHING:
            st.rerun()
    except PlaygroundError as exc:
        show_error(exc)

    shown_sweep: SweepConfig | None = control.spec if snap is not None else None
    shown_data: PreparedData | None = control.data if snap is not None else None


    @st.fragment(run_every=refresh_interval(snap.status, live_jobs(), snap.queue_position) if snap is not None else None)
    def status_fragment() -> None:
        """The epoch and what the sweep is doing, redrawn often while it trains."""
        now = control.view()
        if now is None or shown_sweep is None:
            st.markdown("**Epoch 0** · press Play: every member trains at once")
            return
        where = f" on {now.info['device']}" if now.info.get("device") else ""
        queue = f" · position {now.queue_position} in the queue" if now.queue_position else ""
        target = shown_sweep.base.train.epochs
        st.markdown(f"**Epoch {now.epoch} / {target}** · {control.status_label(now.status)}{where}{queue} · "
                    f"{shown_sweep.n_members} models")
        st.progress(min(1.0, now.epoch / max(target, 1)))
        if live_phase(now.status, now.queue_position) != live_phase(snap.status, snap.queue_position):
            st.rerun()  # the sweep started, paused or ended: redraw the whole page (buttons, results)


    with bar[3]:
        status_fragment()

    ended = ending(snap)
    if ended is Ending.FAILED:
        st.error(snap.message, icon=":material/warning:")
        if snap.detail:
            st.caption(snap.detail)
    elif ended in (Ending.DIVERGED, Ending.LIMITED) and snap.message:  # every model diverged, or a budget stopped it
        st.warning(snap.message, icon=":material/warning:")
    elif ended is not None and snap.message:
        st.caption(snap.message)
    if snap is not None and sweep is not None and shown_sweep is not None and sweep != shown_sweep:
        st.caption("The settings have changed since this sweep" + (": they apply to the next one (Play once it has ended)."
                                                                      if active else ": press Play to sweep them."))


def colour_axis(sweep_now: SweepConfig) -> int:
    if len(sweep_now.axes) < 2:
        return 0
    names = [a.setting for a in sweep_now.axes]
    if STATE.get("sw_colour_by") not in names:
        STATE["sw_colour_by"] = names[0]
    return names.index(STATE["sw_colour_by"])


# ---- seen live: small multiples, curves, heatmaps ----------------------------------------------------------
@st.fragment(run_every=pictures_interval(snap.status, live_jobs(), snap.queue_position) if snap is not None else None)
def pictures_fragment() -> None:
    now = control.view()
    if now is None or shown_sweep is None or shown_data is None:
        st.info("Press Play: each member's decision boundary appears here in a grid labelled by its values, with "
                "their curves overlaid and a heatmap of their final validation loss and accuracy.",
                icon=":material/grid_view:")
        return
    n = shown_sweep.n_members
    names = [SWEEPABLE[a.setting].label for a in shown_sweep.axes]
    points = [a.points for a in shown_sweep.axes]
    view = now.view or {}
    statuses = view.get("status") or ["training"] * n
    keep_best = shown_sweep.base.train.keep_best
    metrics = cached("metrics", (now.id, len(now.history)), lambda: progress.final_metrics(now.history, n, keep_best))
    best = progress.best_member(metrics, statuses)
    chosen = STATE.get("sw_member")
    chosen = chosen if isinstance(chosen, int) and 0 <= chosen < n else None
    if best is not None:
        ranked = progress.ranking_metric(metrics)
        extra = f", accuracy {metrics['val_acc'][best]:.3f}" if ranked == "val_loss" and "val_acc" in (
            now.history[-1] if now.history else {}) else ""
        st.markdown(f"★ **Best{' so far' if now.active else ''}: {shown_sweep.label(best)}** · "
                    f"{'validation' if ranked == 'val_loss' else 'training'} loss {metrics[ranked][best]:.4g}{extra}")
    prepared = shown_data
    tile_points = None
    if prepared.points_train is not None:
        xy, y = prepared.points_train.numpy(), prepared.y_train.numpy()
        if len(xy) > limits.MAX_SWEEP_TILE_POINTS:
            keep = np.linspace(0, len(xy) - 1, limits.MAX_SWEEP_TILE_POINTS).round().astype(int)
            xy, y = xy[keep], y[keep]
        tile_points = (xy, y)
    tiles = view.get("tiles") or [None] * n
    if any(t is not None for t in tiles):
        svg = cached("tiles", (now.id, id(now.view), best, chosen), lambda: draw.tiles_svg(
            tiles, shown_sweep.shape, names, points, statuses, best, chosen, tile_points, prepared.classes))
        st.container(key="sw_tiles").image(svg, width="content")
        st.caption("Each tile: what that member computes over the plane (orange class 0, blue class 1), with the "
                   "training points. Gold frame and ★: the best member; dark frame: the member chosen below.")
    elif shown_sweep.base.data.dataset == CSV_DATASET:
        st.caption("A CSV's inputs are not a plane: the curves and the heatmaps compare the members.")
    axis = colour_axis(shown_sweep)
    if len(shown_sweep.axes) == 2:
        st.radio("Colour the curves by", [a.setting for a in shown_sweep.axes], key="sw_colour_by", horizontal=True,
                 format_func=lambda s: SWEEPABLE[s].label)
        axis = colour_axis(shown_sweep)
    colour_values = [shown_sweep.values(i)[shown_sweep.axes[axis].setting] for i in range(n)]
    curves = cached("curves", (now.id, len(now.history), best, chosen, axis), lambda: draw.curves_svg(
        now.history, colour_values, names[axis], points[axis], best, chosen, shown_sweep.base.train.epochs))
    st.container(key="sw_curves").image(curves, width="stretch")
    if now.history:
        loss_key = progress.ranking_metric(metrics)
        acc_key = "val_acc" if loss_key == "val_loss" else "train_acc"
        which = "validation" if loss_key == "val_loss" else "training"
        grids = st.columns(2)
        grids[0].container(key="sw_heat_loss").image(cached("heat_loss", (now.id, len(now.history), best, chosen),
            lambda: draw.metric_grid_svg(metrics[loss_key], shown_sweep.shape, names, points,
                                         f"final {which} loss", False, best, chosen)), width="stretch")
        if "val_acc" in now.history[-1]:
            grids[1].container(key="sw_heat_acc").image(cached("heat_acc", (now.id, len(now.history), best, chosen),
                lambda: draw.metric_grid_svg(metrics[acc_key], shown_sweep.shape, names, points,
                                             f"final {which} accuracy", True, best, chosen)), width="stretch")
        shaky = [None] * n if now.active else cached("unstable", (now.id, len(now.history)), lambda: (
            progress.unstable_members(now.history, shown_sweep.members())))
        if any(shaky):
            st.warning(progress.unstable_sentence(shaky), icon=":material/show_chart:")
        table = pd.DataFrame({
            "member": [shown_sweep.label(i) for i in range(n)],
            "status": statuses if now.active else [progress.member_run_status(now.status, s)
                                                   + (" (unstable)" if shaky[i] is not None else "")
                                                   for i, s in enumerate(statuses)],
            "epochs": [int(e) if np.isfinite(e) else 0 for e in metrics["epoch"]],
            f"{which} loss": metrics[loss_key],
            **({f"{which} accuracy": metrics[acc_key]} if "val_acc" in now.history[-1] else {}),
        })
        st.dataframe(table, hide_index=True, width="stretch", key="sw_members_table", height=min(36 * (n + 1) + 2, 320))
        inside_layers(now, metrics, statuses, best)


def inside_layers(now, metrics: dict, statuses: list[str], best: int | None) -> None:
    """The best and the worst member's gradient flow side by side (their last recorded epoch)."""
    worst = progress.worst_member(metrics, statuses)
    if best is None or worst is None or worst == best:
        return
    st.markdown("**Inside the layers: the best and the worst member's gradients**")
    sides = st.columns(2)
    for side, member, word in ((sides[0], best, "★ best"), (sides[1], worst, "worst")):
        row = cached(f"flow_{word}", (now.id, len(now.history), member),
                     lambda m=member: progress.last_layers(now.history, m, shown_sweep.member(m).model))
        side.caption(f"{word}: {shown_sweep.label(member)}"
                     + (" (diverged)" if statuses[member] == progress.DIVERGED else ""))
        side.container(key=f"sw_flow_{'best' if member == best else 'worst'}").image(
            layer_pictures.gradient_flow_svg(row), width="stretch")
    st.caption("Each bar: a layer's mean gradient norm over its last recorded epoch's steps (log scale; the whisker "
               "spans the smallest to the largest step), with how far the epoch moved its weights (Δw/w) and, before "
               "a ReLU, its share of units that never fired. Bars shrinking towards the input mean vanishing "
               "gradients; bars far above the best member's mean updates too large for the weights.")


with results_col:
    pictures_fragment()

# ---- open a member as a normal run ----------------------------------------------------------------------------
if snap is not None and shown_sweep is not None and shown_data is not None:
    st.subheader("Open a member as a run")
    n = shown_sweep.n_members
    if snap.active or snap.final_state is None:
        st.caption("Once the sweep has ended (or you stop it), pick any member to keep it in the run store with its "
                   "weights, download it with its train.py, or open it in the Model Builder.")
    else:
        statuses = snap.stats.get("member_status") or ["training"] * n
        metrics = progress.final_metrics(snap.history, n, shown_sweep.base.train.keep_best)
        best = progress.best_member(metrics, statuses)
        shaky = cached("unstable", (snap.id, len(snap.history)),
                       lambda: progress.unstable_members(snap.history, shown_sweep.members()))
        if not isinstance(STATE.get("sw_member"), int) or not 0 <= STATE["sw_member"] < n:
            STATE["sw_member"] = best if best is not None else 0
        member = st.selectbox("Member", list(range(n)), key="sw_member",
                              format_func=lambda i: f"{shown_sweep.label(i)}" + (" ★ best" if i == best else "")
                              + {"diverged": " (diverged)", "stopped early": " (stopped early)"}.get(statuses[i], "")
                              + (" (unstable)" if shaky[i] is not None else ""))
        reason = (snap.stats.get("member_reasons") or [""] * n)[member]
        if reason:
            st.caption(reason)
        if shaky[member] is not None:  # its loss swings or climbs: what happened, and the fix
            st.warning(shaky[member].sentence, icon=":material/show_chart:")
        kept_id = STATE.get("sw_kept", {}).get((snap.id, member))
        run_status = progress.member_run_status(snap.status, statuses[member])
        actions = st.columns([1.4, 1.8, 1, 1, 3])
        keep_clicked = actions[0].button("Keep as a run", key="sw_keep", icon=":material/save:",
                                         disabled=kept_id is not None or run_status not in KEPT_STATUSES,
                                         help="Keep this member in the run store with its weights: the Runs page "
                                         "lists it.")
        open_clicked = actions[1].button("Open in the Model Builder", key="sw_open", icon=":material/open_in_new:",
                                         type="primary")

        def download(kind: str, chosen: int = member):
            def make() -> bytes:  # made on click, never on every rerun
                trained = member_model(snap, shown_sweep, shown_data, chosen)
                if kind == "pt":
                    return export.to_pt_bytes(trained)
                return codegen.script(trained.config).encode()

            return make

        actions[2].download_button(".pt", download("pt"), file_name=f"sweep-member-{member + 1}.pt",
                                   mime="application/octet-stream", key="sw_download_pt", icon=":material/download:",
                                   on_click="ignore", help="torch.save(model.state_dict(), path) of this member.")
        actions[3].download_button("train.py", download("train.py"), file_name=f"train-member-{member + 1}.py",
                                   mime="text/x-python", key="sw_download_train_py", icon=":material/code:",
                                   on_click="ignore", help="This member as a plain PyTorch script: its own settings.")
        try:
            if keep_clicked:
                keep_member(snap, shown_sweep, shown_data, member)
                st.rerun()  # drawn again as kept
            if open_clicked:
                trained = member_model(snap, shown_sweep, shown_data, member)
                run_id = keep_member(snap, shown_sweep, shown_data, member) if run_status in KEPT_STATUSES else None
                STATE["mb_apply_config"] = trained.config
                STATE["mb_loaded_model"] = trained
                STATE["mb_loaded_source"] = "opened"
                STATE["mb_trained"] = trained
                save_widgets()
                if run_id is not None:
                    STATE["mb_url_run_handled"] = run_id
                    st.switch_page(BUILDER, query_params={"run": run_id})
                st.switch_page(BUILDER)
        except PlaygroundError as exc:
            show_error(exc)
        if kept_id is not None:
            st.success(f"Kept as run {kept_id}: the Runs page lists it, with its weights and settings.",
                       icon=":material/save:")
        elif run_status not in KEPT_STATUSES:
            st.caption("A diverged member is not kept in the run store; its last finite weights can still be "
                       "downloaded or opened.")

st.caption(f"{EXACTNESS_NOTE} {exactness_sentence(snap.stats.get('exactness') if snap is not None else None)} "
           f"Device: {why}")
st.caption("A sweep is one job: it waits for a free trainer as a run does, and you train one thing at a time (a run "
           "in the Model Builder or a sweep here). Each member may take as many optimizer steps as a run.")

save_widgets()
