"""Optimizer paths are the real torch.optim optimizers: compared with the update rules written by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from playground.autograd.function_plots import FUNCTIONS_2D
from playground.autograd.optimizer_paths import OptimizerRunSpec, OptimizerSpec, run_path, run_paths
from playground.errors import PlaygroundError
from playground.limits import MAX_OPTIMIZER_STEPS, MAX_OPTIMIZERS_COMPARED

BOWL = "x**2 + 3*y**2"


def grad_bowl(p: np.ndarray) -> np.ndarray:
    return np.array([2 * p[0], 6 * p[1]])


def test_sgd_is_p_minus_lr_times_grad():
    path = run_path(BOWL, (-2.5, 2.0), 20, OptimizerSpec("SGD", 0.05))
    p = np.array([-2.5, 2.0])
    for step in range(20):
        assert np.allclose([path.xs[step], path.ys[step]], p)
        p = p - 0.05 * grad_bowl(p)
    assert np.allclose([path.xs[-1], path.ys[-1]], p)
    assert len(path.losses) == 21 and path.losses[0] == pytest.approx(2.5**2 + 3 * 4)
    assert path.losses[-1] == pytest.approx(p[0] ** 2 + 3 * p[1] ** 2)


def test_sgd_momentum_and_nesterov_by_hand():
    for nesterov in (False, True):
        kind = "SGD Nesterov" if nesterov else "SGD"
        path = run_path(BOWL, (1.0, -1.0), 15, OptimizerSpec(kind, 0.02, 0.9))
        p, buf = np.array([1.0, -1.0]), None
        for _ in range(15):
            g = grad_bowl(p)
            buf = g.copy() if buf is None else 0.9 * buf + g
            p = p - 0.02 * (g + 0.9 * buf if nesterov else buf)
        assert np.allclose([path.xs[-1], path.ys[-1]], p), kind


def test_adam_by_hand():
    path = run_path(BOWL, (-2.0, 1.0), 25, OptimizerSpec("Adam", 0.1))
    p, m, v = np.array([-2.0, 1.0]), np.zeros(2), np.zeros(2)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, 26):
        g = grad_bowl(p)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - 0.1 * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    assert np.allclose([path.xs[-1], path.ys[-1]], p)


def test_rmsprop_by_hand():
    path = run_path(BOWL, (-2.0, 1.0), 25, OptimizerSpec("RMSprop", 0.01))
    p, sq = np.array([-2.0, 1.0]), np.zeros(2)
    for _ in range(25):
        g = grad_bowl(p)
        sq = 0.99 * sq + 0.01 * g * g
        p = p - 0.01 * g / (np.sqrt(sq) + 1e-8)
    assert np.allclose([path.xs[-1], path.ys[-1]], p)


def test_it_is_the_torch_optimizer_class(monkeypatch):
    made = []
    original = torch.optim.Adam

    class Spy(original):
        def __init__(self, *args, **kwargs):
            made.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", Spy)
    run_path(BOWL, (1.0, 1.0), 3, OptimizerSpec("Adam", 0.3))
    assert made == [{"lr": 0.3}]


def test_optimizers_reach_the_minimum_of_each_preset():
    bowl = FUNCTIONS_2D["bowl"]
    path = run_path(bowl.expression, bowl.start, 300, OptimizerSpec("SGD", bowl.lr, 0.9))
    assert path.losses[-1] < 1e-6 and path.stopped is None
    himmelblau = FUNCTIONS_2D["Himmelblau"]
    path = run_path(himmelblau.expression, himmelblau.start, 500, OptimizerSpec("Adam", 0.1))
    assert path.losses[-1] < 1e-3  # one of Himmelblau's four minima, where f = 0


def test_divergence_stops_the_path_with_a_sentence():
    path = run_path(BOWL, (1.0, 1.0), 200, OptimizerSpec("SGD", 1.0))
    assert path.stopped and "Lower the learning rate" in path.stopped
    assert len(path.xs) == len(path.losses) < 201
    saddle = run_path("x**2 - y**2", (0.5, 0.1), 2000, OptimizerSpec("SGD", 0.1))
    assert saddle.stopped


def test_comparison_runs_every_optimizer_from_the_same_start():
    spec = OptimizerRunSpec(BOWL, (-1.0, 1.0), 10, (OptimizerSpec("SGD", 0.05), OptimizerSpec("Adam", 0.1)))
    paths = run_paths(spec)
    assert [p.label for p in paths] == ["SGD (lr 0.05)", "Adam (lr 0.1)"]
    assert all(p.xs[0] == -1.0 and p.ys[0] == 1.0 for p in paths)
    assert OptimizerRunSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("spec,match", [
    (OptimizerRunSpec(BOWL, (0.0, 0.0), MAX_OPTIMIZER_STEPS + 1, (OptimizerSpec(),)), "steps"),
    (OptimizerRunSpec(BOWL, (0.0, 0.0), 0, (OptimizerSpec(),)), "steps"),
    (OptimizerRunSpec(BOWL, (0.0, 0.0), 5, ()), "optimizers"),
    (OptimizerRunSpec(BOWL, (0.0, 0.0), 5, (OptimizerSpec(),) * (MAX_OPTIMIZERS_COMPARED + 1)), "optimizers"),
    (OptimizerRunSpec(BOWL, (math.nan, 0.0), 5, (OptimizerSpec(),)), "start point"),
    (OptimizerRunSpec(BOWL, (0.0, 0.0), 5, (OptimizerSpec("SGD", 0.0),)), "learning rate"),
    (OptimizerRunSpec(BOWL, (0.0, 0.0), 5, (OptimizerSpec("SGD", 100.0),)), "learning rate"),
    (OptimizerRunSpec(BOWL, (0.0, 0.0), 5, (OptimizerSpec("SGD Nesterov", 0.1, 0.0),)), "Nesterov"),
    (OptimizerRunSpec(BOWL, (0.0, 0.0), 5, (OptimizerSpec("LBFGS", 0.1),)), "Choose an optimizer"),
    (OptimizerRunSpec("x + z", (0.0, 0.0), 5, (OptimizerSpec(),)), "not declared"),
])
def test_limits_and_bad_settings_are_refused(spec, match):
    with pytest.raises(PlaygroundError, match=match):
        run_paths(spec)


def test_flat_function_has_nothing_to_follow():
    path = run_path("1 + 2", (1.0, 1.0), 5, OptimizerSpec())
    assert path.stopped and "does not depend" in path.stopped


@pytest.mark.parametrize(("text", "rates"), [
    ("", ()), ("  ", ()), ("0.01", (0.01,)), ("0.01, 0.3", (0.01, 0.3)), ("0.3 0.01,1e-3", (0.3, 0.01, 0.001)),
    ("0.1, 0.1, 0.10", (0.1,)), ("10", (10.0,)), ("1e-5", (1e-5,)),
])
def test_more_learning_rates_are_read_as_plain_numbers(text, rates):
    from playground.autograd.optimizer_paths import parse_learning_rates

    assert parse_learning_rates(text) == rates


@pytest.mark.parametrize(("text", "fragment"), [
    ("0.1, x", "is not a learning rate"), ("__import__('os')", "is not a learning rate"), ("1e309", "between"),
    ("nan", "between"), ("-0.1", "between"), ("0", "between"), ("11", "between"), ("0.1;0.2", "is not a learning rate"),
    ("0.1 " * 100, "at most 200 characters"), ("0.1 0.2 0.3 0.4 0.5 0.6", "At most 6 paths"),
])
def test_bad_learning_rates_are_refused_with_a_sentence(text, fragment):
    from playground.autograd.optimizer_paths import parse_learning_rates
    from playground.errors import PlaygroundError

    with pytest.raises(PlaygroundError, match=fragment):
        parse_learning_rates(text)


def test_one_optimizer_at_several_learning_rates_walks_several_paths():
    from playground.autograd.optimizer_paths import (
        OptimizerRunSpec,
        OptimizerSpec,
        run_paths,
        with_learning_rates,
    )

    sgd = OptimizerSpec("SGD", 0.05, 0.5)
    specs = with_learning_rates(sgd, (0.01, 0.05, 0.2))
    assert [(s.kind, s.lr, s.momentum) for s in specs] == [("SGD", 0.05, 0.5), ("SGD", 0.01, 0.5), ("SGD", 0.2, 0.5)]
    paths = run_paths(OptimizerRunSpec("x**2 + y**2", (1.0, 1.0), 5, tuple(specs)).validate())
    assert len({p.label for p in paths}) == 3
    first_step = {p.label: p.xs[1] for p in paths}  # SGD's first step is x - lr * 2x, momentum or not
    assert first_step == pytest.approx({"SGD (lr 0.05, momentum 0.5)": 0.9, "SGD (lr 0.01, momentum 0.5)": 0.98,
                                        "SGD (lr 0.2, momentum 0.5)": 0.6})


# ---- the work bound and the fast evaluation --------------------------------------------------------------------

COSTLY = "(" + " + ".join(["x", "y"] * 12) + ") + (" + " + ".join(["x*x", "y*y"] * 6) + ") + x"  # 197 characters


def test_the_work_bound_holds_at_its_edge(monkeypatch):
    from playground import limits
    from playground.autograd.expression import parse_expression
    from playground.autograd.optimizer_paths import optimizer_work, tree_size

    tree = parse_expression(BOWL, {"x", "y"})
    assert tree_size(tree) == 9  # x, 2, **, 3, y, 2, **, *, +
    spec = OptimizerRunSpec(BOWL, (1.0, 1.0), 40, (OptimizerSpec("SGD", 0.05), OptimizerSpec("Adam", 0.1)))
    work = optimizer_work(40, 2, tree)
    assert work == 40 * 2 * (9 + limits.OPTIMIZER_STEP_COST)
    monkeypatch.setattr(limits, "MAX_OPTIMIZER_WORK", work)
    spec.validate()
    monkeypatch.setattr(limits, "MAX_OPTIMIZER_WORK", work - 1)
    with pytest.raises(PlaygroundError, match="too much to run at each change"):
        spec.validate()


def test_the_costly_setup_of_issue_12_is_refused_before_it_runs(monkeypatch):
    """6 paths of 2,000 steps on a ~200-character function took 11.6-14.1 s of the page's thread."""
    import playground.autograd.optimizer_paths as optimizer_paths

    spec = OptimizerRunSpec(COSTLY, (0.5, 0.5), 2000, tuple(OptimizerSpec("Adam", 0.001 * (i + 1)) for i in range(6)))
    monkeypatch.setattr(optimizer_paths, "run_path", lambda *a: pytest.fail("no step may run"))
    with pytest.raises(PlaygroundError, match="6 paths of 2,000 steps on a function of 97 parts"):
        run_paths(spec)
    monkeypatch.undo()
    for name in ("Rosenbrock", "Himmelblau", "bowl", "saddle"):  # every preset, at its own steps, with 6 paths
        surface = FUNCTIONS_2D[name]
        OptimizerRunSpec(surface.expression, surface.start, surface.steps,
                         tuple(OptimizerSpec("SGD", surface.lr * (i + 1)) for i in range(6))).validate()


