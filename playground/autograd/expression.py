"""Expressions over declared tensors, parsed with a whitelisted grammar and evaluated on torch tensors.

The user's text goes through ``ast.parse(mode="eval")`` and is then walked with an allow-list: the declared
names, numbers, ``+ - * / ** @``, unary minus, and the functions in ``FUNCTIONS`` (as ``sin(x)`` or as a
method ``x.sin()``). Anything else is refused with a sentence saying what is allowed. Nothing is ever run
as Python: the tree is converted into our own ``Node`` tree, and ``evaluate`` calls torch for each node.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from playground.errors import PlaygroundError, library_message
from playground.limits import (
    MAX_EXPRESSION_CHARS,
    MAX_EXPRESSION_DEPTH,
    MAX_EXPRESSION_ELEMENTS,
    MAX_EXPRESSION_EXPONENT,
    MAX_EXPRESSION_NODES,
    MAX_EXPRESSION_TOTAL_ELEMENTS,
)


@dataclass(frozen=True)
class Function:
    """One allowed function: its torch call, and whether it takes a ``dim``."""

    name: str
    call: Callable[..., torch.Tensor]
    operands: int  # tensor operands, the first one is ``self`` in the method form
    dim: str  # "none", "optional" or "required"


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("sin", torch.sin, 1, "none"),
        Function("cos", torch.cos, 1, "none"),
        Function("exp", torch.exp, 1, "none"),
        Function("log", torch.log, 1, "none"),
        Function("sqrt", torch.sqrt, 1, "none"),
        Function("abs", torch.abs, 1, "none"),
        Function("tanh", torch.tanh, 1, "none"),
        Function("sigmoid", torch.sigmoid, 1, "none"),
        Function("relu", torch.relu, 1, "none"),
        Function("t", torch.t, 1, "none"),
        Function("sum", torch.sum, 1, "optional"),
        Function("mean", torch.mean, 1, "optional"),
        Function("softmax", torch.softmax, 1, "required"),
        Function("log_softmax", torch.log_softmax, 1, "required"),
        Function("pow", torch.pow, 2, "none"),
        Function("matmul", torch.matmul, 2, "none"),
    )
}

BINARY_OPS: dict[type, str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.MatMult: "@"}
# Python's operators, so that ``x ** 2`` and ``2 * x`` reach PyTorch exactly as they do in the code view
# (a number stays a number: ``x.pow(2)`` records PowBackward0, as in the course).
BINARY_CALLS: dict[str, Callable[[Any, Any], torch.Tensor]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "**": operator.pow,
    "@": operator.matmul,
}
_AST_OF_SYMBOL = {symbol: kind for kind, symbol in BINARY_OPS.items()}

ALLOWED_SENTENCE = (
    "Allowed: the declared names, numbers, `+ - * / ** @`, unary minus, and the functions `"
    + " ".join(FUNCTIONS)
    + "` (as `sin(x)` or `x.sin()`)."
)


def code(text: str) -> str:
    """User text inside a sentence, as inline code, so that Markdown leaves ``*`` and ``__`` alone."""
    return "`" + str(text).replace("`", "'") + "`"

# What a person calls the Python constructs we refuse.
_REFUSED_KINDS = {
    "Lambda": "a lambda",
    "ListComp": "a list comprehension",
    "SetComp": "a set comprehension",
    "DictComp": "a dict comprehension",
    "GeneratorExp": "a generator expression",
    "JoinedStr": "an f-string",
    "Subscript": "indexing with [ ]",
    "Compare": "a comparison",
    "BoolOp": "and / or",
    "IfExp": "an if-else expression",
    "List": "a list",
    "Tuple": "a tuple",
    "Dict": "a dict",
    "Set": "a set",
    "NamedExpr": "the := operator",
    "Starred": "*args",
    "Await": "await",
    "Yield": "yield",
    "YieldFrom": "yield",
    "Slice": "a slice",
}


@dataclass(frozen=True)
class Node:
    """One node of a parsed expression: a variable, a number, an operator or an allowed function."""

    op: str  # "var", "const", "neg", one of BINARY_OPS' symbols, or a name in FUNCTIONS
    args: tuple[Node, ...] = ()
    name: str = ""  # the variable's name when op == "var"
    value: float | int = 0  # the number when op == "const"
    dim: int | None = None  # the ``dim`` of sum/mean/softmax/log_softmax
    method: bool = False  # written as ``x.fn()`` rather than ``fn(x)``

    def source(self) -> str:
        """The node as PyTorch code: ``torch.sin(x)``, ``x.pow(2).sum()``, ``w @ x + b``."""
        return ast.unparse(_to_ast(self))

    def constant_only(self) -> bool:
        return self.op != "var" and all(arg.constant_only() for arg in self.args)

    def names(self) -> set[str]:
        found = {self.name} if self.op == "var" else set()
        for arg in self.args:
            found |= arg.names()
        return found


def _to_ast(node: Node) -> ast.expr:
    if node.op == "var":
        return ast.Name(node.name)
    if node.op == "const":
        if node.value < 0:
            return ast.UnaryOp(ast.USub(), ast.Constant(-node.value))
        return ast.Constant(node.value)
    if node.op == "neg":
        return ast.UnaryOp(ast.USub(), _to_ast(node.args[0]))
    if node.op in BINARY_CALLS:
        left, right = (_operand_ast(node, index, arg) for index, arg in enumerate(node.args))
        return ast.BinOp(left, _AST_OF_SYMBOL[node.op](), right)
    keywords = [] if node.dim is None else [ast.keyword("dim", ast.Constant(node.dim))]
    args = [_operand_ast(node, index, arg) for index, arg in enumerate(node.args)]
    if node.method:
        return ast.Call(ast.Attribute(args[0], node.op), args[1:], keywords)
    return ast.Call(ast.Attribute(ast.Name("torch"), node.op), args, keywords)


def _stays_a_number(node: Node, index: int) -> bool:
    """Whether ``apply`` hands operand ``index`` of ``node`` to torch as a plain number (a number beside a tensor
    in an operator, or pow's exponent) rather than as ``torch.tensor(number)``; numbers alone are tensors there,
    so that ``1 / 0`` is inf and ``sin(2)`` a tensor, as they are on the page."""
    if node.args[index].op != "const":
        return True
    if node.op in BINARY_CALLS:
        return any(arg.op != "const" for arg in node.args)
    return node.op == "pow" and index == 1 and node.args[0].op != "const"


def _operand_ast(node: Node, index: int, arg: Node) -> ast.expr:
    if _stays_a_number(node, index):
        return _to_ast(arg)
    return ast.Call(ast.Attribute(ast.Name("torch"), "tensor"), [ast.Constant(float(arg.value))], [])


def _refuse(sentence: str, detail: str | None = None) -> PlaygroundError:
    return PlaygroundError(sentence, detail)


def parse_expression(text: str, names: set[str] | frozenset[str] | list[str]) -> Node:
    """Parse ``text`` into a ``Node`` tree over the declared ``names``, or raise a PlaygroundError."""
    names = set(names)
    if not isinstance(text, str) or not text.strip():
        raise _refuse("Write an expression, for example `x.pow(2).sum()`.")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise _refuse(
            f"The expression is {len(text)} characters long; keep it under {MAX_EXPRESSION_CHARS}."
        )
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise _refuse(
            "The expression does not parse; check the brackets and operators (it must be one line of "
            "arithmetic such as `(w * x + b - y).pow(2).mean()`).",
            library_message(exc),
        ) from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise _refuse("The expression is nested too deeply to read; write it more simply.", library_message(exc)) from exc
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_EXPRESSION_NODES:
        raise _refuse(f"The expression has {count} parts; keep it under {MAX_EXPRESSION_NODES}.")
    try:
        return _Converter(names).convert(tree.body, 0)
    except RecursionError as exc:  # pragma: no cover - depth is capped well below the recursion limit
        raise _refuse("The expression is nested too deeply; write it more simply.", library_message(exc)) from exc


class _Converter:
    """Walks Python's ast with an allow-list and builds our Node tree."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def convert(self, item: ast.AST, depth: int) -> Node:
        if depth > MAX_EXPRESSION_DEPTH:
            raise _refuse(f"The expression is nested more than {MAX_EXPRESSION_DEPTH} levels deep; write it more simply.")
        if isinstance(item, ast.Constant):
            return self.number(item)
        if isinstance(item, ast.Name):
            return self.name(item.id)
        if isinstance(item, ast.UnaryOp):
            if isinstance(item.op, ast.UAdd):
                return self.convert(item.operand, depth + 1)
            if isinstance(item.op, ast.USub):
                operand = self.convert(item.operand, depth + 1)
                if operand.op == "const":
                    return Node("const", value=-operand.value)
                return Node("neg", (operand,))
            raise _refuse(f"The operator {code(type(item.op).__name__)} is not allowed. {ALLOWED_SENTENCE}")
        if isinstance(item, ast.BinOp):
            symbol = BINARY_OPS.get(type(item.op))
            if symbol is None:
                raise _refuse(f"The operator {code(_operator_text(item.op))} is not allowed. {ALLOWED_SENTENCE}")
            left = self.convert(item.left, depth + 1)
            right = self.convert(item.right, depth + 1)
            if symbol == "**":
                _check_exponent(right)
            return Node(symbol, (left, right))
        if isinstance(item, ast.Call):
            return self.call(item, depth)
        if isinstance(item, ast.Attribute):
            raise _refuse(
                f"Attribute access ({code('.' + item.attr)}) is not allowed; only calls of the listed methods, such as "
                f"`x.sum()` or `x.pow(2)`. {ALLOWED_SENTENCE}"
            )
        kind = _REFUSED_KINDS.get(type(item).__name__, type(item).__name__)
        raise _refuse(f"{kind[0].upper() + kind[1:]} is not allowed in an expression. {ALLOWED_SENTENCE}")

    def number(self, item: ast.Constant) -> Node:
        value = item.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            shown = repr(value)[:40]
            raise _refuse(f"{code(shown)} is not a number; only numbers and declared names may appear. {ALLOWED_SENTENCE}")
        try:
            as_float = float(value)
        except OverflowError as exc:
            raise _refuse("A number in the expression is too large; use numbers below 1e300.", library_message(exc)) from exc
        if not math.isfinite(as_float) or abs(as_float) > 1e300:
            raise _refuse("A number in the expression is too large; use numbers below 1e300.")
        return Node("const", value=value)

    def name(self, identifier: str) -> Node:
        if identifier in self.names:
            return Node("var", name=identifier)
        if identifier in FUNCTIONS:
            raise _refuse(f"{code(identifier)} is a function: call it, as {code(identifier + '(x)')} or {code('x.' + identifier + '()')}.")
        declared = ", ".join(sorted(self.names)) or "none yet"
        if len(identifier) > 40:
            identifier = identifier[:40] + "…"
        raise _refuse(
            f"The name {code(identifier)} is not declared (declared: {declared}). Declare a variable called "
            f"{code(identifier)}, or fix the spelling."
        )

    def call(self, item: ast.Call, depth: int) -> Node:
        if isinstance(item.func, ast.Name):
            fname, operands, method = item.func.id, [], False
        elif isinstance(item.func, ast.Attribute):
            fname, operands, method = item.func.attr, [item.func.value], True
        else:
            raise _refuse(f"Only the listed functions can be called. {ALLOWED_SENTENCE}")
        function = FUNCTIONS.get(fname)
        if function is None:
            raise _refuse(f"The function {code(fname + '()')} is not allowed. {ALLOWED_SENTENCE}")
        operands += list(item.args)
        if any(isinstance(arg, ast.Starred) for arg in operands):
            raise _refuse(f"`*args` are not allowed in a call. {ALLOWED_SENTENCE}")
        dim: int | None = None
        given = [keyword.arg for keyword in item.keywords]
        repeated = next((name for name in given if name is not None and given.count(name) > 1), None)
        if repeated is not None:
            raise _refuse(f"{code(repeated + '=')} is given more than once in {code(fname + '()')}; Python refuses a "
                          "repeated keyword, so give it once.")
        for keyword in item.keywords:
            if keyword.arg != "dim" or function.dim == "none":
                shown = "**kwargs" if keyword.arg is None else f"{keyword.arg}="
                raise _refuse(f"{code(fname + '()')} does not take {code(shown)} here; only sum, mean, softmax and "
                              "log_softmax take `dim=`.")
            dim = _integer(keyword.value, fname)
        if function.dim != "none" and len(operands) == function.operands + 1 and dim is None:
            dim = _integer(operands.pop(), fname)
        if len(operands) != function.operands:
            want = "one tensor" if function.operands == 1 else "two tensors"
            raise _refuse(f"{code(fname + '()')} takes {want}" + (" and a dim" if function.dim != "none" else "") + f"; it got {len(operands)}.")
        if function.dim == "required" and dim is None:
            raise _refuse(f"{code(fname + '()')} needs a dim, for example {code(fname + '(z, dim=0)')}.")
        args = tuple(self.convert(arg, depth + 1) for arg in operands)
        if fname == "pow":
            _check_exponent(args[1])
        return Node(fname, args, dim=dim, method=method)


def _integer(item: ast.AST, fname: str) -> int:
    if isinstance(item, ast.UnaryOp) and isinstance(item.op, ast.USub) and isinstance(item.operand, ast.Constant):
        value = item.operand.value
        sign = -1
    elif isinstance(item, ast.Constant):
        value, sign = item.value, 1
    else:
        raise _refuse(f"The dim of {code(fname + '()')} must be a whole number, such as 0 or -1.")
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 16:
        raise _refuse(f"The dim of {code(fname + '()')} must be a whole number, such as 0 or -1.")
    return sign * value


def _operator_text(op: ast.operator) -> str:
    return {"FloorDiv": "//", "Mod": "%", "LShift": "<<", "RShift": ">>", "BitOr": "|", "BitXor": "^", "BitAnd": "&"}.get(
        type(op).__name__, type(op).__name__
    )


def _check_exponent(exponent: Node) -> None:
    """Refuse an exponent made of numbers only whose size is beyond the limit (``9**9**9``)."""
    if not exponent.constant_only():
        return
    with torch.no_grad():
        value = float(evaluate(exponent, {}, dtype=torch.float64))
    if not math.isfinite(value) or abs(value) > MAX_EXPRESSION_EXPONENT:
        raise _refuse(
            f"Exponents made of numbers must lie between -{MAX_EXPRESSION_EXPONENT:g} and "
            f"{MAX_EXPRESSION_EXPONENT:g}; this one is {value:g}."
        )


def _shape_text(shape: torch.Size | tuple[int, ...]) -> str:
    return "×".join(str(size) for size in shape) if len(shape) else "scalar"


def _shape(value: torch.Tensor | float | int) -> tuple[int, ...]:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else ()


def _result_shape(node: Node, args: list[Any]) -> tuple[int, ...] | None:
    """The shape ``node`` would give on ``args``, worked out on the meta device (no numbers are made), or None
    where PyTorch refuses the shapes (the real call then raises the same error, before making anything)."""
    metas = [torch.empty(arg.shape, dtype=arg.dtype, device="meta") if isinstance(arg, torch.Tensor)
             else torch.tensor(float(arg), device="meta") for arg in args]
    try:
        if node.op == "neg":
            return tuple(torch.neg(metas[0]).shape)
        if node.op in BINARY_CALLS:
            return tuple(BINARY_CALLS[node.op](metas[0], metas[1]).shape)
        function = FUNCTIONS[node.op]
        result = function.call(*metas, dim=node.dim) if node.dim is not None else function.call(*metas)
        return tuple(result.shape)
    except (RuntimeError, IndexError, TypeError, ValueError):
        return None


def _check_size(node: Node, args: list[Any]) -> None:
    """Refuse, before computing it, an operation whose result would be too large: broadcasting, matmul and (with a
    0 in a shape) a reduction can each make more numbers than their operands hold."""
    if all(not isinstance(arg, torch.Tensor) or arg.dim() == 0 for arg in args):
        return  # numbers and 0-d tensors (a point of a 2-D function): nothing to multiply out
    shapes = [_shape(arg) for arg in args]
    if all(size >= 1 for shape in shapes for size in shape) and math.prod(map(math.prod, shapes)) <= MAX_EXPRESSION_ELEMENTS:
        return  # with no 0 in a shape, no result is larger than the product of its operands' sizes
    shape = _result_shape(node, args)
    if shape is None:
        return
    count = math.prod(shape)
    if count > MAX_EXPRESSION_ELEMENTS:
        raise _refuse(
            f"{code(node.source())} would make a tensor of shape {_shape_text(shape)} ({count:,} numbers); "
            f"keep intermediate results under {MAX_EXPRESSION_ELEMENTS:,} numbers."
        )


def _explain(node: Node, args: list[Any], exc: BaseException) -> PlaygroundError:
    message = str(exc)
    shapes = " and ".join(_shape_text(_shape(arg)) for arg in args)
    where = code(node.source())
    if node.op in ("@", "matmul"):
        sentence = (
            f"The shapes {shapes} cannot be matrix-multiplied in {where}: the last size of the left one must "
            "equal the first (or second-to-last) size of the right one."
        )
    elif "size of tensor" in message or "broadcast" in message:
        sentence = (
            f"The shapes {shapes} do not broadcast in {where}. Make them equal, or use a size of 1 "
            "(or a missing dimension) where they differ."
        )
    elif "Dimension out of range" in message:
        sentence = f"dim={node.dim} does not exist for a tensor of shape {shapes} in {where}; use a dim within its dimensions."
    elif "must be 2-D" in message or "expects a tensor with <= 2 dimensions" in message:
        sentence = f"{code(node.op + '()')} needs a matrix (2-D tensor) in {where}, but got shape {shapes}."
    else:
        sentence = f"PyTorch could not compute {where} with shapes {shapes}; see its message below."
    return PlaygroundError(sentence, library_message(exc))


def apply(node: Node, args: list[Any], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One operation on evaluated operands (tensors, or plain numbers for the expression's numbers),
    with a plain sentence when PyTorch refuses it."""
    try:
        _check_size(node, args)
        if node.op in BINARY_CALLS and any(isinstance(arg, torch.Tensor) for arg in args):
            return BINARY_CALLS[node.op](args[0], args[1])
        if node.op == "pow" and isinstance(args[0], torch.Tensor):
            return torch.pow(args[0], args[1])
        args = [arg if isinstance(arg, torch.Tensor) else torch.tensor(float(arg), dtype=dtype) for arg in args]
        if node.op == "neg":
            return torch.neg(args[0])
        if node.op in BINARY_CALLS:
            return BINARY_CALLS[node.op](args[0], args[1])
        function = FUNCTIONS[node.op]
        if node.dim is not None:
            return function.call(*args, dim=node.dim)
        return function.call(*args)
    except PlaygroundError:
        raise
    except (RuntimeError, IndexError, TypeError, ValueError) as exc:
        raise _explain(node, args, exc) from exc


def evaluate(
    node: Node,
    values: Mapping[str, torch.Tensor],
    dtype: torch.dtype = torch.float32,
    on_node: Callable[[Node, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """Evaluate the tree with torch on ``values``; ``on_node`` sees every node's result, children first."""
    result = _evaluate(node, values, dtype, on_node, [0])
    if not isinstance(result, torch.Tensor):  # an expression of numbers only
        result = torch.tensor(float(result), dtype=dtype)
    return result


def _evaluate(node: Node, values: Mapping[str, torch.Tensor], dtype: torch.dtype,
              on_node: Callable[[Node, torch.Tensor], None] | None, computed: list[int]) -> torch.Tensor | float | int:
    """Numbers stay Python numbers (as in the code view); everything else is a tensor.

    ``computed`` counts the numbers made so far, so that many large steps together stay within a limit."""
    if node.op == "var":
        result = values[node.name]
    elif node.op == "const":
        result = node.value
    else:
        args = [_evaluate(arg, values, dtype, on_node, computed) for arg in node.args]
        try:
            result = apply(node, args, dtype)
        except MemoryError as exc:
            raise _refuse(f"{code(node.source())} needs more memory than the playground allows; use smaller tensors.") from exc
        if isinstance(result, torch.Tensor):
            computed[0] += result.numel()
            if computed[0] > MAX_EXPRESSION_TOTAL_ELEMENTS:
                raise _refuse(f"The expression computes more than {MAX_EXPRESSION_TOTAL_ELEMENTS:,} numbers in all; "
                              "use smaller tensors, a smaller grid or fewer operations.")
    if on_node is not None:
        on_node(node, result if isinstance(result, torch.Tensor) else torch.tensor(float(result), dtype=dtype))
    return result


def compile_pointwise(tree: Node, dtype: torch.dtype = torch.float32) -> Callable[[Mapping[str, torch.Tensor]], torch.Tensor]:
    """``evaluate`` without its per-node checks, for a tree whose first evaluation passed them and whose inputs
    keep their shapes (an optimizer's point, step after step): the same torch calls, in the same order, as
    ``apply`` makes, so the numbers are identical; only the bookkeeping is gone."""

    def build(node: Node) -> tuple[bool, Callable[[Mapping[str, torch.Tensor]], Any]]:
        if node.op == "var":
            return True, lambda values, name=node.name: values[name]
        if node.op == "const":
            return False, lambda values, number=node.value: number
        kids = [build(arg) for arg in node.args]
        calls = [call for _, call in kids]
        if node.op in BINARY_CALLS and any(is_tensor for is_tensor, _ in kids):
            binary, (left, right) = BINARY_CALLS[node.op], calls
            return True, lambda values: binary(left(values), right(values))
        if node.op == "pow" and kids[0][0]:
            base, exponent = calls
            return True, lambda values: torch.pow(base(values), exponent(values))
        tensors = [call if is_tensor else (lambda values, call=call: torch.tensor(float(call(values)), dtype=dtype))
                   for is_tensor, call in kids]
        if node.op == "neg":
            (only,) = tensors
            return True, lambda values: torch.neg(only(values))
        if node.op in BINARY_CALLS:
            binary, (left, right) = BINARY_CALLS[node.op], tensors
            return True, lambda values: binary(left(values), right(values))
        function, dim = FUNCTIONS[node.op].call, node.dim
        if dim is not None:
            return True, lambda values: function(*[call(values) for call in tensors], dim=dim)
        return True, lambda values: function(*[call(values) for call in tensors])

    is_tensor, run = build(tree)
    if is_tensor:
        return run
    return lambda values: torch.tensor(float(run(values)), dtype=dtype)


def evaluate_text(text: str, values: Mapping[str, torch.Tensor], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Parse and evaluate in one call (the names are the keys of ``values``)."""
    return evaluate(parse_expression(text, set(values)), values, dtype)
