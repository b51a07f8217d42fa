"""Evaluation formulas against hand computation, the predictions table, heatmaps and the finished record."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import PreparedData, prepare_data
from playground.builder.decision_boundary import (
    grid_points,
    heatmap,
    layer_weights,
    neuron_thumbnails,
    output_thumbnails,
)
from playground.builder.evaluation import (
    accuracy,
    compute_test_metrics,
    confusion_matrix,
    mae,
    make_trained_model,
    mse,
    per_class,
    predict_test,
    predictions_table,
)
from playground.builder.model import build_model
from playground.builder.training import Trainer


def test_confusion_precision_recall_by_hand():
    y = torch.tensor([0, 0, 0, 1, 1, 2])
    pred = torch.tensor([0, 1, 0, 1, 0, 2])
    m = confusion_matrix(pred, y, 3)
    assert m.tolist() == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    rows = per_class(m)
    # class 0: tp 2, predicted 3, actual 3; class 1: tp 1, predicted 2, actual 2
    assert rows[0]["precision"] == pytest.approx(2 / 3) and rows[0]["recall"] == pytest.approx(2 / 3)
    assert rows[1]["precision"] == pytest.approx(1 / 2) and rows[1]["recall"] == pytest.approx(1 / 2)
    assert rows[2] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert accuracy(pred, y) == pytest.approx(4 / 6)


def test_undefined_precision_is_nan():
    rows = per_class(confusion_matrix(torch.tensor([0, 0]), torch.tensor([0, 1]), 3))
    assert math.isnan(rows[2]["precision"]) and math.isnan(rows[2]["recall"])
    assert math.isnan(rows[1]["precision"]) and rows[1]["recall"] == 0.0


def test_mse_mae_by_hand():
    pred = torch.tensor([[1.0], [2.0], [4.0]])
    y = torch.tensor([[1.5], [2.0], [1.0]])
    assert mse(pred, y) == pytest.approx((0.25 + 0 + 9) / 3)
    assert mae(pred, y) == pytest.approx((0.5 + 0 + 3) / 3)
    assert compute_test_metrics(pred, y, "regression") == {"n": 3, "mse": pytest.approx(9.25 / 3), "mae": pytest.approx(3.5 / 3)}


def test_classification_metrics_and_table():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    y = torch.tensor([0, 0, 1])
    metrics = compute_test_metrics(logits, y, "classification", ("a", "b"))
    assert metrics["accuracy"] == pytest.approx(1 / 3) and metrics["confusion"] == [[1, 1], [1, 0]]
    raw = torch.tensor([[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]])
    data = PreparedData(task="classification", X_train=torch.zeros(1, 2), y_train=torch.zeros(1, dtype=torch.int64),
                        X_val=torch.zeros(0, 2), y_val=torch.zeros(0, dtype=torch.int64), X_test=(raw - 30) / 20,
                        y_test=y, feature_names=("x1", "x2"), classes=("a", "b"), standardization=None,
                        rows_test=torch.tensor([7, 2, 11]), X_test_raw=raw)
    table = predictions_table(logits, data)
    assert list(table["predicted"]) == ["a", "b", "a"] and list(table["true"]) == ["a", "a", "b"]
    assert np.allclose(table["p(a)"] + table["p(b)"], 1.0)
    assert list(table["row"]) == [7, 2, 11] and list(table["x2"]) == [20.0, 40.0, 60.0]  # the table's rows, unscaled
    csv = table.to_csv(index=False)
    assert csv.splitlines()[0] == "row,x1,x2,true,predicted,correct,p(a),p(b)"


def test_a_standardised_target_is_undone_for_predictions_and_metrics():
    """Trained on (y - mean) / std, the model's outputs are put back in y's units for the table and the test
    figures: the oracle is the same errors computed by hand in the original units."""
    config = RunConfig(
        data=DataConfig(dataset="plane", n_samples=200, standardize_target=True, seed=1),
        model=ModelSpec(in_features=2, hidden=(), activations=(), out_features=1, task="regression"),
        train=TrainConfig(epochs=3, batch_size=20),
    )
    data = prepare_data(config.data)
    plain = prepare_data(replace(config.data, standardize_target=False))
    stats = data.target_standardization
    assert stats is not None and plain.target_standardization is None
    assert torch.allclose(data.y_train * stats["std"] + stats["mean"], plain.y_train, atol=1e-6)
    assert abs(float(data.y_train.mean())) < 1e-5  # standardised on the training split itself
    trainer = Trainer(config, data.arrays(), device="cpu")
    trainer.fit()
    record = make_trained_model(config, trainer.state_dict_cpu(), trainer.history, "finished", data)
    outputs = predict_test(record, data)
    in_units = outputs * stats["std"] + stats["mean"]
    expected_mse = float(((in_units.double() - plain.y_test.double()) ** 2).mean())
    assert record.test_metrics["mse"] == pytest.approx(expected_mse, rel=1e-6)
    table = predictions_table(outputs, data)
    assert np.allclose(table["true"], plain.y_test.reshape(-1).numpy(), atol=1e-5)
    assert np.allclose(table["predicted"], in_units.reshape(-1).numpy(), atol=1e-5)


def test_make_trained_model_and_heatmaps():
    config = RunConfig(
        data=DataConfig(dataset="blobs", n_samples=150, seed=0, standardize=True),
        model=ModelSpec(in_features=2, hidden=(4, 3), activations=("relu", "tanh"), out_features=3, dropout=0.1),
        train=TrainConfig(epochs=2),
    )
    data = prepare_data(config.data)
    trainer = Trainer(config, data.arrays())
    trainer.fit()
    record = make_trained_model(config, trainer.state_dict_cpu(), trainer.history, "finished", data)
    assert record.test_metrics["n"] == len(data.y_test) and len(record.test_metrics["confusion"]) == 3
    assert record.standardization == data.standardization and record.classes == data.classes
    model = record.build()
    heat = heatmap(model, config.data.features, data.standardization, "classification", side=16)
    assert heat.kind == "class" and heat.values.dtype == np.uint8 and heat.values.shape == (16, 16)
    assert heat.values.max() <= 2
    thumbs = neuron_thumbnails(model, config.data.features, data.standardization, side=8)
    assert [t.shape for t in thumbs] == [(4, 8, 8), (3, 8, 8)] and thumbs[0].dtype == np.uint8
    assert [w.shape for w in layer_weights(model)] == [(4, 2), (3, 4), (3, 3)]


def test_binary_and_regression_heatmaps():
    torch.manual_seed(0)
    model = build_model(ModelSpec(in_features=3, hidden=(4,), activations=("sigmoid",), out_features=2))
    heat = heatmap(model, ("x1", "x2", "x1*x2"), None, "classification", side=10)
    assert heat.kind == "probability" and heat.values.dtype == np.uint8
    reg = build_model(ModelSpec(in_features=2, hidden=(), activations=(), out_features=1, task="regression"))
    heat = heatmap(reg, ("x1", "x2"), None, "regression", side=10)
    assert heat.kind == "value" and heat.values.dtype == np.float32
    assert neuron_thumbnails(reg, ("x1", "x2"), None) == []


@pytest.mark.parametrize("classes", [2, 3])
def test_each_output_neuron_pictures_its_class_probability_over_the_plane(classes):
    torch.manual_seed(1)
    model = build_model(ModelSpec(in_features=3, hidden=(5,), activations=("tanh",), out_features=classes))
    features, standardization = ("x1", "x2", "x1*x2"), {"mean": [0.5, -0.2, 0.1], "std": [2.0, 1.5, 3.0]}
    model.train()
    pictures = output_thumbnails(model, features, standardization, "classification", side=6)
    assert pictures.dtype == np.uint8 and pictures.shape == (classes, 6, 6) and model.training
    # the oracle: softmax of the model's logits at the same points, by hand
    points = grid_points(6)
    x = torch.stack([points[:, 0], points[:, 1], points[:, 0] * points[:, 1]], dim=1)
    x = (x - torch.tensor(standardization["mean"])) / torch.tensor(standardization["std"])
    model.eval()
    with torch.no_grad():
        expected = torch.softmax(model(x), dim=1).T.reshape(classes, 6, 6).numpy()
    assert np.abs(pictures / 255.0 - expected).max() <= 0.5 / 255 + 1e-6
    assert np.abs(pictures.astype(int).sum(axis=0) - 255).max() <= classes  # the probabilities add up to 1
    reg = build_model(ModelSpec(in_features=2, hidden=(), activations=(), out_features=1, task="regression"))
    assert output_thumbnails(reg, ("x1", "x2"), None, "regression") is None
