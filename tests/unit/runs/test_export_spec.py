"""The spec JSON's loading instructions, followed literally where the project cannot be imported, load the
downloads strictly; files downloaded before the spec carried its code still load in the app."""

from __future__ import annotations

import io
import json

import pytest
import safetensors.torch
import torch

from playground.builder import codegen
from playground.builder.config import ModelSpec
from playground.runs import export, weights_import
from tests import sample_runs
from tests.shown_code import numbers, run_shown

SPECS = {
    "two-hidden-layers": sample_runs.SPEC,
    "dropout-and-linear": ModelSpec(in_features=3, hidden=(5, 4), activations=("linear", "sigmoid"), out_features=1,
                                    task="regression", dropout=0.2),
    "no-hidden-layer": ModelSpec(in_features=4, hidden=(), activations=(), out_features=2),
}
SAFETENSORS_LINE = "# from safetensors.torch import load_file; "


def probe(in_features: int) -> torch.Tensor:
    return torch.arange(3 * in_features, dtype=torch.float32).reshape(3, in_features) / 7 - 0.5


def test_following_the_specs_instructions_loads_the_pt_and_the_safetensors_strictly(tmp_path):
    scripts, expected = {}, {}
    folder = tmp_path / "isolated"
    folder.mkdir()
    for name, spec in SPECS.items():
        trained = sample_runs.make_trained(spec, seed=3)
        stem = f"run-{name}"
        (folder / f"{stem}.pt").write_bytes(export.to_pt_bytes(trained))
        (folder / f"{stem}.safetensors").write_bytes(export.to_safetensors_bytes(trained))
        document = json.loads(export.spec_json(trained, stem))
        assert "load_code" in document["how_to_load"] and f"{stem}.pt" in document["how_to_load"]
        assert f"{stem}.safetensors" in document["how_to_load"]
        code = "\n".join(document["load_code"]) + "\n"
        # Each run ends by printing the loaded model's outputs on a fixed input, compared with the app's below.
        check = (f"x = torch.arange({3 * spec.in_features}, dtype=torch.float32).reshape(3, {spec.in_features}) / 7 - 0.5\n"
                 "with torch.no_grad():\n    print(model(x).flatten().tolist())\n")
        lines = code.splitlines()
        pt_line = [line for line in lines if line.startswith("state_dict = torch.load(")]
        commented = [line for line in lines if line.startswith(SAFETENSORS_LINE)]
        assert len(pt_line) == len(commented) == 1  # the lines the instructions name
        scripts[f"{name}.pt"] = code + check
        scripts[f"{name}.safetensors"] = (code.replace(pt_line[0] + "\n", commented[0].removeprefix("# ") + "\n")
                                          + check)  # in place of the torch.load line, uncommented
        with torch.no_grad():
            expected[name] = trained.build()(probe(spec.in_features)).flatten().tolist()
    printed = run_shown(scripts, folder)  # python -I in an empty folder: the project not importable
    for name in SPECS:
        for kind in ("pt", "safetensors"):
            assert numbers(printed[f"{name}.{kind}"]) == pytest.approx(expected[name], abs=0, rel=1e-6), (name, kind)


def test_the_instructions_load_strictly_and_fail_on_a_file_of_another_model(tmp_path):
    """strict=True is load_state_dict's default: another model's weights beside the spec are refused, not half-loaded."""
    trained = sample_runs.make_trained(sample_runs.SPEC)
    other = sample_runs.make_trained(ModelSpec(in_features=2, hidden=(8,), activations=("tanh",), out_features=3))
    (tmp_path / "model.pt").write_bytes(export.to_pt_bytes(other))
    code = "\n".join(export.spec_dict(trained)["load_code"]) + "\n"
    with pytest.raises(AssertionError, match="Unexpected key|Missing key|size mismatch"):
        run_shown({"load": code}, tmp_path)


