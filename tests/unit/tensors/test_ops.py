"""Each Tensor Lab op against NumPy on many shapes, and each known difference asserted explicitly."""

from __future__ import annotations

import contextlib
import io
import runpy

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from playground.errors import PlaygroundError
from playground.tensors.build import TensorSpec, build, sharing_demo
from playground.tensors.literal import parse_shape
from playground.tensors.ops import OpSpec, first_difference, parse_exponent, parse_new_shape, run_twin
from playground.tensors.shape_picture import (
    joined_rows,
    reduced_rows,
    shape_picture,
    squeeze_rows,
    unsqueeze_rows,
)

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple)


def randn(shape, seed=0, name="x"):
    return build(TensorSpec(source="randn", shape=shape, seed=seed), name)


@given(shape=shapes, data=st.data())
@settings(max_examples=80, deadline=None)
def test_reductions_agree_with_numpy(shape, data):
    op = data.draw(st.sampled_from(["sum", "mean"]))
    dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    keepdim = data.draw(st.booleans())
    x = randn(shape, seed=data.draw(st.integers(0, 1000)))
    result = run_twin(x, OpSpec(op=op, dim=dim, keepdim=keepdim))
    assert result.verdict.same, result.verdict
    expected = getattr(np, op)(x.array, axis=dim, keepdims=keepdim)
    assert result.torch_out.shape == expected.shape
    np.testing.assert_allclose(result.torch_out.value, expected, rtol=1e-5, atol=1e-6)


@given(shape=shapes, data=st.data())
@settings(max_examples=80, deadline=None)
def test_squeeze_unsqueeze_agree_where_both_allow(shape, data):
    x = randn(shape)
    dim = data.draw(st.integers(-len(shape) - 1, len(shape)))
    result = run_twin(x, OpSpec(op="unsqueeze", dim=dim))
    assert result.verdict.same
    assert result.torch_out.shape == np.expand_dims(x.array, dim).shape
    sq_dim = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    squeezed = run_twin(x, OpSpec(op="squeeze", dim=sq_dim))
    if sq_dim is None or shape[sq_dim] == 1:
        assert squeezed.verdict.same
        assert squeezed.torch_out.shape == np.squeeze(x.array, axis=sq_dim).shape
    else:  # the known difference: a no-op in torch, an error in NumPy
        assert squeezed.torch_out.shape == shape
        assert not squeezed.numpy_out.ok
        assert "no-op" in squeezed.verdict.reasons[0]


@given(base=shapes, data=st.data())
@settings(max_examples=60, deadline=None)
def test_cat_agrees_with_concatenate(base, data):
    dim = data.draw(st.integers(-len(base), len(base) - 1))
    count = data.draw(st.sampled_from([2, 3]))
    sizes = [data.draw(st.integers(1, 3)) for _ in range(count)]
    tensors = []
    for i, size in enumerate(sizes):
        shape = list(base)
        shape[dim] = size
        tensors.append(randn(tuple(shape), seed=i, name="xyz"[i]))
    result = run_twin(tensors[0], OpSpec(op="cat", dim=dim, cat_count=count), tuple(tensors[1:]))
    assert result.verdict.same
    expected = np.concatenate([t.array for t in tensors], axis=dim)
    np.testing.assert_array_equal(result.torch_out.value, expected)


@given(shape=shapes, exponent=st.sampled_from(["2", "3", "0.5", "-1", "1.5"]))
@settings(max_examples=60, deadline=None)
def test_pow_on_floats_agrees(shape, exponent):
    x = build(TensorSpec(source="rand", shape=shape, seed=3))
    result = run_twin(x, OpSpec(op="pow", exponent=exponent))
    assert result.verdict.same, result.verdict
    np.testing.assert_allclose(result.torch_out.value, np.power(x.array, parse_exponent(exponent)), rtol=1e-5)


@given(shape=shapes, data=st.data())
@settings(max_examples=60, deadline=None)
def test_reshape_and_view_agree_on_contiguous(shape, data):
    x = randn(shape)
    numel = int(np.prod(shape))
    target = data.draw(st.sampled_from([f"{numel}", f"-1, {shape[0]}" if numel % shape[0] == 0 else f"{numel}", "1, -1"]))
    for op in ("reshape", "view"):
        result = run_twin(x, OpSpec(op=op, new_shape=target))
        assert result.verdict.same
        assert result.torch_out.shape == np.reshape(x.array, parse_new_shape(target)).shape


