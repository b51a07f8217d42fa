"""Model Builder: data, model, live background training, evaluation and test. Widgets and layout only;
the work is in playground/ (builder, execution, runs)."""

from __future__ import annotations

import hashlib
import uuid

import pandas as pd
import streamlit as st
import torch
from torch.utils.data import DataLoader, TensorDataset

from playground import limits
from playground.builder import codegen as builder_code
from playground.builder.config import (
    ACTIVATIONS,
    CSV_DATASET,
    DATASETS,
    FEATURES,
    OPTIMIZERS,
    REGULARIZATIONS,
    DataConfig,
    ModelSpec,
    RunConfig,
    TrainConfig,
)
from playground.builder.datasets import (
    DATASET_LABELS,
    FEATURE_LABELS,
    PreparedData,
    csv_columns,
    prepare_data,
)
from playground.builder.decision_boundary import heatmap, layer_weights, neuron_thumbnails
from playground.builder.evaluation import make_trained_model, predict_test, predictions_table
from playground.builder.figures import (
    boundary_figure,
    confusion_figure,
    curves_figure,
    predicted_vs_true_figure,
    thumbnails_image,
)
from playground.builder.memo import IdentityMemo
from playground.builder.model import TrainedModel, build_model, parameter_count
from playground.builder.network_diagram import layer_table, network_figure
from playground.device import available_devices, default_device
from playground.errors import PlaygroundError
from playground.execution.pool import get_pool, pictures_interval, refresh_interval
from views import model_builder_io
from views.widgets import global_seed, show_code, show_error

LR_OPTIONS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
SAMPLE_OPTIONS = [20, 50, 100, 200, 300, 500, 750, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000]
REG_RATES = [0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0]
ACTIVATION_LABELS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU", "linear": "Linear"}
STATE = st.session_state


# ---------------------------------------------------------------------------------------------------
# Settings <-> widgets
# ---------------------------------------------------------------------------------------------------


def widgets_from_config(config: RunConfig) -> None:
    """Set every widget's key from ``config`` (before the widgets are drawn)."""
    d, m, t = config.data, config.model, config.train
    STATE.update({
        "mb_dataset": d.dataset, "mb_n_samples": d.n_samples, "mb_noise": float(d.noise),
        "mb_train_fraction": float(d.train_fraction), "mb_val_fraction": float(d.val_fraction),
        "mb_standardize": d.standardize, "mb_data_seed": d.seed,
        "mb_layers": len(m.hidden), "mb_dropout": float(m.dropout),
        "mb_optimizer": t.optimizer, "mb_lr": float(t.lr), "mb_momentum": float(t.momentum),
        "mb_weight_decay": float(t.weight_decay), "mb_beta1": float(t.beta1), "mb_beta2": float(t.beta2),
        "mb_batch": t.batch_size, "mb_shuffle": t.shuffle, "mb_epochs": t.epochs, "mb_reg": t.regularization,
        "mb_reg_rate": float(t.reg_rate), "mb_seed": t.seed, "mb_cudnn_det": t.cudnn_deterministic,
        "mb_cudnn_bench": t.cudnn_benchmark,
    })
    if d.dataset == CSV_DATASET:
        STATE["mb_csv_target"] = d.csv_target or None
        STATE["mb_csv_task"] = d.csv_task or "inferred"
    else:
        for feature in FEATURES:
            STATE[f"mb_feat_{feature}"] = feature in d.features
    for i, (width, activation) in enumerate(zip(m.hidden, m.activations, strict=True)):
        STATE[f"mb_width_{i}"] = width
        STATE[f"mb_act_{i}"] = activation
    # A crafted file or link may hold values valid for the config but beyond a slider's range.
    clamped = []
    for key, top in (("mb_dropout", 0.8), ("mb_momentum", 0.99), ("mb_beta1", 0.999), ("mb_beta2", 0.9999)):
        if STATE[key] > top:
            clamped.append(f"{key.removeprefix('mb_')} {STATE[key]:g} -> {top:g}")
            STATE[key] = top
    if clamped:
        STATE["mb_notice"] = "Some settings were beyond the sliders' range and were clamped: " + ", ".join(clamped) + "."
    devices = [x.name for x in available_devices()]
    STATE["mb_device"] = t.device if t.device in devices else "cpu"
    if t.device not in devices:
        STATE["mb_notice"] = f"This server has no {t.device}; the run is set to the CPU."


