"""Sweeps: the configuration, and every member against its own single run (Trainer) as the oracle.

The engine is not the run's arithmetic bit for bit (batched products add in another order), so members are
compared with their runs to REL over EPOCHS epochs at settings where training is not chaotic, and whatever the
engine's own check after the first epoch reports (bit for bit, or how far apart) is checked independently."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from playground import limits
from playground.builder import registry
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.model import build_model
from playground.builder.sweep import (
    BATCHED,
    ONE_BY_ONE,
    SWEEPABLE,
    MemberEpoch,
    SweepAxis,
    SweepConfig,
    SweepTrainer,
    check_sweep_size,
    exactness_sentence,
    relative_difference,
)
from playground.builder.training import DIVERGED_SENTENCE, Trainer
from playground.errors import PlaygroundError

EPOCHS = 20
REL = 1e-4  # a member's losses and weights match its single run's to 1e-4 relative over EPOCHS epochs


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread, as a training worker runs (on a busy two-core machine two threads are ten times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def base(**train) -> RunConfig:
    """The Model Builder's default model and settings on 100 circle points (6 steps an epoch)."""
    return RunConfig(data=DataConfig(dataset="circle", n_samples=100, seed=3),
                     train=TrainConfig(**{"epochs": EPOCHS, "lr": 0.01, **train}))


def regression(n_samples: int = 100, **train) -> RunConfig:
    return RunConfig(data=DataConfig(dataset="plane", n_samples=n_samples, seed=3),
                     model=ModelSpec(out_features=1, task="regression"),
                     train=TrainConfig(**{"epochs": EPOCHS, "lr": 0.01, **train}))


def assert_report_holds(sweep: SweepConfig, tensors: dict, report: dict) -> None:
    """What the engine's check says about the member it checked holds when checked here, independently: a fresh
    sweep and the member's own run, one epoch each, bit for bit exactly when the report says so."""
    assert report["checked"]
    member = report["member"]
    again = SweepTrainer(sweep, tensors, check=False)
    again.run_epoch()
    run = Trainer(sweep.member(member), tensors)
    run.run_epoch()
    ours, theirs = again.state_dict_cpu(member), run.state_dict_cpu()
    assert report["bit_for_bit"] == all(torch.equal(ours[k], v) for k, v in theirs.items())
    assert report["weights_difference"] == relative_difference(ours, theirs)
    assert report["steps"] == run.steps and report["label"] == sweep.label(member)
    if report["bit_for_bit"]:
        assert "bit for bit" in exactness_sentence(report)
    else:
        assert "bit for bit" not in exactness_sentence(report)
        assert f"{report['weights_difference']:.1g}" in exactness_sentence(report)


def assert_close_to_single_runs(sweep: SweepConfig, epochs: int = EPOCHS, rel: float = REL) -> SweepTrainer:
    """Train the sweep; each member's status, history (to ``rel``) and weights (to ``rel`` of the largest weight
    of each tensor) must be its single run's; the engine's check must say what holds."""
    tensors = prepare_data(sweep.base.data).arrays()
    trainer = SweepTrainer(sweep, tensors)
    trainer.fit(epochs)
    for i in range(sweep.n_members):
        run = Trainer(sweep.member(i), tensors)
        status = run.fit(epochs)
        expected = "diverged" if status == "diverged" else "training"
        if status == "finished" and len(run.history) < epochs:  # kept its best epoch and stopped early
            expected = "stopped early"
        assert trainer.status[i] == expected, sweep.label(i)
        mine = trainer.history[i]
        assert len(mine) == len(run.history), sweep.label(i)
        for theirs, ours in zip(run.history, mine, strict=True):
            assert set(theirs) == set(ours)
            assert ours["epoch"] == theirs["epoch"]
            for key in theirs:
                assert ours[key] == pytest.approx(theirs[key], rel=rel, nan_ok=True), (sweep.label(i), theirs["epoch"], key)
        state, ours_state = run.state_dict_cpu(), trainer.state_dict_cpu(i)
        assert list(ours_state) == list(state)
        assert relative_difference(ours_state, state) <= rel, sweep.label(i)
    if trainer.history[trainer.exactness().get("member", 0)]:
        assert_report_holds(sweep, tensors, trainer.exactness())
    return trainer


