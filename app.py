"""Entry point (`streamlit run app.py`) and the home page, the Tensor Lab: build a tensor, run one operation, see
torch beside its NumPy twin. Layout only. The other pages are pages/*.py (Streamlit's classic multipage app); every
page starts with views/page_frame.start (page config and sidebar) before its imports of torch."""

# ruff: noqa: E402 - the page's frame is drawn before its imports of torch (views/page_frame.py)
from __future__ import annotations

import streamlit as st

from views import page_frame

page_frame.start()

from playground import limits
from playground.device import cuda_available, default_device
from playground.errors import PlaygroundError, as_text
from playground.tensors.build import DTYPES, SOURCES, TensorSpec, build, sharing_demo
from playground.tensors.literal import parse_numbers, parse_shape
from playground.tensors.ops import OP_TABLE, Argument, OpSpec, reference_markdown, run_twin
from views.widgets import global_seed, show_code, show_error

DEFAULTS = {
    "tl_source": "literal",
    "tl_literal": "[1, 2, 3, 4]",
    "tl_shape": "2, 3",
    "tl_dtype": "float32",
    "tl_op": "pow",
    "tl_cuda": False,
    "tl_share_values": "1, 2, 3, 4",
    "tl_share_index": 0,
    "tl_share_value": 100,
}
for i in (1, 2):
    DEFAULTS |= {f"tl_cat{i}_source": "ones", f"tl_cat{i}_shape": "2, 3", f"tl_cat{i}_dtype": "float32", f"tl_cat{i}_literal": "[[1, 2, 3]]"}


def all_key(argument: Argument) -> str:
    return f"tl_all_{argument.name}s"  # the "every dim" box of a dim argument


for row in OP_TABLE.values():  # each operation's arguments are drawn from its row, under tl_<name>
    for argument in row.arguments:
        DEFAULTS.setdefault(f"tl_{argument.name}", argument.default)
        if argument.widget == "dim" and argument.all_label:
            DEFAULTS.setdefault(all_key(argument), True)
for key, value in DEFAULTS.items():
    st.session_state.setdefault(key, value)
# Keep what the user typed in boxes that are not drawn on this run (the literal while "made by" is zeros,
# the exponent while the op is sum, another page's visit): Streamlit forgets undrawn widgets' values otherwise.
for key in DEFAULTS:
    st.session_state[key] = st.session_state[key]

DEVICE_CODE = """import torch

x = torch.tensor([1., 2., 3., 4.])
print(torch.cuda.is_available())   # True on a GPU machine
print(torch.cuda.device_count())   # how many GPUs
device = "cuda" if torch.cuda.is_available() else "cpu"
x = x.to(device)                   # on a GPU machine the op then runs on the GPU
out = x.pow(2)
print(out.device)                  # cuda:0 there, cpu here
"""


def preset_course_tensor() -> None:
    st.session_state.update(tl_source="literal", tl_literal="[1, 2, 3, 4]", tl_dtype="float32", tl_op="pow", tl_exponent="2")


def preset_course_cat() -> None:
    st.session_state.update(
        tl_source="randn", tl_shape="2, 1, 3", tl_dtype="float32", tl_op="cat", tl_all_dims=False, tl_dim=1,
        tl_cat_count=3, tl_cat1_source="ones", tl_cat1_shape="2, 3, 3", tl_cat2_source="zeros", tl_cat2_shape="2, 2, 3",
    )


def preset_course_squeeze() -> None:
    st.session_state.update(tl_source="randn", tl_shape="1, 2, 3", tl_op="squeeze", tl_all_dims=False, tl_dim=0)


def preset_course_unsqueeze() -> None:
    st.session_state.update(tl_source="randn", tl_shape="2, 3", tl_op="unsqueeze", tl_dim=1)


def preset_view_error() -> None:
    st.session_state.update(tl_source="arange", tl_shape="2, 3", tl_dtype="float32", tl_op="view", tl_new_shape="6", tl_transpose=True)


PRESETS = (  # (label, callback, key): labels short enough to be read whole
    ("Course: [1, 2, 3, 4] ** 2", preset_course_tensor, "tl_preset_tensor"),
    ("Course: squeeze(0) on [1, 2, 3]", preset_course_squeeze, "tl_preset_squeeze"),
    ("Course: unsqueeze(1) on [2, 3]", preset_course_unsqueeze, "tl_preset_unsqueeze"),
    ("Course: cat along dim 1", preset_course_cat, "tl_preset_cat"),
    ("view after transpose", preset_view_error, "tl_preset_view"),
)


