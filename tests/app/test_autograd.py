"""The Autograd page driven like a user, with AppTest."""

from __future__ import annotations

import pytest

from tests.app.conftest import open_page, texts

COURSE_GRAD = "[[2., 0.], [-2., 2.]]"
COURSE_PRINT = "x.grad = tensor([[ 2.,  0.],\n        [-2.,  2.]])"


@pytest.fixture
def at():
    return open_page("pages/autograd.py")


def dots(at) -> list[str]:
    return [chart.proto.spec for chart in at.get("graphviz_chart")]


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def assert_course_shown(at) -> None:
    shown = texts(at)
    assert not at.exception, [e.value for e in at.exception]
    assert f"**x.grad** = `{COURSE_GRAD}`" in shown
    assert COURSE_PRINT in shown and "z = tensor(3., grad_fn=<SumBackward0>)" in shown
    assert not errors(at)


def test_course_example_is_preloaded_with_its_numbers(at):
    assert at.text_input(key="ag_expression").value == "x.pow(2).sum()"
    assert at.text_input(key="ag_var_0_literal").value == "[[1., 0.], [-1., 1.]]"
    assert at.checkbox(key="ag_var_0_grad").value is True
    assert_course_shown(at)
    forward, backward = dots(at)
    assert f"grad {COURSE_GRAD}" in forward and "pow 2" in forward and "data [[1., 0.], [-1., 1.]]" in forward
    assert "SumBackward0" in backward and "PowBackward0" in backward and "AccumulateGrad" in backward
    assert at.dataframe[0].value.values.tolist() == [[2.0, 0.0], [-2.0, 2.0]]
    assert any("Pass: autograd agrees with finite differences" in s.value for s in at.success)
    code = texts(at)
    assert "x = torch.tensor([[1., 0.], [-1., 1.]], requires_grad=True)\nz = x.pow(2).sum()" in code


@pytest.mark.parametrize("key,shown", [
    ("accumulate", "x.grad = tensor([[ 4.,  0.],\n        [-4.,  4.]])"),
    ("requires_grad", "RuntimeError: element 0 of tensors does not require grad"),
    ("no_grad", "z.grad_fn = None"),
    ("detach", "x_detached.requires_grad = False"),
    ("non_scalar", "grad can be implicitly created only for scalar outputs"),
])
def test_each_lesson_button_runs_its_lesson(at, key, shown):
    assert shown not in texts(at)
    at.button(key=f"agbtn_lesson_{key}").click().run()
    assert not at.exception
    assert shown in texts(at)
    assert at.info, "the lesson's takeaway is shown"
    assert_course_shown(at)  # the rest of the page is still there


@pytest.mark.parametrize("expression,sentence", [
    ("x +", "The expression does not parse"),
    ("y * 2", "The name `y` is not declared"),
    ("open('f')", "The function `open()` is not allowed"),
    ("__import__('os').system('echo pwned')", "is not allowed"),
    ("x.__class__", "Attribute access"),
    ("9**9**9", "Exponents made of numbers"),
    ("x.pow(2)", "backward() needs a single number"),
    ("log(x - 2).sum()", "The value became NaN at `torch.log(x - 2)`"),
    ("exp(x * 1000).sum()", "infinite value"),
    ("(x @ x.sum()).sum()", "cannot be matrix-multiplied"),
    (" + ".join(["x"] * 120), "parts; keep it under"),
])
def test_bad_expressions_show_a_sentence_and_the_page_recovers(at, expression, sentence):
    at.text_input(key="ag_expression").set_value(expression).run()
    assert not at.exception
    assert any(sentence in e for e in errors(at)), errors(at)
    assert at.radio(key="ag_view").value  # the page is alive
    at.text_input(key="ag_expression").set_value("x.pow(2).sum()").run()
    assert_course_shown(at)


