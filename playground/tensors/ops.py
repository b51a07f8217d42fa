"""Each Tensor Lab operation beside its NumPy twin, on the same data, with an honest verdict.

``OP_TABLE`` has one row per operation, and a row is all there is to an operation: its arguments (each with
the widget that sets it, described as data the page draws), the torch call and its NumPy twin (each as a
function and as the code shown), the note on how the two name it, its shape picture, the explanations of its
known differences, and its size rule: how many numbers its result holds, known from the input shapes and the
arguments before either library computes it. ``run_twin`` refuses a result over ``MAX_TENSOR_ELEMENTS`` with a
sentence, runs the row's two calls, captures each result or error, compares values, shapes and dtypes, and
explains every difference it finds. Adding ``transpose`` or ``stack`` is one row here and nothing else.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import torch

from playground import limits
from playground.errors import PlaygroundError, as_text, library_message
from playground.tensors.build import BuiltTensor
from playground.tensors.literal import parse_shape, quoted
from playground.tensors.shape_picture import (
    Rows,
    joined_rows,
    kept_rows,
    reduced_rows,
    reshaped_rows,
    shape_picture,
    squeeze_rows,
    unsqueeze_rows,
)

Shapes = tuple[tuple[int, ...], ...]
WIDGETS = ("dim", "checkbox", "text", "tensors")


def parse_dim(value: Any) -> int:
    """A dim as the widget gives it: a whole number within the dims a tensor here may have (or one more)."""
    bound = limits.MAX_TENSOR_DIMS + 1
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or abs(value) > bound:
        raise PlaygroundError(f"dim must be a whole number from -{bound} to {bound}, such as 0, 1 or -1.")
    return int(value)


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


def parse_tensor_count(value: Any) -> int:
    if value not in range(2, limits.MAX_CAT_INPUTS + 1) or isinstance(value, bool):
        raise PlaygroundError(f"cat joins 2 or {limits.MAX_CAT_INPUTS} tensors: add one or two more.")
    return int(value)


@dataclass(frozen=True)
class Argument:
    """One control of an operation, as data: the page draws its widget (``widget`` is one of ``WIDGETS``) under
    the key ``tl_<name>``, and ``parse`` reads the widget's value (a sentence when it is wrong).

    ``dim``: a whole number within the dims; with ``all_label`` a checkbox (key ``tl_all_dims``) before it means
    every dim, and the value is then None. ``tensors``: how many tensors the operation takes (x and the rest,
    each drawn as a tensor's inputs)."""

    name: str
    widget: str
    label: str
    default: Any
    help: str = ""
    all_label: str = ""
    max_chars: int = 0
    choices: tuple = ()
    parse: Callable[[Any], Any] = lambda value: value

    def __post_init__(self) -> None:
        if self.widget not in WIDGETS:
            raise ValueError(f"Unknown widget {self.widget!r}; one of {WIDGETS}.")


class Args(Mapping[str, Any]):
    """An operation's arguments, read and checked; by name (``a["dim"]``) or as attributes (``a.dim``)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Args({self._values!r})"


@dataclass(frozen=True)
class Fix:
    """What to do instead when torch's error contains ``when`` (view after transpose: ``.contiguous()`` first)."""

    when: str
    call: Callable[[torch.Tensor, Args], torch.Tensor]
    code: Callable[[Args], str]


def _no_words(*_: Any) -> str:
    return ""


@dataclass(frozen=True)
class Op:
    """One row of the table: everything the page, the code panel and the checks know about one operation.

    ``result_size(shapes, args)`` is the number of elements of the result, from the input shapes alone, for
    every input the libraries accept; ``picture(shapes, output_shape, args)`` the shape picture's rows. The
    ``explain_*`` functions say why the libraries differ where this operation is known to make them differ
    (an empty text: no particular reason)."""

    name: str
    arguments: tuple[Argument, ...]
    torch_call: Callable[[torch.Tensor, list[torch.Tensor], Args], torch.Tensor]
    numpy_call: Callable[[np.ndarray, list[np.ndarray], Args], np.ndarray]
    torch_code: Callable[[Args], str]
    numpy_code: Callable[[Args], str]
    note: str
    result_size: Callable[[Shapes, Args], int]
    picture: Callable[[Shapes, tuple[int, ...] | None, Args], Rows]
    explain_torch_error: Callable[[Args, BuiltTensor, str], str] = _no_words
    explain_numpy_error: Callable[[Args, BuiltTensor, str], str] = _no_words
    explain_dtype: Callable[[Args, BuiltTensor], str] = _no_words
    fix: Fix | None = None

    @property
    def joins(self) -> Argument | None:
        """The argument that says how many tensors the operation takes, if it takes more than x."""
        return next((a for a in self.arguments if a.widget == "tensors"), None)


# --------------------------------------------------------------------------- size rules (elements of the result)


def same_size(shapes: Shapes, a: Args) -> int:
    """squeeze, unsqueeze, reshape, view, pow: the numbers of x, rearranged or changed one by one."""
    return math.prod(shapes[0])


def joined_size(shapes: Shapes, a: Args) -> int:
    """cat: every input's numbers, side by side."""
    return sum(math.prod(shape) for shape in shapes)


def reduced_size(shapes: Shapes, a: Args) -> int:
    """sum and mean: one number, or one per place along the other dims. With a 0 in x's shape this is where an
    empty tensor makes a large result: a [0, 10000, 10000] tensor summed along dim 0 is 100,000,000 zeros."""
    shape = shapes[0]
    if a.dim is None:
        return 1
    d = a.dim + len(shape) if a.dim < 0 else a.dim
    if not 0 <= d < len(shape):
        return math.prod(shape)  # out of range: both refuse (a 0-d tensor's dim 0 in torch: itself)
    return math.prod(size for k, size in enumerate(shape) if k != d)


# --------------------------------------------------------------------------- the rows


DIM_HELP = "Negative counts from the end: -1 is the last dim."


def _dim_or_all(value: Any) -> int | None:
    """A dim widget's value: None (the "all dims" box) or a whole number."""
    return None if value is None else parse_dim(value)


# The rows' dim argument; a row with an "all dims" box sets its all_label (replace(DIM, all_label=...)).
DIM = Argument("dim", "dim", "dim (negative counts from the end)", 0, DIM_HELP, parse=_dim_or_all)
KEEPDIM = Argument("keepdim", "checkbox", "keepdim", False, "Keep the reduced dim as size 1 (NumPy calls it keepdims).",
                   parse=bool)
TRANSPOSE = Argument("transpose", "checkbox", "transpose(0, 1) first", False,
                     "Makes the tensor non-contiguous: view then fails, reshape copies.", parse=bool)
NEW_SHAPE = Argument("new_shape", "text", "new shape (-1 = work it out)", "2, 2", "Sizes separated by commas, e.g. 2, 3.",
                     max_chars=limits.MAX_SHAPE_CHARS, parse=parse_new_shape)


# sum and mean: over one dim, or over every dim (``keepdim`` keeps each as size 1). Module-level functions of the
# reduction's name (bound with partial in the rows), so that they run, and can be judged, when called.
def _reduce_torch(name: str, x: torch.Tensor, others: list, a: Args) -> torch.Tensor:
    t_fn = getattr(torch.Tensor, name)
    if a.dim is None:
        return t_fn(x, dim=tuple(range(x.dim())), keepdim=True) if a.keepdim else t_fn(x)
    return t_fn(x, a.dim, keepdim=a.keepdim)


def _reduce_numpy(name: str, x: np.ndarray, others: list, a: Args) -> np.ndarray:
    n_fn = getattr(np, name)
    return n_fn(x, keepdims=True) if a.dim is None and a.keepdim else n_fn(x, axis=a.dim, keepdims=a.keepdim)


def _reduce_torch_code(name: str, a: Args) -> str:
    if a.dim is None:
        return f"x.{name}(dim=tuple(range(x.dim())), keepdim=True)" if a.keepdim else f"x.{name}()"
    return f"x.{name}({a.dim}, keepdim=True)" if a.keepdim else f"x.{name}({a.dim})"


def _reduce_numpy_code(name: str, a: Args) -> str:
    if a.dim is None:
        return f"np.{name}(x_np, keepdims=True)" if a.keepdim else f"np.{name}(x_np)"
    return f"np.{name}(x_np, axis={a.dim}, keepdims=True)" if a.keepdim else f"np.{name}(x_np, axis={a.dim})"


def _reduce_picture(shapes: Shapes, out: tuple[int, ...] | None, a: Args) -> Rows:
    return reduced_rows(shapes, out, a.dim, a.keepdim)


def _names(a: Args, suffix: str = "") -> str:
    return ", ".join(f"{name}{suffix}" for name in ("x", "y", "z")[: a.cat_count])


def _shape_args(shape: tuple[int, ...]) -> str:
    return ", ".join(str(s) for s in shape) if shape else "()"


def _shape_tuple(shape: tuple[int, ...]) -> str:
    return f"({_shape_args(shape)}{',' if len(shape) == 1 else ''})"


def _torch_dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _squeeze_numpy_error(a: Args, x: BuiltTensor, error: str) -> str:
    if a.dim is None:
        return ""
    shape = tuple(x.tensor.shape)
    size = shape[a.dim] if -len(shape) <= a.dim < len(shape) else "?"
    return (f"dim {a.dim} has size {size}, not 1. torch's squeeze(dim) leaves such a dim alone (a no-op, shape "
            f"unchanged); np.squeeze refuses it. NumPy says: {error}")


def _mean_torch_error(a: Args, x: BuiltTensor, error: str) -> str:
    if x.tensor.is_floating_point():
        return ""
    return (f"torch.mean needs a floating-point tensor and this one is {_torch_dtype_name(x.tensor.dtype)}: "
            f"convert it first with x.float(). NumPy quietly computes the mean in float64. torch says: {error}")


def _view_torch_error(a: Args, x: BuiltTensor, error: str) -> str:
    return ("view never copies: it reuses the same memory with new strides, which is impossible when the tensor "
            "is not contiguous (as after transpose). Call .contiguous() first (a copy), or use .reshape(), "
            f"which copies only when it must. np.reshape copies silently. torch says: {error}")


def _pow_dtype(a: Args, x: BuiltTensor) -> str:
    if not x.tensor.is_floating_point() and isinstance(a.exponent, float):
        return "An integer tensor raised to a float exponent becomes torch's default float32; NumPy promotes to float64."
    return ""


OP_TABLE: dict[str, Op] = {op.name: op for op in (
    Op("squeeze", (replace(DIM, all_label="squeeze every size-1 dim"),),
       lambda x, o, a: x.squeeze() if a.dim is None else x.squeeze(a.dim),
       lambda x, o, a: np.squeeze(x) if a.dim is None else np.squeeze(x, axis=a.dim),
       lambda a: "x.squeeze()" if a.dim is None else f"x.squeeze({a.dim})",
       lambda a: "np.squeeze(x_np)" if a.dim is None else f"np.squeeze(x_np, axis={a.dim})",
       "torch: x.squeeze(dim) · NumPy: np.squeeze(a, axis=dim). PyTorch's dim is NumPy's axis.",
       same_size, lambda shapes, out, a: squeeze_rows(shapes, out, a.dim),
       explain_numpy_error=_squeeze_numpy_error),
    Op("unsqueeze", (DIM,),
       lambda x, o, a: x.unsqueeze(a.dim),
       lambda x, o, a: np.expand_dims(x, a.dim),
       lambda a: f"x.unsqueeze({a.dim})",
       lambda a: f"np.expand_dims(x_np, {a.dim})",
       "torch: x.unsqueeze(dim) · NumPy: np.expand_dims(a, axis=dim).",
       same_size, lambda shapes, out, a: unsqueeze_rows(shapes, out, a.dim)),
    Op("cat", (DIM, Argument("cat_count", "tensors", "tensors to join", 2, choices=tuple(range(2, limits.MAX_CAT_INPUTS + 1)),
                                parse=parse_tensor_count)),
       lambda x, o, a: torch.cat([x, *o], dim=a.dim),
       lambda x, o, a: np.concatenate([x, *o], axis=a.dim),
       lambda a: f"torch.cat([{_names(a)}], dim={a.dim})",
       lambda a: f"np.concatenate([{_names(a, '_np')}], axis={a.dim})",
       "torch: torch.cat(tensors, dim=d) · NumPy: np.concatenate(arrays, axis=d).",
       joined_size, lambda shapes, out, a: joined_rows(shapes, out, a.dim),
       explain_dtype=lambda a, x: "The inputs have different dtypes, and the two libraries promote them differently."),
    Op("pow", (Argument("exponent", "text", "exponent", "2", "A number such as 2, 0.5 or -1.",
                        max_chars=limits.MAX_EXPONENT_CHARS, parse=parse_exponent),),
       lambda x, o, a: x.pow(a.exponent),
       lambda x, o, a: np.power(x, a.exponent),
       lambda a: f"x.pow({a.exponent!r})",
       lambda a: f"np.power(x_np, {a.exponent!r})",
       "torch: x.pow(e) or x ** e · NumPy: np.power(a, e) or a ** e.",
       same_size, lambda shapes, out, a: kept_rows(shapes, out),
       explain_dtype=_pow_dtype),
    Op("sum", (replace(DIM, all_label="sum over all dims"), KEEPDIM), partial(_reduce_torch, "sum"),
       partial(_reduce_numpy, "sum"), partial(_reduce_torch_code, "sum"), partial(_reduce_numpy_code, "sum"),
       result_size=reduced_size, picture=_reduce_picture,
       note="torch: x.sum(dim, keepdim=...) · NumPy: np.sum(a, axis=..., keepdims=...) (note the s)."),
    Op("mean", (replace(DIM, all_label="mean over all dims"), KEEPDIM), partial(_reduce_torch, "mean"),
       partial(_reduce_numpy, "mean"), partial(_reduce_torch_code, "mean"), partial(_reduce_numpy_code, "mean"),
       result_size=reduced_size, picture=_reduce_picture,
       note="torch: x.mean(dim, keepdim=...) · NumPy: np.mean(a, axis=..., keepdims=...).",
       explain_torch_error=_mean_torch_error),
    Op("reshape", (NEW_SHAPE, TRANSPOSE),
       lambda x, o, a: x.reshape(a.new_shape),
       lambda x, o, a: np.reshape(x, a.new_shape),
       lambda a: f"x.reshape({_shape_args(a.new_shape)})",
       lambda a: f"np.reshape(x_np, {_shape_tuple(a.new_shape)})",
       "torch: x.reshape(shape) · NumPy: np.reshape(a, shape). Both copy only when they must.",
       same_size, lambda shapes, out, a: reshaped_rows(shapes, out)),
    Op("view", (NEW_SHAPE, TRANSPOSE),
       lambda x, o, a: x.view(a.new_shape),
       lambda x, o, a: np.reshape(x, a.new_shape),
       lambda a: f"x.view({_shape_args(a.new_shape)})",
       lambda a: f"np.reshape(x_np, {_shape_tuple(a.new_shape)})",
       "torch: x.view(shape) never copies, so it needs compatible strides. NumPy has no such call: "
       "a.view(...) in NumPy reinterprets the dtype; np.reshape is the twin, and it copies when it must.",
       same_size, lambda shapes, out, a: reshaped_rows(shapes, out),
       explain_torch_error=_view_torch_error,
       fix=Fix("view size is not compatible", lambda x, a: x.contiguous().view(a.new_shape),
               lambda a: f".contiguous().view({_shape_args(a.new_shape)})")),
)}
OPS = tuple(OP_TABLE)


def defaults(op: str) -> dict[str, Any]:
    """The widgets' first values for ``op`` (``dim`` of a row with an "all dims" box starts as every dim)."""
    return {a.name: (None if a.widget == "dim" and a.all_label else a.default) for a in OP_TABLE[op].arguments}


class OpSpec:
    """One operation and the values of its controls as the widgets give them (text, numbers, booleans), before
    they are read: ``OpSpec("sum", dim=1, keepdim=True)``. ``dim=None`` means all dims (squeeze all, sum or mean
    of everything). A value the row does not take is refused; one not given takes the row's default."""

    __slots__ = ("op", "values")

    def __init__(self, op: str = "pow", **values: Any) -> None:
        if op not in OP_TABLE:
            raise PlaygroundError(f"Unknown operation {quoted(op)}; choose one of {', '.join(OP_TABLE)}.")
        unknown = sorted(set(values) - {a.name for a in OP_TABLE[op].arguments})
        if unknown:
            raise PlaygroundError(f"{op} takes no {quoted(unknown[0])}; it takes "
                                  f"{', '.join(a.name for a in OP_TABLE[op].arguments) or 'nothing'}.")
        object.__setattr__(self, "op", op)
        object.__setattr__(self, "values", {**defaults(op), **values})

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("OpSpec is frozen")

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        raise AttributeError(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OpSpec) and (self.op, self.values) == (other.op, other.values)

    def __hash__(self) -> int:
        return hash((self.op, tuple(sorted((k, repr(v)) for k, v in self.values.items()))))

    def __repr__(self) -> str:
        return f"OpSpec({self.op!r}, " + ", ".join(f"{k}={v!r}" for k, v in self.values.items()) + ")"

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, **self.values}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpSpec:
        op = str(data.get("op", "pow"))
        names = {a.name for a in OP_TABLE[op].arguments} if op in OP_TABLE else set()
        return cls(op, **{k: v for k, v in data.items() if k in names})

    def with_(self, **changes: Any) -> OpSpec:
        return OpSpec(changes.pop("op", self.op), **{**self.values, **changes})


