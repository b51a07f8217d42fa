"""Autograd: the graph of an expression with every value and gradient, gradients on the function's plot,
and real optimizers walking down a surface. Layout and wiring only; the work is in playground/."""

# ruff: noqa: E402 - the page's frame is drawn before its imports of torch (views/page_frame.py)
from __future__ import annotations

import streamlit as st

from views import page_frame

page_frame.start()

import numpy as np
import pandas as pd

from playground import limits
from playground.autograd.codegen import curve_1d_code, expression_code, field_2d_code, optimizer_code
from playground.autograd.function_plots import (
    FUNCTIONS_1D,
    FUNCTIONS_2D,
    Curve1D,
    Curve1DSpec,
    Field2D,
    Field2DSpec,
    arrow_segments,
    curve_1d,
    gradient_field,
)
from playground.autograd.gradcheck import GradCheckReport, finite_difference_check
from playground.autograd.graph import AutogradResult, shape_text, trace, value_text
from playground.autograd.lessons import LESSONS, Lesson, run_lesson
from playground.autograd.optimizer_paths import (
    OptimizerPath,
    OptimizerRunSpec,
    OptimizerSpec,
    optimizer_kinds,
    parse_learning_rates,
    run_paths,
    warm_up_in_background,
    with_learning_rates,
)
from playground.autograd.result_cache import RESULTS
from playground.autograd.variables import (
    COURSE_PRESET,
    PRESETS,
    ExpressionSpec,
    VariableSpec,
    parse_random_shape,
)
from playground.errors import PlaygroundError
from views.widgets import global_seed, show_code, show_error

VIEWS = ("Graph and gradients", "f and f′ (1-D)", "Gradient field (2-D)", "Optimizer paths")
CUSTOM = "custom"
DEFAULT_LR = {"SGD": 0.05, "SGD Nesterov": 0.05, "Adam": 0.1, "AdamW": 0.1, "RMSprop": 0.05}  # others: 0.05
DEFAULT_MOMENTUM = {"SGD": 0.0, "SGD Nesterov": 0.9}
MARGIN = {"l": 10, "r": 10, "t": 30, "b": 10}
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf")

# Keep the user's work when a view's widgets are not drawn (Streamlit forgets unrendered widgets otherwise).
for _key in [key for key in st.session_state if isinstance(key, str) and key.startswith("ag_")]:
    st.session_state[_key] = st.session_state[_key]


# ---- pure computations, kept for every session in a cache bounded in bytes and age (result_cache.py) ---------

def cached_trace(spec: dict) -> AutogradResult:
    return RESULTS.get("trace", spec, lambda: trace(ExpressionSpec.from_dict(spec)))


def cached_check(spec: dict) -> GradCheckReport:
    return RESULTS.get("check", spec, lambda: finite_difference_check(ExpressionSpec.from_dict(spec)))


def cached_lesson(key: str, spec: dict) -> Lesson:
    return RESULTS.get(f"lesson-{key}", spec, lambda: run_lesson(key, ExpressionSpec.from_dict(spec)))


def cached_curve(spec: dict) -> Curve1D:
    return RESULTS.get("curve", spec, lambda: curve_1d(Curve1DSpec.from_dict(spec)))


def cached_field(spec: dict) -> Field2D:
    return RESULTS.get("field", spec, lambda: gradient_field(Field2DSpec.from_dict(spec)))


def cached_paths(spec: dict) -> list[OptimizerPath]:
    return RESULTS.get("paths", spec, lambda: run_paths(OptimizerRunSpec.from_dict(spec)))


# ---- state ------------------------------------------------------------------------------------------------

def load_preset(name: str | None = None) -> None:
    """Put a preset's variables and expression into the widgets."""
    name = name or st.session_state.get("ag_preset", COURSE_PRESET)
    spec = PRESETS[name]
    start = st.session_state.get("ag_next_id", 0)
    rows = list(range(start, start + len(spec.variables)))
    st.session_state["ag_next_id"] = start + len(rows)
    st.session_state["ag_rows"] = rows
    for row, variable in zip(rows, spec.variables, strict=True):
        st.session_state[f"ag_var_{row}_name"] = variable.name
        st.session_state[f"ag_var_{row}_source"] = variable.source
        st.session_state[f"ag_var_{row}_literal"] = variable.literal
        st.session_state[f"ag_var_{row}_shape"] = ", ".join(str(size) for size in variable.shape) or "3"
        st.session_state[f"ag_var_{row}_grad"] = variable.requires_grad
    st.session_state["ag_expression"] = spec.expression
    st.session_state["ag_lesson"] = ""


