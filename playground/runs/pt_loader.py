"""A checked ``.pt`` loaded outside the server: in a short-lived child process under memory, CPU and
wall-clock limits, which hands the tensors back as safetensors bytes (data, never a pickle).

One loader process per server imports torch once (started on first use, gone after ``LOADER_IDLE_S``
unused or when the server exits). For each file it forks a child that lowers its own ``RLIMIT_AS`` and
``RLIMIT_CPU``, runs ``torch.load(weights_only=True)``, picks the state_dict out and writes it back; the
loader kills a child that outlives ``LOADER_WALL_S``. The server only waits on a pipe meanwhile (its other
sessions keep running), and treats what comes back as untrusted: bounded lengths, JSON, safetensors.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import pickle
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from playground import limits
from playground.errors import PlaygroundError

ROOT = Path(__file__).resolve().parents[2]
_SERVE = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from playground.runs.pt_loader import serve; serve()"
_MAX_HEADER_BYTES = 64 * 1024
_REQUEST = struct.Struct(">QQQd")  # file length, memory bytes, CPU seconds, wall-clock seconds (the server's limits)
_MAX_REPLY_BYTES = 2 * limits.MAX_PT_DATA_BYTES + _MAX_HEADER_BYTES + 64


@dataclass(frozen=True)
class LoaderReply:
    """What the child said: ``status`` ok / refused / error / memory / killed / timeout, details, tensors."""

    status: str
    header: dict
    tensors: bytes = b""


# ---- the server side ----------------------------------------------------------------------------------------


class _Loader:
    """The loader process, started on first use and shared by every session of this server (one file at a time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None

    def load(self, data: bytes) -> LoaderReply:
        waited = limits.LOADER_START_S + 2 * limits.LOADER_WALL_S
        if not self.lock.acquire(timeout=waited):
            raise PlaygroundError("The server is busy reading other uploaded files; try again in a moment.")
        try:
            for attempt in range(2):
                started = self._ensure_started()
                try:
                    return self._exchange(data)
                except _LoaderGone:
                    self.stop()
                    if attempt or started:  # a fresh loader that dies is not retried
                        raise PlaygroundError(
                            "The file could not be read: the process that loads .pt files stopped unexpectedly.",
                        ) from None
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            self.lock.release()

    def _ensure_started(self) -> bool:
        if self.process is not None and self.process.poll() is None:
            return False
        self.stop()
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, close_fds=True, start_new_session=True,
        )
        ready = _read(self.process.stdout.fileno(), 1, time.monotonic() + limits.LOADER_START_S)
        if ready != b"R":
            self.stop()
            raise PlaygroundError("The file could not be read: the process that loads .pt files did not start.")
        return True

    def _exchange(self, data: bytes) -> LoaderReply:
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        request = _REQUEST.pack(len(data), limits.LOADER_MEMORY_BYTES, limits.LOADER_CPU_S, limits.LOADER_WALL_S)
        try:
            process.stdin.write(request + data)
            process.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise _LoaderGone() from None
        deadline = time.monotonic() + limits.LOADER_WALL_S + 10
        head = _read(process.stdout.fileno(), 9, deadline)
        if head is None:
            raise _LoaderGone()
        status, length = struct.unpack(">cQ", head)
        if length > _MAX_REPLY_BYTES:
            raise _LoaderGone()
        payload = _read(process.stdout.fileno(), length, deadline) if length else b""
        if payload is None:
            raise _LoaderGone()
        return _reply(status, payload)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.kill()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


class _LoaderGone(Exception):
    """The loader process died, closed its pipe or stopped answering."""


