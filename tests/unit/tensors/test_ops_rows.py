"""Every row of the Tensor Lab's op table, each way its controls can be set, against torch and NumPy called by
hand: the two results, the script the code panel shows (executed: it must print what the page shows), the fix for
view, the explanation of each known difference, and the spec a page keeps."""

from __future__ import annotations

import ast
import contextlib
import io
import warnings

import numpy as np
import pytest
import torch

from playground import limits
from playground.errors import PlaygroundError
from playground.tensors import ops
from playground.tensors.build import TensorSpec, build
from playground.tensors.ops import OP_TABLE, Argument, OpSpec, parse_dim, parse_exponent, run_twin
from tests.unit.tensors.sentences import assert_plain_sentence


def arange(shape, name="x", dtype="float32"):
    return build(TensorSpec(source="arange", shape=shape, dtype=dtype), name)


def run_code(code: str) -> tuple[dict, str]:
    names: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<code panel>", "exec"), names)  # noqa: S102 - the shown script is the claim under test
    return names, out.getvalue()


def by_hand(op: str, values: dict, x: torch.Tensor, others: list[torch.Tensor]):
    """The torch call and the NumPy call a person would write for this row (None where the library refuses)."""
    a, rest = x.numpy(), [o.numpy() for o in others]
    dim, keepdim = values.get("dim"), values.get("keepdim", False)
    shape = tuple(int(s) for s in str(values.get("new_shape", "")).split(",") if s.strip())
    if values.get("transpose"):
        x, a = x.transpose(0, 1), np.swapaxes(a, 0, 1)
    calls = {
        "squeeze": (lambda: x.squeeze() if dim is None else x.squeeze(dim),
                    lambda: np.squeeze(a) if dim is None else np.squeeze(a, axis=dim)),
        "unsqueeze": (lambda: x.unsqueeze(dim), lambda: np.expand_dims(a, dim)),
        "cat": (lambda: torch.cat([x, *others], dim=dim), lambda: np.concatenate([a, *rest], axis=dim)),
        "pow": (lambda: x.pow(float(values["exponent"]) if "." in values["exponent"] else int(values["exponent"])),
                lambda: np.power(a, float(values["exponent"]) if "." in values["exponent"] else int(values["exponent"]))),
        "sum": (lambda: (x.sum(dim=tuple(range(x.dim())), keepdim=True) if keepdim else x.sum()) if dim is None
                else x.sum(dim, keepdim=keepdim),
                lambda: np.sum(a, axis=dim, keepdims=keepdim)),
        "mean": (lambda: (x.mean(dim=tuple(range(x.dim())), keepdim=True) if keepdim else x.mean()) if dim is None
                 else x.mean(dim, keepdim=keepdim),
                 lambda: np.mean(a, axis=dim, keepdims=keepdim)),
        "reshape": (lambda: x.reshape(shape), lambda: np.reshape(a, shape)),
        "view": (lambda: x.view(shape), lambda: np.reshape(a, shape)),
    }
    results = []
    for call in calls[op]:
        try:
            results.append(call())
        except (RuntimeError, ValueError, IndexError, np.exceptions.AxisError):
            results.append(None)
    return results


CASES = [
    ("squeeze", {"dim": None}, (1, 3, 1), []),
    ("squeeze", {"dim": 0}, (1, 3, 1), []),
    ("squeeze", {"dim": -1}, (1, 3, 1), []),
    ("squeeze", {"dim": 1}, (1, 3, 1), []),
    ("unsqueeze", {"dim": 0}, (2, 3), []),
    ("unsqueeze", {"dim": -1}, (2, 3), []),
    ("unsqueeze", {"dim": 2}, (2, 3), []),
    ("cat", {"dim": 0}, (2, 3), [(1, 3)]),
    ("cat", {"dim": -1, "cat_count": 3}, (2, 3), [(2, 1), (2, 2)]),
    ("cat", {"dim": 1, "cat_count": 3}, (2, 3), [(2, 3), (3, 3)]),
    ("pow", {"exponent": "2"}, (2, 3), []),
    ("pow", {"exponent": "0.5"}, (2, 3), []),
    ("pow", {"exponent": "-1.5"}, (4,), []),
    ("sum", {"dim": None}, (2, 3), []),
    ("sum", {"dim": None, "keepdim": True}, (2, 3), []),
    ("sum", {"dim": 1}, (2, 3), []),
    ("sum", {"dim": -2, "keepdim": True}, (2, 3), []),
    ("mean", {"dim": None}, (2, 3, 2), []),
    ("mean", {"dim": None, "keepdim": True}, (2, 3, 2), []),
    ("mean", {"dim": 2}, (2, 3, 2), []),
    ("mean", {"dim": 0, "keepdim": True}, (2, 3, 2), []),
    ("reshape", {"new_shape": "3, 2"}, (2, 3), []),
    ("reshape", {"new_shape": "6"}, (2, 3), []),
    ("reshape", {"new_shape": "-1, 3, 1"}, (2, 3), []),
    ("reshape", {"new_shape": ""}, (1,), []),
    ("reshape", {"new_shape": "6", "transpose": True}, (2, 3), []),
    ("view", {"new_shape": "3, 2"}, (2, 3), []),
    ("view", {"new_shape": "6", "transpose": True}, (2, 3), []),
    ("view", {"new_shape": "4"}, (2, 3), []),
]


