"""Tensor Lab driven like a user: every operation, the course examples, and each kind of bad input."""

from __future__ import annotations

import pytest

from tests.app.conftest import texts


def shown(at) -> str:
    return texts(at)


def no_traceback(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_opens_on_the_course_tensor(tensor_lab):
    at = tensor_lab
    assert "tensor([ 1.,  4.,  9., 16.])" in shown(at)
    assert at.success[0].value.startswith("Same values, same shape [4], same dtype float32.")
    assert any("torch.tensor([1, 2, 3, 4], dtype=torch.float32)" in c.value for c in at.code)
    assert at.markdown  # the shape picture is drawn as SVG markdown
    assert any('class="shape-picture"' in m.value for m in at.markdown)


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
    assert any('data-role="part"' in m.value for m in at.markdown)


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
    table = at.table[0].value
    assert "np.expand_dims(a, 1)" in table.to_string()


def test_no_gpu_panel_shows_the_code():
    from playground.device import cuda_available

    if cuda_available():
        pytest.skip("this server has a GPU: the toggle is shown instead")
    from tests.app.conftest import open_page

    at = open_page("views/tensor_lab.py")
    assert 'device = "cuda" if torch.cuda.is_available() else "cpu"\nx = x.to(device)' in shown(at)
