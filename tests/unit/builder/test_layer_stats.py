"""The per-layer statistics (layer_stats.py) against a direct torch computation, and training unchanged by them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from playground import limits
from playground.builder import layer_stats
from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.builder.model import linear_layers
from playground.builder.training import Trainer


def small_run(**train) -> tuple[RunConfig, dict]:
    config = RunConfig(
        data=DataConfig(dataset="circle", n_samples=200, seed=1),
        model=ModelSpec(in_features=2, hidden=(6, 5), activations=("relu", "tanh"), out_features=2),
        train=TrainConfig(**{"epochs": 2, "batch_size": 16, "lr": 0.05, "optimizer": "adam", **train}),
    )
    return config, prepare_data(config.data).arrays()


def watched(trainer: Trainer) -> dict:
    """Record, directly with torch, each step's weight-gradient norms (wrapping optimizer.step) and each epoch's
    starting weights; a trainer without statistics does the training."""
    seen: dict = {"norms": [], "start": None}
    step = trainer.optimizer.step
    weights = [m.weight for m in linear_layers(trainer.model)]

    def recording_step(*args, **kwargs):
        seen["norms"].append([float(torch.linalg.vector_norm(w.grad)) for w in weights])
        return step(*args, **kwargs)

    trainer.optimizer.step = recording_step
    return seen


def close(a, b, rel=1e-4, abs_=1e-7) -> bool:
    return a == pytest.approx(b, rel=rel, abs=abs_)


def test_every_statistic_equals_a_direct_torch_computation():
    config, tensors = small_run()
    recorded = Trainer(config, tensors, device="cpu", layer_stats_every=1)
    plain = Trainer(config, tensors, device="cpu")
    seen = watched(plain)
    for _ in range(2):
        recorded.run_epoch()
        start = [m.weight.detach().clone() for m in linear_layers(plain.model)]
        seen["norms"] = []
        plain.run_epoch()
    stats = recorded.last_layers
    layers = linear_layers(plain.model)
    assert [s["name"] for s in stats] == ["layers.0", "layers.2", "layers.4"]
    norms = np.array(seen["norms"])  # [steps, layers], the second epoch's
    X = tensors["X_train"][: limits.LAYER_STATS_ROWS]
    hidden = layers[0](X)  # layer 0 feeds a ReLU: its units that never fire on the training rows
    dead0 = float((hidden <= 0).all(0).float().mean())
    for i, (s, layer) in enumerate(zip(stats, layers, strict=True)):
        for key, tensor in (("weight", layer.weight), ("bias", layer.bias)):
            values = tensor.detach().numpy().ravel()
            d = s[key]
            assert close(d["lo"], values.min()) and close(d["hi"], values.max())
            counts, _ = np.histogram(values, bins=limits.LAYER_STATS_BINS, range=(values.min(), values.max()))
            assert sum(d["counts"]) == values.size and np.abs(np.array(d["counts"]) - counts).max() <= 1
            assert all(close(a, b) for a, b in zip(d["q"], np.quantile(values, layer_stats.QUANTILES), strict=True))
        grad = s["grad"]
        assert grad["steps"] == len(norms) == -(-120 // 16)
        assert close(grad["mean"], norms[:, i].mean()) and close(grad["last"], norms[-1, i])
        assert all(close(a, b) for a, b in zip(grad["q"], np.quantile(norms[:, i], layer_stats.GRAD_QUANTILES),
                                                   strict=True))
        moved = torch.linalg.vector_norm(layer.weight.detach() - start[i]) / torch.linalg.vector_norm(start[i])
        assert close(s["update_ratio"], float(moved))
    assert close(stats[0]["dead"], dead0) and stats[1]["dead"] is None and stats[2]["dead"] is None


def test_the_statistics_do_not_change_training():
    config, tensors = small_run(epochs=3, optimizer="sgd", momentum=0.9)
    recorded = Trainer(config, tensors, device="cpu", layer_stats_every=1)
    plain = Trainer(config, tensors, device="cpu")
    assert recorded.fit() == plain.fit() == "finished"
    assert recorded.history == plain.history  # the same losses to the last digit
    for a, b in zip(recorded.model.state_dict().values(), plain.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert recorded.last_layers and plain.last_layers is None


def test_a_relu_layer_that_never_fires_is_all_dead():
    config, tensors = small_run()
    trainer = Trainer(config, tensors, device="cpu", layer_stats_every=1)
    with torch.no_grad():
        trainer.model.layers[0].bias.fill_(-1e3)  # every pre-activation is below 0 on every row
    trainer.run_epoch()
    assert trainer.last_layers[0]["dead"] == 1.0
    assert trainer.last_layers[0]["grad"]["mean"] == 0.0  # and no gradient reaches its weights


def test_size_is_bounded_by_the_limits():
    assert layer_stats.stride(limits.MAX_EPOCHS) * limits.LAYER_STATS_MAX_EPOCHS >= limits.MAX_EPOCHS
    assert -(-limits.MAX_EPOCHS // layer_stats.stride(limits.MAX_EPOCHS)) <= limits.LAYER_STATS_MAX_EPOCHS
    assert layer_stats.stride(10) == 1
    config, tensors = small_run(epochs=4)
    trainer = Trainer(config, tensors, device="cpu", layer_stats_every=2)
    recorded = []
    for _ in range(4):
        trainer.run_epoch()
        recorded.append(trainer.last_layers is not None)
    assert recorded == [False, True, False, True]
    assert all(len(s["weight"]["counts"]) == limits.LAYER_STATS_BINS for s in trainer.last_layers)


def test_metric_rows_drop_the_layers_only():
    rows = [{"epoch": 1, "train_loss": 0.5, "layers": [{"name": "layers.0"}]}, {"epoch": 2, "train_loss": 0.4}]
    assert layer_stats.metric_rows(rows) == [{"epoch": 1, "train_loss": 0.5}, {"epoch": 2, "train_loss": 0.4}]


def recorded_history(epochs: int = 2) -> list[dict]:
    """Rows as the worker sends them: the trainer's row with its layers' statistics."""
    config, tensors = small_run(epochs=epochs)
    trainer = Trainer(config, tensors, device="cpu", layer_stats_every=1)
    rows = []
    for _ in range(epochs):
        trainer.run_epoch()
        rows.append({**trainer.history[-1], "layers": trainer.last_layers})
    return rows


def test_the_history_download_has_one_row_per_epoch_and_layer():
    from playground.runs import comparison, export

    history = recorded_history()
    table = export.layer_stats_table(history)
    assert len(table) == 2 * 3 and list(table["layer"][:3]) == ["layers.0", "layers.2", "layers.4"]
    first = history[1]["layers"][0]
    row = table[(table["epoch"] == 2) & (table["layer"] == "layers.0")].iloc[0]
    assert row["grad_norm_mean"] == first["grad"]["mean"] and row["update_ratio"] == first["update_ratio"]
    assert row["dead_share"] == first["dead"] and row["weight_p50"] == first["weight"]["q"][4]
    assert [row[f"weight_bin_{k}"] for k in range(limits.LAYER_STATS_BINS)] == first["weight"]["counts"]
    assert b"grad_norm_mean" in export.to_csv_bytes(table)
    assert export.layer_stats_table([{"epoch": 1, "train_loss": 0.3}]).empty  # an old run: no statistics
    assert "layers" not in comparison.history_table(history).columns  # the metrics table stays flat
    assert '"update_ratio"' in comparison.history_json(history)  # the JSON download carries them


def test_a_kept_run_keeps_its_statistics_and_old_runs_still_load(tmp_path):
    import dataclasses

    from playground.runs.store import SqliteRunStore
    from tests.sample_runs import make_trained

    store = SqliteRunStore(tmp_path)
    old = make_trained()  # rows without statistics, as every run kept before them
    history = recorded_history(len(old.history))
    new = dataclasses.replace(old, history=tuple({**a, "layers": b["layers"]} for a, b in zip(old.history, history,
                                                                                               strict=True)))
    old_id, new_id = store.save(old), store.save(new)
    assert store.get(old_id).history == old.history
    assert [row["layers"] for row in store.get(new_id).history] == [row["layers"] for row in history]
    assert store.history(new_id)[-1]["layers"][0]["name"] == "layers.0"


class _Conn:
    """The worker's two connections, in process: no control messages; progress messages collected."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def poll(self, timeout: float | None = None) -> bool:
        return False

    def send(self, message: tuple) -> None:
        self.sent.append(message)


