"""The shape picture as a person sees it: which dims each operation marks (torch's own result shapes as the
oracle), and a layout that holds together: everything inside the frame, blocks in dim order without overlap and
wider for larger sizes, each block's labels inside it, rows one under the other, the arrow between inputs and
output, cat's parts filling the joined block in proportion, the legend beneath the rows."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
import torch

from playground.tensors.shape_picture import (
    PART_COLOURS,
    ROLE_COLOURS,
    joined_rows,
    kept_rows,
    reduced_rows,
    reshaped_rows,
    shape_picture,
    squeeze_rows,
    unsqueeze_rows,
)

NS = "{http://www.w3.org/2000/svg}"


def roles(rows) -> tuple[list[list[str]], list[list[str]]]:
    inputs, outputs = rows
    return [[b.role for b in r.blocks] for r in inputs], [[b.role for b in r.blocks] for r in outputs]


def sizes(row) -> tuple[int, ...]:
    return tuple(b.size for b in row.blocks)


# ---- which dims each operation marks, against torch ------------------------------------------------------------

@pytest.mark.parametrize(("shape", "dim", "removed"), [
    ((2, 1, 3, 1), None, [1, 3]), ((2, 1, 3, 1), 1, [1]), ((2, 1, 3, 1), -1, [3]), ((2, 1, 3, 1), 0, []),
    ((1,), None, [0]), ((2, 3), None, []),
])
def test_squeeze_marks_the_dims_torch_removes(shape, dim, removed):
    out = tuple(torch.zeros(shape).squeeze(*(() if dim is None else (dim,))).shape)
    rows = squeeze_rows((shape,), out, dim)
    x_roles, out_roles = roles(rows)
    assert x_roles == [["removed" if k in removed else "kept" for k in range(len(shape))]]
    assert out_roles == [["kept"] * len(out)] and sizes(rows[1][0]) == out
    assert len(shape) - len(removed) == len(out)


@pytest.mark.parametrize(("shape", "dim"), [((2, 3), 0), ((2, 3), 1), ((2, 3), 2), ((2, 3), -1), ((2, 3), -3), ((), 0)])
def test_unsqueeze_marks_the_new_dim_torch_adds(shape, dim):
    out = tuple(torch.zeros(shape).unsqueeze(dim).shape)
    rows = unsqueeze_rows((shape,), out, dim)
    new_at = dim % len(out)
    assert roles(rows) == ([["kept"] * len(shape)], [["new" if k == new_at else "kept" for k in range(len(out))]])
    assert sizes(rows[1][0]) == out and sizes(rows[0][0]) == shape


@pytest.mark.parametrize(("dim", "keepdim"), [(None, False), (1, False), (-1, False), (0, True), (-2, True), (2, True)])
def test_a_reduction_marks_the_dims_torch_adds_up(dim, keepdim):
    shape = (2, 3, 4)
    x = torch.zeros(shape)
    out = tuple((x.sum() if dim is None else x.sum(dim, keepdim=keepdim)).shape)
    reduced = [k for k in range(3) if dim is None or k == dim % 3]
    x_roles, out_roles = roles(reduced_rows((shape,), out, dim, keepdim))
    assert x_roles == [["reduced" if k in reduced else "kept" for k in range(3)]]
    if keepdim:  # the reduced dim is still there, as size 1
        assert out_roles == x_roles and all(out[k] == 1 for k in reduced)
    else:
        assert out_roles == [["kept"] * len(out)]
    assert roles(reduced_rows((shape,), None, dim, keepdim))[1] == []


def test_reshape_and_elementwise_mark_every_dim():
    assert roles(reshaped_rows(((2, 6),), (3, 4))) == ([["reshaped"] * 2], [["reshaped"] * 2])
    assert roles(reshaped_rows(((2, 6),), None)) == ([["reshaped"] * 2], [])
    assert roles(kept_rows(((2, 6), (6,)), (2, 6))) == ([["kept"] * 2], [["kept"] * 2])
    inputs, outputs = kept_rows(((2, 6),), (2, 6))
    assert [r.label for r in inputs + outputs] == ["x [2, 6]", "out [2, 6]"]


@pytest.mark.parametrize(("shapes", "dim"), [(((2, 1, 3), (2, 3, 3), (2, 2, 3)), 1), (((1, 2), (4, 2)), -2),
                                             (((2, 1), (2, 1), (2, 1)), 1)])
def test_cat_parts_are_the_inputs_torch_joins(shapes, dim):
    out = tuple(torch.cat([torch.zeros(s) for s in shapes], dim).shape)
    inputs, outputs = joined_rows(shapes, out, dim)
    d = dim % len(out)
    assert [r.label for r in inputs] == [f"{'xyz'[i]} {list(s)}" for i, s in enumerate(shapes)]
    for i, (row, shape) in enumerate(zip(inputs, shapes, strict=True)):
        colour = PART_COLOURS[i % len(PART_COLOURS)]
        assert row.colour == colour and sizes(row) == shape
        assert [b.role for b in row.blocks] == ["part" if k == d else "kept" for k in range(len(shape))]
        assert row.blocks[d].parts == ((shape[d], colour),) and all(not b.parts for k, b in enumerate(row.blocks) if k != d)
    (joined,) = outputs
    assert sizes(joined) == out and joined.label == f"out {list(out)}" and joined.colour is None
    assert joined.blocks[d].parts == tuple((s[d], PART_COLOURS[i % 3]) for i, s in enumerate(shapes))
    assert sum(p for p, _ in joined.blocks[d].parts) == out[d]
    assert [b.role for b in joined.blocks] == ["part" if k == d else "kept" for k in range(len(out))]
    assert joined_rows(shapes, None, dim)[1] == []


# ---- the layout ---------------------------------------------------------------------------------------------------

def parse(svg: str):
    root = ET.fromstring(svg)
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    rects = [{k: (float(v) if k in ("x", "y", "width", "height") else v) for k, v in r.attrib.items()}
             for r in root.iter(NS + "rect")]
    texts = [(float(t.get("x")), float(t.get("y")), t.text, t.attrib) for t in root.iter(NS + "text")]
    return root, width, height, rects, texts


# Each picture is built when a test asks for it, not at import: mutation testing switches a planted bug on
# only for calls made while a test runs.
PICTURES = {
    "squeeze": lambda: squeeze_rows(((2, 1, 3, 1),), (2, 3), None),
    "unsqueeze": lambda: unsqueeze_rows(((4, 3),), (4, 1, 3), 1),
    "sum keepdim": lambda: reduced_rows(((2, 300, 4),), (2, 1, 4), 1, True),
    "sum all": lambda: reduced_rows(((2, 3),), (), None, False),
    "reshape": lambda: reshaped_rows(((1, 1, 1, 1, 1, 1),), (1,)),
    "cat": lambda: joined_rows(((2, 1, 3), (2, 30, 3), (2, 2, 3)), (2, 33, 3), 1),
    "cat pair": lambda: joined_rows(((5,), (9000,)), (9005,), 0),
    "no output": lambda: kept_rows(((7, 2),), None),
    "scalar in": lambda: kept_rows(((),), ()),
}


@pytest.mark.parametrize("name", PICTURES)
def test_everything_is_drawn_inside_the_frame(name):
    _, width, height, rects, texts = parse(shape_picture(PICTURES[name]()))
    for r in rects:
        assert 0 <= r["x"] and r["x"] + r["width"] <= width + 0.05, r
        assert 0 <= r["y"] and r["y"] + r["height"] <= height, r
    for x, y, text, _attrib in texts:
        assert 0 <= x < width and 0 < y <= height, (x, y, text)
        assert x + 6 * len(text or "") <= width + 1, text  # no text runs past the right edge


def blocks_by_row(rects):
    """The dim blocks (role and size), grouped by their row's y, each row in drawing order."""
    rows: dict[float, list[dict]] = {}
    for r in rects:
        if r.get("data-role") and r.get("data-role") != "part" or r.get("stroke-width") == "2":
            rows.setdefault(r["y"], []).append(r)
    return [rows[y] for y in sorted(rows)]