@pytest.mark.parametrize(("op", "values", "shape", "other_shapes"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_row_matches_torch_and_numpy_by_hand_and_its_code_prints_it(op, values, shape, other_shapes):
    x = arange(shape)
    others = tuple(arange(s, "yz"[i]) for i, s in enumerate(other_shapes))
    result = run_twin(x, OpSpec(op, **values), others)
    t_hand, n_hand = by_hand(op, values, x.tensor.clone(), [o.tensor for o in others])
    for outcome, hand in ((result.torch_out, t_hand), (result.numpy_out, n_hand)):
        if hand is None:
            assert not outcome.ok and outcome.error and outcome.value is None
            continue
        assert outcome.ok and outcome.shape == tuple(hand.shape)
        np.testing.assert_allclose(outcome.value, np.asarray(hand), rtol=1e-6)
        assert outcome.printed == str(hand)
    assert result.torch_out.dtype == (str(t_hand.dtype).removeprefix("torch.") if t_hand is not None else None)
    assert result.numpy_out.dtype == (n_hand.dtype.name if n_hand is not None else None)
    assert result.naming_note == OP_TABLE[op].note and result.output_shape == (
        tuple(t_hand.shape) if t_hand is not None else tuple(n_hand.shape) if n_hand is not None else None)
    assert result.input_shapes[1:] == tuple(other_shapes)

    names, printed = run_code(result.code)
    for name, hand, library in (("out", t_hand, "torch"), ("out_np", n_hand, "NumPy")):
        if hand is None:
            assert f"{library} refuses:" in printed and name not in names
            assert f"    {name} = " in result.code and "try:" in result.code
        else:
            assert type(names[name]) is type(hand) and tuple(names[name].shape) == tuple(hand.shape)
            assert str(names[name].dtype) == str(hand.dtype)
            np.testing.assert_allclose(np.asarray(names[name]), np.asarray(hand), rtol=1e-6)
            assert f"{hand!s}\n{names[name].shape} {names[name].dtype}\n" in printed
    if t_hand is not None and n_hand is not None:
        assert "try:" not in result.code and "refuses" not in printed


def test_view_after_transpose_offers_the_contiguous_fix_as_running_code():
    x = arange((2, 3))
    result = run_twin(x, OpSpec("view", new_shape="6", transpose=True))
    expected = x.tensor.transpose(0, 1).contiguous().view(6)
    assert result.fix is not None and result.fix.ok and np.array_equal(result.fix.value, expected.numpy())
    assert result.fix_code == "out = x.transpose(0, 1).contiguous().view(6)"
    names, _ = run_code(f"import torch\n{x.torch_code}\n{result.fix_code}")
    assert torch.equal(names["out"], expected)
    note = result.notes[0]
    assert "[3, 2]" in note and "[1, 3]" in note and "is False" in note
    for working in (OpSpec("view", new_shape="6"), OpSpec("reshape", new_shape="6", transpose=True)):
        done = run_twin(x, working)
        assert done.fix is None and done.fix_code == ""


def test_transpose_of_a_square_tensor_notes_its_strides():
    result = run_twin(arange((1, 3)), OpSpec("reshape", new_shape="3", transpose=True))
    assert result.notes == ("After transpose(0, 1) the tensor has shape [3, 1] and strides [1, 3]: is_contiguous() is True.",)
    assert run_twin(arange((2, 3)), OpSpec("reshape", new_shape="6")).notes == ()


@pytest.mark.parametrize(("x", "spec", "others", "says"), [
    (arange((2, 3)), OpSpec("squeeze", dim=1), (), ["dim 1 has size 3", "no-op", "NumPy says:"]),
    (arange((2, 3)), OpSpec("squeeze", dim=-2), (), ["dim -2 has size 2"]),
    (arange((2, 3), dtype="int64"), OpSpec("mean"), (), ["this one is int64", "x.float()", "torch says:"]),
    (arange((2, 3)), OpSpec("view", new_shape="6", transpose=True), (), ["view never copies", "torch says:"]),
    (arange((2, 3), dtype="int64"), OpSpec("pow", exponent="0.5"), (), ["float32", "float64", "integer tensor"]),
    (arange((4,), dtype="bool"), OpSpec("pow", exponent="0.5"), (), ["integer tensor"]),
    (arange((2,), dtype="float32"), OpSpec("cat", dim=0), (arange((2,), "y", "int64"),), ["promote them differently"]),
    (arange((2,), dtype="int64"), OpSpec("cat", dim=0), (arange((2,), "y", "float32"),), ["promote them differently"]),
])
def test_each_known_difference_is_explained_by_its_own_reason(x, spec, others, says):
    verdict = run_twin(x, spec, others).verdict
    assert not verdict.same
    text = " ".join(verdict.reasons)
    for words in says:
        assert words in text, (words, text)
    assert "They started different" not in text  # both started with the same dtype: the reason is the op's


def library_error(call) -> str:
    """The error torch or NumPy raises for ``call``, as the page quotes it (type and message)."""
    with pytest.raises((RuntimeError, ValueError)) as info:
        call()
    return f"{type(info.value).__name__}: {info.value}"


def test_each_explanation_reads_as_written_then_quotes_the_library_called_by_hand():
    x, xi = torch.arange(6.0).reshape(2, 3), torch.arange(6).reshape(2, 3)
    view = run_twin(arange((2, 3)), OpSpec("view", new_shape="6", transpose=True)).verdict.reasons
    assert view == (
        "view never copies: it reuses the same memory with new strides, which is impossible when the tensor is not "
        "contiguous (as after transpose). Call .contiguous() first (a copy), or use .reshape(), which copies only when "
        f"it must. np.reshape copies silently. torch says: {library_error(lambda: x.t().view(6))}",)
    squeeze = run_twin(arange((2, 3)), OpSpec("squeeze", dim=1)).verdict.reasons
    assert squeeze == (
        "dim 1 has size 3, not 1. torch's squeeze(dim) leaves such a dim alone (a no-op, shape unchanged); np.squeeze "
        f"refuses it. NumPy says: {library_error(lambda: np.squeeze(x.numpy(), axis=1))}",)
    mean = run_twin(arange((2, 3), dtype="int64"), OpSpec("mean")).verdict.reasons
    assert mean == (
        "torch.mean needs a floating-point tensor and this one is int64: convert it first with x.float(). NumPy "
        f"quietly computes the mean in float64. torch says: {library_error(lambda: xi.mean())}",)
    power = run_twin(arange((2, 3), dtype="int64"), OpSpec("pow", exponent="0.5")).verdict.reasons
    torch_dtype, numpy_dtype = str(xi.pow(0.5).dtype).removeprefix("torch."), np.power(xi.numpy(), 0.5).dtype
    assert power == (f"Dtypes differ: torch {torch_dtype} vs NumPy {numpy_dtype}. An integer tensor raised to a float "
                     "exponent becomes torch's default float32; NumPy promotes to float64.",)


def test_a_difference_from_the_start_is_named_before_the_ops_reason():
    x = build(TensorSpec(literal="[1.5, 2.5]", dtype="inferred"))  # torch float32, NumPy float64
    text = " ".join(run_twin(x, OpSpec("pow", exponent="2")).verdict.reasons)
    assert "torch.tensor made float32 but np.array made float64" in text


def test_a_difference_without_a_known_reason_gives_the_libraries_own_words():
    verdict = run_twin(arange((2, 3), dtype="int64"), OpSpec("pow", exponent="-1")).verdict
    assert verdict.headline == "Both libraries refuse this operation."
    assert verdict.reasons[0].startswith("torch: ") and verdict.reasons[1].startswith("NumPy: ")
    unsqueezed = run_twin(arange((2, 3)), OpSpec("squeeze", dim=None))
    assert unsqueezed.verdict.same and unsqueezed.verdict.reasons == ()


def test_when_only_numpy_gives_a_result_the_picture_shows_its_shape():
    result = run_twin(arange((2, 3), dtype="int64"), OpSpec("mean", dim=1))
    assert not result.torch_out.ok and result.numpy_out.ok and result.output_shape == (2,)
    svg = result.picture()
    assert "out [2]" in svg and 'aria-label="mean: shapes before and after"' in svg


def test_the_result_limit_is_checked_before_either_library_runs():
    big = build(TensorSpec(source="zeros", shape=(0, limits.MAX_TENSOR_SIZE, 2)))
    with pytest.raises(PlaygroundError) as info:
        run_twin(big, OpSpec("sum", dim=0))
    sentence = info.value.sentence
    assert "`x.sum(0)`" in sentence and f"{2 * limits.MAX_TENSOR_SIZE:,}" in sentence
    assert f"[0, {limits.MAX_TENSOR_SIZE}, 2]" in sentence and f"{limits.MAX_TENSOR_ELEMENTS:,}" in sentence
    assert_plain_sentence(sentence)
    at_limit = build(TensorSpec(source="zeros", shape=(0, limits.MAX_TENSOR_SIZE, 1)))
    assert run_twin(at_limit, OpSpec("sum", dim=0)).torch_out.shape == (limits.MAX_TENSOR_SIZE, 1)


@pytest.mark.parametrize(("call", "says"), [
    (lambda: run_twin(arange((3,)), OpSpec("view", new_shape="3", transpose=True)), "at least 2 dimensions"),
    (lambda: run_twin(arange((2, 3)), OpSpec("cat", dim=0)), "cat takes 2 tensors here; it was given 1."),
    (lambda: run_twin(arange((2, 3)), OpSpec("pow"), (arange((2, 3), "y"),)), "pow takes 1 tensors here"),
    (lambda: OpSpec("cat", exponent="2"), "it takes dim, cat_count."),
    (lambda: OpSpec("nope"), "`nope`; choose one of squeeze, unsqueeze, cat, pow, sum, mean, reshape, view."),
    (lambda: OpSpec.from_dict({"op": "nope"}), "Unknown operation `nope`"),
    (lambda: run_twin(arange((2,)), OpSpec("reshape", new_shape="x")), "new shape `x`"),
    (lambda: parse_exponent("1" * 33), "33 characters long"),
    (lambda: parse_exponent("two"), "`two` is not a number"),
    (lambda: parse_exponent("64.5"), "between -64 and 64"),
    (lambda: parse_exponent("-65"), "between -64 and 64"),
    (lambda: parse_dim(8), "from -7 to 7"),
    (lambda: ops.parse_tensor_count(4), "2 or 3 tensors"),
])
def test_each_refusal_is_a_plain_sentence_naming_the_fault(call, says):
    with pytest.raises(PlaygroundError) as info:
        call()
    assert says in info.value.sentence, info.value.sentence
    assert_plain_sentence(info.value.sentence)


def test_the_argument_readers_at_their_edges():
    assert parse_dim(7) == 7 and parse_dim(-7) == -7 and parse_dim(2.0) == 2 and type(parse_dim(2.0)) is int
    for bad in (8, -8, 1.5, True, "1", None):
        with pytest.raises(PlaygroundError):
            parse_dim(bad)
    assert parse_exponent(" 64 ") == 64 and parse_exponent("-64") == -64 and parse_exponent(".5") == 0.5
    assert parse_exponent("0" * 31 + "3") == 3  # 32 characters: at the limit
    assert type(parse_exponent("2")) is int and type(parse_exponent("2.0")) is float
    assert ops.parse_new_shape(" 2 , -1 ") == (2, -1) and ops.parse_new_shape("") == ()


def test_each_row_starts_from_its_widgets_defaults():
    assert OpSpec("squeeze").dim is None and OpSpec("sum").dim is None and OpSpec("mean").dim is None
    assert OpSpec("unsqueeze").dim == 0 and OpSpec("cat").dim == 0 and OpSpec("cat").cat_count == 2
    assert OpSpec("sum").keepdim is False and OpSpec("view").transpose is False and OpSpec("view").new_shape == "2, 2"
    assert OpSpec().op == "pow" and OpSpec().exponent == "2" and OpSpec.from_dict({}) == OpSpec("pow")
    assert ops.defaults("sum") == {"dim": None, "keepdim": False} and ops.defaults("cat") == {"dim": 0, "cat_count": 2}
    labels = {op: [a.all_label for a in OP_TABLE[op].arguments if a.widget == "dim"] for op in ("squeeze", "sum", "mean")}
    assert labels == {"squeeze": ["squeeze every size-1 dim"], "sum": ["sum over all dims"], "mean": ["mean over all dims"]}
    assert [a.name for a in OP_TABLE["sum"].arguments] == ["dim", "keepdim"]
    assert OP_TABLE["cat"].joins.name == "cat_count" and OP_TABLE["pow"].joins is None
    assert OP_TABLE["cat"].joins.choices == tuple(range(2, limits.MAX_CAT_INPUTS + 1))


def test_a_spec_is_a_frozen_value_that_changes_by_copy():
    spec = OpSpec("sum", dim=1)
    assert spec.with_(op="mean") == OpSpec("mean", dim=1) and spec.with_(keepdim=True) == OpSpec("sum", dim=1, keepdim=True)
    assert spec == OpSpec("sum", dim=1) and spec != OpSpec("mean", dim=1) and spec != spec.to_dict()
    with pytest.raises(AttributeError):
        spec.dim = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="^exponent$"):  # names the missing attribute, as Python's own do
        _ = spec.exponent
    assert getattr(spec, "exponent", "none") == "none"
    assert repr(spec) == "OpSpec('sum', dim=1, keepdim=False)" and eval(repr(spec), {"OpSpec": OpSpec}) == spec  # noqa: S307
    assert len({OpSpec("sum", dim=1), OpSpec("sum", dim=1), OpSpec("sum", dim=0)}) == 2


def test_arguments_are_read_by_name_or_attribute_and_a_widget_must_be_known():
    args = ops.resolve(OpSpec("sum", dim=-1, keepdim=1))
    assert args.dim == -1 and args["keepdim"] is True and dict(args) == {"dim": -1, "keepdim": True} and len(args) == 2
    assert repr(args) == "Args({'dim': -1, 'keepdim': True})"
    with pytest.raises(AttributeError, match="^exponent$"):
        _ = args.exponent
    with pytest.raises(KeyError):
        _ = args["exponent"]
    assert Argument("k", "checkbox", "k", False).parse("anything") == "anything"
    with pytest.raises(ValueError, match="slider"):
        Argument("k", "slider", "k", 0)
    assert ops.result_size(OpSpec("sum", dim=0), ((3, 4),)) == 4
    assert ops.result_size(OpSpec("sum", dim=-1), ((3, 4),)) == 3
    assert ops.result_size(OpSpec("sum", dim=5), ((3, 4),)) == 12
    assert ops.result_size(OpSpec("cat", dim=0, cat_count=3), ((3, 4), (1, 4), (2, 4))) == 24


def test_the_code_panel_moves_inputs_to_the_chosen_device():
    x, y = arange((2, 3)), arange((2, 3), "y")
    code = ops.op_code(x, OpSpec("cat", dim=0), (y,), "cuda:0", True, True)
    assert "x = x.to('cuda:0')\ny = y.to('cuda:0')\n" in code and "z = z.to" not in code
    three = ops.op_code(x, OpSpec("cat", dim=0, cat_count=3), (y, arange((2, 3), "z")), "cuda:0", True, True)
    assert "x = x.to('cuda:0')\ny = y.to('cuda:0')\nz = z.to('cuda:0')\n" in three
    assert "x.to(" not in ops.op_code(x, OpSpec("pow"), (), "cpu", True, True)


def test_a_reductions_picture_marks_only_the_dim_it_adds_up_and_keeps_it_with_keepdim():
    kept = run_twin(arange((2, 3)), OpSpec("sum", dim=1, keepdim=True)).picture()
    assert kept.count('data-role="reduced"') == 2 and kept.count('data-role="kept"') == 2  # dim 1 of x and of out
    dropped = run_twin(arange((2, 3)), OpSpec("mean", dim=-1)).picture()
    assert dropped.count('data-role="reduced"') == 1 and dropped.count('data-role="kept"') == 2


def test_what_each_library_prints_is_cut_at_4000_characters():
    result = run_twin(arange((1000,)), OpSpec("pow", exponent="1"))
    by_torch, by_numpy = str(torch.arange(1000.0).pow(1)), str(np.power(np.arange(1000, dtype=np.float32), 1))
    assert len(by_torch) > 4000 and result.torch_out.printed == by_torch[:4000] + "\n..."
    assert len(by_numpy) > 4000 and result.numpy_out.printed == by_numpy[:4000] + "\n..."
    assert ops._short("a" * 4000) == "a" * 4000 and ops._short("a" * 4001) == "a" * 4000 + "\n..."  # at and one past


def test_cat_takes_from_2_to_its_limit_of_tensors_and_no_other_count():
    assert [ops.parse_tensor_count(n) for n in range(2, limits.MAX_CAT_INPUTS + 1)] == [2, 3]  # the limit, 3, pinned
    assert ops.parse_tensor_count(2.0) == 2 and type(ops.parse_tensor_count(2.0)) is int
    for bad in (0, 1, limits.MAX_CAT_INPUTS + 1, True, False, "2", None):
        with pytest.raises(PlaygroundError, match="cat joins 2 or 3 tensors"):
            ops.parse_tensor_count(bad)


def test_numpys_warnings_on_nan_and_inf_stay_inside_the_comparison():
    x = build(TensorSpec(literal="[-1.0, 4.0, 0.0]"))  # sqrt(-1) is NaN, 0 ** -1 is inf: NumPy warns on both
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning escaping to the server's log fails the test
        root, inverse = run_twin(x, OpSpec("pow", exponent="0.5")), run_twin(x, OpSpec("pow", exponent="-1"))
    by_hand = torch.tensor([-1.0, 4.0, 0.0])
    np.testing.assert_array_equal(root.numpy_out.value, by_hand.pow(0.5).numpy())
    np.testing.assert_array_equal(inverse.numpy_out.value, by_hand.pow(-1).numpy())
    assert root.verdict.same and inverse.verdict.same  # NaN equals NaN, inf equals inf


def test_a_one_sided_refusal_with_no_known_reason_quotes_the_library_called_by_hand():
    empty_ints = build(TensorSpec(source="zeros", shape=(0,), dtype="int64"))  # NumPy returns [], torch refuses
    verdict = run_twin(empty_ints, OpSpec("pow", exponent="-1")).verdict
    assert verdict.headline == "NumPy gives a result; torch raises an error."
    assert verdict.reasons == (f"torch says: {library_error(lambda: torch.zeros(0, dtype=torch.int64).pow(-1))}",)
    scalar = build(TensorSpec(source="zeros", shape=()))  # torch's dim 0 of a 0-d tensor is itself; NumPy refuses
    verdict = run_twin(scalar, OpSpec("mean", dim=0)).verdict
    assert verdict.headline == "torch gives a result; NumPy raises an error."
    numpy_error = library_error(lambda: np.mean(np.zeros((), np.float32), axis=0))
    assert verdict.reasons == (f"NumPy says: {numpy_error}",)


def test_an_exponent_in_scientific_notation_reads_with_either_e():
    assert parse_exponent("1E1") == 10.0 == parse_exponent("1e1") and parse_exponent("2.5e-1") == 0.25
    assert parse_exponent("-5E+1") == -50.0


def test_the_numpy_code_gives_reshape_a_tuple_even_for_one_size():
    for text, shape in (("6", (6,)), ("3, 2", (3, 2)), ("", ())):
        code = OP_TABLE["reshape"].numpy_code(ops.resolve(OpSpec("reshape", new_shape=text)))
        call = ast.parse(code).body[0].value
        assert isinstance(call.args[1], ast.Tuple) and ast.literal_eval(call.args[1]) == shape, code


def test_a_cat_past_the_limit_names_each_inputs_shape():
    n = limits.MAX_TENSOR_ELEMENTS
    with pytest.raises(PlaygroundError) as info:
        run_twin(arange((n,)), OpSpec("cat", dim=0), (arange((n,), "y"),))
    assert f"`torch.cat([x, y], dim=0)` on shape [{n}] and [{n}] would make a result of {2 * n:,} numbers" in (
        info.value.sentence)
