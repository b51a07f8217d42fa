"""The Model Builder's "Save and load" section: download weights, spec and train.py; upload weights;
keep finished runs in the run store; reopen a run that already ran; open a run by ``?run=<id>``.

The Model Builder page calls ``render(trained, config)``. It hands work back through session state:
``mb_apply_config`` (a RunConfig the page should set its widgets from), ``mb_loaded_model`` (a
TrainedModel to show, evaluate or resume from) and ``mb_trained`` (the model the page shows as trained).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import streamlit as st

from playground import limits
from playground.builder import codegen
from playground.builder.config import RunConfig
from playground.builder.model import TrainedModel
from playground.errors import PlaygroundError, shown_name
from playground.runs import export, url_state, weights_import
from playground.runs.default_store import open_default_store
from playground.runs.store import KEPT_STATUSES, RunStore, check_run_id
from views import model_builder_lessons
from views.identity import current_identity, current_owner
from views.widgets import record_press, show_code, show_error, take_press

APPLY_CONFIG = "mb_apply_config"
LOADED_MODEL = "mb_loaded_model"
TRAINED = "mb_trained"
URL_RUN_HANDLED = "mb_url_run_handled"
_KEPT = "mb_io_kept"  # fingerprint of a TrainedModel -> run id, for runs already in the store
_SAVED_HERE = "mb_io_saved_here"  # run ids this session kept: "was kept as run ..." stays said while it is shown
_UPLOAD_DONE = "mb_io_upload_done"  # file_id of the upload already read
_UPLOAD_RESULT = "mb_io_upload_result"  # what reading it said, shown while the file stays in the uploader
_PENDING = "mb_io_pending"  # a loaded file whose spec differs from the current setup: the user chooses
_NOTE = "mb_io_note"  # a sentence to show once, after a rerun
_URL_SEEN = "mb_io_url_seen"  # the query string last read or written, to tell a new link from our own
_PRESSED = "mb_io_pressed"  # this tab's button pressed, until render acts on it (a press outlives a run cut short)
_CONTROLS = ("open_kept", "rebuild", "load_into_current")
REOPENED = "mb_reopened_note"  # the status line's sentence for a kept run Play opened instead of training


def fingerprint(trained: TrainedModel) -> str:
    """Same run, same fingerprint: its config, status, epochs, and the bytes of its weights."""
    digest = hashlib.sha256()
    digest.update(f"{trained.config.key()}|{trained.status}|{len(trained.history)}".encode())
    for key, value in trained.state_dict.items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def mark_kept(trained: TrainedModel, run_id: str) -> None:
    st.session_state.setdefault(_KEPT, {})[fingerprint(trained)] = run_id


def open_run(store: RunStore, run_id: str, note: str, source: str = "opened") -> None:
    """Put a kept run into the builder (its setup, its weights, its curves) and rerun the page. ``source``
    "reopened": Play found it instead of training (the status line says so, and how to train anew)."""
    trained = store.get(run_id)
    mark_kept(trained, run_id)
    st.session_state[APPLY_CONFIG] = trained.config
    st.session_state[LOADED_MODEL] = trained
    st.session_state["mb_loaded_source"] = source  # a kept run: shown as finished, with its id
    st.session_state[TRAINED] = trained
    st.session_state[_NOTE] = note
    st.rerun()


def open_kept_run_instead(config: RunConfig) -> bool:
    """For the Train button: when this setup and seed already finished, open the kept run and say so.

    Returns True when it did (the page reruns from inside), False when the run should be trained.
    """
    store = open_default_store()
    try:
        run_id = store.find(config.key(), owner=current_owner())
    except PlaygroundError:  # the store is down: train (the run is kept once it is back)
        return False
    if run_id is None:
        return False
    try:
        st.session_state[REOPENED] = reopened_sentence(run_id, store.summary(run_id).created_at)
        open_run(store, run_id, f"This setup and seed already ran: opened the kept run {run_id} instead of training "
                                "again.", source="reopened")
    except PlaygroundError:
        return False
    return True


def reopened_sentence(run_id: str, created_at: float) -> str:
    """What the status line says of a kept run that Play opened instead of training: when it ran, and how to
    train anew."""
    when = datetime.fromtimestamp(created_at, tz=UTC).strftime("%H:%M UTC")
    return f"kept run {run_id} from {when}, not trained again: press Train again for a new run"


def render(trained: TrainedModel | None, config: RunConfig, full: bool = True) -> None:
    """Keeping in the run store, a linked run, the "already ran" note and (``full``: the tab is open) the downloads
    and the upload, for ``config``. Keeping and links happen whether or not the tab is open."""
    store = open_default_store()
    # This tab's press is taken and acted on first, before anything is drawn and whether the tab is open or not: a run
    # cut short before here leaves it for the next run (views.widgets.record_press); one with nothing left to act on
    # is dropped.
    open_kept, rebuild, load_into_current = take_press(_PRESSED, _CONTROLS)
    _act_on_pending(config, rebuild, load_into_current)
    problem = _open_kept_run(store, trained, config) if open_kept else None
    note = st.session_state.pop(_NOTE, None)
    if note:
        st.success(note, icon=":material/check_circle:")
        st.toast(note, icon=":material/history:")  # seen wherever the page is scrolled to
    _open_linked_run(store)
    _keep(store, trained, config)
    _already_ran(store, trained, config, problem)
    if full:
        _downloads(trained, config)
        _upload(config)


# ------------------------------------------------------------------------------------ the URL


def _query() -> dict[str, list[str]]:
    return {key: st.query_params.get_all(key) for key in st.query_params.keys()}


def _flat(query: dict[str, list[str]]) -> dict[str, str]:
    return {key: values[-1] for key, values in query.items() if values}


def read_url(base: RunConfig, choices: dict[str, list[float]] | None = None) -> RunConfig | None:
    """Call at the top of the Model Builder, before its widgets: the setup a link carries, or None.

    Returns a RunConfig when the query string holds settings that this session has not read or written
    yet (a shared link, a reload, an edited URL); the page then sets its widgets from it. Each value that
    was ignored or clamped is shown as a note. ``choices`` names settings whose widget offers only some
    values (``{"lr": LR_OPTIONS, "reg_rate": REG_RATES}``); a link's value moves to the nearest. Never raises.
    """
    query = _query()
    settings = {key: values for key, values in query.items() if key != url_state.RUN_KEY}
    if not settings or st.session_state.get(_URL_SEEN) == _flat(query):
        return None
    st.session_state[_URL_SEEN] = _flat(query)
    state = url_state.decode(settings, base, choices)
    model_builder_lessons.opened(state.lesson)
    if state.notes:
        st.warning(
            "Some settings in the link could not be used as they were:\n\n"
            + "\n".join(f"- {note}" for note in state.notes[:20]),
            icon=":material/link_off:",
        )
    return state.config


def sync_url(config: RunConfig) -> None:
    """Call once the widgets have made ``config``: the query string becomes that setup, so a copied link
    opens it. ``?run=<id>`` stays while the shown model is that run's setup."""
    params = url_state.encode(config)
    lesson = model_builder_lessons.active()
    if lesson is not None:  # a copied link opens the lesson too, with the settings on screen
        params = {url_state.LESSON_KEY: lesson.name, **params}
    run = st.query_params.get(url_state.RUN_KEY)
    trained = st.session_state.get(TRAINED)
    if run is not None and trained is not None and trained.config == config:
        params[url_state.RUN_KEY] = run
    if _flat(_query()) != params:
        st.query_params.from_dict(params)
    st.session_state[_URL_SEEN] = params