@pytest.fixture
def added_rows(monkeypatch):
    """An optimizer row (torch.optim.Adagrad, no batched form) and an activation row (nn.GELU) added to the
    registry at test time, as a contributor adds them: one row each (and the choice settings' options)."""
    from playground.optimizers import OptimizerChoice

    monkeypatch.setitem(registry.OPTIMIZERS, "adagrad", OptimizerChoice(
        "adagrad", "Adagrad", "A per-weight step size from the sum of squared gradients.", "Adagrad",
        (("lr", "lr"), ("weight_decay", "weight_decay"))))
    monkeypatch.setitem(registry.ACTIVATIONS, "gelu", registry.ActivationChoice("gelu", "GELU", "smooth ReLU",
                                                                                torch.nn.GELU))
    for name, new in (("optimizer", "adagrad"), ("activations", "gelu")):
        setting = registry.BY_NAME[name]
        monkeypatch.setitem(vars(setting), "options", (*setting.options, new))


# ---------------------------------------------------------------------------------------------- config


def test_members_are_the_grid_first_axis_outermost():
    sweep = SweepConfig(base(), (SweepAxis("lr", values=(0.01, 0.1)), SweepAxis("seed", values=(1, 2, 3))))
    assert sweep.n_members == 6 and sweep.shape == (2, 3)
    assert [sweep.values(i) for i in (0, 2, 3)] == [{"lr": 0.01, "seed": 1}, {"lr": 0.01, "seed": 3},
                                                    {"lr": 0.1, "seed": 1}]
    assert sweep.label(4) == "learning rate 0.1, seed 2"
    member = sweep.member(4)
    assert member == base().with_train(lr=0.1, seed=2)
    assert member.key() == base().with_train(lr=0.1, seed=2).key()  # opens as the same run
    with pytest.raises(PlaygroundError):
        sweep.member(6)


def test_dropout_varies_the_model_and_the_rest_stays():
    sweep = SweepConfig(base(), (SweepAxis("dropout", values=(0.0, 0.25)),))
    assert [m.model.dropout for m in sweep.members()] == [0.0, 0.25]
    assert all(m.train == base().train and m.data == base().data for m in sweep.members())


def test_log_range_is_geometric_and_reads_as_typed():
    axis = SweepAxis("lr", low=0.001, high=1.0, count=4)
    assert axis.points == (0.001, 0.01, 0.1, 1.0)
    five = SweepAxis("weight_decay", low=1e-4, high=1e-2, count=5).points
    assert five[0] == 1e-4 and five[-1] == 1e-2
    ratios = [b / a for a, b in zip(five, five[1:], strict=False)]
    assert all(r == pytest.approx(10 ** 0.5, rel=1e-2) for r in ratios)


def test_round_trip_through_a_dict():
    sweep = SweepConfig(base(optimizer="sgd"), (SweepAxis("momentum", values=(0.0, 0.9)),
                                                SweepAxis("lr", low=0.01, high=0.3, count=3)))
    again = SweepConfig.from_dict(sweep.to_dict())
    assert again == sweep and again.members() == sweep.members()


