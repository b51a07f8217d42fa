"""Each Tensor Lab operation beside its NumPy twin, on the same data, with an honest verdict.

``OP_TABLE`` has one row per operation: the torch call and its NumPy twin, each as a function and as the
code shown, and a note on how the two name it. An ``OpSpec`` holds the page's controls; ``run_twin`` runs
the row's two calls, captures each result or error, compares values, shapes and dtypes, and explains every
difference it finds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from playground import limits
from playground.errors import PlaygroundError, as_text, library_message
from playground.tensors.build import BuiltTensor
from playground.tensors.literal import parse_shape, quoted


@dataclass(frozen=True)
class Args:
    """One operation's controls, read and checked: what its torch call, its NumPy twin and their code need."""

    dim: int | None = None  # None: all dims (squeeze all, reduce everything); 0 for unsqueeze and cat
    keepdim: bool = False
    exponent: int | float = 2
    shape: tuple[int, ...] = ()
    joined: int = 1  # tensors besides x that cat joins

    @property
    def dim0(self) -> int:
        return 0 if self.dim is None else self.dim


@dataclass(frozen=True)
class Op:
    """One row of the table: the torch call and its NumPy twin, each as a function and as the code shown, and
    the note on how the two libraries name it."""

    name: str
    torch_call: Callable[[torch.Tensor, list[torch.Tensor], Args], torch.Tensor]
    numpy_call: Callable[[np.ndarray, list[np.ndarray], Args], np.ndarray]
    torch_code: Callable[[Args], str]
    numpy_code: Callable[[Args], str]
    note: str


def _reduction(name: str) -> dict[str, Callable]:
    """sum and mean: over one dim, or over every dim (``keepdim`` keeps each as size 1)."""
    t_fn, n_fn = getattr(torch.Tensor, name), getattr(np, name)

    def torch_call(x: torch.Tensor, others: list, a: Args) -> torch.Tensor:
        if a.dim is None:
            return t_fn(x, dim=tuple(range(x.dim())), keepdim=True) if a.keepdim else t_fn(x)
        return t_fn(x, a.dim, keepdim=a.keepdim)

    def numpy_call(x: np.ndarray, others: list, a: Args) -> np.ndarray:
        return n_fn(x, keepdims=True) if a.dim is None and a.keepdim else n_fn(x, axis=a.dim, keepdims=a.keepdim)

    def torch_code(a: Args) -> str:
        if a.dim is None:
            return f"x.{name}(dim=tuple(range(x.dim())), keepdim=True)" if a.keepdim else f"x.{name}()"
        return f"x.{name}({a.dim}, keepdim=True)" if a.keepdim else f"x.{name}({a.dim})"

    def numpy_code(a: Args) -> str:
        if a.dim is None:
            return f"np.{name}(x_np, keepdims=True)" if a.keepdim else f"np.{name}(x_np)"
        return f"np.{name}(x_np, axis={a.dim}, keepdims=True)" if a.keepdim else f"np.{name}(x_np, axis={a.dim})"

    return {"torch_call": torch_call, "numpy_call": numpy_call, "torch_code": torch_code, "numpy_code": numpy_code}


def _names(a: Args, suffix: str = "") -> str:
    return ", ".join(f"{name}{suffix}" for name in ("x", "y", "z")[: a.joined + 1])


def _shape_args(shape: tuple[int, ...]) -> str:
    return ", ".join(str(s) for s in shape) if shape else "()"


def _shape_tuple(shape: tuple[int, ...]) -> str:
    return f"({_shape_args(shape)}{',' if len(shape) == 1 else ''})"


