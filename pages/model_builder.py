"""Model Builder: one screen, as in the TensorFlow playground. A control bar (Play, Pause, Step, Stop, Reset, Train
again, the epoch and losses, the speed, the replay), then data | input features | the network | the output side by
side; the course's teaching panels and the code in tabs beneath. Widgets and layout only: the settings come from
the registry (views/settings_widgets.py), the work from playground/.

The title and the control bar's buttons are drawn first, before this page imports PyTorch and what uses it
(views/model_builder_bar.py): on a server just started the visitor sees them while torch loads."""

# ruff: noqa: E402 - the imports below follow the control bar on purpose (see above)
from __future__ import annotations

import streamlit as st

from views import model_builder_bar, page_frame

sidebar = page_frame.start(paints_first=True)  # the seed and the versions: after the imports below, on a first run
controls = model_builder_bar.draw()

from playground import preload

preload.wait()  # the GIL is free meanwhile: the bar is sent, and its scripts fetched, before torch's import takes it

import hashlib
import json
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

from playground import limits
from playground.builder import codegen, pictures, registry
from playground.builder.config import CSV_DATASET, DataConfig, RunConfig, TrainConfig
from playground.builder.datasets import PreparedData, csv_columns, generate, prepare_data, read_csv_table
from playground.builder.evaluation import make_trained_model as make_record
from playground.builder.evaluation import predict_test, predictions_table
from playground.builder.figures import confusion_figure, predicted_vs_true_figure
from playground.builder.instability import unstable
from playground.builder.layer_stats import metric_rows
from playground.builder.model import TrainedModel, build_model, layer_table, parameter_count
from playground.device import choose_device, cuda_available, limit_server_threads
from playground.errors import PlaygroundError, shown_name
from playground.execution.controller import PLAYING, DataCache, Ending, Outcome, Press, data_key, ending
from playground.execution.jobs import run_payload
from playground.execution.server import get_executor
from playground.runs import export
from views import model_builder_inside, model_builder_io, model_builder_lessons
from views import model_builder_live as live
from views.settings_widgets import (
    FEATURE_KEY,
    LAYERS_KEY,
    NEW_LAYER,
    draw,
    read_config,
    restore_settings,
    save_settings,
    widgets_from_config,
)
from views.widgets import global_seed, lazy_expander, show_code, show_error

sidebar.finish()  # torch is loaded: the page icon, the global seed, torch's version and the devices

STATE = st.session_state
SETTING = registry.BY_NAME
PRESS_ERROR_KEY = "mb_press_error"  # a press's error, said again when the page reruns to redraw the buttons
# Where each setting is drawn; a registry row not named here appears under "More settings".
PLACES = {
    "data": ("samples", "noise", "train", "val", "data_seed", "standardize", "standardize_target"),
    "hyper": ("optimizer", "lr", "batch", "epochs", "loss", "reg", "reg_rate"),
    "network": ("dropout",),
    "elsewhere": ("dataset", "features", "layers", "activations", "csv_name", "csv_target", "csv_task", "lr_changes"),
}
_THUMBNAILS: dict[str, str] = {}


def pandas():
    """pandas, for the tables of the tabs that show one: imported when one is open, as it takes 0.4 s of a server's
    first visit (bench/startup.py), and the first screen has no table."""
    import pandas

    return pandas


# ---------------------------------------------------------------------------------------------------
# Setup: defaults, what another page or a link handed over, the global seed, the data
# ---------------------------------------------------------------------------------------------------


def defaults() -> RunConfig:
    """The setup a first visit opens: the registry's defaults, the global seed, and the device the measured rule
    picks for the default model (the CPU for a model this small, even where there is a GPU)."""
    seed = global_seed()
    base = RunConfig(data=DataConfig(seed=seed), train=TrainConfig(seed=seed))
    device, _ = choose_device(parameter_count(base.model), 1, base.train.batch_size)
    return base.with_train(device=device)


def apply_pending() -> None:
    """A setup or a model handed over by the Runs page, a link or an upload."""
    loaded = STATE.pop("mb_loaded_model", None)
    if isinstance(loaded, TrainedModel):
        collect_ended_job()  # the job it replaces is kept first, when it ended unseen
        STATE["mb_trained"] = loaded
        STATE["mb_trained_source"] = STATE.pop("mb_loaded_source", "loaded")
        STATE.setdefault("mb_apply_config", loaded.config)
        STATE.pop("mb_replay", None)
        model_builder_bar.controller().reset()  # the view shows the handed-over run, not an older job
    pending = STATE.pop("mb_apply_config", None)
    if isinstance(pending, RunConfig):
        for note in widgets_from_config(pending):
            STATE["mb_notice"] = note


