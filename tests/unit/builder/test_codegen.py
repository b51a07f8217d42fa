"""The one code generator: every panel runs exactly as shown (a subprocess in an empty folder, the project not
importable) and prints what the page shows; train.py reproduces the app's per-epoch losses to 1e-6 on the CPU
for every dataset, task and setting; every registry row reaches the code."""

from __future__ import annotations

import ast
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from playground.builder import codegen, datasets, registry, training
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.evaluation import make_trained_model
from playground.builder.model import TrainedModel, build_model, parameter_count
from playground.runs import export, weights_import

EPOCHS = 3


def regression(dataset: str = "plane", features: tuple[str, ...] = ("x1", "x2"), hidden: tuple[int, ...] = (6,)) -> dict:
    return {"data": DataConfig(dataset=dataset, features=features),
            "model": ModelSpec(in_features=len(features), hidden=hidden, activations=("tanh",) * len(hidden),
                               out_features=1, task="regression")}


CONFIGS = {
    "defaults": RunConfig(),
    "spiral3-sgd-nesterov-dropout-l2": RunConfig(
        data=DataConfig(dataset="spiral3", n_samples=300, features=("x1", "x2", "sin_x1"), standardize=True, seed=4),
        model=ModelSpec(in_features=3, hidden=(8, 6), activations=("relu", "leaky_relu"), out_features=3, dropout=0.2),
        train=TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, nesterov=True, batch_size=7, regularization="l2",
                          reg_rate=0.001, seed=5),
    ),
    "plane-l1-loss-l1-penalty-no-shuffle-no-validation": RunConfig(
        data=DataConfig(dataset="plane", val_fraction=0.0, features=("x1", "x2", "x1*x2")),
        model=ModelSpec(in_features=3, hidden=(4,), activations=("linear",), out_features=1, task="regression"),
        train=TrainConfig(shuffle=False, regularization="l1", reg_rate=0.01, batch_size=1000, seed=9, loss="l1"),
    ),
    "xor-sigmoid-adamw-no-hidden": RunConfig(
        data=DataConfig(dataset="xor", features=("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin_x2"), n_samples=200),
        model=ModelSpec(in_features=6, hidden=(), activations=(), out_features=2),
        train=TrainConfig(optimizer="adamw", lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.01, batch_size=16, seed=11),
    ),
    "multigauss-rmsprop-huber-standardised-target": RunConfig(
        data=DataConfig(dataset="multigauss", n_samples=240, noise=0.3, standardize_target=True, seed=2),
        model=ModelSpec(in_features=2, hidden=(10,), activations=("sigmoid",), out_features=1, task="regression"),
        train=TrainConfig(optimizer="rmsprop", lr=0.003, alpha=0.9, momentum=0.5, weight_decay=0.001, loss="huber",
                          batch_size=12),
    ),
    "gaussian-sgd-keep-best": RunConfig(
        data=DataConfig(dataset="gaussian", n_samples=120, noise=0.6, train_fraction=0.5, val_fraction=0.3),
        model=ModelSpec(in_features=2, hidden=(16, 16), activations=("relu", "relu"), out_features=2),
        train=TrainConfig(optimizer="sgd", lr=1.0, batch_size=4, epochs=40, keep_best=True, patience=2, seed=3),
    ),
    "circle-adam-seeded": RunConfig(
        data=DataConfig(dataset="circle", n_samples=150, noise=0.25, seed=8),
        train=TrainConfig(lr=0.003, seed=21, batch_size=30),
    ),
    "spiral-blobs-features": RunConfig(
        data=DataConfig(dataset="spiral", n_samples=100, features=("x1", "x2", "x1^2", "x2^2")),
        model=ModelSpec(in_features=4, hidden=(5,), activations=("tanh",), out_features=2),
        train=TrainConfig(batch_size=100),
    ),
    "blobs-three-classes": RunConfig(
        data=DataConfig(dataset="blobs", n_samples=90),
        model=ModelSpec(in_features=2, hidden=(4,), activations=("relu",), out_features=3),
    ),
}

