"""A ``.pt`` file checked before anything in it is unpickled: its zip archive, then its pickle's opcodes.

``torch.load(weights_only=True)`` limits which globals a pickle may call, not what they cost: an allowed
``bytearray(2**31)``, a storage record claiming gigabytes, or tuples shared through the memo and hashed as
a dict key (2^depth work) all pass it. So the archive is read from its central directory alone, and the
pickle is walked with ``pickletools.genops``, which decodes opcodes without running them, on a stack of
stand-ins. Only what ``torch.save`` writes for a state_dict of tensors (or a checkpoint dict holding one)
gets through: the globals below, storages whose record sizes equal numel x itemsize, bounded integers,
strings and containers, and no reuse of a container through the memo. Nothing here calls ``str()`` or
``repr()`` on a value from the file; names from it are quoted with ``shown_name``.
"""

from __future__ import annotations

import io
import math
import pickletools
import re
import struct
import zipfile
from dataclasses import dataclass, field

from playground import limits
from playground.errors import (
    PlaygroundError,
    library_message,
    shown_name,  # noqa: F401 - re-exported for the weights messages
)

# Bytes per element of each storage type ``torch.save`` names in a persistent id.
STORAGE_ITEMSIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
    "ComplexDoubleStorage": 16, "ComplexFloatStorage": 8,
}
REBUILD_TENSOR = ("torch._utils", "_rebuild_tensor_v2")
REBUILD_PARAMETER = ("torch._utils", "_rebuild_parameter")
ORDERED_DICT = ("collections", "OrderedDict")
CALLABLE_GLOBALS = frozenset({REBUILD_TENSOR, REBUILD_PARAMETER, ORDERED_DICT})
# Modules whose functions a hostile pickle calls to run commands or code.
CODE_MODULES = frozenset(
    {"os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "importlib", "runpy", "webbrowser", "pty",
     "commands", "code", "ctypes", "marshal", "pickle", "_pickle", "types", "functools", "operator"}
)
CODE_BUILTINS = frozenset({"eval", "exec", "compile", "__import__", "getattr", "setattr", "delattr", "open",
                           "breakpoint", "input", "globals", "locals", "vars", "apply", "execfile"})
# Opcodes torch.save (pickle protocol 2) writes for a state_dict or a checkpoint dict, and their kin in
# other protocols. Anything else (sets, bytes, NEWOBJ, INST, OBJ, EXT, PERSID, POP...) is refused.
ALLOWED_OPCODES = frozenset({
    "PROTO", "FRAME", "STOP", "MARK", "EMPTY_DICT", "EMPTY_LIST", "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2",
    "TUPLE3", "LIST", "DICT", "APPEND", "APPENDS", "SETITEM", "SETITEMS", "BINPUT", "LONG_BINPUT", "PUT",
    "MEMOIZE", "BINGET", "LONG_BINGET", "GET", "BININT", "BININT1", "BININT2", "INT", "LONG", "LONG1", "LONG4",
    "BINFLOAT", "FLOAT", "NEWTRUE", "NEWFALSE", "NONE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
    "UNICODE", "GLOBAL", "STACK_GLOBAL", "REDUCE", "BINPERSID", "BUILD",
})
_PREFIX = r"[^/\x00-\x1f]{1,200}"  # the folder torch.save names after the file
_RECORD = re.compile(rf"(?P<prefix>{_PREFIX})/(?P<name>data\.pkl|data/(?P<key>[0-9]{{1,9}})|byteorder|version|"
                     r"\.data/version|\.data/serialization_id|\.format_version|\.storage_alignment)")
_EXTRA_RECORD_BYTES = 4096  # other small records a newer torch may add (never read)
class ArchiveRefused(PlaygroundError):
    """The file was refused before anything in it was unpickled. ``kind`` says which family of check."""

    def __init__(self, kind: str, sentence: str, detail: str | None = None) -> None:
        super().__init__(sentence, detail)
        self.kind = kind


def _refuse(kind: str, what: str, detail: str | None = None) -> ArchiveRefused:
    return ArchiveRefused(kind, f"This file was refused before anything in it was loaded: {what}. "
                          "Upload a state_dict saved with torch.save(model.state_dict(), path).", detail)