def test_shapes_that_do_not_broadcast(at):
    at.button(key="agbtn_add").click().run()
    assert at.text_input(key="ag_var_1_name").value == "a"
    at.text_input(key="ag_var_1_literal").set_value("[1., 2., 3.]").run()
    at.text_input(key="ag_expression").set_value("(x + a).sum()").run()
    assert any("The shapes 2×2 and 3 do not broadcast in `x + a`" in e for e in errors(at))
    assert any("size of tensor" in c.value for c in at.caption)  # PyTorch's own message beneath
    at.text_input(key="ag_var_1_literal").set_value("[1., 2.]").run()
    assert not errors(at) and "**a.grad** = `[2., 2.]`" in texts(at)


@pytest.mark.parametrize("field,value,sentence", [
    ("literal", "[1, [2]", "missing 1 closing bracket"),
    ("literal", "[[1, 2], [3]]", "ragged"),
    ("literal", "__import__('os')", "is not a number"),
    ("name", "torch", "is taken"),
    ("name", "1x", "cannot be a variable name"),
])
def test_bad_variables_show_a_sentence(at, field, value, sentence):
    at.text_input(key=f"ag_var_0_{field}").set_value(value).run()
    assert not at.exception
    assert any(sentence in e for e in errors(at)), errors(at)
    at.text_input(key=f"ag_var_0_{field}").set_value("x" if field == "name" else "[[1., 0.], [-1., 1.]]").run()
    assert_course_shown(at)


def test_requires_grad_off_leaves_no_gradient(at):
    at.checkbox(key="ag_var_0_grad").uncheck().run()
    assert any("nothing to differentiate" in e for e in errors(at))
    assert "**x.grad** = `None` (requires_grad is off)" in texts(at)
    at.checkbox(key="ag_var_0_grad").check().run()
    assert_course_shown(at)


def test_random_variable_and_presets(at):
    at.selectbox(key="ag_preset").set_value("Neuron: sigmoid(w @ x + b)").run()
    assert at.text_input(key="ag_expression").value == "sigmoid(w @ x + b)"
    assert "SigmoidBackward0" in dots(at)[1] and "**x.grad** = `None`" in texts(at)
    at.selectbox(key="ag_preset").set_value("Random layer: relu(W @ x).sum()").run()
    first = texts(at)
    assert "torch.manual_seed(0)" in first and not errors(at)
    sources = [s for s in at.selectbox if s.key and s.key.endswith("_source")]
    assert [s.value for s in sources] == ["random", "random"]
    at.session_state["global_seed"] = 5  # the sidebar's seed (set as a user would set the widget)
    at.run()
    assert texts(at) != first and "torch.manual_seed(5)" in texts(at)  # the sidebar seed drives the random values
    sources[0].set_value("literal").run()
    assert any("cannot be matrix-multiplied in `W @ x`" in e for e in errors(at))  # W is now the literal 0.
    literal_key = sources[0].key.replace("_source", "_literal")
    at.text_input(key=literal_key).set_value("[[1., 0., 0.], [0., 1., 0.]]").run()
    assert not at.exception and not errors(at)
    assert "W = torch.tensor([[1., 0., 0.], [0., 1., 0.]], requires_grad=True)" in texts(at)
    assert "x = torch.randn(3, requires_grad=True)" in texts(at)  # x is still random


def test_remove_every_variable_then_add_one(at):
    at.button(key="agbtn_remove_0").click().run()
    assert any("Declare at least one variable" in e for e in errors(at))
    at.button(key="agbtn_add").click().run()
    assert not at.exception


def test_work_is_kept_when_switching_views(at):
    at.text_input(key="ag_expression").set_value("x.pow(3).sum()").run()
    at.radio(key="ag_view").set_value("f and f′ (1-D)").run()
    at.radio(key="ag_view").set_value("Graph and gradients").run()
    assert at.text_input(key="ag_expression").value == "x.pow(3).sum()"
    assert "**x.grad** = `[[3., 0.], [3., 3.]]`" in texts(at)


