"""Weights in: uploaded ``.pt`` and ``.safetensors`` files read safely and checked key by key against the model
they should fit. Reading never unpickles arbitrary objects, size and structure are checked before and after
parsing, and every refusal is a plain sentence.
"""

from __future__ import annotations

import io
import json
import re
import struct
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from safetensors.torch import load as load_safetensors_bytes  # bytes in, tensors out: no pickle

from playground import limits
from playground.builder.config import ModelSpec, RunConfig
from playground.builder.model import TrainedModel, build_model
from playground.errors import PlaygroundError, library_message
from playground.runs.export import (
    META_CLASSES,
    META_CONFIG,
    META_FEATURES,
    META_STANDARDIZATION,
    META_TEST_METRICS,
    SPEC_FORMAT,
)

WEIGHTS_DTYPE = torch.float32



class WeightsMismatch(PlaygroundError):
    """The weights do not fit the model: which keys are missing or extra, which shapes and dtypes differ."""

    def __init__(
        self,
        missing: list[str],
        unexpected: list[str],
        shapes: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
        dtypes: list[tuple[str, str, str]],
    ) -> None:
        self.missing = missing
        self.unexpected = unexpected
        self.shapes = shapes  # (key, shape in the file, shape the model expects)
        self.dtypes = dtypes  # (key, dtype in the file, dtype the model expects)
        super().__init__(
            "These weights do not fit this model: " + "; ".join(self.reasons()) + ".",
            "Build the model the weights came from (same layers, widths and input features), "
            "or load a .safetensors file, which carries its spec and can rebuild the model.",
        )

    def reasons(self) -> list[str]:
        parts: list[str] = []
        if self.missing:
            parts.append(f"missing key{'s' if len(self.missing) > 1 else ''} {', '.join(self.missing)}")
        if self.unexpected:
            parts.append(f"unexpected key{'s' if len(self.unexpected) > 1 else ''} {', '.join(self.unexpected)}")
        for key, got, want in self.shapes:
            parts.append(f"{key} has shape {list(got)} but the model expects {list(want)}")
        for key, got, want in self.dtypes:
            parts.append(f"{key} is {got} but the model expects {want}")
        return parts


@dataclass(frozen=True)
class LoadedWeights:
    """An uploaded checkpoint after checking: CPU tensors, and the spec it carried (safetensors) if any."""

    state_dict: dict[str, torch.Tensor]
    config: RunConfig | None = None
    standardization: dict[str, list[float]] | None = None
    classes: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    test_metrics: dict[str, Any] = field(default_factory=dict)
    file_format: str = "pt"  # pt | safetensors
    notes: tuple[str, ...] = ()

    def to_trained(self, config: RunConfig, status: str = "loaded") -> TrainedModel:
        """A TrainedModel for ``config`` with these weights (no history: it was not trained here)."""
        return TrainedModel(
            config=config,
            state_dict=dict(self.state_dict),
            history=(),
            test_metrics=dict(self.test_metrics),
            status=status,
            device="cpu",
            duration_s=0.0,
            standardization=self.standardization,
            classes=self.classes,
            feature_names=self.feature_names,
        )


def expected_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Every key and shape of the state_dict that ``build_model(spec)`` has, without building it."""
    return {key: tuple(value.shape) for key, value in build_model(spec).state_dict().items()}


def check_state_dict(state_dict: dict[str, torch.Tensor], spec: ModelSpec) -> None:
    """Raise WeightsMismatch unless ``state_dict`` has exactly the model's keys, shapes and dtypes."""
    want = expected_shapes(spec)
    missing = [key for key in want if key not in state_dict]
    unexpected = sorted((key for key in state_dict if key not in want), key=_natural)
    shapes = [
        (key, tuple(state_dict[key].shape), want[key])
        for key in want
        if key in state_dict and tuple(state_dict[key].shape) != want[key]
    ]
    dtypes = [
        (key, _dtype_name(state_dict[key].dtype), _dtype_name(WEIGHTS_DTYPE))
        for key in want
        if key in state_dict and state_dict[key].dtype != WEIGHTS_DTYPE
    ]
    if missing or unexpected or shapes or dtypes:
        raise WeightsMismatch(missing, unexpected, shapes, dtypes)