def spec_from(prefix: str, seed: int) -> TensorSpec:
    source = st.session_state[f"{prefix}_source"]
    shape = parse_shape(st.session_state[f"{prefix}_shape"]) if source != "literal" else ()
    return TensorSpec(source=source, literal=st.session_state[f"{prefix}_literal"], shape=shape,
                      dtype=st.session_state[f"{prefix}_dtype"], seed=seed)


def tensor_inputs(prefix: str, label: str) -> None:
    cols = st.columns([1.2, 2.4, 1.2])
    cols[0].selectbox(f"{label}: made by", SOURCES, key=f"{prefix}_source",
                      help="A literal you type, or a constructor with a shape (rand and randn use the sidebar seed).")
    if st.session_state[f"{prefix}_source"] == "literal":
        cols[1].text_input(f"{label}: literal", key=f"{prefix}_literal", max_chars=limits.MAX_LITERAL_CHARS,
                           help=f"Nested lists of numbers, e.g. [[1, 2], [3, 4]]. At most {limits.MAX_TENSOR_ELEMENTS:,} "
                           f"numbers and {limits.MAX_TENSOR_DIMS} dimensions. Parsed, never evaluated.")
    else:
        cols[1].text_input(f"{label}: shape", key=f"{prefix}_shape", max_chars=limits.MAX_SHAPE_CHARS,
                           help="Sizes separated by commas, e.g. 2, 3.")
    cols[2].selectbox(f"{label}: dtype", DTYPES, key=f"{prefix}_dtype",
                      help="'inferred' lets each library pick: a Python float becomes float32 in torch, float64 in NumPy.")


def show_outcome(column, title: str, outcome) -> None:
    column.markdown(f"**{title}**")
    if outcome.ok:
        column.code(outcome.printed, language=None)
        column.markdown(f"shape `{list(outcome.shape)}` · dtype `{outcome.dtype}`"
                        + (f" · device `{outcome.device}`" if title.startswith("torch") else ""))
    else:
        column.error("Raises an error:", icon=":material/block:")
        column.caption(as_text(outcome.error))


st.title("Tensor Lab")
st.caption("PyTorch is tensor computation like NumPy, accelerated on a GPU, plus automatic gradients. "
           "Build a tensor, run one operation, and compare PyTorch with NumPy on the same data. "
           "PyTorch's `dim` is NumPy's `axis`; `torch.float` is `torch.float32` and `torch.long` is `torch.int64`.")

with st.container(horizontal=True, key="tl_presets"):
    for label, callback, key in PRESETS:
        st.button(label, on_click=callback, key=key)

st.subheader("1. Build a tensor")
tensor_inputs("tl", "x")
seed = global_seed()
built = None
try:
    built = build(spec_from("tl", seed), "x")
except Exception as exc:  # noqa: BLE001 - a sentence, and the rest of the page stays
    show_error(exc)

if built is not None:
    left, right = st.columns(2)
    left.markdown("**torch**")
    left.code(built.panel_code("torch"), language="python")
    left.markdown(f"shape `{list(built.tensor.shape)}` · dtype `{str(built.tensor.dtype).removeprefix('torch.')}`")
    right.markdown("**NumPy**")
    right.code(built.panel_code("numpy"), language="python")
    right.markdown(f"shape `{list(built.array.shape)}` · dtype `{built.array.dtype.name}`")

st.subheader("2. Choose an operation")
op = st.radio("Operation", tuple(OP_TABLE), key="tl_op", horizontal=True)
row = OP_TABLE[op]
columns = iter(st.columns(max(4, 2 * len(row.arguments))))
values: dict = {}
for argument in row.arguments:  # the row describes each widget; the page only places them
    key = f"tl_{argument.name}"
    if argument.widget == "dim":
        if argument.all_label:
            next(columns).checkbox(argument.all_label, key=all_key(argument))
        if argument.all_label and st.session_state[all_key(argument)]:
            values[argument.name] = None
            continue
        next(columns).number_input(argument.label, min_value=-limits.MAX_TENSOR_DIMS - 1,
                                   max_value=limits.MAX_TENSOR_DIMS, step=1, key=key, help=argument.help)
    elif argument.widget == "checkbox":
        next(columns).checkbox(argument.label, key=key, help=argument.help or None)
    elif argument.widget == "text":
        next(columns).text_input(argument.label, key=key, max_chars=argument.max_chars, help=argument.help or None)
    elif argument.widget == "tensors":
        next(columns).radio(argument.label, argument.choices, key=key, horizontal=True, help=argument.help or None)
    values[argument.name] = st.session_state[key]
