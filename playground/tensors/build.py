"""Build a tensor and its NumPy twin from a small, validated recipe (a literal or a constructor)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from playground import limits
from playground.errors import PlaygroundError, library_message
from playground.tensors.literal import check_shape, parse_literal, quoted

SOURCES = ("literal", "zeros", "ones", "arange", "rand", "randn")
DTYPES = ("inferred", "float32", "float64", "int64", "bool")
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool}
NUMPY_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}

@dataclass(frozen=True)
class TensorSpec:
    """How to make one tensor: its source, the literal or shape, its dtype and (for rand/randn) its seed."""

    source: str = "literal"
    literal: str = "[1, 2, 3, 4]"
    shape: tuple[int, ...] = (2, 3)
    dtype: str = "float32"
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if self.source not in SOURCES:
            raise PlaygroundError(f"Unknown source {quoted(self.source)}; choose one of {', '.join(SOURCES)}.")
        if self.dtype not in DTYPES:
            raise PlaygroundError(f"Unknown dtype {quoted(self.dtype)}; choose one of {', '.join(DTYPES)}.")
        if not 0 <= int(self.seed) <= limits.MAX_SEED:
            raise PlaygroundError(f"The seed must be from 0 to {limits.MAX_SEED}.")
        if self.source != "literal":
            check_shape(self.shape)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["shape"] = list(self.shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        return cls(**{k: v for k, v in data.items() if k in {"source", "literal", "shape", "dtype", "seed"}})

    def with_(self, **changes: Any) -> TensorSpec:
        return replace(self, **changes)


@dataclass(frozen=True)
class BuiltTensor:
    """The torch tensor and the NumPy array made from the same recipe, and the code for each."""

    tensor: torch.Tensor
    array: np.ndarray
    torch_code: str
    numpy_code: str

    def panel_code(self, library: str, name: str = "x") -> str:
        """The build panel as shown: a script that makes the tensor (or array) and prints it, with what it
        prints beneath as comments, every line of it (so the whole panel pastes and runs)."""
        if library == "torch":
            lines, printed = ["import torch", "", self.torch_code, f"print({name})"], str(self.tensor)
        else:
            made_from_torch = ".numpy()" in self.numpy_code  # rand/randn: the same numbers as the tensor
            lines = ["import numpy as np", *(["import torch"] if made_from_torch else []), "",
                     *([self.torch_code] if made_from_torch else []), self.numpy_code, f"print({name}_np)"]
            printed = str(self.array)
        return "\n".join(lines) + "\n" + "".join(f"# {line}\n" for line in printed.splitlines())


def build(spec: TensorSpec, name: str = "x") -> BuiltTensor:
    """Make the tensor and its twin. With dtype "inferred" each library picks its own default dtype,
    which is one of the real differences between them (a Python float becomes float32 in torch but
    float64 in NumPy)."""
    try:
        if spec.source == "literal":
            return _from_literal(spec, name)
        return _from_constructor(spec, name)
    except PlaygroundError:
        raise
    except (RuntimeError, ValueError, TypeError, OverflowError) as exc:
        raise PlaygroundError("PyTorch could not build that tensor; check the values and the dtype.", library_message(exc)) from exc


def _dtype_args(spec: TensorSpec) -> tuple[str, str]:
    if spec.dtype == "inferred":
        return "", ""
    return f", dtype=torch.{spec.dtype}", f", dtype=np.{'bool_' if spec.dtype == 'bool' else spec.dtype}"


def _from_literal(spec: TensorSpec, name: str) -> BuiltTensor:
    parsed = parse_literal(spec.literal)
    torch_dtype = TORCH_DTYPES.get(spec.dtype)
    numpy_dtype = NUMPY_DTYPES.get(spec.dtype)
    tensor = torch.tensor(parsed.values, dtype=torch_dtype)
    array = np.array(parsed.values, dtype=numpy_dtype)
    t_args, n_args = _dtype_args(spec)
    text = _canonical_literal(parsed.values)
    return BuiltTensor(
        tensor=tensor,
        array=array,
        torch_code=f"{name} = torch.tensor({text}{t_args})",
        numpy_code=f"{name}_np = np.array({text}{n_args})",
    )


def _from_constructor(spec: TensorSpec, name: str) -> BuiltTensor:
    shape = spec.shape
    dims = ", ".join(str(s) for s in shape) or "()"
    shape_tuple = f"({dims},)" if len(shape) == 1 else ("()" if not shape else f"({dims})")
    dtype = spec.dtype
    t_args, n_args = _dtype_args(spec)
    if spec.source in ("zeros", "ones"):
        make = torch.zeros if spec.source == "zeros" else torch.ones
        tensor = make(shape, dtype=TORCH_DTYPES.get(dtype))
        array = (np.zeros if spec.source == "zeros" else np.ones)(shape, dtype=NUMPY_DTYPES.get(dtype))
        return BuiltTensor(
            tensor, array, f"{name} = torch.{spec.source}({dims}{t_args})", f"{name}_np = np.{spec.source}({shape_tuple}{n_args})"
        )
    if spec.source == "arange":
        numel = math.prod(shape)
        tensor = torch.arange(numel).reshape(shape)
        array = np.arange(numel).reshape(shape)
        if dtype != "inferred":
            tensor = tensor.to(TORCH_DTYPES[dtype])
            array = array.astype(NUMPY_DTYPES[dtype])
        cast_t = f".to(torch.{dtype})" if dtype != "inferred" else ""
        cast_n = f".astype(np.{'bool_' if dtype == 'bool' else dtype})" if dtype != "inferred" else ""
        return BuiltTensor(
            tensor,
            array,
            f"{name} = torch.arange({numel}).reshape({dims}){cast_t}",
            f"{name}_np = np.arange({numel}).reshape({shape_tuple}){cast_n}",
        )
    # rand / randn: seeded torch generator; the NumPy twin is the very same numbers.
    generator = torch.Generator().manual_seed(int(spec.seed))
    make = torch.rand if spec.source == "rand" else torch.randn
    tensor = make(shape, generator=generator)
    cast_t = ""
    if dtype not in ("inferred", "float32"):
        tensor = tensor.to(TORCH_DTYPES[dtype])
        cast_t = f".to(torch.{dtype})"
    array = tensor.numpy().copy()
    return BuiltTensor(
        tensor,
        array,
        f"g = torch.Generator().manual_seed({spec.seed})\n{name} = torch.{spec.source}({dims}, generator=g){cast_t}",
        f"{name}_np = {name}.numpy().copy()  # the same random numbers, as a NumPy array",
    )


def _canonical_literal(values: object) -> str:
    """The parsed literal written back as Python source (nan/inf spelled so the code runs)."""
    if isinstance(values, list):
        return "[" + ", ".join(_canonical_literal(v) for v in values) + "]"
    if isinstance(values, bool):
        return "True" if values else "False"
    if isinstance(values, float):
        if math.isnan(values):
            return "float('nan')"
        if math.isinf(values):
            return "float('inf')" if values > 0 else "float('-inf')"
        return repr(values)
    return str(values)


@dataclass(frozen=True)
class SharingDemo:
    """torch.from_numpy shares memory with the array; torch.tensor copies it."""

    array_before: list
    array_after: list
    from_numpy_after: list
    tensor_after: list
    from_numpy_shares: bool
    tensor_shares: bool
    code: str


def sharing_demo(values: list[float], index: int = 0, new_value: float = 100.0) -> SharingDemo:
    """Make an array, wrap it both ways, change one element of the array, and report what each saw.

    Whole numbers make an int64 array, as ``np.array([1, 2, 3, 4])`` does in the course."""
    if not values or len(values) > 100:
        raise PlaygroundError("Give between 1 and 100 numbers for the array.")
    if not 0 <= index < len(values):
        raise PlaygroundError(f"The index must be from 0 to {len(values) - 1}.")
    if not math.isfinite(new_value):
        raise PlaygroundError("The new value must be a finite number.")
    integral = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    array = np.array(values, dtype=np.int64 if integral else np.float64)
    before = array.tolist()
    shared = torch.from_numpy(array)
    copied = torch.tensor(array)
    array[index] = int(new_value) if integral else new_value
    return SharingDemo(
        array_before=before,
        array_after=array.tolist(),
        from_numpy_after=shared.tolist(),
        tensor_after=copied.tolist(),
        from_numpy_shares=shared.data_ptr() == array.ctypes.data,
        tensor_shares=copied.data_ptr() == array.ctypes.data,
        code=(
            "import numpy as np\nimport torch\n\n"
            f"a = np.array({before})\n"
            "shared = torch.from_numpy(a)  # shares a's memory\n"
            "copied = torch.tensor(a)      # copies the numbers\n"
            f"a[{index}] = {array[index].item()!r}\n"
            "print(shared)  # sees the change\n"
            "print(copied)  # does not"
        ),
    )