def test_the_spec_the_code_panels_and_train_py_write_one_model_class():
    """One class ``Net`` (layers in ``self.layers``) in the spec's code, the panels and train.py; the downloads' keys are its keys."""
    trained = sample_runs.make_trained(sample_runs.SPEC)
    block = codegen.model_block(trained.config.model)
    code = "\n".join(export.spec_dict(trained)["load_code"])
    assert block in code + "\n"
    assert block in codegen.script(trained.config) and block in codegen.model_code(trained.config)
    assert block in codegen.load_code(trained.config, "model.pt")
    keys = list(torch.load(io.BytesIO(export.to_pt_bytes(trained)), weights_only=True))
    assert keys == list(trained.build().state_dict())
    assert sorted(keys) == sorted(safetensors.torch.load(export.to_safetensors_bytes(trained)))  # safetensors sorts
    assert keys[0] == "layers.0.weight"


# ---------------------------------------------------------------------------- files downloaded before


def _old_metadata(trained) -> dict[str, str]:
    """The safetensors metadata as the app wrote it before the spec carried its load code (written out here, so a
    later change to export cannot change what an old file is)."""
    return {
        "format": "pt",
        "playground_config": json.dumps(trained.config.to_dict(), sort_keys=True),
        "playground_standardization": json.dumps(trained.standardization),
        "playground_classes": json.dumps(list(trained.classes)),
        "playground_feature_names": json.dumps(list(trained.feature_names)),
        "playground_test_metrics": json.dumps({"accuracy": 0.5}),
    }


def test_files_downloaded_before_this_change_still_load(tmp_path):
    """A .pt (keys layers.0.weight, ...), a .safetensors with the old metadata and a spec JSON whose how_to_load was
    one sentence, all built here key by key, load as before; so does a plain nn.Sequential's .pt (0.weight, ...)."""
    trained = sample_runs.make_trained(sample_runs.SPEC, seed=5)
    old_keys = {f"layers.{index}.{part}": tensor for (index, part), tensor in (
        ((0, "weight"), trained.state_dict["layers.0.weight"]), ((0, "bias"), trained.state_dict["layers.0.bias"]),
        ((2, "weight"), trained.state_dict["layers.2.weight"]), ((2, "bias"), trained.state_dict["layers.2.bias"]),
        ((4, "weight"), trained.state_dict["layers.4.weight"]), ((4, "bias"), trained.state_dict["layers.4.bias"]))}
    buffer = io.BytesIO()
    torch.save(old_keys, buffer)
    from_pt = weights_import.read_upload("model-old.pt", buffer.getvalue(), sample_runs.SPEC)
    assert not from_pt.notes and list(from_pt.state_dict) == list(old_keys)
    old_safetensors = safetensors.torch.save(old_keys, metadata=_old_metadata(trained))
    from_safetensors = weights_import.read_upload("model-old.safetensors", old_safetensors, sample_runs.SPEC)
    assert from_safetensors.config == trained.config
    plain = {key.removeprefix("layers."): tensor for key, tensor in old_keys.items()}
    buffer = io.BytesIO()
    torch.save(plain, buffer)
    from_plain = weights_import.read_upload("sequential.pt", buffer.getvalue(), sample_runs.SPEC)
    for loaded in (from_pt, from_safetensors, from_plain):
        assert all(torch.equal(loaded.state_dict[key], old_keys[key]) for key in old_keys)
    old_spec = {"format": "pytorch-playground-spec", "version": 1, "config": trained.config.to_dict(),
                "how_to_load": "model = build the nn.Sequential these shapes describe; model.load_state_dict(...)"}
    assert weights_import.read_spec_json(json.dumps(old_spec).encode()) == trained.config


def test_the_specs_instructions_read_as_written_and_name_what_load_code_holds():
    trained = sample_runs.make_trained()
    spec = export.spec_dict(trained, "run-7")
    assert spec["how_to_load"] == (
        "Save the lines of load_code as load.py beside the downloaded weights and run it with python: it defines the "
        "page's model class Net (its layers in self.layers, so the keys are layers.0.weight, ...) and loads run-7.pt "
        "with torch.load(weights_only=True) and a strict load_state_dict; to load run-7.safetensors instead, put its "
        "commented line, uncommented, in place of the torch.load line.")
    code = "\n".join(spec["load_code"])  # each name the sentence gives is in the code it describes
    assert "class Net" in code and "self.layers" in code and "'run-7.pt'" in code and "weights_only=True" in code
    assert "load_state_dict(state_dict)" in code and "'run-7.safetensors'" in code
    assert any(line.startswith(SAFETENSORS_LINE) for line in spec["load_code"])  # the commented line
    assert "layers.0.weight" in spec["state_dict_shapes"]