@pytest.mark.parametrize("name", PICTURES)
def test_blocks_sit_in_dim_order_without_overlap_and_rows_one_under_another(name):
    inputs, outputs = PICTURES[name]()
    root, width, height, rects, texts = parse(shape_picture(PICTURES[name]()))
    rows = blocks_by_row(rects)
    assert len(rows) == len(inputs) + len(outputs)
    for drawn, row in zip(rows, inputs + outputs, strict=True):
        expected = [b.size for b in row.blocks] or [1]
        assert len(drawn) == len(expected)
        for left, right in zip(drawn, drawn[1:], strict=False):
            assert left["x"] + left["width"] + 4 <= right["x"]  # a visible gap between dims
        label = next(t for t in texts if t[2] == row.label)
        assert label[0] + 7 * len(row.label) <= drawn[0]["x"]  # the label ends before the first block
        assert drawn[0]["y"] <= label[1] <= drawn[0]["y"] + drawn[0]["height"]  # and sits on the row
        assert label[3].get("fill") == (row.colour or "#333")
        for k, (block, r) in enumerate(zip(row.blocks, drawn, strict=False)):
            inside = [t for t in texts if r["x"] < t[0] < r["x"] + r["width"] and r["y"] < t[1] <= r["y"] + r["height"]]
            assert sorted(t[2] for t in inside) == sorted([f"dim {k}", str(block.size)])  # each block names its dim
    tops = [row[0]["y"] for row in rows]
    for upper, lower in zip(tops, tops[1:], strict=False):
        assert upper + 34 + 10 <= lower  # rows never touch
    arrows = [t for t in texts if t[2] == "\u2193"]
    if outputs:
        (arrow,) = arrows
        last_in, first_out = tops[len(inputs) - 1], tops[len(inputs)]
        assert last_in + 34 < arrow[1] < first_out + 8  # between the inputs and the output
        assert first_out - last_in > (tops[1] - tops[0] if len(inputs) > 1 else 0)
    else:
        assert arrows == []
    assert tops[-1] + 34 + 8 <= height - 18  # the legend sits beneath the last row


