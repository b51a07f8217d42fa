"""The training engine: epochs, DataLoader-equal batches, reproducibility, stop, resume, divergence."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.model import build_model
from playground.builder.training import EVAL_BATCH, Trainer, epoch_permutation, finish_epoch_draws
from playground.errors import PlaygroundError


def circle_config(**train) -> tuple[RunConfig, dict]:
    config = RunConfig(
        data=DataConfig(dataset="circle", n_samples=200, seed=1),
        model=ModelSpec(in_features=2, hidden=(6,), activations=("tanh",), out_features=2),
        train=TrainConfig(**{"epochs": 3, "batch_size": 16, "lr": 0.03, **train}),
    )
    return config, prepare_data(config.data).arrays()


def regression_config(**train) -> tuple[RunConfig, dict]:
    config = RunConfig(
        data=DataConfig(dataset="plane", n_samples=200, seed=2),
        model=ModelSpec(in_features=2, hidden=(5,), activations=("relu",), out_features=1, task="regression"),
        train=TrainConfig(**{"epochs": 3, "batch_size": 16, **train}),
    )
    return config, prepare_data(config.data).arrays()


def test_one_epoch_changes_weights_and_records_history():
    config, tensors = circle_config()
    trainer = Trainer(config, tensors)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    result = trainer.run_epoch()
    assert result.epoch == 1 and trainer.epoch == 1
    assert trainer.steps == math.ceil(120 / 16)
    assert set(trainer.history[0]) == {"epoch", "train_loss", "val_loss", "train_acc", "val_acc"}
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))


def test_initial_weights_are_the_seeds_default_init():
    config, tensors = circle_config(seed=5)
    torch.manual_seed(5)
    reference = build_model(config.model)
    trainer = Trainer(config, tensors)
    for a, b in zip(reference.state_dict().values(), trainer.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_same_seed_same_losses_to_the_last_digit():
    config, tensors = circle_config(optimizer="sgd", momentum=0.9, regularization="l2", reg_rate=0.001)
    runs = []
    for _ in range(2):
        trainer = Trainer(config, tensors)
        trainer.fit()
        runs.append(trainer.history)
    assert runs[0] == runs[1]
    other = Trainer(config.with_train(seed=9), tensors)
    other.fit()
    assert other.history != runs[0]


def test_dataloader_with_the_same_generator_gives_the_same_batches():
    n, batch = 23, 5
    for shuffle in (True, False):
        g_engine = torch.Generator().manual_seed(11)
        g_loader = torch.Generator().manual_seed(11)
        data = torch.arange(n)
        loader = DataLoader(TensorDataset(data), batch_size=batch, shuffle=shuffle, generator=g_loader)
        for _ in range(3):  # several epochs: the generator must stay in step
            perm = epoch_permutation(n, g_engine, shuffle)
            engine_batches = [perm[i : i + batch].tolist() for i in range(0, n, batch)]
            finish_epoch_draws(n, g_engine, shuffle)
            loader_batches = [b[0].tolist() for b in loader]
            assert engine_batches == loader_batches


def test_engine_equals_a_course_style_dataloader_loop():
    """The loop the code export writes (DataLoader, train, validate) gives the engine's losses exactly."""
    config, tensors = circle_config(optimizer="adam", regularization="l1", reg_rate=0.001)
    trainer = Trainer(config, tensors)
    trainer.fit()

    torch.manual_seed(config.train.seed)
    model = build_model(config.model)
    g = torch.Generator().manual_seed(config.train.seed)
    train_loader = DataLoader(TensorDataset(tensors["X_train"], tensors["y_train"]), batch_size=16, shuffle=True, generator=g)
    val_loader = DataLoader(TensorDataset(tensors["X_val"], tensors["y_val"]), batch_size=EVAL_BATCH)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03, betas=(0.9, 0.999), weight_decay=0.0, fused=True)
    for epoch in range(config.train.epochs):
        model.train()
        total = 0.0
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
            (loss + 0.001 * sum(w.abs().sum() for w in weights)).backward()
            optimizer.step()
            total += loss.item() * x.size(0)
        model.eval()
        val_total = 0.0
        with torch.no_grad():
            for x, y in val_loader:
                val_total += criterion(model(x), y).item() * x.size(0)
        assert total / len(train_loader.dataset) == trainer.history[epoch]["train_loss"]
        assert val_total / len(val_loader.dataset) == trainer.history[epoch]["val_loss"]