def follow_global_seed() -> None:
    """The sidebar's global seed seeds the data and the weights here too: a change of it sets both seeds."""
    seed = global_seed()
    if STATE.get("mb_global_seen") not in (None, seed):
        STATE["mb_data_seed"] = seed
        STATE["mb_seed"] = seed
    STATE["mb_global_seen"] = seed


def thumbnail_uri(name: str) -> str:
    """A small picture of a generated dataset (the same for everyone, made once a server)."""
    if name not in _THUMBNAILS:
        points, y = generate(name, 300, 0.1, 0)
        rgb = pictures.scatter_thumbnail(points.numpy(), y.numpy(), registry.DATASETS[name].task == "regression")
        _THUMBNAILS[name] = pictures.data_uri(rgb)
    return _THUMBNAILS[name]


def feature_uri(features: tuple[str, ...], index: int) -> str:
    pictures_of = live.input_pictures(RunConfig(data=DataConfig(features=features),
                                                model=registry_model_for(features)))
    return pictures.data_uri(pictures.diverging(pictures_of[index][::-1].astype("float32") / 255.0))


def registry_model_for(features: tuple[str, ...]):
    from playground.builder.config import ModelSpec

    return ModelSpec(in_features=len(features))


def load_data(config: DataConfig) -> PreparedData:
    """The prepared data of ``config``, kept in the session so a rerun does not make it again (at most two
    setups, and ``limits.MAX_SESSION_DATA_BYTES`` of tensors)."""
    csv = STATE.get("mb_csv_bytes") if config.dataset == CSV_DATASET else None
    if not isinstance(STATE.get("mb_data_cache"), DataCache):
        STATE["mb_data_cache"] = DataCache(entries=2, max_bytes=limits.MAX_SESSION_DATA_BYTES)
    return STATE["mb_data_cache"].get(data_key(config.to_dict(), csv), lambda: prepare_data(config, csv))


def csv_table() -> dict[str, Any] | None:
    """The uploaded CSV as its one reader reads it (rows, features, task), once an upload; None before one."""
    raw = STATE.get("mb_csv_bytes")
    if not raw:
        return None
    target, task = STATE.get("mb_csv_target") or None, STATE.get("mb_csv_task") or None
    key = (hashlib.sha256(raw).hexdigest(), target, task)
    if STATE.get("mb_csv_read_of") != key:
        STATE["mb_csv_read_of"] = key
        table = read_csv_table(raw, target, task)  # raises a sentence
        STATE["mb_csv_summary"] = {"rows": len(table["y"]), "features": table["features"], "task": table["task"],
                                   "classes": table["classes"], "ignored": table["ignored"]}
    return STATE.get("mb_csv_summary")


# ---------------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------------


def owner() -> str:
    """Who a training belongs to (views.identity.training_owner): runs and sweeps share it."""
    from views.identity import training_owner

    return training_owner()


def start_job(config: RunConfig, data: PreparedData, step: bool = False) -> None:
    """Queue a run of ``config`` in a worker process (one a visitor): a new run, even of a setup already kept."""
    collect_ended_job()  # one that ended unseen is kept before the new run takes its place (which stops it)
    control = model_builder_bar.controller()
    initial, history = None, None
    trained = STATE.get("mb_trained")
    if STATE.get("mb_resume") and isinstance(trained, TrainedModel) and trained.config.model == config.model:
        initial, history = trained.state_dict, list(trained.history)
    plane = config.data.features if config.data.dataset != CSV_DATASET else None
    payload = run_payload(config, data.arrays(), initial, history, plane, data.standardization, step,
                          live.SPEEDS.get(STATE.get("mb_speed", live.DEFAULT_SPEED)))
    control.start(get_executor(), payload, owner(), spec=config, data=data, history=history, step=step)
    for key in ("mb_trained", "mb_trained_source", "mb_replay"):
        STATE.pop(key, None)