PERSISTENT = ("mb_dataset", "mb_n_samples", "mb_noise", "mb_train_fraction", "mb_val_fraction", "mb_standardize",
              "mb_data_seed", "mb_layers", "mb_dropout", "mb_optimizer", "mb_lr", "mb_momentum", "mb_weight_decay",
              "mb_beta1", "mb_beta2", "mb_batch", "mb_shuffle", "mb_epochs", "mb_reg", "mb_reg_rate", "mb_seed",
              "mb_device", "mb_cudnn_det", "mb_cudnn_bench", "mb_csv_target", "mb_csv_task", "mb_resume",
              "mb_show_test", "mb_discretize")
PERSISTENT_PREFIXES = ("mb_feat_", "mb_width_", "mb_act_")


SAVED = "mb_saved_settings"  # not a widget key, so Streamlit keeps it while other pages run


def save_settings() -> None:
    """A copy of every setting, kept outside the widgets: Streamlit drops a widget's state when a run
    of another page does not draw it, so a visit to Tensor Lab would otherwise reset the builder."""
    STATE[SAVED] = {k: STATE[k] for k in list(STATE.keys()) if k in PERSISTENT or k.startswith(PERSISTENT_PREFIXES)}


def init_defaults() -> None:
    """Defaults for every setting, and keep the settings of widgets not drawn this run (Streamlit would
    drop them: e.g. the noise slider while a CSV is chosen, or SGD's momentum while Adam is)."""
    for key, value in STATE.get(SAVED, {}).items():
        if key not in STATE:
            STATE[key] = value
    if "mb_dataset" not in STATE:
        seed = global_seed()
        widgets_from_config(RunConfig(data=DataConfig(seed=seed), train=TrainConfig(seed=seed, device=default_device())))
    defaults = RunConfig()
    STATE.setdefault("mb_n_samples", defaults.data.n_samples)
    STATE.setdefault("mb_noise", float(defaults.data.noise))
    for feature in FEATURES:
        STATE.setdefault(f"mb_feat_{feature}", feature in defaults.data.features)
    for key in list(STATE.keys()):
        if key in PERSISTENT or key.startswith(PERSISTENT_PREFIXES):
            STATE[key] = STATE[key]


def data_config() -> DataConfig:
    dataset = STATE["mb_dataset"]
    common = {
        "dataset": dataset, "noise": float(STATE["mb_noise"]), "train_fraction": float(STATE["mb_train_fraction"]),
        "val_fraction": float(STATE["mb_val_fraction"]), "standardize": bool(STATE["mb_standardize"]),
        "seed": int(STATE["mb_data_seed"]),
    }
    if dataset == CSV_DATASET:
        task = STATE.get("mb_csv_task", "inferred")
        rows = STATE.get("mb_csv_rows", limits.MIN_SAMPLES)
        return DataConfig(
            **common, n_samples=max(limits.MIN_SAMPLES, min(rows, limits.MAX_SAMPLES)), features=(),
            csv_name=STATE.get("mb_csv_name", ""), csv_target=STATE.get("mb_csv_target") or "",
            csv_task="" if task == "inferred" else task,
        )
    features = tuple(f for f in FEATURES if STATE.get(f"mb_feat_{f}"))
    return DataConfig(**common, n_samples=int(STATE["mb_n_samples"]), features=features)


def load_data(config: DataConfig) -> PreparedData:
    """The prepared data of ``config``, kept in the session so a rerun does not make it again."""
    csv = STATE.get("mb_csv_bytes") if config.dataset == CSV_DATASET else None
    key = hashlib.sha256((repr(config.to_dict()) + (hashlib.sha256(csv).hexdigest() if csv else "")).encode()).hexdigest()
    cache = STATE.setdefault("mb_data_cache", {})
    if key not in cache:
        data = prepare_data(config, csv)
        if len(cache) >= 3:
            cache.pop(next(iter(cache)))
        cache[key] = data
    return cache[key]


