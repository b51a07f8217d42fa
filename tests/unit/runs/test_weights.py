"""Weights out and in: bit-identical round trips, every mismatch said plainly, hostile files refused."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import safetensors.torch
import torch
from torch import nn

from playground import limits
from playground.builder.config import ModelSpec
from playground.builder.model import TrainedModel, build_model
from playground.errors import PlaygroundError
from playground.runs import export, weights_import
from playground.runs.weights_import import WeightsMismatch, read_spec_json, read_weights
from tests import sample_runs
from tests.sample_runs import SPEC


def make_trained(spec: ModelSpec = SPEC, seed: int = 0) -> TrainedModel:
    return sample_runs.make_trained(spec, seed)


def assert_bit_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape
        assert torch.equal(a[key].view(torch.int32), b[key].view(torch.int32)), key


def test_pt_round_trip_is_bit_identical_and_loads_with_plain_torch_load():
    trained = make_trained()
    data = export.to_pt_bytes(trained)
    plain = torch.load(io.BytesIO(data), weights_only=True)
    model = build_model(SPEC)
    model.load_state_dict(plain)
    assert_bit_identical(plain, trained.state_dict)
    loaded = read_weights("model.pt", data, SPEC)
    assert loaded.file_format == "pt" and loaded.config is None
    assert_bit_identical(loaded.state_dict, trained.state_dict)


def test_safetensors_round_trip_carries_the_spec():
    trained = make_trained()
    data = export.to_safetensors_bytes(trained)
    plain = safetensors.torch.load(data)
    assert_bit_identical(plain, trained.state_dict)
    loaded = read_weights("model.safetensors", data)  # checked against the spec it carries
    assert_bit_identical(loaded.state_dict, trained.state_dict)
    assert list(loaded.state_dict) == list(trained.state_dict)  # the model's key order, as load_state_dict shows
    assert loaded.config == trained.config
    assert loaded.standardization == trained.standardization
    assert loaded.classes == ("0", "1", "2") and loaded.feature_names == ("x1", "x2")
    assert trained.test_metrics and loaded.test_metrics == {}  # never read from a file: the page recomputes them
    rebuilt = loaded.to_trained(loaded.config).build()
    x = torch.randn(5, 2)
    assert torch.equal(rebuilt(x), trained.build()(x))


def test_file_kind_is_sniffed_when_the_name_says_nothing():
    trained = make_trained()
    assert read_weights("weights", export.to_pt_bytes(trained), SPEC).file_format == "pt"
    assert read_weights("weights", export.to_safetensors_bytes(trained)).file_format == "safetensors"


def test_spec_json_rebuilds_the_config():
    trained = make_trained()
    document = json.loads(export.spec_json(trained))
    assert document["state_dict_shapes"]["layers.0.weight"] == [8, 2]
    assert document["standardization"] == trained.standardization
    assert read_spec_json(export.spec_json(trained).encode()) == trained.config
    with pytest.raises(PlaygroundError, match="not a PyTorch Playground model spec"):
        read_spec_json(b'{"a": 1}')
    with pytest.raises(PlaygroundError, match="not valid JSON"):
        read_spec_json(b"{nope")


def test_a_training_checkpoint_dict_is_unwrapped():
    trained = make_trained()
    buffer = io.BytesIO()
    torch.save({"epoch": 3, "model_state_dict": trained.state_dict}, buffer)
    loaded = read_weights("ckpt.pt", buffer.getvalue(), SPEC)
    assert_bit_identical(loaded.state_dict, trained.state_dict)


# ------------------------------------------------------------------------------------- mismatches


def pt_of(state_dict: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    return buffer.getvalue()


def test_missing_keys_are_named():
    state = make_trained().state_dict
    del state["layers.4.bias"]
    with pytest.raises(WeightsMismatch) as info:
        read_weights("m.pt", pt_of(state), SPEC)
    assert info.value.missing == ["layers.4.bias"]
    assert "missing key layers.4.bias" in info.value.sentence


def test_unexpected_keys_are_named():
    state = make_trained().state_dict
    state["layers.9.weight"] = torch.zeros(2, 2)
    with pytest.raises(WeightsMismatch) as info:
        read_weights("m.pt", pt_of(state), SPEC)
    assert info.value.unexpected == ["layers.9.weight"]
    assert "unexpected key layers.9.weight" in info.value.sentence


def test_each_shape_mismatch_is_named():
    other = ModelSpec(in_features=3, hidden=(16, 4), activations=("tanh", "relu"), out_features=3)
    data = export.to_pt_bytes(make_trained(other))
    with pytest.raises(WeightsMismatch) as info:
        read_weights("m.pt", data, SPEC)
    sentence = info.value.sentence
    assert "layers.0.weight has shape [16, 3] but the model expects [8, 2]" in sentence
    assert "layers.0.bias has shape [16] but the model expects [8]" in sentence
    assert "2.weight has shape [4, 16] but the model expects [4, 8]" in sentence
    assert len(info.value.shapes) == 3 and not info.value.missing and not info.value.unexpected


def test_another_architecture_lists_missing_and_unexpected_together():
    deeper = ModelSpec(in_features=2, hidden=(8, 4, 4), activations=("tanh", "relu", "relu"), out_features=3)
    with pytest.raises(WeightsMismatch) as info:
        read_weights("m.safetensors", export.to_safetensors_bytes(make_trained(deeper)), SPEC)
    assert info.value.unexpected == ["layers.6.weight", "layers.6.bias"]
    assert info.value.shapes == [("layers.4.weight", (4, 4), (3, 4)), ("layers.4.bias", (4,), (3,))]


def test_wrong_dtype_is_named():
    state = make_trained().state_dict
    state["layers.0.weight"] = state["layers.0.weight"].double()
    with pytest.raises(WeightsMismatch, match="layers.0.weight is float64 but the model expects float32"):
        read_weights("m.pt", pt_of(state), SPEC)


def test_pt_without_a_model_to_check_against_is_refused():
    with pytest.raises(PlaygroundError, match="no model spec"):
        read_weights("m.pt", export.to_pt_bytes(make_trained()), None)


# ------------------------------------------------------------------------------------ bad files


class RunsACommand:
    """A pickle payload: unpickling it calls os.system, which would create the sentinel file."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def test_hostile_pickle_is_refused_and_does_not_run(tmp_path):
    sentinel = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"layers.0.weight": RunsACommand(sentinel)}, buffer)
    with pytest.raises(PlaygroundError) as info:
        read_weights("evil.pt", buffer.getvalue(), SPEC)
    assert not sentinel.exists()
    assert "tries to run code" in info.value.sentence and "Nothing in it was run" in info.value.sentence
    assert "weights_only=False" not in str(info.value)  # never advise the unsafe road


