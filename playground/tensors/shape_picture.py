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


def shape_rows(op: str, input_shapes: tuple[tuple[int, ...], ...], output_shape: tuple[int, ...] | None,
               dim: int | None = None, keepdim: bool = False) -> tuple[list[TensorRow], list[TensorRow]]:
    """Inputs and output as rows of blocks with roles, for ``op`` applied along ``dim``."""
    x = input_shapes[0]
    nd = len(x)

    def norm(d: int | None, rank: int) -> int | None:
        if d is None:
            return None
        return d + rank if d < 0 else d

    inputs: list[TensorRow] = []
    if op == "cat":
        d = norm(0 if dim is None else dim, nd)
        for i, shape in enumerate(input_shapes):
            colour = PART_COLOURS[i % len(PART_COLOURS)]
            blocks = tuple(
                Block(k, s, "part" if k == d else "kept", ((s, colour),) if k == d else ()) for k, s in enumerate(shape)
            )
            inputs.append(TensorRow(f"{'xyz'[i]} {list(shape)}", blocks, colour))
    else:
        in_roles = ["kept"] * nd
        if op == "squeeze":
            d = norm(dim, nd)
            for k, s in enumerate(x):
                if s == 1 and (d is None or k == d):
                    in_roles[k] = "removed"
        elif op in ("sum", "mean"):
            d = norm(dim, nd)
            for k in range(nd):
                if d is None or k == d:
                    in_roles[k] = "reduced"
        elif op in ("reshape", "view"):
            in_roles = ["reshaped"] * nd
        inputs.append(TensorRow(f"x {list(x)}", tuple(Block(k, s, in_roles[k]) for k, s in enumerate(x))))

    if output_shape is None:
        return inputs, []
    out_nd = len(output_shape)
    out_roles = ["kept"] * out_nd
    parts_at: dict[int, tuple[tuple[int, str], ...]] = {}
    if op == "unsqueeze":
        d = norm(0 if dim is None else dim, out_nd)
        if d is not None and 0 <= d < out_nd:
            out_roles[d] = "new"
    elif op in ("sum", "mean") and keepdim:
        d = norm(dim, nd)
        for k in range(out_nd):
            if d is None or k == d:
                out_roles[k] = "reduced"
    elif op in ("reshape", "view"):
        out_roles = ["reshaped"] * out_nd
    elif op == "cat":
        d = norm(0 if dim is None else dim, nd)
        if d is not None and 0 <= d < out_nd:
            parts_at[d] = tuple((shape[d], PART_COLOURS[i % len(PART_COLOURS)]) for i, shape in enumerate(input_shapes))
            out_roles[d] = "part"
    blocks = tuple(Block(k, s, out_roles[k], parts_at.get(k, ())) for k, s in enumerate(output_shape))
    return inputs, [TensorRow(f"out {list(output_shape)}", blocks)]


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


def shape_picture(op: str, input_shapes: tuple[tuple[int, ...], ...], output_shape: tuple[int, ...] | None,
                  dim: int | None = None, keepdim: bool = False) -> str:
    inputs, outputs = shape_rows(op, input_shapes, output_shape, dim, keepdim)
    return render_svg(inputs, outputs, caption=f"{op}: shapes before and after")