def build_config() -> RunConfig:
    """The RunConfig the widgets describe (data, model, training). Raises PlaygroundError with a sentence."""
    data_cfg = data_config()
    data = load_data(data_cfg)
    n_layers = int(STATE.get("mb_layers", 0))
    spec = ModelSpec(
        in_features=data.n_features,
        hidden=tuple(int(STATE.get(f"mb_width_{i}", 8)) for i in range(n_layers)),
        activations=tuple(STATE.get(f"mb_act_{i}", "tanh") for i in range(n_layers)),
        out_features=data.n_outputs,
        task=data.task,
        dropout=float(STATE.get("mb_dropout", 0.0)),
    )
    train = TrainConfig(
        optimizer=STATE["mb_optimizer"], lr=float(STATE["mb_lr"]), momentum=float(STATE["mb_momentum"]),
        weight_decay=float(STATE["mb_weight_decay"]), beta1=float(STATE["mb_beta1"]), beta2=float(STATE["mb_beta2"]),
        batch_size=int(STATE["mb_batch"]), shuffle=bool(STATE["mb_shuffle"]), epochs=int(STATE["mb_epochs"]),
        regularization=STATE["mb_reg"], reg_rate=float(STATE["mb_reg_rate"]), seed=int(STATE["mb_seed"]),
        device=STATE["mb_device"], cudnn_deterministic=bool(STATE["mb_cudnn_det"]),
        cudnn_benchmark=bool(STATE["mb_cudnn_bench"]),
    )
    return RunConfig(data=data_cfg, model=spec, train=train)


def apply_pending() -> None:
    """A setup or a model handed over by the Runs page, a link or an upload."""
    loaded = STATE.pop("mb_loaded_model", None)
    if isinstance(loaded, TrainedModel):
        STATE["mb_trained"] = loaded
        STATE["mb_trained_source"] = "loaded"
        STATE.setdefault("mb_apply_config", loaded.config)
    pending = STATE.pop("mb_apply_config", None)
    if isinstance(pending, RunConfig):
        widgets_from_config(pending)


# ---------------------------------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------------------------------


def read_linked_setup() -> RunConfig | None:
    """The setup a shared link carries (each ignored or clamped value noted), or None."""
    seed = global_seed()
    base = RunConfig(data=DataConfig(seed=seed), train=TrainConfig(seed=seed, device=default_device()))
    return model_builder_io.read_url(base, {"lr": LR_OPTIONS, "reg_rate": REG_RATES})


def current_job():
    return STATE.get("mb_job")


def start_job(config: RunConfig, data: PreparedData, mode: str = "run") -> None:
    """Queue a run of ``config`` in a worker process (one a session)."""
    old = current_job()
    if old is not None:
        old.stop()
    initial, history = None, None
    trained = STATE.get("mb_trained")
    if STATE.get("mb_resume") and isinstance(trained, TrainedModel) and trained.config.model == config.model:
        initial, history = trained.state_dict, list(trained.history)
    plane = config.data.features if config.data.dataset != CSV_DATASET else None
    handle = get_pool().submit(
        config, data.arrays(), owner=STATE.setdefault("mb_owner", uuid.uuid4().hex), initial_state=initial,
        history=history, plane_features=plane, standardization=data.standardization, start_paused=mode != "run",
    )
    STATE["mb_job"] = handle
    STATE["mb_job_config"] = config
    STATE["mb_job_data"] = data
    STATE["mb_job_offset"] = int(history[-1]["epoch"]) if history else 0
    STATE.pop("mb_job_collected", None)
    if mode == "step":
        handle.step()


def collect_finished(view) -> None:
    """Once a run ends, keep its TrainedModel in ``mb_trained`` (what the weights panel and run store use)."""
    if view.active or STATE.get("mb_job_collected") == view.id:
        return
    STATE["mb_job_collected"] = view.id
    if view.status == "failed" or view.final_state is None:
        return
    config, data = STATE["mb_job_config"], STATE["mb_job_data"]
    STATE["mb_trained"] = make_trained_model(
        config, view.final_state, view.history, view.status, data,
        device=view.info.get("device", "cpu"), duration_s=view.stats.get("train_seconds", view.elapsed_s),
    )
    STATE["mb_trained_source"] = "trained"


# ---------------------------------------------------------------------------------------------------
# Page
# ---------------------------------------------------------------------------------------------------

st.title("Model Builder")
st.caption(
    "Build a dataset and a model, train it live in the background with real PyTorch, then test it. "
    "Every panel shows the code that does the same."
)
get_pool().prewarm(1)
apply_pending()
init_defaults()
linked = read_linked_setup()
if linked is not None:
    widgets_from_config(linked)
if "mb_notice" in STATE:
    st.info(STATE.pop("mb_notice"), icon=":material/info:")

job = current_job()
if job is not None:
    job.touch()