def test_hostile_raw_pickle_is_refused_and_does_not_run(tmp_path):
    import pickle

    sentinel = tmp_path / "pwned"
    data = pickle.dumps(RunsACommand(sentinel), protocol=2)
    with pytest.raises(PlaygroundError):
        read_weights("evil.pt", data, SPEC)
    assert not sentinel.exists()
    # The payload really is live: plain pickle would have run it (in a child process, to be safe here).
    subprocess.run([sys.executable, "-c", "import pickle,sys; pickle.loads(sys.stdin.buffer.read())"],
                   input=data, check=False, timeout=30)
    assert sentinel.exists()


def test_whole_model_object_is_refused_plainly():
    buffer = io.BytesIO()
    torch.save(nn.Sequential(nn.Linear(2, 3)), buffer)
    with pytest.raises(PlaygroundError, match="whole model object, not a state_dict") as info:
        read_weights("model.pt", buffer.getvalue(), SPEC)
    assert "torch.save(model.state_dict(), path)" in info.value.sentence


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_truncated_files_are_refused(suffix):
    trained = make_trained()
    data = export.to_pt_bytes(trained) if suffix == ".pt" else export.to_safetensors_bytes(trained)
    for cut in (len(data) // 2, len(data) - 1, 9):
        with pytest.raises(PlaygroundError, match="not a complete"):
            read_weights("m" + suffix, data[:cut], SPEC)


@pytest.mark.parametrize("name", ["m.pt", "m.safetensors", "m"])
def test_empty_file_is_refused(name):
    with pytest.raises(PlaygroundError, match="empty"):
        read_weights(name, b"", SPEC)


def test_oversized_file_is_refused_before_parsing(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(1))
    with pytest.raises(PlaygroundError, match="files up to 10 MB"):
        read_weights("m.pt", b"PK" + b"\0" * limits.MAX_UPLOAD_BYTES, SPEC)
    assert calls == []


def test_a_file_that_is_not_a_checkpoint_is_refused():
    with pytest.raises(PlaygroundError, match="not a checkpoint"):
        read_weights("notes.txt", b"just some text, not weights", SPEC)
    with pytest.raises(PlaygroundError, match="not a complete"):
        read_weights("notes.pt", b"just some text, not weights", SPEC)
    with pytest.raises(PlaygroundError, match="not a complete"):
        read_weights("notes.safetensors", b"just some text, not weights", SPEC)


def test_a_single_tensor_or_a_list_is_not_a_state_dict():
    with pytest.raises(PlaygroundError, match="single tensor"):
        read_weights("m.pt", pt_of(torch.zeros(3)), SPEC)  # type: ignore[arg-type]
    with pytest.raises(PlaygroundError, match="not a state_dict"):
        read_weights("m.pt", pt_of([torch.zeros(3)]), SPEC)  # type: ignore[arg-type]
    with pytest.raises(PlaygroundError, match="not named tensors"):
        read_weights("m.pt", pt_of({"layers.0.weight": 3}), SPEC)  # type: ignore[dict-item]


def test_a_foreign_safetensors_without_spec_is_checked_against_the_current_model():
    data = safetensors.torch.save(dict(make_trained().state_dict))
    loaded = read_weights("foreign.safetensors", data, SPEC)
    assert loaded.config is None
    with pytest.raises(PlaygroundError, match="no model spec"):
        read_weights("foreign.safetensors", data, None)


def test_a_safetensors_with_a_damaged_spec_notes_it_and_falls_back():
    trained = make_trained()
    metadata = export.spec_metadata(trained)
    metadata[export.META_CONFIG] = '{"model": {"hidden": [99999]}}'
    data = safetensors.torch.save(dict(trained.state_dict), metadata=metadata)
    loaded = read_weights("m.safetensors", data, SPEC)
    assert loaded.config is None and loaded.notes


def test_gpu_saved_tensors_load_on_the_cpu():
    """A state_dict saved from CUDA tensors is mapped to the CPU (simulated with a meta-free CPU save)."""
    trained = make_trained()
    if torch.cuda.is_available():  # on a GPU machine, save real CUDA tensors
        state = {k: v.to("cuda") for k, v in trained.state_dict.items()}
    else:
        state = trained.state_dict
    buffer = io.BytesIO()
    torch.save(state, buffer)
    loaded = read_weights("gpu.pt", buffer.getvalue(), SPEC)
    assert all(v.device.type == "cpu" for v in loaded.state_dict.values())
    assert_bit_identical(loaded.state_dict, trained.state_dict)


def test_a_plain_sequential_or_another_attribute_loads():
    """The model's keys are layers.0.weight, ...; a plain nn.Sequential's state_dict (0.weight, as runs kept
    before the Net class were saved) and a model keeping its layers under another name (net.0.weight) load too."""
    trained = make_trained()
    assert all(key.startswith("layers.") for key in trained.state_dict)
    plain = {k.removeprefix("layers."): v for k, v in trained.state_dict.items()}
    loaded = read_weights("model.pt", pt_of(plain), SPEC)
    assert_bit_identical(loaded.state_dict, trained.state_dict)
    assert "had no `layers.` at their start" in loaded.notes[0]
    other = {f"net.{k}": v for k, v in plain.items()}
    loaded = read_weights("model.pt", pt_of(other), SPEC)
    assert_bit_identical(loaded.state_dict, trained.state_dict)
    assert "`net.`" in loaded.notes[0]
    mixed = {**other, "other.0.weight": torch.zeros(1)}
    with pytest.raises(WeightsMismatch):
        read_weights("model.pt", pt_of(mixed), SPEC)


def test_keys_with_or_without_one_common_prefix_load_either_way(monkeypatch):
    """The model may keep its layers in ``self.layers`` (keys ``layers.0.weight``) or be a plain nn.Sequential
    (``0.weight``); a file of either kind loads into either, with a note saying what was renamed."""
    trained = make_trained()
    plain = dict(trained.state_dict)
    prefixed = {f"layers.{k}": v for k, v in plain.items()}
    other = {f"model.{k}": v for k, v in plain.items()}
    real = weights_import.expected_shapes

    monkeypatch.setattr(weights_import, "expected_shapes", lambda spec: {f"layers.{k}": v for k, v in real(spec).items()})
    for data, note in ((pt_of(plain), "had no `layers.` at their start"), (pt_of(prefixed), None),
                       (pt_of(other), "renamed")):
        loaded = read_weights("m.pt", data, SPEC)
        assert list(loaded.state_dict) == list(prefixed)
        assert_bit_identical(loaded.state_dict, prefixed)
        assert (note in loaded.notes[0]) if note else not loaded.notes
    monkeypatch.setattr(weights_import, "expected_shapes", real)
    loaded = read_weights("m.pt", pt_of(prefixed), SPEC)
    assert list(loaded.state_dict) == list(plain) and "was dropped" in loaded.notes[0]
    with pytest.raises(WeightsMismatch):  # two different prefixes in one file: no single rename fits
        read_weights("m.pt", pt_of({**{f"a.{k}": v for k, v in list(plain.items())[:2]},
                                    **{f"b.{k}": v for k, v in list(plain.items())[2:]}}), SPEC)


def test_names_from_a_file_cannot_become_markdown():
    state = make_trained().state_dict
    state["![x](http://example.com/a.png)"] = torch.zeros(1)
    with pytest.raises(WeightsMismatch) as info:
        read_weights("m.safetensors", safetensors.torch.save(state), SPEC)
    assert "unexpected key `![x](http://example.com/a.png)`" in info.value.sentence
    many = {f"extra{i}": torch.zeros(1) for i in range(40)}
    with pytest.raises(WeightsMismatch) as info:
        read_weights("m.safetensors", safetensors.torch.save({**state, **many}), SPEC)
    assert "and 33 more" in info.value.sentence and len(info.value.sentence) < 1_000


def test_metrics_in_a_file_are_never_believed():
    """An untrained model's safetensors whose metadata claims a perfect test accuracy: the claim is dropped."""
    untrained = make_trained()
    metadata = export.spec_metadata(untrained)
    metadata[export.META_TEST_METRICS] = json.dumps({"accuracy": 1.0, "n": 50})
    loaded = read_weights("m.safetensors", safetensors.torch.save(dict(untrained.state_dict), metadata=metadata))
    assert loaded.test_metrics == {} and loaded.to_trained(loaded.config).test_metrics == {}


@pytest.mark.parametrize(("config", "fragment"), [
    ({"model": {"hidden": 5}}, "must be lists"),
    ({"model": {"hidden": [None]}}, "whole number of neurons"),
    ({"train": {"epochs": "9" * 5_000}}, "This spec file's settings"),
    ({"train": {"lr": [1, 2]}}, "This spec file's settings"),
    ([None], "not a JSON object"),
    ({"model": {"activations": ["![x](http://example.com/a.png)"]}}, "are not valid"),
])
def test_a_spec_with_wrong_types_is_a_sentence(config, fragment):
    document = {"format": export.SPEC_FORMAT, "version": 1, "config": config}
    with pytest.raises(PlaygroundError) as info:
        read_spec_json(json.dumps(document).encode())
    assert fragment in info.value.sentence and "](http" not in info.value.sentence.replace("\\]\\(", "")


def test_a_spec_with_a_5000_digit_number_is_a_sentence():
    with pytest.raises(PlaygroundError, match="not valid JSON"):
        read_spec_json(b'{"format": "' + export.SPEC_FORMAT.encode() + b'", "config": {"train": {"epochs": '
                       + b"9" * 5_000 + b"}}}")


def test_an_upload_is_checked_against_its_own_spec_else_the_current_model():
    current = make_trained()
    other_spec = ModelSpec(in_features=2, hidden=(5,), activations=("relu",), out_features=3)
    other = make_trained(other_spec)
    carried = weights_import.read_upload("o.safetensors", export.to_safetensors_bytes(other), SPEC)
    assert carried.config == other.config and not weights_import.fits(carried.state_dict, SPEC)
    with pytest.raises(WeightsMismatch):  # a .pt carries no spec: it must fit the current model
        weights_import.read_upload("o.pt", export.to_pt_bytes(other), SPEC)
    plain = weights_import.read_upload("c.pt", export.to_pt_bytes(current), SPEC)
    assert plain.config is None and weights_import.fits(plain.state_dict, SPEC)