def _read(fd: int, count: int, deadline: float) -> bytes | None:
    """Exactly ``count`` bytes from ``fd`` before ``deadline``, or None (end of file or time up)."""
    chunks: list[bytes] = []
    left = count
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            return None
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _reply(status: bytes, payload: bytes) -> LoaderReply:
    """The loader's answer, read as untrusted: a child that ran a hostile file may have written anything."""
    if status == b"T":
        return LoaderReply("timeout", {})
    if status == b"K":
        return LoaderReply("killed", {})
    if status != b"O" or len(payload) < 8:
        return LoaderReply("error", {})
    (size,) = struct.unpack(">Q", payload[:8])
    if size > _MAX_HEADER_BYTES or 8 + size > len(payload):
        return LoaderReply("error", {})
    try:
        header = json.loads(payload[8 : 8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return LoaderReply("error", {})
    if not isinstance(header, dict) or header.get("status") not in ("ok", "refused", "error", "memory"):
        return LoaderReply("error", {})
    return LoaderReply(header["status"], header, payload[8 + size :])


_LOADER = _Loader()
atexit.register(_LOADER.stop)


def load_checked_pt(data: bytes) -> LoaderReply:
    """Load a ``.pt`` that passed ``pt_archive.check_pt`` in the limited child; see LoaderReply."""
    return _LOADER.load(data)


def stop_loader() -> None:
    """Stop the loader process now (tests; it also stops by itself when idle or when the server exits)."""
    with _LOADER.lock:
        _LOADER.stop()


# ---- the loader process -------------------------------------------------------------------------------------


def serve() -> None:
    """The loader process: import torch once, then one forked, limited child per file read from stdin."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by torch goes to stderr, never into the replies
    import safetensors.torch  # noqa: F401 - imported once here, so each child starts warm
    import torch  # noqa: F401

    stdin = sys.stdin.buffer
    out.write(b"R")
    out.flush()
    while True:
        if not select.select([stdin], [], [], limits.LOADER_IDLE_S)[0]:
            return  # idle: the server starts a new loader when it needs one
        head = stdin.read(_REQUEST.size)
        if len(head) < _REQUEST.size:
            return  # the server closed the pipe (it exited)
        length, memory, cpu, wall = _REQUEST.unpack(head)
        if length > limits.MAX_UPLOAD_BYTES:
            return
        data = stdin.read(length)
        if len(data) < length:
            return
        status, payload = _run_child(data, memory, cpu, wall)
        out.write(struct.pack(">cQ", status, len(payload)) + payload)
        out.flush()


def _run_child(data: bytes, memory: int, cpu: int, wall: float) -> tuple[bytes, bytes]:
    """Fork, load in the child, and collect what it writes; kill it at the wall-clock limit."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the loop
        try:
            os.close(read_end)
            _child(data, write_end, memory, cpu)
        finally:
            os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + wall
    chunks: list[bytes] = []
    total = 0
    verdict = b"O"
    while True:
        wait = deadline - time.monotonic()
        if wait <= 0:
            verdict = b"T"
            break
        if not select.select([read_end], [], [], wait)[0]:
            continue
        chunk = os.read(read_end, 1 << 20)
        if not chunk:
            break
        total += len(chunk)
        if total > _MAX_REPLY_BYTES:
            verdict = b"K"
            break
        chunks.append(chunk)
    os.close(read_end)
    if verdict != b"O":
        _kill(pid)
    _, status = os.waitpid(pid, 0)
    if verdict == b"O" and (os.WIFSIGNALED(status) or os.WEXITSTATUS(status) != 0):
        verdict = b"K"
    return verdict, b"".join(chunks) if verdict == b"O" else b""


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _child(data: bytes, fd: int, memory: int, cpu: int) -> None:
    """Limit this process, load, and write ``8-byte length, JSON header, safetensors bytes`` to ``fd``."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with open("/proc/self/statm") as statm:
        virtual = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    ceiling = virtual + memory
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    header, tensors = load_and_describe(data)
    text = json.dumps(header).encode()
    with os.fdopen(fd, "wb") as out:
        out.write(struct.pack(">Q", len(text)) + text + tensors)


def load_and_describe(data: bytes) -> tuple[dict, bytes]:
    """``_load``, with every way it can fail described in the JSON header (what the child sends back)."""
    try:
        return _load(data)
    except MemoryError:
        return {"status": "memory"}, b""
    except pickle.UnpicklingError as exc:  # torch's weights-only unpickler refused a global, or an instruction
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)[:5000])
        found = re.search(r"GLOBAL ([\w.]{1,200})", text)
        if found:
            return {"status": "refused", "code": "global", "global": found.group(1)}, b""
        reason = re.search(r"WeightsUnpickler error:\s*([^\n]{1,200})", text)
        return {"status": "error", "detail": "torch.load(weights_only=True): "
                + (reason.group(1) if reason else "it refused the file")}, b""
    except RuntimeError as exc:  # torch's allocator refusing under RLIMIT_AS, or torch.load refusing the file
        if "allocate" in str(exc)[:2000]:
            return {"status": "memory"}, b""
        return {"status": "error", "detail": f"RuntimeError: {str(exc)[:300]}"}, b""
    except Exception as exc:  # noqa: BLE001 - any failure of torch.load becomes one line for the server
        return {"status": "error", "detail": f"{type(exc).__name__}: {str(exc)[:300]}"}, b""


def _load(data: bytes) -> tuple[dict, bytes]:
    """torch.load(weights_only=True), then the state_dict in it (a checkpoint's ``model_state_dict`` too)."""
    import safetensors.torch
    import torch

    obj = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
    if isinstance(obj, dict):
        for wrapper in ("model_state_dict", "state_dict"):
            if isinstance(obj.get(wrapper), dict):
                obj = obj[wrapper]
                break
    if isinstance(obj, torch.Tensor):
        return {"status": "refused", "code": "tensor"}, b""
    if not isinstance(obj, dict):
        return {"status": "refused", "code": "type", "type": type(obj).__name__[:40]}, b""
    if len(obj) > limits.MAX_CHECKPOINT_TENSORS:
        return {"status": "refused", "code": "count", "count": len(obj)}, b""
    bad = [key[:40] if isinstance(key, str) else f"(a key of type {type(key).__name__})"
           for key, value in obj.items() if not isinstance(key, str) or not isinstance(value, torch.Tensor)]
    if bad:
        return {"status": "refused", "code": "entries", "entries": bad[:5]}, b""
    tensors = {key: value.detach().to("cpu").contiguous().clone() for key, value in obj.items()}
    return {"status": "ok", "keys": list(tensors)}, safetensors.torch.save(tensors)
