"""Code export: the downloaded train.py, run in a subprocess on the CPU, gives the app's per-epoch losses
(to 1e-6) for the same configuration and seed, and the weights it saves load into the app."""

from __future__ import annotations

import ast
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from playground.builder import datasets, train_script, training
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.model import TrainedModel
from playground.runs import weights_import

EPOCHS = 3

CONFIGS = {
    "defaults": RunConfig(),
    "spiral3-sgd-dropout-l2": RunConfig(
        data=DataConfig(dataset="spiral3", n_samples=300, features=("x1", "x2", "sin_x1"), standardize=True, seed=4),
        model=ModelSpec(in_features=3, hidden=(8, 6), activations=("relu", "leaky_relu"), out_features=3, dropout=0.2),
        train=TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, batch_size=7, regularization="l2", reg_rate=0.001, seed=5),
    ),
    "plane-regression-l1-no-shuffle-no-validation": RunConfig(
        data=DataConfig(dataset="plane", val_fraction=0.0, features=("x1", "x2", "x1*x2")),
        model=ModelSpec(in_features=3, hidden=(4,), activations=("linear",), out_features=1, task="regression"),
        train=TrainConfig(shuffle=False, regularization="l1", reg_rate=0.01, batch_size=1000, seed=9),
    ),
    "xor-sigmoid-adam-no-hidden": RunConfig(
        data=DataConfig(dataset="xor", features=("x1", "x2", "x1^2", "x2^2", "x1*x2", "sin_x2"), n_samples=200),
        model=ModelSpec(in_features=6, hidden=(), activations=(), out_features=2),
        train=TrainConfig(optimizer="adam", lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.01, batch_size=16, seed=11),
    ),
}

CSV_TEXT = "a;b;label\n" + "\n".join(
    f"{(i * 37 % 101) / 10:.2f};{(i * 53 % 97) / 10:.2f};{'yes' if (i * 37 % 101 + i * 53 % 97) % 3 else 'no'}"
    for i in range(120)
)


def run_export(config: RunConfig, folder: Path, extra: list[str] | None = None) -> dict:
    script = folder / "train.py"
    script.write_text(train_script.render(config))
    result = subprocess.run(
        [sys.executable, str(script), "--epochs", str(EPOCHS), "--device", "cpu", "--out", str(folder / "model.pt"),
         "--history", str(folder / "history.json"), *(extra or [])],
        cwd=folder, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((folder / "history.json").read_text())


def app_run(config: RunConfig, csv: bytes | None = None) -> tuple[training.Trainer, datasets.PreparedData]:
    prepared = datasets.prepare_data(config.data, csv)
    trainer = training.Trainer(config, prepared.arrays(), device="cpu")
    for _ in range(EPOCHS):
        trainer.run_epoch()
    return trainer, prepared


def assert_same_history(exported: list[dict], engine: list[dict]) -> None:
    assert len(exported) == len(engine) == EPOCHS
    for mine, theirs in zip(exported, engine, strict=True):
        assert set(mine) == set(theirs)
        for key, value in mine.items():
            other = theirs[key]
            if isinstance(value, float) and math.isnan(value) or value is None:
                assert other is None or math.isnan(other), key
            else:
                assert value == pytest.approx(other, abs=1e-6, rel=0), key


@pytest.mark.parametrize("name", list(CONFIGS))
def test_exported_script_reproduces_the_app(name, tmp_path):
    config = CONFIGS[name]
    exported = run_export(config, tmp_path)
    trainer, prepared = app_run(config)
    assert_same_history(exported["history"], trainer.history)
    assert exported["standardization"] == prepared.standardization

    # The saved weights load into the app (the layers.-prefixed keys of Net are understood) ...
    loaded = weights_import.read_weights("model.pt", (tmp_path / "model.pt").read_bytes(), config.model)
    for key, value in trainer.state_dict_cpu().items():
        assert torch.allclose(loaded.state_dict[key], value, atol=1e-6, rtol=0), key
    # ... and predict as the app's model does.
    model = TrainedModel(config=config, state_dict=loaded.state_dict).build()
    with torch.no_grad():
        trainer.model.eval()
        assert torch.allclose(model(prepared.X_test), trainer.model(prepared.X_test), atol=1e-6)


def test_exported_script_reproduces_a_csv_run(tmp_path):
    csv = CSV_TEXT.encode()
    (tmp_path / "data.csv").write_bytes(csv)
    config = RunConfig(
        data=DataConfig(dataset="csv", features=(), csv_name="data.csv", csv_target="label", csv_task="classification",
                        standardize=True),
        model=ModelSpec(in_features=2, hidden=(5,), activations=("tanh",), out_features=2),
        train=TrainConfig(batch_size=8, seed=2),
    )
    exported = run_export(config, tmp_path, ["--csv", str(tmp_path / "data.csv")])
    trainer, prepared = app_run(config, csv)
    assert_same_history(exported["history"], trainer.history)
    assert tuple(exported["features"]) == prepared.feature_names


def test_the_script_has_the_course_shapes():
    config = CONFIGS["spiral3-sgd-dropout-l2"]
    code = train_script.render(config)
    ast.parse(code)
    for piece in (
        "class PlaygroundDataset(Dataset):", "def __getitem__", "def __len__",
        "DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=SHUFFLE, generator=g)",
        "class Net(nn.Module):", "nn.Sequential(", "nn.Linear(3, 8)", "nn.ReLU()", "nn.Dropout(0.2)",
        "nn.CrossEntropyLoss()", "torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9",
        "model.train()", "optimizer.zero_grad()", "(loss + REG_RATE * sum(w.pow(2).sum() for w in weights)).backward()",
        "optimizer.step()", "model.eval()", "with torch.no_grad():", "loss.item() * len(x)",
        "torch.save(model.state_dict(), ARGS.out)", "torch.manual_seed(seed)", "np.random.seed(seed)",
        "torch.cuda.manual_seed_all(seed)", "torch.backends.cudnn.deterministic = True",
        "torch.backends.cudnn.benchmark = False", "def make_spiral3(",
    ):
        assert piece in code, piece
    assert not re.search(r"^\s*(from|import) playground", code, re.MULTILINE)  # self-contained
    assert "loss.backward()" in train_script.render(RunConfig())  # without a penalty, the course's line