def add_variable() -> None:
    rows = st.session_state["ag_rows"]
    if len(rows) >= limits.MAX_VARIABLES:
        return
    row = st.session_state["ag_next_id"]
    st.session_state["ag_next_id"] = row + 1
    taken = {st.session_state.get(f"ag_var_{r}_name") for r in rows}
    name = next(n for n in ("a", "b", "c", "d", "u", "v", "w", "x", "y", "z", "p1", "p2") if n not in taken)
    st.session_state.update({f"ag_var_{row}_name": name, f"ag_var_{row}_source": "literal",
                             f"ag_var_{row}_literal": "1.", f"ag_var_{row}_shape": "3", f"ag_var_{row}_grad": True})
    st.session_state["ag_rows"] = [*rows, row]


def remove_variable(row: int) -> None:
    st.session_state["ag_rows"] = [r for r in st.session_state["ag_rows"] if r != row]


def choose_lesson(key: str) -> None:
    st.session_state["ag_lesson"] = key


def load_function_1d() -> None:
    choice = st.session_state["ag_f1_preset"]
    if choice != CUSTOM:
        st.session_state["ag_f1_expr"] = FUNCTIONS_1D[choice]


def load_function_2d() -> None:
    choice = st.session_state["ag_f2_preset"]
    if choice == CUSTOM:
        return
    surface = FUNCTIONS_2D[choice]
    st.session_state.update(
        ag_f2_expr=surface.expression, ag_f2_xmin=surface.x_range[0], ag_f2_xmax=surface.x_range[1],
        ag_f2_ymin=surface.y_range[0], ag_f2_ymax=surface.y_range[1],
        ag_opt_x0=surface.start[0], ag_opt_y0=surface.start[1], ag_opt_steps=surface.steps,
        ag_f2_log=surface.log_colors, ag_opt_SGD_momentum=surface.momentum,
    )
    for kind in optimizer_kinds():
        st.session_state[f"ag_opt_{kind}_lr"] = surface.lr if kind.startswith("SGD") else DEFAULT_LR.get(kind, 0.05)


if "ag_rows" not in st.session_state:
    load_preset(COURSE_PRESET)
_bowl = FUNCTIONS_2D["bowl"]
for _key, _value in {
    "ag_preset": COURSE_PRESET, "ag_view": VIEWS[0], "ag_lesson": "",
    "ag_f1_preset": "sin(x)", "ag_f1_expr": FUNCTIONS_1D["sin(x)"], "ag_f1_xmin": -3.0, "ag_f1_xmax": 3.0,
    "ag_f1_points": 200, "ag_f1_at": 1.0,
    "ag_f2_preset": "bowl", "ag_f2_expr": _bowl.expression, "ag_f2_xmin": _bowl.x_range[0], "ag_f2_xmax": _bowl.x_range[1],
    "ag_f2_ymin": _bowl.y_range[0], "ag_f2_ymax": _bowl.y_range[1], "ag_f2_side": 80, "ag_f2_arrows": 15,
    "ag_f2_downhill": False, "ag_f2_surface": False, "ag_f2_log": False,
    "ag_opt_x0": _bowl.start[0], "ag_opt_y0": _bowl.start[1], "ag_opt_steps": 100, "ag_opt_kinds": ["SGD", "Adam"],
    **{f"ag_opt_{kind}_lr": DEFAULT_LR.get(kind, 0.05) for kind in optimizer_kinds()},
    **{f"ag_opt_{kind}_momentum": m for kind, m in DEFAULT_MOMENTUM.items()},
    **{f"ag_opt_{kind}_more": "" for kind in optimizer_kinds()},
}.items():
    st.session_state.setdefault(_key, _value)


# ---- the graph view ---------------------------------------------------------------------------------------

