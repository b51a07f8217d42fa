"""Weights in: uploaded ``.pt`` and ``.safetensors`` files read safely and checked key by key against the model
they should fit. A ``.pt`` is checked without unpickling it (``pt_archive``) and then loaded in a limited child
process (``pt_loader``) that hands its tensors back as safetensors; every refusal is a plain sentence, and names
from a file are quoted (``shown_name``), never ``str()``-ed objects. Metrics are never read from a file: the page
recomputes them.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from safetensors.torch import load as load_safetensors_bytes  # bytes in, tensors out: no pickle

from playground import limits
from playground.builder.config import ModelSpec, RunConfig
from playground.builder.model import TrainedModel, build_model
from playground.errors import PlaygroundError, as_text, library_message
from playground.runs.export import (
    META_CLASSES,
    META_CONFIG,
    META_FEATURES,
    META_STANDARDIZATION,
    SPEC_FORMAT,
)
from playground.runs.pt_archive import check_pt, global_refusal, shown_name
from playground.runs.pt_loader import LoaderReply, load_checked_pt

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
        """Each difference in words; names from the file are quoted so that Markdown shows them as text."""
        parts: list[str] = []
        if self.missing:
            parts.append(f"missing key{'s' if len(self.missing) > 1 else ''} {_names(self.missing)}")
        if self.unexpected:
            parts.append(f"unexpected key{'s' if len(self.unexpected) > 1 else ''} {_names(self.unexpected)}")
        for key, got, want in self.shapes[:_MAX_LISTED]:
            parts.append(f"{shown_name(key)} has shape {list(got)} but the model expects {list(want)}")
        for key, got, want in self.dtypes[:_MAX_LISTED]:
            parts.append(f"{shown_name(key)} is {got} but the model expects {want}")
        return parts


_MAX_LISTED = 8


def _names(keys: list[str]) -> str:
    shown = ", ".join(shown_name(key) for key in keys[:_MAX_LISTED])
    return shown + (f" and {len(keys) - _MAX_LISTED} more" if len(keys) > _MAX_LISTED else "")


@dataclass(frozen=True)
class LoadedWeights:
    """An uploaded checkpoint after checking: CPU tensors, and the spec it carried (safetensors) if any."""

    state_dict: dict[str, torch.Tensor]
    config: RunConfig | None = None
    standardization: dict[str, list[float]] | None = None
    classes: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    test_metrics: dict[str, Any] = field(default_factory=dict)  # always empty for a file: the page recomputes them
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
    return LoadedWeights(state_dict=read_pt(data), file_format="pt")


def checked(loaded: LoadedWeights, spec: ModelSpec) -> LoadedWeights:
    """``loaded`` with its tensors in the model's key order, or WeightsMismatch saying how it does not fit."""
    loaded = _without_prefix(loaded, spec)
    check_state_dict(loaded.state_dict, spec)
    ordered = {key: loaded.state_dict[key] for key in expected_shapes(spec)}
    return replace(loaded, state_dict=ordered)


def _without_prefix(loaded: LoadedWeights, spec: ModelSpec) -> LoadedWeights:
    """Keys that differ from the model's only by one common first part (``layers.0.weight`` against
    ``0.weight``, either way round, or ``model.`` against ``layers.``) are renamed to the model's, with a note.

    A model that keeps its ``nn.Sequential`` in an attribute (``self.layers = ...``) saves ``layers.``
    keys; a plain ``nn.Sequential`` saves none. Both load into either."""
    want = list(expected_shapes(spec))
    keys = list(loaded.state_dict)
    if not keys or set(keys) == set(want):
        return loaded
    file_prefix, file_rest = _common_prefix(keys)
    model_prefix, model_rest = _common_prefix(want)
    for ours, theirs in ((keys, model_rest), (file_rest, want), (file_rest, model_rest)):
        if ours is None or theirs is None or set(ours) != set(theirs) or len(set(ours)) != len(keys):
            continue
        to_model = dict(zip(theirs, want, strict=True))
        renamed = {to_model[short]: loaded.state_dict[key] for key, short in zip(keys, ours, strict=True)}
        if ours is file_rest and theirs is want:
            note = (f"Every key began with {shown_name(file_prefix + '.')} (the model kept its layers in "
                    f"self.{shown_name(file_prefix)}); it was dropped to fit this model.")
        elif ours is keys:
            note = (f"The keys had no {shown_name(model_prefix + '.')} at their start, which this model's keys have "
                    "(it keeps its layers in an attribute); it was added.")
        else:
            note = (f"Every key began with {shown_name(file_prefix + '.')} where this model's begin with "
                    f"{shown_name(model_prefix + '.')}; they were renamed.")
        return replace(loaded, state_dict=renamed, notes=(*loaded.notes, note))
    return loaded


def _common_prefix(keys: list[str]) -> tuple[str, list[str] | None]:
    """The first dotted part every key shares, and the keys without it (None when they do not share one)."""
    heads = {key.split(".", 1)[0] for key in keys}
    if len(heads) != 1 or not all("." in key for key in keys):
        return "", None
    return heads.pop(), [key.split(".", 1)[1] for key in keys]


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
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: also a 5,000-digit number
        raise PlaygroundError("This file is not a model spec: it is not valid JSON.", type(exc).__name__) from None
    if not isinstance(document, dict) or document.get("format") != SPEC_FORMAT or "config" not in document:
        raise PlaygroundError("This JSON file is not a PyTorch Playground model spec.")
    return config_from_untrusted(document["config"], "This spec file's settings")