OP_TABLE: dict[str, Op] = {op.name: op for op in (
    Op("squeeze",
       lambda x, o, a: x.squeeze() if a.dim is None else x.squeeze(a.dim),
       lambda x, o, a: np.squeeze(x) if a.dim is None else np.squeeze(x, axis=a.dim),
       lambda a: "x.squeeze()" if a.dim is None else f"x.squeeze({a.dim})",
       lambda a: "np.squeeze(x_np)" if a.dim is None else f"np.squeeze(x_np, axis={a.dim})",
       "torch: x.squeeze(dim) · NumPy: np.squeeze(a, axis=dim). PyTorch's dim is NumPy's axis."),
    Op("unsqueeze",
       lambda x, o, a: x.unsqueeze(a.dim0),
       lambda x, o, a: np.expand_dims(x, a.dim0),
       lambda a: f"x.unsqueeze({a.dim0})",
       lambda a: f"np.expand_dims(x_np, {a.dim0})",
       "torch: x.unsqueeze(dim) · NumPy: np.expand_dims(a, axis=dim)."),
    Op("cat",
       lambda x, o, a: torch.cat([x, *o], dim=a.dim0),
       lambda x, o, a: np.concatenate([x, *o], axis=a.dim0),
       lambda a: f"torch.cat([{_names(a)}], dim={a.dim0})",
       lambda a: f"np.concatenate([{_names(a, '_np')}], axis={a.dim0})",
       "torch: torch.cat(tensors, dim=d) · NumPy: np.concatenate(arrays, axis=d)."),
    Op("pow",
       lambda x, o, a: x.pow(a.exponent),
       lambda x, o, a: np.power(x, a.exponent),
       lambda a: f"x.pow({a.exponent!r})",
       lambda a: f"np.power(x_np, {a.exponent!r})",
       "torch: x.pow(e) or x ** e · NumPy: np.power(a, e) or a ** e."),
    Op("sum", **_reduction("sum"),
       note="torch: x.sum(dim, keepdim=...) · NumPy: np.sum(a, axis=..., keepdims=...) (note the s)."),
    Op("mean", **_reduction("mean"),
       note="torch: x.mean(dim, keepdim=...) · NumPy: np.mean(a, axis=..., keepdims=...)."),
    Op("reshape",
       lambda x, o, a: x.reshape(a.shape),
       lambda x, o, a: np.reshape(x, a.shape),
       lambda a: f"x.reshape({_shape_args(a.shape)})",
       lambda a: f"np.reshape(x_np, {_shape_tuple(a.shape)})",
       "torch: x.reshape(shape) · NumPy: np.reshape(a, shape). Both copy only when they must."),
    Op("view",
       lambda x, o, a: x.view(a.shape),
       lambda x, o, a: np.reshape(x, a.shape),
       lambda a: f"x.view({_shape_args(a.shape)})",
       lambda a: f"np.reshape(x_np, {_shape_tuple(a.shape)})",
       "torch: x.view(shape) never copies, so it needs compatible strides. NumPy has no such call: "
       "a.view(...) in NumPy reinterprets the dtype; np.reshape is the twin, and it copies when it must."),
)}
OPS = tuple(OP_TABLE)


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
    printed: str = ""  # what print(result) shows in that library (the code panel prints it)
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
    """``"2"`` -> 2, ``"0.5"`` -> 0.5. Anything else (a 4,301-digit number included) is refused with a sentence."""
    raw = str(text).strip()
    if len(raw) > limits.MAX_EXPONENT_CHARS:
        raise PlaygroundError(f"The exponent is {len(raw):,} characters long; type a number such as 2, 0.5 or -1 "
                              f"(at most {limits.MAX_EXPONENT_CHARS} characters).")
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", raw):
        raise PlaygroundError(f"The exponent {quoted(raw)} is not a number. Type a number such as 2, 0.5 or -1.")
    value: int | float = int(raw) if re.fullmatch(r"[-+]?\d+", raw) else float(raw)
    if not math.isfinite(value) or abs(value) > limits.MAX_ABS_EXPONENT:
        raise PlaygroundError(f"Keep the exponent between -{limits.MAX_ABS_EXPONENT:g} and {limits.MAX_ABS_EXPONENT:g}.")
    return value