CSV_CLASSES = "a;b;label\n" + "\n".join(
    f"{(i * 37 % 101) / 10:.2f};{(i * 53 % 97) / 10:.2f};{'yes' if (i * 37 % 101 + i * 53 % 97) % 3 else 'no'}"
    for i in range(120)
)
CSV_VALUES = "x,note,z,price\n" + "\n".join(  # no trailing newline; a text column; a target of about 150
    f"{i % 17 / 3:.3f},n{i},{(i * 7) % 11 - 5},{150 + 30 * math.sin(i) + (i % 17) * 2:.2f}" for i in range(80)
)


def isolated_env() -> dict[str, str]:
    """The environment of a learner's shell: the project is not on the path."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}


def run_code(code: str, folder: Path, *args: str, name: str = "shown.py") -> str:
    """Run ``code`` exactly as shown, in ``folder`` (nothing of the project there, nor on the path)."""
    path = folder / name
    path.write_text(code)
    result = subprocess.run([sys.executable, str(path), *args], cwd=folder, capture_output=True, text=True, timeout=240,
                            env=isolated_env())
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def run_script(config: RunConfig, folder: Path, *extra: str, epochs: int = EPOCHS) -> dict:
    run_code(codegen.script(config), folder, "--epochs", str(epochs), "--device", "cpu", "--out",
             str(folder / "model.pt"), "--history", str(folder / "history.json"), *extra, name="train.py")
    return json.loads((folder / "history.json").read_text())


def app_run(config: RunConfig, csv: bytes | None = None, epochs: int = EPOCHS) -> tuple[training.Trainer, datasets.PreparedData, str]:
    prepared = datasets.prepare_data(config.data, csv)
    trainer = training.Trainer(config, prepared.arrays(), device="cpu")
    status = trainer.fit(epochs)
    return trainer, prepared, status


def assert_same_history(exported: list[dict], engine: list[dict]) -> None:
    assert len(exported) == len(engine)
    for mine, theirs in zip(exported, engine, strict=True):
        assert set(mine) == set(theirs)
        for key, value in mine.items():
            other = theirs[key]
            if value is None or isinstance(value, float) and math.isnan(value):
                assert other is None or math.isnan(other), key
            else:
                assert value == pytest.approx(other, abs=1e-6, rel=0), key


@pytest.mark.parametrize("name", list(CONFIGS))
def test_train_py_reproduces_the_app(name, tmp_path):
    config = CONFIGS[name]
    epochs = config.train.epochs if config.train.keep_best else EPOCHS
    exported = run_script(config, tmp_path, epochs=epochs)
    trainer, prepared, _ = app_run(config, epochs=epochs)
    assert_same_history(exported["history"], trainer.history)
    assert exported["standardization"] == prepared.standardization
    assert exported["target_standardization"] == prepared.target_standardization
    # The saved weights load into the app unchanged (the same layers.0.weight keys) and predict alike.
    loaded = weights_import.read_weights("model.pt", (tmp_path / "model.pt").read_bytes(), config.model)
    assert list(loaded.state_dict) == list(trainer.state_dict_cpu()) and not loaded.notes
    for key, value in trainer.state_dict_cpu().items():
        assert torch.allclose(loaded.state_dict[key], value, atol=1e-6, rtol=0), key
    model = TrainedModel(config=config, state_dict=loaded.state_dict).build()
    with torch.no_grad():
        trainer.model.eval()
        assert torch.allclose(model(prepared.X_test), trainer.model(prepared.X_test), atol=1e-6)


def test_keeping_the_best_epoch_stops_early_and_keeps_that_epochs_weights(tmp_path):
    """The oracle is the history itself: the kept weights score the best validation loss of all epochs run."""
    config = CONFIGS["gaussian-sgd-keep-best"]
    trainer, prepared, status = app_run(config, epochs=config.train.epochs)
    assert status == "finished" and len(trainer.history) < config.train.epochs  # stopped early
    losses = [row["val_loss"] for row in trainer.history]
    best = min(range(len(losses)), key=losses.__getitem__)
    assert trainer.best_epoch == best + 1 and len(losses) - 1 - best == config.train.patience
    val_loss, _ = trainer.evaluate(trainer.X_val, trainer.y_val)
    assert val_loss == pytest.approx(losses[best], rel=1e-6)


@pytest.mark.parametrize("task", ["", "regression"])
def test_train_py_reproduces_a_csv_run_with_the_task_inferred_or_chosen(task, tmp_path):
    """The CSV has no trailing newline and a text column; the task is left at 'inferred' (the default) or set."""
    csv = CSV_VALUES.encode()
    (tmp_path / "prices.csv").write_bytes(csv)
    config = RunConfig(
        data=DataConfig(dataset="csv", features=(), n_samples=80, csv_name="prices.csv", csv_target="price",
                        csv_task=task, standardize=True, standardize_target=True),
        model=ModelSpec(in_features=2, hidden=(5,), activations=("tanh",), out_features=1, task="regression"),
        train=TrainConfig(batch_size=8, seed=2),
    )
    exported = run_script(config, tmp_path)  # --csv defaults to the uploaded file's name, beside the script
    trainer, prepared, _ = app_run(config, csv)
    assert_same_history(exported["history"], trainer.history)
    assert tuple(exported["features"]) == prepared.feature_names == ("x", "z")
    assert sum(prepared.sizes) == 80  # every row, though the file does not end with a newline


def test_train_py_reproduces_a_csv_classifier(tmp_path):
    csv = CSV_CLASSES.encode()
    (tmp_path / "data.csv").write_bytes(csv)
    config = RunConfig(
        data=DataConfig(dataset="csv", features=(), csv_name="data.csv", csv_target="label", standardize=True),
        model=ModelSpec(in_features=2, hidden=(5,), activations=("tanh",), out_features=2),
        train=TrainConfig(batch_size=8, seed=2),
    )
    exported = run_script(config, tmp_path, "--csv", str(tmp_path / "data.csv"))
    trainer, prepared, _ = app_run(config, csv)
    assert_same_history(exported["history"], trainer.history)


def test_train_py_without_its_csv_says_which_file_it_expects_and_where(tmp_path):
    """No raw FileNotFoundError: a sentence naming the file, the place it looked and --csv; the data panel too."""
    config = RunConfig(data=DataConfig(dataset="csv", features=(), csv_name="iris data.csv", csv_target="label"),
                       model=ModelSpec(in_features=2, hidden=(5,), activations=("tanh",), out_features=2))
    for code, name, hint in ((codegen.script(config), "train.py", "or give its path with --csv"),
                             (codegen.data_code(config), "shown.py", "")):
        (tmp_path / name).write_text(code)
        result = subprocess.run([sys.executable, name], cwd=tmp_path, capture_output=True, text=True, timeout=240,
                                env=isolated_env())
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
        expected = (f"Cannot find the CSV file 'iris data.csv': it was looked for at {tmp_path / 'iris data.csv'}. "
                    f"Put the CSV you uploaded to the playground there")
        assert result.stderr.startswith(expected), result.stderr
        assert hint in result.stderr


def test_the_data_panel_runs_as_shown_and_prints_what_the_page_shows(tmp_path):
    config = CONFIGS["spiral3-sgd-nesterov-dropout-l2"]
    out = run_code(codegen.data_code(config), tmp_path)
    data = datasets.prepare_data(config.data)
    assert f"rows: {data.sizes[0]} {data.sizes[1]} {data.sizes[2]}" in out
    loader = DataLoader(TensorDataset(data.X_train, data.y_train), batch_size=config.train.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(config.train.seed))
    x, y = next(iter(loader))  # what the page's DataLoader panel shows
    assert f"one batch: x {list(x.shape)} {x.dtype} y {list(y.shape)} {y.dtype}" in out
    assert f"{len(loader)} batches an epoch" in out


def test_the_data_panel_of_a_csv_runs_beside_the_file(tmp_path):
    (tmp_path / "data.csv").write_text(CSV_CLASSES)
    config = RunConfig(data=DataConfig(dataset="csv", features=(), csv_name="data.csv"),
                       model=ModelSpec(in_features=2, hidden=(5,), activations=("tanh",), out_features=2))
    out = run_code(codegen.data_code(config), tmp_path)
    data = datasets.prepare_data(config.data, CSV_CLASSES.encode())
    assert f"rows: {data.sizes[0]} {data.sizes[1]} {data.sizes[2]}" in out


@pytest.mark.parametrize("name", ["defaults", "spiral3-sgd-nesterov-dropout-l2"])
def test_the_model_panel_runs_as_shown_and_prints_the_pages_model(name, tmp_path):
    config = CONFIGS[name]
    out = run_code(codegen.model_code(config), tmp_path)
    torch.manual_seed(config.train.seed)
    model = build_model(config.model)
    assert str(model) in out  # the page's nn printout
    assert f"{parameter_count(config.model)} parameters" in out


@pytest.mark.parametrize("name", ["defaults", "multigauss-rmsprop-huber-standardised-target"])
def test_loading_the_downloaded_weights_with_the_pages_code_gives_the_pages_test_figures(name, tmp_path):
    """The course's save/load lines, verbatim, with the page's model class and the page's download."""
    config = CONFIGS[name]
    trainer, prepared, status = app_run(config)
    record = make_trained_model(config, trainer.state_dict_cpu(), trainer.history, status, prepared)
    (tmp_path / "model-download.pt").write_bytes(export.to_pt_bytes(record))
    code = codegen.load_code(config, "model-download.pt")
    assert "model.load_state_dict(torch.load('model-download.pt', weights_only=True))" in code
    out = run_code(code, tmp_path)
    metrics = record.test_metrics
    if config.model.task == "classification":
        assert f"test accuracy {metrics['accuracy']:.4f} on {metrics['n']} rows" in out
    else:
        shown = re.search(r"test MSE (\S+)  test MAE (\S+) on (\d+) rows", out)
        assert shown and float(shown.group(1)) == pytest.approx(metrics["mse"], rel=1e-4)
        assert float(shown.group(2)) == pytest.approx(metrics["mae"], rel=1e-4)


