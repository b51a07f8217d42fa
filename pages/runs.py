"""Runs: the visitor's kept runs, a page at a time; overlay several, compare their settings, rename, pin,
reopen, download, delete. A share link (``?run=<id>``) opens someone else's run read-only."""

# ruff: noqa: E402 - the page's frame is drawn before its imports of torch (views/page_frame.py)
from __future__ import annotations

import dataclasses
import math

import streamlit as st

from views import page_frame

page_frame.start()

from playground import limits
from playground.builder import layer_pictures
from playground.errors import PlaygroundError
from playground.runs import comparison as compare
from playground.runs import owners
from playground.runs.default_store import open_default_store
from playground.runs.naming import as_markdown_text
from playground.runs.store import RunQuery, RunSummary, check_run_id
from views.identity import current_identity, current_owner
from views.widgets import record_press, show_error

BUILDER = page_frame.BUILDER
# Presses kept in the session until the page acts on them (views.widgets.record_press as on_click, so a click whose
# run is cut short by the next interaction is not lost): the run each was pressed for.
OPEN_PRESSED = "runs_open_pressed"
CONFIRM_DELETE = "runs_confirm_delete"  # Delete was pressed: the confirmation is asked for this run
DELETE_CONFIRMED = "runs_delete_confirmed"

st.title("Runs")
store = open_default_store()
identity = current_identity()
owner = current_owner()
if identity.shared:
    st.caption(
        f"Your kept runs (you are {as_markdown_text(identity.label)}), with their settings, per-epoch metrics, test metrics and "
        "weights. Other visitors cannot see them; a share link opens one for them read-only."
    )
else:
    st.caption(
        "Every finished or stopped training run is kept here, with its settings, per-epoch metrics, test "
        "metrics and weights, across reloads and server restarts."
    )
if owners.mode_note():
    st.warning(owners.mode_note(), icon=":material/warning:")
for note_key, icon in (("runs_deleted_note", ":material/check_circle:"), ("runs_changed_note", ":material/check_circle:")):
    note = st.session_state.pop(note_key, None)
    if note:
        st.success(note, icon=icon)
error = st.session_state.pop("runs_error", None)
if error is not None:
    show_error(error)
if not store.writable:
    st.warning(store.reason, icon=":material/warning:")


def _safe(call, default):
    """A store read that cannot be done (a database gone) is a sentence on the page, not a dead page."""
    try:
        return call()
    except PlaygroundError as exc:
        show_error(exc)
        return default


# Runs removed to make room since the owner last looked.
evicted = _safe(lambda: store.evictions(owner), [])
if evicted:
    with st.container(border=True):
        lines = "\n".join(f"- {note.label} ({note.run_id}): {note.reason}." for note in evicted[:10])
        st.warning(f"{len(evicted)} of your runs were removed to make room:", icon=":material/auto_delete:")
        st.text(lines + ("\n- ..." if len(evicted) > 10 else ""))
        st.caption("Pin a run (below) to keep it whatever happens.")
        if st.button("Dismiss", key="runs_dismiss_evictions", icon=":material/done:"):
            store.dismiss_evictions(owner)
            st.rerun()

# A run opened by its id in the URL: /runs?run=<id>. Another visitor's run is a read-only copy.
linked: RunSummary | None = None
raw_link = st.query_params.get("run")
if raw_link is not None:
    try:
        linked = store.summary(check_run_id(raw_link.strip().lower()[: limits.MAX_QUERY_VALUE_CHARS]))
    except PlaygroundError as exc:
        show_error(exc)
shared_link = linked is not None and linked.owner != owner

total = _safe(lambda: store.count(owner), 0)
if total == 0 and linked is None:
    st.info(
        "No runs are kept yet. Train a model in the Model Builder: when it finishes (or you stop it), "
        "it appears here.",
        icon=":material/info:",
    )
    st.page_link(BUILDER, label="Open the Model Builder", icon=":material/model_training:")
    st.stop()

# ------------------------------------------------------------------------------------ table