def test_a_larger_size_draws_a_wider_block_equal_sizes_equal_blocks():
    sizes_ = [0, 1, 2, 3, 10, 100, 10_000]
    _, _, _, rects, _ = parse(shape_picture(kept_rows((tuple(sizes_),), tuple(sizes_))))
    (top, bottom) = blocks_by_row(rects)
    widths = [r["width"] for r in top]
    assert widths == sorted(widths) and len(set(widths)) == len(widths)
    assert widths == [r["width"] for r in bottom]
    assert widths[-1] < 10 * widths[0]  # logarithmic: 10,000 is not 10,000 times wider
    assert [r["data-size"] for r in top] == [str(s) for s in sizes_]


def test_block_width_is_logarithmic_in_size():
    """Doubling (size + 1) adds the same width whatever the size: a log scale, so 10,000 fits beside 1."""
    _, _, _, rects, _ = parse(shape_picture(kept_rows(((0, 1, 3, 7, 15),), None)))
    widths = [r["width"] for r in blocks_by_row(rects)[0]]
    steps = {round(b - a, 1) for a, b in zip(widths, widths[1:], strict=False)}
    assert len(steps) == 1 and steps.pop() > 5
    assert math.isclose(widths[1] - widths[0], widths[4] - widths[3], abs_tol=0.15)