def resolve(spec: OpSpec) -> Args:
    """The spec's values read by its row's arguments (a sentence for the first one that is wrong)."""
    return Args({a.name: a.parse(spec.values[a.name]) for a in OP_TABLE[spec.op].arguments})


def result_size(spec: OpSpec, shapes: Shapes) -> int:
    """How many numbers ``spec`` makes from inputs of ``shapes``, known before anything is computed."""
    return OP_TABLE[spec.op].result_size(shapes, resolve(spec))


def check_result_size(op: Op, shapes: Shapes, args: Args) -> None:
    """Refuse, before either library computes it, a result over the element limit."""
    size = op.result_size(shapes, args)
    if size > limits.MAX_TENSOR_ELEMENTS:
        on = " and ".join(str(list(shape)) for shape in shapes)
        raise PlaygroundError(
            f"{quoted(op.torch_code(args), 80)} on shape {on} would make a result of {size:,} numbers; the limit "
            f"here is {limits.MAX_TENSOR_ELEMENTS:,}. Use smaller sizes (a 0 in a shape makes an empty tensor, "
            "but summing it along that dim leaves every other size)."
        )


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
    args: Args = field(default_factory=lambda: Args({}))

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        return self.torch_out.shape if self.torch_out.ok else self.numpy_out.shape if self.numpy_out.ok else None

    def picture(self) -> str:
        """The shape picture's SVG: the row's picture of these inputs and this output."""
        rows = OP_TABLE[self.spec.op].picture(self.input_shapes, self.output_shape, self.args)
        return shape_picture(rows, f"{self.spec.op}: shapes before and after")


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
    """Run ``spec`` on ``x`` (and ``others``, for a row that joins tensors) in torch and in NumPy, and compare.

    The arguments are read and the result's size checked before either library is called."""
    op, args = OP_TABLE[spec.op], resolve(spec)
    wanted = args[op.joins.name] - 1 if op.joins else 0
    if len(others) != wanted:
        raise PlaygroundError(f"{spec.op} takes {wanted + 1} tensors here; it was given {len(others) + 1}.")
    tx, ax = x.tensor.to(device), x.array
    notes: list[str] = []
    if args.get("transpose"):
        if tx.dim() < 2:
            raise PlaygroundError("Transpose needs at least 2 dimensions; build a 2-D tensor first, e.g. [[1, 2], [3, 4]].")
        tx, ax = tx.transpose(0, 1), np.swapaxes(ax, 0, 1)
        notes.append(
            f"After transpose(0, 1) the tensor has shape {list(tx.shape)} and strides {list(tx.stride())}: "
            f"is_contiguous() is {tx.is_contiguous()}."
        )
    shapes = (tuple(tx.shape), *(tuple(o.tensor.shape) for o in others))
    check_result_size(op, shapes, args)
    t_others, a_others = [o.tensor.to(device) for o in others], [o.array for o in others]
    torch_out = _capture_torch(lambda: op.torch_call(tx, t_others, args), device)
    numpy_out = _capture_numpy(lambda: op.numpy_call(ax, a_others, args))
    fix, fix_code = None, ""
    if op.fix is not None and not torch_out.ok and op.fix.when in (torch_out.error or ""):
        fix = _capture_torch(lambda: op.fix.call(tx, args), device)
        fix_code = f"out = x{'.transpose(0, 1)' if args.get('transpose') else ''}{op.fix.code(args)}"
    return TwinResult(
        spec=spec,
        torch_out=torch_out,
        numpy_out=numpy_out,
        verdict=compare(spec, x, torch_out, numpy_out, args),
        input_shapes=shapes,
        code=op_code(x, spec, others, device, torch_out.ok, numpy_out.ok),
        naming_note=op.note,
        fix=fix,
        fix_code=fix_code,
        notes=tuple(notes),
        args=args,
    )


