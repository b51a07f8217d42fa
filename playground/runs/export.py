"""Weights out: a trained model's ``state_dict`` as ``.pt`` (``torch.save``) or ``.safetensors`` (with the spec
in its metadata), and its spec as JSON. The keys are those of the model class ``Net`` that the code panels,
``train.py`` and the spec's ``load_code`` write (its layers in ``self.layers``: ``layers.0.weight``, ...)."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

import safetensors.torch
import torch

from playground.builder import codegen
from playground.builder.model import TrainedModel

if TYPE_CHECKING:
    import pandas as pd

SPEC_FORMAT = "pytorch-playground-spec"
SPEC_VERSION = 1

# Keys of the safetensors metadata (safetensors metadata is a str -> str mapping, so values are JSON).
META_FORMAT = "format"
META_CONFIG = "playground_config"
META_STANDARDIZATION = "playground_standardization"
META_CLASSES = "playground_classes"
META_FEATURES = "playground_feature_names"
META_TEST_METRICS = "playground_test_metrics"


# ---------------------------------------------------------------------------------------------- out


def cpu_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached, contiguous CPU copies, whatever device the tensors were trained on."""
    return {key: value.detach().to("cpu").contiguous() for key, value in state_dict.items()}


def to_pt_bytes(trained: TrainedModel) -> bytes:
    """``torch.save(model.state_dict(), f)``: loads with plain ``torch.load`` and ``load_state_dict``."""
    buffer = io.BytesIO()
    torch.save(cpu_state_dict(trained.state_dict), buffer)
    return buffer.getvalue()


def spec_metadata(trained: TrainedModel) -> dict[str, str]:
    """The model spec as safetensors metadata: every value a JSON string."""
    return {
        META_FORMAT: "pt",
        META_CONFIG: json.dumps(trained.config.to_dict(), sort_keys=True),
        META_STANDARDIZATION: json.dumps(trained.standardization),
        META_CLASSES: json.dumps(list(trained.classes)),
        META_FEATURES: json.dumps(list(trained.feature_names)),
        META_TEST_METRICS: json.dumps(_jsonable(trained.test_metrics)),
    }


def to_safetensors_bytes(trained: TrainedModel) -> bytes:
    """The weights as safetensors, with the spec (config, standardisation, classes, features) in its metadata."""
    return safetensors.torch.save(cpu_state_dict(trained.state_dict), metadata=spec_metadata(trained))


def spec_dict(trained: TrainedModel, stem: str = "model") -> dict[str, Any]:
    """What the JSON file beside the weights says: enough to rebuild the model and feed it inputs, and the code
    that loads ``{stem}.pt`` (or ``{stem}.safetensors``), the names the page downloads them under."""
    return {
        "format": SPEC_FORMAT,
        "version": SPEC_VERSION,
        "config": trained.config.to_dict(),
        "standardization": trained.standardization,
        "classes": list(trained.classes),
        "feature_names": list(trained.feature_names),
        "state_dict_shapes": {key: list(value.shape) for key, value in trained.state_dict.items()},
        "test_metrics": _jsonable(trained.test_metrics),
        "trained_on": trained.device,
        "how_to_load": (
            "Save the lines of load_code as load.py beside the downloaded weights and run it with python: it defines "
            "the page's model class Net (its layers in self.layers, so the keys are layers.0.weight, ...) and loads "
            f"{stem}.pt with torch.load(weights_only=True) and a strict load_state_dict; to load {stem}.safetensors "
            "instead, put its commented line, uncommented, in place of the torch.load line."
        ),
        "load_code": codegen.weights_code(trained.config.model, stem).splitlines(),
    }


def spec_json(trained: TrainedModel, stem: str = "model") -> str:
    return json.dumps(spec_dict(trained, stem), indent=2, sort_keys=True)


def _jsonable(value: Any) -> Any:
    """Numbers, strings, lists and dicts only (tensors and numpy scalars become plain numbers)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


# ---------------------------------------------------------------------------------------------- CSV

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, tab
    or carriage return) gets a leading ``'``, which spreadsheets show as text; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv_bytes(table: pd.DataFrame, index: bool = False) -> bytes:
    """Every CSV the app writes goes through here: text cells and headers neutralised (``neutralise_cell``),
    numbers written as numbers (a negative loss or prediction stays a number)."""
    import pandas as pd  # here, not at the top: a page's first run needs no table (pandas is 0.4 s to import)

    safe = table.copy()
    safe.columns = [neutralise_cell(str(column)) for column in safe.columns]
    if index:
        safe.index = safe.index.map(neutralise_cell)
        if safe.index.name is not None:
            safe.index.name = neutralise_cell(str(safe.index.name))
    for position in range(safe.shape[1]):
        column = safe.iloc[:, position]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column)):
            safe.isetitem(position, column.map(neutralise_cell))
    return safe.to_csv(index=index, lineterminator="\r\n").encode("utf-8")  # RFC 4180: a CR in a cell is quoted


# ---------------------------------------------------------------------------------------------- layer statistics


def _percent(q: float) -> str:
    return f"p{round(q * 100):02d}"


def layer_stats_table(history: Any) -> pd.DataFrame:
    """The per-layer statistics a run recorded (``builder/layer_stats.py``), one row per epoch and layer: the
    gradient norm over the epoch's steps, the update-to-weight ratio, the dead-unit share, then the weights' and
    biases' quantiles and histogram (``*_bin_k`` counts over ``*_min`` .. ``*_max``). Empty without statistics."""
    import pandas as pd

    from playground.builder.layer_stats import GRAD_QUANTILES, QUANTILES

    rows = []
    for epoch in history:
        for layer in epoch.get("layers") or ():
            row: dict[str, Any] = {"epoch": epoch.get("epoch"), "layer": layer.get("name")}
            grad = layer.get("grad") or {}
            row["grad_norm_mean"], row["grad_norm_last"] = grad.get("mean"), grad.get("last")
            for q, value in zip(GRAD_QUANTILES, grad.get("q") or [None] * len(GRAD_QUANTILES), strict=False):
                row[f"grad_norm_{_percent(q)}"] = value
            row["update_ratio"], row["dead_share"] = layer.get("update_ratio"), layer.get("dead")
            for part in ("weight", "bias"):
                d = layer.get(part) or {}
                row[f"{part}_min"], row[f"{part}_max"] = d.get("lo"), d.get("hi")
                for q, value in zip(QUANTILES, d.get("q") or [None] * len(QUANTILES), strict=False):
                    row[f"{part}_{_percent(q)}"] = value
                for k, count in enumerate(d.get("counts") or ()):
                    row[f"{part}_bin_{k}"] = count
            rows.append(row)
    return pd.DataFrame(rows)