def _natural(key: str) -> tuple:
    """``2.weight`` before ``10.bias``; weight before bias within a layer, as ``nn.Linear`` lists them."""
    parts = key.split(".")
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, {"weight": "0", "bias": "1"}.get(p, p)) for p in parts)


def fits(state_dict: dict[str, torch.Tensor], spec: ModelSpec) -> bool:
    try:
        check_state_dict(state_dict, spec)
    except WeightsMismatch:
        return False
    return True


def parse_weights(filename: str, data: bytes) -> LoadedWeights:
    """Read an uploaded ``.pt`` or ``.safetensors`` file safely, without checking it against a model yet.

    Raises PlaygroundError for anything that is not a state_dict; never runs file content.
    """
    kind = _file_kind(filename, data)
    if kind == "safetensors":
        state_dict, metadata = _read_safetensors(data)
        return _with_metadata(state_dict, metadata)
    return LoadedWeights(state_dict=_read_pt(data), file_format="pt")


def checked(loaded: LoadedWeights, spec: ModelSpec) -> LoadedWeights:
    """``loaded`` with its tensors in the model's key order, or WeightsMismatch saying how it does not fit."""
    loaded = _without_prefix(loaded, spec)
    check_state_dict(loaded.state_dict, spec)
    ordered = {key: loaded.state_dict[key] for key in expected_shapes(spec)}
    return replace(loaded, state_dict=ordered)


def _without_prefix(loaded: LoadedWeights, spec: ModelSpec) -> LoadedWeights:
    """The model's keys are ``layers.0.weight``, ...: weights saved from a plain ``nn.Sequential`` (``0.weight``,
    as runs kept before this version were) gain the prefix; weights of a model that kept its layers under
    another attribute (``net.0.weight``) lose theirs. Only when the keys then fit exactly, with a note."""
    want = set(expected_shapes(spec))
    keys = list(loaded.state_dict)
    if not keys or want & set(keys):
        return loaded
    renamed, note = None, ""
    prefixes = {key.split(".", 1)[0] for key in keys}
    if all(key.split(".", 1)[0].isdigit() for key in keys):
        renamed = {f"layers.{key}": value for key, value in loaded.state_dict.items()}
        note = "The keys had no 'layers.' prefix (a plain nn.Sequential's state_dict); it was added."
    elif len(prefixes) == 1 and all("." in key for key in keys):
        prefix = prefixes.pop()
        renamed = {"layers." + key.split(".", 1)[1]: value for key, value in loaded.state_dict.items()}
        shown = prefix[:40] if prefix.isidentifier() else "a name"
        note = f"Every key began with '{shown}.' (the model kept its layers there); it was read as 'layers.'."
    if renamed is None or set(renamed) != want:
        return loaded
    return replace(loaded, state_dict=renamed, notes=(*loaded.notes, note))


def read_weights(filename: str, data: bytes, expected: ModelSpec | None = None) -> LoadedWeights:
    """Read an uploaded ``.pt`` or ``.safetensors`` file and check it key by key.

    Checked against ``expected`` when given, else against the spec the file carries (safetensors). A
    ``.pt`` file without ``expected`` cannot be checked, so it is refused with a sentence saying why.
    Raises PlaygroundError (WeightsMismatch when it parses but does not fit); never runs file content.
    """
    loaded = parse_weights(filename, data)
    spec = expected if expected is not None else (loaded.config.model if loaded.config else None)
    if spec is None:
        raise PlaygroundError(
            "This .pt file holds weights only, with no model spec, so there is no model to check it against.",
            "Set up the model in the Model Builder first, or load the .safetensors file, which carries its spec.",
        )
    return checked(loaded, spec)


def read_upload(filename: str, data: bytes, current: ModelSpec) -> LoadedWeights:
    """An upload for the Model Builder: checked against the spec it carries, else against ``current``."""
    loaded = parse_weights(filename, data)
    return checked(loaded, loaded.config.model if loaded.config is not None else current)


def read_spec_json(data: bytes) -> RunConfig:
    """The RunConfig in a spec .json file made by ``spec_json`` (validated like any other config)."""
    _check_size(data, "spec file")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PlaygroundError("This file is not a model spec: it is not valid JSON.", library_message(exc)) from exc
    if not isinstance(document, dict) or document.get("format") != SPEC_FORMAT or "config" not in document:
        raise PlaygroundError("This JSON file is not a PyTorch Playground model spec.")
    return RunConfig.from_dict(document["config"])