@pytest.mark.parametrize("make, words", [
    (lambda: SweepConfig(base(), ()), "one or 2 settings"),
    (lambda: SweepConfig(base(), (SweepAxis("lr", values=(0.1,)),) * 2), "one axis"),
    (lambda: SweepConfig(base(), (SweepAxis("lr", values=(0.1,)), SweepAxis("seed", values=(1,)),
                                  SweepAxis("dropout", values=(0.1,)))), "one or 2"),
    (lambda: SweepConfig(base(), (SweepAxis("lr", low=1e-3, high=1.0, count=9), SweepAxis("seed", values=range(8)))),
     "at most 64 models; this grid has 9 x 8 = 72"),
    (lambda: SweepAxis("batch_size", values=(10, 20)), "cannot be swept"),
    (lambda: SweepAxis("seed", low=1, high=10, count=3), "List the seeds"),
    (lambda: SweepAxis("lr", low=0.0, high=1.0, count=3), "two positive ends"),
    (lambda: SweepAxis("lr", low=0.1, high=0.01, count=3), "the lower first"),
    (lambda: SweepAxis("lr", low=0.01, high=0.1, count=1), "from 2 to 64"),
    (lambda: SweepAxis("lr", low=0.0100, high=0.0101, count=20), "too narrow"),
    (lambda: SweepAxis("lr", values=(0.1, 0.1)), "may appear once"),
    (lambda: SweepAxis("lr", values=(0.1, float("nan"))), "finite number"),
    (lambda: SweepAxis("seed", values=(1, 2.5)), "whole number"),
    (lambda: SweepAxis("lr"), "at least one value"),
    (lambda: SweepAxis("lr", values=(0.1,), low=0.01, high=1.0, count=3), "not both"),
    (lambda: SweepConfig(base(), (SweepAxis("momentum", values=(0.0, 0.9)),)),
     "Momentum is not a setting of Adam; choose SGD or RMSprop to sweep it."),
    (lambda: SweepConfig(base(), (SweepAxis("reg_rate", values=(0.0, 0.1)),)), "Choose L1 or L2"),
    (lambda: SweepConfig(RunConfig(model=ModelSpec(hidden=(), activations=())), (SweepAxis("dropout", values=(0.1,)),)),
     "no dropout"),
    (lambda: SweepConfig(base(), (SweepAxis("lr", values=(0.1, 20.0)),)), "learning rate 20 is not a valid run"),
    (lambda: SweepConfig.from_dict({"base": {}, "axes": "lr"}), "list of axes"),
    (lambda: SweepConfig.from_dict({"base": {}, "axes": [{"setting": "lr", "values": "0.1"}]}), "must be a list"),
])
def test_refused_with_a_sentence(make, words):
    with pytest.raises(PlaygroundError) as caught:
        make()
    assert words in caught.value.sentence


def test_the_sweepable_settings_are_the_registrys_rows_marked_so():
    from playground.builder import registry

    assert list(SWEEPABLE) == [row.name for row in registry.SWEEPABLE]
    assert {"lr", "seed", "weight_decay", "momentum", "reg_rate", "dropout"} <= set(SWEEPABLE)
    for setting in SWEEPABLE.values():
        section = ModelSpec() if setting.section == "model" else TrainConfig()
        assert hasattr(section, setting.attr)


def test_size_limits_are_enforced(monkeypatch):
    monkeypatch.setattr(limits, "MAX_SWEEP_PARAMETERS", 1000)
    with pytest.raises(PlaygroundError, match="weights to train at once"):
        check_sweep_size(members=10, parameters=114, train_rows=300, rows_in_flight=300, hidden_total=16)
    monkeypatch.setattr(limits, "MAX_SWEEP_PARAMETERS", 10**9)
    monkeypatch.setattr(limits, "MAX_SWEEP_WORK", 10**4)
    with pytest.raises(PlaygroundError, match="per epoch"):
        SweepConfig(base(), (SweepAxis("seed", values=(1, 2, 3, 4)),))
    monkeypatch.setattr(limits, "MAX_SWEEP_WORK", 10**12)
    monkeypatch.setattr(limits, "MAX_SWEEP_ACTIVATIONS", 1000)
    with pytest.raises(PlaygroundError, match="activations"):
        SweepConfig(base(), (SweepAxis("seed", values=(1, 2, 3, 4)),))


def test_the_trainer_checks_the_work_with_the_real_rows(monkeypatch):
    sweep = SweepConfig(base(), (SweepAxis("seed", values=(1, 2)),))
    tensors = prepare_data(sweep.base.data).arrays()
    tensors = {k: torch.cat([v] * 10) for k, v in tensors.items()}  # a table ten times what the config says
    monkeypatch.setattr(limits, "MAX_SWEEP_WORK", 2 * 114 * 100)
    with pytest.raises(PlaygroundError, match="per epoch"):
        SweepTrainer(sweep, tensors)


# ---------------------------------------------------------------------------------------------- close to its run

OPTIMIZER_RATES = {"sgd": (0.05, 0.1)}  # SGD moves slowly at the others' rates


def optimizer_cases() -> list:
    return [pytest.param(name, id=name) for name in registry.OPTIMIZERS] + [pytest.param("adagrad", id="adagrad-added")]