def variable_editor() -> ExpressionSpec:
    """One row of widgets per variable; returns the spec they describe (validated by the caller)."""
    variables = []
    problems: list[PlaygroundError] = []
    for row in st.session_state["ag_rows"]:
        cols = st.columns([1.1, 1.2, 3.2, 1.3, 0.5], vertical_alignment="bottom")
        name = cols[0].text_input("name", key=f"ag_var_{row}_name", max_chars=24)
        source = cols[1].selectbox("value from", ("literal", "random"), key=f"ag_var_{row}_source",
                                   help="A literal you type, or torch.randn(shape) drawn from the sidebar seed.")
        if source == "literal":
            literal = cols[2].text_input("value", key=f"ag_var_{row}_literal", max_chars=limits.MAX_LITERAL_CHARS,
                                         help="A number or nested lists, e.g. [[1., 0.], [-1., 1.]]. Read, never run.")
            shape_text_ = st.session_state.get(f"ag_var_{row}_shape", "3")
        else:
            literal = st.session_state.get(f"ag_var_{row}_literal", "1.")
            shape_text_ = cols[2].text_input("shape", key=f"ag_var_{row}_shape", max_chars=limits.MAX_SHAPE_CHARS,
                                             help="Sizes separated by commas, e.g. 2, 3.")
        grad = cols[3].checkbox("requires_grad", key=f"ag_var_{row}_grad")
        cols[4].button(":material/delete:", key=f"agbtn_remove_{row}", on_click=remove_variable, args=(row,),
                       help=f"Remove {name}")
        try:  # every row stays drawn even when one of them is wrong
            shape = parse_random_shape(shape_text_) if source == "random" else ()
        except PlaygroundError as exc:
            problems.append(exc)
            continue
        variables.append(VariableSpec(name.strip(), source, literal, shape, grad))
    if problems:
        raise problems[0]
    return ExpressionSpec(tuple(variables), st.session_state["ag_expression"], global_seed())


def grad_table(grad: np.ndarray) -> pd.DataFrame:
    if grad.ndim == 0:
        return pd.DataFrame([[float(grad)]], columns=["grad"])
    if grad.ndim == 1:
        return pd.DataFrame({"grad": grad})
    return pd.DataFrame(grad.reshape(-1, grad.shape[-1]))


def show_result(spec: ExpressionSpec, result: AutogradResult) -> None:
    output = result.output
    summary = [f"**z** = `{output.value_summary}` (shape {shape_text(output.shape)})"]
    for name, grad in result.leaf_grads.items():
        if grad is not None:
            summary.append(f"**{name}.grad** = `{value_text(grad)}`")
        else:
            required = next(v.requires_grad for v in spec.variables if v.name == name)
            summary.append(f"**{name}.grad** = `None`" + ("" if required else " (requires_grad is off)"))
    st.markdown("  \n".join(summary))
    if result.backward_problem:
        show_error(PlaygroundError(*result.backward_problem))
    for warning in result.warnings:
        st.warning(warning, icon=":material/warning:")

    forward, backward = st.columns([3, 2])
    with forward:
        st.markdown("**Forward graph**: every value and, after `backward()`, its gradient")
        st.graphviz_chart(result.forward_dot)
    with backward:
        st.markdown("**PyTorch's backward graph**: `z.grad_fn` and its `next_functions`")
        st.graphviz_chart(result.backward_dot)
    printed = [f"z = {result.result_repr}"]
    if not result.backward_problem:
        printed += [f"{name}.grad = {text}" for name, text in result.grad_reprs.items()]
    st.markdown("**What PyTorch prints**")
    st.code("\n".join(printed), language="text")
    grads = {name: grad for name, grad in result.leaf_grads.items() if grad is not None}
    if grads:
        st.markdown("**Gradients of the leaves**")
        cols = st.columns(min(len(grads), 3))
        for index, (name, grad) in enumerate(grads.items()):
            with cols[index % len(cols)]:
                st.caption(f"{name}.grad, shape {shape_text(grad.shape)}")
                st.dataframe(grad_table(grad), hide_index=grad.ndim < 2)
        show_gradcheck(spec)


