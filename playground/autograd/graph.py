"""The forward graph of an expression, micrograd style, and PyTorch's own backward (grad_fn) graph.

``trace`` evaluates the expression on real tensors, keeps every intermediate result (``retain_grad``),
calls ``backward()`` when the result is a scalar, and returns plain data: nodes with their shape, value
and gradient, and the two graphs as DOT text for ``st.graphviz_chart``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from playground.autograd.expression import Node, code, evaluate
from playground.autograd.variables import ExpressionSpec, format_nested, make_tensors
from playground.errors import PlaygroundError, library_message
from playground.limits import MAX_GRAPH_NODE_ELEMENTS

FULL_VALUE_ELEMENTS = 12  # a tensor up to this many numbers is shown in full in a graph node


@dataclass(frozen=True)
class GraphNode:
    """A value in the forward graph: a leaf (declared variable), a number, or the result of an operation."""

    id: str
    kind: str  # "leaf", "const" or "op"
    label: str  # "x", "2", or the operation: "pow 2", "sum", "*"
    source: str  # the PyTorch code that computes it
    inputs: tuple[str, ...]
    shape: tuple[int, ...]
    value: np.ndarray | None  # None above MAX_GRAPH_NODE_ELEMENTS: only the summary is kept (the cache stays small)
    requires_grad: bool
    grad: np.ndarray | None = None
    value_summary: str = ""  # what the graph shows: the numbers in full when few, else mean/min/max
    grad_summary: str | None = None


@dataclass(frozen=True)
class AutogradResult:
    """What the graph view shows: nodes, values, gradients, both graphs, and what went wrong if anything."""

    nodes: tuple[GraphNode, ...]
    output_id: str
    result_repr: str
    leaf_grads: dict[str, np.ndarray | None]
    grad_reprs: dict[str, str]
    forward_dot: str
    backward_dot: str
    scalar: bool
    backward_problem: tuple[str, str] | None = None  # (sentence, PyTorch's message) when backward() cannot run
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def output(self) -> GraphNode:
        return next(node for node in self.nodes if node.id == self.output_id)


def shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(size) for size in shape) if shape else "scalar"


def value_text(value: np.ndarray) -> str:
    """Small tensors in full (``[[2., 0.], [-2., 2.]]``), large ones as a summary."""
    if value.size <= FULL_VALUE_ELEMENTS:
        return format_nested(value.tolist()) if value.ndim else format_nested(float(value))
    finite = value[np.isfinite(value)]
    if finite.size == 0:
        return "all non-finite"
    return (f"mean {format_nested(float(finite.mean()))}, min {format_nested(float(finite.min()))}, "
            f"max {format_nested(float(finite.max()))}")


def _label(node: Node) -> str:
    if node.op in ("**", "pow") and node.args[1].op == "const":
        return f"{node.op} {node.args[1].source()}"
    if node.op in ("sum", "mean", "softmax", "log_softmax") and node.dim is not None:
        return f"{node.op} dim={node.dim}"
    return {"neg": "neg"}.get(node.op, node.op)


def _hidden_operand(parent: Node, index: int) -> bool:
    """A constant exponent is written in the op's label instead of as its own node."""
    return parent.op in ("**", "pow") and index == 1 and parent.args[1].op == "const"


def _dot_escape(text: str) -> str:
    for char in '\\{}|<>"':
        text = text.replace(char, "\\" + char)
    return text


def _tensor_repr(tensor: torch.Tensor) -> str:
    return repr(tensor)