def _not_complete(detail: str | None = None) -> ArchiveRefused:
    return ArchiveRefused(
        "incomplete",
        "This file is not a complete PyTorch checkpoint: it may be truncated or another kind of file. "
        "Save it again with torch.save(model.state_dict(), path).",
        detail,
    )


@dataclass(frozen=True)
class StorageRecord:
    key: str
    storage_type: str
    numel: int


@dataclass(frozen=True)
class CheckedArchive:
    """What the checks found: the archive's folder name, its storages and the pickle's size in opcodes."""

    prefix: str
    storages: tuple[StorageRecord, ...]
    opcodes: int
    data_bytes: int  # declared bytes of all storage records together
    notes: tuple[str, ...] = field(default_factory=tuple)


def check_pt(data: bytes) -> CheckedArchive:
    """Check a ``.pt`` upload without unpickling it; raise ArchiveRefused (a PlaygroundError) saying why not."""
    if not data.startswith(b"PK\x03\x04"):
        # Not the archive torch.save writes. If it is a bare pickle that names code or objects, say so;
        # whatever else it is, it is not read (the old format of torch before 1.6 included).
        try:
            walk_pickle(data[: limits.MAX_PT_PICKLE_BYTES], {}, "")
        except ArchiveRefused as exc:
            if exc.kind in ("code", "object"):
                raise
        raise _not_complete("It is not the zip archive torch.save writes (the format of torch before 1.6 is "
                            "not read here).")
    records = _records(data)
    prefix = records["data.pkl"].filename.rsplit("/", 1)[0]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            pickle_bytes = archive.read(records["data.pkl"])
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise _not_complete(library_message(exc, 300)) from None
    sizes = {name.removeprefix("data/"): info.file_size for name, info in records.items() if name.startswith("data/")}
    storages, opcodes = walk_pickle(pickle_bytes, sizes, prefix)
    return CheckedArchive(prefix, tuple(storages.values()), opcodes, sum(sizes.values()))


