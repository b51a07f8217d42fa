"""Each key protection matters: with it removed (monkeypatched away for one test, never in the code),
the catalogue's own oracle fails. So the catalogue is not passing by accident.

- the .pt checks before unpickling, the limited loader child and weights_only=True: each alone refuses a
  command-running pickle; with all three removed it runs (the sentinel file appears). Without the checks,
  tuples shared through the memo and hashed as a dict key make the child work until its CPU limit (the
  2 s oracle fails); without the checks and the child, an allowed builtin's 400 MB lands in the server
  (the 100 MB oracle fails), while the child alone keeps the server flat;
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
from playground.runs import pt_loader, weights_import
from playground.tensors.literal import check_shape
from tests import hostile_pt
from tests.app.conftest import open_page
from tests.reliability import test_hostile_autograd as autograd_cases
from tests.reliability import test_hostile_tensor_lab as lab_cases
from tests.reliability import test_hostile_weights as weight_cases
from tests.reliability.conftest import ROOT

ORACLE_FAILS = (AssertionError, pytest.fail.Exception)


def without_the_checks(monkeypatch) -> None:
    """The .pt checks before unpickling, removed."""
    monkeypatch.setattr(weights_import, "check_pt", lambda data: None)


def loading_in_the_server(monkeypatch, weights_only: bool = True) -> None:
    """The limited child removed: the same loading code runs in the server process (weights_only as given)."""
    real_load = torch.load

    def load(*args, **kwargs):
        kwargs["weights_only"] = weights_only
        return real_load(*args, **kwargs)

    def in_server(data: bytes) -> pt_loader.LoaderReply:
        monkeypatch.setattr(torch, "load", load)
        try:
            header, tensors = pt_loader.load_and_describe(data)
        finally:
            monkeypatch.setattr(torch, "load", real_load)
        return pt_loader.LoaderReply(header["status"], header, tensors)

    monkeypatch.setattr(weights_import, "load_checked_pt", in_server)


def run_command_case(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path / "data"))
    weight_cases.test_hostile_upload_is_a_sentence_and_keeps_the_model(None, tmp_path, "pickle-runs-command-in-zip")


def test_with_every_weights_protection_removed_the_malicious_pickle_runs_and_the_oracle_catches_it(tmp_path, monkeypatch):
    without_the_checks(monkeypatch)
    loading_in_the_server(monkeypatch, weights_only=False)
    with pytest.raises(ORACLE_FAILS):
        run_command_case(tmp_path, monkeypatch)
    assert (tmp_path / "pwned").exists(), "without any protection the command ran: this is what the oracle guards"


@pytest.mark.parametrize("kept", ["the checks", "the child", "weights_only"])
def test_each_weights_protection_alone_stops_the_malicious_pickle(tmp_path, monkeypatch, kept):
    if kept != "the checks":
        without_the_checks(monkeypatch)
    if kept != "the child":
        loading_in_the_server(monkeypatch, weights_only=kept == "weights_only")
    run_command_case(tmp_path, monkeypatch)
    assert not (tmp_path / "pwned").exists()


def test_without_the_checks_a_hash_explosion_runs_until_the_child_is_stopped(monkeypatch):
    data = hostile_pt.nested_tuple_key(40)
    weight_cases.assert_refused_within_bounds("tuples.pt", data, "shared through the memo")
    without_the_checks(monkeypatch)
    monkeypatch.setattr(limits, "LOADER_CPU_S", 3)  # the child stops it, but only at its CPU limit
    with pytest.raises(ORACLE_FAILS):
        weight_cases.assert_refused_within_bounds("tuples.pt", data, None)


def test_without_the_checks_the_child_alone_keeps_the_server_flat_and_without_both_it_grows(monkeypatch):
    data = hostile_pt.bytearray_alloc(400 * 1024 * 1024)
    warm = weight_cases.export.to_pt_bytes(weight_cases.make_trained(seed=1))
    weight_cases.weights_import.read_upload("warm.pt", warm, weight_cases.SPEC)  # the loader has imported torch
    without_the_checks(monkeypatch)
    weight_cases.assert_refused_within_bounds("alloc.pt", data, None)  # the 400 MB are the child's, not ours
    loading_in_the_server(monkeypatch, weights_only=True)
    with pytest.raises(ORACLE_FAILS):
        weight_cases.assert_refused_within_bounds("alloc.pt", data, None)


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
            autograd_cases.test_hostile_expression_on_the_page(open_page("pages/autograd.py"), hostile, "is not allowed")
        assert autograd_cases.SENTINEL.exists(), "with eval the command ran: this is what the oracle guards"
    finally:
        autograd_cases.SENTINEL.unlink(missing_ok=True)


def test_server_settings_the_security_review_relies_on():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["client"]["showErrorDetails"] == "none"
    assert config["server"]["maxUploadSize"] * 1024 * 1024 == limits.MAX_UPLOAD_BYTES
    assert config["server"]["runOnSave"] is False and config["server"]["fileWatcherType"] == "none"


def test_without_quoting_user_text_a_markdown_image_reaches_the_page(monkeypatch):
    import playground.tensors.literal as literal

    monkeypatch.setattr(literal, "quoted", lambda text, limit=40: str(text)[:limit])  # the protection, removed
    with pytest.raises(ORACLE_FAILS):
        lab_cases.test_text_typed_into_a_box_is_shown_as_text(open_page("app.py"),
                                                               {"tl_literal": f"[1, {lab_cases.IMAGE}]"})


def test_without_the_exponent_length_check_4301_digits_escape_as_a_valueerror(monkeypatch):
    monkeypatch.setattr(limits, "MAX_EXPONENT_CHARS", 10**9)
    from playground.tensors.ops import parse_exponent

    call, fragment = (lambda: parse_exponent("9" * 4_301)), "4,301 characters"
    with pytest.raises((*ORACLE_FAILS, ValueError)) as caught:
        lab_cases.test_each_box_is_bounded_in_the_logic_too(call, fragment)
    assert not isinstance(caught.value, PlaygroundError)  # int()'s own ValueError: past any handler of sentences


def test_without_the_node_summary_a_trace_entry_is_megabytes(monkeypatch):
    import playground.autograd.graph as graph
    from tests.unit.autograd import test_result_cache

    monkeypatch.setattr(graph, "MAX_GRAPH_NODE_ELEMENTS", limits.MAX_TENSOR_ELEMENTS)
    with pytest.raises(ORACLE_FAILS):
        test_result_cache.test_a_trace_entry_stays_small_even_for_the_largest_tensors()


def test_without_the_work_bound_the_costly_optimizer_setup_runs(monkeypatch):
    from tests.unit.autograd import test_optimizer_paths

    monkeypatch.setattr(limits, "MAX_OPTIMIZER_WORK", 10**12)
    with pytest.raises(ORACLE_FAILS):
        test_optimizer_paths.test_the_costly_setup_of_issue_12_is_refused_before_it_runs(monkeypatch)