def compare(spec: OpSpec, x: BuiltTensor, t: Outcome, n: Outcome, args: Args | None = None) -> Verdict:
    """Same values, shape and dtype, or exactly where and why they differ."""
    op, args = OP_TABLE[spec.op], args if args is not None else resolve(spec)
    if not t.ok and not n.ok:
        return Verdict(False, "Both libraries refuse this operation.", (f"torch: {t.error}", f"NumPy: {n.error}"))
    if t.ok and not n.ok:
        return Verdict(False, "torch gives a result; NumPy raises an error.", (op.explain_numpy_error(args, x, n.error) or f"NumPy says: {n.error}",))
    if not t.ok and n.ok:
        return Verdict(False, "NumPy gives a result; torch raises an error.", (op.explain_torch_error(args, x, t.error) or f"torch says: {t.error}",))
    reasons: list[str] = []
    if t.shape != n.shape:
        reasons.append(f"Shapes differ: torch {list(t.shape)} vs NumPy {list(n.shape)}.")
    if t.dtype != n.dtype:
        reasons.append(f"Dtypes differ: torch {t.dtype} vs NumPy {n.dtype}. {_explain_dtype(op, args, x)}".strip())
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


def _explain_dtype(op: Op, args: Args, x: BuiltTensor) -> str:
    if x.tensor.dtype != _numpy_equivalent(x.array.dtype):
        return (
            f"They started different: torch.tensor made {_torch_dtype_name(x.tensor.dtype)} but np.array made "
            f"{x.array.dtype.name}. A Python float becomes torch's default float32, NumPy's float64."
        )
    return op.explain_dtype(args, x)


def _numpy_equivalent(dtype: np.dtype) -> torch.dtype | None:
    return {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool}.get(dtype.name)


def op_code(
    x: BuiltTensor, spec: OpSpec, others: tuple[BuiltTensor, ...], device: str, torch_ok: bool, numpy_ok: bool
) -> str:
    """The runnable script for what is on screen: build the inputs, run both calls, print both results."""
    op, args = OP_TABLE[spec.op], resolve(spec)
    lines = ["import numpy as np", "import torch", "", x.torch_code, x.numpy_code]
    for other in others:
        lines += [other.torch_code, other.numpy_code]
    if device != "cpu":
        lines.append(f"x = x.to({device!r})")
        lines += [f"{n} = {n}.to({device!r})" for n in ("y", "z")[: len(others)]]
    if args.get("transpose"):
        lines += ["x = x.transpose(0, 1)  # now not contiguous", "x_np = np.swapaxes(x_np, 0, 1)"]
    lines.append("")
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