def test_the_worker_sends_every_epoch_row_with_its_layers_statistics():
    from playground.execution.jobs import run_payload
    from playground.execution.worker import run_job

    config, tensors = small_run(epochs=3)
    conn = _Conn()
    run_job(7, run_payload(config, tensors), conn, conn)
    rows = [row for message in conn.sent if message[0] == "epochs" for row in message[2]]
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert "layers" in rows[0] and "layers" in rows[-1]  # the first and the last epoch at least (time share)
    assert all(len(row["layers"]) == 3 and row["layers"][0]["grad"]["steps"] == 8 for row in rows if "layers" in row)
    assert conn.sent[-1][0] == "done" and conn.sent[-1][2] == "finished"


def test_at_a_slow_speed_the_worker_sends_every_epochs_statistics():
    from playground.execution.jobs import run_payload
    from playground.execution.worker import run_job

    config, tensors = small_run(epochs=3)
    conn = _Conn()
    run_job(8, run_payload(config, tensors, speed=20.0), conn, conn)
    rows = [row for message in conn.sent if message[0] == "epochs" for row in message[2]]
    assert [row["epoch"] for row in rows] == [1, 2, 3] and all("layers" in row for row in rows)


def test_a_time_share_skips_summaries_but_never_the_last_epoch():
    config, tensors = small_run(epochs=3)
    trainer = Trainer(config, tensors, device="cpu", layer_stats_every=1)
    trainer.layer_stats.share, trainer.layer_stats.final_epoch = 1e-9, 3  # a summary "costs" forever after
    recorded = []
    for _ in range(3):
        trainer.run_epoch()
        recorded.append(trainer.last_layers is not None)
    assert recorded == [True, False, True]


