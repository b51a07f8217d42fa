"""Hand-made ``.pt`` files, good and hostile, written opcode by opcode as ``torch.save`` would (protocol 2 in a
zip archive), so that each bound of ``playground/runs/pt_archive.py`` can be hit exactly at its edge.

The three attacks of issue 12: an allowed builtin asked for gigabytes (``bytearray(n)``), a storage record
claiming a huge size (stored, or DEFLATE-compressed so a small file inflates to it), and tuples shared
through the memo and used as a dict key, whose hash costs 2^depth.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile


def text(value: str) -> bytes:
    raw = value.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def integer(value: int) -> bytes:
    if -(2**31) <= value < 2**31:
        return b"J" + struct.pack("<i", value)
    raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
    if len(raw) < 256:
        return b"\x8a" + bytes([len(raw)]) + raw  # LONG1
    return b"\x8b" + struct.pack("<i", len(raw)) + raw  # LONG4


def tuple_of(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"


def global_(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def tensor(key: str, numel: int, size: tuple[int, ...], stride: tuple[int, ...] | None = None,
           storage_type: str = "FloatStorage", offset: int = 0) -> bytes:
    """``_rebuild_tensor_v2`` over storage ``key`` (a persistent id claiming ``numel`` elements)."""
    if stride is None:  # contiguous
        strides, acc = [], 1
        for s in reversed(size):
            strides.insert(0, acc)
            acc *= max(s, 1)
        stride = tuple(strides)
    pid = tuple_of([text("storage"), global_("torch", storage_type), text(key), text("cpu"), integer(numel)])
    args = tuple_of([pid + b"Q", integer(offset), tuple_of([integer(s) for s in size]),
                     tuple_of([integer(s) for s in stride]), b"\x89", global_("collections", "OrderedDict") + b")R"])
    return global_("torch._utils", "_rebuild_tensor_v2") + args + b"R"


def state_dict(entries: list[tuple[str, bytes]]) -> bytes:
    """An OrderedDict pickle of ``(name, value opcodes)`` entries, as torch.save writes a state_dict."""
    body = b"".join(text(name) + value for name, value in entries)
    return b"\x80\x02" + global_("collections", "OrderedDict") + b")R(" + body + b"u."


def archive(pickle_bytes: bytes, records: dict[str, bytes] | None = None, compress: int = zipfile.ZIP_STORED,
            prefix: str = "archive", extra: dict[str, bytes] | None = None) -> bytes:
    """A zip archive laid out as torch.save lays it out: ``<prefix>/data.pkl``, ``<prefix>/data/<key>``..."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr(f"{prefix}/data.pkl", pickle_bytes)
        zipped.writestr(f"{prefix}/byteorder", b"little")
        for key, data in (records or {}).items():
            zipped.writestr(f"{prefix}/data/{key}", data, compress_type=compress, compresslevel=9)
        for name, data in (extra or {}).items():
            zipped.writestr(name, data)
        zipped.writestr(f"{prefix}/version", b"3\n")
    return buffer.getvalue()


def float_tensor_pt(name: str = "w", numel: int = 4, compress: int = zipfile.ZIP_STORED) -> bytes:
    """A good file: one float32 tensor of ``numel`` zeros (compressed records inflate to numel x 4 bytes)."""
    return archive(state_dict([(name, tensor("0", numel, (numel,)))]), {"0": bytes(4 * numel)}, compress)


# ---- the attacks ------------------------------------------------------------------------------------------


def bytearray_alloc(size: int) -> bytes:
    """``{"w": bytearray(size)}``: a global torch's weights-only unpickler allows, asked for ``size`` bytes."""
    value = global_("builtins", "bytearray") + integer(size) + b"\x85R"
    return archive(b"\x80\x02}" + text("w") + value + b"s.")


@functools.lru_cache(maxsize=8)
def huge_storage(numel: int) -> bytes:
    """A float tensor over a DEFLATE-compressed storage record really holding ``numel`` x 4 zero bytes (1.2 GB
    fit in a 1.2 MB file). Written in chunks, so the test never holds the inflated bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        zipped.writestr("archive/data.pkl", state_dict([("w", tensor("0", numel, (numel,)))]))
        zipped.writestr("archive/byteorder", b"little")
        info = zipfile.ZipInfo("archive/data/0")
        info.compress_type = zipfile.ZIP_DEFLATED
        chunk, left = bytes(1 << 22), 4 * numel
        with zipped.open(info, "w", force_zip64=True) as record:
            while left:
                record.write(chunk[: min(left, len(chunk))])
                left -= min(left, len(chunk))
        zipped.writestr("archive/version", b"3\n")
    return buffer.getvalue()


def storage_claim(claimed: int, real: int) -> bytes:
    """A persistent id claiming ``claimed`` elements over a record of ``real`` elements."""
    return archive(state_dict([("w", tensor("0", claimed, (real,)))]), {"0": bytes(4 * real)})


def nested_tuple_key(depth: int) -> bytes:
    """``{t_depth: 1}`` where ``t_0 = (0, 0)`` and ``t_{i+1} = (t_i, t_i)``, shared through the memo: hashing
    it costs 2^depth (depth 27: seconds; 40: forever)."""
    out = bytearray(b"\x80\x02}K\x00K\x00\x86r" + struct.pack("<I", 0))
    for i in range(1, depth + 1):
        out += b"j" + struct.pack("<I", i - 1) + b"\x86r" + struct.pack("<I", i)
    out += b"K\x01s."
    return archive(bytes(out))


def shared_list(depth: int) -> bytes:
    """``{"k0": l_0, ..., "kd": l_d}`` with ``l_{i+1} = [l_i, l_i]`` shared through the memo: printing it costs 2^depth."""
    out = bytearray(b"\x80\x02}")
    for i in range(depth + 1):
        body = b"]" if i == 0 else b"](j" + struct.pack("<I", i - 1) + b"j" + struct.pack("<I", i - 1) + b"e"
        out += text(f"k{i}") + body + b"r" + struct.pack("<I", i) + b"s"
    return archive(bytes(out + b"."))


def int_list(count: int) -> bytes:
    """``{"w": [0] * count}``: exactly ``count + 8`` pickle instructions."""
    return archive(b"\x80\x02}" + text("w") + b"](" + b"K\x00" * count + b"es.")


def nested_lists(depth: int) -> bytes:
    """``{"w": [[[...]]]}``: lists nested ``depth`` deep inside the dict (the dict makes depth + 1)."""
    return archive(b"\x80\x02}" + text("w") + b"]" * depth + b"a" * (depth - 1) + b"s.")


def big_int(value: int) -> bytes:
    return archive(b"\x80\x02}" + text("w") + integer(value) + b"s.")


def long_text(chars: int) -> bytes:
    return archive(b"\x80\x02}" + text("w") + text("a" * chars) + b"s.")


def flat_tuple_reused(times: int) -> bytes:
    """``{"w": [t, t, ...]}``: one flat tuple ``(0, 0)`` fetched from the memo ``times`` times."""
    out = b"\x80\x02}" + text("w") + b"](K\x00K\x00\x86r" + struct.pack("<I", 0)
    out += (b"j" + struct.pack("<I", 0)) * times
    return archive(out + b"es.")