@pytest.mark.parametrize("optimizer", optimizer_cases())
def test_every_optimizer_row_trains_each_member_as_its_run(optimizer, added_rows):
    """Each member with its own learning rate: the row's batched form, or (Adagrad, added here without one)
    torch.optim member by member; never refused."""
    rates = OPTIMIZER_RATES.get(optimizer, (0.003, 0.01))
    sweep = SweepConfig(base(optimizer=optimizer, lr=rates[0]), (SweepAxis("lr", values=rates),))
    trainer = assert_close_to_single_runs(sweep)
    path = ONE_BY_ONE if registry.OPTIMIZERS[optimizer].batched is None else BATCHED
    assert trainer.exactness()["optimizer"] == path
    assert ("torch.optim itself" in exactness_sentence(trainer.exactness())) == (path == ONE_BY_ONE)


def activation_cases() -> list:
    return [pytest.param(name, id=name) for name in registry.ACTIVATIONS] + [pytest.param("gelu", id="gelu-added")]


@pytest.mark.parametrize("activation", activation_cases())
def test_every_activation_row_trains_each_member_as_its_run(activation, added_rows):
    config = RunConfig(data=DataConfig(dataset="circle", n_samples=100, seed=3),
                       model=ModelSpec(hidden=(8, 8), activations=(activation, activation)),
                       train=TrainConfig(epochs=EPOCHS, lr=0.01))
    assert_close_to_single_runs(SweepConfig(config, (SweepAxis("seed", values=(1, 2)),)))


@pytest.mark.parametrize("loss", [pytest.param(name, id=name) for name in registry.LOSSES])
def test_every_loss_row_trains_each_member_as_its_run(loss):
    config = base() if "classification" in registry.LOSSES[loss].tasks else regression(loss=loss)
    assert_close_to_single_runs(SweepConfig(config, (SweepAxis("lr", values=(0.003, 0.01)),)))


@pytest.mark.parametrize("sweep", [
    SweepConfig(base(), (SweepAxis("weight_decay", values=(0.0, 1e-3, 0.05)),)),
    SweepConfig(base(optimizer="sgd", lr=0.05), (SweepAxis("momentum", values=(0.0, 0.5)),)),
    SweepConfig(base(optimizer="sgd", momentum=0.5, nesterov=True, weight_decay=1e-3),
                (SweepAxis("lr", values=(0.01, 0.05)), SweepAxis("seed", values=(1, 2)))),
    SweepConfig(base(regularization="l1"), (SweepAxis("reg_rate", values=(0.0, 1e-3)),)),
    SweepConfig(base(regularization="l2"), (SweepAxis("reg_rate", values=(0.0, 1e-3, 0.01)),)),
    SweepConfig(base(), (SweepAxis("dropout", values=(0.0, 0.1, 0.3)),)),
    SweepConfig(base(batch_size=7, shuffle=False), (SweepAxis("seed", values=(0, 7)),)),
], ids=["weight_decay", "momentum", "nesterov-two-axes", "reg_rate_l1", "reg_rate_l2", "dropout",
        "last-batch-smaller-no-shuffle"])
def test_each_sweepable_setting_trains_each_member_as_its_run(sweep):
    """Dropout included: each member draws its own run's masks (other masks would part them at once)."""
    assert_close_to_single_runs(sweep)


def test_the_engine_names_no_optimizer_activation_or_loss():
    """It builds everything from the rows (model, criterion, penalty, optimizer), so no row is named in it."""
    import playground.builder.sweep as engine

    source = open(engine.__file__).read()
    names = [row.torch_class for row in registry.OPTIMIZERS.values()]
    names += [row.module.__name__ for row in registry.ACTIVATIONS.values() if row.module is not None]
    names += [row.module.__name__ for row in registry.LOSSES.values()]
    assert [name for name in names if name in source] == []
    # small: torch's own computation batched (the hand-written engine it replaced had 1,337 lines); the per-layer
    # statistics' hooks are in it, their figures in sweep_layer_stats.py
    assert len(source.splitlines()) <= 620


def test_keeping_the_best_epoch_stops_each_member_as_its_run_stops():
    sweep = SweepConfig(base(keep_best=True, patience=2, lr=0.1), (SweepAxis("lr", values=(0.003, 0.1)),))
    trainer = assert_close_to_single_runs(sweep)
    assert "stopped early" in trainer.status  # the high rate stops early; the test would not show it otherwise
    stopped = trainer.status.index("stopped early")
    assert trainer.reason[stopped].startswith(f"Stopped early at epoch {len(trainer.history[stopped])}")