def test_the_gradient_flow_draws_a_bar_per_layer_on_a_log_scale():
    import xml.etree.ElementTree as ElementTree

    from playground.builder import layer_pictures

    def layer(name: str, mean: float) -> dict:
        return {"name": name, "grad": {"mean": mean, "q": [mean / 2, mean, mean, mean, mean * 2]},
                "update_ratio": 1e-3, "dead": 0.75 if name == "layers.0" else None}

    row = {"epoch": 5, "layers": [layer("layers.0", 1e-1), layer("layers.2", 1e-2), layer("layers.4", 1e-3)]}
    svg = ElementTree.fromstring(layer_pictures.gradient_flow_svg(row))
    ns = "{http://www.w3.org/2000/svg}"
    groups = [g for g in svg.iter(f"{ns}g") if g.get("class") == "layer"]
    assert [g.get("data-layer") for g in groups] == ["layers.0", "layers.2", "layers.4"]
    heights = [float(g.find(f"{ns}rect").get("height")) for g in groups]
    assert heights[0] > heights[1] > heights[2]
    assert heights[0] - heights[1] == pytest.approx(heights[1] - heights[2], abs=0.2)  # a decade is one step
    first = [t.text for t in groups[0].iter(f"{ns}text")]
    assert first == ["layers.0", "1e-03", "75%"]  # its name, its Δw/w, its dead share; the rows named once at the left
    assert [t.text for t in groups[1].iter(f"{ns}text")] == ["layers.2", "1e-03"]  # no ReLU after it: no dead share
    assert {"Δw/w", "dead"} <= {t.text for t in svg.iter(f"{ns}text")}
    spread = ElementTree.fromstring(layer_pictures.distributions_svg(recorded_history(3), until=2))
    assert [g.get("data-layer") for g in spread.iter(f"{ns}g") if g.get("class") == "distribution"] == [
        "layers.0", "layers.2", "layers.4"]


def test_layer_names_are_the_names_the_statistics_give_the_linear_layers():
    """The network picture's layer k is the statistics' k-th layer (its click chooses that layer's weights): the names
    come from the spec alone, dropout and a linear activation shifting the indexes, without drawing random numbers."""
    from playground.builder import layer_pictures
    from playground.builder.layer_stats import LayerStats
    from playground.builder.model import build_model

    for spec in (ModelSpec(), ModelSpec(hidden=(5, 4, 3), activations=("relu", "linear", "sigmoid"), dropout=0.2)):
        state = torch.random.get_rng_state()
        names = layer_pictures.layer_names(spec)
        assert torch.equal(state, torch.random.get_rng_state())
        assert names == LayerStats(build_model(spec), torch.zeros(4, spec.in_features)).names
        assert len(names) == len(spec.widths) - 1