# ------------------------------------------------------------------------------------ run store


def _open_linked_run(store: RunStore) -> None:
    """``?run=<id>`` opens that kept run once per session (a reload of the same link opens it again)."""
    raw = st.query_params.get("run")
    if raw is None or st.session_state.get(URL_RUN_HANDLED) == raw:
        return
    st.session_state[URL_RUN_HANDLED] = raw
    try:
        run_id = check_run_id(raw.strip().lower()[: limits.MAX_QUERY_VALUE_CHARS])
        open_run(store, run_id, f"Opened run {run_id} from the link.")
    except PlaygroundError as exc:
        show_error(exc)


def keep(trained: TrainedModel, store: RunStore | None = None, fresh: bool = False) -> str | None:
    """Keep a finished or stopped run in the run store, once: its run id (the one it already has when it was kept
    before, in this session or by this owner), or None when it is not kept (another status, or a store that cannot
    keep runs). Raises PlaygroundError when the store refuses it.

    It draws nothing (the owner is read, not written to the cookie), so the page run that collects a run that
    ended keeps it at once, the epoch line's fragment included: a run is never shown as ended but not yet kept,
    and no later run of the page (which a click may cut short) has to get as far as the Save and load part first.
    ``fresh``: a run just trained here (Train again included) is a new run with its own id, even when a kept run
    has the very same weights (the same setup and seed train the same model).
    """
    if trained.status not in KEPT_STATUSES:
        return None
    store = store or open_default_store()
    kept = st.session_state.setdefault(_KEPT, {})
    mark = fingerprint(trained)
    run_id = None if fresh else kept.get(mark) or _already_kept(store, trained, mark)
    if run_id is None:
        if not store.writable:
            return None
        run_id = store.save(trained, owner=current_identity().owner)
        saved = st.session_state.setdefault(_SAVED_HERE, [])
        saved[:] = [*saved[-(limits.MAX_RUNS_COMPARED - 1):], run_id]  # bounded: only the latest few are shown
    kept[mark] = run_id
    return run_id