page_runs: list[RunSummary] = []
if total:
    usage = _safe(lambda: store.usage(owner), None)
    bounds = store.bounds
    st.subheader("Kept runs")
    if usage is not None:
        st.caption(
            f"{usage.runs} runs, {usage.bytes / 1024 / 1024:.1f} MB of weights. Up to {bounds.owner_max_runs} runs and "
            f"{bounds.owner_max_bytes / 1024 / 1024:.0f} MB are kept; past that the oldest unpinned run is removed. "
            "Dates are UTC."
        )
    facets = _safe(lambda: store.facets(owner), [])
    tasks = compare.task_choices(facets)
    task = next(iter(tasks), "classification")
    if len(tasks) > 1:
        task = st.segmented_control(
            "Task", list(tasks), default=task, key="runs_task", required=True,
            format_func=lambda t: f"{compare.TASK_LABELS[t]} ({tasks[t]})",
        ) or task
    datasets, optimizers = compare.filter_options(facets, task)
    filters = st.columns([2, 2, 2.6, 2, 1.4])  # at 1280 px the toggle keeps its whole "Descending"
    chosen_datasets = filters[0].multiselect(
        "Dataset", datasets, key=f"runs_filter_dataset_{task}", placeholder="All datasets"
    )
    chosen_optimizers = filters[1].multiselect(
        "Optimizer", optimizers, key=f"runs_filter_optimizer_{task}", placeholder="All optimizers"
    )
    search = filters[2].text_input(
        "Name or run id contains", key="runs_filter_text", max_chars=100, placeholder="e.g. 8 tanh"
    )
    sort_by = filters[3].selectbox("Sort by", compare.TASK_SORTS[task], index=0, key=f"runs_sort_by_{task}")
    descending = filters[4].toggle("Descending", value=True, key="runs_sort_descending")
    query = RunQuery(task=task, datasets=tuple(chosen_datasets), optimizers=tuple(chosen_optimizers), text=search,
                     sort_by=sort_by, descending=descending, limit=limits.RUNS_PAGE_SIZE)
    matching = _safe(lambda: store.count(owner, query), 0)
    pages = max(1, math.ceil(matching / limits.RUNS_PAGE_SIZE))
    page_number = 1
    table_box = st.container()
    if pages > 1:
        page_number = st.pagination(pages, key="runs_page", max_visible_pages=9)
    page_number = min(max(1, int(page_number or 1)), pages)
    offset = (page_number - 1) * limits.RUNS_PAGE_SIZE
    page_runs = _safe(lambda: store.list(owner, dataclasses.replace(query, offset=offset)), [])
    widths = compare.column_widths(task)
    with table_box:
        where = f" (runs {offset + 1}-{offset + len(page_runs)}, page {page_number} of {pages})" if pages > 1 else ""
        st.caption(f"{len(page_runs)} of {matching} runs shown{where}"
                   + (f"; {total} kept in all" if matching != total else "") + ".")
        if not page_runs:  # a filter that matches nothing (a typo): said, and the page goes on
            st.info(compare.no_match_sentence(query, total), icon=":material/filter_alt_off:")
        st.dataframe(
            compare.runs_table(page_runs, task),
            hide_index=True,
            key="runs_table_view",
            placeholder="—",
            column_config={
                "name": st.column_config.TextColumn("name", width=widths["name"]),
                "run id": st.column_config.TextColumn("run id", width=widths["run id"],
                                                      help="Its share link is ?run=<run id>."),
                "from": st.column_config.TextColumn("from", width=widths["from"],
                                                    help="Where it was trained: the Model Builder, or a sweep's member."),
                "date": st.column_config.DatetimeColumn("date", format="MM-DD HH:mm", width=widths["date"]),
                "epochs": st.column_config.NumberColumn("epochs", width=widths["epochs"]),
                "best val loss": st.column_config.NumberColumn("best val loss", format="%.4f",
                                                               width=widths["best val loss"]),
                **{metric: st.column_config.NumberColumn(metric, format="%.4f" if "M" in metric else "%.3f",
                                                         width=widths[metric])
                   for metric in ("test accuracy", "test MSE", "test MAE") if metric in widths},
                "status": st.column_config.TextColumn("status", width=widths["status"]),
                "pinned": st.column_config.CheckboxColumn("pinned", width=widths["pinned"]),
            },
        )

by_id = {s.run_id: s for s in page_runs}
if linked is not None:
    by_id.setdefault(linked.run_id, linked)


def _summary(run_id: str) -> RunSummary | None:
    """A run chosen earlier on another page of the table: read again by id."""
    if run_id not in by_id:
        try:
            by_id[run_id] = store.summary(run_id)
        except PlaygroundError:
            return None
    return by_id[run_id]


# ------------------------------------------------------------------------------------ compare

INSIDE_RUNS = "runs_inside_runs"  # the (at most two) runs whose layers are drawn side by side
INSIDE_OPTIONS = "runs_inside_options"  # the overlaid runs with statistics they were chosen from


