"""Testing a model as the course does (``model.eval()``, ``torch.no_grad()``, predictions back on the CPU)
and the figures that follow: accuracy, confusion matrix, per-class precision and recall, MSE and MAE.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from playground.builder.config import RunConfig
from playground.builder.datasets import PreparedData
from playground.builder.model import TrainedModel
from playground.builder.training import EVAL_BATCH

if TYPE_CHECKING:
    import pandas as pd


@torch.no_grad()
def predict(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The model's raw outputs (logits or values) for ``X``, in eval mode, on the CPU."""
    model.eval()
    device = next(model.parameters()).device
    outs = [model(X[i : i + EVAL_BATCH].to(device)).cpu() for i in range(0, len(X), EVAL_BATCH)]
    return torch.cat(outs) if outs else torch.empty(0)


def accuracy(pred: torch.Tensor, y: torch.Tensor) -> float:
    """Share of predicted classes equal to the true ones."""
    return float((pred == y).float().mean()) if len(y) else float("nan")


def confusion_matrix(pred: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """``m[t, p]`` counts the rows of true class t predicted as p."""
    index = y.long() * n_classes + pred.long()
    return torch.bincount(index, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class(matrix: torch.Tensor) -> list[dict[str, float]]:
    """Precision tp/(tp+fp), recall tp/(tp+fn), F1 and support of every class (NaN where undefined)."""
    m = matrix.double()
    rows = []
    for c in range(m.shape[0]):
        tp = m[c, c].item()
        predicted = m[:, c].sum().item()
        actual = m[c, :].sum().item()
        precision = tp / predicted if predicted else float("nan")
        recall = tp / actual if actual else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if predicted and actual and (precision + recall) else float("nan")
        rows.append({"precision": precision, "recall": recall, "f1": f1, "support": int(actual)})
    return rows


def mse(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float(((pred.reshape(-1).double() - y.reshape(-1).double()) ** 2).mean())


def mae(pred: torch.Tensor, y: torch.Tensor) -> float:
    return float((pred.reshape(-1).double() - y.reshape(-1).double()).abs().mean())


def compute_test_metrics(outputs: torch.Tensor, y: torch.Tensor, task: str, classes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The test figures of a set of outputs, as plain Python values (JSON-friendly, for the run store)."""
    if len(y) == 0:
        return {}
    if task == "regression":
        return {"n": len(y), "mse": mse(outputs, y), "mae": mae(outputs, y)}
    pred = outputs.argmax(1)
    n_classes = max(len(classes), outputs.shape[1])
    matrix = confusion_matrix(pred, y, n_classes)
    return {
        "n": len(y),
        "accuracy": accuracy(pred, y),
        "confusion": matrix.tolist(),
        "per_class": per_class(matrix),
    }


def predictions_table(outputs: torch.Tensor, data: PreparedData) -> pd.DataFrame:
    """One row per test example: its row in the original table, its original (not standardised) features, the
    truth and the prediction (class probabilities too), targets in their own units."""
    import pandas as pd  # here, not at the top: only the Test tab makes this table

    X = data.X_test_raw if data.X_test_raw is not None else data.X_test
    table = pd.DataFrame(X.cpu().numpy(), columns=list(data.feature_names))
    if data.rows_test is not None:
        table.insert(0, "row", data.rows_test.cpu().numpy())
    if data.task == "regression":
        table["true"] = data.to_target_units(data.y_test).reshape(-1).cpu().numpy()
        table["predicted"] = data.to_target_units(outputs).reshape(-1).cpu().numpy()
        table["error"] = table["predicted"] - table["true"]
        return table
    names = list(data.classes) or [str(i) for i in range(outputs.shape[1])]
    probs = torch.softmax(outputs, dim=1).cpu().numpy()  # Softmax only for display; the loss takes logits
    table["true"] = [names[i] for i in data.y_test.tolist()]
    table["predicted"] = [names[i] for i in outputs.argmax(1).tolist()]
    table["correct"] = table["true"] == table["predicted"]
    for j, name in enumerate(names):
        table[f"p({name})"] = probs[:, j]
    return table


def predict_test(record: TrainedModel, data: PreparedData) -> torch.Tensor:
    """A finished model's outputs on the test split of its data (CPU, eval mode), as the model gives them."""
    return predict(record.build(), data.X_test)


def test_metrics(record: TrainedModel, data: PreparedData) -> dict[str, Any]:
    """Test figures recomputed from the weights and the data (never read from a file); regression errors are in
    the target's own units."""
    outputs = predict_test(record, data)
    if data.task == "regression":
        return compute_test_metrics(data.to_target_units(outputs), data.to_target_units(data.y_test), data.task)
    return compute_test_metrics(outputs, data.y_test, data.task, data.classes)


def make_trained_model(
    config: RunConfig,
    state: dict[str, Any],
    history: list[dict],
    status: str,
    data: PreparedData,
    device: str = "cpu",
    duration_s: float = 0.0,
) -> TrainedModel:
    """The record of a finished (or stopped, or diverged) run, with its test figures computed on the CPU."""
    state_dict = {k: torch.as_tensor(v).detach().cpu().clone() for k, v in state.items()}
    record = TrainedModel(
        config=config, state_dict=state_dict, history=tuple(dict(r) for r in history), status=status,
        device=device, duration_s=float(duration_s), standardization=data.standardization,
        classes=tuple(data.classes), feature_names=tuple(data.feature_names),
    )
    return TrainedModel(**{**record.__dict__, "test_metrics": test_metrics(record, data)})