def trace(spec: ExpressionSpec, backward: bool = True) -> AutogradResult:
    """Evaluate ``spec`` on real tensors, call ``backward()`` when it gives a scalar, and describe it all."""
    spec.validate()
    tree = spec.parse()
    tensors = make_tensors(spec)
    recorded: list[tuple[Node, torch.Tensor]] = []
    try:
        output = evaluate(tree, tensors, on_node=lambda node, tensor: recorded.append((node, tensor)))
    except MemoryError as exc:
        raise PlaygroundError("The expression needs more memory than the playground allows; use smaller tensors.",
                              library_message(exc)) from exc

    # One graph node per variable (a variable used twice fans out), one per number and per operation.
    ids: dict[int, str] = {}
    leaf_ids: dict[str, str] = {}
    entries: list[tuple[str, Node, torch.Tensor]] = []

    def node_id(node: Node, tensor: torch.Tensor) -> str:
        if node.op == "var":
            if node.name not in leaf_ids:
                leaf_ids[node.name] = f"leaf_{node.name}"
                entries.append((leaf_ids[node.name], node, tensor))
            return leaf_ids[node.name]
        ident = f"n{len(ids)}"
        ids[id(node)] = ident
        entries.append((ident, node, tensor))
        return ident

    for node, tensor in recorded:
        if tensor.requires_grad and not tensor.is_leaf:
            tensor.retain_grad()
        node_id(node, tensor)

    scalar = output.numel() == 1 and output.dim() == 0
    backward_error: PlaygroundError | None = None
    warnings: list[str] = []
    if backward:
        if not scalar:
            backward_error = PlaygroundError(
                f"The expression gives a tensor of shape {shape_text(tuple(output.shape))}, but backward() needs a "
                "single number. Reduce it with .sum() or .mean(), or see the lesson on backward() with a gradient.",
                "RuntimeError: grad can be implicitly created only for scalar outputs",
            )
        elif not output.requires_grad:
            backward_error = PlaygroundError(
                "No variable in the expression has requires_grad on, so there is nothing to differentiate. "
                "Turn requires_grad on for at least one variable used in it.",
                "RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn",
            )
        else:
            try:
                output.backward()
            except RuntimeError as exc:  # pragma: no cover - every known cause is refused above
                backward_error = PlaygroundError("backward() failed; see PyTorch's message below.", library_message(exc))

    child_ids: dict[int, tuple[str, ...]] = {}
    for _ident, node, _tensor in entries:
        if node.op in ("var", "const"):
            continue
        child_ids[id(node)] = tuple(
            leaf_ids[arg.name] if arg.op == "var" else ids[id(arg)]
            for index, arg in enumerate(node.args)
            if not _hidden_operand(node, index)
        )

    nodes: list[GraphNode] = []
    for ident, node, tensor in entries:
        if _is_hidden(node, recorded):
            continue
        value = tensor.detach().double().numpy()
        if not np.isfinite(value).all():
            what = "NaN" if np.isnan(value).any() else "an infinite value"
            raise PlaygroundError(
                f"The value became {what} at {code(node.source())} (shape {shape_text(tuple(tensor.shape))}). "
                "Check the values there: log and sqrt need positive inputs, and exp or ** of large numbers overflows.",
                f"{node.source()} = {value_text(value)}",
            )
        grad = None if tensor.grad is None else tensor.grad.detach().double().numpy()
        if grad is not None and not np.isfinite(grad).all() and not warnings:
            warnings.append(f"The gradient at {code(node.source())} is not finite (NaN or inf): the function has no "
                            "finite slope there (sqrt or abs at 0, log at 0).")
        small = value.size <= MAX_GRAPH_NODE_ELEMENTS
        kind = "leaf" if node.op == "var" else "const" if node.op == "const" else "op"
        label = node.name if kind == "leaf" else node.source() if kind == "const" else _label(node)
        nodes.append(GraphNode(
            ident, kind, label, node.source(), child_ids.get(id(node), ()), tuple(tensor.shape),
            value.copy() if small else None, bool(tensor.requires_grad),
            grad.copy() if small and grad is not None else None,
            value_text(value), None if grad is None else value_text(grad),
        ))

    leaf_grads = {name: tensor.grad.detach().double().numpy().copy() if tensor.grad is not None else None
                  for name, tensor in tensors.items()}
    grad_reprs = {name: repr(tensor.grad) for name, tensor in tensors.items()}
    output_id = leaf_ids[tree.name] if tree.op == "var" else ids[id(tree)]
    return AutogradResult(
        nodes=tuple(nodes),
        output_id=output_id,
        result_repr=_tensor_repr(output),
        leaf_grads=leaf_grads,
        grad_reprs=grad_reprs,
        forward_dot=forward_dot(nodes, output_id),
        backward_dot=backward_dot(output, {id(tensor): name for name, tensor in tensors.items()}),
        scalar=scalar,
        backward_problem=None if backward_error is None else (backward_error.sentence, backward_error.detail or ""),
        warnings=tuple(warnings),
    )