def non_default(setting: registry.Setting):
    """A valid value other than the default, as the widget would offer it."""
    if setting.kind == "bool":
        return not setting.default
    if setting.kind == "schedule":
        return ((2, 0.1),)
    if setting.kind == "choice":
        return next(o for o in setting.options if o not in (setting.default, registry.CSV, "cross_entropy", "mse"))
    if setting.steps:
        return next(s for s in reversed(setting.steps) if s != setting.default and s <= (setting.high or s))
    if setting.kind == "int":
        return int(setting.default) + 3
    if setting.kind == "float":
        value = round(min(setting.high * 0.7, (setting.default or 0) + (setting.high - setting.low) * 0.1), 4)
        return value
    return None


def config_with(setting: registry.Setting, value) -> RunConfig:
    """The defaults, with one setting changed (and what it needs to apply: SGD for momentum, a regression for
    the loss, a penalty for its rate...)."""
    base = RunConfig()
    if setting.section == "data" and setting.name in ("standardize_target",) or setting.name == "loss":
        base = RunConfig(**regression())
    train_needs = {"momentum": {"optimizer": "sgd"}, "nesterov": {"optimizer": "sgd", "momentum": 0.9},
                   "alpha": {"optimizer": "rmsprop"}, "reg_rate": {"regularization": "l2"}, "reg": {"reg_rate": 0.01},
                   "patience": {"keep_best": True}}
    base = base.with_train(**train_needs.get(setting.name, {}))
    section = getattr(base, setting.section)
    return replace(base, **{setting.section: replace(section, **{setting.attr: value})})