def _records(data: bytes) -> dict[str, zipfile.ZipInfo]:
    """The archive's records by their name under the one top folder, with every bound checked."""
    _check_entry_count(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, struct.error) as exc:
        raise _not_complete(library_message(exc, 300)) from None
    records: dict[str, zipfile.ZipInfo] = {}
    prefixes: set[str] = set()
    declared = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise _refuse("archive", "a record in it is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _refuse("archive", "a record in it uses a compression torch.save never writes")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise _not_complete("A stored record's two sizes differ.")
        found = _RECORD.fullmatch(info.filename)
        if found is None:
            top = info.filename.split("/", 1)[0]
            if "/" not in info.filename or not re.fullmatch(_PREFIX, top) or info.file_size > _EXTRA_RECORD_BYTES:
                raise _refuse("archive", f"it holds a record ({shown_name(info.filename)}) that torch.save does not write")
            prefixes.add(top)
            continue
        prefixes.add(found["prefix"])
        name = found["name"]
        if name in records:
            raise _refuse("archive", f"it holds the record {shown_name(info.filename)} twice")
        if name != "data.pkl" and not name.startswith("data/") and info.file_size > _EXTRA_RECORD_BYTES:
            raise _refuse("archive", f"its record {shown_name(info.filename)} is larger than torch.save writes it")
        records[name] = info
        if name.startswith("data/"):
            declared += info.file_size
    if len(prefixes) > 1:
        raise _refuse("archive", "its records lie in more than one folder")
    if "data.pkl" not in records:
        raise _not_complete("The archive has no data.pkl record.")
    if records["data.pkl"].file_size > limits.MAX_PT_PICKLE_BYTES:
        raise _refuse("size", f"its pickle is {records['data.pkl'].file_size:,} bytes; a state_dict's is at most "
                      f"{limits.MAX_PT_PICKLE_BYTES:,}")
    if declared > limits.MAX_PT_DATA_BYTES:
        raise _refuse("size", f"its storage records would unpack to {declared:,} bytes; at most "
                      f"{limits.MAX_PT_DATA_BYTES:,} are read")
    return records


def _check_entry_count(data: bytes) -> None:
    """Refuse an archive that claims more records than a checkpoint has, before the zip module lists them."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        raise _not_complete("The archive has no end-of-directory record.")
    (entries,) = struct.unpack_from("<H", data, end + 10)
    locator = end - 20
    if entries == 0xFFFF and locator >= 0 and data[locator:locator + 4] == b"PK\x06\x07":
        (zip64_end,) = struct.unpack_from("<Q", data, locator + 8)
        if zip64_end + 56 > len(data) or data[zip64_end:zip64_end + 4] != b"PK\x06\x06":
            raise _not_complete("The archive's zip64 directory record is missing.")
        (entries,) = struct.unpack_from("<Q", data, zip64_end + 32)
    if entries > limits.MAX_PT_RECORDS:
        raise _refuse("archive", f"it claims {entries:,} records; a checkpoint has at most {limits.MAX_PT_RECORDS}")


# ---- the pickle, walked on stand-ins -----------------------------------------------------------------------

ATOM, TUPLE, LIST, DICT, GLOBAL, STORAGE, TENSOR, ODICT = "atom", "tuple", "list", "dict", "global", "storage", "tensor", "odict"


@dataclass
class _Value:
    """A stand-in for what unpickling would build: its kind, and only what the checks need of it."""

    kind: str
    value: object = None  # an atom's Python value (int, float, str, bool, None), or a global's (module, name)
    items: tuple = ()  # a tuple's stand-ins
    depth: int = 0  # containers nested inside it
    flat: bool = True  # holds atoms only (a tuple that may be reused through the memo)


_MARK = object()


def walk_pickle(pickle_bytes: bytes, record_sizes: dict[str, int], prefix: str) -> tuple[dict[str, StorageRecord], int]:
    """Walk the opcodes of ``pickle_bytes`` without running them, and return its storages and opcode count.

    ``record_sizes`` maps each storage key to its record's declared size in the archive."""
    stack: list = []
    memo: dict[int, _Value] = {}
    storages: dict[str, StorageRecord] = {}
    reuses = 0
    count = 0
    element_bytes = 0
    try:
        for opcode, arg, _pos in pickletools.genops(pickle_bytes):
            count += 1
            if count > limits.MAX_PT_PICKLE_OPS:
                raise _refuse("size", f"its pickle has more than {limits.MAX_PT_PICKLE_OPS:,} instructions")
            name = opcode.name
            if name not in ALLOWED_OPCODES:
                raise _refuse("opcode", f"its pickle uses the instruction {name}, which torch.save does not write "
                              "for a state_dict")
            if name in ("PROTO", "FRAME"):
                continue
            if name == "STOP":
                break
            if name == "MARK":
                if len(stack) > limits.MAX_PT_STACK:
                    raise _refuse("size", "its pickle nests deeper than a state_dict does")
                stack.append(_MARK)
            elif name in ("BININT", "BININT1", "BININT2", "INT", "LONG", "LONG1", "LONG4"):
                stack.append(_Value(ATOM, arg if isinstance(arg, bool) else _bounded_int(arg)))
            elif name in ("BINFLOAT", "FLOAT"):
                stack.append(_Value(ATOM, float(arg)))
            elif name in ("NEWTRUE", "NEWFALSE", "NONE"):
                stack.append(_Value(ATOM, {"NEWTRUE": True, "NEWFALSE": False, "NONE": None}[name]))
            elif name in ("BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE"):
                if len(arg) > limits.MAX_PT_STRING_CHARS:
                    raise _refuse("size", f"it holds a string of {len(arg):,} characters; at most "
                                  f"{limits.MAX_PT_STRING_CHARS:,} are read")
                stack.append(_Value(ATOM, arg))
            elif name == "GLOBAL":
                module, _, attr = arg.partition(" ")
                stack.append(_global(module, attr))
            elif name == "STACK_GLOBAL":
                attr, module = _pop(stack), _pop(stack)
                if not (_is_str(module) and _is_str(attr)):
                    raise _not_complete("A global's name is not text.")
                stack.append(_global(module.value, attr.value))
            elif name in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"):
                if not stack or stack[-1] is _MARK:
                    raise _not_complete("The pickle memoizes nothing.")
                if len(memo) >= limits.MAX_PT_PICKLE_OPS:
                    raise _refuse("size", "its pickle keeps too many values")
                memo[len(memo) if name == "MEMOIZE" else int(arg)] = stack[-1]
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                value = memo.get(int(arg))
                if value is None:
                    raise _not_complete("The pickle refers to a value it never kept.")
                if value.kind in (LIST, DICT, ODICT) or (value.kind == TUPLE and not value.flat):
                    raise _refuse("memo", "its pickle puts one container in several places (shared through the "
                                  "memo), which torch.save does not write for a state_dict and which can make "
                                  "hashing or printing it take exponential time")
                reuses += 1
                if reuses > limits.MAX_PT_MEMO_REUSES:
                    raise _refuse("memo", f"its pickle reuses kept values more than {limits.MAX_PT_MEMO_REUSES:,} times")
                stack.append(value)
            elif name in ("EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3"):
                size = {"EMPTY_TUPLE": 0, "TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}.get(name)
                items = _pop_mark(stack) if size is None else [_pop(stack) for _ in range(size)][::-1]
                stack.append(_container(TUPLE, items))
            elif name in ("EMPTY_LIST", "LIST"):
                stack.append(_container(LIST, _pop_mark(stack) if name == "LIST" else []))
            elif name in ("EMPTY_DICT", "DICT"):
                items = _pop_mark(stack) if name == "DICT" else []
                if len(items) % 2:
                    raise _not_complete("A dict has a key without a value.")
                _check_keys(items[0::2])
                stack.append(_container(DICT, items))
            elif name in ("APPEND", "APPENDS"):
                items = _pop_mark(stack) if name == "APPENDS" else [_pop(stack)]
                target = _top(stack, (LIST,), "append to")
                _grow(target, items)
            elif name in ("SETITEM", "SETITEMS"):
                items = _pop_mark(stack) if name == "SETITEMS" else [_pop(stack), _pop(stack)][::-1]
                if len(items) % 2:
                    raise _not_complete("A dict has a key without a value.")
                _check_keys(items[0::2])
                target = _top(stack, (DICT, ODICT), "set items of")
                _grow(target, items)
            elif name == "BUILD":
                state = _pop(stack)
                target = _top(stack, (ODICT, DICT), "set the state of")
                if state.kind not in (DICT, ODICT, ATOM) or (state.kind == ATOM and state.value is not None):
                    raise _refuse("opcode", "its pickle sets an object's state from something other than a dict")
                _grow(target, [state])
            elif name == "BINPERSID":
                pid = _pop(stack)
                record = _storage(pid, record_sizes, prefix)
                known = storages.get(record.key)
                if known is not None and known != record:
                    raise _refuse("storage", f"it describes the storage {shown_name(record.key)} twice, differently")
                storages[record.key] = record
                if len(storages) > limits.MAX_PT_STORAGES:
                    raise _refuse("size", f"it holds more than {limits.MAX_PT_STORAGES} storages")
                stack.append(_Value(STORAGE, record))
            elif name == "REDUCE":
                args, function = _pop(stack), _pop(stack)
                result, nbytes = _reduce(function, args)
                element_bytes += nbytes
                if element_bytes > limits.MAX_PT_DATA_BYTES:
                    raise _refuse("size", f"its tensors would hold more than {limits.MAX_PT_DATA_BYTES // 1024 // 1024} MB")
                stack.append(result)
            else:  # pragma: no cover - every allowed opcode is handled above
                raise _refuse("opcode", f"its pickle uses the instruction {name}")
        else:
            raise _not_complete("The pickle has no STOP instruction.")
    except ArchiveRefused:
        raise
    except (ValueError, TypeError, IndexError, KeyError, EOFError, OverflowError, struct.error) as exc:
        # pickletools' own complaints about a malformed stream (truncated, bad lengths, bad text).
        raise _not_complete(f"{type(exc).__name__} while reading the pickle's instructions.") from None
    if len(stack) != 1 or stack[0] is _MARK:
        raise _not_complete("The pickle does not end with exactly one object.")
    return storages, count


def _bounded_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _not_complete("An integer could not be read.")
    if abs(value) >= 2**63:
        raise _refuse("size", "it holds an integer beyond 64 bits")
    return value


def _is_str(value: object) -> bool:
    return isinstance(value, _Value) and value.kind == ATOM and isinstance(value.value, str)


def _global(module: str, attr: str) -> _Value:
    """A global reference: only the rebuild functions, OrderedDict and the storage types get through."""
    if (module, attr) in CALLABLE_GLOBALS or (module == "torch" and attr in STORAGE_ITEMSIZE):
        return _Value(GLOBAL, (module, attr))
    raise global_refusal(module, attr)


def global_refusal(module: str, attr: str) -> ArchiveRefused:
    """The sentence for a global that is not read: a whole model, code, or another Python object."""
    dotted = f"{module}.{attr}" if module else attr
    name = shown_name(dotted, 80)
    top = module.split(".")[0]
    if (module.startswith("torch.nn") or module == "__main__" or attr in ("Module", "Sequential", "Net")
            or module == "playground.builder.model"):
        return ArchiveRefused(
            "object",
            "This .pt file holds a whole model object, not a state_dict, and whole objects are never loaded here "
            "because unpickling them can run code. Save it with torch.save(model.state_dict(), path) and upload that.",
            f"It names the global {name}; the file was refused before anything in it was unpickled.",
        )
    if top in CODE_MODULES or (top in ("builtins", "__builtin__") and attr in CODE_BUILTINS):
        return ArchiveRefused(
            "code",
            f"This file was refused: it tries to run code ({name}). Nothing in it was run. "
            "Upload a state_dict saved with torch.save(model.state_dict(), path).",
            "The pickle names a function that runs commands or code; it was read as data, never unpickled.",
        )
    return ArchiveRefused(
        "object",
        f"This file holds a Python object ({name}), such as a whole model, not only tensors; it was refused "
        "without running anything. Save it with torch.save(model.state_dict(), path) and upload that.",
        "Only tensors, numbers, strings, lists and dicts are read from a .pt file.",
    )


def _pop(stack: list) -> _Value:
    if not stack or stack[-1] is _MARK:
        raise _not_complete("The pickle's stack ran out.")
    return stack.pop()


def _pop_mark(stack: list) -> list[_Value]:
    items: list[_Value] = []
    while stack:
        item = stack.pop()
        if item is _MARK:
            return items[::-1]
        items.append(item)
    raise _not_complete("The pickle has no MARK where one is needed.")


def _top(stack: list, kinds: tuple[str, ...], what: str) -> _Value:
    if not stack or stack[-1] is _MARK or stack[-1].kind not in kinds:
        raise _refuse("opcode", f"its pickle tries to {what} something that is not a list or dict")
    return stack[-1]


def _container(kind: str, items: list[_Value]) -> _Value:
    depth = 1 + max((item.depth for item in items), default=0)
    if depth > limits.MAX_PT_DEPTH:
        raise _refuse("size", f"it nests containers more than {limits.MAX_PT_DEPTH} deep")
    flat = all(item.kind in (ATOM, GLOBAL) for item in items)
    return _Value(kind, items=tuple(items) if kind == TUPLE else (), depth=depth, flat=flat)


def _grow(target: _Value, items: list[_Value]) -> None:
    """Items added to a list or dict: its depth may grow (its size is bounded by the opcode count)."""
    depth = 1 + max((item.depth for item in items), default=0)
    if depth > limits.MAX_PT_DEPTH:
        raise _refuse("size", f"it nests containers more than {limits.MAX_PT_DEPTH} deep")
    target.depth = max(target.depth, depth)
    target.flat = False


def _check_keys(keys: list[_Value]) -> None:
    """Dict keys are strings or integers: cheap to hash, whatever the file says."""
    for key in keys:
        if key.kind != ATOM or isinstance(key.value, float) or key.value is None:
            raise _refuse("key", "a dict in it has a key that is not a string or an integer (such keys can make "
                          "hashing take exponential time)")


def _storage(pid: _Value, record_sizes: dict[str, int], prefix: str) -> StorageRecord:
    """A persistent id ``('storage', torch.FloatStorage, '0', 'cpu', numel)`` whose record holds exactly numel
    x itemsize bytes."""
    items = pid.items if pid.kind == TUPLE else ()
    if (len(items) != 5 or not _is_str(items[0]) or items[0].value != "storage" or items[1].kind != GLOBAL
            or items[1].value[1] not in STORAGE_ITEMSIZE or not _is_str(items[2]) or not _is_str(items[3])
            or not isinstance(items[4].value, int) or isinstance(items[4].value, bool)):
        raise _refuse("storage", "it refers to its data in a way torch.save does not write")
    storage_type, key, location, numel = items[1].value[1], items[2].value, items[3].value, items[4].value
    if len(location) > 32 or not re.fullmatch(r"[0-9]{1,9}", key):
        raise _refuse("storage", "a storage in it has a malformed name or location")
    if key not in record_sizes:
        raise _not_complete(f"The storage record {shown_name(prefix + '/data/' + key)} is missing.")
    expected = numel * STORAGE_ITEMSIZE[storage_type]
    if numel < 0 or expected != record_sizes[key]:
        raise _refuse("storage", f"a storage claims {numel:,} elements ({expected:,} bytes) but its record "
                      f"holds {record_sizes[key]:,} bytes")
    return StorageRecord(key, storage_type, numel)


def _reduce(function: _Value, args: _Value) -> tuple[_Value, int]:
    """A call: only OrderedDict(), _rebuild_tensor_v2(storage, offset, size, stride, ...) within its storage,
    and _rebuild_parameter(tensor, ...). Returns the result's stand-in and the bytes its elements take."""
    if function.kind != GLOBAL or function.value not in CALLABLE_GLOBALS:
        raise _refuse("opcode", "its pickle calls something other than torch's tensor rebuild functions")
    if args.kind != TUPLE:
        raise _refuse("opcode", "its pickle calls a function with arguments that are not a tuple")
    items = args.items
    if function.value == ORDERED_DICT:
        if items:
            raise _refuse("opcode", "its pickle builds an OrderedDict from arguments")
        return _Value(ODICT, depth=1, flat=False), 0
    if function.value == REBUILD_PARAMETER:
        if len(items) != 3 or items[0].kind != TENSOR or items[2].kind != ODICT:
            raise _refuse("opcode", "its pickle rebuilds a parameter from something other than a tensor")
        return items[0], 0
    if not 6 <= len(items) <= 7 or items[0].kind != STORAGE or items[5].kind != ODICT:
        raise _refuse("opcode", "its pickle rebuilds a tensor from something other than a storage")
    if len(items) == 7 and not (items[6].kind in (DICT, ODICT) or (items[6].kind == ATOM and items[6].value is None)):
        raise _refuse("opcode", "its pickle rebuilds a tensor with unexpected metadata")
    record: StorageRecord = items[0].value
    offset, size, stride = items[1].value, _int_tuple(items[2]), _int_tuple(items[3])
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 or len(size) != len(stride):
        raise _refuse("storage", "a tensor in it has a malformed offset, size or stride")
    if len(size) > limits.MAX_PT_TENSOR_DIMS or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise _refuse("storage", "a tensor in it has a malformed size or stride")
    numel = math.prod(size)
    if numel and offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True)) >= record.numel:
        raise _refuse("storage", "a tensor in it reaches beyond the end of its storage")
    return _Value(TENSOR, depth=1, flat=False), numel * STORAGE_ITEMSIZE[record.storage_type]


def _int_tuple(value: _Value) -> tuple[int, ...]:
    if value.kind != TUPLE or not all(
            item.kind == ATOM and isinstance(item.value, int) and not isinstance(item.value, bool) for item in value.items):
        raise _refuse("storage", "a tensor in it has a size or stride that is not whole numbers")
    return tuple(item.value for item in value.items)