def test_one_dimensional_view(at):
    at.radio(key="ag_view").set_value("f and f′ (1-D)").run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    assert "f(1) = `0.841471`, f′(1) = `0.540302`" in texts(at)
    at.slider(key="ag_f1_at").set_value(0.0).run()
    assert "f′(0) = `1`" in texts(at)
    at.selectbox(key="ag_f1_preset").set_value("x³ − 3x").run()
    assert at.text_input(key="ag_f1_expr").value == "x**3 - 3*x"
    at.text_input(key="ag_f1_expr").set_value("x.sum()").run()
    assert any("must work point by point" in e for e in errors(at))
    at.text_input(key="ag_f1_expr").set_value("lambda: 1").run()
    assert any("lambda is not allowed" in e for e in errors(at))
    at.number_input(key="ag_f1_xmin").set_value(5.0).run()
    assert any("must be smaller" in e for e in errors(at))
    assert not at.exception


def test_gradient_field_view(at):
    at.radio(key="ag_view").set_value("Gradient field (2-D)").run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    at.checkbox(key="ag_f2_surface").check().run()
    assert len(at.get("plotly_chart")) == 2
    at.selectbox(key="ag_f2_preset").set_value("Himmelblau").run()
    assert at.number_input(key="ag_f2_xmin").value == -5.0
    at.text_input(key="ag_f2_expr").set_value("x + z").run()
    assert any("The name `z` is not declared" in e for e in errors(at))
    assert not at.exception


def test_optimizer_paths_view(at):
    at.radio(key="ag_view").set_value("Optimizer paths").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2  # the paths on the contour, the loss per step
    code = texts(at)
    assert "optimizer.zero_grad()" in code and "loss.backward()" in code and "optimizer.step()" in code
    at.multiselect(key="ag_opt_kinds").set_value(["SGD", "SGD Nesterov", "Adam", "RMSprop"]).run()
    table = at.dataframe[0].value
    assert len(table) == 4 and (table["final loss"] < 1e-2).all()
    at.number_input(key="ag_opt_SGD_lr").set_value(1.0).run()
    assert any("stopped at step" in w.value for w in at.warning)
    at.selectbox(key="ag_f2_preset").set_value("Rosenbrock").run()
    assert at.slider(key="ag_opt_x0").value == -1.5 and not at.exception
    assert at.number_input(key="ag_opt_steps").value == 1000 and at.checkbox(key="ag_f2_log").value
    table = at.dataframe[0].value.set_index("optimizer")
    assert table.loc["SGD (lr 0.001, momentum 0.9)", "final loss"] < 1e-3  # down Rosenbrock's valley to (1, 1)
    at.multiselect(key="ag_opt_kinds").set_value([]).run()
    assert any("Choose at least one optimizer" in e for e in errors(at))
    assert not at.exception


def test_bad_random_shape_keeps_every_row_and_reload_restores_the_course(at):
    at.button(key="agbtn_add").click().run()
    at.selectbox(key="ag_var_0_source").set_value("random").run()
    at.text_input(key="ag_var_0_shape").set_value("2, x").run()
    assert any("must be whole numbers separated by commas" in e for e in errors(at))
    assert at.text_input(key="ag_var_1_name").value == "a"  # the row after the bad one is still drawn
    at.text_input(key="ag_expression").set_value("nonsense(").run()
    at.button(key="agbtn_reload").click().run()
    assert_course_shown(at)
    assert len([t for t in at.text_input if t.key and t.key.endswith("_name")]) == 1


def test_one_optimizer_compared_at_several_learning_rates(at):
    at.radio(key="ag_view").set_value("Optimizer paths").run()
    at.multiselect(key="ag_opt_kinds").set_value(["SGD"]).run()
    at.text_input(key="ag_opt_SGD_more").set_value("0.01, 0.2").run()
    table = at.dataframe[0].value
    assert list(table["optimizer"]) == ["SGD (lr 0.05)", "SGD (lr 0.01)", "SGD (lr 0.2)"]
    assert table["final loss"].iloc[2] < table["final loss"].iloc[0] < table["final loss"].iloc[1]  # faster with a larger lr
    assert texts(at).count("optimizer = torch.optim.SGD([p], lr=") == 3  # the code runs each of them
    at.text_input(key="ag_opt_SGD_more").set_value("0.01, fast").run()
    assert any("is not a learning rate" in e for e in errors(at))
    assert list(at.dataframe[0].value["optimizer"]) == ["SGD (lr 0.05)"] and not at.exception  # the page goes on