def show_gradcheck(spec: ExpressionSpec) -> None:
    st.markdown("**Check against finite differences** (central differences in float64)")
    try:
        report = cached_check(spec.to_dict())
    except PlaygroundError as exc:
        show_error(exc)
        return
    rows = [{"leaf": leaf.name, "elements checked": f"{leaf.checked} of {leaf.total}",
             "largest error": f"{leaf.max_error:.2e}"} for leaf in report.leaves]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    verdict = (f"largest error {report.max_error:.2e} (step h = {report.step:g}, tolerance {report.tolerance:g}); "
               "error = |autograd − numeric| / max(|autograd|, |numeric|, 1)")
    if report.passed:
        st.success(f"Pass: autograd agrees with finite differences, {verdict}.", icon=":material/check_circle:")
    else:
        st.warning(f"Fail: autograd and finite differences disagree, {verdict}. At a kink (relu or abs at 0) the "
                   "function has no single slope, so the two methods can differ.", icon=":material/warning:")


def show_lessons(spec: ExpressionSpec) -> None:
    st.markdown("**Lessons**: press one to run it on the variables and expression above")
    row = st.container(horizontal=True)  # each button as wide as its name, wrapping to a second row if need be
    for key, title in LESSONS.items():
        row.button(title, key=f"agbtn_lesson_{key}", on_click=choose_lesson, args=(key,), width="content")
    key = st.session_state.get("ag_lesson", "")
    if not key:
        return
    try:
        lesson = cached_lesson(key, spec.to_dict())
    except PlaygroundError as exc:
        show_error(exc)
        return
    with st.container(border=True):
        st.markdown(f"**Lesson: {lesson.title}**")
        for step in lesson.steps:
            code_col, out_col = st.columns(2)
            code_col.code(step.code, language="python")
            out_col.code(step.output or "(prints nothing)", language="text")
        st.info(lesson.takeaway, icon=":material/lightbulb:")
        show_code(lesson.code(), title="Lesson code", expanded=False)


def graph_view() -> None:
    top = st.columns([2, 0.3, 3], vertical_alignment="bottom")
    top[0].selectbox("Preset", list(PRESETS), key="ag_preset", on_change=load_preset,
                     help="Loads the preset's variables and expression.")
    top[1].button(":material/restart_alt:", key="agbtn_reload", on_click=load_preset,
                  help="Reload: put the preset's variables and expression back.")
    top[2].text_input("Expression", key="ag_expression", max_chars=limits.MAX_EXPRESSION_CHARS,
                      help="Declared names, numbers, + - * / ** @, unary minus and "
                      "sin cos exp log sqrt abs tanh sigmoid relu sum mean pow matmul softmax log_softmax t "
                      "(as sin(x) or x.sin()). Parsed with an allow-list, never run as Python.")
    st.markdown("**Variables**")
    try:
        spec = variable_editor()
    except PlaygroundError as exc:
        show_error(exc)
        spec = None
    st.button("Add a variable", icon=":material/add:", key="agbtn_add", on_click=add_variable,
              disabled=len(st.session_state["ag_rows"]) >= limits.MAX_VARIABLES)
    if spec is None:
        return
    try:
        spec.validate()
        result = cached_trace(spec.to_dict())
    except PlaygroundError as exc:
        show_error(exc)
        return
    show_result(spec, result)
    show_lessons(spec)
    show_code(expression_code(spec))


# ---- the 1-D view -----------------------------------------------------------------------------------------