# ---- 1. Data -------------------------------------------------------------------------------------
st.header("1 · Data", divider="gray")
left, right = st.columns([1, 2])
with left:
    st.selectbox("Dataset", DATASETS, format_func=lambda d: DATASET_LABELS.get(d, d), key="mb_dataset")
    if STATE["mb_dataset"] == CSV_DATASET:
        upload = st.file_uploader("CSV file (header row, numeric feature columns, a target column)", type=["csv", "txt"],
                                  key="mb_csv_file")
        if upload is not None:
            raw = upload.getvalue()
            if STATE.get("mb_csv_bytes") != raw:
                STATE["mb_csv_bytes"], STATE["mb_csv_name"] = raw, upload.name
                STATE.pop("mb_csv_target", None)
        if STATE.get("mb_csv_bytes"):
            try:
                columns = csv_columns(STATE["mb_csv_bytes"])
                STATE["mb_csv_rows"] = max(0, STATE["mb_csv_bytes"].count(b"\n") - 1) or limits.MIN_SAMPLES
                if STATE.get("mb_csv_target") not in columns:
                    STATE["mb_csv_target"] = columns[-1]
                st.selectbox("Target column", columns, key="mb_csv_target")
                st.radio("Task", ["inferred", "classification", "regression"], horizontal=True, key="mb_csv_task",
                         help="Inferred: text or a few whole numbers mean classes; other numbers mean regression.")
            except PlaygroundError as exc:
                show_error(exc)
    else:
        sample_options = sorted({n for n in SAMPLE_OPTIONS if n <= limits.MAX_SAMPLES} | {int(STATE["mb_n_samples"])})
        st.select_slider("Samples", sample_options, key="mb_n_samples")
        st.slider("Noise", 0.0, 1.0, step=0.05, key="mb_noise")
        st.caption("Input features")
        feature_cols = st.columns(4)
        for i, feature in enumerate(FEATURES):
            feature_cols[i % 4].checkbox(FEATURE_LABELS[feature], key=f"mb_feat_{feature}")
    st.slider("Training share", 0.1, 0.9, step=0.05, key="mb_train_fraction")
    st.slider("Validation share", 0.0, 0.8, step=0.05, key="mb_val_fraction", help="The rest is the test split.")
    st.checkbox("Standardise features", key="mb_standardize",
                help="Subtract the mean and divide by the standard deviation of each feature, both fit on the "
                "training split only.")
    seed_col, regen_col = st.columns([1, 1], vertical_alignment="bottom")
    seed_col.number_input("Data seed", min_value=0, max_value=limits.MAX_SEED, step=1, key="mb_data_seed")
    regen_col.button("Regenerate", icon=":material/refresh:", key="mb_regenerate",
                     on_click=lambda: STATE.update(mb_data_seed=(int(STATE["mb_data_seed"]) + 1) % limits.MAX_SEED))

config: RunConfig | None = None
data: PreparedData | None = None
try:
    config = build_config()
    data = load_data(config.data)
    STATE["mb_config"] = config
except PlaygroundError as exc:
    with right:
        show_error(exc)

with right:
    if data is not None and config is not None:
        n_train, n_val, n_test = data.sizes
        st.markdown(f"**{n_train}** training, **{n_val}** validation, **{n_test}** test rows · "
                    f"task: **{data.task}** · features: {', '.join(data.feature_names)}")

# DataLoader panel
if data is not None and config is not None:
    with right:
        st.subheader("DataLoader")
        batch = min(config.train.batch_size, n_train)
        loader = DataLoader(TensorDataset(data.X_train, data.y_train), batch_size=batch, shuffle=config.train.shuffle,
                            generator=torch.Generator().manual_seed(config.train.seed))
        x, y = next(iter(loader))
        st.markdown(
            f"`DataLoader(train_set, batch_size={batch}, shuffle={config.train.shuffle})`: **{len(loader)}** batches "
            f"an epoch; one batch is x {list(x.shape)} `{x.dtype}` and y {list(y.shape)} `{y.dtype}`."
        )
        course = DataLoader(TensorDataset(data.X_train, data.y_train), batch_size=4, shuffle=True,
                            generator=torch.Generator().manual_seed(config.train.seed))
        cx, cy = next(iter(course))
        st.caption(f"The course's `DataLoader(dataset, batch_size=4, shuffle=True)` gives {len(course)} batches; its first:")
        c1, c2 = st.columns([3, 2])
        c1.code(f"x = {cx}\n# x.shape = {list(cx.shape)}", language="python")
        c2.code(f"y = {cy}\n# y.shape = {list(cy.shape)}", language="python")
        if len(x) > limits.MAX_DATALOADER_PREVIEW:
            st.caption(f"Your first batch (first {limits.MAX_DATALOADER_PREVIEW} of {len(x)} rows):")
        else:
            st.caption("Your first batch:")
        st.code(f"x = {x[: limits.MAX_DATALOADER_PREVIEW]}\ny = {y[: limits.MAX_DATALOADER_PREVIEW]}", language="python")
    show_code(builder_code.dataset_code(config.data) + "\n" + builder_code.dataloader_code(config.train),
              title="Code: Dataset and DataLoader", expanded=False)

