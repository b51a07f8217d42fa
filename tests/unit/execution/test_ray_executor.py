"""What only the Ray executor does: the same numbers as the local pool, GPUs as Ray resources, the cluster
chosen by configuration and said plainly when it cannot be reached."""

from __future__ import annotations

import numpy as np
import pytest

from playground.builder.config import DataConfig, ModelSpec, RunConfig, TrainConfig
from playground.builder.datasets import prepare_data
from playground.errors import PlaygroundError
from playground.execution.executor import RAY_ADDRESS_ENV
from playground.execution.pool import WorkerPool
from playground.execution.server import get_executor, make_executor
from tests.unit.execution.conftest import make_executor as make_test_executor

DEADLINE_S = 120


def config(device: str = "cpu") -> RunConfig:
    return RunConfig(
        data=DataConfig(dataset="spiral", n_samples=300, noise=0.2, seed=3),
        model=ModelSpec(in_features=2, hidden=(8, 6), activations=("tanh", "relu"), out_features=2, dropout=0.1),
        train=TrainConfig(optimizer="adam", lr=0.03, epochs=12, batch_size=7, shuffle=True, seed=11,
                          regularization="l2", reg_rate=1e-3, device=device),
    )


def run_on(executor, cfg: RunConfig):
    data = prepare_data(cfg.data)
    handle = executor.submit(cfg, data.arrays(), owner="same", plane_features=cfg.data.features,
                             standardization=data.standardization)
    assert handle.wait(DEADLINE_S)
    return handle.snapshot()


@pytest.fixture(scope="module")
def both(ray_cluster):
    executors = {name: make_test_executor(name) for name in ("local", "ray")}
    yield executors
    for executor in executors.values():
        executor.shutdown()


def test_results_on_ray_equal_the_local_pools_to_the_last_digit(both):
    local, ray = run_on(both["local"], config()), run_on(both["ray"], config())
    assert local.status == ray.status == "finished"
    assert local.info["pid"] != ray.info["pid"]  # two different processes trained
    # Every loss and accuracy, bit for bit. The per-layer statistics are left out: which epochs carry them depends
    # on the worker's time budget for them (playground/builder/layer_stats.py), so two processes may record others.
    def losses(history):
        return [{k: v for k, v in row.items() if k != "layers"} for row in history]

    assert losses(local.history) == losses(ray.history)
    assert local.final_state.keys() == ray.final_state.keys()
    for key in local.final_state:
        assert np.array_equal(local.final_state[key], ray.final_state[key]), key
    assert np.array_equal(local.view["heatmap"].values, ray.view["heatmap"].values)


def test_a_cuda_job_asks_the_cluster_for_a_gpu_and_a_cluster_without_one_says_so(both):
    executor = both["ray"]
    assert executor._shape({"device": "cuda:0"}) == "gpu" and executor._shape({"device": "cpu"}) is None
    if executor.cluster_resources().get("GPU", 0) == 0:
        cfg = config("cuda:0")
        with pytest.raises(PlaygroundError) as caught:
            executor.submit(cfg, prepare_data(cfg.data).arrays(), owner="gpu")
        assert caught.value.sentence == "The training cluster has no GPU; choose the CPU as the device."
    else:  # a machine with a GPU: the run trains there, on the share of a GPU Ray gave its actor
        view = run_on(executor, config("cuda:0"))
        assert view.status == "finished" and view.info["device"].startswith("cuda")


def test_an_unreachable_cluster_is_a_sentence_at_once():
    from playground.execution.ray_executor import UNREACHABLE_SENTENCE, RayExecutor
    from tests.cluster.services import require_ray

    require_ray()
    executor = RayExecutor("127.0.0.1:1")  # nothing listens there
    try:
        cfg = config()
        with pytest.raises(PlaygroundError) as caught:
            executor.submit(cfg, prepare_data(cfg.data).arrays(), owner="x")
        assert caught.value.sentence == UNREACHABLE_SENTENCE and "127.0.0.1:1" in caught.value.detail
        executor.prewarm(1)  # a page's prewarm never raises
        assert executor.workers == []
    finally:
        executor.shutdown()


def test_the_executor_is_chosen_by_configuration(monkeypatch):
    from playground.execution import server as module
    from playground.execution.ray_executor import RayExecutor

    monkeypatch.setenv(RAY_ADDRESS_ENV, "127.0.0.1:6379")
    chosen = make_executor()
    try:
        assert isinstance(chosen, RayExecutor) and chosen.address == "127.0.0.1:6379" and chosen.ray is None  # lazy
    finally:
        chosen.shutdown()
    monkeypatch.delenv(RAY_ADDRESS_ENV)
    monkeypatch.setattr(module, "_EXECUTOR", None)
    default = get_executor()
    try:
        assert isinstance(default, WorkerPool) and get_executor() is default  # one executor a server
    finally:
        default.shutdown()


def test_a_cuda_jobs_actor_asks_ray_for_a_share_of_a_gpu_and_sees_it_as_cuda_0(ray_cluster, monkeypatch):
    """Checked without a GPU: the options each kind of actor is created with, and what a CUDA job is told."""
    from playground import limits
    from playground.execution import ray_executor

    asked: list[dict] = []
    sent: list[tuple] = []

    class Recorder:
        def options(self, **options):
            asked.append(options)
            raise RuntimeError("recorded")  # the slot then ends as an actor that could not start

    class Actor:
        class start:  # noqa: N801 - stands for the actor method ``start``
            @staticmethod
            def remote(*args):
                sent.append(args)

    monkeypatch.setattr(ray_executor, "actor_class", lambda: Recorder())
    executor = ray_executor.RayExecutor("auto", max_workers=1)
    try:
        executor.connect()
        for shape in ("gpu", None):
            slot = ray_executor._RaySlot(executor, shape)
            slot.thread.join(30)
            slot.actor = Actor()
            slot.start(7, {"kind": "run", "device": "cuda:1" if shape else "cpu"})
    finally:
        executor.shutdown()
    assert [(a["num_cpus"], a["num_gpus"]) for a in asked] == [(1, limits.RAY_GPU_PER_JOB), (1, 0)]
    assert all(a["max_restarts"] == 0 for a in asked)  # a dead actor is reported, not silently restarted
    assert sent[0][1]["device_override"] == "cuda:0" and "device_override" not in sent[1][1]