@pytest.mark.parametrize("expression", [
    BOWL, "(1 - x)**2 + 100*(y - x**2)**2", "sin(x) * cos(y) + exp(-x**2) / (1 + y**2)", "-x + sqrt(x**2 + y**2 + 1)",
    "tanh(x - y) + sigmoid(x * y) + relu(x) + abs(y) + log(1 + x**2)", "x.pow(3) - 3 * y + 2 ** 2", "2 * 3 + x * y",
])
def test_the_fast_evaluation_makes_the_same_numbers(expression):
    """After the first, checked evaluation a path re-evaluates f without the checks: bit for bit the same."""
    from playground.autograd.expression import compile_pointwise, evaluate, parse_expression

    tree = parse_expression(expression, {"x", "y"})
    fast = compile_pointwise(tree, torch.float64)
    for x, y in [(0.3, -1.7), (2.0, 0.5), (-1e-3, 7.25)]:
        px = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        py = torch.tensor(y, dtype=torch.float64, requires_grad=True)
        slow = evaluate(tree, {"x": px, "y": py}, dtype=torch.float64)
        (gx, gy) = torch.autograd.grad(slow, [px, py], allow_unused=True, materialize_grads=True)
        quick = fast({"x": px, "y": py})
        (qx, qy) = torch.autograd.grad(quick, [px, py], allow_unused=True, materialize_grads=True)
        assert slow.item() == quick.item() or (math.isnan(slow.item()) and math.isnan(quick.item()))
        assert gx.item() == qx.item() and gy.item() == qy.item()


