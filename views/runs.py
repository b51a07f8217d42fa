"""Runs: every kept run in a table; overlay several, compare their settings, reopen, download, delete."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from playground import limits
from playground.builder import codegen
from playground.errors import PlaygroundError
from playground.runs import comparison as compare
from playground.runs import export
from playground.runs.store import check_run_id, open_default_store
from views.model_builder_io import mark_kept
from views.widgets import show_error

BUILDER = "views/model_builder.py"

st.title("Runs")
st.caption(
    "Every finished or stopped training run is kept here, with its settings, per-epoch metrics, test "
    "metrics and weights, across reloads and server restarts."
)

store = open_default_store()
deleted = st.session_state.pop("runs_deleted_note", None)
if deleted:
    st.success(f"Run {deleted} was deleted.", icon=":material/check_circle:")
if not store.writable:
    st.warning(store.reason, icon=":material/warning:")

# A run opened by its id in the URL: /runs?run=<id>
linked_run = None
raw_link = st.query_params.get("run")
if raw_link is not None:
    try:
        linked_run = check_run_id(raw_link.strip().lower()[: limits.MAX_QUERY_VALUE_CHARS])
        store.history(linked_run)  # it exists
    except PlaygroundError as exc:
        linked_run = None
        show_error(exc)

summaries = store.list()
if not summaries:
    st.info(
        "No runs are kept yet. Train a model in the Model Builder: when it finishes (or you stop it), "
        "it appears here.",
        icon=":material/info:",
    )
    st.page_link(BUILDER, label="Open the Model Builder", icon=":material/model_training:")
    st.stop()

by_id = {s.run_id: s for s in summaries}
table = compare.runs_table(summaries)

# ------------------------------------------------------------------------------------ table

st.subheader("Kept runs")
filters = st.columns([2, 2, 2, 2, 1.4])
chosen_datasets = filters[0].multiselect(
    "Dataset", sorted(table["dataset"].unique()), key="runs_filter_dataset", placeholder="All datasets"
)
chosen_optimizers = filters[1].multiselect(
    "Optimizer", sorted(table["optimizer"].unique()), key="runs_filter_optimizer", placeholder="All optimizers"
)
search = filters[2].text_input(
    "Run id or architecture contains", key="runs_filter_text", max_chars=100, placeholder="e.g. 8 tanh"
)
sort_by = filters[3].selectbox("Sort by", compare.SORTABLE, index=0, key="runs_sort_by")
descending = filters[4].toggle("Descending", value=True, key="runs_sort_descending")

shown = compare.filter_and_sort(table, chosen_datasets, chosen_optimizers, search, sort_by, descending)
st.caption(f"{len(shown)} of {len(table)} runs shown (dates are UTC).")
st.dataframe(
    shown,
    hide_index=True,
    key="runs_table_view",
    column_config={
        "lr": st.column_config.NumberColumn("lr", format="%g"),
        "best val loss": st.column_config.NumberColumn(format="%.4f"),
        "test accuracy": st.column_config.NumberColumn(format="%.3f"),
        "test MSE": st.column_config.NumberColumn(format="%.4f"),
        "date": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    },
)

# ------------------------------------------------------------------------------------ compare

st.subheader("Compare runs")
previous = [r for r in st.session_state.get("runs_selected", []) if r in by_id]
if "runs_selected" not in st.session_state:
    previous = [linked_run] if linked_run else list(table["run"])[:2]
elif linked_run and linked_run not in previous and not st.session_state.get("runs_link_selected"):
    previous = [linked_run, *previous][: limits.MAX_RUNS_COMPARED]
st.session_state["runs_link_selected"] = bool(linked_run)
st.session_state["runs_selected"] = previous
choices = list(shown["run"]) + [r for r in previous if r not in set(shown["run"])]
selected = st.multiselect(
    "Runs to overlay",
    choices,
    format_func=lambda run_id: compare.run_label(by_id[run_id]),
    max_selections=limits.MAX_RUNS_COMPARED,
    key="runs_selected",
    help=f"Up to {limits.MAX_RUNS_COMPARED} runs.",
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
    for metric, title in (("loss", "Loss"), ("acc", "Accuracy")):
        frame = compare.curves(histories, metric, smoothing)
        if frame.empty:
            continue
        figure = px.line(
            frame, x="epoch", y="value", color="run", line_dash="split", hover_data={"raw": ":.4f"},
            labels={"value": title.lower(), "split": "split"}, title=f"{title} per epoch",
        )
        st.plotly_chart(figure, key=f"runs_chart_{metric}")

    settings = compare.hyperparameters(
        {run_id: by_id[run_id].config for run_id in selected},
        extra={
            run_id: {
                "status": by_id[run_id].status,
                "device": by_id[run_id].device,
                "epochs run": by_id[run_id].epochs_run,
                "duration (s)": f"{by_id[run_id].duration_s:.2f}",
            }
            for run_id in selected
        },
    )
    differences = compare.differing(settings)
    st.markdown("**Settings side by side**")
    if len(selected) > 1:
        st.caption(
            "Highlighted rows differ: " + (", ".join(differences) if differences else "none, the runs share every setting.")
        )
    only_diff = st.toggle("Only the settings that differ", value=False, key="runs_only_differences")
    view = settings[settings["differs"]] if only_diff else settings

    def highlight(row):
        colour = "background-color: rgba(255, 196, 0, 0.25)" if row["differs"] else ""
        return [colour] * len(row)

    st.dataframe(view.style.apply(highlight, axis=1), key="runs_settings_view")

# ------------------------------------------------------------------------------------ one run

st.subheader("Open, download or delete a run")
action_choices = list(table["run"])
action_index = action_choices.index(linked_run) if linked_run in action_choices else 0
run_id = st.selectbox(
    "Run",
    action_choices,
    index=action_index,
    format_func=lambda r: compare.run_label(by_id[r]),
    key="runs_action_run",
)
summary = by_id[run_id]
if linked_run and run_id == linked_run:
    st.info(f"Run {run_id} was opened from the link.", icon=":material/link:")

buttons = st.columns(6)
if buttons[0].button("Open in Model Builder", key="runs_open", icon=":material/open_in_new:", type="primary"):
    try:
        trained = store.get(run_id)
    except PlaygroundError as exc:
        show_error(exc)
    else:
        st.session_state["mb_apply_config"] = trained.config
        st.session_state["mb_loaded_model"] = trained
        st.session_state["mb_loaded_source"] = "opened"
        st.session_state["mb_trained"] = trained
        st.session_state["mb_url_run_handled"] = run_id
        mark_kept(trained, run_id)
        st.switch_page(BUILDER, query_params={"run": run_id})


def _weights(kind: str, chosen: str):
    """Bytes made on click, from the kept weight file (never on every rerun)."""

    def make() -> bytes:
        trained = store.get(chosen)
        if kind == "pt":
            return export.to_pt_bytes(trained)
        if kind == "safetensors":
            return export.to_safetensors_bytes(trained)
        if kind == "train.py":
            return codegen.script(trained.config).encode()
        return export.spec_json(trained).encode()

    return make


buttons[1].download_button(
    ".pt", _weights("pt", run_id), file_name=f"run-{run_id}.pt", mime="application/octet-stream",
    key="runs_download_pt", icon=":material/download:", on_click="ignore",
)
buttons[2].download_button(
    ".safetensors", _weights("safetensors", run_id), file_name=f"run-{run_id}.safetensors",
    mime="application/octet-stream", key="runs_download_safetensors", icon=":material/download:", on_click="ignore",
)
buttons[3].download_button(
    "spec .json", _weights("json", run_id), file_name=f"run-{run_id}.json", mime="application/json",
    key="runs_download_json", icon=":material/download:", on_click="ignore",
)
buttons[4].download_button(
    "train.py", _weights("train.py", run_id), file_name=f"train-{run_id}.py", mime="text/x-python",
    key="runs_download_train_py", icon=":material/code:", on_click="ignore",
)
if buttons[5].button("Delete", key="runs_delete", icon=":material/delete:", disabled=not store.writable):
    st.session_state["runs_confirm_delete"] = run_id

pending = st.session_state.get("runs_confirm_delete")
if pending and pending in by_id:
    with st.container(border=True):
        st.warning(
            f"Delete run {pending} ({compare.architecture(by_id[pending].config)} on "
            f"{by_id[pending].config.data.dataset})? Its weights and metrics are removed for good.",
            icon=":material/warning:",
        )
        yes, no = st.columns(2)
        if yes.button("Yes, delete it", key="runs_delete_yes", type="primary"):
            st.session_state.pop("runs_confirm_delete", None)
            try:
                store.delete(pending)
            except PlaygroundError as exc:
                show_error(exc)
            else:
                st.session_state["runs_deleted_note"] = pending
                st.rerun()
        if no.button("Cancel", key="runs_delete_no"):
            st.session_state.pop("runs_confirm_delete", None)
            st.rerun()