def _keep(store: RunStore, trained: TrainedModel | None, config: RunConfig) -> None:
    """Keep the run shown (when the page has not yet) and say where it is kept."""
    if trained is None or trained.status not in KEPT_STATUSES:
        return
    try:
        run_id = keep(trained, store)
    except PlaygroundError as exc:
        show_error(exc)
        _not_kept_yet()
        return
    if run_id is None:
        st.warning(store.reason, icon=":material/warning:")
        _not_kept_yet()
        return
    if run_id in st.session_state.get(_SAVED_HERE, ()):
        _say_kept(trained, run_id)  # said in every run while it is shown: a tab opened later reruns the page
    elif _owned_by_someone_else(store, run_id):
        st.caption(f"Run {run_id} was shared with you by its link: you can view and download it, and Train "
                   "again makes a run of your own; your Runs page lists only your runs.")
    else:
        st.caption(f"Kept in the run store as run {run_id}: the Runs page lists it.")
    if trained.config == config and st.query_params.get(url_state.RUN_KEY) != run_id:
        # The link now names the run: a reload (or the link sent on) brings this very model back.
        st.session_state[URL_RUN_HANDLED] = run_id
        st.query_params[url_state.RUN_KEY] = run_id


NOT_KEPT_YET = ("This run is not kept yet: it stays here, and downloadable, and the page keeps it as soon as the run "
                "store answers again (every run of the page tries). Press Keep this run again to try now.")


def _not_kept_yet() -> None:
    """A run the store could not take (down, restarting): said, with a button whose click reruns the page, which
    tries again (``keep`` is idempotent: a save whose commit went through is found, not made twice)."""
    st.info(NOT_KEPT_YET, icon=":material/schedule:")
    st.button("Keep this run again", key="mb_io_keep_again", icon=":material/save:")


def _say_kept(trained: TrainedModel, run_id: str) -> None:
    st.success(f"This {trained.status} run was kept as run {run_id}: it survives reloads and restarts, and the Runs "
               "page lists it.", icon=":material/save:")


def _owned_by_someone_else(store: RunStore, run_id: str) -> bool:
    try:
        return store.summary(run_id).owner != current_owner()
    except PlaygroundError:
        return False


def _already_kept(store: RunStore, trained: TrainedModel, mark: str) -> str | None:
    """The id of a kept run that is this very run (same setup, same weights), e.g. one reopened here."""
    run_id = store.find(trained.config.key(), owner=current_identity().owner)
    if run_id is None:
        return None
    try:
        return run_id if fingerprint(store.get(run_id)) == mark else None
    except PlaygroundError:
        return None


def _kept_run_for(store: RunStore, trained: TrainedModel | None, config: RunConfig) -> str | None:
    """The kept run of this very setup and seed, when the one shown is not it already."""
    if trained is not None and trained.config == config:
        return None
    try:
        return store.find(config.key(), owner=current_owner())
    except PlaygroundError:  # the store is down: the hint waits for it (the Save part says what was not kept)
        return None


def _open_kept_run(store: RunStore, trained: TrainedModel | None, config: RunConfig) -> PlaygroundError | None:
    """Open in the builder the kept run offered by "Open the kept run" (the page reruns), or say why it cannot."""
    run_id = _kept_run_for(store, trained, config)
    if run_id is None:
        return None
    try:
        open_run(store, run_id, f"Opened the kept run {run_id}: same setup, same seed, same result.")
    except PlaygroundError as exc:
        return exc
    return None