# ---- 2. Model ------------------------------------------------------------------------------------
st.header("2 · Model", divider="gray")
left, right = st.columns([1, 2])
with left:
    st.number_input("Hidden layers", min_value=0, max_value=limits.MAX_HIDDEN_LAYERS, step=1, key="mb_layers")
    for i in range(int(STATE["mb_layers"])):
        STATE.setdefault(f"mb_width_{i}", 8)
        STATE.setdefault(f"mb_act_{i}", "tanh")
        c1, c2 = st.columns(2)
        c1.number_input(f"Layer {i + 1} neurons", min_value=1, max_value=limits.MAX_LAYER_WIDTH, step=1, key=f"mb_width_{i}")
        c2.selectbox(f"Layer {i + 1} activation", ACTIVATIONS, format_func=ACTIVATION_LABELS.get, key=f"mb_act_{i}")
    st.slider("Dropout", 0.0, 0.8, step=0.05, key="mb_dropout", help="nn.Dropout after each hidden layer; off in model.eval().")
    st.caption("The course's example: `nn.Linear(32, 64)` has weight of shape "
               f"{list(torch.nn.Linear(32, 64).weight.shape)} and bias of shape {list(torch.nn.Linear(32, 64).bias.shape)}.")
if config is not None:
    try:
        config = build_config()
        STATE["mb_config"] = config
    except PlaygroundError as exc:
        with right:
            show_error(exc)
if config is not None:
    spec = config.model
    torch.manual_seed(config.train.seed)
    model = build_model(spec)
    with right:
        out_note = "logits for CrossEntropyLoss (Softmax shows them as probabilities)" if spec.task == "classification" \
            else "one value for MSELoss"
        st.markdown(f"**{parameter_count(spec):,}** parameters · output: {spec.out_features} {out_note}")
        st.code(str(model), language="text")
        st.dataframe(pd.DataFrame(layer_table(model)), hide_index=True, width="stretch")
    show_code(builder_code.model_code(spec) + "\n" + builder_code.loss_optimizer_code(spec, config.train),
              title="Code: model, loss and optimizer", expanded=False)

# ---- 3. Training ---------------------------------------------------------------------------------
st.header("3 · Training", divider="gray")
left, right = st.columns([1, 2])
with left:
    st.radio("Optimizer", OPTIMIZERS, format_func=lambda o: {"sgd": "SGD", "adam": "Adam"}[o], horizontal=True,
             key="mb_optimizer")
    lr_options = sorted(set(LR_OPTIONS) | {float(STATE["mb_lr"])})
    st.select_slider("Learning rate", lr_options, format_func=lambda v: f"{v:g}", key="mb_lr")
    if STATE["mb_optimizer"] == "sgd":
        c1, c2 = st.columns(2)
        c1.slider("Momentum", 0.0, 0.99, step=0.01, key="mb_momentum")
        c2.number_input("Weight decay", 0.0, 1.0, step=1e-4, format="%g", key="mb_weight_decay")
    else:
        c1, c2, c3 = st.columns(3)
        c1.slider("beta1", 0.0, 0.999, step=0.001, format="%.3f", key="mb_beta1")
        c2.slider("beta2", 0.0, 0.9999, step=0.0001, format="%.4f", key="mb_beta2")
        c3.number_input("Weight decay", 0.0, 1.0, step=1e-4, format="%g", key="mb_weight_decay")
    c1, c2 = st.columns(2)
    c1.number_input("Batch size", min_value=1, max_value=limits.MAX_BATCH_SIZE, step=1, key="mb_batch")
    c2.number_input("Epochs", min_value=1, max_value=limits.MAX_EPOCHS, step=10, key="mb_epochs")
    st.checkbox("Shuffle each epoch", key="mb_shuffle")
    c1, c2 = st.columns(2)
    c1.selectbox("Regularisation", REGULARIZATIONS, format_func=lambda r: {"none": "None", "l1": "L1", "l2": "L2"}[r],
                 key="mb_reg")
    reg_options = sorted(set(REG_RATES) | {float(STATE["mb_reg_rate"])})
    c2.select_slider("Regularisation rate", reg_options, format_func=lambda v: f"{v:g}", key="mb_reg_rate")
    c1, c2 = st.columns(2)
    c1.number_input("Seed", min_value=0, max_value=limits.MAX_SEED, step=1, key="mb_seed",
                    help="torch.manual_seed(seed) before the model is built; it also seeds the shuffling.")
    devices = available_devices()
    c2.selectbox("Device", [d.name for d in devices], format_func={d.name: d.label for d in devices}.get, key="mb_device")
    c1, c2 = st.columns(2)
    c1.checkbox("cudnn.deterministic", key="mb_cudnn_det", help="True: the same result every run (on a GPU).")
    c2.checkbox("cudnn.benchmark", key="mb_cudnn_bench", help="True: cuDNN tries kernels and keeps the fastest; "
                "faster, but results can change from run to run.")
    st.caption("Reproducibility as the course sets it: `torch.backends.cudnn.deterministic = True` and "
               "`torch.backends.cudnn.benchmark = False`; the reverse trades reproducibility for speed.")