def test_recorded_learning_rate_changes_apply_to_every_member():
    sweep = SweepConfig(base(lr_changes=((3, 0.003), (8, 0.02))), (SweepAxis("seed", values=(1, 2)),))
    assert_close_to_single_runs(sweep)
    with pytest.raises(PlaygroundError, match="same rate"):
        SweepConfig(base(lr_changes=((3, 0.003),)), (SweepAxis("lr", values=(0.01, 0.1)),))


# ---------------------------------------------------------------------------------------------- measured


def test_the_check_reports_a_fault_in_a_members_optimizer(monkeypatch):
    """A batched form that is slightly off (each step 0.1% too long): the check finds and says it."""
    original = registry.OPTIMIZERS["adam"].batched

    def long_steps(p, g, state, h, step):
        original(p, g, state, {**h, "lr": h["lr"] * 1.001}, step)

    sweep = SweepConfig(base(), (SweepAxis("seed", values=(1, 2)),))
    tensors = prepare_data(sweep.base.data).arrays()
    fair = SweepTrainer(sweep, tensors)
    fair.run_epoch()
    monkeypatch.setitem(registry.OPTIMIZERS, "adam", replace(registry.OPTIMIZERS["adam"], batched=long_steps))
    faulty = SweepTrainer(sweep, tensors)
    faulty.run_epoch()
    assert faulty.exactness()["weights_difference"] > 100 * max(fair.exactness()["weights_difference"], 1e-7)
    assert not faulty.exactness()["bit_for_bit"] and "differed" in exactness_sentence(faulty.exactness())


def test_the_check_reports_a_member_whose_weights_moved():
    sweep = SweepConfig(base(), (SweepAxis("seed", values=(1, 2)),))
    trainer = SweepTrainer(sweep, prepare_data(sweep.base.data).arrays())
    with torch.no_grad():
        trainer._flat[0, 0] += 0.5  # member 1's first weight, before it trains
    trainer.run_epoch()
    report = trainer.exactness()
    assert report["checked"] and report["member"] == 0 and report["weights_difference"] > 0.01


def test_a_check_whose_single_run_diverges_says_so_and_the_sweep_goes_on(monkeypatch):
    from playground.builder.training import Diverged

    def diverge(self, control=None):
        raise Diverged("the loss became NaN")

    sweep = SweepConfig(base(), (SweepAxis("seed", values=(1, 2)),))
    trainer = SweepTrainer(sweep, prepare_data(sweep.base.data).arrays())
    monkeypatch.setattr(Trainer, "run_epoch", diverge)
    trainer.run_epoch()
    report = trainer.exactness()
    assert report["checked"] and not report["bit_for_bit"] and report["loss_difference"] == math.inf
    assert trainer.status == ["training", "training"] and "differed" in exactness_sentence(report)


def test_before_the_first_epoch_nothing_is_claimed():
    sweep = SweepConfig(base(), (SweepAxis("seed", values=(1, 2)),))
    trainer = SweepTrainer(sweep, prepare_data(sweep.base.data).arrays())
    assert trainer.exactness()["checked"] is False
    assert "bit for bit" not in exactness_sentence(trainer.exactness())
    assert "bit for bit" not in exactness_sentence(None)


def test_the_check_leaves_the_process_random_state_alone():
    sweep = SweepConfig(base(), (SweepAxis("dropout", values=(0.1, 0.2)),))
    trainer = SweepTrainer(sweep, prepare_data(sweep.base.data).arrays())
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    trainer.run_epoch()
    assert torch.equal(torch.rand(3), expected)


# ---------------------------------------------------------------------------------------------- apart


def test_a_diverging_member_stops_alone_and_the_others_are_untouched():
    sweep = SweepConfig(regression(200, optimizer="sgd", momentum=0.9), (SweepAxis("lr", values=(0.003, 10.0, 0.01)),))
    trainer = assert_close_to_single_runs(sweep, epochs=5)
    assert trainer.status == ["training", "diverged", "training"]
    assert trainer.active == [0, 2]
    assert trainer.reason[1] == DIVERGED_SENTENCE.format(value="NaN", epoch=1) or "infinite" in trainer.reason[1]
    assert trainer.history[1] == []  # it diverged in its first epoch, like its run
    kept = trainer.state_dict_cpu(1)
    assert all(torch.isfinite(v).all() for v in kept.values())
    for i in (0, 2):
        assert all(math.isfinite(row["train_loss"]) and math.isfinite(row["val_loss"]) for row in trainer.history[i])