def _check_size(data: bytes, what: str) -> None:
    if not isinstance(data, (bytes, bytearray)):
        raise PlaygroundError(f"The {what} could not be read as bytes.")
    if len(data) == 0:
        raise PlaygroundError(f"The {what} is empty (0 bytes): choose the file again.")
    if len(data) > limits.MAX_UPLOAD_BYTES:
        raise PlaygroundError(
            f"The {what} is {len(data) / 1024 / 1024:.1f} MB; files up to "
            f"{limits.MAX_UPLOAD_BYTES // 1024 // 1024} MB are accepted."
        )


def _file_kind(filename: str, data: bytes) -> str:
    _check_size(data, "file")
    name = (filename or "").lower()
    if name.endswith(".safetensors"):
        return "safetensors"
    if name.endswith((".pt", ".pth", ".bin")):
        return "pt"
    if data[:2] == b"PK":  # torch.save writes a zip archive
        return "pt"
    if _looks_like_safetensors(data):
        return "safetensors"
    raise PlaygroundError(
        "This file is not a checkpoint: upload a .pt file saved with torch.save(model.state_dict(), path) "
        "or a .safetensors file."
    )


def _looks_like_safetensors(data: bytes) -> bool:
    if len(data) < 10:
        return False
    (size,) = struct.unpack("<Q", data[:8])
    return 2 <= size <= len(data) - 8 and data[8:9] == b"{"


_GLOBAL_PATTERN = re.compile(r"GLOBAL ([\w.]+)")
# Modules whose functions a hostile pickle calls to run commands or code.
_CODE_MODULES = frozenset(
    {"os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil", "socket", "importlib",
     "runpy", "webbrowser", "pty", "commands", "code", "ctypes", "marshal", "pickle", "_pickle", "types"}
)


def _read_pt(data: bytes) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - every failure becomes one plain sentence
        raise _pt_error(exc) from None
    return _as_state_dict(obj)


def _pt_error(exc: BaseException) -> PlaygroundError:
    """One sentence for each way ``torch.load(weights_only=True)`` refuses a file."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    found = _GLOBAL_PATTERN.search(text)
    name = found.group(1) if found else ""
    if name.startswith(("torch.nn.", "__main__.", "playground.builder.model.")):
        return PlaygroundError(
            "This .pt file holds a whole model object, not a state_dict, and whole objects are never "
            "loaded here because unpickling them can run code. Save it with "
            "torch.save(model.state_dict(), path) and upload that.",
            f"torch.load(weights_only=True) refused the global {name}.",
        )
    if "weights only load failed" in text.lower() or "unpickl" in text.lower():
        detail = f"torch.load(weights_only=True) refused the global {name}." if name else (
            "torch.load(weights_only=True) refused it."
        )
        if name.split(".")[0] in _CODE_MODULES:
            sentence = (
                f"This file was refused: it tries to run code ({name}). Nothing in it was run. "
                "Upload a state_dict saved with torch.save(model.state_dict(), path)."
            )
        elif name:
            sentence = (
                f"This file holds a Python object ({name}), such as a whole model, not only tensors; "
                "it was refused without running anything. "
                "Save it with torch.save(model.state_dict(), path) and upload that."
            )
        else:
            sentence = (
                "This file was refused: it holds something other than tensors, and nothing in it was run. "
                "Upload a state_dict saved with torch.save(model.state_dict(), path)."
            )
        return PlaygroundError(sentence, detail)
    if isinstance(exc, (RuntimeError, EOFError, KeyError, ValueError, OSError, IndexError, struct.error)):
        return PlaygroundError(
            "This file is not a complete PyTorch checkpoint: it may be truncated or another kind of file. "
            "Save it again with torch.save(model.state_dict(), path).",
            library_message(exc, limit=300),
        )
    return PlaygroundError("This file could not be read as a PyTorch checkpoint.", library_message(exc, limit=300))


def _as_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """A mapping of names to tensors; a training checkpoint's ``model_state_dict`` is accepted too."""
    if isinstance(obj, dict):
        for wrapper in ("model_state_dict", "state_dict"):
            if wrapper in obj and isinstance(obj[wrapper], dict):
                obj = obj[wrapper]
                break
    if isinstance(obj, torch.Tensor):
        raise PlaygroundError("This file holds a single tensor, not a state_dict of named weights.")
    if not isinstance(obj, dict):
        raise PlaygroundError(
            f"This file holds a {type(obj).__name__}, not a state_dict (a mapping of layer names to tensors)."
        )
    if len(obj) > limits.MAX_CHECKPOINT_TENSORS:
        raise PlaygroundError(
            f"This file holds {len(obj)} entries; a playground model has at most {limits.MAX_CHECKPOINT_TENSORS}."
        )
    bad = [str(key)[:40] for key, value in obj.items() if not isinstance(key, str) or not isinstance(value, torch.Tensor)]
    if bad:
        raise PlaygroundError(
            "This file is not a state_dict: these entries are not named tensors: " + ", ".join(bad[:5]) + "."
        )
    return {key: value.detach().to("cpu") for key, value in obj.items()}