def test_the_warm_up_runs_once_per_process_off_the_page_thread():
    import threading

    from playground.autograd.optimizer_paths import warm_up_in_background

    warm_up_in_background()
    warm_up_in_background()
    warmers = [t for t in threading.enumerate() if t.name == "playground-optimizer-warm-up"]
    assert len(warmers) <= 1 and all(t.daemon for t in warmers)
    for thread in warmers:
        thread.join(timeout=60)


# ---- one optimizer list: the Model Builder's rows ---------------------------------------------------------------


def test_the_paths_offer_exactly_the_registrys_optimizers():
    from playground.autograd.optimizer_paths import optimizer_kinds
    from playground.optimizers import OPTIMIZERS

    rows = [row.label for row in OPTIMIZERS.values()]
    kinds = optimizer_kinds()
    assert [k for k in kinds if not k.endswith(" Nesterov")] == rows
    assert [k for k in kinds if k.endswith(" Nesterov")] == [f"{r.label} Nesterov" for r in OPTIMIZERS.values()
                                                               if "nesterov" in r.settings]
    for kind in kinds:  # each builds its row's own torch.optim class
        row = next(r for r in OPTIMIZERS.values() if kind in (r.label, f"{r.label} Nesterov"))
        optimizer = OptimizerSpec(kind, 0.05, 0.5).validate().make([torch.zeros(2, requires_grad=True)])
        assert type(optimizer) is getattr(torch.optim, row.torch_class)


