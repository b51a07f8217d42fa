"""Every size or count a user gives is bounded in playground/, each at its limit (accepted) and one past it
(refused) (issue 25 item 3): the Model Builder's layers, neurons, samples, epochs, batch and patience (checked
by the configuration's registry rows, whatever the widgets allow), the Autograd page's variables, their
shapes and its plots' grids, and the Tensor Lab's dims, sizes, cat inputs and exponent. CSV rows and columns, and a link's keys and
values, are tested the same way in tests/reliability/test_hostile_csv.py and test_hostile_url.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from playground import limits
from playground.autograd.function_plots import Curve1DSpec, Field2DSpec
from playground.autograd.variables import ExpressionSpec, VariableSpec, parse_random_shape
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.errors import PlaygroundError
from playground.tensors.build import TensorSpec
from playground.tensors.literal import parse_shape
from playground.tensors.ops import OpSpec, parse_exponent, resolve

# (what, a function of one value that raises PlaygroundError when the value is refused, at the limit, past it)
MODEL_BUILDER = [
    ("hidden layers", lambda n: ModelSpec(hidden=(4,) * n, activations=("relu",) * n), limits.MAX_HIDDEN_LAYERS,
     limits.MAX_HIDDEN_LAYERS + 1),
    ("neurons in a layer", lambda n: ModelSpec(hidden=(n,), activations=("relu",)), limits.MAX_LAYER_WIDTH,
     limits.MAX_LAYER_WIDTH + 1),
    ("neurons at least 1", lambda n: ModelSpec(hidden=(n,), activations=("relu",)), 1, 0),
    ("samples", lambda n: DataConfig(n_samples=n), limits.MAX_SAMPLES, limits.MAX_SAMPLES + 1),
    ("samples at least", lambda n: DataConfig(n_samples=n), limits.MIN_SAMPLES, limits.MIN_SAMPLES - 1),
    ("epochs", lambda n: TrainConfig(epochs=n), limits.MAX_EPOCHS, limits.MAX_EPOCHS + 1),
    ("batch size", lambda n: TrainConfig(batch_size=n), limits.MAX_BATCH_SIZE, limits.MAX_BATCH_SIZE + 1),
    ("batch size at least 1", lambda n: TrainConfig(batch_size=n), 1, 0),
    ("patience", lambda n: TrainConfig(patience=n), limits.MAX_EPOCHS, limits.MAX_EPOCHS + 1),
    ("learning-rate changes", lambda n: TrainConfig(lr_changes=tuple((i, 0.01) for i in range(n))),
     limits.MAX_LR_CHANGES, limits.MAX_LR_CHANGES + 1),
    ("model inputs (CSV columns)", lambda n: ModelSpec(in_features=n), limits.MAX_CSV_COLUMNS, limits.MAX_CSV_COLUMNS + 1),
    ("classes", lambda n: ModelSpec(out_features=n), limits.MAX_CLASSES, limits.MAX_CLASSES + 1),
    ("seed", lambda n: TrainConfig(seed=n), limits.MAX_SEED, limits.MAX_SEED + 1),
]

AUTOGRAD = [
    ("variables", lambda n: ExpressionSpec(tuple(VariableSpec(f"v{i}") for i in range(n)), "v0").validate(),
     limits.MAX_VARIABLES, limits.MAX_VARIABLES + 1),
    ("random shape's elements", lambda n: parse_random_shape(f"{n}"), limits.MAX_TENSOR_ELEMENTS,
     limits.MAX_TENSOR_ELEMENTS + 1),
    ("random shape's dims", lambda n: parse_random_shape(", ".join(["1"] * n)), limits.MAX_TENSOR_DIMS,
     limits.MAX_TENSOR_DIMS + 1),
    ("random shape from a kept spec", lambda n: VariableSpec("w", source="random", shape=(1, n)).validate(),
     limits.MAX_TENSOR_ELEMENTS, limits.MAX_TENSOR_ELEMENTS + 1),
    ("value's numbers", lambda n: VariableSpec("w", literal="[" + ", ".join(["1."] * n) + "]").validate(),
     limits.MAX_TENSOR_ELEMENTS, limits.MAX_TENSOR_ELEMENTS + 1),
    ("curve points", lambda n: Curve1DSpec(points=n).validate(), limits.MAX_GRID_POINTS, limits.MAX_GRID_POINTS + 1),
    ("field grid per side", lambda n: Field2DSpec(side=n).validate(), limits.MAX_GRID_SIDE, limits.MAX_GRID_SIDE + 1),
    ("field arrows per side", lambda n: Field2DSpec(arrow_side=n).validate(), limits.MAX_ARROW_SIDE,
     limits.MAX_ARROW_SIDE + 1),
    ("plot range", lambda n: Field2DSpec(x_range=(-n, n)).validate(), int(limits.MAX_PLOT_RANGE),
     int(limits.MAX_PLOT_RANGE) + 1),
]

TENSOR_LAB = [
    ("one size beside a 0", lambda n: parse_shape(f"0, {n}"), limits.MAX_TENSOR_SIZE, limits.MAX_TENSOR_SIZE + 1),
    ("a constructor's size beside a 0", lambda n: TensorSpec(source="zeros", shape=(n, 0)), limits.MAX_TENSOR_SIZE,
     limits.MAX_TENSOR_SIZE + 1),
    ("elements", lambda n: parse_shape(f"{n}"), limits.MAX_TENSOR_ELEMENTS, limits.MAX_TENSOR_ELEMENTS + 1),
    ("dims", lambda n: parse_shape(", ".join(["1"] * n)), limits.MAX_TENSOR_DIMS, limits.MAX_TENSOR_DIMS + 1),
    ("a new shape's size beside a 0", lambda n: resolve(OpSpec("reshape", new_shape=f"0, {n}")),
     limits.MAX_TENSOR_SIZE, limits.MAX_TENSOR_SIZE + 1),
    ("tensors cat joins", lambda n: resolve(OpSpec("cat", cat_count=n)), limits.MAX_CAT_INPUTS, limits.MAX_CAT_INPUTS + 1),
    ("dim", lambda n: resolve(OpSpec("unsqueeze", dim=n)), limits.MAX_TENSOR_DIMS + 1, limits.MAX_TENSOR_DIMS + 2),
    ("exponent", lambda n: parse_exponent(str(n)), int(limits.MAX_ABS_EXPONENT), int(limits.MAX_ABS_EXPONENT) + 1),
    ("shape box characters", lambda n: parse_shape("1" + " " * (n - 1)), limits.MAX_SHAPE_CHARS, limits.MAX_SHAPE_CHARS + 1),
]

CASES = MODEL_BUILDER + AUTOGRAD + TENSOR_LAB


@pytest.mark.parametrize(("make", "at", "past"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_at_the_limit_accepted_past_it_refused(make, at, past):
    make(at)
    with pytest.raises(PlaygroundError) as caught:
        make(past)
    assert caught.value.sentence.endswith((".", ")")) and "Traceback" not in caught.value.sentence


def test_a_run_at_every_model_builder_limit_at_once_is_a_valid_configuration():
    """The limits together: the largest model, data and training a configuration may ask for."""
    config = RunConfig()
    n = limits.MAX_HIDDEN_LAYERS
    big = RunConfig(data=replace(config.data, n_samples=limits.MAX_SAMPLES),
                    model=replace(config.model, hidden=(limits.MAX_LAYER_WIDTH,) * n, activations=("relu",) * n),
                    train=replace(config.train, epochs=limits.MAX_EPOCHS, batch_size=limits.MAX_BATCH_SIZE))
    assert RunConfig.from_dict(big.to_dict()) == big
    with pytest.raises(PlaygroundError):
        RunConfig.from_dict({**big.to_dict(), "model": {**big.model.to_dict(), "hidden": [limits.MAX_LAYER_WIDTH + 1] * n}})