def test_run_epoch_reports_each_member_and_then_only_the_living():
    sweep = SweepConfig(regression(200, optimizer="sgd", momentum=0.9), (SweepAxis("lr", values=(0.003, 10.0)),))
    trainer = SweepTrainer(sweep, prepare_data(sweep.base.data).arrays())
    first = trainer.run_epoch()
    assert [m.member for m in first] == [0, 1]
    assert isinstance(first[0], MemberEpoch) and first[0].result is not None and first[0].result.epoch == 1
    assert first[1].result is None and first[1].status == "diverged" and first[1].sentence == trainer.reason[1]
    second = trainer.run_epoch()
    assert [m.member for m in second] == [0] and trainer.epoch == 2


def test_every_member_diverging_ends_the_fit():
    sweep = SweepConfig(regression(200, optimizer="sgd", momentum=0.9), (SweepAxis("lr", values=(8.0, 10.0)),))
    trainer = SweepTrainer(sweep, prepare_data(sweep.base.data).arrays())
    assert trainer.fit(5) == "diverged" and trainer.active == [] and trainer.epoch < 5  # it ended early
    assert trainer.status == ["diverged", "diverged"]
    assert trainer.exactness()["checked"] is False  # no member left to check
    for i, member in enumerate(sweep.members()):
        run = Trainer(member, prepare_data(sweep.base.data).arrays())
        assert run.fit(5) == "diverged" and len(run.history) == len(trainer.history[i])


def test_stop_from_the_controller(monkeypatch):
    import playground.builder.sweep as sweep_module

    sweep = SweepConfig(base(), (SweepAxis("seed", values=(1, 2)),))
    trainer = SweepTrainer(sweep, prepare_data(sweep.base.data).arrays())
    trainer.run_epoch()
    calls = []

    def stop_now() -> bool:
        calls.append(1)
        return True

    monkeypatch.setattr(sweep_module, "CHECK_EVERY_S", 0.0)  # ask at the first step
    assert trainer.fit(3, control=stop_now) == "stopped"
    assert calls and trainer.epoch == 1 and all(len(h) == 1 for h in trainer.history)
    assert trainer.steps == 6 + 1  # one epoch of 6 steps, then one step before the stop