if config is not None:
    try:
        config = build_config()
        STATE["mb_config"] = config
    except PlaygroundError as exc:
        show_error(exc)
        config = None

job = current_job()
view = job.snapshot() if job is not None else None
with right:
    trained = STATE.get("mb_trained")
    if isinstance(trained, TrainedModel) and config is not None and trained.config.model == config.model and not (view and view.active):
        st.checkbox("Continue from the current model's weights (a new optimizer; the epochs continue)", key="mb_resume")
    b = st.columns(5)
    play = b[0].button("Play", icon=":material/play_arrow:", key="mb_play", type="primary", disabled=config is None)
    pause = b[1].button("Pause", icon=":material/pause:", key="mb_pause", disabled=not (view and view.active))
    step = b[2].button("Step", icon=":material/skip_next:", key="mb_step", disabled=config is None,
                       help="Train one epoch, then pause.")
    stop = b[3].button("Stop", icon=":material/stop:", key="mb_stop", disabled=not (view and view.active),
                       help="Stop now and keep the model as it is.")
    reset = b[4].button("Reset", icon=":material/restart_alt:", key="mb_reset",
                        help="Stop and forget this run: back to the seed's initial weights.")
    try:
        if play and config is not None and data is not None:
            if view is not None and view.active:
                job.play()
            elif STATE.get("mb_resume") or not model_builder_io.open_kept_run_instead(config):
                start_job(config, data, "run")
            st.rerun()
        if pause and job is not None:
            job.pause()
            st.rerun()
        if step and config is not None and data is not None:
            if view is not None and view.active:
                job.step()
            else:
                start_job(config, data, "step")
            st.rerun()
        if stop and job is not None:
            job.stop()
            job.wait(5)
            st.rerun()
        if reset:
            if job is not None:
                job.stop()
            for key in ("mb_job", "mb_job_config", "mb_job_data", "mb_job_collected", "mb_trained", "mb_trained_source"):
                STATE.pop(key, None)
            st.rerun()
    except PlaygroundError as exc:
        show_error(exc)
    if config is not None and data is not None and config.train.batch_size > data.sizes[0]:
        st.info(f"The batch size {config.train.batch_size} is larger than the {data.sizes[0]} training rows, so it "
                f"is clamped to {data.sizes[0]}: one batch an epoch (full batch).", icon=":material/info:")


def cached(name: str, inputs: tuple, build):
    """``build()``, reused while ``inputs`` are the same objects as last time (this session's memo)."""
    return STATE.setdefault("mb_figure_memo", IdentityMemo()).get(name, inputs, build)


def initial_view(cfg: RunConfig, prepared: PreparedData) -> dict:
    """What the untrained (or the current trained) model computes, when no run is sending its view."""
    return cached("initial_view", (cfg, prepared, STATE.get("mb_trained")), lambda: compute_initial_view(cfg, prepared))


def compute_initial_view(cfg: RunConfig, prepared: PreparedData) -> dict:
    trained_model = STATE.get("mb_trained")
    if isinstance(trained_model, TrainedModel) and trained_model.config.model == cfg.model:
        model = trained_model.build()
        epoch = int(trained_model.history[-1]["epoch"]) if trained_model.history else 0
    else:
        torch.manual_seed(cfg.train.seed)
        model = build_model(cfg.model)
        epoch = 0
    out = {"weights": layer_weights(model), "epoch": epoch}
    if cfg.data.dataset != CSV_DATASET:
        out["heatmap"] = heatmap(model, cfg.data.features, prepared.standardization, prepared.task)
        out["thumbnails"] = neuron_thumbnails(model, cfg.data.features, prepared.standardization)
    return out