def curve_view() -> None:
    cols = st.columns([1.5, 2.5, 1, 1, 1.5])
    cols[0].selectbox("f(x)", [*FUNCTIONS_1D, CUSTOM], key="ag_f1_preset", on_change=load_function_1d)
    cols[1].text_input("f(x) =", key="ag_f1_expr", max_chars=limits.MAX_EXPRESSION_CHARS,
                       help="An expression in x, applied point by point (no sum or mean).")
    x_min = cols[2].number_input("x from", key="ag_f1_xmin", step=0.5, min_value=-limits.MAX_PLOT_RANGE,
                                 max_value=limits.MAX_PLOT_RANGE)
    x_max = cols[3].number_input("x to", key="ag_f1_xmax", step=0.5, min_value=-limits.MAX_PLOT_RANGE,
                                 max_value=limits.MAX_PLOT_RANGE)
    points = cols[4].number_input("grid points", key="ag_f1_points", min_value=2, max_value=limits.MAX_GRID_POINTS,
                                  step=50)
    if x_min >= x_max:
        show_error(PlaygroundError("'x from' must be smaller than 'x to'."))
        return
    if not x_min <= st.session_state["ag_f1_at"] <= x_max:
        st.session_state["ag_f1_at"] = float((x_min + x_max) / 2)
    at = st.slider("tangent at x =", min_value=float(x_min), max_value=float(x_max), key="ag_f1_at",
                   step=float((x_max - x_min) / 200))
    spec = Curve1DSpec(st.session_state["ag_f1_expr"], float(x_min), float(x_max), int(points), float(at))
    try:
        curve = cached_curve(spec.to_dict())
    except PlaygroundError as exc:
        show_error(exc)
        return
    data = [
        scatter(curve.x, curve.f, "f(x)", line={"color": COLORS[0]}),
        scatter(curve.x, curve.df, "f′(x) by autograd", line={"color": COLORS[1], "dash": "dash"}),
        scatter(curve.x, curve.tangent(), f"tangent at x = {curve.at:.3g}", line={"color": COLORS[2], "width": 1}),
        scatter([curve.at], [curve.f_at], "", mode="markers", marker={"size": 10, "color": COLORS[2]}, showlegend=False),
    ]
    layout = {"height": 420, "margin": MARGIN, "xaxis": {"title": {"text": "x"}}, "legend": {"orientation": "h", "y": 1.1}}
    shown = np.concatenate([curve.f, curve.df])
    finite = shown[np.isfinite(shown)]
    if finite.size:  # keep the tangent from stretching the axis
        low, high = float(finite.min()), float(finite.max())
        pad = 0.15 * (high - low or 1.0)
        layout["yaxis"] = {"range": [low - pad, high + pad]}
    st.plotly_chart({"data": data, "layout": layout}, key="ag_plot_curve")
    st.markdown(f"f({curve.at:.4g}) = `{curve.f_at:.6g}`, f′({curve.at:.4g}) = `{curve.slope_at:.6g}`: the tangent "
                f"is y = {curve.f_at:.4g} + {curve.slope_at:.4g} · (x − {curve.at:.4g}).")
    show_code(curve_1d_code(spec))


# ---- the 2-D views ----------------------------------------------------------------------------------------

def surface_inputs() -> tuple[str, tuple[float, float], tuple[float, float]] | None:
    cols = st.columns([1.3, 3, 0.9, 0.9, 0.9, 0.9])
    cols[0].selectbox("f(x, y)", [*FUNCTIONS_2D, CUSTOM], key="ag_f2_preset", on_change=load_function_2d)
    cols[1].text_input("f(x, y) =", key="ag_f2_expr", max_chars=limits.MAX_EXPRESSION_CHARS,
                       help="An expression in x and y, applied point by point.")
    bounds = [cols[2 + i].number_input(label, key=key, step=0.5, min_value=-limits.MAX_PLOT_RANGE,
                                       max_value=limits.MAX_PLOT_RANGE)
              for i, (label, key) in enumerate((("x from", "ag_f2_xmin"), ("x to", "ag_f2_xmax"),
                                                ("y from", "ag_f2_ymin"), ("y to", "ag_f2_ymax")))]
    st.checkbox("log colour scale", key="ag_f2_log", help="Colour by log10(1 + f − min f), for steep functions.")
    if bounds[0] >= bounds[1] or bounds[2] >= bounds[3]:
        show_error(PlaygroundError("Each range must go from a smaller number to a larger one."))
        return None
    return st.session_state["ag_f2_expr"], (float(bounds[0]), float(bounds[1])), (float(bounds[2]), float(bounds[3]))


def scatter(x, y, name: str, mode: str = "lines", **style) -> dict:
    return {"type": "scatter", "x": x, "y": y, "name": name, "mode": mode, **style}