def _is_hidden(node: Node, recorded: list[tuple[Node, torch.Tensor]]) -> bool:
    if node.op != "const":
        return False
    for parent, _ in recorded:
        for index, arg in enumerate(parent.args):
            if arg is node:
                return _hidden_operand(parent, index)
    return False


def forward_dot(nodes: list[GraphNode] | tuple[GraphNode, ...], output_id: str) -> str:
    """Micrograd's picture: a record ``{ name | shape | data | grad }`` per value, an ellipse per operation,
    drawn top to bottom so that it stands beside PyTorch's backward graph, which runs bottom to top."""
    lines = [
        "digraph forward {",
        '  rankdir=TB; bgcolor="transparent"; nodesep=0.25; ranksep=0.3;',
        '  node [fontname="Helvetica", fontsize=11, height=0.3];',
    ]
    for node in nodes:
        name = node.label if node.kind != "op" else (node.source if len(node.source) <= 28 else "t" + node.id[1:])
        fields = [_dot_escape(name), _dot_escape(f"shape {shape_text(node.shape)}"),
                  _dot_escape(f"data {node.value_summary}")]
        if node.grad_summary is not None:
            fields.append(_dot_escape(f"grad {node.grad_summary}"))
        elif node.kind == "leaf" and not node.requires_grad:
            fields.append("no grad")
        color = "#e8f0fe" if node.kind == "leaf" else "#f5f5f5" if node.kind == "const" else "#ffffff"
        pen = ', penwidth=2' if node.id == output_id else ""
        lines.append(f'  {node.id} [shape=record, style=filled, fillcolor="{color}"{pen}, label="{{{" | ".join(fields)}}}"];')
        if node.kind == "op":
            lines.append(f'  {node.id}_op [shape=ellipse, label="{_dot_escape(node.label)}"];')
            lines.append(f"  {node.id}_op -> {node.id};")
            for child in node.inputs:
                lines.append(f"  {child} -> {node.id}_op;")
    lines.append("}")
    return "\n".join(lines)


def backward_dot(output: torch.Tensor, leaf_names: dict[int, str]) -> str:
    """PyTorch's own backward graph: ``output.grad_fn`` and its ``next_functions``, as PyTorch records it."""
    lines = ["digraph backward {", '  rankdir=BT; bgcolor="transparent"; nodesep=0.25; ranksep=0.3;',
             '  node [fontname="Helvetica", fontsize=11, height=0.3, shape=box, style=filled, fillcolor="#fff4e5"];']
    if output.grad_fn is None:
        text = "no grad_fn: nothing in this result requires grad" if not output.requires_grad else "a leaf: no grad_fn"
        lines.append(f'  empty [label="{_dot_escape(text)}", fillcolor="#f5f5f5"];')
        lines.append("}")
        return "\n".join(lines)
    seen: dict[int, str] = {}
    stack = [output.grad_fn]
    lines.append('  out [label="z (output)", shape=ellipse, fillcolor="#ffffff"];')
    edges: list[str] = []
    while stack:
        function = stack.pop()
        if id(function) in seen:
            continue
        ident = f"g{len(seen)}"
        seen[id(function)] = ident
        name = type(function).__name__
        if name == "AccumulateGrad":
            variable = leaf_names.get(id(function.variable), "leaf")
            lines.append(f'  {ident} [label="AccumulateGrad\\n{_dot_escape(variable)}.grad", fillcolor="#e8f0fe"];')
        else:
            lines.append(f'  {ident} [label="{_dot_escape(name)}"];')
        for next_function, _ in function.next_functions:
            if next_function is not None:
                stack.append(next_function)
                edges.append((id(function), id(next_function)))
    lines.append(f"  {seen[id(output.grad_fn)]} -> out;")
    for parent, child in dict.fromkeys(edges):
        lines.append(f"  {seen[child]} -> {seen[parent]};")
    lines.append("}")
    return "\n".join(lines)


def grad_fn_names(output: torch.Tensor) -> list[str]:
    """The class names in ``output``'s backward graph, each once, in discovery order."""
    names: list[str] = []
    seen: set[int] = set()
    stack = [output.grad_fn] if output.grad_fn is not None else []
    while stack:
        function = stack.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        names.append(type(function).__name__)
        stack.extend(f for f, _ in function.next_functions if f is not None)
    return names