def test_course_numbers():
    x = build(TensorSpec(literal="[1, 2, 3, 4]", dtype="float32"))
    assert run_twin(x, OpSpec(op="pow", exponent="2")).torch_out.value.tolist() == [1, 4, 9, 16]
    assert run_twin(x, OpSpec(op="sum")).torch_out.value.item() == 10
    assert run_twin(x, OpSpec(op="mean")).torch_out.value.item() == 2.5
    assert run_twin(randn((1, 2, 3)), OpSpec(op="squeeze", dim=0)).torch_out.shape == (2, 3)
    assert run_twin(randn((2, 3)), OpSpec(op="unsqueeze", dim=1)).torch_out.shape == (2, 1, 3)
    cat = run_twin(randn((2, 1, 3)), OpSpec(op="cat", dim=1, cat_count=3), (randn((2, 3, 3), 1, "y"), randn((2, 2, 3), 2, "z")))
    assert cat.torch_out.shape == (2, 6, 3)


def test_mean_of_integers_errors_in_torch_but_not_numpy():
    x = build(TensorSpec(literal="[1, 2, 3, 4]", dtype="int64"))
    result = run_twin(x, OpSpec(op="mean"))
    assert not result.torch_out.ok and "mean()" in result.torch_out.error
    assert result.numpy_out.ok and result.numpy_out.dtype == "float64" and result.numpy_out.value == 2.5
    assert "x.float()" in result.verdict.reasons[0]


def test_default_float_dtypes_differ():
    x = build(TensorSpec(literal="[1.5, 2.5]", dtype="inferred"))
    assert x.tensor.dtype == torch.float32 and x.array.dtype == np.float64
    result = run_twin(x, OpSpec(op="sum"))
    assert not result.verdict.same
    assert "float32" in result.verdict.reasons[0] and "float64" in result.verdict.reasons[0]


def test_int_to_float_power_promotes_differently():
    x = build(TensorSpec(literal="[1, 2, 3]", dtype="int64"))
    result = run_twin(x, OpSpec(op="pow", exponent="0.5"))
    assert result.torch_out.dtype == "float32" and result.numpy_out.dtype == "float64"
    assert any("default float32" in r for r in result.verdict.reasons)


def test_negative_integer_power_refused_by_both():
    x = build(TensorSpec(literal="[1, 2, 3]", dtype="int64"))
    result = run_twin(x, OpSpec(op="pow", exponent="-1"))
    assert not result.torch_out.ok and not result.numpy_out.ok
    assert result.verdict.headline == "Both libraries refuse this operation."


def test_view_after_transpose_fails_with_reason_and_fix():
    x = build(TensorSpec(source="arange", shape=(2, 3), dtype="float32"))
    result = run_twin(x, OpSpec(op="view", new_shape="6", transpose=True))
    assert not result.torch_out.ok and "view size is not compatible" in result.torch_out.error
    assert result.numpy_out.ok
    assert "contiguous" in result.verdict.reasons[0]
    assert result.fix is not None and result.fix.value.tolist() == [0, 3, 1, 4, 2, 5]
    assert "is_contiguous() is False" in result.notes[0]
    reshaped = run_twin(x, OpSpec(op="reshape", new_shape="6", transpose=True))
    assert reshaped.verdict.same and reshaped.torch_out.value.tolist() == [0, 3, 1, 4, 2, 5]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (OpSpec(op="unsqueeze", dim=5), "Dimension out of range"),
        (OpSpec(op="sum", dim=3), "out of range"),
    ],
)
def test_dim_out_of_range_is_reported_by_both(spec, words):
    result = run_twin(randn((2, 3)), spec)
    assert not result.torch_out.ok and words in result.torch_out.error
    assert not result.numpy_out.ok


def test_cat_shape_mismatch_is_reported():
    result = run_twin(randn((2, 3)), OpSpec(op="cat", dim=0), (randn((2, 4), 1, "y"),))
    assert not result.torch_out.ok and "Sizes of tensors must match" in result.torch_out.error
    assert not result.numpy_out.ok


@pytest.mark.parametrize("text", ["two", "2x", "", "1e400", "100", "__import__('os')"])
def test_bad_exponents(text):
    with pytest.raises(PlaygroundError):
        parse_exponent(text)


@pytest.mark.parametrize("text", ["a, b", "-1, -1", "-2, 3", "1,2,3,4,5,6,7", "100000, 100000"])
def test_bad_new_shapes(text):
    with pytest.raises(PlaygroundError):
        parse_new_shape(text)


@pytest.mark.parametrize("text", ["100000, 100000", "1,1,1,1,1,1,1", "-3", "2.5"])
def test_constructor_shapes_over_limits_are_refused(text):
    with pytest.raises(PlaygroundError):
        parse_shape(text)


def test_first_difference_locates_the_index():
    assert first_difference(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.5, 3.0]))[0] == (1,)
    assert first_difference(np.array([np.nan]), np.array([np.nan])) is None