page_refresh = refresh_interval(view.status if view is not None else None)
pictures_refresh = pictures_interval(view.status if view is not None else None)


def live_run():
    """(handle, snapshot, config, data) of the run shown: this session's job, or the settings before any."""
    handle = current_job()
    snap = handle.snapshot() if handle is not None else None
    cfg = STATE.get("mb_job_config") if snap is not None else STATE.get("mb_config")
    prepared = STATE.get("mb_job_data") if snap is not None else data
    return handle, snap, cfg, prepared


@st.fragment(run_every=page_refresh)
def live_status() -> None:
    """The run as it is now: epoch, progress, losses and the curves. Redrawn often while it trains."""
    handle, snap, cfg, prepared = live_run()
    if snap is not None and cfg is not None:
        collect_finished(snap)
        target = cfg.train.epochs + STATE.get("mb_job_offset", 0)
        label = {"queued": "waiting for a free trainer", "starting": "starting", "running": "training",
                 "pausing": "pausing", "paused": "paused", "finished": "finished", "stopped": "stopped", "diverged": "diverged",
                 "failed": "failed"}[snap.status]
        where = f" on {snap.info['device']}" if snap.info.get("device") else ""
        st.markdown(f"**Epoch {snap.epoch}** · {label}{where}" +
                    (f" · position {snap.queue_position} in the queue" if snap.queue_position else ""))
        st.progress(min(1.0, snap.epoch / max(target, 1)))
        if snap.status == "diverged":
            st.error(snap.message, icon=":material/warning:")
        elif snap.status == "stopped" and snap.message:  # stopped by the server (a budget), not by the user
            st.warning(snap.message, icon=":material/timer:")
        elif snap.status == "failed":
            st.error(snap.message, icon=":material/error:")
            if snap.detail:
                st.caption(snap.detail)
        if snap.info.get("batch_clamped"):
            st.caption(f"Batch size clamped to the {snap.info['n_train']} training rows.")
        if snap.history:
            last = snap.history[-1]
            parts = [f"train loss {last['train_loss']:.4f}", f"validation loss {last['val_loss']:.4f}"]
            if "train_acc" in last:
                parts += [f"train accuracy {last['train_acc']:.3f}", f"validation accuracy {last['val_acc']:.3f}"]
            st.caption(" · ".join(parts))
            curves = cached("curves", (handle.job, len(snap.history), cfg), lambda: curves_figure(snap.history, cfg.model.task))
            st.plotly_chart(curves, key="mb_curves", width="stretch")
    elif cfg is not None and prepared is not None:
        st.markdown("**Epoch 0** · press Play to train; the picture shows what the untrained model computes.")
    if snap is not None and refresh_interval(snap.status) != page_refresh:
        st.rerun()  # the run started, paused or ended: redraw the whole page (buttons, results) and reset the timers


@st.fragment(run_every=pictures_refresh)
def live_pictures() -> None:
    """What the model computes: decision boundary, network, neurons. Redrawn about once a second while it
    trains: two Plotly figures cost the browser far more to draw than the epoch line and the curves."""
    _, snap, cfg, prepared = live_run()
    if cfg is None or prepared is None:
        return
    live = snap.view if snap is not None and snap.status != "failed" else None
    if live is None:
        live = initial_view(cfg, prepared)
    c1, c2 = st.columns([3, 2])
    with c1:
        if live.get("heatmap") is not None and prepared.points_train is not None:
            t1, t2 = st.columns(2)
            show_test = t1.toggle("Show test points", key="mb_show_test")
            discretize = t2.toggle("Discretize", key="mb_discretize")
            points = [(prepared.points_train.numpy(), prepared.y_train.numpy(), "training points")]
            if show_test:
                points.append((prepared.points_test.numpy(), prepared.y_test.numpy(), "test points"))
            boundary = cached("boundary", (live, prepared, show_test, discretize), lambda: boundary_figure(
                live["heatmap"], points, discretize=discretize, n_classes=prepared.n_outputs))
            st.plotly_chart(boundary, key="mb_heatmap", width="content")
            st.caption("Decision boundary over the input plane" if prepared.task == "classification"
                       else "Regression surface over the input plane")
        else:
            st.caption("A CSV's inputs are not a plane: see the curves and the test figures.")
    with c2:
        network = cached("network", (live, cfg, prepared), lambda: network_figure(
            cfg.model.widths, live.get("weights"), labels=prepared.feature_names))
        st.plotly_chart(network, key="mb_network", width="stretch")
        st.caption("Links: blue positive, orange negative, thicker is larger |weight|.")
        thumbs = cached("thumbnails", (live,), lambda: thumbnails_image(live.get("thumbnails") or []))
        if thumbs is not None:
            st.image(thumbs, caption="What each hidden neuron computes over the plane (a row a layer; orange low, blue high).")