def _read_safetensors(data: bytes) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if len(data) < 8:
        raise _truncated_safetensors(None)
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > min(len(data) - 8, limits.MAX_CHECKPOINT_METADATA_BYTES):
        raise _truncated_safetensors(None)
    try:
        header = json.loads(data[8 : 8 + header_size].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _truncated_safetensors(exc) from None
    if not isinstance(header, dict):
        raise _truncated_safetensors(None)
    tensors = [key for key in header if key != "__metadata__"]
    if len(tensors) > limits.MAX_CHECKPOINT_TENSORS:
        raise PlaygroundError(
            f"This file holds {len(tensors)} tensors; a playground model has at most {limits.MAX_CHECKPOINT_TENSORS}."
        )
    metadata = header.get("__metadata__") or {}
    if not isinstance(metadata, dict):
        metadata = {}
    try:
        state_dict = load_safetensors_bytes(bytes(data))
    except Exception as exc:  # noqa: BLE001 - SafetensorError and friends
        raise _truncated_safetensors(exc) from None
    return _as_state_dict(state_dict), {str(k): str(v) for k, v in metadata.items()}


def _truncated_safetensors(exc: BaseException | None) -> PlaygroundError:
    return PlaygroundError(
        "This file is not a complete .safetensors checkpoint: it may be truncated or another kind of file.",
        library_message(exc, limit=300) if exc is not None else None,
    )


def _with_metadata(state_dict: dict[str, torch.Tensor], metadata: dict[str, str]) -> LoadedWeights:
    """The spec a playground safetensors file carries; a foreign file's metadata is simply absent."""
    notes: list[str] = []
    config = None
    if META_CONFIG in metadata:
        try:
            config = RunConfig.from_dict(json.loads(metadata[META_CONFIG]))
        except (PlaygroundError, json.JSONDecodeError, TypeError, RecursionError) as exc:
            notes.append(f"The spec inside the file could not be used ({exc}); it was ignored.")
    standardization = _json_field(metadata, META_STANDARDIZATION, None)
    if not (
        standardization is None
        or (
            isinstance(standardization, dict)
            and all(isinstance(standardization.get(k), list) for k in ("mean", "std"))
        )
    ):
        notes.append("The standardisation statistics inside the file were malformed; they were ignored.")
        standardization = None
    classes = _json_field(metadata, META_CLASSES, [])
    features = _json_field(metadata, META_FEATURES, [])
    metrics = _json_field(metadata, META_TEST_METRICS, {})
    return LoadedWeights(
        state_dict=state_dict,
        config=config,
        standardization=standardization,
        classes=tuple(str(c) for c in classes) if isinstance(classes, list) else (),
        feature_names=tuple(str(f) for f in features) if isinstance(features, list) else (),
        test_metrics=metrics if isinstance(metrics, dict) else {},
        file_format="safetensors",
        notes=tuple(notes),
    )


def _json_field(metadata: dict[str, str], key: str, default: Any) -> Any:
    try:
        return json.loads(metadata[key]) if key in metadata else default
    except (json.JSONDecodeError, RecursionError):
        return default


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")
