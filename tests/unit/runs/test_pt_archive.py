"""The .pt checks before unpickling, each bound at its edge, and the limited loader child.

What torch.save writes must pass (state_dicts, checkpoints with optimizer state, tied weights, parameters,
views); what it does not write, or what asks for more than a state_dict needs, is refused with a sentence
naming the problem, without anything in the file being unpickled.
"""

from __future__ import annotations

import io
import struct

import pytest
import torch
from torch import nn

from playground import limits
from playground.errors import PlaygroundError
from playground.runs import pt_archive, pt_loader
from playground.runs.pt_archive import ArchiveRefused, check_pt, shown_name
from tests import hostile_pt as h


def saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def refused(data: bytes) -> ArchiveRefused:
    with pytest.raises(ArchiveRefused) as caught:
        check_pt(data)
    return caught.value


def trained_model_and_optimizer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(5, 2)).sum().backward()
    optimizer.step()
    return model, optimizer


# ---- what torch.save writes passes ---------------------------------------------------------------------------


def test_what_torch_save_writes_passes(tmp_path):
    model, optimizer = trained_model_and_optimizer()
    path = tmp_path / "my model.pt"  # the archive's folder is named after the file
    torch.save(model.state_dict(), path)
    cases = {
        "state_dict": saved(model.state_dict()),
        "named file": path.read_bytes(),
        "checkpoint": saved({"epoch": 3, "model_state_dict": model.state_dict(),
                             "optimizer_state_dict": optimizer.state_dict(), "loss": 0.25, "note": "best"}),
        "tied weights and views": saved({"a": model[0].weight, "b": model[0].weight, "t": model[0].weight.t(),
                                         "row": model[0].weight[1]}),
        "a parameter": saved({"p": nn.Parameter(torch.ones(3))}),
        "every dtype": saved({str(d): torch.zeros(2, dtype=d) for d in (
            torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.int16, torch.int8,
            torch.uint8, torch.bool, torch.complex64)}),
        "empty tensor": saved({"e": torch.zeros(0, 3)}),
    }
    for name, data in cases.items():
        checked = check_pt(data)
        assert checked.opcodes > 0, name


def test_a_tensor_at_the_end_of_its_storage_passes_and_one_element_beyond_is_refused():
    at_end = h.archive(h.state_dict([("w", h.tensor("0", 4, (2,), (1,), offset=2))]), {"0": bytes(16)})
    check_pt(at_end)
    beyond = h.archive(h.state_dict([("w", h.tensor("0", 4, (2,), (1,), offset=3))]), {"0": bytes(16)})
    assert "beyond the end of its storage" in refused(beyond).sentence
    strided = h.archive(h.state_dict([("w", h.tensor("0", 4, (2, 2), (2, 1))), ("t", h.tensor("0", 4, (2, 2), (1, 2)))]),
                        {"0": bytes(16)})
    check_pt(strided)


# ---- the three attacks of issue 12 --------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "kind", "fragment"), [
    (h.bytearray_alloc(2_000_000_000), "object", "builtins.bytearray"),
    (h.storage_claim(500_000_000, 4), "storage", "claims 500,000,000 elements"),
    (h.nested_tuple_key(40), "memo", "shared through the memo"),
    (h.shared_list(40), "memo", "shared through the memo"),
], ids=["bytearray-2GB", "storage-claims-2GB", "tuple-key-2^40", "shared-lists-2^40"])
def test_attacks_are_refused_at_once(data, kind, fragment, monkeypatch):
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("nothing may be unpickled"))
    exc = refused(data)
    assert exc.kind == kind and fragment in str(exc)