def inside_the_layers(selected: list[str], histories: dict, names: dict[str, str]) -> None:
    """Each chosen run's per-layer statistics, two runs side by side: the gradient flow of an epoch (a bar a layer,
    log scale) and each layer's weight distribution over the epochs, the epoch shown marked."""
    st.markdown("**Inside the layers**")
    recorded = {r: layer_pictures.recorded(histories[r]) for r in selected if r in histories}
    with_stats = [r for r in selected if recorded.get(r)]
    without = [names[r] for r in selected if r in recorded and not recorded[r]]
    if without:
        st.caption("Kept before per-layer statistics were recorded, so not drawn here: "
                   + ", ".join(as_markdown_text(name) for name in without) + ".")
    if not with_stats:
        return
    if st.session_state.get(INSIDE_OPTIONS) != with_stats:  # other runs overlaid: the first two of them
        st.session_state[INSIDE_OPTIONS] = with_stats
        st.session_state[INSIDE_RUNS] = with_stats[:2]
    controls = st.columns([3, 2])
    side = controls[0].multiselect(
        "Runs side by side", with_stats, max_selections=2, key=INSIDE_RUNS,
        format_func=lambda run_id: names.get(run_id, run_id),
        help="Two runs' gradient flow and weight distributions, side by side (from the runs overlaid above).")
    if not side:
        return
    last = max(int(recorded[r][-1]["epoch"]) for r in side)
    first = min(int(recorded[r][0]["epoch"]) for r in side)
    epoch = last
    if last > first:
        epoch = controls[1].slider("Epoch shown", first, last, last, key=f"runs_inside_epoch_{first}_{last}",
                                   help="The gradient flow of this epoch (the last one recorded at or before it), and "
                                        "its place in the distributions.")
    columns = st.columns(2)
    for i, (column, run_id) in enumerate(zip(columns, side, strict=False)):
        rows = layer_pictures.recorded(histories[run_id], epoch)
        with column.container(key=f"runs_inside_{i}"):
            st.markdown(f"**{as_markdown_text(names[run_id])}**")
            st.image(layer_pictures.gradient_flow_svg(rows[-1] if rows else None), width="stretch")
            st.image(layer_pictures.distributions_svg(histories[run_id], epoch), width="stretch")
    st.caption("Bars: each layer's mean gradient norm over the epoch's steps (whisker: smallest to largest step), on a "
               "log scale. Δw/w: how far the epoch moved the weights, relative to them. Bands: the weights' quantiles "
               "per epoch (0-100, 7-93, 16-84, 31-69 %), the line their median.")


st.subheader("Compare runs")
previous = [r for r in st.session_state.get("runs_selected", []) if _summary(r) is not None]
if "runs_selected" not in st.session_state:
    previous = [linked.run_id] if linked is not None else [s.run_id for s in page_runs[:2]]
elif linked is not None and linked.run_id not in previous and not st.session_state.get("runs_link_selected"):
    previous = [linked.run_id, *previous][: limits.MAX_RUNS_COMPARED]
st.session_state["runs_link_selected"] = linked is not None
st.session_state["runs_selected"] = previous
choices = [s.run_id for s in page_runs] + [r for r in previous if r not in {s.run_id for s in page_runs}]
if linked is not None and linked.run_id not in choices:
    choices.append(linked.run_id)
names = compare.legend_names([by_id[r] for r in choices])
selected = st.multiselect(
    "Runs to overlay",
    choices,
    format_func=lambda run_id: names.get(run_id, run_id),
    max_selections=limits.MAX_RUNS_COMPARED,
    key="runs_selected",
    help=f"Up to {limits.MAX_RUNS_COMPARED} runs, from this page of the table (and those chosen before).",
)
smoothing = st.slider(
    "Smoothing", 0.0, 0.99, 0.0, 0.01, key="runs_smoothing",
    help="An exponential moving average, as TensorBoard draws it: 0 shows the raw curve.",
)

