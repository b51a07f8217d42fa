"""The Ray executor's rules for a class server of several replicas: one training per owner across the replicas
(their shared PostgreSQL decides), and idle actors bounded."""

from __future__ import annotations

import time

import pytest

from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.errors import PlaygroundError
from playground.execution.executor import BUSY_OWNER_SENTENCE
from playground.runs.store import STORE_URL_ENV
from tests.cluster.services import connect_ray, ray_head


def config() -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="spiral", n_samples=200, noise=0.2, seed=3),
        model=ModelSpec(in_features=2, hidden=(8,), activations=("tanh",), out_features=2),
        train=TrainConfig(optimizer="adam", lr=0.03, epochs=500, batch_size=16, seed=11),
    )


def until(condition, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_one_training_per_owner_holds_across_replicas_sharing_postgres(ray_cluster, postgres_server, monkeypatch):
    from playground.execution.ray_executor import RayExecutor

    head = ray_head()
    connect_ray(head)
    monkeypatch.setenv(STORE_URL_ENV, postgres_server.database())
    replicas = [RayExecutor(head.address, max_workers=2, keep_idle=1) for _ in range(2)]  # two app servers
    cfg = config()
    arrays = prepare_data(cfg.data).arrays()
    try:
        first = replicas[0].submit(cfg, arrays, owner="owner:alice", start_paused=True)
        with pytest.raises(PlaygroundError) as caught:  # the other replica knows she trains
            replicas[1].submit(cfg, arrays, owner="owner:alice", start_paused=True)
        assert caught.value.sentence == BUSY_OWNER_SENTENCE
        other = replicas[1].submit(cfg, arrays, owner="owner:bob", start_paused=True)  # others are not held up
        first.cancel()
        other.cancel()
        assert first.wait(60) and other.wait(60)
        again = None

        def submit_again() -> bool:
            nonlocal again
            try:
                again = replicas[1].submit(cfg, arrays, owner="owner:alice", start_paused=True)
            except PlaygroundError:
                return False
            return True

        assert until(submit_again, 30)  # her claim was given back when her job ended
        again.cancel()
    finally:
        for executor in replicas:
            executor.shutdown()


def test_idle_actors_beyond_the_warm_one_are_released(ray_cluster):
    from playground.execution.ray_executor import RayExecutor

    head = ray_head()
    connect_ray(head)
    executor = RayExecutor(head.address, max_workers=3, keep_idle=1)
    try:
        executor.prewarm(3)  # three actors start (as for three queued jobs), none gets a job

        def idle() -> list:
            with executor.lock:
                return [w for w in executor.workers if w.job is None and not w.retired]

        assert until(lambda: all(w.ready.is_set() for w in idle()) and len(idle()) == 1, 180), len(idle())
        assert executor.cluster_resources()["CPU"] >= 1
    finally:
        executor.shutdown()
