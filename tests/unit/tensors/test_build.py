"""Building a tensor and its NumPy twin, and the from_numpy sharing demo, against torch and NumPy run by hand: the
code each panel shows is executed and must make the very tensor (and array) the page shows."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from playground import limits
from playground.errors import PlaygroundError
from playground.tensors.build import TensorSpec, build, sharing_demo
from tests.unit.tensors.sentences import assert_plain_sentence


def run(code: str) -> tuple[dict, str]:
    """Execute shown code as a person would paste it; its names and what it printed."""
    names: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<panel>", "exec"), names)  # noqa: S102 - our own generated code, the claim under test
    return names, out.getvalue()


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool(torch.equal(a, b) or torch.allclose(a, b, equal_nan=True))


@pytest.mark.parametrize(("literal", "dtype", "torch_dtype", "numpy_dtype"), [
    ("[[1.5, -2.0], [nan, inf]]", "inferred", torch.float32, np.float64),
    ("[1, 2, 3]", "inferred", torch.int64, np.int64),
    ("[True, False, True]", "inferred", torch.bool, np.bool_),
    ("[-inf, 0.25]", "float64", torch.float64, np.float64),
    ("[1, 2, 3]", "float32", torch.float32, np.float32),
    ("[0, 1, 2]", "bool", torch.bool, np.bool_),
    ("[2.0, 3.0]", "int64", torch.int64, np.int64),
    ("7", "inferred", torch.int64, np.int64),
])
def test_a_literal_builds_what_its_shown_code_builds(literal, dtype, torch_dtype, numpy_dtype):
    built = build(TensorSpec(literal=literal, dtype=dtype), "t")
    assert built.tensor.dtype == torch_dtype and built.array.dtype == numpy_dtype
    names, _ = run("import torch\nimport numpy as np\n" + built.torch_code + "\n" + built.numpy_code)
    assert same(names["t"], built.tensor)
    assert names["t_np"].dtype == built.array.dtype
    np.testing.assert_array_equal(names["t_np"], built.array)
    np.testing.assert_array_equal(built.array, np.array(eval(literal, {"nan": float("nan"), "inf": float("inf")}),  # noqa: S307
                                                        dtype=numpy_dtype))


@pytest.mark.parametrize("spec", [
    TensorSpec(source="zeros", shape=(2, 3), dtype="int64"),
    TensorSpec(source="ones", shape=(4,), dtype="inferred"),
    TensorSpec(source="ones", shape=(), dtype="bool"),
    TensorSpec(source="arange", shape=(3, 2), dtype="float64"),
    TensorSpec(source="arange", shape=(5,), dtype="bool"),
    TensorSpec(source="arange", shape=(2, 2), dtype="inferred"),
    TensorSpec(source="rand", shape=(2, 3), seed=7),
    TensorSpec(source="randn", shape=(3,), dtype="float64", seed=11),
])
def test_a_constructor_builds_what_torch_and_numpy_build(spec):
    built = build(spec, "t")
    names, _ = run("import torch\nimport numpy as np\n" + built.torch_code + "\n" + built.numpy_code)
    assert same(names["t"], built.tensor)
    np.testing.assert_array_equal(names["t_np"], built.array)
    assert names["t_np"].dtype == built.array.dtype and tuple(built.tensor.shape) == spec.shape
    if spec.source in ("rand", "randn"):
        g = torch.Generator().manual_seed(spec.seed)
        by_hand = (torch.rand if spec.source == "rand" else torch.randn)(spec.shape, generator=g)
        assert torch.equal(built.tensor, by_hand.to(built.tensor.dtype))
        np.testing.assert_array_equal(built.array, built.tensor.numpy())


@pytest.mark.parametrize("library", ["torch", "numpy"])
@pytest.mark.parametrize("spec", [TensorSpec(literal="[[1, 2], [3, 4]]"), TensorSpec(source="randn", shape=(2,), seed=3)])
def test_the_panel_pastes_runs_and_prints_what_it_says(library, spec):
    built = build(spec, "w")
    panel = built.panel_code(library, "w")
    _, printed = run(panel)
    comments = [line[2:] for line in panel.splitlines() if line.startswith("# ")]
    assert printed.splitlines() == comments and comments
    assert printed.strip() == str(built.tensor if library == "torch" else built.array)


@pytest.mark.parametrize(("changes", "words"), [
    ({"source": "linspace"}, "`linspace`"),
    ({"dtype": "complex64"}, "`complex64`"),
    ({"seed": -1}, f"{limits.MAX_SEED}"),
    ({"seed": limits.MAX_SEED + 1}, f"{limits.MAX_SEED}"),
    ({"source": "zeros", "shape": (limits.MAX_TENSOR_ELEMENTS + 1,)}, "limit"),
])
def test_a_bad_recipe_is_refused_with_a_sentence(changes, words):
    with pytest.raises(PlaygroundError) as info:
        TensorSpec(**changes)
    assert words in info.value.sentence
    assert_plain_sentence(info.value.sentence)


def test_the_recipe_bounds_are_inclusive_and_round_trip():
    for seed in (0, limits.MAX_SEED):
        spec = TensorSpec(source="rand", shape=[2, "3"], seed=seed)
        assert spec.shape == (2, 3) and TensorSpec.from_dict({**spec.to_dict(), "junk": 1}) == spec
        assert spec.to_dict()["shape"] == [2, 3] and spec.with_(seed=1).seed == 1
    assert TensorSpec(literal="[" * 50).literal == "[" * 50  # a literal is checked when built, not when kept


def test_pytorch_refusals_become_a_sentence_with_its_reason_beneath():
    with pytest.raises(PlaygroundError) as info:
        build(TensorSpec(literal="[1e300]", dtype="int64"))
    assert "PyTorch could not build" in info.value.sentence and info.value.detail
    assert_plain_sentence(info.value.sentence)


# ---- torch.from_numpy shares memory, torch.tensor copies -------------------------------------------------------

@pytest.mark.parametrize(("values", "index", "new", "dtype"), [
    ([1, 2, 3, 4], 0, 100.0, np.int64),
    ([1, 2, 3, 4], 3, -7.9, np.int64),
    ([1.5, 2, 3], 2, 0.25, np.float64),
    ([True, False], 1, 5.0, np.float64),
    ([9], 0, 1.0, np.int64),
])
def test_sharing_demo_matches_numpy_and_torch_by_hand(values, index, new, dtype):
    demo = sharing_demo(values, index=index, new_value=new)
    a = np.array(values, dtype=dtype)
    shared, copied = torch.from_numpy(a), torch.tensor(a)
    before = a.tolist()
    a[index] = new
    assert demo.array_before == before and demo.array_after == a.tolist()
    assert demo.from_numpy_after == shared.tolist() == a.tolist() and demo.tensor_after == copied.tolist() == before
    assert demo.from_numpy_shares is True and demo.tensor_shares is False
    names, printed = run(demo.code)
    assert names["a"].tolist() == a.tolist() and names["a"].dtype == dtype
    assert names["shared"].tolist() == demo.from_numpy_after and names["copied"].tolist() == demo.tensor_after
    assert printed.splitlines() == [str(names["shared"]), str(names["copied"])]


@pytest.mark.parametrize(("values", "index", "new", "words"), [
    ([], 0, 1.0, "between 1 and 100"),
    ([1] * 101, 0, 1.0, "between 1 and 100"),
    ([1, 2, 3], 3, 1.0, "from 0 to 2"),
    ([1, 2, 3], -1, 1.0, "from 0 to 2"),
    ([1, 2], 0, float("inf"), "finite"),
    ([1, 2], 0, float("nan"), "finite"),
])
def test_sharing_demo_refusals(values, index, new, words):
    with pytest.raises(PlaygroundError) as info:
        sharing_demo(values, index=index, new_value=new)
    assert words in info.value.sentence
    assert_plain_sentence(info.value.sentence)


def test_sharing_demo_at_its_bounds():
    assert len(sharing_demo([1] * 100, index=99).array_after) == 100
    assert sharing_demo([1, 2], index=0).array_after[0] == 100


def test_a_recipe_keeps_every_field_through_its_dict():
    spec = TensorSpec(source="literal", literal="[5, 6]", shape=(4,), dtype="int64", seed=3)
    assert TensorSpec.from_dict(spec.to_dict()) == spec
    assert TensorSpec.from_dict({"source": "ones", "shape": [3], "dtype": "bool"}) == TensorSpec("ones", shape=(3,), dtype="bool")


def test_a_literal_recipe_ignores_the_shape_box():
    """The shape box belongs to the constructors: a literal's tensor has the literal's shape, whatever the box holds."""
    spec = TensorSpec(source="literal", literal="[1, 2]", shape=(10 * limits.MAX_TENSOR_ELEMENTS,))
    assert tuple(build(spec).tensor.shape) == (2,)


def test_names_default_to_x_and_the_panels_run_with_them():
    built = build(TensorSpec(literal="[1, 2]"))
    assert built.torch_code.startswith("x = ") and built.numpy_code.startswith("x_np = ")
    for library in ("torch", "numpy"):
        run(built.panel_code(library))


def test_the_numpy_panel_imports_torch_only_when_its_numbers_come_from_torch():
    assert "import torch" not in build(TensorSpec(literal="[1, 2]")).panel_code("numpy")
    assert "import torch" not in build(TensorSpec(source="arange", shape=(3,))).panel_code("numpy")
    assert "import torch" in build(TensorSpec(source="rand", shape=(3,))).panel_code("numpy")


@pytest.mark.parametrize(("dtype", "expected"), [("inferred", torch.float32), ("float32", torch.float32),
                                                 ("float64", torch.float64), ("int64", torch.int64), ("bool", torch.bool)])
def test_random_tensors_have_the_dtype_asked_for_and_cast_only_when_needed(dtype, expected):
    built = build(TensorSpec(source="randn", shape=(2, 2), dtype=dtype, seed=5))
    assert built.tensor.dtype == expected
    g = torch.Generator().manual_seed(5)
    assert torch.equal(built.tensor, torch.randn((2, 2), generator=g).to(expected))
    assert (".to(" in built.torch_code) == (expected != torch.float32)  # a float32 draw needs no cast


def test_a_pytorch_refusal_keeps_pytorchs_reason():
    with pytest.raises(PlaygroundError) as info:
        build(TensorSpec(literal="[1e300]", dtype="int64"))
    assert info.value.detail.startswith("RuntimeError") and "overflow" in info.value.detail


def test_sharing_demo_defaults_change_the_first_element_to_100():
    demo = sharing_demo([1, 2, 3])
    assert demo.array_after == [100, 2, 3] and demo.from_numpy_after == [100, 2, 3]
