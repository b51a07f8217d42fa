"""Each Tensor Lab operation beside its NumPy twin, on the same data, with an honest verdict.

An operation is an ``OpSpec``. ``run_twin`` runs the torch call and its NumPy twin (``np.squeeze``,
``np.expand_dims``, ``np.concatenate``, ``np.power``, ``np.sum``, ``np.mean``, ``np.reshape``), captures
each result or error, compares values, shapes and dtypes, and explains every difference it finds.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from playground import limits
from playground.errors import PlaygroundError, library_message
from playground.tensors.build import BuiltTensor, check_shape

OPS = ("squeeze", "unsqueeze", "cat", "pow", "sum", "mean", "reshape", "view")
NUMPY_TWIN = {
    "squeeze": "np.squeeze",
    "unsqueeze": "np.expand_dims",
    "cat": "np.concatenate",
    "pow": "np.power",
    "sum": "np.sum",
    "mean": "np.mean",
    "reshape": "np.reshape",
    "view": "np.reshape",
}
# The words each library uses for the same idea: shown beside each op.
NAMING_NOTES = {
    "squeeze": "torch: x.squeeze(dim) · NumPy: np.squeeze(a, axis=dim). PyTorch's dim is NumPy's axis.",
    "unsqueeze": "torch: x.unsqueeze(dim) · NumPy: np.expand_dims(a, axis=dim).",
    "cat": "torch: torch.cat(tensors, dim=d) · NumPy: np.concatenate(arrays, axis=d).",
    "pow": "torch: x.pow(e) or x ** e · NumPy: np.power(a, e) or a ** e.",
    "sum": "torch: x.sum(dim, keepdim=...) · NumPy: np.sum(a, axis=..., keepdims=...) (note the s).",
    "mean": "torch: x.mean(dim, keepdim=...) · NumPy: np.mean(a, axis=..., keepdims=...).",
    "reshape": "torch: x.reshape(shape) · NumPy: np.reshape(a, shape). Both copy only when they must.",
    "view": "torch: x.view(shape) never copies, so it needs compatible strides. NumPy has no such call: "
    "a.view(...) in NumPy reinterprets the dtype; np.reshape is the twin, and it copies when it must.",
}


@dataclass(frozen=True)
class OpSpec:
    """One operation and its controls. ``dim=None`` means all dims (squeeze all, sum/mean of everything)."""

    op: str = "pow"
    dim: int | None = None
    keepdim: bool = False
    exponent: str = "2"
    new_shape: str = "2, 2"
    transpose_first: bool = False

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise PlaygroundError(f"Unknown operation {self.op!r}; choose one of {', '.join(OPS)}.")
        if self.dim is not None and (not isinstance(self.dim, int) or abs(self.dim) > 64):
            raise PlaygroundError("dim must be a whole number such as 0, 1 or -1.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpSpec:
        names = {"op", "dim", "keepdim", "exponent", "new_shape", "transpose_first"}
        return cls(**{k: v for k, v in data.items() if k in names})

    def with_(self, **changes: Any) -> OpSpec:
        return replace(self, **changes)


@dataclass(frozen=True)
class Outcome:
    """What one library gave: a value with its shape and dtype, or the error it raised."""

    value: np.ndarray | None = None
    shape: tuple[int, ...] | None = None
    dtype: str | None = None
    error: str | None = None
    printed: str = ""  # what print(result) shows in that library
    device: str = "cpu"

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Verdict:
    """Same or different, and each reason, in words."""

    same: bool
    headline: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class TwinResult:
    spec: OpSpec
    torch_out: Outcome
    numpy_out: Outcome
    verdict: Verdict
    input_shapes: tuple[tuple[int, ...], ...]
    code: str
    naming_note: str
    fix: Outcome | None = None  # for view on a non-contiguous tensor: the .contiguous() fix
    fix_code: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


def parse_exponent(text: str) -> int | float:
    """``"2"`` -> 2, ``"0.5"`` -> 0.5. Anything else is refused with a sentence."""
    raw = str(text).strip()
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", raw):
        raise PlaygroundError(f"The exponent {raw!r} is not a number. Type a number such as 2, 0.5 or -1.")
    value: int | float = int(raw) if re.fullmatch(r"[-+]?\d+", raw) else float(raw)
    if not math.isfinite(value) or abs(value) > limits.MAX_ABS_EXPONENT:
        raise PlaygroundError(f"Keep the exponent between -{limits.MAX_ABS_EXPONENT:g} and {limits.MAX_ABS_EXPONENT:g}.")
    return value


def parse_new_shape(text: str) -> tuple[int, ...]:
    """A target shape for reshape/view: sizes separated by commas, at most one -1."""
    raw = str(text).strip().strip("()[]").strip()
    if len(raw) > 200:
        raise PlaygroundError("The new shape is too long. Write sizes separated by commas, e.g. 2, -1.")
    parts = [p.strip() for p in raw.split(",") if p.strip()] if raw else []
    if not all(re.fullmatch(r"-?\d{1,9}", p) for p in parts):
        raise PlaygroundError(f"The new shape {text!r} must be whole numbers separated by commas, e.g. 2, -1.")
    shape = tuple(int(p) for p in parts)
    if len(shape) > limits.MAX_TENSOR_DIMS:
        raise PlaygroundError(f"A shape may have at most {limits.MAX_TENSOR_DIMS} dimensions.")
    if shape.count(-1) > 1:
        raise PlaygroundError("Only one size may be -1 (the one PyTorch works out for you).")
    if any(s < -1 for s in shape):
        raise PlaygroundError("Sizes must be 0 or more, or -1 for 'work it out'.")
    check_shape(tuple(s for s in shape if s != -1))
    return shape


def _torch_dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _capture_torch(fn, device: str) -> Outcome:
    try:
        result = fn()
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        return Outcome(error=library_message(exc), device=device)
    cpu = result.detach().cpu()
    return Outcome(
        value=cpu.numpy(),
        shape=tuple(cpu.shape),
        dtype=_torch_dtype_name(cpu.dtype),
        printed=_short(repr(result)),
        device=str(result.device),
    )


def _capture_numpy(fn) -> Outcome:
    try:
        with np.errstate(all="ignore"):
            result = np.asarray(fn())
    except (ValueError, TypeError, IndexError, np.exceptions.AxisError) as exc:
        return Outcome(error=library_message(exc))
    return Outcome(value=result, shape=tuple(result.shape), dtype=result.dtype.name, printed=_short(repr(result)))


def _short(text: str, limit: int = 4000) -> str:
    return text if len(text) <= limit else text[:limit] + "\n..."


def run_twin(x: BuiltTensor, spec: OpSpec, others: tuple[BuiltTensor, ...] = (), device: str = "cpu") -> TwinResult:
    """Run ``spec`` on ``x`` (and ``others`` for cat) in torch and in NumPy, and compare."""
    if spec.op == "cat" and not 1 <= len(others) <= limits.MAX_CAT_INPUTS - 1:
        raise PlaygroundError(f"cat joins 2 or {limits.MAX_CAT_INPUTS} tensors: add one or two more.")
    tx = x.tensor.to(device)
    ax = x.array
    notes: list[str] = []
    if spec.transpose_first:
        if tx.dim() < 2:
            raise PlaygroundError("Transpose needs at least 2 dimensions; build a 2-D tensor first, e.g. [[1, 2], [3, 4]].")
        tx = tx.transpose(0, 1)
        ax = np.swapaxes(ax, 0, 1)
        notes.append(
            f"After transpose(0, 1) the tensor has shape {list(tx.shape)} and strides {list(tx.stride())}: "
            f"is_contiguous() is {tx.is_contiguous()}."
        )
    torch_fn, numpy_fn = _callables(spec, tx, ax, [o.tensor.to(device) for o in others], [o.array for o in others])
    torch_out = _capture_torch(torch_fn, device)
    numpy_out = _capture_numpy(numpy_fn)
    fix = None
    fix_code = ""
    if spec.op == "view" and not torch_out.ok and "view size is not compatible" in (torch_out.error or ""):
        shape = parse_new_shape(spec.new_shape)
        fix = _capture_torch(lambda: tx.contiguous().view(shape), device)
        fix_code = f"out = x{'.transpose(0, 1)' if spec.transpose_first else ''}.contiguous().view({_shape_args(shape)})"
    verdict = compare(spec, x, torch_out, numpy_out)
    shapes = (tuple(tx.shape),) + tuple(tuple(o.tensor.shape) for o in others) if spec.op == "cat" else (tuple(tx.shape),)
    return TwinResult(
        spec=spec,
        torch_out=torch_out,
        numpy_out=numpy_out,
        verdict=verdict,
        input_shapes=shapes,
        code=op_code(x, spec, others, device, torch_out.ok, numpy_out.ok),
        naming_note=NAMING_NOTES[spec.op],
        fix=fix,
        fix_code=fix_code,
        notes=tuple(notes),
    )


def _callables(spec: OpSpec, tx: torch.Tensor, ax: np.ndarray, t_others: list, a_others: list):
    op, dim = spec.op, spec.dim
    if op == "squeeze":
        return (lambda: tx.squeeze() if dim is None else tx.squeeze(dim)), (
            lambda: np.squeeze(ax) if dim is None else np.squeeze(ax, axis=dim)
        )
    if op == "unsqueeze":
        d = 0 if dim is None else dim
        return (lambda: tx.unsqueeze(d)), (lambda: np.expand_dims(ax, d))
    if op == "cat":
        d = 0 if dim is None else dim
        return (lambda: torch.cat([tx, *t_others], dim=d)), (lambda: np.concatenate([ax, *a_others], axis=d))
    if op == "pow":
        e = parse_exponent(spec.exponent)
        return (lambda: tx.pow(e)), (lambda: np.power(ax, e))
    if op in ("sum", "mean"):
        t_fn = getattr(torch.Tensor, op)
        n_fn = getattr(np, op)
        if dim is None:
            if spec.keepdim:
                return (lambda: t_fn(tx, dim=tuple(range(tx.dim())), keepdim=True)), (lambda: n_fn(ax, keepdims=True))
            return (lambda: t_fn(tx)), (lambda: n_fn(ax))
        return (lambda: t_fn(tx, dim, keepdim=spec.keepdim)), (lambda: n_fn(ax, axis=dim, keepdims=spec.keepdim))
    shape = parse_new_shape(spec.new_shape)
    if op == "reshape":
        return (lambda: tx.reshape(shape)), (lambda: np.reshape(ax, shape))
    return (lambda: tx.view(shape)), (lambda: np.reshape(ax, shape))


def compare(spec: OpSpec, x: BuiltTensor, t: Outcome, n: Outcome) -> Verdict:
    """Same values, shape and dtype, or exactly where and why they differ."""
    if not t.ok and not n.ok:
        return Verdict(False, "Both libraries refuse this operation.", (f"torch: {t.error}", f"NumPy: {n.error}"))
    if t.ok and not n.ok:
        return Verdict(False, "torch gives a result; NumPy raises an error.", (_explain_numpy_only_error(spec, x, t, n),))
    if not t.ok and n.ok:
        return Verdict(False, "NumPy gives a result; torch raises an error.", (_explain_torch_only_error(spec, x, t, n),))
    reasons: list[str] = []
    if t.shape != n.shape:
        reasons.append(f"Shapes differ: torch {list(t.shape)} vs NumPy {list(n.shape)}.")
    if t.dtype != n.dtype:
        reasons.append(f"Dtypes differ: torch {t.dtype} vs NumPy {n.dtype}. {_explain_dtype(spec, x, t, n)}".strip())
    rounding = ""
    if t.shape == n.shape:
        rtol, atol = _tolerance(x, t, n)
        where = first_difference(t.value, n.value, rtol, atol)
        if where is not None:
            index, tv, nv = where
            reasons.append(f"Values differ first at index {index}: torch {tv!r} vs NumPy {nv!r}.")
        elif first_difference(t.value, n.value, 0.0, 0.0) is not None:
            largest = float(np.nanmax(np.abs(np.asarray(t.value, np.float64) - np.asarray(n.value, np.float64))))
            rounding = (
                f" The values agree up to floating-point rounding (largest difference {largest:.2g}): "
                "the two libraries add numbers in a different order."
            )
    if not reasons:
        return Verdict(True, f"Same values, same shape {list(t.shape)}, same dtype {t.dtype}.{rounding}")
    return Verdict(False, "The results differ.", tuple(reasons))


def _tolerance(x: BuiltTensor, t: Outcome, n: Outcome) -> tuple[float, float]:
    """How far two float results may drift by rounding alone: the precision of the coarser dtype,
    times the number of values a reduction adds up, times their size."""
    coarse = "float32" if "float32" in (t.dtype, n.dtype) or x.tensor.dtype == torch.float32 else "float64"
    eps = float(np.finfo(coarse).eps)
    values = np.abs(np.asarray(x.array, dtype=np.float64))
    scale = float(np.nanmax(values[np.isfinite(values)], initial=1.0)) if values.size else 1.0
    return 8 * eps, 4 * eps * max(values.size, 1) * max(scale, 1.0)


def first_difference(
    a: np.ndarray, b: np.ndarray, rtol: float = 1e-6, atol: float = 1e-7
) -> tuple[tuple[int, ...], Any, Any] | None:
    """The first index where two same-shaped arrays differ beyond the tolerances (NaN equals NaN)."""
    a64 = np.asarray(a).astype(np.float64) if np.asarray(a).dtype != np.bool_ else np.asarray(a)
    b64 = np.asarray(b).astype(np.float64) if np.asarray(b).dtype != np.bool_ else np.asarray(b)
    if a64.dtype == np.bool_ or b64.dtype == np.bool_:
        equal = np.asarray(a64 == b64)
    else:
        with np.errstate(all="ignore"):
            equal = np.isclose(a64, b64, rtol=rtol, atol=atol, equal_nan=True) | (a64 == b64)
    if np.all(equal):
        return None
    index = tuple(int(i) for i in np.argwhere(~equal)[0])
    return index, np.asarray(a)[index].item(), np.asarray(b)[index].item()


def _explain_dtype(spec: OpSpec, x: BuiltTensor, t: Outcome, n: Outcome) -> str:
    if x.tensor.dtype != _numpy_equivalent(x.array.dtype):
        return (
            f"They started different: torch.tensor made {_torch_dtype_name(x.tensor.dtype)} but np.array made "
            f"{x.array.dtype.name}. A Python float becomes torch's default float32, NumPy's float64."
        )
    if spec.op == "pow" and not x.tensor.is_floating_point() and isinstance(parse_exponent(spec.exponent), float):
        return "An integer tensor raised to a float exponent becomes torch's default float32; NumPy promotes to float64."
    if spec.op == "cat":
        return "The inputs have different dtypes, and the two libraries promote them differently."
    return ""


def _numpy_equivalent(dtype: np.dtype) -> torch.dtype | None:
    return {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool}.get(dtype.name)


def _explain_numpy_only_error(spec: OpSpec, x: BuiltTensor, t: Outcome, n: Outcome) -> str:
    if spec.op == "squeeze" and spec.dim is not None:
        return (
            f"dim {spec.dim} has size {x.tensor.shape[spec.dim] if -x.tensor.dim() <= spec.dim < x.tensor.dim() else '?'}, "
            "not 1. torch's squeeze(dim) leaves such a dim alone (a no-op, shape unchanged); "
            f"np.squeeze refuses it. NumPy says: {n.error}"
        )
    return f"NumPy says: {n.error}"


def _explain_torch_only_error(spec: OpSpec, x: BuiltTensor, t: Outcome, n: Outcome) -> str:
    if spec.op == "mean" and not x.tensor.is_floating_point():
        return (
            f"torch.mean needs a floating-point tensor and this one is {_torch_dtype_name(x.tensor.dtype)}: "
            "convert it first with x.float(). NumPy quietly computes the mean in float64. "
            f"torch says: {t.error}"
        )
    if spec.op == "view":
        return (
            "view never copies: it reuses the same memory with new strides, which is impossible when the tensor "
            "is not contiguous (as after transpose). Call .contiguous() first (a copy), or use .reshape(), "
            "which copies only when it must. np.reshape copies silently. "
            f"torch says: {t.error}"
        )
    return f"torch says: {t.error}"


def _shape_args(shape: tuple[int, ...]) -> str:
    return ", ".join(str(s) for s in shape) if shape else "()"


def _torch_call(spec: OpSpec, n_others: int) -> str:
    op, dim = spec.op, spec.dim
    if op == "squeeze":
        return "x.squeeze()" if dim is None else f"x.squeeze({dim})"
    if op == "unsqueeze":
        return f"x.unsqueeze({0 if dim is None else dim})"
    if op == "cat":
        names = ", ".join(["x", "y", "z"][: n_others + 1])
        return f"torch.cat([{names}], dim={0 if dim is None else dim})"
    if op == "pow":
        return f"x.pow({parse_exponent(spec.exponent)!r})"
    if op in ("sum", "mean"):
        if dim is None:
            return f"x.{op}(dim=tuple(range(x.dim())), keepdim=True)" if spec.keepdim else f"x.{op}()"
        return f"x.{op}({dim}, keepdim={spec.keepdim})" if spec.keepdim else f"x.{op}({dim})"
    return f"x.{op}({_shape_args(parse_new_shape(spec.new_shape))})"


def _numpy_call(spec: OpSpec, n_others: int) -> str:
    op, dim = spec.op, spec.dim
    if op == "squeeze":
        return "np.squeeze(x_np)" if dim is None else f"np.squeeze(x_np, axis={dim})"
    if op == "unsqueeze":
        return f"np.expand_dims(x_np, {0 if dim is None else dim})"
    if op == "cat":
        names = ", ".join(["x_np", "y_np", "z_np"][: n_others + 1])
        return f"np.concatenate([{names}], axis={0 if dim is None else dim})"
    if op == "pow":
        return f"np.power(x_np, {parse_exponent(spec.exponent)!r})"
    if op in ("sum", "mean"):
        if dim is None:
            return f"np.{op}(x_np, keepdims=True)" if spec.keepdim else f"np.{op}(x_np)"
        return f"np.{op}(x_np, axis={dim}, keepdims={spec.keepdim})" if spec.keepdim else f"np.{op}(x_np, axis={dim})"
    shape = parse_new_shape(spec.new_shape)
    return f"np.reshape(x_np, ({_shape_args(shape)}{',' if len(shape) == 1 else ''}))"


def op_code(
    x: BuiltTensor, spec: OpSpec, others: tuple[BuiltTensor, ...], device: str, torch_ok: bool, numpy_ok: bool
) -> str:
    """The runnable script for what is on screen: build the inputs, run both calls, print both results."""
    lines = ["import numpy as np", "import torch", "", x.torch_code, x.numpy_code]
    if spec.op == "cat":
        for other in others:
            lines += [other.torch_code, other.numpy_code]
    if device != "cpu":
        lines.append(f"x = x.to({device!r})")
        if spec.op == "cat":
            lines += [f"{n} = {n}.to({device!r})" for n in ("y", "z")[: len(others)]]
    if spec.transpose_first:
        lines += ["x = x.transpose(0, 1)  # now not contiguous", "x_np = np.swapaxes(x_np, 0, 1)"]
    lines.append("")
    lines += _guarded("out", _torch_call(spec, len(others)), torch_ok, "RuntimeError", "torch")
    lines += _guarded("out_np", _numpy_call(spec, len(others)), numpy_ok, "ValueError", "NumPy")
    return "\n".join(lines) + "\n"


def _guarded(name: str, call: str, ok: bool, error: str, library: str) -> list[str]:
    show = f"print({name}, {name}.shape, {name}.dtype)"
    if ok:
        return [f"{name} = {call}", show]
    return ["try:", f"    {name} = {call}", f"    {show}", f"except {error} as err:", f'    print("{library} refuses:", err)']


REFERENCE_TABLE = (
    ("shape", "x.shape", "a.shape"),
    ("dtype", "x.dtype", "a.dtype"),
    ("change shape", "x.reshape(2, 3) or x.view(2, 3)", "a.reshape(2, 3)"),
    ("drop size-1 dims", "x.squeeze()", "a.squeeze()"),
    ("add a size-1 dim", "x.unsqueeze(1)", "np.expand_dims(a, 1)"),
    ("join along a dim", "torch.cat([x, y], dim=1)", "np.concatenate([a, b], axis=1)"),
    ("reduce along a dim", "x.sum(dim=0)", "a.sum(axis=0)"),
    ("the axis argument", "dim=", "axis="),
    ("common dtypes", "torch.float (float32), torch.long (int64)", "np.float32, np.int64"),
    ("from the other library", "torch.from_numpy(a) (shares memory)", "x.numpy() (shares memory on the CPU)"),
    ("device", "torch.cuda.is_available(); x.to('cuda')", "(CPU only)"),
)


def course_cat_example() -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The course's example: shapes [2, 1, 3], [2, 3, 3] and [2, 2, 3] joined along dim 1 give [2, 6, 3]."""
    return (2, 1, 3), (2, 3, 3), (2, 2, 3)