joined = 1 if row.joins is None else (values[row.joins.name] if values[row.joins.name] in row.joins.choices
                                      else row.joins.default)  # an odd value is the row's sentence, below
for i in range(1, joined):
    tensor_inputs(f"tl_cat{i}", "yz"[i - 1])

result = None
if built is not None:
    try:
        others = tuple(build(spec_from(f"tl_cat{i}", seed + i), "yz"[i - 1]) for i in range(1, joined))
        device = default_device() if (st.session_state.tl_cuda and cuda_available()) else "cpu"
        result = run_twin(built, OpSpec(op, **values), others, device=device)
    except Exception as exc:  # noqa: BLE001 - a sentence, and everything below this point stays on the page
        show_error(exc)

if result is not None:
    st.subheader("3. torch beside NumPy")
    st.caption(result.naming_note)
    for note in result.notes:
        st.caption(note)
    left, right = st.columns(2)
    show_outcome(left, "torch", result.torch_out)
    show_outcome(right, "NumPy", result.numpy_out)
    if result.verdict.same:
        st.success(result.verdict.headline, icon=":material/check_circle:")
    else:
        st.warning(result.verdict.headline, icon=":material/compare_arrows:")
        for reason in result.verdict.reasons:
            st.markdown(f"- {reason}")
    if result.fix is not None:
        st.info(f"The fix: `{result.fix_code}` gives shape {list(result.fix.shape)}.", icon=":material/build:")
        st.code(result.fix.printed, language=None)

    st.subheader("Shape picture")
    # An image, not HTML in the page: its text (fixed names and integers, escaped in shape_picture.py) is drawn by
    # the browser's image decoder and can never become markup.
    st.container(key="tl_shape_picture").image(result.picture(), width="content")
    show_code(result.code, title="Code: the torch and NumPy lines for what is on screen")

st.subheader("Device")
if cuda_available():
    st.toggle(f"Run the operation on the GPU ({default_device()})", key="tl_cuda")
    if result is not None:
        st.write(f"The torch result lives on `{result.torch_out.device}`.")
else:
    st.info("No CUDA GPU on this server: torch.cuda.is_available() is False, so everything runs on the CPU. "
            "On a GPU machine the same code moves the tensor there:", icon=":material/memory:")
st.code(DEVICE_CODE, language="python")

st.subheader("torch.from_numpy shares memory; torch.tensor copies")
share_cols = st.columns([2, 1, 1])
share_cols[0].text_input("array values", key="tl_share_values", max_chars=limits.MAX_NUMBER_LIST_CHARS,
                         help="Numbers separated by commas, e.g. 1, 2, 3 (at most 100).")
share_cols[1].number_input("change index", min_value=0, max_value=99, step=1, key="tl_share_index")
share_cols[2].number_input("to the value", step=1, key="tl_share_value")
try:
    demo = sharing_demo(parse_numbers(st.session_state.tl_share_values), int(st.session_state.tl_share_index),
                        float(st.session_state.tl_share_value))
except PlaygroundError as exc:
    show_error(exc)
else:
    share = st.columns(3)
    share[0].markdown(f"**array after `a[{int(st.session_state.tl_share_index)}] = ...`**")
    share[0].code(str(demo.array_after), language=None)
    share[1].markdown(f"**torch.from_numpy(a)** shares memory: `{demo.from_numpy_shares}`")
    share[1].code(str(demo.from_numpy_after), language=None)
    share[2].markdown(f"**torch.tensor(a)** shares memory: `{demo.tensor_shares}`")
    share[2].code(str(demo.tensor_after), language=None)
    show_code(demo.code, title="Code: from_numpy vs tensor", expanded=False)

st.subheader("PyTorch vs NumPy: the course's reference")
st.markdown(reference_markdown())