def parse_new_shape(text: str) -> tuple[int, ...]:
    """A target shape for reshape/view: sizes separated by commas, at most one -1."""
    return parse_shape(str(text), allow_infer=True, what="new shape")


def resolve(spec: OpSpec, joined: int = 1) -> Args:
    """The spec's controls read for its op (the exponent only for pow, the new shape only for reshape/view)."""
    return Args(
        dim=spec.dim,
        keepdim=spec.keepdim,
        exponent=parse_exponent(spec.exponent) if spec.op == "pow" else 2,
        shape=parse_new_shape(spec.new_shape) if spec.op in ("reshape", "view") else (),
        joined=joined,
    )


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
        printed=_short(str(result)),
        device=str(result.device),
    )


def _capture_numpy(fn) -> Outcome:
    try:
        with np.errstate(all="ignore"):
            result = np.asarray(fn())
    except (ValueError, TypeError, IndexError, np.exceptions.AxisError) as exc:
        return Outcome(error=library_message(exc))
    return Outcome(value=result, shape=tuple(result.shape), dtype=result.dtype.name, printed=_short(str(result)))


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
    op, args = OP_TABLE[spec.op], resolve(spec, max(len(others), 1))
    t_others, a_others = [o.tensor.to(device) for o in others], [o.array for o in others]
    torch_out = _capture_torch(lambda: op.torch_call(tx, t_others, args), device)
    numpy_out = _capture_numpy(lambda: op.numpy_call(ax, a_others, args))
    fix = None
    fix_code = ""
    if spec.op == "view" and not torch_out.ok and "view size is not compatible" in (torch_out.error or ""):
        fix = _capture_torch(lambda: tx.contiguous().view(args.shape), device)
        fix_code = f"out = x{'.transpose(0, 1)' if spec.transpose_first else ''}.contiguous().view({_shape_args(args.shape)})"
    verdict = compare(spec, x, torch_out, numpy_out)
    shapes = (tuple(tx.shape),) + tuple(tuple(o.tensor.shape) for o in others) if spec.op == "cat" else (tuple(tx.shape),)
    return TwinResult(
        spec=spec,
        torch_out=torch_out,
        numpy_out=numpy_out,
        verdict=verdict,
        input_shapes=shapes,
        code=op_code(x, spec, others, device, torch_out.ok, numpy_out.ok),
        naming_note=op.note,
        fix=fix,
        fix_code=fix_code,
        notes=tuple(notes),
    )


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
            with np.errstate(invalid="ignore"):  # inf - inf where both are inf: NaN, skipped by nanmax
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
    op, args = OP_TABLE[spec.op], resolve(spec, max(len(others), 1))
    lines += _guarded("out", op.torch_code(args), torch_ok, "RuntimeError", "torch")
    lines += _guarded("out_np", op.numpy_code(args), numpy_ok, "ValueError", "NumPy")
    return "\n".join(lines) + "\n"


def _guarded(name: str, call: str, ok: bool, error: str, library: str) -> list[str]:
    show = [f"print({name})", f"print({name}.shape, {name}.dtype)"]
    if ok:
        return [f"{name} = {call}", *show]
    return ["try:", f"    {name} = {call}", *(f"    {line}" for line in show), f"except {error} as err:",
            f'    print("{library} refuses:", err)']


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
REFERENCE_HEADER = ("what", "PyTorch", "NumPy")


def reference_markdown() -> str:
    """The reference table as a Markdown table, each cell shown as itself. Drawn as Markdown, not ``st.table``: a
    table of a dict imports pandas (0.4 s of the root page's first visit) and has the browser fetch the Arrow
    table's scripts, for eleven rows of fixed text."""
    def row(cells) -> str:
        return "| " + " | ".join(as_text(cell) for cell in cells) + " |"

    return "\n".join([row(REFERENCE_HEADER), "|" + "---|" * len(REFERENCE_HEADER), *map(row, REFERENCE_TABLE)])