CODE_ROWS = [s for s in registry.SETTINGS if s.code and s.kind not in ("choices", "ints", "text", "device")
             and s.name not in ("csv_task", "dataset")]


@pytest.mark.parametrize("setting", CODE_ROWS, ids=[s.name for s in CODE_ROWS])
def test_every_registry_row_reaches_the_panel_and_train_py(setting):
    """A non-default value of every setting is written, as its row says, into train.py and into the panel of its
    section (data -> the Dataset/DataLoader panel, model -> the model panel)."""
    value = non_default(setting)
    config = config_with(setting, value)
    assert setting.shown(config.values()), setting.name
    text = setting.code_text(value)
    assert text and text in codegen.script(config), (setting.name, text)
    panel = {"data": codegen.data_code, "model": codegen.model_code}.get(setting.section)
    if panel is not None:
        assert text in panel(config), (setting.name, text)


def test_lists_and_choices_reach_the_code():
    config = CONFIGS["spiral3-sgd-nesterov-dropout-l2"]
    for code in (codegen.script(config), codegen.model_code(config)):
        assert "nn.Linear(3, 8)" in code and "nn.ReLU()" in code and "nn.LeakyReLU()" in code
    assert "torch.sin(x1)" in codegen.data_code(config) and "def make_spiral3(" in codegen.data_code(config)