@pytest.mark.parametrize("name", ["cat", "cat pair"])
def test_cat_parts_fill_the_joined_block_in_proportion(name):
    inputs, outputs = PICTURES[name]()
    _, _, _, rects, _ = parse(shape_picture(PICTURES[name]()))
    outlines = [r for r in rects if r.get("stroke-width") == "2"]
    for outline in outlines:
        parts = [r for r in rects if r.get("data-role") == "part" and r["y"] == outline["y"]
                 and outline["x"] - 0.1 <= r["x"] < outline["x"] + outline["width"]]
        assert math.isclose(parts[0]["x"], outline["x"], abs_tol=0.1)
        for a, b in zip(parts, parts[1:], strict=False):
            assert math.isclose(a["x"] + a["width"], b["x"], abs_tol=0.15)  # adjacent, no gap, no overlap
        assert math.isclose(sum(p["width"] for p in parts), outline["width"], abs_tol=0.3)
        total = sum(int(p["data-size"]) for p in parts)
        for p in parts:
            assert math.isclose(p["width"], outline["width"] * int(p["data-size"]) / total, abs_tol=0.15)
    assert len(outlines) == len(inputs) + len(outputs)
    joined = [r for r in rects if r.get("data-role") == "part" and r["y"] == max(o["y"] for o in outlines)]
    assert [r["fill"] for r in joined] == list(PART_COLOURS[: len(inputs)])


def test_each_role_has_its_colour_and_a_removed_dim_is_dashed():
    _, _, _, rects, _ = parse(shape_picture(PICTURES["squeeze"]()))
    blocks = [r for r in rects if r.get("data-role")]
    for r in blocks:
        assert r["fill"] == ROLE_COLOURS[r["data-role"]]
        assert ("stroke-dasharray" in r) == (r["data-role"] == "removed")
    assert {r["data-role"] for r in blocks} == {"kept", "removed"}


def test_a_scalar_is_drawn_as_one_marked_pill():
    _, _, _, rects, texts = parse(shape_picture(PICTURES["sum all"]()))
    scalars = [r for r in rects if r.get("data-role") == "scalar"]
    assert len(scalars) == 1 and scalars[0]["data-size"] == "1"
    assert [t[2] for t in texts].count("scalar") == 1
    assert [t for t in texts if t[2] == "scalar"][0][1] > max(r["y"] for r in rects if r.get("data-role") == "reduced")


def test_the_legend_lies_beneath_without_overlap_and_the_caption_is_the_label():
    svg = shape_picture(PICTURES["cat"](), caption="cat: <shapes>")
    root, width, height, rects, texts = parse(svg)
    assert root.get("aria-label") == "cat: <shapes>" and root.get("role") == "img"
    assert parse(shape_picture(PICTURES["reshape"]()))[0].get("aria-label") == "shape picture"
    legend = [r for r in rects if r.get("data-legend")]
    assert [r["data-legend"] for r in legend] == ["kept", "x", "y", "z"]
    assert [r["fill"] for r in legend] == [ROLE_COLOURS["kept"], *PART_COLOURS]
    names = [t for t in texts if t[3].get("font-size") == "11"]
    assert [t[2] for t in names] == [r["data-legend"] for r in legend]
    for r, name in zip(legend, names, strict=True):
        assert r["x"] < name[0] and r["y"] <= name[1] <= r["y"] + r["height"] + 2  # the name beside its swatch
    for name, nxt in zip(names, legend[1:], strict=False):
        assert name[0] + 6 * len(name[2]) <= nxt["x"]  # a name ends before the next swatch


def test_the_svg_is_only_drawing_styled_and_labelled_for_a_screen_reader():
    """No stray text between the elements, the font set on the root, a label even without a caption."""
    from playground.tensors.shape_picture import render_svg

    for svg in (shape_picture(PICTURES["cat"]()), shape_picture(PICTURES["sum all"]())):
        root = ET.fromstring(svg)
        assert root.get("font-family") == "sans-serif" and root.get("font-size") == "12"
        for element in root.iter():
            assert not (element.tail or "").strip(), element.tail
            if element.tag != NS + "text":
                assert not (element.text or "").strip(), (element.tag, element.text)
    inputs, outputs = PICTURES["squeeze"]()
    for svg in (render_svg(inputs, outputs), shape_picture(PICTURES["squeeze"](), caption="")):
        assert ET.fromstring(svg).get("aria-label") == "shape picture"
    pill = [r for r in parse(shape_picture(PICTURES["sum all"]()))[3] if r.get("data-role") == "scalar"][0]
    assert pill["fill"] == "#ffe082" and pill["fill"] not in ROLE_COLOURS.values()
