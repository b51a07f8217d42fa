"""``train.py --layer-stats``: the exported script (run where the project cannot be imported) prints each layer's
figures every epoch, and they are the engine's (Trainer with its per-layer statistics) for the same run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from playground.builder import codegen, datasets, layer_stats
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.training import Trainer
from tests.unit.builder.test_codegen import isolated_env

EPOCHS = 3
CONFIGS = {
    # ReLU-family layers (dead units), dropout (its random masks), an L2 penalty (in the gradients), SGD
    "relu-dropout-l2-sgd": RunConfig(
        data=DataConfig(dataset="spiral3", n_samples=150, seed=4),
        model=ModelSpec(in_features=2, hidden=(8, 6), activations=("relu", "leaky_relu"), out_features=3, dropout=0.2),
        train=TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, batch_size=7, regularization="l2", reg_rate=0.001,
                          seed=5)),
}


def printed(config: RunConfig, folder, *flags: str) -> tuple[list[dict], str]:
    """The JSON lines ``train.py`` printed for the layers, and all it printed."""
    path = folder / "train.py"
    path.write_text(codegen.script(config))
    result = subprocess.run([sys.executable, str(path), "--epochs", str(EPOCHS), "--device", "cpu", "--out",
                             str(folder / "model.pt"), "--history", str(folder / "history.json"), *flags], cwd=folder, capture_output=True, text=True,
                            timeout=240, env=isolated_env())
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line[len("layer "):]) for line in result.stdout.splitlines() if line.startswith("layer ")]
    return lines, result.stdout


@pytest.mark.parametrize("name", list(CONFIGS))
def test_train_py_prints_the_engines_per_layer_figures(name, tmp_path):
    config = CONFIGS[name]
    lines, _ = printed(config, tmp_path, "--layer-stats")
    trainer = Trainer(config, datasets.prepare_data(config.data).arrays(), device="cpu", layer_stats_every=1)
    engine = []
    for epoch in range(1, EPOCHS + 1):
        trainer.run_epoch()
        engine += [{"epoch": epoch, **layer} for layer in trainer.last_layers]
    assert len(lines) == EPOCHS * (len(config.model.hidden) + 1)
    # Equal: the same run (the same batches, dropout masks and updates, bit for bit on the CPU) through the same
    # functions, printed at the 6 significant digits the page keeps.
    assert lines == engine
    kept = json.loads((tmp_path / "history.json").read_text())["history"]  # --history keeps them as the app does
    assert [row["layers"] for row in kept] == [
        [{k: v for k, v in line.items() if k != "epoch"} for line in lines if line["epoch"] == epoch]
        for epoch in range(1, EPOCHS + 1)]
    assert lines[0]["dead"] is not None and lines[-1]["dead"] is None  # a ReLU layer's share; the output's none


def test_without_the_flag_train_py_prints_no_figures(tmp_path):
    lines, out = printed(RunConfig(data=DataConfig(n_samples=120)), tmp_path)
    assert lines == [] and "epoch    3" in out


def test_the_figures_in_train_py_are_the_playgrounds_own_functions():
    code = codegen.script(RunConfig())
    for function in codegen.LAYER_STATS_FUNCTIONS:
        assert codegen._source(function) in code
    assert f"BINS = {layer_stats.BINS}" in code and "import playground" not in code
    assert "--layer-stats" in code and 'action="store_true"' in code  # off unless asked for