def test_learning_rate_changes_during_a_run_are_reproduced(tmp_path):
    """A rate changed while the run trained is applied through param_groups at the same epoch in train.py."""
    config = CONFIGS["circle-adam-seeded"]
    prepared = datasets.prepare_data(config.data)
    trainer = training.Trainer(config, prepared.arrays(), device="cpu")
    trainer.run_epoch()
    trainer.set_lr(0.1)
    trainer.run_epoch()
    trainer.run_epoch()
    assert trainer.lr_changes == [(1, 0.1)]
    recorded = config.with_train(lr_changes=tuple(trainer.lr_changes))  # what the run keeps
    run_code(codegen.script(recorded), tmp_path, "--epochs", "3", "--history", str(tmp_path / "h.json"), name="train.py")
    assert_same_history(json.loads((tmp_path / "h.json").read_text())["history"], trainer.history)
    again = training.Trainer(recorded, prepared.arrays(), device="cpu")  # the recorded config trains alike
    again.fit(3)
    assert_same_history(again.history, trainer.history)


def test_the_script_has_the_course_shapes_and_no_playground_import():
    config = CONFIGS["spiral3-sgd-nesterov-dropout-l2"]
    code = codegen.script(config)
    ast.parse(code)
    for piece in (
        "class MyDataset(Dataset):", "def __getitem__", "def __len__",
        "DataLoader(train_set, batch_size=7, shuffle=True, generator=g)",
        "class Net(nn.Module):", "self.layers = nn.Sequential(", "nn.Linear(3, 8)", "nn.ReLU()", "nn.Dropout(0.2)",
        "nn.CrossEntropyLoss()", "torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True",
        "model.train()", "optimizer.zero_grad()", "(loss + penalty).backward()", "0.001 * sum(w.pow(2).sum()",
        "optimizer.step()", "model.eval()", "with torch.no_grad():", "loss.item() * len(x)",
        "torch.save(model.state_dict(), args.out)", "torch.manual_seed(seed)", "np.random.seed(seed)",
        "torch.cuda.manual_seed_all(seed)", "torch.backends.cudnn.deterministic = True",
        "torch.backends.cudnn.benchmark = False", "def make_spiral3(",
    ):
        assert piece in code, piece
    assert not re.search(r"^\s*(from|import) playground", code, re.MULTILINE)  # self-contained
    assert "loss.backward()" in codegen.script(RunConfig())  # without a penalty, the course's line


def test_hostile_names_stay_inside_strings_and_comments():
    """A CSV name or target with newlines, quotes and triple quotes cannot become code."""
    evil = 'x"""\nimport os; os.system("touch /tmp/pwned")  # \'\nprint(1)'
    config = RunConfig(
        data=DataConfig(dataset="csv", features=(), csv_name=evil + ".csv", csv_target=evil, csv_task="classification"),
        model=ModelSpec(in_features=2, hidden=(), activations=(), out_features=2),
    )
    for code in (codegen.script(config), codegen.data_code(config), codegen.load_code(config, "m.pt")):
        tree = ast.parse(code)
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "system"]
        assert not calls
        assert "\nimport os" not in code