def test_state_dict_loads_into_the_members_model():
    sweep = SweepConfig(base(), (SweepAxis("dropout", values=(0.0, 0.2)),))
    trainer = SweepTrainer(sweep, prepare_data(sweep.base.data).arrays())
    trainer.run_epoch()
    for i, member in enumerate(sweep.members()):
        model = build_model(member.model)
        model.load_state_dict(trainer.state_dict_cpu(i))  # strict: the same keys and shapes
        assert all(v.device.type == "cpu" for v in trainer.state_dict_cpu(i).values())
    with pytest.raises(PlaygroundError):
        trainer.state_dict_cpu(2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_sweep_on_cuda_trains_and_hands_back_cpu_weights():
    sweep = SweepConfig(base(device="cuda:0"), (SweepAxis("lr", values=(0.01, 0.1)), SweepAxis("dropout", values=(0.0, 0.2))))
    tensors = prepare_data(sweep.base.data).arrays()
    trainer = SweepTrainer(sweep, tensors)
    assert trainer.fit(3) == "finished" and trainer.X_train.is_cuda
    assert all(math.isfinite(row["val_loss"]) for h in trainer.history for row in h)
    report = trainer.exactness()
    assert report["checked"] and report["device"] == "cuda:0" and report["weights_difference"] < 1e-4
    assert all(v.device.type == "cpu" for v in trainer.state_dict_cpu(0).values())


# ---------------------------------------------------------------------------------------------- for the page


@pytest.mark.parametrize("setting, text, values", [
    ("lr", "0.01, 0.03, 0.1", (0.01, 0.03, 0.1)),
    ("lr", "[1e-3, 3e-3]", (1e-3, 3e-3)),
    ("seed", " 0, 1,2 ", (0, 1, 2)),
    ("dropout", "0", (0,)),
])
def test_an_axis_typed_as_text_is_read_never_evaluated(setting, text, values):
    axis = SweepAxis.from_text(setting, text)
    assert axis.values == values and axis.setting == setting


@pytest.mark.parametrize("setting, text, words", [
    ("lr", "", "Give at least one value of the learning rate"),
    ("lr", "0.1; 0.2", "The values of the learning rate must be numbers separated by commas"),
    ("lr", "__import__('os')", "must be numbers separated by commas"),
    ("lr", "[[0.1]]", "must be numbers separated by commas"),
    ("lr", "0.1, nan", "finite number"),
    ("lr", "True, 0.1", "finite number"),
    ("seed", "1, 2.5", "whole number"),
    ("seed", "1, 1", "may appear once"),
    ("lr", "0.1, " * 300, f"at most {limits.MAX_SWEEP_VALUES_CHARS:,} characters"),
    ("batch_size", "1, 2", "cannot be swept"),
])
def test_an_axis_typed_badly_is_refused_with_a_sentence(setting, text, words):
    with pytest.raises(PlaygroundError) as caught:
        SweepAxis.from_text(setting, text)
    assert words in caught.value.sentence


def test_outputs_are_each_members_own_model_in_eval_mode():
    spec = ModelSpec(in_features=2, hidden=(8, 8), activations=("tanh", "relu"), out_features=2, dropout=0.3)
    config = RunConfig(data=DataConfig(dataset="circle", n_samples=200, seed=3), model=spec,
                       train=TrainConfig(epochs=2))
    sweep = SweepConfig(config, (SweepAxis("seed", values=(0, 1, 2)),))
    trainer = SweepTrainer(sweep, prepare_data(config.data).arrays())
    trainer.fit(2)
    X = torch.randn(300, 2, generator=torch.Generator().manual_seed(0))
    out = trainer.outputs(X)
    assert out.shape == (3, 300, 2)
    for member in range(3):
        model = build_model(sweep.member(member).model)
        model.load_state_dict(trainer.state_dict_cpu(member))
        with torch.no_grad():
            expected = model.eval()(X)
        assert torch.allclose(out[member], expected, rtol=0, atol=1e-6)  # no dropout: what model.eval() computes
    assert torch.equal(trainer.outputs(X), out)  # and no random draws


def test_sweep_limits_at_the_limit_and_one_past():
    """Each bound of a sweep's grid accepted at its limit and refused one past it: members, axes, values an axis,
    a log range's count and the characters of a typed list."""
    full = limits.MAX_SWEEP_MEMBERS
    assert SweepConfig(base(), (SweepAxis("seed", values=tuple(range(full))),)).n_members == full
    assert SweepConfig(base(), (SweepAxis("lr", low=1e-3, high=0.1, count=8),
                                SweepAxis("seed", values=tuple(range(full // 8))))).n_members == full
    with pytest.raises(PlaygroundError, match=f"at most {full} values"):
        SweepAxis("seed", values=tuple(range(full + 1)))
    with pytest.raises(PlaygroundError, match=f"at most {full} models"):
        SweepConfig(base(), (SweepAxis("lr", low=1e-3, high=0.1, count=5), SweepAxis("seed", values=tuple(range(13)))))
    assert len(SweepAxis("lr", low=1e-3, high=0.1, count=full).points) == full
    with pytest.raises(PlaygroundError, match=f"from 2 to {full}"):
        SweepAxis("lr", low=1e-3, high=0.1, count=full + 1)
    axes = (SweepAxis("lr", values=(0.01,)), SweepAxis("seed", values=(1,)))
    assert len(SweepConfig(base(), axes[: limits.MAX_SWEEP_AXES]).axes) == limits.MAX_SWEEP_AXES
    with pytest.raises(PlaygroundError, match="one or 2"):
        SweepConfig(base(), (*axes, SweepAxis("dropout", values=(0.1,))))
    chars = limits.MAX_SWEEP_VALUES_CHARS
    text = "1" + " " * (chars - 3) + ",2"  # exactly at the limit
    assert len(text) == chars and SweepAxis.from_text("seed", text).values == (1, 2)
    with pytest.raises(PlaygroundError, match=f"at most {chars:,} characters"):
        SweepAxis.from_text("seed", text + " ")