if selected:
    histories = {}
    for run_id in selected:
        try:
            histories[run_id] = store.history(run_id)
        except PlaygroundError as exc:
            show_error(exc)
    chosen_names = {run_id: names[run_id] for run_id in selected if run_id in histories}
    colour_of = compare.colours(selected)
    charts = st.columns(2)
    for column, metric in zip(charts, ("loss", "acc"), strict=True):
        frame = compare.curves(histories, metric, smoothing)
        if frame.empty:
            continue
        column.container(key=f"runs_chart_{metric}").image(
            compare.overlay_svg(frame, chosen_names, colour_of, metric), width="stretch")

    settings = compare.hyperparameters(
        {names[run_id]: by_id[run_id].config for run_id in selected},
        extra={
            names[run_id]: {
                "status": by_id[run_id].status,
                "device": by_id[run_id].device,
                "epochs run": by_id[run_id].epochs_run,
                "duration (s)": f"{by_id[run_id].duration_s:.2f}",
                "run id": run_id,
            }
            for run_id in selected
        },
    )
    differences = [d for d in compare.differing(settings) if d != "run id"]
    st.markdown("**Settings side by side**")
    if len(selected) > 1:
        st.caption(
            "Highlighted rows differ: " + (", ".join(differences) if differences else "none, the runs share every setting.")
        )
    only_diff = st.toggle("Only the settings that differ", value=False, key="runs_only_differences")
    view = settings[settings["differs"]] if only_diff else settings

    def highlight(row):
        colour = "background-color: rgba(255, 196, 0, 0.25)" if row["differs"] and row.name != "run id" else ""
        return [colour] * len(row)

    st.dataframe(view.style.apply(highlight, axis=1), key="runs_settings_view")
    inside_the_layers(selected, histories, names)

# ------------------------------------------------------------------------------------ one run

st.subheader("Open, rename, pin, download or delete a run")
action_choices = [s.run_id for s in page_runs]
if linked is not None and linked.run_id not in action_choices:
    action_choices.insert(0, linked.run_id)
if not action_choices:  # nothing matches the filters and no run is linked: nothing to open, rename or delete
    st.caption("Choose a run from the table above; no kept run matches its filters.")
    st.session_state.pop(OPEN_PRESSED, None)
    st.session_state.pop(DELETE_CONFIRMED, None)
    st.stop()
action_names = compare.legend_names([by_id[r] for r in action_choices])
action_index = action_choices.index(linked.run_id) if linked is not None else 0
run_id = st.selectbox(
    "Run",
    action_choices,
    index=action_index,
    format_func=lambda r: f"{action_names.get(r, r)} · {r}",
    key="runs_action_run",
)
summary = by_id[run_id]
mine = summary.owner == owner
if linked is not None and run_id == linked.run_id:
    if mine:
        st.info(f"Run {run_id} was opened from the link.", icon=":material/link:")
    else:
        st.info(
            f"Run {run_id} was shared with you: a read-only copy. You can view, compare and download it; "
            "open it in the Model Builder and train to make a run of your own.",
            icon=":material/link:",
        )
st.caption(f"Share link: add ?run={run_id} to this page's address (whoever has it can view and download this run).")


def _rename() -> None:
    chosen = st.session_state.get("runs_action_run")
    try:
        store.rename(chosen, owner, st.session_state.get(f"runs_name_{chosen}", ""))
    except PlaygroundError as exc:
        st.session_state["runs_error"] = exc
    else:
        st.session_state["runs_changed_note"] = "The run's name was saved."


def _pin() -> None:
    chosen = st.session_state.get("runs_action_run")
    try:
        store.set_pinned(chosen, owner, bool(st.session_state.get(f"runs_pin_{chosen}")))
    except PlaygroundError as exc:
        st.session_state["runs_error"] = exc


if mine:
    editing = st.columns([5, 1.2])
    editing[0].text_input(
        "Name", value=summary.label, key=f"runs_name_{run_id}", max_chars=limits.MAX_RUN_NAME_CHARS,
        on_change=_rename, disabled=not store.writable,
        help="Press Enter to keep it. Leave it empty for the default name (dataset · architecture · optimizer and lr).",
    )
    editing[1].toggle(
        "Pinned", value=summary.pinned, key=f"runs_pin_{run_id}", on_change=_pin, disabled=not store.writable,
        help="A pinned run is never removed to make room.",
    )


def open_in_builder(chosen: str, said) -> None:
    """The kept run handed to the Model Builder, which is then opened; or a sentence where the run cannot be read."""
    # The Model Builder's modules: imported on a press, not when the page opens.
    from views.model_builder_io import mark_kept

    try:
        trained = store.get(chosen)
    except PlaygroundError as exc:
        said.empty()
        show_error(exc)
        return
    st.session_state["mb_apply_config"] = trained.config
    st.session_state["mb_loaded_model"] = trained
    st.session_state["mb_loaded_source"] = "opened"
    st.session_state["mb_trained"] = trained
    st.session_state["mb_url_run_handled"] = chosen
    st.session_state["mb_opening"] = chosen  # said again at the Model Builder's top while it draws the run
    mark_kept(trained, chosen)
    st.switch_page(BUILDER, query_params={"run": chosen})


