"""The formats a person keeps, pinned by schema: the spec JSON, the safetensors metadata, the .pt and
.safetensors keys, the history CSV and JSON, the link's keys and a kept run's record in the store. A renamed
key breaks files already downloaded, links already shared and stores already written: each must fail here."""

from __future__ import annotations

import io
import json
import math
import sqlite3

import safetensors
import safetensors.torch
import torch

from playground.runs import comparison, export, url_state
from playground.runs.store import SqliteRunStore
from tests import sample_runs

LAYER_KEYS = ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "layers.4.weight", "layers.4.bias"]
CONFIG_KEYS = {
    "data": {"csv_name", "csv_target", "csv_task", "dataset", "features", "n_samples", "noise", "seed", "standardize",
             "standardize_target", "train_fraction", "val_fraction"},
    "model": {"activations", "dropout", "hidden", "in_features", "out_features", "task"},
    "train": {"alpha", "batch_size", "beta1", "beta2", "cudnn_benchmark", "cudnn_deterministic", "device", "epochs",
              "keep_best", "loss", "lr", "lr_changes", "momentum", "nesterov", "optimizer", "patience", "reg_rate",
              "regularization", "seed", "shuffle", "weight_decay"},
}


def test_spec_json_keys_and_types():
    trained = sample_runs.make_trained()
    spec = json.loads(export.spec_json(trained, "model"))
    assert {key: type(value).__name__ for key, value in spec.items()} == {
        "format": "str", "version": "int", "config": "dict", "standardization": "dict", "classes": "list",
        "feature_names": "list", "state_dict_shapes": "dict", "test_metrics": "dict", "trained_on": "str",
        "how_to_load": "str", "load_code": "list",
    }
    assert spec["format"] == "pytorch-playground-spec" and spec["version"] == 1
    assert {section: set(values) for section, values in spec["config"].items()} == CONFIG_KEYS
    assert spec["state_dict_shapes"] == {"layers.0.weight": [8, 2], "layers.0.bias": [8], "layers.2.weight": [4, 8],
                                         "layers.2.bias": [4], "layers.4.weight": [3, 4], "layers.4.bias": [3]}
    assert set(spec["standardization"]) == {"mean", "std"}
    assert {"n", "accuracy", "confusion", "per_class"} <= set(spec["test_metrics"])
    assert all(isinstance(line, str) for line in spec["load_code"])
    assert "model.pt" in spec["how_to_load"] and "model.safetensors" in spec["how_to_load"]


def test_pt_keys_are_the_model_classes():
    trained = sample_runs.make_trained()
    loaded = torch.load(io.BytesIO(export.to_pt_bytes(trained)), weights_only=True)
    assert list(loaded) == LAYER_KEYS
    assert all(value.device.type == "cpu" for value in loaded.values())


def test_safetensors_keys_and_metadata_keys():
    trained = sample_runs.make_trained()
    data = export.to_safetensors_bytes(trained)
    assert sorted(safetensors.torch.load(data)) == sorted(LAYER_KEYS)
    header_length = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8:8 + header_length])["__metadata__"]
    assert set(metadata) == {"format", "playground_config", "playground_standardization", "playground_classes",
                             "playground_feature_names", "playground_test_metrics"}
    assert metadata["format"] == "pt"
    assert {section: set(v) for section, v in json.loads(metadata["playground_config"]).items()} == CONFIG_KEYS
    assert json.loads(metadata["playground_classes"]) == list(trained.classes)


def test_history_csv_columns_and_json_keys():
    trained = sample_runs.make_trained(epochs=2)
    table = comparison.history_table(trained.history)
    header = export.to_csv_bytes(table).decode().split("\r\n")[0]
    assert header == "epoch,train_loss,val_loss,train_acc,val_acc"
    regression = sample_runs.make_trained(spec=sample_runs.SPEC.__class__(
        in_features=2, hidden=(3,), activations=("relu",), out_features=1, task="regression"), epochs=2)
    assert list(comparison.history_table(regression.history).columns) == ["epoch", "train_loss", "val_loss"]
    epochs = json.loads(comparison.history_json([{"epoch": 1, "train_loss": math.inf, "val_loss": 0.5}]))
    assert epochs == [{"epoch": 1, "train_loss": None, "val_loss": 0.5}]


URL_KEYS = {"activations", "alpha", "batch", "benchmark", "beta1", "beta2", "data_seed", "dataset", "deterministic",
            "dropout", "epochs", "features", "keep_best", "layers",
            "lesson",  # a lesson link (builder/lessons.py): its settings, then the link's own on top
            "loss", "lr", "momentum", "nesterov", "noise",
            "optimizer", "patience", "reg", "reg_rate", "run", "samples", "seed", "shuffle", "standardize",
            "standardize_target", "train", "val", "weight_decay"}