def config_from_untrusted(document: Any, what: str) -> RunConfig:
    """``RunConfig.from_dict`` on a document from a file, every failure a sentence: wrong types (``"hidden": 5``,
    ``[null]``), numbers too long to read (a 5,000-digit string), missing parts, and its own refusals, whose
    wording may echo the file's values, shown as plain text."""
    if not isinstance(document, dict):
        raise PlaygroundError(f"{what} are not a JSON object of settings.")
    try:
        return RunConfig.from_dict(document)
    except PlaygroundError as exc:
        raise PlaygroundError(f"{what} are not valid: {_plain(exc.sentence)}") from None
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, RecursionError, IndexError) as exc:
        raise PlaygroundError(
            f"{what} could not be read: a value has the wrong type or size (for example a list where a number "
            "belongs, or a number thousands of digits long).",
            type(exc).__name__,
        ) from None


def _plain(text: str, limit: int = 300) -> str:
    return as_text(text.replace("\n", " "), limit)


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


def read_pt(data: bytes) -> dict[str, torch.Tensor]:
    """A ``.pt`` upload's state_dict: checked without unpickling (refused there with a sentence when it asks for
    more than a state_dict needs), then loaded in the limited child process and handed back as safetensors."""
    check_pt(data)
    reply = load_checked_pt(data)
    if reply.status == "ok":
        return _from_reply(reply)
    raise _loader_error(reply)


def _from_reply(reply: LoaderReply) -> dict[str, torch.Tensor]:
    try:
        tensors = load_safetensors_bytes(reply.tensors)
    except Exception:  # noqa: BLE001 - the child's output is untrusted too
        raise PlaygroundError("This file could not be read as a PyTorch checkpoint.") from None
    order = reply.header.get("keys")
    if isinstance(order, list) and sorted(order) == sorted(tensors):
        tensors = {key: tensors[key] for key in order}
    return _as_state_dict(tensors)


def _loader_error(reply: LoaderReply) -> PlaygroundError:
    """One sentence for each way the limited child refused or failed to load the file."""
    header = reply.header
    code = header.get("code")
    if reply.status == "refused" and code == "global" and isinstance(header.get("global"), str):
        module, _, attr = header["global"].rpartition(".")
        return global_refusal(module, attr)
    if reply.status == "refused" and code == "tensor":
        return PlaygroundError("This file holds a single tensor, not a state_dict of named weights.")
    if reply.status == "refused" and code == "type":
        kind = header.get("type") if isinstance(header.get("type"), str) else "something else"
        return PlaygroundError(f"This file holds a {shown_name(kind)}, not a state_dict (a mapping of layer names "
                               "to tensors).")
    if reply.status == "refused" and code == "count" and isinstance(header.get("count"), int):
        return PlaygroundError(f"This file holds {header['count']} entries; a playground model has at most "
                               f"{limits.MAX_CHECKPOINT_TENSORS}.")
    if reply.status == "refused" and code == "entries" and isinstance(header.get("entries"), list):
        names = [shown_name(str(name)[:40]) for name in header["entries"][:5] if isinstance(name, str)]
        return PlaygroundError("This file is not a state_dict: these entries are not named tensors: "
                               + ", ".join(names) + ".")
    if reply.status == "memory":
        return PlaygroundError(
            f"This file was refused: loading it needed more than {limits.LOADER_MEMORY_BYTES // 1024 // 1024} MB, "
            "far more than its weights. Nothing in it was run in the server.",
        )
    if reply.status in ("timeout", "killed"):
        return PlaygroundError(
            f"This file was refused: loading it did not finish within the limits ({limits.LOADER_CPU_S} s of CPU, "
            f"{limits.LOADER_WALL_S:g} s in all). Nothing in it was run in the server.",
        )
    detail = header.get("detail")
    return PlaygroundError(
        "This file is not a complete PyTorch checkpoint: it may be truncated or another kind of file. "
        "Save it again with torch.save(model.state_dict(), path).",
        _plain(detail) if isinstance(detail, str) else None,
    )


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
        raise PlaygroundError(f"This file holds a {type(obj).__name__}, not a state_dict (a mapping of layer names "
                              "to tensors).")
    if len(obj) > limits.MAX_CHECKPOINT_TENSORS:
        raise PlaygroundError(
            f"This file holds {len(obj)} entries; a playground model has at most {limits.MAX_CHECKPOINT_TENSORS}."
        )
    bad = [shown_name(key[:40]) if isinstance(key, str) else f"(a key of type {type(key).__name__})"
           for key, value in obj.items() if not isinstance(key, str) or not isinstance(value, torch.Tensor)]
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
            config = config_from_untrusted(json.loads(metadata[META_CONFIG]), "The spec inside the file")
        except (ValueError, RecursionError) as exc:  # PlaygroundError is a ValueError; so is bad JSON
            sentence = exc.sentence if isinstance(exc, PlaygroundError) else "it is not valid JSON."
            notes.append(f"The spec inside the file could not be used, so it was ignored. {sentence}")
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
    # Test metrics in the metadata are ignored: a file may claim any accuracy for any weights.
    return LoadedWeights(
        state_dict=state_dict,
        config=config,
        standardization=standardization,
        classes=tuple(str(c) for c in classes) if isinstance(classes, list) else (),
        feature_names=tuple(str(f) for f in features) if isinstance(features, list) else (),
        file_format="safetensors",
        notes=tuple(notes),
    )


def _json_field(metadata: dict[str, str], key: str, default: Any) -> Any:
    try:
        return json.loads(metadata[key]) if key in metadata else default
    except (ValueError, RecursionError):  # bad JSON, or a number too long to read
        return default


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")
