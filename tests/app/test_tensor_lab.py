"""Tensor Lab driven like a user: every operation, the course examples, and each kind of bad input."""

from __future__ import annotations

import pytest

from tests.app.conftest import texts


def svg_images(at) -> list[str]:
    """The SVG pictures the page shows as images (never as HTML in the page)."""
    import base64

    found = []
    for element in at.get("image"):
        for img in element.proto.imgs:
            if img.url.startswith("data:image/svg+xml;base64,"):
                found.append(base64.b64decode(img.url.split(",", 1)[1]).decode())
    return found

def shown(at) -> str:
    return texts(at)


def no_traceback(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_opens_on_the_course_tensor(tensor_lab):
    at = tensor_lab
    assert "tensor([ 1.,  4.,  9., 16.])" in shown(at)
    assert at.success[0].value.startswith("Same values, same shape [4], same dtype float32.")
    assert any("torch.tensor([1, 2, 3, 4], dtype=torch.float32)" in c.value for c in at.code)
    assert not any("<svg" in m.value for m in at.markdown)  # the shape picture is an image, not HTML in the page
    assert any('class="shape-picture"' in svg for svg in svg_images(at))


@pytest.mark.parametrize(
    ("op", "setup", "expected"),
    [
        ("sum", {}, "tensor(10.)"),
        ("mean", {}, "tensor(2.5000)"),
        ("unsqueeze", {"tl_dim": 1}, "shape `[4, 1]`"),
        ("squeeze", {"tl_all_dims": True}, "shape `[4]`"),
        ("reshape", {"tl_new_shape": "2, -1"}, "shape `[2, 2]`"),
        ("view", {"tl_new_shape": "4, 1"}, "shape `[4, 1]`"),
        ("pow", {"tl_exponent": "3"}, "tensor([ 1.,  8., 27., 64.])"),
    ],
)
def test_each_operation(tensor_lab, op, setup, expected):
    at = tensor_lab
    at.radio(key="tl_op").set_value(op).run()
    for key, value in setup.items():
        widget = at.get_by_key(key) if hasattr(at, "get_by_key") else None
        (widget or at.text_input(key=key)).set_value(value)
    at.run()
    no_traceback(at)
    assert expected in shown(at)


def test_course_cat_example(tensor_lab):
    at = tensor_lab
    at.button(key="tl_preset_cat").click().run()
    no_traceback(at)
    assert at.success[0].value.startswith("Same values, same shape [2, 6, 3]")
    assert any("torch.cat([x, y, z], dim=1)" in c.value for c in at.code)
    assert any('data-role="part"' in svg for svg in svg_images(at))


def test_course_squeeze_and_unsqueeze(tensor_lab):
    at = tensor_lab
    at.button(key="tl_preset_squeeze").click().run()
    assert "shape `[2, 3]`" in shown(at)
    at.button(key="tl_preset_unsqueeze").click().run()
    assert "shape `[2, 1, 3]`" in shown(at)


def test_view_after_transpose_explains_and_fixes(tensor_lab):
    at = tensor_lab
    at.button(key="tl_preset_view").click().run()
    no_traceback(at)
    assert at.warning[0].value == "NumPy gives a result; torch raises an error."
    assert "view size is not compatible" in shown(at)
    assert any(".contiguous().view(6)" in i.value for i in at.info)


def test_squeeze_non_singleton_is_a_noop_in_torch_and_an_error_in_numpy(tensor_lab):
    at = tensor_lab
    at.selectbox(key="tl_source").set_value("randn").run()
    at.text_input(key="tl_shape").set_value("2, 3").run()
    at.radio(key="tl_op").set_value("squeeze").run()
    at.checkbox(key="tl_all_dims").uncheck().run()
    at.number_input(key="tl_dim").set_value(0).run()
    no_traceback(at)
    assert at.warning[0].value == "torch gives a result; NumPy raises an error."
    assert "no-op" in shown(at)


def test_mean_of_integers(tensor_lab):
    at = tensor_lab
    at.selectbox(key="tl_dtype").set_value("int64").run()
    at.radio(key="tl_op").set_value("mean").run()
    no_traceback(at)
    assert "x.float()" in shown(at)


@pytest.mark.parametrize(
    ("key", "value", "sentence"),
    [
        ("tl_literal", "[[1, 2], [3]", "missing 1 closing"),
        ("tl_literal", "[[1, 2], [3]]", "ragged"),
        ("tl_literal", "[1, two]", "not a number"),
        ("tl_literal", "[" * 50 + "]" * 50, "nested deeper"),
        ("tl_literal", "[" + "1," * 10_001 + "1]", "more than 10,000"),
        ("tl_exponent", "two", "is not a number"),
    ],
)
def test_bad_input_gets_a_sentence_and_the_page_recovers(tensor_lab, key, value, sentence):
    at = tensor_lab
    at.text_input(key=key).set_value(value).run()
    no_traceback(at)
    assert any(sentence in e.value for e in at.error), [e.value for e in at.error]
    at.text_input(key=key).set_value("[1, 2, 3, 4]" if key == "tl_literal" else "2").run()
    no_traceback(at)
    assert not at.error
    assert at.success[0].value.startswith("Same values")


def test_shape_over_limits_and_dim_out_of_range(tensor_lab):
    at = tensor_lab
    at.selectbox(key="tl_source").set_value("zeros").run()
    at.text_input(key="tl_shape").set_value("1000, 1000").run()
    assert any("limit here is 10,000" in e.value for e in at.error)
    at.text_input(key="tl_shape").set_value("1, 1, 1, 1, 1, 1, 1").run()
    assert any("over the limit of 6" in e.value for e in at.error)
    at.text_input(key="tl_shape").set_value("2, 3").run()
    at.radio(key="tl_op").set_value("unsqueeze").run()
    at.number_input(key="tl_dim").set_value(5).run()
    no_traceback(at)
    assert at.warning[0].value == "Both libraries refuse this operation."
    assert "Dimension out of range" in shown(at)


def test_cat_shape_mismatch(tensor_lab):
    at = tensor_lab
    at.button(key="tl_preset_cat").click().run()
    at.number_input(key="tl_dim").set_value(0).run()
    no_traceback(at)
    assert at.warning[0].value == "Both libraries refuse this operation."
    assert "Sizes of tensors must match" in shown(at)


def test_sharing_demo_and_reference_table(tensor_lab):
    at = tensor_lab
    at.number_input(key="tl_share_index").set_value(2).run()
    assert "[1, 2, 100, 4]" in shown(at)
    assert "shares memory: `True`" in shown(at) and "shares memory: `False`" in shown(at)
    at.text_input(key="tl_share_values").set_value("1, x").run()
    assert any("numbers separated by commas" in e.value for e in at.error)
    from playground.tensors.ops import reference_markdown

    assert reference_markdown() in [m.value for m in at.markdown]  # the course's reference, as a table


def test_no_gpu_panel_shows_the_code():
    from playground.device import cuda_available

    if cuda_available():
        pytest.skip("this server has a GPU: the toggle is shown instead")
    from tests.app.conftest import open_page

    at = open_page("app.py")
    assert 'device = "cuda" if torch.cuda.is_available() else "cpu"\nx = x.to(device)' in shown(at)


# ---- every code panel, run exactly as shown (issue 10), its numbers compared with what the page shows --------

import re  # noqa: E402

from tests.shown_code import numbers, run_shown, uncommented  # noqa: E402

PANEL_STATES = {  # page states, each set as a user would (keys in order); presets first where they set several
    "course pow": {},
    "3-D randn, sum over dim 1 keepdim": {"tl_source": "randn", "tl_shape": "2, 3, 4", "tl_op": "sum", "tl_all_dims": False,
                                          "tl_dim": 1, "tl_keepdim": True},
    "mean over all dims keepdim": {"tl_source": "arange", "tl_shape": "2, 3", "tl_dtype": "float64", "tl_op": "mean",
                                   "tl_all_dims": True, "tl_keepdim": True},
    "preset squeeze": {"tl_preset_squeeze": "click"},
    "preset unsqueeze": {"tl_preset_unsqueeze": "click"},
    "preset cat of three": {"tl_preset_cat": "click"},
    "preset view after transpose (torch refuses)": {"tl_preset_view": "click"},
    "squeeze a non-size-1 dim (NumPy refuses)": {"tl_source": "rand", "tl_shape": "2, 3", "tl_op": "squeeze",
                                                 "tl_all_dims": False, "tl_dim": 0},
    "mean of int64 (torch refuses)": {"tl_source": "literal", "tl_literal": "[[1, 2], [3, 4]]", "tl_dtype": "int64",
                                      "tl_op": "mean"},
    "reshape with -1": {"tl_source": "arange", "tl_shape": "4, 3", "tl_dtype": "int64", "tl_op": "reshape",
                        "tl_new_shape": "2, -1"},
    "inferred float literal, nan and inf": {"tl_source": "literal", "tl_literal": "[[0.5, nan], [inf, -2.25]]",
                                           "tl_dtype": "inferred", "tl_op": "pow", "tl_exponent": "0.5"},
    "bools": {"tl_source": "literal", "tl_literal": "[True, False, True]", "tl_dtype": "inferred", "tl_op": "sum",
              "tl_all_dims": True, "tl_keepdim": False},
    "ones to a power, multi-line": {"tl_source": "ones", "tl_shape": "3, 2, 2", "tl_dtype": "float32", "tl_op": "pow",
                                    "tl_exponent": "3"},
}


def set_state(at, values: dict) -> None:
    at.button(key="tl_preset_tensor").click().run()  # back to the course tensor first
    for key, value in values.items():
        if value == "click":
            at.button(key=key).click()
        else:
            try:
                at.get_by_key(key).set_value(value) if hasattr(at, "get_by_key") else None
            except KeyError:
                at.session_state[key] = value
        at.run()
    no_traceback(at)


def shown_state(at) -> dict:
    """The page's code panels (Python) and what it shows: plain outputs, shape lines, errors."""
    panels = [c.value for c in at.code if c.language == "python"]
    return {
        "build_torch": next(p for p in panels if "print(x)\n#" in p),
        "build_numpy": next(p for p in panels if "print(x_np)\n#" in p),
        "op": next(p for p in panels if "\nout = " in p or "    out = " in p),
        "device": next(p for p in panels if "torch.cuda.is_available()" in p),
        "share": next(p for p in panels if "torch.from_numpy(a)" in p),
        "outputs": [c.value for c in at.code if c.language != "python"],
        "shape_lines": [m.value for m in at.markdown if m.value.startswith("shape `")],
        "errors": [e.value for e in at.error],
        "info": [i.value for i in at.info],
    }


@pytest.fixture(scope="module")
def panels(tmp_path_factory):
    from tests.app.conftest import open_page

    at = open_page("app.py")
    states = {}
    for name, values in PANEL_STATES.items():
        set_state(at, values)
        states[name] = shown_state(at)
    scripts = {f"{name}|{part}": state[part] for name, state in states.items()
               for part in ("build_torch", "build_numpy", "op")}
    first = next(iter(states.values()))
    scripts |= {"device": first["device"], "share": first["share"]}
    return states, run_shown(scripts, tmp_path_factory.mktemp("tensor_lab_panels"))


SHAPE_TORCH = re.compile(r"^torch\.Size\(\[([^\]]*)\]\) torch\.(\w+)$")
SHAPE_NUMPY = re.compile(r"^\(([^)]*)\) (\w+)$")


def split_op_output(stdout: str) -> dict:
    """``print(out)`` and ``print(out.shape, out.dtype)`` for torch then NumPy, or their 'refuses' lines."""
    found: dict = {}
    block: list[str] = []
    for line in stdout.rstrip("\n").split("\n"):
        if line.startswith(("torch refuses:", "NumPy refuses:")):
            found[line.split()[0].lower()] = "refused"
            block = []
        elif (match := SHAPE_TORCH.match(line)) and "torch" not in found:
            found["torch"] = ("\n".join(block), [int(s) for s in match[1].split(",") if s.strip()], match[2])
            block = []
        elif (match := SHAPE_NUMPY.match(line)) and "torch" in found:
            found["numpy"] = ("\n".join(block), [int(s) for s in match[1].split(",") if s.strip()], match[2])
            block = []
        else:
            block.append(line)
    return found


@pytest.mark.parametrize("name", list(PANEL_STATES))
def test_build_panels_print_what_they_show(panels, name):
    states, printed = panels
    for part in ("build_torch", "build_numpy"):
        panel = states[name][part]
        shown = uncommented(panel)
        assert shown and printed[f"{name}|{part}"].rstrip("\n") == shown, (part, panel)
        for line in panel.split("\n"):  # every line is code or a comment: the whole panel pastes and runs
            assert not line.startswith(("tensor(", "[", " ")) or line.startswith("#") or "=" in line, line


@pytest.mark.parametrize("name", list(PANEL_STATES))
def test_op_panel_prints_what_the_page_shows(panels, name):
    states, printed = panels
    state = states[name]
    found = split_op_output(printed[f"{name}|op"])
    torch_lines = [line for line in state["shape_lines"] if "· device" in line]
    numpy_lines = [line for line in state["shape_lines"][2:] if "· device" not in line]
    for library, lines in (("torch", torch_lines), ("numpy", numpy_lines)):
        if found.get(library) == "refused":
            assert "Raises an error:" in state["errors"] and not (library == "torch" and torch_lines), library
            continue
        text, shape, dtype = found[library]
        assert text in state["outputs"], (library, text, state["outputs"])
        assert f"shape `{shape}` · dtype `{dtype}`" in lines[0], (library, lines)


def test_the_device_and_sharing_panels_print_what_the_page_says(panels):
    states, printed = panels
    from playground.device import cuda_available

    device = printed["device"].split()
    assert device[0] == str(cuda_available()) and device[-1] == ("cuda:0" if cuda_available() else "cpu")
    share = printed["share"].strip().split("\n")
    outputs = states["course pow"]["outputs"]
    assert numbers(share[0]) == numbers(outputs[-2]) and numbers(share[1]) == numbers(outputs[-1])


def test_multi_line_results_are_commented_on_every_line(panels):
    """Issue 11: only the first line of a multi-line result was commented, so pasting the panel failed."""
    states, printed = panels
    panel = states["ones to a power, multi-line"]["build_torch"]
    assert uncommented(panel).count("\n") >= 5 and printed["ones to a power, multi-line|build_torch"].count("\n") >= 6


# ---- issue 11 and 12 faults on this page -------------------------------------------------------------------

def test_the_literal_survives_made_by_going_to_zeros_ones_and_back(tensor_lab):
    """Issue 11: the literal box was wiped after "made by" went literal -> zeros -> ones -> literal."""
    at = tensor_lab
    at.text_input(key="tl_literal").set_value("[[7, 8], [9, 10]]").run()
    at.radio(key="tl_op").set_value("sum").run()  # the exponent box is not drawn now
    for source in ("zeros", "ones", "literal"):
        at.selectbox(key="tl_source").set_value(source).run()
    assert at.text_input(key="tl_literal").value == "[[7, 8], [9, 10]]"
    assert "tensor(34.)" in shown(at)
    at.text_input(key="tl_exponent") if False else at.radio(key="tl_op").set_value("pow").run()
    assert at.text_input(key="tl_exponent").value == "2"


def test_a_4301_digit_exponent_is_a_sentence_and_the_rest_of_the_page_stays(tensor_lab):
    """Issue 12: int() of 4,301 digits raised past the handler and everything below "2. Choose" vanished."""
    at = tensor_lab
    before = [h.value for h in at.subheader]
    at.session_state["tl_exponent"] = "9" * 4_301  # the box keeps 32 characters (max_chars); the logic checks too
    at.run()
    no_traceback(at)
    assert any("Keep the exponent between -64 and 64" in e.value for e in at.error)
    assert [h.value for h in at.subheader][:2] == before[:2] and "Device" in [h.value for h in at.subheader]
    assert any(m.value.startswith("| what | PyTorch | NumPy |") for m in at.markdown)
    assert at.radio(key="tl_op").value == "pow"
    at.text_input(key="tl_exponent").set_value("3").run()
    assert "tensor([ 1.,  8., 27., 64.])" in shown(at)


def test_every_box_has_a_length_limit():
    from playground import limits
    from tests.app.conftest import open_page

    at = open_page("app.py")
    assert at.text_input(key="tl_literal").proto.max_chars == limits.MAX_LITERAL_CHARS
    assert at.text_input(key="tl_exponent").proto.max_chars == limits.MAX_EXPONENT_CHARS
    assert at.text_input(key="tl_share_values").proto.max_chars == limits.MAX_NUMBER_LIST_CHARS
    at.selectbox(key="tl_source").set_value("zeros").run()
    assert at.text_input(key="tl_shape").proto.max_chars == limits.MAX_SHAPE_CHARS
    at.radio(key="tl_op").set_value("reshape").run()
    assert at.text_input(key="tl_new_shape").proto.max_chars == limits.MAX_SHAPE_CHARS


def test_the_sidebar_seed_seeds_the_random_tensors(tensor_lab):
    import torch

    at = tensor_lab
    at.selectbox(key="tl_source").set_value("randn").run()
    at.text_input(key="tl_shape").set_value("2, 3").run()
    for seed in (0, 7):
        at.sidebar.number_input(key="global_seed").set_value(seed).run()
        expected = str(torch.randn((2, 3), generator=torch.Generator().manual_seed(seed)))
        panel = next(c.value for c in at.code if c.language == "python" and "print(x)\n#" in c.value)
        assert f"manual_seed({seed})" in panel and "\n".join(f"# {line}" for line in expected.split("\n")) in panel


# ---- an operation is one row (issue 21 item 6): a row added at test time reaches the page --------------------


def _added_rows():
    """transpose (two dims) and stack (several tensors), each only a row: arguments, calls, code, picture, size."""
    import numpy as np
    import torch

    from playground.tensors import ops, shape_picture

    dim_arg = ops.Argument("dim0", "dim", "dim0", 0, parse=ops.parse_dim)
    return (
        ops.Op("transpose", (dim_arg, ops.Argument("dim1", "dim", "dim1", 1, parse=ops.parse_dim)),
               lambda x, o, a: x.transpose(a.dim0, a.dim1),
               lambda x, o, a: np.swapaxes(x, a.dim0, a.dim1),
               lambda a: f"x.transpose({a.dim0}, {a.dim1})",
               lambda a: f"np.swapaxes(x_np, {a.dim0}, {a.dim1})",
               "torch: x.transpose(d0, d1) · NumPy: np.swapaxes(a, d0, d1).",
               ops.same_size, lambda shapes, out, a: shape_picture.reshaped_rows(shapes, out)),
        ops.Op("stack", (ops.Argument("dim", "dim", "dim", 0, parse=ops.parse_dim),
                         ops.Argument("stack_count", "tensors", "tensors to stack", 2, choices=(2, 3),
                                      parse=ops.parse_tensor_count)),
               lambda x, o, a: torch.stack([x, *o], dim=a.dim),
               lambda x, o, a: np.stack([x, *o], axis=a.dim),
               lambda a: f"torch.stack([{', '.join('xyz'[: a.stack_count])}], dim={a.dim})",
               lambda a: f"np.stack([{', '.join(n + '_np' for n in 'xyz'[: a.stack_count])}], axis={a.dim})",
               "torch: torch.stack(tensors, dim=d) · NumPy: np.stack(arrays, axis=d).",
               ops.joined_size, lambda shapes, out, a: shape_picture.joined_rows(shapes, out, 0)),
    )


@pytest.fixture
def with_added_rows(monkeypatch):
    from playground.tensors import ops

    for row in _added_rows():
        monkeypatch.setitem(ops.OP_TABLE, row.name, row)


def test_an_op_row_added_at_test_time_reaches_the_page(with_added_rows, tmp_path):
    from tests.app.conftest import open_page

    at = open_page("app.py")
    assert "transpose" in at.radio(key="tl_op").options and "stack" in at.radio(key="tl_op").options
    at.selectbox(key="tl_source").set_value("arange").run()
    at.text_input(key="tl_shape").set_value("2, 3").run()
    at.radio(key="tl_op").set_value("transpose").run()
    at.number_input(key="tl_dim1").set_value(-1).run()  # its widgets are drawn from the row
    no_traceback(at)
    assert at.success[0].value.startswith("Same values, same shape [3, 2]")
    code = next(c.value for c in at.code if "x.transpose(0, -1)" in c.value)
    assert "np.swapaxes(x_np, 0, -1)" in code and any('data-role="reshaped"' in svg for svg in svg_images(at))
    printed = run_shown({"op": code}, tmp_path)["op"]  # the code runs as shown and prints the page's result
    assert "torch.Size([3, 2]) torch.float32" in printed and "(3, 2) float32" in printed

    at.radio(key="tl_op").set_value("stack").run()
    at.radio(key="tl_stack_count").set_value(3).run()
    at.text_input(key="tl_cat1_shape").set_value("2, 3").run()
    at.text_input(key="tl_cat2_shape").set_value("2, 3").run()
    no_traceback(at)
    assert at.success[0].value.startswith("Same values, same shape [3, 2, 3]")
    # Its size rule is enforced: three tensors of 4,000 would stack into 12,000 numbers.
    for key in ("tl_shape", "tl_cat1_shape", "tl_cat2_shape"):
        at.text_input(key=key).set_value("4000").run()
    no_traceback(at)
    assert any("would make a result of 12,000 numbers; the limit here is 10,000" in e.value for e in at.error)


def test_an_empty_tensor_summed_into_a_large_one_is_refused_on_the_page(tensor_lab):
    """Issue 25: zeros [0, 10000, 10000] is empty, but its sum along dim 0 is 10^8 numbers: refused, unmade."""
    at = tensor_lab
    at.selectbox(key="tl_source").set_value("zeros").run()
    at.text_input(key="tl_shape").set_value("0, 10000, 10000").run()
    at.radio(key="tl_op").set_value("sum").run()
    at.checkbox(key="tl_all_dims").uncheck().run()
    at.number_input(key="tl_dim").set_value(0).run()
    no_traceback(at)
    assert any("would make a result of 100,000,000 numbers" in e.value for e in at.error)
    assert not at.success
    at.text_input(key="tl_shape").set_value("0, 100000000").run()
    assert any("over the limit of 10,000 for each size" in e.value for e in at.error)