def _already_ran(store: RunStore, trained: TrainedModel | None, config: RunConfig,
                 problem: PlaygroundError | None) -> None:
    run_id = _kept_run_for(store, trained, config)
    if run_id is None:
        return
    st.info(
        f"This setup and seed already ran (run {run_id}): open the kept run instead of training again.",
        icon=":material/history:",
    )
    st.button("Open the kept run", key="mb_io_open_kept", icon=":material/history:", on_click=record_press,
              args=(_PRESSED, "open_kept"))
    if problem is not None:
        show_error(problem)


# ------------------------------------------------------------------------------------ downloads


def _downloads(trained: TrainedModel | None, config: RunConfig) -> None:
    st.markdown("**Download**")
    stem = f"model-{config.key()}"
    columns = st.columns(4)
    has_weights = trained is not None

    def make(kind: str):
        def build() -> bytes:  # made on click, not on every rerun
            if kind == "pt":
                return export.to_pt_bytes(trained)
            if kind == "safetensors":
                return export.to_safetensors_bytes(trained)
            return export.spec_json(trained, stem).encode()  # its load_code names the files beside it

        return build

    columns[0].download_button(
        "Weights .pt", make("pt"), file_name=f"{stem}.pt", mime="application/octet-stream",
        key="mb_io_download_pt", icon=":material/download:", disabled=not has_weights, on_click="ignore",
        help="torch.save(model.state_dict(), path): load it with model.load_state_dict(torch.load(path, weights_only=True)).",
    )
    columns[1].download_button(
        "Weights .safetensors", make("safetensors"), file_name=f"{stem}.safetensors",
        mime="application/octet-stream", key="mb_io_download_safetensors", icon=":material/download:",
        disabled=not has_weights, on_click="ignore",
        help="The same weights, with the model spec in the file's metadata.",
    )
    columns[2].download_button(
        "Spec .json", make("json"), file_name=f"{stem}.json", mime="application/json",
        key="mb_io_download_spec", icon=":material/download:", disabled=not has_weights, on_click="ignore",
        help="Layers, activations, input features, task, classes, standardisation statistics, and load_code: "
             "the model class and the lines that load the weights downloaded beside it.",
    )
    _train_script_button(columns[3], config)
    if not has_weights:
        st.caption("Train a model (or load weights) to download its weights.")
        return
    # Beside the download: the plain-torch lines that load the .pt just downloaded and test it.
    weights_file = f"{stem}.pt"  # the name the .pt download above suggests
    show_code(codegen.load_code(trained.config, weights_file),
              title=f"Code: load {weights_file} in plain PyTorch and test it (runs as shown)", expanded=False)


def _train_script_button(column, config: RunConfig) -> None:
    def build() -> bytes:
        return codegen.script(config).encode()

    column.download_button(
        "train.py", build, file_name="train.py", mime="text/x-python", key="mb_io_download_train_py",
        icon=":material/code:", on_click="ignore",
        help="A self-contained script that reproduces this run with plain PyTorch.",
    )


# ------------------------------------------------------------------------------------ upload


def _upload(config: RunConfig) -> None:
    st.markdown("**Load weights**")
    upload = st.file_uploader(
        "A .pt or .safetensors file (or a spec .json to rebuild the setup)",
        type=["pt", "pth", "safetensors", "json"],
        key="mb_io_upload",
        max_upload_size=limits.MAX_UPLOAD_BYTES // (1024 * 1024),
        help="Read with torch.load(..., weights_only=True) or safetensors, never unpickled, "
        "and checked key by key against the model.",
    )
    if upload is None:
        st.session_state.pop(_UPLOAD_DONE, None)
        st.session_state.pop(_UPLOAD_RESULT, None)
        st.session_state.pop(_PENDING, None)
        return
    if st.session_state.get(_UPLOAD_DONE) != upload.file_id:
        st.session_state[_UPLOAD_DONE] = upload.file_id
        st.session_state.pop(_PENDING, None)
        st.session_state[_UPLOAD_RESULT] = _read_upload(upload, config)
        if st.session_state[_UPLOAD_RESULT][0] == "success" and LOADED_MODEL in st.session_state:
            st.rerun()  # the page above shows and evaluates the loaded model at once
    kind, payload = st.session_state.get(_UPLOAD_RESULT, ("", None))
    if kind == "error":
        show_error(payload)
    elif kind == "success":
        st.success(payload, icon=":material/check_circle:")
    _pending_choice(config)