def contour(field: Field2D) -> dict:
    """A plotly figure as a plain dict (building go.Figure objects trace by trace costs tens of ms a rerun)."""
    z, title = field.z, "f"
    if st.session_state.get("ag_f2_log") and np.isfinite(z).any():
        z, title = np.log10(1 + z - np.nanmin(z[np.isfinite(z)])), "log10(1 + f − min f)"
    data = [{"type": "contour", "x": field.xs, "y": field.ys, "z": z, "colorscale": "Viridis", "ncontours": 30,
             "contours": {"coloring": "heatmap"}, "colorbar": {"title": {"text": title}}, "name": "f",
             "customdata": field.z, "hovertemplate": "x %{x:.3g}<br>y %{y:.3g}<br>f %{customdata:.4g}<extra></extra>"}]
    layout = {"height": 520, "margin": MARGIN, "legend": {"orientation": "h", "y": 1.08},
              "xaxis": {"title": {"text": "x"}},
              # equal scales: gradients stand at right angles to the contour lines
              "yaxis": {"title": {"text": "y"}, "scaleanchor": "x", "scaleratio": 1}}
    return {"data": data, "layout": layout}


def field_view() -> None:
    inputs = surface_inputs()
    if inputs is None:
        return
    expression, x_range, y_range = inputs
    cols = st.columns(4)
    side = cols[0].slider("contour grid per side", 10, limits.MAX_GRID_SIDE, key="ag_f2_side")
    arrows = cols[1].slider("arrows per side", 2, limits.MAX_ARROW_SIDE, key="ag_f2_arrows")
    downhill = cols[2].checkbox("arrows point downhill (−gradient)", key="ag_f2_downhill")
    surface = cols[3].checkbox("also draw the surface", key="ag_f2_surface")
    spec = Field2DSpec(expression, x_range, y_range, side, arrows)
    try:
        field = cached_field(spec.to_dict())
    except PlaygroundError as exc:
        show_error(exc)
        return
    figure = contour(field)
    length = 0.9 * min(x_range[1] - x_range[0], y_range[1] - y_range[0]) / arrows
    ax, ay = arrow_segments(field, length, downhill)
    figure["data"].append(scatter(ax, ay, "−gradient (downhill)" if downhill else "gradient (uphill)",
                                  line={"color": "white", "width": 1.5}))
    st.plotly_chart(figure, key="ag_plot_field")
    st.caption("Arrow lengths are scaled so the longest fits one grid cell; the gradient is computed by autograd "
               "for all arrows in one vectorised pass.")
    if surface:
        surface_figure = {"data": [{"type": "surface", "x": field.xs, "y": field.ys, "z": field.z,
                                    "colorscale": "Viridis", "showscale": False}],
                          "layout": {"height": 520, "margin": {"l": 0, "r": 0, "t": 0, "b": 0}}}
        st.plotly_chart(surface_figure, key="ag_plot_surface")
    show_code(field_2d_code(spec))