def collect_finished(view, set_widgets: bool = True) -> bool:
    """Once a run ends, keep its TrainedModel as the controller's result and in ``mb_trained`` (what the weights,
    the test and the store use) and in the run store, in this very page run, whichever it is (the epoch line's
    fragment, a click's, a tab's). Learning rates changed while it trained are recorded in its config, so it
    reproduces (and, ``set_widgets``, the widgets show them). True when it collected the run now (the page shows it
    as kept from here on); a run is collected once."""
    control = model_builder_bar.controller()

    def record(ended) -> TrainedModel | None:
        if ended.status == "failed" or ended.final_state is None:
            return None
        config, data = control.spec, control.data
        changes = tuple((int(e), float(r)) for e, r in ended.stats.get("lr_changes", ()) or ())
        if changes != config.train.lr_changes:
            config = control.spec = config.with_train(lr_changes=changes)
            if set_widgets:
                STATE["mb_apply_config"] = config  # the widgets show the setup that ran: its first rate, the changes
        trained = make_record(config, ended.final_state, ended.history, ended.status, data,
                              device=ended.info.get("device", "cpu"),
                              duration_s=ended.stats.get("train_seconds", ended.elapsed_s))
        try:
            model_builder_io.keep(trained, fresh=True)  # a new run, a new id; kept before anything is drawn: the epoch line names it at once
        except PlaygroundError:
            pass  # the Save and load part says why, and tries again on every run of the page
        STATE["mb_trained"] = trained
        STATE["mb_trained_source"] = "trained"
        return trained

    return control.spec is not None and control.collect(record, view)


def collect_ended_job() -> None:
    """Collect (and keep) this session's job when it has ended but no page run has seen it end yet: called before
    something else takes its place (a new run, a model handed over), so it leaves the widgets as they are."""
    view = model_builder_bar.controller().view()
    if view is not None:
        collect_finished(view, set_widgets=False)


def on_lr_change() -> None:
    """A rate chosen while a run trains applies live (``param_groups``, marked on the curves, recorded with the
    run); chosen while nothing trains, it starts a fresh setup without recorded changes."""
    if not model_builder_bar.controller().set_lr(float(STATE["mb_lr"])):
        STATE["mb_lr_changes"] = ()


def values_now(task: str) -> dict[str, Any]:
    """Each setting's widget value now, and the task: what ``Setting.shown`` reads."""
    values = {s.name: STATE.get(s.widget_key, s.default) for s in registry.SETTINGS}
    values["task"] = task
    return values


def place_of(name: str) -> str:
    return next((area for area, names in PLACES.items() if name in names), "more")


def draw_area(area: str, where, task: str, columns: int = 1) -> None:
    """Every registry setting placed in ``area`` that applies now, in registry order."""
    values = values_now(task)
    hides = model_builder_lessons.hidden()  # an open lesson's quiet settings (they keep their values)
    rows = [s for s in registry.SETTINGS if place_of(s.name) == area and s.shown(values) and s.name not in hides]
    if columns > 1:  # switches take a whole row: their labels are read, not squeezed
        rows = [s for s in rows if s.kind != "bool"] + [s for s in rows if s.kind == "bool"]
    slots = where.columns(columns, gap="small") if columns > 1 else [where] * len(rows)
    for i, setting in enumerate(rows):
        if columns > 1 and setting.kind == "bool":
            draw(setting, where, task=task)
            continue
        extra = {"on_change": on_lr_change} if setting.name == "lr" else {}
        if extra:
            options = sorted(set(setting.steps) | {STATE.get(setting.widget_key, setting.default)})
            slots[i % len(slots)].select_slider("Learning rate", options, format_func=lambda v: f"{v:g}",
                                                key=setting.widget_key, help=setting.help, **extra)
        else:
            draw(setting, slots[i % len(slots)], task=task)


# ---------------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------------

limit_server_threads()
apply_pending()
for note in restore_settings(defaults()):
    STATE["mb_notice"] = note
follow_global_seed()
linked = model_builder_io.read_url(defaults())
if linked is not None:
    widgets_from_config(linked)
if model_builder_bar.controller().handle is not None:
    model_builder_bar.controller().touch()
elif "mb_cut_off_checked" not in STATE:  # once a session: was this visitor's last training cut off by a dead server?
    STATE["mb_cut_off_checked"] = True
    cut_off = getattr(get_executor(), "cut_off", None)  # a class server's executor (Ray with a shared store) knows
    if cut_off is not None and (sentence := cut_off(owner())):
        controls.notice.warning(sentence, icon=":material/warning:")

if "mb_notice" in STATE:
    controls.notice.info(STATE.pop("mb_notice"), icon=":material/info:")

bar, hyper, main = controls.bar, controls.hyper, controls.main
with main:
    col_data, col_features, col_network, col_output = st.columns([2.0, 1.0, 3.4, 3.0], gap="small")

