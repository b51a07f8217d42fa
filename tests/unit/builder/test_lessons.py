"""The lessons' rows (lessons.py): each setup and its fix trained with the real Trainer show the figure the lesson tells
the learner to read, the problem before the fix and not after it; the rows are valid registry settings."""

from __future__ import annotations

import math

import pytest
import torch

from playground.builder import lessons, registry
from playground.builder.config import RunConfig
from playground.builder.datasets import prepare_data
from playground.builder.training import Trainer
from playground.errors import PlaygroundError
from playground.runs import url_state

EPOCHS = 4  # the figures settle in the first epochs; the lessons' own 30 epochs only show them longer


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and the suite's CPUs are shared
    yield
    torch.set_num_threads(threads)


def trained(config: RunConfig) -> list[dict]:
    """Train ``config`` for EPOCHS epochs with the per-layer statistics every epoch; the history as the page keeps it."""
    trainer = Trainer(config, prepare_data(config.data).arrays(), device="cpu", layer_stats_every=1)
    history = []
    for _ in range(EPOCHS):
        trainer.run_epoch()
        history.append({**trainer.history[-1], "layers": trainer.last_layers})
    return history


def layers_of(history: list[dict]) -> list[dict]:
    return history[-1]["layers"]


@pytest.fixture(scope="module")
def runs() -> dict[str, tuple[list[dict], list[dict]]]:
    torch.set_num_threads(1)
    out = {}
    for lesson in lessons.LESSONS.values():
        setup = lesson.setup(url_state.defaults())
        out[lesson.name] = trained(setup), trained(lesson.fixed_setup(setup))
    return out


def test_vanishing_the_first_layers_gradient_is_orders_of_magnitude_below_the_last_until_tanh(runs):
    problem, fixed = runs["vanishing"]
    grads = [layer["grad"]["mean"] for layer in layers_of(problem)]
    assert len(grads) == 9 and grads[0] / grads[-1] < 1e-5  # measured: 1.5e-7
    assert all(b / a > 3 for a, b in zip(grads, grads[1:], strict=False))  # about a decade a layer (measured 5-12x)
    healthy = [layer["grad"]["mean"] for layer in layers_of(fixed)]
    assert 1e-3 < healthy[0] / healthy[-1] < 1  # measured: 7e-3, about a hundredth
    assert lessons.state(lessons.LESSONS["vanishing"], problem) == (pytest.approx(grads[0] / grads[-1]), True)
    assert lessons.state(lessons.LESSONS["vanishing"], fixed)[1] is False
    assert fixed[-1]["train_loss"] < problem[-1]["train_loss"]


def test_exploding_an_epoch_moves_weights_by_more_than_their_size_until_a_smaller_rate(runs):
    problem, fixed = runs["exploding"]
    biggest = max(layer["update_ratio"] for row in problem for layer in row["layers"])
    assert biggest > 3  # measured: 11 in the first epoch
    assert max(layer["update_ratio"] for row in fixed for layer in row["layers"]) < 0.3  # measured: 0.13
    assert all(row["train_loss"] > math.log(2) for row in problem)  # worse than a coin toss, every epoch
    assert fixed[-1]["train_loss"] < fixed[0]["train_loss"] < math.log(2) + 0.05
    assert lessons.state(lessons.LESSONS["exploding"], problem)[1] is True
    assert lessons.state(lessons.LESSONS["exploding"], fixed)[1] is False


def test_dead_relu_a_layer_dies_at_rate_3_and_its_gradient_is_zero_until_a_smaller_rate(runs):
    problem, fixed = runs["dead_relu"]
    dead = [layer["dead"] for layer in layers_of(problem)]
    assert max(d for d in dead if d is not None) == 1.0  # every unit of the second layer
    assert all(layer["grad"]["mean"] == 0 for layer in layers_of(problem)[:2])  # nothing reaches the layers before
    assert all(d == 0 for d in (layer["dead"] for layer in layers_of(fixed)) if d is not None)
    assert fixed[-1]["train_loss"] < 0.35 and fixed[-1]["train_acc"] > 0.9  # the circle learnt
    assert lessons.state(lessons.LESSONS["dead_relu"], problem) == (1.0, True)
    assert lessons.state(lessons.LESSONS["dead_relu"], fixed) == (0.0, False)