actions = st.columns([2.2, 1, 1])
actions[0].button("Open in Model Builder", key="runs_open", icon=":material/open_in_new:", type="primary", wrap=True,
                  width="stretch", on_click=record_press, args=(OPEN_PRESSED, run_id))
opening = actions[0].empty()
if mine:
    actions[2].button("Delete", key="runs_delete", icon=":material/delete:", wrap=True, disabled=not store.writable,
                      width="stretch", on_click=record_press, args=(CONFIRM_DELETE, run_id))
if st.session_state.get(OPEN_PRESSED) is not None:
    # Feedback where the click was: the Model Builder takes a moment to draw (measured in bench/interaction.py).
    opening.caption(f":material/hourglass_top: Opening {run_id} in the Model Builder…")
    if st.session_state.pop(OPEN_PRESSED) == run_id:  # taken here: nothing is drawn from here to the switch
        open_in_builder(run_id, opening)
    else:  # pressed for a run no longer the one chosen here: nothing to open
        opening.empty()


def _stem(chosen: str) -> str:
    """The name of a run's weight files without their ending, as downloaded and as its spec's load_code reads them."""
    return f"run-{chosen}"


def _download(kind: str, chosen: str):
    """Bytes made on click, from the kept run (never on every rerun)."""

    def make() -> bytes:
        from playground.builder import codegen  # imported on a click: the page opens without them
        from playground.runs import export

        if kind == "history.csv":
            return export.to_csv_bytes(compare.history_table(store.history(chosen)))
        if kind == "history.json":
            return compare.history_json(store.history(chosen)).encode()
        trained = store.get(chosen)
        if kind == "pt":
            return export.to_pt_bytes(trained)
        if kind == "safetensors":
            return export.to_safetensors_bytes(trained)
        if kind == "train.py":
            return codegen.script(trained.config).encode()
        return export.spec_json(trained, _stem(chosen)).encode()  # its load_code names the files beside it

    return make


st.markdown("**Download**")
downloads = st.columns(6)
for column, (label, kind, file_name, mime, key, icon) in zip(downloads, (
    (".pt", "pt", f"{_stem(run_id)}.pt", "application/octet-stream", "runs_download_pt", ":material/download:"),
    (".safetensors", "safetensors", f"{_stem(run_id)}.safetensors", "application/octet-stream",
     "runs_download_safetensors", ":material/download:"),
    ("spec .json", "json", f"{_stem(run_id)}.json", "application/json", "runs_download_json", ":material/download:"),
    ("train.py", "train.py", f"train-{run_id}.py", "text/x-python", "runs_download_train_py", ":material/code:"),
    ("history .csv", "history.csv", f"history-{run_id}.csv", "text/csv", "runs_download_history_csv",
     ":material/table:"),
    ("history .json", "history.json", f"history-{run_id}.json", "application/json", "runs_download_history_json",
     ":material/data_object:"),
), strict=True):
    column.download_button(label, _download(kind, run_id), file_name=file_name, mime=mime, key=key, icon=icon,
                           on_click="ignore", wrap=True, width="stretch")

def _cancel_delete() -> None:
    st.session_state.pop(CONFIRM_DELETE, None)


pending = st.session_state.get(CONFIRM_DELETE)
if pending and pending in by_id and by_id[pending].owner == owner:
    if st.session_state.pop(DELETE_CONFIRMED, None) == pending:  # "Yes, delete it" was pressed: taken and done
        st.session_state.pop(CONFIRM_DELETE, None)
        try:
            deleted = store.delete(pending, owner=owner)
        except PlaygroundError as exc:
            show_error(exc)
        else:
            if deleted:
                st.session_state["runs_deleted_note"] = f"Run {pending} was deleted."
            st.rerun()
    else:
        with st.container(border=True):
            st.warning(
                f"Delete run {pending} ({as_markdown_text(by_id[pending].label)})? Its weights and metrics are removed "
                "for good.",
                icon=":material/warning:",
            )
            yes, no = st.columns(2)
            yes.button("Yes, delete it", key="runs_delete_yes", type="primary", on_click=record_press,
                       args=(DELETE_CONFIRMED, pending))
            no.button("Cancel", key="runs_delete_no", on_click=_cancel_delete)
st.session_state.pop(DELETE_CONFIRMED, None)  # a confirmation for a run no longer asked about is dropped
