"""A shape picture: each tensor drawn as a row of blocks, one block per dim, sized by its length.

Roles colour the blocks so the change an operation makes can be seen: a new size-1 dim (unsqueeze),
a removed dim (squeeze), a reduced dim (sum/mean), and the parts of a ``cat`` (each input its own colour,
the output's joined dim split into those colours). The result is SVG text, testable without a browser.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

ROLE_COLOURS = {
    "kept": "#cfd8e3",
    "new": "#7ccf8a",
    "removed": "#f28b82",
    "reduced": "#f7b267",
    "reshaped": "#b39ddb",
}
# The inputs of cat: blue, brown and teal, none of them close to a role's colour (the legend stays honest).
PART_COLOURS = ("#1e88e5", "#8d6e63", "#00897b")


@dataclass(frozen=True)
class Block:
    """One dim of one tensor. ``parts`` splits the block into coloured pieces (for cat)."""

    dim: int
    size: int
    role: str
    parts: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class TensorRow:
    label: str
    blocks: tuple[Block, ...]
    colour: str | None = None  # the tensor's own colour (cat inputs)


Rows = tuple[list[TensorRow], list[TensorRow]]


def _norm(dim: int | None, rank: int) -> int | None:
    return None if dim is None else (dim + rank if dim < 0 else dim)


def _rows(input_shapes: tuple[tuple[int, ...], ...], output_shape: tuple[int, ...] | None,
          in_roles: list[str] | None = None, out_roles: list[str] | None = None) -> Rows:
    """x (and only x) as a row of blocks with ``in_roles``, and the output (if any) with ``out_roles``."""
    x = input_shapes[0]
    roles = in_roles or ["kept"] * len(x)
    inputs = [TensorRow(f"x {list(x)}", tuple(Block(k, s, roles[k]) for k, s in enumerate(x)))]
    if output_shape is None:
        return inputs, []
    roles = out_roles or ["kept"] * len(output_shape)
    return inputs, [TensorRow(f"out {list(output_shape)}", tuple(Block(k, s, roles[k]) for k, s in enumerate(output_shape)))]


def kept_rows(input_shapes: tuple[tuple[int, ...], ...], output_shape: tuple[int, ...] | None) -> Rows:
    """An elementwise operation: every dim kept."""
    return _rows(input_shapes, output_shape)


def reshaped_rows(input_shapes: tuple[tuple[int, ...], ...], output_shape: tuple[int, ...] | None) -> Rows:
    """reshape and view: the same numbers in new dims."""
    return _rows(input_shapes, output_shape, ["reshaped"] * len(input_shapes[0]),
                 ["reshaped"] * len(output_shape or ()))


def squeeze_rows(input_shapes: tuple[tuple[int, ...], ...], output_shape: tuple[int, ...] | None,
                 dim: int | None) -> Rows:
    """The size-1 dims that go (every one, or the one at ``dim``)."""
    x = input_shapes[0]
    d = _norm(dim, len(x))
    return _rows(input_shapes, output_shape, ["removed" if s == 1 and (d is None or k == d) else "kept"
                                              for k, s in enumerate(x)])


def unsqueeze_rows(input_shapes: tuple[tuple[int, ...], ...], output_shape: tuple[int, ...] | None, dim: int) -> Rows:
    """The new size-1 dim at ``dim`` of the output."""
    rank = len(output_shape or ())
    d = _norm(dim, rank)
    return _rows(input_shapes, output_shape, None, ["new" if k == d else "kept" for k in range(rank)])


def reduced_rows(input_shapes: tuple[tuple[int, ...], ...], output_shape: tuple[int, ...] | None,
                 dim: int | None, keepdim: bool) -> Rows:
    """The dims a reduction adds up (every one, or ``dim``), still there as size 1 with ``keepdim``."""
    rank = len(input_shapes[0])
    d = _norm(dim, rank)
    reduced = ["reduced" if d is None or k == d else "kept" for k in range(rank)]
    return _rows(input_shapes, output_shape, reduced, reduced if keepdim and output_shape is not None
                 and len(output_shape) == rank else None)


def joined_rows(input_shapes: tuple[tuple[int, ...], ...], output_shape: tuple[int, ...] | None, dim: int) -> Rows:
    """cat: each input in its own colour, the output's joined dim split into those colours."""
    d = _norm(dim, len(input_shapes[0]))
    inputs = []
    for i, shape in enumerate(input_shapes):
        colour = PART_COLOURS[i % len(PART_COLOURS)]
        blocks = tuple(Block(k, s, "part" if k == d else "kept", ((s, colour),) if k == d else ())
                       for k, s in enumerate(shape))
        inputs.append(TensorRow(f"{'xyz'[i]} {list(shape)}", blocks, colour))
    if output_shape is None:
        return inputs, []
    blocks = []
    for k, s in enumerate(output_shape):
        if k == d and all(len(shape) > k for shape in input_shapes):
            parts = tuple((shape[k], PART_COLOURS[i % len(PART_COLOURS)]) for i, shape in enumerate(input_shapes))
            blocks.append(Block(k, s, "part", parts))
        else:
            blocks.append(Block(k, s, "kept"))
    return inputs, [TensorRow(f"out {list(output_shape)}", tuple(blocks))]