def optimizer_view() -> None:
    inputs = surface_inputs()
    if inputs is None:
        return
    expression, x_range, y_range = inputs
    for key, (low, high) in (("ag_opt_x0", x_range), ("ag_opt_y0", y_range)):
        if not low <= st.session_state[key] <= high:
            st.session_state[key] = float((low + high) / 2)
    cols = st.columns([1, 1, 1, 2])
    x0 = cols[0].slider("start x", float(x_range[0]), float(x_range[1]), key="ag_opt_x0",
                        step=float((x_range[1] - x_range[0]) / 200))
    y0 = cols[1].slider("start y", float(y_range[0]), float(y_range[1]), key="ag_opt_y0",
                        step=float((y_range[1] - y_range[0]) / 200))
    steps = cols[2].number_input("steps", min_value=1, max_value=limits.MAX_OPTIMIZER_STEPS, key="ag_opt_steps", step=10)
    kinds = cols[3].multiselect("optimizers to compare", optimizer_kinds(), key="ag_opt_kinds")
    optimizers = []
    if kinds:
        setting_cols = st.columns(len(kinds))
        for col, kind in zip(setting_cols, kinds, strict=True):
            with col:
                st.markdown(f"**{kind}**")
                lr = st.number_input("lr", min_value=limits.MIN_LEARNING_RATE, max_value=limits.MAX_LEARNING_RATE,
                                     key=f"ag_opt_{kind}_lr", format="%.4g")
                momentum = 0.0
                if OptimizerSpec(kind).uses_momentum:
                    momentum = st.slider("momentum", 0.0, 0.99, key=f"ag_opt_{kind}_momentum", step=0.01)
                more = st.text_input("also at lr", key=f"ag_opt_{kind}_more", placeholder="e.g. 0.01, 0.3",
                                     help="The same optimizer at other learning rates, one path each.")
                try:
                    more_rates = parse_learning_rates(more)
                except PlaygroundError as exc:
                    show_error(exc)
                    more_rates = ()  # the optimizer's own path is still drawn
                optimizers += with_learning_rates(OptimizerSpec(kind, float(lr), float(momentum)), more_rates)
    else:
        show_error(PlaygroundError("Choose at least one optimizer to run."))
        return
    spec = OptimizerRunSpec(expression, (float(x0), float(y0)), int(steps), tuple(optimizers))
    try:
        spec.validate()  # the work bound (steps x paths x function size) is checked here, before running
        with st.spinner(f"Running {len(optimizers)} optimizer{'s' if len(optimizers) > 1 else ''} for "
                        f"{int(steps):,} steps each ..."):  # drawn where the plot will be
            paths = cached_paths(spec.to_dict())
            field = cached_field(Field2DSpec(expression, x_range, y_range, 80, 2).to_dict())
    except PlaygroundError as exc:
        show_error(exc)
        return
    figure = contour(field)
    loss_traces = []
    for index, path in enumerate(paths):
        color = COLORS[index % len(COLORS)]
        figure["data"].append(scatter(path.xs, path.ys, path.label, mode="lines+markers",
                                      line={"color": color, "width": 2}, marker={"size": 4, "color": color}))
        figure["data"].append(scatter(path.xs[-1:], path.ys[-1:], "", mode="markers", showlegend=False,
                                      marker={"size": 11, "color": color, "symbol": "x"}))
        loss_traces.append(scatter(np.arange(len(path.losses)), path.losses, path.label, line={"color": color}))
        if path.stopped:
            st.warning(path.stopped, icon=":material/warning:")
    figure["data"].append(scatter([x0], [y0], "start", mode="markers",
                                  marker={"size": 12, "color": "white", "line": {"color": "black", "width": 1}}))
    figure["layout"]["xaxis"]["range"] = list(x_range)
    figure["layout"]["yaxis"]["range"] = list(y_range)
    st.plotly_chart(figure, key="ag_plot_paths")
    all_positive = all((path.losses[np.isfinite(path.losses)] > 0).all() for path in paths)
    loss_layout = {"height": 300, "margin": MARGIN, "xaxis": {"title": {"text": "step"}},
                   "yaxis": {"title": {"text": "loss"}, "type": "log" if all_positive else "linear"},
                   "legend": {"orientation": "h", "y": 1.15}}
    st.plotly_chart({"data": loss_traces, "layout": loss_layout}, key="ag_plot_losses")
    st.dataframe(pd.DataFrame([{"optimizer": p.label, "steps run": len(p.losses) - 1, "final x": p.xs[-1],
                                "final y": p.ys[-1], "final loss": p.losses[-1]} for p in paths]), hide_index=True)
    show_code(optimizer_code(spec))


# ---- the page ---------------------------------------------------------------------------------------------

warm_up_in_background()  # once per server: the optimizer view's first click does not pay torch's lazy imports
st.title("Autograd")
st.caption("`requires_grad=True` records operations, `z.backward()` computes gradients, `x.grad` holds them. "
           "Everything below is real PyTorch.")
view = st.radio("View", VIEWS, key="ag_view", horizontal=True, label_visibility="collapsed")
try:
    {VIEWS[0]: graph_view, VIEWS[1]: curve_view, VIEWS[2]: field_view, VIEWS[3]: optimizer_view}[view]()
except PlaygroundError as exc:
    show_error(exc)
except Exception as exc:  # noqa: BLE001 - a user must never see a traceback or a dead page
    show_error(exc)