# ---- every code panel, run exactly as shown (issue 10), its numbers compared with what the page shows --------

import base64  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402

from tests.shown_code import numbers, run_shown  # noqa: E402

GRAPH_STATES = {
    "course": {"ag_preset": "Course example: x.pow(2).sum()"},
    "mse": {"ag_preset": "Linear model, mean squared error"},
    "neuron": {"ag_preset": "Neuron: sigmoid(w @ x + b)"},
    "softmax": {"ag_preset": "Softmax cross-entropy"},
    "random layer, seed 7": {"global_seed": 7, "ag_preset": "Random layer: relu(W @ x).sum()"},
    "non-scalar": {"ag_preset": "Course example: x.pow(2).sum()", "ag_expression": "x * 2"},
}


def decode(values):
    """A plotly array as the figure JSON holds it: a list, or a typed array (dtype and base64 bytes)."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
    return np.asarray(values, dtype=float)


def figure(at, index: int) -> dict:
    return json.loads(at.get("plotly_chart")[index].proto.spec)


def set_widget(at, key: str, value) -> None:
    if key == "global_seed":
        at.sidebar.number_input(key="global_seed").set_value(value).run()
        return
    for kind in ("selectbox", "text_input", "number_input", "slider", "multiselect", "radio"):
        try:
            getattr(at, kind)(key=key).set_value(value).run()
            return
        except (KeyError, IndexError, AttributeError):
            continue
    raise KeyError(key)


@pytest.fixture(scope="module")
def panels(tmp_path_factory):
    at = open_page("pages/autograd.py")
    shown, scripts = {}, {}
    for name, values in GRAPH_STATES.items():
        for key, value in values.items():
            set_widget(at, key, value)
        assert not at.exception
        code = [c for c in at.code if c.language == "python"][-1].value
        printed = next(c.value for c in at.code if c.language == "text")
        shown[name], scripts[f"graph|{name}"] = printed, code
        if name == "random layer, seed 7":
            set_widget(at, "global_seed", 0)
    at.button(key="agbtn_reload").click().run()  # the course preset's variables and expression again
    for key in ("accumulate", "requires_grad", "no_grad", "detach", "non_scalar"):
        at.button(key=f"agbtn_lesson_{key}").click().run()
        steps = [c.value for c in at.code if c.language == "text"][1:]
        shown[f"lesson {key}"] = "\n".join(s for s in steps if s != "(prints nothing)")
        scripts[f"lesson|{key}"] = next(c.value for c in at.code if c.language == "python" and c.value.startswith("import"))
    at.radio(key="ag_view").set_value("f and f′ (1-D)").run()
    for name, expression in (("sin", "sin(x)"), ("cubic", "x**3 - 3*x")):
        set_widget(at, "ag_f1_expr", expression)
        shown[f"curve {name}"] = (next(m.value for m in at.markdown if m.value.startswith("f(")), figure(at, 0))
        scripts[f"curve|{name}"] = [c for c in at.code if c.language == "python"][-1].value
    at.radio(key="ag_view").set_value("Gradient field (2-D)").run()
    for name in ("bowl", "Rosenbrock"):
        set_widget(at, "ag_f2_preset", name)
        arrows = at.slider(key="ag_f2_arrows").value
        x_width = at.number_input(key="ag_f2_xmax").value - at.number_input(key="ag_f2_xmin").value
        y_width = at.number_input(key="ag_f2_ymax").value - at.number_input(key="ag_f2_ymin").value
        shown[f"field {name}"] = (figure(at, 0), 0.9 * min(x_width, y_width) / arrows)
        scripts[f"field|{name}"] = [c for c in at.code if c.language == "python"][-1].value
    at.radio(key="ag_view").set_value("Optimizer paths").run()
    for name, kinds in (("bowl", ["SGD", "Adam"]), ("Himmelblau", ["SGD", "SGD Nesterov", "Adam", "RMSprop"])):
        set_widget(at, "ag_f2_preset", name)
        set_widget(at, "ag_opt_kinds", kinds)
        shown[f"paths {name}"] = at.dataframe[0].value
        scripts[f"paths|{name}"] = [c for c in at.code if c.language == "python"][-1].value
    assert not at.exception
    return shown, run_shown(scripts, tmp_path_factory.mktemp("autograd_panels"))


@pytest.mark.parametrize("name", list(GRAPH_STATES))
def test_graph_panel_prints_what_the_page_shows(panels, name):
    shown, printed = panels
    assert printed[f"graph|{name}"].strip() == shown[name].strip()


@pytest.mark.parametrize("key", ["accumulate", "requires_grad", "no_grad", "detach", "non_scalar"])
def test_lesson_panel_prints_what_the_lesson_shows(panels, key):
    shown, printed = panels
    assert printed[f"lesson|{key}"].strip() == shown[f"lesson {key}"].strip()


@pytest.mark.parametrize("name", ["sin", "cubic"])
def test_curve_panel_prints_the_value_and_slope_the_page_shows(panels, name):
    shown, printed = panels
    sentence, fig = shown[f"curve {name}"]
    values = numbers(printed[f"curve|{name}"])
    page = numbers(sentence)  # f(at) = value, f'(at) = slope, ...
    assert values[1] == pytest.approx(page[1], rel=1e-5, abs=1e-6) and values[3] == pytest.approx(page[3], rel=1e-5, abs=1e-6)
    slope_trace = next(t for t in fig["data"] if t["name"].startswith("f′"))
    assert values[-1] == pytest.approx(np.abs(decode(slope_trace["y"])).max(), rel=1e-9)


@pytest.mark.parametrize("name", ["bowl", "Rosenbrock"])
def test_field_panel_prints_the_gradients_the_arrows_draw(panels, name):
    shown, printed = panels
    fig, length = shown[f"field {name}"]
    gx, gy, largest = numbers(printed[f"field|{name}"])
    arrows = next(t for t in fig["data"] if t.get("name", "").startswith("gradient"))
    xs, ys = decode(arrows["x"]), decode(arrows["y"])
    drawn = np.array([xs[1] - xs[0], ys[1] - ys[0]])
    assert drawn == pytest.approx(np.array([gx, gy]) * length / largest, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("name", ["bowl", "Himmelblau"])
def test_optimizer_panel_ends_where_the_table_says(panels, name):
    shown, printed = panels
    table = shown[f"paths {name}"]
    lines = printed[f"paths|{name}"].strip().split("\n")
    assert len(lines) == len(table)
    for line, (_, row) in zip(lines, table.iterrows(), strict=True):
        assert line.startswith(row["optimizer"] + " ends at")
        x, y, loss = numbers(line.split("ends at", 1)[1])
        assert (x, y, loss) == pytest.approx((row["final x"], row["final y"], row["final loss"]), rel=1e-9, abs=1e-12)


def test_the_sidebar_seed_seeds_the_random_variables(at):
    import torch

    at.selectbox(key="ag_preset").set_value("Random layer: relu(W @ x).sum()").run()
    for seed in (0, 7):
        at.sidebar.number_input(key="global_seed").set_value(seed).run()
        torch.manual_seed(seed)
        W, x = torch.randn(2, 3), torch.randn(3)
        assert f"z = tensor({torch.relu(W @ x).sum().item():.4f}, grad_fn=<SumBackward0>)" in texts(at)
        assert f"torch.manual_seed({seed})" in texts(at)


def test_the_shape_box_has_a_length_limit_and_the_logic_checks_it(at):
    from playground import limits
    from playground.autograd.variables import parse_random_shape
    from playground.errors import PlaygroundError

    at.selectbox(key="ag_var_0_source").set_value("random").run()
    assert at.text_input(key="ag_var_0_shape").proto.max_chars == limits.MAX_SHAPE_CHARS
    with pytest.raises(PlaygroundError, match="at most 200 characters"):
        parse_random_shape("1, " * 100 + "1")
