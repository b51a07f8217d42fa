"""The one parser of typed tensors: a literal such as ``[[1, 2], [3, 4]]`` and a shape such as ``2, 3``, read
(never evaluated) into Python numbers. Tensor Lab and Autograd both use it.

The literal grammar is tiny: brackets, commas, numbers (``1``, ``-2.5``, ``3e-4``), ``True``/``False`` and
``nan``/``inf``. It is read by a loop over tokens, not by recursion, so deep nesting cannot exhaust the
stack, and every limit (characters, dimensions, elements, digits) is checked before anything is built.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from playground import limits
from playground.errors import PlaygroundError

_TOKEN = re.compile(
    r"\s*(?:(?P<open>\[)|(?P<close>\])|(?P<comma>,)"
    r"|(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"|(?P<word>[-+]?[A-Za-z_]+))"
)
_MAX_INT_DIGITS = 19  # 2**63 - 1 has 19 digits; longer ones are refused before int() (Python stops at 4,300)
_WORDS = {
    "true": True,
    "false": False,
    "nan": math.nan,
    "+nan": math.nan,
    "-nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "-inf": -math.inf,
}


def quoted(text: object, limit: int = 40) -> str:
    """User text inside a sentence, as inline code (backticks replaced, cut to ``limit``), so that Markdown
    shows it as typed: ``*``, ``_``, ``[x](url)`` and HTML stay text."""
    shown = str(text)
    shown = shown if len(shown) <= limit else shown[:limit] + "…"
    return "`" + "".join(ch if ch.isprintable() and ch != "`" else "'" for ch in shown) + "`"


@dataclass(frozen=True)
class ParsedLiteral:
    """Nested lists of numbers with their shape, and what kind of numbers they are."""

    values: object  # a number, or nested lists of numbers
    shape: tuple[int, ...]
    kind: str  # "bool", "int" or "float": what torch.tensor would infer

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def parse_literal(text: str) -> ParsedLiteral:
    """Parse ``text`` into nested lists, or raise PlaygroundError saying what is wrong and how to fix it."""
    if not isinstance(text, str):
        raise PlaygroundError("A tensor literal must be text, such as [[1, 2], [3, 4]].")
    if len(text) > limits.MAX_LITERAL_CHARS:
        raise PlaygroundError(
            f"That literal is {len(text):,} characters long; the limit is {limits.MAX_LITERAL_CHARS:,}. "
            "Use a constructor such as arange or randn with a shape for large tensors."
        )
    if not text.isascii():
        bad = next(ch for ch in text if not ch.isascii())
        raise PlaygroundError(
            f"The literal contains {quoted(bad)}, which is not a plain ASCII digit, bracket or comma. "
            "Type numbers with the digits 0-9, e.g. [1, 2, 3]."
        )
    stripped = text.strip()
    if not stripped:
        raise PlaygroundError("The literal is empty. Type a number or a list such as [1, 2, 3].")

    stack: list[list] = []
    root: object = None
    have_root = False
    expect_value = True  # after '[' or ',' a value (or, after '[', a ']') is expected
    count = 0
    pos = 0
    while pos < len(stripped):
        match = _TOKEN.match(stripped, pos)
        if not match or match.end() == pos:
            snippet = stripped[pos : pos + 12]
            raise PlaygroundError(
                f"Could not read the literal at character {pos + 1} ({quoted(snippet)}). "
                "Use numbers, square brackets and commas, e.g. [[1, 2], [3, 4]]."
            )
        pos = match.end()
        kind = match.lastgroup
        token = match.group(kind)
        if have_root and not stack:
            raise PlaygroundError(
                f"There is text after the end of the literal at character {pos}. "
                "Wrap several values in one pair of brackets, e.g. [1, 2]."
            )
        if kind == "open":
            if not expect_value:
                raise PlaygroundError(f"A comma is missing before the '[' at character {pos}.")
            if len(stack) >= limits.MAX_TENSOR_DIMS:
                raise PlaygroundError(
                    f"The literal is nested deeper than {limits.MAX_TENSOR_DIMS} levels; "
                    f"tensors here may have at most {limits.MAX_TENSOR_DIMS} dimensions."
                )
            new: list = []
            if stack:
                stack[-1].append(new)
            else:
                root, have_root = new, True
            stack.append(new)
            expect_value = True
        elif kind == "close":
            if not stack:
                raise PlaygroundError(f"There is a ']' at character {pos} with no '[' to close.")
            if expect_value and stack[-1]:
                raise PlaygroundError(f"A value is missing before the ']' at character {pos} (a trailing comma?).")
            stack.pop()
            expect_value = False
        elif kind == "comma":
            if expect_value or not stack:
                raise PlaygroundError(f"There is an unexpected comma at character {pos}.")
            expect_value = True
        else:
            if not expect_value:
                raise PlaygroundError(f"A comma is missing before {quoted(token)} at character {pos - len(token) + 1}.")
            value = _number(token, kind)
            count += 1
            if count > limits.MAX_TENSOR_ELEMENTS:
                raise PlaygroundError(
                    f"The literal has more than {limits.MAX_TENSOR_ELEMENTS:,} numbers, the limit here. "
                    "Use a smaller tensor."
                )
            if stack:
                stack[-1].append(value)
            else:
                root, have_root = value, True
            expect_value = False
    if stack:
        raise PlaygroundError(f"The literal is missing {len(stack)} closing bracket(s) ']'.")
    shape = _shape(root)
    check_shape(shape)  # [[], [], ...] holds no number but has a size per empty list
    return ParsedLiteral(values=root, shape=shape, kind=_kind(root))


def _number(token: str, kind: str) -> bool | int | float:
    if kind == "word":
        lowered = token.lower()
        if lowered in _WORDS:
            return _WORDS[lowered]
        raise PlaygroundError(
            f"{quoted(token)} is not a number. Use numbers such as 1, -2.5 or 3e-4 (and True, False, nan, inf)."
        )
    if re.fullmatch(r"[-+]?\d+", token):
        digits = token.lstrip("+-").lstrip("0") or "0"
        if len(digits) > _MAX_INT_DIGITS or int(digits) > 2**63 - 1:
            raise PlaygroundError(f"{quoted(token)} does not fit in a 64-bit integer; use a smaller number or a "
                                  "float like 1e20.")
        return -int(digits) if token.startswith("-") else int(digits)
    value = float(token)
    if math.isinf(value):
        raise PlaygroundError(f"{quoted(token)} is too large for a float; write inf if you mean infinity.")
    return value


def _shape(root: object) -> tuple[int, ...]:
    """The shape of a rectangular nested list, or a sentence naming the first ragged place."""
    if not isinstance(root, list):
        return ()
    shape: list[int] = []
    level: list = [root]
    depth = 0
    while True:
        lengths = {len(item) if isinstance(item, list) else -1 for item in level}
        if len(lengths) != 1:
            if -1 in lengths and len(lengths) > 1:
                raise PlaygroundError(
                    f"The literal mixes numbers and lists at depth {depth + 1}; every row must be a list of the same size."
                )
            raise PlaygroundError(
                f"The literal is ragged: rows at depth {depth + 1} have different lengths {sorted(lengths)}. "
                "A tensor needs every row of a level to have the same length."
            )
        (length,) = lengths
        if length == -1:
            break
        shape.append(length)
        children = [child for item in level for child in item]
        if not children:
            break
        level = children
        depth += 1
    return tuple(shape)


def _kind(root: object) -> str:
    """What dtype family torch.tensor infers: bool only if all are bool, float if any is float."""
    stack = [root]
    kinds = set()
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, bool):
            kinds.add("bool")
        elif isinstance(item, int):
            kinds.add("int")
        else:
            kinds.add("float")
    if "float" in kinds:
        return "float"
    if "int" in kinds:
        return "int"
    return "bool" if kinds else "float"


def check_shape(shape: tuple[int, ...]) -> None:
    """Refuse shapes over the limits before any memory is asked for."""
    if len(shape) > limits.MAX_TENSOR_DIMS:
        raise PlaygroundError(
            f"A shape of {len(shape)} dimensions is over the limit of {limits.MAX_TENSOR_DIMS}. Use fewer dimensions."
        )
    if any(s < 0 for s in shape):
        raise PlaygroundError("Sizes in a shape cannot be negative.")
    numel = math.prod(shape)
    if numel > limits.MAX_TENSOR_ELEMENTS:
        raise PlaygroundError(
            f"The shape {list(shape)} holds {numel:,} elements; the limit here is {limits.MAX_TENSOR_ELEMENTS:,}. "
            "Use smaller sizes."
        )
    too_large = [s for s in shape if s > limits.MAX_TENSOR_SIZE]
    if too_large:
        raise PlaygroundError(
            f"A size of {too_large[0]:,} is over the limit of {limits.MAX_TENSOR_SIZE:,} for each size of a shape "
            "(with a 0 elsewhere the tensor would be empty, but what is made from it need not be). Use smaller sizes."
        )


def parse_shape(text: str, allow_infer: bool = False, what: str = "shape") -> tuple[int, ...]:
    """``"2, 3"``, ``"(2, 3)"`` or ``"[2,3]"`` -> (2, 3); an empty text is a scalar's shape, ().

    With ``allow_infer`` one size may be -1, for PyTorch to work out (reshape, view). The dimension and
    element limits are checked before any memory is asked for."""
    if not isinstance(text, str) or len(text) > limits.MAX_SHAPE_CHARS:
        raise PlaygroundError(f"Write a {what} as at most {limits.MAX_SHAPE_CHARS} characters of sizes separated "
                              "by commas, e.g. 2, 3.")
    inner = text.strip().strip("()[]").strip()
    parts = [part.strip() for part in inner.split(",") if part.strip()] if inner else []
    size = r"-?\d{1,18}" if allow_infer else r"\d{1,18}"  # longer sizes are refused as text, before int()
    if not all(re.fullmatch(size, part) for part in parts):
        example = "2, -1" if allow_infer else "2, 3"
        raise PlaygroundError(f"The {what} {quoted(text)} must be whole numbers separated by commas, e.g. {example}.")
    shape = tuple(int(part) for part in parts)
    if shape.count(-1) > 1:
        raise PlaygroundError("Only one size may be -1 (the one PyTorch works out for you).")
    if any(s < -1 for s in shape):
        raise PlaygroundError("Sizes must be 0 or more, or -1 for 'work it out'.")
    check_shape(tuple(s for s in shape if s != -1))
    return shape


def parse_numbers(text: str) -> list[bool | int | float]:
    """``"1, 2, 3"`` (brackets optional) -> [1, 2, 3], through the literal parser, for a 1-D array of numbers."""
    if not isinstance(text, str) or len(text) > limits.MAX_NUMBER_LIST_CHARS:
        raise PlaygroundError(f"Type at most {limits.MAX_NUMBER_LIST_CHARS:,} characters of numbers separated by "
                              "commas, e.g. 1, 2, 3.")
    stripped = text.strip()
    try:
        parsed = parse_literal(stripped if stripped.startswith("[") else f"[{stripped}]")
    except PlaygroundError as exc:
        raise PlaygroundError("The array values must be numbers separated by commas, e.g. 1, 2, 3.",
                              exc.sentence) from None
    if len(parsed.shape) != 1:
        raise PlaygroundError("The array values must be numbers separated by commas, e.g. 1, 2, 3 (one row).")
    return list(parsed.values)  # type: ignore[arg-type]