if config is not None or current_job() is not None:
    with right:  # beside the training settings, under the buttons
        live_status()
        live_pictures()
if config is not None:
    show_code(builder_code.seed_code(config.train.seed, config.train) + "\n" + builder_code.training_code(config),
              title="Code: seeds, cudnn flags, training and validation loops", expanded=False)

# ---- 4. Evaluation and test ----------------------------------------------------------------------
st.header("4 · Evaluation and test", divider="gray")
trained = STATE.get("mb_trained")
if not isinstance(trained, TrainedModel):
    st.caption("Train a model (or load one) to test it on the test split.")
else:
    try:
        job_data = STATE.get("mb_job_data")
        if isinstance(job_data, PreparedData) and STATE.get("mb_job_config") == trained.config:
            test_data = job_data
        else:
            test_data = load_data(trained.config.data)
        outputs = predict_test(trained, test_data)
        metrics = trained.test_metrics or make_trained_model(
            trained.config, trained.state_dict, list(trained.history), trained.status, test_data).test_metrics
        history = trained.history
        title = {"finished": "finished", "stopped": "stopped early", "diverged": "diverged"}.get(trained.status, trained.status)
        source = "loaded" if STATE.get("mb_trained_source") == "loaded" else "trained"
        st.markdown(f"Model {source}, {title} after **{len(history)}** epochs"
                    + (f" in {trained.duration_s:.1f} s on {trained.device}" if trained.duration_s else "")
                    + f"; tested on **{len(test_data.y_test)}** held-out rows.")
        if config is not None and trained.config != config:
            st.caption("These are the results of the last run; the settings above have changed since.")
        if test_data.task == "classification":
            m1, m2 = st.columns(2)
            m1.metric("Test accuracy", f"{metrics['accuracy']:.3f}")
            m2.metric("Test rows", metrics["n"])
            c1, c2 = st.columns(2)
            with c1:
                st.caption("Confusion matrix (rows: true class, columns: predicted)")
                st.plotly_chart(confusion_figure(metrics["confusion"], test_data.classes), key="mb_confusion")
            with c2:
                per_class = pd.DataFrame(metrics["per_class"], index=list(test_data.classes))
                st.caption("Per class: precision, recall, F1, support")
                st.dataframe(per_class, width="stretch")
        else:
            m1, m2, m3 = st.columns(3)
            m1.metric("Test MSE", f"{metrics['mse']:.4f}")
            m2.metric("Test MAE", f"{metrics['mae']:.4f}")
            m3.metric("Test rows", metrics["n"])
            st.plotly_chart(predicted_vs_true_figure(outputs.numpy(), test_data.y_test.numpy()), key="mb_pred_true")
        table = predictions_table(outputs, test_data.X_test, test_data.y_test, test_data.task,
                                  test_data.feature_names, test_data.classes)
        st.dataframe(table, width="stretch", height=240, key="mb_predictions")
        st.download_button("Download predictions (CSV)", table.to_csv(index=False).encode(), file_name="predictions.csv",
                           mime="text/csv", icon=":material/download:", key="mb_download_predictions")
    except Exception as exc:  # a model that does not fit its data (or a CSV not uploaded): a sentence, not a dead page
        show_error(exc)
    show_code(builder_code.test_code(trained.config.model.task), title="Code: test loop", expanded=False)


# ---- Save and load (issue 5) ---------------------------------------------------------------------
def render_io() -> None:
    """The weights and run-store panel (views/model_builder_io.py)."""
    model_builder_io.render(STATE.get("mb_trained"), STATE["mb_config"])


save_settings()

st.subheader("Save and load")
if "mb_config" in STATE:
    render_io()
    if config is not None:
        # Last, once a linked ?run=<id> has been opened: the URL becomes the setup shown.
        model_builder_io.sync_url(config)
else:
    st.caption("Fix the settings above to save or load a model.")