def test_penalty_is_not_in_the_reported_loss():
    config, tensors = regression_config(regularization="l2", reg_rate=1.0, epochs=1, lr=1e-5)
    with_penalty = Trainer(config, tensors)
    without = Trainer(config.with_train(regularization="none"), tensors)
    # same weights before the first step: the first batch's data loss is the same for both
    assert with_penalty.run_epoch().train_loss == pytest.approx(without.run_epoch().train_loss, rel=1e-3)


def test_stop_mid_epoch_keeps_the_partial_model():
    config, tensors = circle_config(batch_size=1, epochs=5)
    trainer = Trainer(config, tensors)
    trainer.run_epoch()
    calls = []

    def control() -> bool:
        calls.append(1)
        return True

    import playground.builder.training as engine

    old = engine.CHECK_EVERY_S
    engine.CHECK_EVERY_S = 0.0
    try:
        before = [p.detach().clone() for p in trainer.model.parameters()]
        assert trainer.fit(control=control) == "stopped"
    finally:
        engine.CHECK_EVERY_S = old
    assert calls and len(trainer.history) == 1  # the partial epoch is not a row
    assert trainer.steps > 120  # it trained some batches of the second epoch
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters(), strict=True))


def test_resume_from_weights_continues_where_it_was():
    config, tensors = circle_config(epochs=2)
    first = Trainer(config, tensors)
    first.fit()
    state = first.state_dict_cpu()
    resumed = Trainer(config, tensors, initial_state=state)
    for a, b in zip(state.values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    loss_before = resumed.evaluate(resumed.X_val, resumed.y_val)[0]
    assert loss_before == pytest.approx(first.history[-1]["val_loss"])
    resumed.fit()
    assert resumed.history[-1]["train_loss"] < first.history[0]["train_loss"]


def test_weights_that_do_not_fit_are_refused():
    config, tensors = circle_config()
    with pytest.raises(PlaygroundError, match="do not fit"):
        Trainer(config, tensors, initial_state={"0.weight": torch.zeros(3, 3)})


def test_divergence_stops_with_a_sentence_and_finite_weights():
    config, tensors = regression_config(optimizer="sgd", lr=10.0, epochs=50, batch_size=4)
    tensors = dict(tensors, y_train=tensors["y_train"] * 1e6, y_val=tensors["y_val"] * 1e6)
    trainer = Trainer(config, tensors)
    assert trainer.fit() == "diverged"
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert all(math.isfinite(row["train_loss"]) for row in trainer.history)
    from playground.builder.training import Diverged

    with pytest.raises(Diverged) as info:
        trainer.run_epoch()
    assert "lower the learning rate" in info.value.sentence


def test_batch_larger_than_the_data_is_clamped():
    config, tensors = circle_config(batch_size=5000)
    trainer = Trainer(config, tensors)
    assert trainer.batch_clamped and trainer.batch_size == 120
    trainer.run_epoch()
    assert trainer.steps == 1


def test_regression_and_sgd_and_no_shuffle_run():
    config, tensors = regression_config(optimizer="sgd", momentum=0.5, shuffle=False, regularization="l1", reg_rate=0.01)
    trainer = Trainer(config, tensors)
    assert trainer.fit() == "finished"
    assert "train_acc" not in trainer.history[0] and len(trainer.history) == 3


def test_missing_gpu_is_a_sentence():
    if torch.cuda.is_available():
        pytest.skip("this server has a GPU")
    config, tensors = circle_config(device="cuda:0")
    with pytest.raises(PlaygroundError, match="no CUDA"):
        Trainer(config, tensors)


def test_cudnn_flags_are_applied():
    config, tensors = circle_config(cudnn_deterministic=False, cudnn_benchmark=True)
    Trainer(config, tensors)
    assert torch.backends.cudnn.benchmark is True and torch.backends.cudnn.deterministic is False
    Trainer(circle_config()[0], tensors)
    assert torch.backends.cudnn.benchmark is False and torch.backends.cudnn.deterministic is True


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_optimizer_is_fused_where_torch_has_the_kernel_and_plain_elsewhere(optimizer):
    from playground.builder.training import make_optimizer

    train = TrainConfig(optimizer=optimizer)
    on_cpu = make_optimizer(nn.Linear(2, 3).parameters(), train)
    assert on_cpu.defaults["fused"] is True
    on_meta = make_optimizer(nn.Linear(2, 3, device="meta").parameters(), train)  # no fused kernel there
    assert not on_meta.defaults["fused"]


# ---- early stopping: keep the best epoch, tested here directly (not only through train.py) ---------------------

def scripted_trainer(losses, **train):
    """A trainer whose validation loss after epoch k is ``losses[k - 1]``; the weights after each epoch are kept."""
    config, tensors = circle_config(**{"keep_best": True, "epochs": len(losses), **train})
    trainer = Trainer(config, tensors)
    assert len(trainer.y_val) > 0
    real, scripted = trainer.evaluate, iter(losses)

    def evaluate(X, y):
        loss, acc = real(X, y)
        return (next(scripted), acc) if X is trainer.X_val else (loss, acc)

    trainer.evaluate = evaluate
    return trainer


def run_recording(trainer, epochs):
    from playground.builder.training import EarlyStopped

    after = []
    for _ in range(epochs):
        try:
            trainer.run_epoch()
        except EarlyStopped as stop:
            return after, stop.sentence
        after.append([p.detach().clone() for p in trainer.model.parameters()])
    return after, None


def same_weights(model, weights):
    return all(torch.equal(p, w) for p, w in zip(model.parameters(), weights, strict=True))


def test_early_stopping_stops_at_patience_and_keeps_the_best_epochs_weights():
    trainer = scripted_trainer([1.0, 0.5, 0.7, 0.6, 0.1], patience=2)
    after, sentence = run_recording(trainer, 5)
    assert len(after) == 3 and trainer.epoch == 4  # epoch 3 is one short of patience: it goes on
    assert trainer.best_epoch == 2 and trainer.best_val == 0.5
    assert same_weights(trainer.model, after[1]) and not same_weights(trainer.model, after[2])
    assert sentence == ("Stopped early at epoch 4: the validation loss had not improved for 2 epochs. "
                        "The model keeps the weights of its best epoch, 2 (validation loss 0.5).")


def test_an_equal_validation_loss_is_not_an_improvement():
    trainer = scripted_trainer([1.0, 0.5, 0.5, 0.5], patience=2)
    after, sentence = run_recording(trainer, 4)
    assert sentence is not None and trainer.best_epoch == 2 and same_weights(trainer.model, after[1])


def test_fit_ending_before_patience_restores_the_best_epoch():
    trainer = scripted_trainer([1.0, 0.4, 0.8], patience=5)
    kept = []
    real_keep = trainer._keep_if_best

    def keep(val_loss):
        real_keep(val_loss)
        kept.append([p.detach().clone() for p in trainer.model.parameters()])

    trainer._keep_if_best = keep
    assert trainer.fit() == "finished"
    assert trainer.epoch == 3 and trainer.best_epoch == 2
    assert same_weights(trainer.model, kept[1]) and not same_weights(trainer.model, kept[2])
    assert trainer.restore_best().startswith("The model keeps the weights of its best validation epoch, 2 of 3")


def test_without_keep_best_the_last_epoch_stays():
    trainer = scripted_trainer([1.0, 0.4, 0.8], patience=1, keep_best=False)
    after, sentence = run_recording(trainer, 3)
    assert sentence is None and len(after) == 3
    assert same_weights(trainer.model, after[2]) and trainer.restore_best() is None