def test_a_row_added_to_the_registry_is_offered_and_walks(monkeypatch):
    """A contributor's new optimizer row (Adagrad here) is a path too, stepped by torch.optim.Adagrad."""
    from playground.autograd.optimizer_paths import optimizer_kinds
    from playground.builder import registry
    from playground.optimizers import OptimizerChoice

    monkeypatch.setitem(registry.OPTIMIZERS, "adagrad", OptimizerChoice(
        "adagrad", "Adagrad", "", "Adagrad", (("lr", "lr"), ("weight_decay", "weight_decay"))))
    assert "Adagrad" in optimizer_kinds()
    spec = OptimizerSpec("Adagrad", 0.5).validate()
    assert spec.code() == "torch.optim.Adagrad([p], lr=0.5)" and not spec.uses_momentum
    path = run_path(BOWL, (-2.0, 1.0), 10, spec)
    p = torch.tensor([-2.0, 1.0], dtype=torch.float64, requires_grad=True)
    reference = torch.optim.Adagrad([p], lr=0.5)
    for _ in range(10):
        reference.zero_grad()
        (p[0] ** 2 + 3 * p[1] ** 2).backward()
        reference.step()
    assert np.allclose([path.xs[-1], path.ys[-1]], p.detach().numpy())


def test_momentum_goes_to_the_rows_that_have_it():
    assert OptimizerSpec("RMSprop", 0.01, 0.5).keywords() == {"lr": 0.01, "momentum": 0.5}
    assert OptimizerSpec("Adam", 0.01, 0.5).keywords() == {"lr": 0.01}
    assert OptimizerSpec("SGD Nesterov", 0.01, 0.9).code() == "torch.optim.SGD([p], lr=0.01, momentum=0.9, nesterov=True)"


# ---- pinned by the mutation run of 2026-12-08 (docs/MUTATION.md) --------------------------------------------------


def test_an_optimizer_keeps_its_momentum_through_its_dict_and_reads_none_as_zero():
    spec = OptimizerSpec("SGD Nesterov", 0.02, 0.7)
    assert spec.to_dict() == {"kind": "SGD Nesterov", "lr": 0.02, "momentum": 0.7}
    assert OptimizerSpec.from_dict(spec.to_dict()) == spec
    assert OptimizerSpec.from_dict({"kind": "SGD", "lr": 0.1}) == OptimizerSpec("SGD", 0.1, 0.0)


def test_learning_rates_at_their_limits_and_one_past():
    from playground.autograd.optimizer_paths import MAX_LR_TEXT_CHARS, parse_learning_rates

    assert MAX_LR_TEXT_CHARS == 200
    text = "0.1" + " " * (MAX_LR_TEXT_CHARS - 3)  # exactly 200 characters
    assert parse_learning_rates(text) == (0.1,)
    with pytest.raises(PlaygroundError, match="^Type at most 200 characters"):
        parse_learning_rates(text + " ")
    most = [0.1, 0.2, 0.3, 0.4, 0.5][: MAX_OPTIMIZERS_COMPARED - 1]  # with the optimizer's own rate: 6 paths
    assert parse_learning_rates(", ".join(map(str, most))) == tuple(most)
    with pytest.raises(PlaygroundError, match=f"^At most {MAX_OPTIMIZERS_COMPARED} paths"):
        parse_learning_rates(", ".join(map(str, most + [0.6])))


@pytest.mark.parametrize(("text", "sentence"), [
    ("0.1, 1e-2x", "`1e-2x` is not a learning rate: type numbers such as 0.01, 0.3."),
    ("0.1 20", "Each learning rate must be between 1e-05 and 10; `20` is not."),
])
def test_a_refused_learning_rate_is_quoted_as_typed(text, sentence):
    from playground.autograd.optimizer_paths import parse_learning_rates

    with pytest.raises(PlaygroundError) as refused:
        parse_learning_rates(text)
    assert refused.value.sentence == sentence


def test_the_warm_up_takes_one_step_with_each_optimizer_on_a_daemon_thread(monkeypatch):
    import threading

    from playground.autograd import optimizer_paths

    steps = []
    real = optimizer_paths.run_path

    def recording(expression, start, count, spec):
        path = real(expression, start, count, spec)
        steps.append((spec.kind, len(path.losses), path.stopped))
        return path

    monkeypatch.setattr(optimizer_paths, "_WARMED", threading.Lock())  # a process that has not warmed up yet
    monkeypatch.setattr(optimizer_paths, "run_path", recording)
    before = set(threading.enumerate())  # a warm-up another test (or page) started may still be running
    optimizer_paths.warm_up_in_background()
    optimizer_paths.warm_up_in_background()  # once per process
    warmers = [t for t in threading.enumerate() if t.name == "playground-optimizer-warm-up" and t not in before]
    assert len(warmers) == 1 and warmers[0].daemon
    warmers[0].join(timeout=60)
    assert steps == [(kind, 2, None) for kind in optimizer_paths.optimizer_kinds()]  # one step: two losses
