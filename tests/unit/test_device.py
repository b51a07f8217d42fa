"""The device a training goes to by default: by measurement, with a sentence that says why."""

from __future__ import annotations

import pytest
import torch

from playground import device
from playground.builder.config import ModelSpec
from playground.builder.model import parameter_count
from playground.device import GPU_MEASUREMENTS, GPU_MIN_STEP_WORK, choose_device


@pytest.fixture
def gpu(monkeypatch):
    """A server with one CUDA GPU (whatever this machine has)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_small_single_run_goes_to_the_cpu_even_with_a_gpu(gpu):
    parameters = parameter_count(ModelSpec())  # the Model Builder's default model
    name, reason = choose_device(parameters, members=1, rows=10)
    assert name == "cpu"
    assert f"{parameters:,} parameters" in reason and "even though" in reason
    assert "0.64x to 0.82x" in reason  # the measured ratio of the nearest measurement
    assert device.default_device() == "cuda:0"  # the Tensor Lab's GPU toggle still names the GPU


def test_large_model_goes_to_the_gpu(gpu):
    name, reason = choose_device(7_352_322, members=1, rows=4096)
    assert name == "cuda:0" and "36.7x to 40.3x" in reason


def test_the_threshold_is_the_work_of_a_step(gpu):
    below = GPU_MIN_STEP_WORK // 10 - 1
    assert choose_device(below, rows=10)[0] == "cpu"
    assert choose_device(GPU_MIN_STEP_WORK // 10, rows=10)[0] == "cuda:0"
    assert choose_device(GPU_MIN_STEP_WORK // 10, rows=1)[0] == "cpu"  # the same model, one row a step


def test_a_sweep_goes_to_the_gpu(gpu):
    name, reason = choose_device(114, members=64, rows=10)
    assert name == "cuda:0" and "A sweep of 64 models" in reason


def test_without_cuda_everything_trains_on_the_cpu(no_gpu):
    for members in (1, 64):
        name, reason = choose_device(10_000_000, members=members, rows=4096)
        assert name == "cpu" and "no CUDA GPU" in reason
    assert device.default_device() == "cpu"


def test_cuda_can_be_given_explicitly():
    assert choose_device(114, cuda=True)[0] == "cpu"
    assert choose_device(114, members=8, cuda=True)[0] == "cuda:0"
    assert choose_device(114, members=8, cuda=False)[0] == "cpu"


def test_measurements_describe_themselves():
    assert all(m.ratios and m.parameters > 0 and m.rows > 0 for m in GPU_MEASUREMENTS)
    assert GPU_MEASUREMENTS[0].said().startswith("0.64x to 0.82x the CPU's speed")