def _read_upload(upload, config: RunConfig) -> tuple[str, object]:
    """Read the file once; load it now when it fits, or leave a choice pending when its spec differs."""
    name = shown_name(str(upload.name), 80)  # a file name is user text: shown as text
    try:
        if upload.size > limits.MAX_UPLOAD_BYTES:
            raise PlaygroundError(
                f"{name} is {upload.size / 1024 / 1024:.1f} MB; files up to "
                f"{limits.MAX_UPLOAD_BYTES // 1024 // 1024} MB are accepted."
            )
        data = upload.getvalue()
        if name.lower().endswith(".json"):
            spec_config = weights_import.read_spec_json(data)
            if _same_setup(spec_config, config):
                return "success", f"{name} describes the current setup already."
            st.session_state[_PENDING] = ("spec", name, spec_config, None)
            return "", None
        loaded = weights_import.read_upload(name, data, config.model)
    except PlaygroundError as exc:
        return "error", exc
    for line in loaded.notes:
        st.warning(line, icon=":material/warning:")
    if loaded.config is None or _same_setup(loaded.config, config):
        trained = loaded.to_trained(config)
        st.session_state[LOADED_MODEL] = trained
        st.session_state[TRAINED] = trained
        return "success", (
            f"Loaded {name} into the current model: {len(loaded.state_dict)} tensors, each key and shape checked. "
            "Evaluate it, or resume training from it."
        )
    st.session_state[_PENDING] = ("weights", name, loaded.config, loaded)
    return "", None


def _same_setup(a: RunConfig, b: RunConfig) -> bool:
    """Equal but perhaps for the device: weights trained on a GPU load into the same setup on a CPU."""
    return a.with_train(device=b.train.device) == b


def _pending_choice(config: RunConfig) -> None:
    pending = st.session_state.get(_PENDING)
    if not pending:
        return
    what, name, file_config, loaded = pending
    changes = _differences(config, file_config)
    st.info(
        f"{name} carries a setup that differs from the current one ({changes}). "
        "Rebuild the model from the file's spec to use it.",
        icon=":material/info:",
    )
    columns = st.columns(2)
    columns[0].button("Rebuild from the file's spec", key="mb_io_rebuild", type="primary", icon=":material/build:",
                      on_click=record_press, args=(_PRESSED, "rebuild"))
    if loaded is not None and weights_import.fits(loaded.state_dict, config.model):
        columns[1].button("Load the weights into the current model", key="mb_io_load_into_current",
                          on_click=record_press, args=(_PRESSED, "load_into_current"))


def _act_on_pending(config: RunConfig, rebuild: bool, load_into_current: bool) -> None:
    """The choice pressed for a file whose setup differs: rebuild the setup from it, or load its weights into the
    current model (offered only where they fit, and checked again here)."""
    pending = st.session_state.get(_PENDING)
    if not pending:
        return
    _, name, file_config, loaded = pending
    if rebuild:
        st.session_state.pop(_PENDING, None)
        st.session_state[APPLY_CONFIG] = file_config
        if loaded is not None:
            trained = loaded.to_trained(file_config)
            st.session_state[LOADED_MODEL] = trained
            st.session_state[TRAINED] = trained
            st.session_state[_UPLOAD_RESULT] = ("success", f"Rebuilt the model from {name} and loaded its weights.")
        else:
            st.session_state[_UPLOAD_RESULT] = ("success", f"Rebuilt the setup from {name}.")
        st.rerun()
    if loaded is not None and weights_import.fits(loaded.state_dict, config.model) and load_into_current:
        st.session_state.pop(_PENDING, None)
        trained = loaded.to_trained(config)
        st.session_state[LOADED_MODEL] = trained
        st.session_state[TRAINED] = trained
        st.session_state[_UPLOAD_RESULT] = ("success", f"Loaded the weights of {name} into the current model.")
        st.rerun()


def _differences(current: RunConfig, other: RunConfig) -> str:
    from playground.runs.url_state import SETTINGS

    changed = [
        setting.label
        for setting in SETTINGS
        if getattr(getattr(current, setting.section), setting.attr) != getattr(getattr(other, setting.section), setting.attr)
    ]
    if current.model.widths != other.model.widths and "hidden layers" not in changed:
        changed.insert(0, "layer widths")
    return ", ".join(changed[:8]) + (" and more" if len(changed) > 8 else "") if changed else "device or CSV settings"