# ---- data -------------------------------------------------------------------------------------------
with col_data:
    st.markdown("**Data**")
    grid = st.columns(3, gap="small")
    for i, name in enumerate(registry.DATASETS):
        row = registry.DATASETS[name]
        label = f"![{row.label}]({thumbnail_uri(name)})" if name != CSV_DATASET else ":material/upload_file: CSV"
        grid[i % 3].button(label, key=f"mb_ds_{name}", help=f"{row.label}: {row.help}",
                           type="primary" if name == STATE["mb_dataset"] else "secondary",
                           on_click=lambda n=name: STATE.update(mb_dataset=n), width="stretch")
    task_hint = registry.DATASETS[STATE["mb_dataset"]].task
    csv_summary = None
    if STATE["mb_dataset"] == CSV_DATASET:
        upload = st.file_uploader("CSV: a header row, numeric feature columns, a target column", type=["csv", "txt"],
                                  key="mb_csv_file", max_upload_size=limits.MAX_CSV_BYTES // (1024 * 1024))
        if upload is not None:
            raw = upload.getvalue()
            if STATE.get("mb_csv_bytes") != raw:
                STATE["mb_csv_bytes"], STATE["mb_csv_name"] = raw, str(upload.name)[: limits.MAX_NAME_CHARS]
                STATE.pop("mb_csv_target", None)
                STATE["mb_csv_fresh"] = True
        if STATE.get("mb_csv_bytes"):
            try:
                columns = csv_columns(STATE["mb_csv_bytes"])
                if STATE.get("mb_csv_target") not in columns:
                    STATE["mb_csv_target"] = columns[-1]
                st.selectbox("Target column", columns, key="mb_csv_target", help=SETTING["csv_target"].help)
                draw(SETTING["csv_task"], st)
                csv_summary = csv_table()
                task_hint = csv_summary["task"]
                if STATE.pop("mb_csv_fresh", False) and task_hint == "regression":
                    STATE["mb_standardize_target"] = True  # on by default for a CSV with a numeric target
            except PlaygroundError as exc:
                show_error(exc)
    draw_area("data", st, task_hint, columns=2)
    if STATE["mb_dataset"] != CSV_DATASET:
        st.button("New data", icon=":material/refresh:", key="mb_regenerate", help="The next data seed: new points.",
                  on_click=lambda: STATE.update(mb_data_seed=(int(STATE["mb_data_seed"]) + 1) % limits.MAX_SEED))

# ---- input features -----------------------------------------------------------------------------------
with col_features:
    st.markdown("**Features**")
    if STATE["mb_dataset"] == CSV_DATASET:
        names = csv_summary["features"] if csv_summary else ()
        st.caption("The CSV's numeric columns: " + (", ".join(shown_name(n, 30) for n in names[:12]) or "none yet"))
    else:
        everything = tuple(registry.FEATURES)
        for i, feature in enumerate(everything):
            row = registry.FEATURES[feature]
            st.checkbox(f"![]({feature_uri(everything, i)}) {row.label}", key=FEATURE_KEY + feature)
        st.caption("Each picture: that input over the plane, orange low, blue high.")

# ---- the setup as a RunConfig, and its data ------------------------------------------------------------
config: RunConfig | None = None
data: PreparedData | None = None
problem: PlaygroundError | None = None
try:
    probe = read_config(2, 1 if task_hint == "regression" else 2, task_hint, csv_summary["rows"] if csv_summary else None)
    data = load_data(probe.data)
except PlaygroundError as exc:
    problem = exc
task = data.task if data is not None else task_hint
config_hint = STATE.get("mb_config")  # the setup of the last run of this page, for the device's sentence

# ---- hyperparameters ------------------------------------------------------------------------------------
with hyper:
    left, lessons_col, more_col = st.columns([8.6, 1.6, 1.6], vertical_alignment="bottom")
    draw_area("hyper", left, task, columns=6)
    model_builder_lessons.menu(lessons_col, defaults())
    with more_col.popover("More", icon=":material/tune:", width="stretch"):
        st.markdown("**More settings**")
        draw_area("more", st, task)
        if cuda_available() and config_hint is not None:
            _, why = choose_device(parameter_count(config_hint.model), 1, config_hint.train.batch_size)
            st.caption(why)
        trained_now = STATE.get("mb_trained")
        st.checkbox("Continue from the current model's weights (a new optimizer; the epochs continue)", key="mb_resume",
                    disabled=not isinstance(trained_now, TrainedModel))
        st.caption("Reproducibility as the course sets it: `torch.backends.cudnn.deterministic = True` and "
                   "`torch.backends.cudnn.benchmark = False`; the reverse trades reproducibility for speed.")

# ---- the network's shape ----------------------------------------------------------------------------------
with col_network:
    top = st.columns([1.25, 1.6, 1.95], vertical_alignment="bottom")
    top[0].markdown("**Network**")
    top[1].number_input("Hidden layers", min_value=0, max_value=limits.MAX_HIDDEN_LAYERS, step=1, key=LAYERS_KEY,
                        help="Layers between the inputs and the output; − and + remove and add one.")
    with top[2]:
        draw_area("network", st, task)
    n_layers = int(STATE[LAYERS_KEY])
    if n_layers:
        layer_cols = st.columns(n_layers, gap="small")
        for i in range(n_layers):
            STATE.setdefault(f"mb_width_{i}", NEW_LAYER[0])
            STATE.setdefault(f"mb_act_{i}", NEW_LAYER[1])
            layer_cols[i].number_input(f"Layer {i + 1}" if n_layers <= 5 else f"L{i + 1}", min_value=1, max_value=limits.MAX_LAYER_WIDTH, step=1,
                                       key=f"mb_width_{i}", help=f"Neurons in hidden layer {i + 1}.")
            layer_cols[i].selectbox(f"Activation {i + 1}", tuple(registry.ACTIVATIONS), key=f"mb_act_{i}",
                                    format_func=lambda a: registry.ACTIVATIONS[a].label, label_visibility="collapsed")

if data is not None:
    try:
        config = read_config(data.n_features, data.n_outputs, data.task, csv_summary["rows"] if csv_summary else None)
        STATE["mb_config"] = config
    except PlaygroundError as exc:
        problem = exc

# ---- the control bar ----------------------------------------------------------------------------------------
item = live.shown(config, data)
buttons = controls.columns
active = item.active
ready = config is not None and data is not None
with bar:
    # The press is taken here (model_builder_bar.press): from here to each st.rerun() below nothing is drawn, so no
    # other click can cut the run short between taking the press and acting on it.
    pressed = model_builder_bar.take_press()
    said = STATE.pop(PRESS_ERROR_KEY, None)  # the error of the run before's press, which reran to redraw the buttons
    try:
        if pressed is Press.PLAY and ready and not item.active and not STATE.get("mb_resume") \
                and model_builder_io.open_kept_run_instead(config):
            st.rerun()  # a setup and seed that already finished: the kept run is opened, not trained again
        outcome = model_builder_bar.controller().act(pressed, ready)
        if outcome is Outcome.START_RUN:
            start_job(config, data)
            model_builder_bar.controller().wait_first_epoch()  # this run draws epoch 1: the browser redraws the
            item = live.shown(config, data)  # epoch line only after the whole page (bench/RESULTS.md, first visit)
            active = item.active  # the bar was drawn for the run it starts (model_builder_bar.drawn_state)
        elif outcome is not Outcome.NOTHING:
            if outcome is Outcome.START_STEP:
                start_job(config, data, step=True)
            if pressed is Press.RESET:
                for key in ("mb_trained", "mb_trained_source", "mb_replay"):
                    STATE.pop(key, None)
                STATE["mb_lr_changes"] = ()
            st.rerun()
    except PlaygroundError as exc:
        said = STATE[PRESS_ERROR_KEY] = exc  # said again after the rerun below, if the buttons must be drawn again
    if isinstance(said, PlaygroundError):
        show_error(said)
    STATE[model_builder_bar.READY_KEY] = ready
    if controls.stale(ready, active, active and item.status in PLAYING):
        st.rerun()  # the buttons were drawn (first, before torch) for another state than this run's: draw them again
    STATE.pop(PRESS_ERROR_KEY, None)

    last_epoch = item.epoch
    replay = None
    can_replay = (item.snapshots or item.history) and not (item.active and item.status != "paused") and last_epoch > 1
    if can_replay:
        first = min([int(s.get("epoch", 0)) for s in item.snapshots] or [1])
        if not isinstance(STATE.get("mb_replay"), int) or not first <= STATE["mb_replay"] <= last_epoch:
            STATE["mb_replay"] = last_epoch
        buttons[7].slider("Replay epoch", min(first, last_epoch - 1), last_epoch, key="mb_replay",
                          help="Drag back to see the boundary, the network and the curves as they were at that epoch.")
        replay = STATE["mb_replay"] if STATE["mb_replay"] < last_epoch else None

    @st.fragment(run_every=live.page_refresh(item))
    def status_fragment() -> None:
        """The epoch counter and the losses, redrawn often while a run trains."""
        now = live.shown(STATE.get("mb_config"), data)
        if now.snap is not None and collect_finished(now.snap):
            now = live.shown(STATE.get("mb_config"), data)  # the run it collected, named by its kept id
        with st.container(key="mb_epoch_line"):  # one height whatever it says: the buttons beside it stay put
            st.markdown(live.status_line(now, replay))
            if now.history:
                st.caption(live.metrics_line(now.history, replay))
            if now.target:
                st.progress(min(1.0, now.epoch / max(now.target, 1)))
        if now.kind == "job" and live.phase(now) != live.phase(item):
            st.rerun()  # the run started, paused or ended: redraw the whole page (buttons, results)

    with buttons[5]:
        status_fragment()

lesson_slot = model_builder_lessons.panel(controls.notice, ready)
ended = ending(item.snap) if item.kind == "job" else None
if ended in (Ending.DIVERGED, Ending.FAILED):
    with bar:
        st.error(item.message, icon=":material/warning:")
        if item.detail:
            st.caption(item.detail)
elif ended is Ending.LIMITED and item.message:  # stopped by the server: a budget
    with bar:
        st.warning(item.message, icon=":material/timer:")
elif ended is not None and item.message:
    with bar:
        st.caption(item.message)
if problem is not None:
    with bar:
        show_error(problem)
if item.lr_changes:
    with bar:
        st.caption("Learning rate changed while it trained: " + ", ".join(f"after epoch {e} to {r:g}"
                                                                         for e, r in item.lr_changes)
                   + " (dashed lines on the curves; train.py does the same).")
if item.kind == "job" and item.active and config is not None and item.config is not None:
    changed = [s.label for s in registry.SETTINGS if s.name not in ("lr", "lr_changes")
               and config.values()[s.name] != item.config.values()[s.name]]
    if changed or config.model != item.config.model:
        with bar:
            st.caption("Changed while it trains: " + ", ".join((changed or ["the network"])[:6])
                       + ". They apply to the next run (Train again); the learning rate applies at once.")
if item.kind == "run" and config is not None and item.config is not None and item.config != config:
    with bar:
        st.caption("The settings have changed since this run: press Play to train them.")
if config is not None and data is not None and config.train.batch_size > data.sizes[0]:
    with hyper:
        st.info(f"The batch size {config.train.batch_size} is larger than the {data.sizes[0]} training rows, so it "
                f"is clamped to {data.sizes[0]}: one batch an epoch (full batch).", icon=":material/info:")


# ---- the network and the output, redrawn while it trains -----------------------------------------------------
with col_network:
    network_slot = st.container()
with col_output:
    st.markdown("**Output**" + (f" · epoch {replay} (replay)" if replay is not None else ""))
    output_slot = st.container()


@st.fragment(run_every=live.pictures_refresh(item))
def pictures_fragment() -> None:
    """The network and the output in one fragment (one script run where two would make the browser re-render the
    page twice), redrawn less often than the epoch line while a run trains."""
    now = live.shown(STATE.get("mb_config"), data)
    if now.config is None:
        return
    view = live.view_at(now, replay)
    model_builder_lessons.figure(lesson_slot, now.history, replay)
    with network_slot:
        if model_builder_inside.toggle():
            model_builder_inside.render(now, replay)
        else:
            with st.container(key="mb_network"):  # a layer clicked opens the inside view with it alone
                model_builder_inside.network(now.config.model, live.network_picture(now, view))
            st.caption(pictures.network_caption(parameter_count(now.config.model),
                                                now.config.data.dataset != CSV_DATASET))
    with output_slot:
        toggles = st.columns(2)
        show_test = toggles[0].toggle("Show test points", key="mb_show_test")
        discretize = toggles[1].toggle("Discretize", key="mb_discretize")
        boundary = live.output_picture(now, view, show_test, discretize)
        if boundary is not None:
            st.container(key="mb_boundary").image(boundary, width="stretch")
        elif now.config.data.dataset == CSV_DATASET:
            st.caption("A CSV's inputs are not a plane: the curves and the test figures show how the model does.")
        curves = live.curves_picture(now, replay)
        if curves is not None:
            st.container(key="mb_curves").image(curves, width="stretch")
        if now.kind != "untrained" and not now.active:  # a finite loss that swings or climbs: said with the fix
            found = unstable(now.history, now.config.train.optimizer, now.config.train.lr)
            if found is not None:
                st.warning(found.sentence, icon=":material/show_chart:")


pictures_fragment()


# ---------------------------------------------------------------------------------------------------
# The course's teaching panels and the code, one click away
# ---------------------------------------------------------------------------------------------------

# Only the open tab is computed and drawn (on_change="rerun"): every script run, a fragment's included, makes the
# browser re-render the page, and the closed tabs' code blocks and tables were a third of its cost while a
# run trains (bench/training_live.py). Keeping, a linked run and the notes happen whichever tab is open.
tabs = st.tabs(["DataLoader", "Model and layers", "Code (train.py)", "Test", "Save and load", "History"],
               key="mb_tab", on_change="rerun")
with tabs[0]:
    if tabs[0].open and config is not None and data is not None:
        n_train, n_val, n_test = data.sizes
        st.markdown(f"**{n_train}** training, **{n_val}** validation, **{n_test}** test rows · task: **{data.task}** · "
                    f"features: {', '.join(shown_name(n, 30) for n in data.feature_names[:20])}")
        batch = min(config.train.batch_size, n_train)
        loader = DataLoader(TensorDataset(data.X_train, data.y_train), batch_size=batch, shuffle=config.train.shuffle,
                            generator=torch.Generator().manual_seed(config.train.seed))
        x, y = next(iter(loader))
        st.markdown(f"`DataLoader(train_set, batch_size={batch}, shuffle={config.train.shuffle})`: **{len(loader)}** "
                    f"batches an epoch; one batch is x {list(x.shape)} `{x.dtype}` and y {list(y.shape)} `{y.dtype}`.")
        course = DataLoader(TensorDataset(data.X_train, data.y_train), batch_size=4, shuffle=True,
                            generator=torch.Generator().manual_seed(config.train.seed))
        cx, cy = next(iter(course))
        st.caption(f"The course's `DataLoader(dataset, batch_size=4, shuffle=True)` gives {len(course)} batches of "
                   f"x {list(cx.shape)} and y {list(cy.shape)}.")
        printed = lazy_expander("Its first batch, printed", key="mb_dl_batch", icon=":material/data_array:")
        if printed.open:
            c1, c2 = printed.columns([3, 2])
            c1.code(f"x = {cx}\n# x.shape = {list(cx.shape)}", language="python")
            c2.code(f"y = {cy}\n# y.shape = {list(cy.shape)}", language="python")
        code_box = lazy_expander("Code: Dataset and DataLoader (runs as shown)", key="mb_dl_code", icon=":material/code:")
        if code_box.open:  # made only when opened, like the printed batch
            code_box.code(codegen.data_code(config), language="python")
with tabs[1]:
    if tabs[1].open and config is not None:
        spec = config.model
        torch.manual_seed(config.train.seed)
        model = build_model(spec)
        out_note = ("logits for CrossEntropyLoss (Softmax shows them as probabilities)" if spec.task == "classification"
                    else "one value for " + registry.resolve_loss(config.train.loss, spec.task).label)
        st.markdown(f"**{parameter_count(spec):,}** parameters · output: {spec.out_features} {out_note}")
        c1, c2 = st.columns([2, 3])
        c1.code(str(model), language="text")
        c2.dataframe(pandas().DataFrame(layer_table(model)), hide_index=True, width="stretch")
        st.caption("The course's example: `nn.Linear(32, 64)` has weight of shape "
                   f"{list(torch.nn.Linear(32, 64).weight.shape)} and bias of shape {list(torch.nn.Linear(32, 64).bias.shape)}.")
        show_code(codegen.model_code(config), title="Code: the model (runs as shown)", expanded=False)
with tabs[2]:
    if tabs[2].open and config is not None:
        st.caption("The whole run in plain PyTorch: seeds and cudnn flags, the Dataset and DataLoader, the model, the "
                   "loss and optimizer, the training, validation and test loops, saving the state_dict. It reproduces "
                   "this page's per-epoch losses on the same device.")
        st.code(codegen.script(config), language="python", line_numbers=True, height=420)

trained = STATE.get("mb_trained")
with tabs[3]:
    if tabs[3].open:
        if not isinstance(trained, TrainedModel):
            st.caption("Train a model (or load one) to test it on the test split.")
        else:
            try:
                control = model_builder_bar.controller()
                if isinstance(control.data, PreparedData) and control.spec == trained.config:
                    test_data = control.data
                else:
                    test_data = load_data(trained.config.data)
                outputs = predict_test(trained, test_data)
                metrics = trained.test_metrics or make_record(trained.config, trained.state_dict, list(trained.history),
                                                              trained.status, test_data).test_metrics
                title = {"finished": "finished", "stopped": "stopped early", "diverged": "diverged"}.get(trained.status,
                                                                                                      trained.status)
                source = "loaded" if STATE.get("mb_trained_source") == "loaded" else "trained"
                st.markdown(f"Model {source}, {title} after **{len(trained.history)}** epochs"
                            + (f" in {trained.duration_s:.1f} s on {trained.device}" if trained.duration_s else "")
                            + f"; tested on **{len(test_data.y_test)}** held-out rows.")
                if test_data.task == "classification":
                    m1, m2 = st.columns(2)
                    m1.metric("Test accuracy", f"{metrics['accuracy']:.3f}")
                    m2.metric("Test rows", metrics["n"])
                    c1, c2 = st.columns(2)
                    with c1:
                        st.caption("Confusion matrix (rows: true class, columns: predicted)")
                        st.plotly_chart(confusion_figure(metrics["confusion"], test_data.classes), key="mb_confusion")
                    with c2:
                        per_class = pandas().DataFrame(metrics["per_class"], index=list(test_data.classes))
                        st.caption("Per class: precision, recall, F1, support")
                        st.dataframe(per_class, width="stretch")
                else:
                    m1, m2, m3 = st.columns(3)
                    m1.metric("Test MSE", f"{metrics['mse']:.4g}")
                    m2.metric("Test MAE", f"{metrics['mae']:.4g}")
                    m3.metric("Test rows", metrics["n"])
                    st.plotly_chart(predicted_vs_true_figure(test_data.to_target_units(outputs).numpy(),
                                                             test_data.to_target_units(test_data.y_test).numpy()),
                                    key="mb_pred_true")
                table = predictions_table(outputs, test_data)
                st.dataframe(table, width="stretch", height=240, key="mb_predictions")
                st.download_button("Download predictions (CSV)", export.to_csv_bytes(table), file_name="predictions.csv",
                                   mime="text/csv", icon=":material/download:", key="mb_download_predictions")
            except Exception as exc:  # a model that does not fit its data (or a CSV not uploaded): a sentence
                show_error(exc)
            st.caption("The plain-PyTorch code that loads this model's weights and tests it is in Save and load, "
                       "beside the .pt download.")

save_settings()
with tabs[4]:
    if "mb_config" in STATE:
        model_builder_io.render(STATE.get("mb_trained"), STATE["mb_config"], full=tabs[4].open)
    else:
        st.caption("Fix the settings above to save or load a model.")
with tabs[5]:
    if tabs[5].open:
        history = item.history or (list(trained.history) if isinstance(trained, TrainedModel) else [])
        if not history:
            st.caption("The per-epoch losses and accuracies appear here once a run has trained.")
        else:
            frame = pandas().DataFrame(metric_rows(history))  # the per-layer statistics have their own CSV
            st.dataframe(frame, width="stretch", height=240, hide_index=True, key="mb_history_table")
            c1, c2, c3 = st.columns(3)
            c1.download_button("History (CSV)", export.to_csv_bytes(frame), file_name="history.csv", mime="text/csv",
                               icon=":material/download:", key="mb_download_history_csv")
            c2.download_button("History (JSON)", json.dumps(history, indent=1).encode(), file_name="history.json",
                               mime="application/json", icon=":material/download:", key="mb_download_history_json")
            c3.download_button("Layer statistics (CSV)", export.to_csv_bytes(export.layer_stats_table(history)),
                               file_name="layer-statistics.csv", mime="text/csv", icon=":material/download:",
                               key="mb_download_layer_stats_csv")

if config is not None:
    model_builder_io.sync_url(config)  # last, once a linked ?run=<id> has been opened: the URL is the setup shown
if controls.opening is not None:
    controls.opening.empty()  # the run the Runs page opened is drawn: the epoch line names it from here on
# A training worker started and warmed (Python, torch, a first step) so that Play does not wait for one; last, once
# the page is sent: started first, its 1.5 s of CPU competed with a server's first visitor's page for the cores
# (bench/startup.py: fully rendered 3.94 s with it first, 3.78 s with it last, 3.60 s without it, one run).
get_executor().prewarm(1)