def test_a_compressed_record_that_inflates_past_the_limit_is_refused_from_its_declared_size():
    data = h.huge_storage(limits.MAX_PT_DATA_BYTES // 4 + 1)  # a few kB that would inflate to 32 MB + 4 bytes
    assert len(data) < 100_000
    assert "would unpack to 33,554,436 bytes" in refused(data).sentence
    check_pt(h.huge_storage(limits.MAX_PT_DATA_BYTES // 4))  # exactly at the limit: allowed


def test_tensors_viewing_more_than_the_data_limit_are_refused():
    """A stride-0 view may claim more elements than its storage holds: its elements count against the limit."""
    numel = limits.MAX_PT_DATA_BYTES // 4
    check_pt(h.archive(h.state_dict([("w", h.tensor("0", 1, (numel,), (0,)))]), {"0": bytes(4)}))
    over = h.archive(h.state_dict([("w", h.tensor("0", 1, (numel + 1,), (0,)))]), {"0": bytes(4)})
    assert "more than 32 MB" in refused(over).sentence


# ---- each bound at its edge ---------------------------------------------------------------------------------


def test_storage_records_must_hold_exactly_numel_times_itemsize():
    check_pt(h.storage_claim(4, 4))
    assert "claims 5 elements (20 bytes) but its record holds 16 bytes" in refused(h.storage_claim(5, 4)).sentence
    assert "claims 3 elements" in refused(h.storage_claim(3, 4)).sentence


def test_pickle_instructions_at_the_limit_pass_and_one_more_is_refused():
    check_pt(h.int_list(limits.MAX_PT_PICKLE_OPS - 8))
    assert f"more than {limits.MAX_PT_PICKLE_OPS:,} instructions" in refused(h.int_list(limits.MAX_PT_PICKLE_OPS - 7)).sentence


def test_memo_reuse_at_the_limit_passes_and_one_more_is_refused():
    check_pt(h.flat_tuple_reused(limits.MAX_PT_MEMO_REUSES))
    assert "reuses kept values more than" in refused(h.flat_tuple_reused(limits.MAX_PT_MEMO_REUSES + 1)).sentence


def test_nesting_at_the_limit_passes_and_one_deeper_is_refused():
    check_pt(h.nested_lists(limits.MAX_PT_DEPTH - 1))
    assert f"more than {limits.MAX_PT_DEPTH} deep" in refused(h.nested_lists(limits.MAX_PT_DEPTH)).sentence


def test_integers_up_to_64_bits_pass():
    check_pt(h.big_int(2**63 - 1))
    check_pt(h.big_int(-(2**63) + 1))
    assert "beyond 64 bits" in refused(h.big_int(2**63)).sentence
    assert "beyond 64 bits" in refused(h.big_int(10**4000)).sentence


def test_strings_at_the_limit_pass():
    check_pt(h.long_text(limits.MAX_PT_STRING_CHARS))
    assert "a string of 65,537 characters" in refused(h.long_text(limits.MAX_PT_STRING_CHARS + 1)).sentence


def test_the_pickle_record_size_and_the_record_count_are_bounded():
    chunk = limits.MAX_PT_STRING_CHARS
    head, tail = b"\x80\x02}" + h.text("w") + b"](", b"es."
    count = limits.MAX_PT_PICKLE_BYTES // (chunk + 5)
    body = b"".join(h.text("a" * chunk) for _ in range(count))
    last = limits.MAX_PT_PICKLE_BYTES - len(head) - len(tail) - len(body) - 5
    exact = head + body + h.text("a" * last) + tail
    assert len(exact) == limits.MAX_PT_PICKLE_BYTES
    check_pt(h.archive(exact))
    over = head + body + h.text("a" * (last + 1)) + tail
    assert "its pickle is 2,097,153 bytes" in refused(h.archive(over)).sentence
    good = h.state_dict([("w", h.tensor("0", 1, (1,)))])
    room = limits.MAX_PT_RECORDS - 4  # data.pkl, byteorder, version, data/0
    check_pt(h.archive(good, {"0": bytes(4), **{str(i): b"" for i in range(1, room + 1)}}))
    many = h.archive(good, {"0": bytes(4), **{str(i): b"" for i in range(1, room + 2)}})
    assert f"claims {limits.MAX_PT_RECORDS + 1} records" in refused(many).sentence


def test_a_claimed_record_count_is_refused_before_the_directory_is_read():
    data = bytearray(h.float_tensor_pt())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 0xFFFE, 0xFFFE)
    assert "claims 65,534 records" in refused(bytes(data)).sentence


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize(("make", "fragment"), [
    (lambda: h.archive(h.state_dict([]), extra={"other/x": b"1"}), "more than one folder"),
    (lambda: h.archive(h.state_dict([]), extra={"archive/big.bin": bytes(5000)}), "that torch.save does not write"),
    (lambda: h.archive(h.state_dict([]), extra={"archive/data.pkl": b"."}), "twice"),
    (lambda: h.archive(h.state_dict([("w", h.tensor("0", 1, (1,)))])), "is missing"),
    (lambda: h.archive(h.state_dict([("w", h.tensor("0", 1, (1,), storage_type="QInt8Storage"))]), {"0": b"\0"}),
     "Python object"),
    (lambda: h.archive(b"\x80\x02" + h.global_("torch.nn.modules.linear", "Linear") + b")R."), "whole model object"),
    (lambda: h.archive(b"\x80\x02" + h.global_("posix", "system") + h.text("id") + b"\x85R."), "tries to run code"),
    (lambda: h.archive(b"\x80\x02" + h.global_("builtins", "eval") + h.text("1") + b"\x85R."), "tries to run code"),
    (lambda: h.archive(b"\x80\x02" + h.global_("collections", "OrderedDict") + h.text("x") + b"\x85R."),
     "builds an OrderedDict from arguments"),
    (lambda: h.archive(b"\x80\x02" + h.global_("torch", "FloatStorage") + b")R."), "calls something other"),
    (lambda: h.archive(b"\x80\x02\x8f."), "instruction EMPTY_SET"),
    (lambda: h.archive(b"\x80\x02}C\x01a" + b"K\x01s."), "instruction SHORT_BINBYTES"),
    (lambda: h.archive(b"\x80\x02}(K\x01K\x02tK\x01s."), "not a string or an integer"),
    (lambda: h.archive(b"\x80\x02}q\x00K\x01h\x00s."), "shared through the memo"),
    (lambda: h.archive(b"\x80\x02}" + h.text("w")), "not a complete"),
    (lambda: b"PK\x03\x04" + b"\0" * 40, "not a complete"),
    (lambda: b"just some text", "not a complete"),
], ids=["two-folders", "unknown-big-record", "duplicate-record", "missing-storage", "quantized-storage",
        "nn-module", "os-system", "builtins-eval", "ordered-dict-args", "storage-called", "set", "bytes",
        "tuple-as-key", "dict-reused", "truncated-pickle", "broken-zip", "text"])
def test_what_torch_save_does_not_write_is_refused(make, fragment):
    exc = refused(make())
    assert fragment in str(exc), str(exc)
    assert "Traceback" not in str(exc)


def test_bare_pickles_are_not_read_and_code_in_them_is_named():
    import pickle

    plain = pickle.dumps({"w": 1}, protocol=2)
    assert "not a complete PyTorch checkpoint" in refused(plain).sentence
    evil = b"\x80\x02" + h.global_("posix", "system") + h.text("id") + b"\x85R."
    assert "tries to run code" in refused(evil).sentence
    old_protocol = b"(dp0\nVw\np1\ncposix\nsystem\np2\n(Vid\ntRs."
    assert "tries to run code" in refused(old_protocol).sentence


def test_names_from_a_file_are_quoted_for_markdown():
    assert shown_name("layers.0.weight") == "layers.0.weight"
    assert shown_name("num_batches_tracked") == "num_batches_tracked"
    assert shown_name("![x](http://example.com/a.png)") == "`![x](http://example.com/a.png)`"
    assert shown_name("__main__.Net") == "`__main__.Net`"
    assert shown_name("a`b\nc") == "`a'b'c`"
    assert len(shown_name("x" * 1000)) <= 63


def test_no_str_or_repr_of_a_value_from_the_file():
    """The checks never format a stand-in or a value: only counts, sizes and quoted names reach a sentence."""
    import inspect
    import re

    source = inspect.getsource(pt_archive)
    assert not re.search(r"\b(repr|str)\([^)]", source) and "!r}" not in source


# ---- the loader child -------------------------------------------------------------------------------------


def test_the_loader_hands_back_the_tensors_bit_for_bit():
    model, optimizer = trained_model_and_optimizer()
    reply = pt_loader.load_checked_pt(saved({"epoch": 1, "model_state_dict": model.state_dict(),
                                             "optimizer_state_dict": optimizer.state_dict()}))
    assert reply.status == "ok" and reply.header["keys"] == list(model.state_dict())
    import safetensors.torch

    back = safetensors.torch.load(reply.tensors)
    for key, value in model.state_dict().items():
        assert back[key].dtype == value.dtype and torch.equal(back[key], value)


def test_the_loader_child_is_bounded_in_memory_and_cpu(monkeypatch):
    """Files the checks would refuse, given to the child directly: it refuses them within its limits."""
    monkeypatch.setattr(limits, "LOADER_CPU_S", 1)
    monkeypatch.setattr(limits, "LOADER_WALL_S", 5.0)
    assert pt_loader.load_checked_pt(h.bytearray_alloc(2_000_000_000)).status == "memory"
    assert pt_loader.load_checked_pt(h.huge_storage(150_000_000)).status == "memory"  # inflates to 600 MB
    assert pt_loader.load_checked_pt(h.nested_tuple_key(40)).status in ("killed", "timeout")
    assert pt_loader.load_checked_pt(h.float_tensor_pt()).status == "ok"  # and it still works


def test_the_loader_restarts_after_it_is_stopped():
    assert pt_loader.load_checked_pt(h.float_tensor_pt()).status == "ok"
    pt_loader.stop_loader()
    assert pt_loader.load_checked_pt(h.float_tensor_pt()).status == "ok"


@pytest.mark.parametrize(("status", "payload"), [
    (b"O", b""), (b"O", struct.pack(">Q", 10**9)), (b"O", struct.pack(">Q", 3) + b"{x}"),
    (b"O", struct.pack(">Q", 2) + b"[]"), (b"O", struct.pack(">Q", 17) + b'{"status": "own"}'),
    (b"Z", b""), (b"T", b""), (b"K", b""),
])
def test_a_reply_is_read_as_untrusted(status, payload):
    reply = pt_loader._reply(status, payload)
    assert reply.status in ("error", "timeout", "killed") and reply.tensors == b""


def test_sentences_for_what_the_child_found():
    from playground.runs.pt_loader import LoaderReply
    from playground.runs.weights_import import _loader_error

    assert "single tensor" in _loader_error(LoaderReply("refused", {"code": "tensor"})).sentence
    assert "holds a list" in _loader_error(LoaderReply("refused", {"code": "type", "type": "list"})).sentence
    entries = _loader_error(LoaderReply("refused", {"code": "entries", "entries": ["![a](http://x/y.png)"]})).sentence
    assert "`![a](http://x/y.png)`" in entries
    assert "more than 512 MB" in _loader_error(LoaderReply("memory", {})).sentence
    assert "did not finish within the limits" in _loader_error(LoaderReply("killed", {})).sentence
    assert isinstance(_loader_error(LoaderReply("error", {"detail": 5})), PlaygroundError)


def test_what_torch_refuses_after_the_checks_is_still_a_sentence():
    """Pickle protocol 4 passes the checks, but torch's weights-only unpickler refuses its FRAME opcode."""
    from playground.runs.weights_import import read_pt

    buffer = io.BytesIO()
    torch.save(nn.Linear(2, 3).state_dict(), buffer, pickle_protocol=4)
    check_pt(buffer.getvalue())
    with pytest.raises(PlaygroundError) as caught:
        read_pt(buffer.getvalue())
    assert "not a complete PyTorch checkpoint" in caught.value.sentence and "Unsupported operand" in caught.value.detail
