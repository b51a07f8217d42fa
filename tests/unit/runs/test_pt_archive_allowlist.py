"""The .pt checker's allow-lists pinned as exact sets: widening one (an extra pickle global, opcode or storage
type) must fail here, not only in a hostile-file test that happens to use that entry."""

from __future__ import annotations

import io
import pickle

import pytest
import torch

from playground.runs import pt_archive
from playground.runs.pt_archive import ArchiveRefused, check_pt


def test_callable_globals_are_exactly_the_rebuild_functions_and_ordered_dict():
    assert pt_archive.CALLABLE_GLOBALS == {
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("collections", "OrderedDict"),
    }


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")
def test_storage_types_and_their_itemsizes_are_pinned():
    assert pt_archive.STORAGE_ITEMSIZE == {
        "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
        "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
        "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8,
    }
    for name, size in pt_archive.STORAGE_ITEMSIZE.items():  # each agrees with torch's own element size
        assert getattr(torch, name)().element_size() == size, name


def test_allowed_opcodes_are_exactly_these():
    assert pt_archive.ALLOWED_OPCODES == {
        "PROTO", "FRAME", "STOP", "MARK", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2",
        "TUPLE3", "LIST", "DICT", "APPEND", "APPENDS", "SETITEM", "SETITEMS", "BINPUT", "LONG_BINPUT", "PUT",
        "MEMOIZE", "BINGET", "LONG_BINGET", "GET", "BININT", "BININT1", "BININT2", "INT", "LONG", "LONG1", "LONG4",
        "BINFLOAT", "FLOAT", "NEWTRUE", "NEWFALSE", "NONE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
        "UNICODE", "GLOBAL", "STACK_GLOBAL", "REDUCE", "BINPERSID", "BUILD",
    }


def test_the_code_deny_lists_used_for_the_sentence_are_pinned():
    assert pt_archive.CODE_MODULES == {
        "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "webbrowser", "pty",
        "commands", "code", "ctypes", "marshal", "pickle", "_pickle", "types", "functools", "operator"}
    assert pt_archive.CODE_BUILTINS == {
        "eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr", "open", "breakpoint", "input",
        "globals", "locals", "vars", "apply", "execfile"}


@pytest.mark.parametrize("module, attr", sorted(pt_archive.CALLABLE_GLOBALS) + [("torch", "FloatStorage"), ("torch", "BoolStorage")])
def test_each_allowed_global_gets_through(module, attr):
    assert pt_archive._global(module, attr).value == (module, attr)


@pytest.mark.parametrize("module, attr", [
    ("torch._utils", "_rebuild_sparse_tensor"), ("torch._utils", "_rebuild_qtensor"), ("collections", "defaultdict"),
    ("torch", "UntypedStorage"), ("torch", "load"), ("torch.nn.modules.linear", "Linear"), ("builtins", "eval"),
    ("os", "system"), ("torch", "_rebuild_tensor_v2"), ("collections", "_rebuild_tensor_v2"),
])
def test_a_global_next_to_the_allowed_ones_is_refused(module, attr):
    with pytest.raises(ArchiveRefused):
        pt_archive._global(module, attr)


def test_a_saved_state_dict_passes_and_a_pickled_set_is_refused():
    buffer = io.BytesIO()
    torch.save({"w": torch.ones(2, 3), "b": torch.zeros(3, dtype=torch.float64)}, buffer)
    checked = check_pt(buffer.getvalue())
    assert checked is not None
    # an opcode outside the list (EMPTY_SET / ADDITEMS) inside an otherwise plain pickle
    with pytest.raises(ArchiveRefused):
        pt_archive.walk_pickle(pickle.dumps({1, 2}, protocol=4), {}, "archive")
