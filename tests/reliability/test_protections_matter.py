"""Each key protection matters: with it removed (monkeypatched away for one test, never in the code),
the catalogue's own oracle fails. So the catalogue is not passing by accident.

- weights_only=True: a command-running pickle runs (the sentinel file appears) once torch.load is
  called with weights_only=False;
- the literal limits: without the character limit the 5 MB literal is no longer refused for its size,
  and without the element limit a shape of 10^9 elements is accepted (we stop before allocating it);
- the expression allow-list: with a plain eval in its place, ``__import__('os').system(...)`` runs.
Plus the server settings the security review relies on (XSRF, hidden error details, upload cap).
"""

from __future__ import annotations

import tomllib

import pytest
import torch

from playground import limits
from playground.errors import PlaygroundError
from playground.tensors.build import check_shape
from tests.app.conftest import open_page
from tests.reliability import test_hostile_autograd as autograd_cases
from tests.reliability import test_hostile_tensor_lab as lab_cases
from tests.reliability import test_hostile_weights as weight_cases
from tests.reliability.conftest import ROOT

ORACLE_FAILS = (AssertionError, pytest.fail.Exception)


def test_with_weights_only_off_the_malicious_pickle_runs_and_the_oracle_catches_it(tmp_path, monkeypatch):
    real_load = torch.load

    def unsafe_load(*args, **kwargs):
        kwargs["weights_only"] = False  # the protection, removed
        return real_load(*args, **kwargs)

    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(torch, "load", unsafe_load)
    with pytest.raises(ORACLE_FAILS):
        weight_cases.test_hostile_upload_is_a_sentence_and_keeps_the_model(None, tmp_path, "pickle-runs-command-in-zip")
    assert (tmp_path / "pwned").exists(), "without weights_only the command ran: this is what the oracle guards"


def test_with_weights_only_on_the_same_case_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    weight_cases.test_hostile_upload_is_a_sentence_and_keeps_the_model(None, tmp_path, "pickle-runs-command-in-zip")
    assert not (tmp_path / "pwned").exists()


def test_without_the_character_limit_the_5_mb_literal_is_not_refused_for_its_size(monkeypatch):
    monkeypatch.setattr(limits, "MAX_LITERAL_CHARS", 10**9)
    with pytest.raises(ORACLE_FAILS):
        lab_cases.test_literal_parser_refuses_in_bounded_time("[" * 100_001, "characters long")


def test_without_the_element_limit_a_shape_of_a_billion_elements_is_accepted(monkeypatch):
    monkeypatch.setattr(limits, "MAX_TENSOR_ELEMENTS", 10**12)
    check_shape((1000, 1000, 1000))  # no sentence: the page would now ask torch for 4 GB
    with pytest.raises(ORACLE_FAILS):
        with pytest.raises(PlaygroundError):
            check_shape((1000, 1000, 1000))


def test_with_the_limit_in_place_the_shape_is_refused():
    with pytest.raises(PlaygroundError):
        check_shape((1000, 1000, 1000))


def test_without_the_allow_list_an_expression_runs_a_command_and_the_oracle_catches_it(monkeypatch):
    import playground.autograd.graph as graph

    real_trace = graph.trace

    def eval_trace(spec):  # the allow-listed parser replaced by Python's eval: the protection, removed
        values = {v.name: torch.tensor(1.0) for v in spec.variables}
        eval(spec.expression, {"__builtins__": __builtins__}, values)  # noqa: S307 - the point of the test
        return real_trace(spec)

    monkeypatch.setattr(graph, "trace", eval_trace)
    autograd_cases.SENTINEL.unlink(missing_ok=True)
    hostile = f"__import__('os').system('touch {autograd_cases.SENTINEL}')"
    try:
        with pytest.raises(ORACLE_FAILS):
            autograd_cases.test_hostile_expression_on_the_page(open_page("views/autograd.py"), hostile, "is not allowed")
        assert autograd_cases.SENTINEL.exists(), "with eval the command ran: this is what the oracle guards"
    finally:
        autograd_cases.SENTINEL.unlink(missing_ok=True)


def test_server_settings_the_security_review_relies_on():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["maxUploadSize"] * 1024 * 1024 == limits.MAX_UPLOAD_BYTES
    assert config["server"]["runOnSave"] is False and config["server"]["fileWatcherType"] == "none"