def test_the_links_keys_are_pinned_and_round_trip():
    assert url_state.KNOWN_KEYS == URL_KEYS and url_state.RUN_KEY == "run"
    trained = sample_runs.make_trained(optimizer="sgd")
    encoded = url_state.encode(trained.config)
    assert set(encoded) <= URL_KEYS and {"dataset", "layers", "activations", "optimizer", "lr"} <= set(encoded)
    assert all(isinstance(value, str) for value in encoded.values())
    decoded = url_state.decode(encoded)
    config = decoded[0] if isinstance(decoded, tuple) else decoded.config
    assert config == trained.config


STORE_COLUMNS = {
    "run_id": "TEXT", "config_key": "TEXT", "created_at": "REAL", "status": "TEXT", "device": "TEXT",
    "duration_s": "REAL", "config_json": "TEXT", "history_json": "TEXT", "test_metrics_json": "TEXT",
    "standardization_json": "TEXT", "classes_json": "TEXT", "feature_names_json": "TEXT", "best_val_loss": "REAL",
    "epochs_run": "INTEGER", "weights_file": "TEXT", "weights_sha256": "TEXT", "owner": "TEXT", "name": "TEXT",
    "default_name": "TEXT", "pinned": "INTEGER", "size_bytes": "INTEGER", "task": "TEXT", "dataset": "TEXT",
    "optimizer": "TEXT", "lr": "REAL", "test_accuracy": "REAL", "test_mse": "REAL", "test_mae": "REAL",
    "origin": "TEXT",  # where the run came from (the Model Builder, or a sweep's member); added, nullable
}


def test_a_kept_runs_record_in_the_store(tmp_path):
    store = SqliteRunStore(tmp_path)
    trained = sample_runs.make_trained(epochs=3)
    run_id = store.save(trained)
    index = next(p for p in tmp_path.rglob("*") if p.is_file() and p.read_bytes()[:16] == b"SQLite format 3\x00")
    with sqlite3.connect(index) as db:
        db.row_factory = sqlite3.Row
        columns = {row["name"]: row["type"] for row in db.execute("PRAGMA table_info(runs)")}
        row = dict(db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone())
    assert columns == STORE_COLUMNS
    assert json.loads(row["config_json"]) == trained.config.to_dict()
    assert json.loads(row["history_json"]) == [dict(epoch) for epoch in trained.history]
    assert row["epochs_run"] == 3 and row["best_val_loss"] == min(e["val_loss"] for e in trained.history)
    assert row["status"] == "finished" and row["optimizer"] == "adam" and row["dataset"] == "spiral3"
    assert len(row["weights_sha256"]) == 64


def test_the_spec_file_is_indented_with_sorted_keys_and_names_model_pt_by_default():
    trained = sample_runs.make_trained()
    text = export.spec_json(trained)  # the page's default stem
    spec = json.loads(text)
    assert "model.pt" in spec["how_to_load"] and "model.safetensors" in spec["how_to_load"]
    lines = text.splitlines()
    top = [line for line in lines if line.startswith('  "')]  # a key a line, two spaces in: readable and diffable
    assert [line.split('"')[1] for line in top] == sorted(spec) and len(top) == len(spec)
    config = [line.strip().split('"')[1] for line in lines if line.startswith('    "') and line.endswith("{")]
    assert config == sorted(spec["config"])  # nested keys sorted too: two downloads of one setup are the same text
    assert text == export.spec_json(sample_runs.make_trained())


def test_the_safetensors_config_is_written_with_its_keys_sorted():
    data = export.to_safetensors_bytes(sample_runs.make_trained())
    header_length = int.from_bytes(data[:8], "little")
    text = json.loads(data[8:8 + header_length])["__metadata__"]["playground_config"]
    assert text == json.dumps(json.loads(text), sort_keys=True)  # one text per setup, whatever order it was built in
    assert list(json.loads(text)) == ["data", "model", "train"] and text.index('"activations"') < text.index('"dropout"')


def test_test_metrics_of_any_kind_are_written_as_plain_json_in_both_files():
    import dataclasses

    import numpy as np

    trained = dataclasses.replace(sample_runs.make_trained(), test_metrics={
        "accuracy": np.float32(0.75), "n": np.int64(8), "confusion": torch.tensor([[3, 1], [1, 3]]),
        "per_class": {0: (np.float64(0.5), None), "b": [True, "x"]}, "device": torch.device("cpu")})
    plain = {"accuracy": 0.75, "n": 8, "confusion": [[3, 1], [1, 3]], "per_class": {"0": [0.5, None], "b": [True, "x"]},
             "device": "cpu"}
    assert json.loads(export.spec_json(trained))["test_metrics"] == plain
    data = export.to_safetensors_bytes(trained)
    metadata = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])["__metadata__"]
    assert json.loads(metadata["playground_test_metrics"]) == plain
    assert json.loads(metadata["playground_standardization"]) == json.loads(json.dumps(trained.standardization))
    assert json.loads(metadata["playground_feature_names"]) == list(trained.feature_names)
