"""A sweep's passes traced once into torch's own operations, so that a step costs its operations, not Python.

``traced(key, fn, *inputs)`` runs ``fn`` (vmap over functional_call, the criterion, autograd) once under
``make_fx`` on these inputs and keeps the graph of aten operations it recorded, for every later call with the
same key and input shapes. Every tensor ``fn`` reads must be an input: a graph holding another is refused, so a
graph kept for one sweep serves any other of the same model, loss and penalty.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.fx.experimental.proxy_tensor import make_fx

MAX_TRACES = 64  # graphs kept in a process (a kind of pass, model, loss and input shapes each), the oldest dropped
_TRACES: dict[tuple, torch.fx.GraphModule] = {}
aten = torch.ops.aten
_SAME_SHAPE_VIEWS = (aten.view.default, aten._unsafe_view.default, aten.expand.default, aten.reshape.default,
                     aten.alias.default, aten.detach.default)


def traced(key: tuple, fn: Callable, *args: torch.Tensor) -> Callable:
    """The graph of ``fn`` for ``key`` and these inputs' shapes, dtypes and devices (traced at the first call)."""
    full = (key, *((a.shape, a.dtype, a.device) for a in args))
    gm = _TRACES.get(full)
    if gm is None:
        gm = trace(fn, *(a.detach() for a in args))
        if any(node.op == "get_attr" for node in gm.graph.nodes):
            raise AssertionError(f"the traced pass {key[0]} holds a tensor that is not one of its inputs")
        if len(_TRACES) >= MAX_TRACES:
            _TRACES.pop(next(iter(_TRACES)))
        _TRACES[full] = gm
    return gm


def trace(fn: Callable, *args: torch.Tensor) -> torch.fx.GraphModule:
    """``fn`` traced into torch operations on these inputs' shapes; views to the same shape, transposes undone,
    detaches (the graph runs without autograd) and products by 1 (what vmap's rules and autograd's formulas leave
    around a batched matrix product) are dropped, repeated operations done once."""
    with torch.no_grad():
        gm = make_fx(fn)(*args)
    graph, seen = gm.graph, {}
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        source = node.args[0] if node.args else None
        shape = getattr(node.meta.get("val"), "shape", None)
        same = isinstance(source, torch.fx.Node) and getattr(source.meta.get("val"), "shape", None) == shape
        if (node.target in _SAME_SHAPE_VIEWS and same) or (node.target is aten.mul.Scalar and node.args[1] == 1):
            node.replace_all_uses_with(source)
            graph.erase_node(node)
            continue
        if (node.target is aten.transpose.int and isinstance(source, torch.fx.Node)
                and source.target is aten.transpose.int and set(node.args[1:]) == set(source.args[1:])):
            node.replace_all_uses_with(source.args[0])  # a transpose transposed back
            graph.erase_node(node)
            continue
        key = (node.target, str(node.args), str(node.kwargs))
        if key in seen and node.target._schema.is_mutable is False and "rand" not in str(node.target):
            node.replace_all_uses_with(seen[key])  # the same operation on the same inputs: done once
            graph.erase_node(node)
        else:
            seen[key] = node
    graph.eliminate_dead_code()
    for node in graph.nodes:
        node.meta.clear()  # the tensors seen at the trace (kept by make_fx for each node) are no longer needed
    gm.recompile()
    return gm