def _block_width(size: int) -> float:
    return 46 + 18 * math.log2(size + 1)


def render_svg(inputs: list[TensorRow], outputs: list[TensorRow], caption: str = "") -> str:
    """SVG text: input rows, an arrow, output rows. Every block carries data-role and data-size."""
    row_h, gap, left = 54, 18, 12
    rows = inputs + outputs
    label_w = max([110] + [8 * len(r.label) + 16 for r in rows])  # labels never run into the blocks
    legend_w = sum(22 + 7 * len(name) for name, _ in legend_entries(rows))
    width = max([left + label_w + sum(_block_width(b.size) + 6 for b in r.blocks) for r in rows] + [360, left + legend_w])
    height = len(rows) * (row_h + gap) + (30 if outputs else 0) + 26
    out: list[str] = [
        f'<svg class="shape-picture" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'viewBox="0 0 {width:.0f} {height}" role="img" aria-label="{html.escape(caption or "shape picture")}" '
        'font-family="sans-serif" font-size="12">'
    ]
    y = 8
    for index, row in enumerate(rows):
        if outputs and index == len(inputs):
            out.append(f'<text x="{left}" y="{y + 16}" font-size="18" fill="#555">&#8595;</text>')
            y += 30
        label_colour = row.colour or "#333"
        out.append(f'<text x="{left}" y="{y + 30}" fill="{label_colour}" font-weight="bold">{html.escape(row.label)}</text>')
        x = left + label_w
        if not row.blocks:
            out.append(
                f'<rect data-role="scalar" data-size="1" x="{x}" y="{y + 8}" width="46" height="34" rx="17" '
                'fill="#ffe082" stroke="#555"/>'
            )
            out.append(f'<text x="{x + 8}" y="{y + 30}">scalar</text>')
        for block in row.blocks:
            w = _block_width(block.size)
            if block.parts:
                total = sum(p for p, _ in block.parts) or 1
                px = x
                for part_size, colour in block.parts:
                    pw = w * part_size / total
                    out.append(
                        f'<rect data-role="part" data-size="{part_size}" x="{px:.1f}" y="{y + 8}" width="{pw:.1f}" '
                        f'height="34" fill="{colour}" stroke="#555"/>'
                    )
                    px += pw
                out.append(f'<rect x="{x:.1f}" y="{y + 8}" width="{w:.1f}" height="34" fill="none" stroke="#222" stroke-width="2"/>')
            else:
                fill = ROLE_COLOURS.get(block.role, "#cfd8e3")
                dash = ' stroke-dasharray="4 3"' if block.role == "removed" else ""
                out.append(
                    f'<rect data-role="{block.role}" data-size="{block.size}" x="{x:.1f}" y="{y + 8}" width="{w:.1f}" '
                    f'height="34" rx="4" fill="{fill}" stroke="#555"{dash}/>'
                )
            out.append(f'<text x="{x + 5:.1f}" y="{y + 21}" font-size="10" fill="#333">dim {block.dim}</text>')
            out.append(f'<text x="{x + 5:.1f}" y="{y + 37}" font-weight="bold">{block.size}</text>')
            x += w + 6
        y += row_h + gap
    lx = left
    for name, colour in legend_entries(rows):
        out.append(f'<rect data-legend="{html.escape(name)}" x="{lx}" y="{height - 18}" width="12" height="12" '
                   f'fill="{colour}" stroke="#555"/>')
        out.append(f'<text x="{lx + 16}" y="{height - 8}" font-size="11">{html.escape(name)}</text>')
        lx += 22 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)


def legend_entries(rows: list[TensorRow]) -> list[tuple[str, str]]:
    """What the picture's colours mean: the roles its blocks have, then (for cat) each input's own colour."""
    used = {block.role for row in rows for block in row.blocks}
    entries = [(role, ROLE_COLOURS[role]) for role in ROLE_COLOURS if role in used]
    entries += [(row.label.split(" ", 1)[0], row.colour) for row in rows if row.colour]
    return entries


def shape_picture(rows: Rows, caption: str = "shape picture") -> str:
    """The SVG of the rows an operation's row of the op table drew (``inputs, outputs``)."""
    inputs, outputs = rows
    return render_svg(inputs, outputs, caption=caption)