@pytest.mark.parametrize(
    ("spec", "others"),
    [
        (OpSpec(op="pow", exponent="2"), ()),
        (OpSpec(op="sum", dim=1, keepdim=True), ()),
        (OpSpec(op="mean", dim=None, keepdim=True), ()),
        (OpSpec(op="squeeze", dim=0), ()),
        (OpSpec(op="view", new_shape="3, 2", transpose=True), ()),
        (OpSpec(op="cat", dim=0), ("y",)),
    ],
)
def test_generated_code_runs_and_prints_the_shown_shape(spec, others):
    x = randn((2, 3))
    built_others = tuple(randn((2, 3), 1, name) for name in others)
    result = run_twin(x, spec, built_others)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        namespace = runpy.run_path(_write(result.code))
    if result.torch_out.ok:
        assert tuple(namespace["out"].shape) == result.torch_out.shape
        np.testing.assert_allclose(namespace["out"].numpy(), result.torch_out.value, rtol=1e-6)
    else:
        assert "torch refuses" in buffer.getvalue()


def _write(code: str) -> str:
    import tempfile

    handle = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
    handle.write(code)
    handle.close()
    return handle.name


def test_from_numpy_shares_and_tensor_copies():
    demo = sharing_demo([1, 2, 3], index=1, new_value=9)
    assert demo.from_numpy_shares and not demo.tensor_shares
    assert demo.from_numpy_after == [1, 9, 3] and demo.tensor_after == [1, 2, 3]


def test_shape_picture_roles():
    inputs, outputs = unsqueeze_rows(((2, 3),), (2, 1, 3), 1)
    assert [b.role for b in outputs[0].blocks] == ["kept", "new", "kept"]
    inputs, outputs = squeeze_rows(((1, 2, 3),), (2, 3), 0)
    assert [b.role for b in inputs[0].blocks] == ["removed", "kept", "kept"]
    inputs, outputs = reduced_rows(((2, 3),), (2, 1), 1, True)
    assert inputs[0].blocks[1].role == "reduced" and outputs[0].blocks[1].role == "reduced"
    inputs, outputs = joined_rows(((2, 1, 3), (2, 3, 3), (2, 2, 3)), (2, 6, 3), 1)
    assert [size for size, _ in outputs[0].blocks[1].parts] == [1, 3, 2]
    assert len({colour for _, colour in outputs[0].blocks[1].parts}) == 3
    svg = shape_picture(reduced_rows(((2, 3),), (), None, False))
    assert 'data-role="scalar"' in svg and svg.startswith("<svg")
    # Each row draws its own picture: the result's picture is the row's.
    picture = run_twin(randn((1, 2, 3)), OpSpec(op="squeeze", dim=0)).picture()
    assert picture.count('data-role="removed"') == 1 and "squeeze: shapes before and after" in picture


def test_device_choice_is_respected():
    result = run_twin(randn((2, 2)), OpSpec(op="pow"), device="cpu")
    assert result.torch_out.device == "cpu"
    if torch.cuda.is_available():
        gpu = run_twin(randn((2, 2)), OpSpec(op="pow"), device="cuda:0")
        assert gpu.torch_out.device.startswith("cuda")
        assert "x = x.to('cuda:0')" in gpu.code


def test_the_reference_table_in_markdown_reads_back_cell_for_cell():
    import re

    from playground.tensors.ops import REFERENCE_HEADER, REFERENCE_TABLE, reference_markdown

    lines = reference_markdown().splitlines()
    assert lines[1] == "|---|---|---|" and len(lines) == 2 + len(REFERENCE_TABLE)

    def cells(line: str) -> tuple[str, ...]:  # split on unescaped pipes, then undo the escapes
        parts = re.split(r"(?<!\\)\|", line)[1:-1]
        return tuple(re.sub(r"\\(.)", r"\1", part.strip()) for part in parts)

    assert cells(lines[0]) == REFERENCE_HEADER
    assert [cells(line) for line in lines[2:]] == list(REFERENCE_TABLE)
    assert not re.search(r"(?<!\\)[*_`\[\]]", reference_markdown())  # nothing a Markdown renderer would act on


def test_a_spec_takes_only_its_rows_arguments():
    """OpSpec holds the widgets' values for its row: another row's argument, or an unknown op, is a sentence."""
    with pytest.raises(PlaygroundError, match="sum takes no `exponent`"):
        OpSpec("sum", exponent="2")
    with pytest.raises(PlaygroundError, match="Unknown operation"):
        OpSpec("eval")
    spec = OpSpec.from_dict({"op": "sum", "dim": 1, "exponent": "3", "junk": 1})
    assert spec == OpSpec("sum", dim=1) and spec.keepdim is False and spec.with_(keepdim=True).keepdim is True
    assert OpSpec.from_dict(spec.to_dict()) == spec and hash(spec) == hash(OpSpec("sum", dim=1))
    with pytest.raises(PlaygroundError, match="dim must be a whole number"):
        run_twin(randn((2, 3)), OpSpec("sum", dim=2.5))
    with pytest.raises(PlaygroundError, match="cat takes 3 tensors here"):
        run_twin(randn((2, 3)), OpSpec("cat", dim=0, cat_count=3), (randn((2, 3), 1, "y"),))
