"""Uploaded weights under attack, through the Model Builder's upload panel (AppTest host, as
tests/app/test_model_builder_io.py drives it) and through playground/runs/weights_import directly.

Each case: a trained model is on the page; a hostile file is uploaded; a plain sentence is shown, no
traceback, the command a malicious pickle carries never runs (a sentinel file is not created), the
model the user had is still there with the same weights, and a good file uploaded next loads.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
from pathlib import Path

import pytest
import safetensors.torch
import torch
from streamlit.testing.v1 import AppTest

from playground import limits
from playground.builder.config import ModelSpec
from playground.builder.model import build_model
from playground.errors import PlaygroundError
from playground.runs import export, weights_import
from tests.app.conftest import texts
from tests.reliability.conftest import assert_plain, assert_sentence
from tests.sample_runs import SPEC, make_trained

HOST = """
import streamlit as st
from views import model_builder_io
from tests.sample_runs import make_trained

config = st.session_state.get("host_config") or make_trained(seed=1).config
model_builder_io.render(st.session_state.get("mb_trained"), config)
"""


class RunsACommand:
    """Unpickling this calls os.system: the classic malicious checkpoint."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def torch_saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def safetensors_bytes(tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> bytes:
    return safetensors.torch.save(tensors, metadata=metadata)


def good_state() -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in make_trained(seed=1).state_dict.items()}


def hostile_files(sentinel: Path) -> list[tuple[str, str, bytes, str]]:
    """(case id, file name, bytes, sentence fragment). Built lazily: some need the sentinel's path."""
    good_pt = export.to_pt_bytes(make_trained(seed=1))
    good_st = export.to_safetensors_bytes(make_trained(seed=1))
    wide = ModelSpec(in_features=2, hidden=(16,), activations=("relu",), out_features=3)
    as_f64 = {k: v.double() for k, v in good_state().items()}
    as_i64 = {k: v.long() for k, v in good_state().items()}
    reshaped = {k: (v.reshape(-1) if v.ndim == 2 else v) for k, v in good_state().items()}
    many = {f"t{i}": torch.zeros(1) for i in range(limits.MAX_CHECKPOINT_TENSORS + 1)}
    huge_header = struct.pack("<Q", 2**62) + b"{" + b"0" * 100
    return [
        ("pickle-runs-command-in-zip", "evil.pt", torch_saved({"0.weight": RunsACommand(sentinel)}), "Nothing in it was run"),
        ("pickle-runs-command-raw", "evil.pt", pickle.dumps(RunsACommand(sentinel)), "refused"),
        ("pickle-runs-command-as-pth", "evil.pth", pickle.dumps({"w": RunsACommand(sentinel)}, protocol=2), "refused"),
        ("pt-truncated", "half.pt", good_pt[: len(good_pt) // 2], "not a complete PyTorch checkpoint"),
        ("pt-zero-bytes", "empty.pt", b"", "empty (0 bytes)"),
        ("safetensors-zero-bytes", "empty.safetensors", b"", "empty (0 bytes)"),
        ("pt-other-architecture", "wide.pt", export.to_pt_bytes(make_trained(wide)), "do not fit this model"),
        ("pt-full-model-object", "model.pt", torch_saved(build_model(SPEC)), "whole model object"),
        ("pt-single-tensor", "tensor.pt", torch_saved(torch.ones(3)), "single tensor"),
        ("pt-non-tensor-values", "dict.pt", torch_saved({"0.weight": 1, "lr": "fast"}), "not named tensors"),
        ("pt-list", "list.pt", torch_saved([torch.ones(2)]), "not a state_dict"),
        ("pt-text-file", "notes.pt", b"just some text, not a checkpoint", "not a complete PyTorch checkpoint"),
        ("safetensors-truncated", "half.safetensors", good_st[: len(good_st) // 2], "not a complete .safetensors"),
        ("safetensors-float64", "f64.safetensors", safetensors_bytes(as_f64), "do not fit this model"),
        ("safetensors-int64", "i64.safetensors", safetensors_bytes(as_i64), "do not fit this model"),
        ("safetensors-wrong-shapes", "shapes.safetensors", safetensors_bytes(reshaped), "do not fit this model"),
        ("safetensors-too-many-tensors", "many.safetensors", safetensors_bytes(many), "at most 64"),
        ("safetensors-huge-header-size", "huge.safetensors", huge_header, "not a complete .safetensors"),
        ("safetensors-random-bytes", "noise.safetensors", os.urandom(4096), "not a complete .safetensors"),
        ("over-upload-limit", "big.pt", b"PK" + b"\0" * (limits.MAX_UPLOAD_BYTES + 1), "MB; files up to 10 MB"),
        ("spec-json-not-json", "spec.json", b"{not json", "not valid JSON"),
        ("spec-json-depth-100000", "spec.json", b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        ("spec-json-foreign", "spec.json", json.dumps({"format": "other"}).encode(), "not a PyTorch Playground model spec"),
        ("spec-json-out-of-range", "spec.json", json.dumps({"format": export.SPEC_FORMAT, "version": 1, "config": {
            "model": {"hidden": [10**9], "activations": ["relu"]}}}).encode(), "neurons"),
    ]


CASE_IDS = [c[0] for c in hostile_files(Path("/nonexistent"))]


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("case", CASE_IDS)
def test_hostile_upload_is_a_sentence_and_keeps_the_model(store, tmp_path, case):
    sentinel = tmp_path / "pwned"
    _, name, data, sentence = next(c for c in hostile_files(sentinel) if c[0] == case)
    trained = make_trained(seed=1)
    at = AppTest.from_string(HOST, default_timeout=60)
    at.session_state["mb_trained"] = trained
    at.run()
    at.file_uploader(key="mb_io_upload").upload(name, data).run()
    assert_sentence(at, sentence)
    assert not sentinel.exists(), "unpickling ran the file's command"
    kept = at.session_state["mb_trained"]
    assert same_weights(kept.state_dict, trained.state_dict)  # the model the user had is still there
    # The page still works: a good file uploaded next loads.
    other = make_trained(seed=7)
    at.file_uploader(key="mb_io_upload").upload("other.pt", export.to_pt_bytes(other)).run()
    assert not at.exception
    assert "Loaded other.pt into the current model" in texts(at), texts(at)[:1500]
    assert same_weights(at.session_state["mb_trained"].state_dict, other.state_dict)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_read_weights_never_runs_a_pickle(tmp_path, protocol):
    sentinel = tmp_path / "pwned"
    data = pickle.dumps({"0.weight": RunsACommand(sentinel)}, protocol=protocol)
    with pytest.raises(PlaygroundError) as caught:
        weights_import.read_upload("evil.pt", data, SPEC)
    assert_plain(caught.value, "refused")
    assert not sentinel.exists()