def test_each_lesson_sets_its_settings_and_the_fix_changes_only_its_own():
    base = url_state.defaults()
    for lesson in lessons.LESSONS.values():
        setup = lesson.setup(base)
        values = setup.values()
        for name, value in lesson.settings:
            expected = (value,) * len(setup.model.hidden) if name == "activations" and isinstance(value, str) else value
            assert values[name] == expected, (lesson.name, name)
        fixed = lesson.fixed_setup(setup).values()
        changed = {name for name in values if values[name] != fixed[name]}
        assert changed == {name for name, _ in lesson.fix}, lesson.name
        assert setup.train.optimizer == "sgd" and not set(lesson.hides) & {n for n, _ in lesson.fix}
        assert all(name in registry.BY_NAME for name in lesson.hides)


def test_a_lesson_that_does_not_fit_the_setup_is_a_sentence():
    lesson = lessons.LESSONS["vanishing"]
    with pytest.raises(PlaygroundError):
        lessons.apply(url_state.defaults(), (("layers", (8,) * 3), ("activations", ("tanh",))))
    assert lesson.setup(url_state.defaults()).model.hidden == (8,) * 8


@pytest.mark.parametrize("name", ["", "Vanishing ", "VANISHING"])
def test_find_reads_a_lesson_name_loosely(name):
    assert (lessons.find(name) is not None) == bool(name.strip())


@pytest.mark.parametrize("name", ["nope", "vanishing;drop", "<script>", "x" * 10_000, None, 3, ["vanishing"],
                                  "vanish\x00ing", "__class__", "lessons"])
def test_find_refuses_anything_else(name):
    assert lessons.find(name) is None


def test_no_statistics_yet_means_no_figure():
    for lesson in lessons.LESSONS.values():
        assert lessons.state(lesson, []) == (None, None)
        assert lessons.state(lesson, [{"epoch": 1, "train_loss": 0.7}]) == (None, None)


# ---- the link: ?lesson=<name> (runs/url_state.py)


def test_a_lesson_link_opens_its_setup_and_its_settings_travel_with_it():
    for lesson in lessons.LESSONS.values():
        state = url_state.decode({"lesson": lesson.name}, url_state.defaults())
        assert state.lesson == lesson.name and state.notes == ()
        assert state.config == lesson.setup(url_state.defaults())
        # a copied link: the lesson and the settings on screen (the fix applied), opened afresh
        fixed = lesson.fixed_setup(state.config)
        copied = {"lesson": lesson.name, **url_state.encode(fixed)}
        again = url_state.decode(copied, url_state.defaults())
        assert again.lesson == lesson.name and again.config == fixed and again.notes == ()


@pytest.mark.parametrize("value", ["nope", "<img src=x onerror=alert(1)>", "x" * 5_000, "", "vanishing,exploding",
                                   "../../etc/passwd", "\u202evanishing"])
def test_a_hostile_lesson_link_is_a_plain_sentence_and_the_default_page(value):
    state = url_state.decode({"lesson": value}, url_state.defaults())
    assert state.lesson is None and state.config == url_state.defaults()
    assert len(state.notes) == 1 and (value == "" or value not in state.notes[0])
    assert "lesson" in state.notes[0] or "longer than" in state.notes[0]


def test_a_repeated_lesson_key_uses_the_last_one():
    state = url_state.decode({"lesson": ["exploding", "dead_relu"]}, url_state.defaults())
    assert state.lesson == "dead_relu" and state.config.model.activations == ("relu", "relu")
