"""Which devices this server has, chosen at run time (never assumed), and which one a training should use."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DeviceInfo:
    name: str  # "cpu" or "cuda:0"
    label: str  # what a person reads


def cuda_available() -> bool:
    return torch.cuda.is_available()


def available_devices() -> list[DeviceInfo]:
    """The CPU, then each CUDA device by name."""
    devices = [DeviceInfo("cpu", "CPU")]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            devices.append(DeviceInfo(f"cuda:{index}", f"cuda:{index} ({torch.cuda.get_device_name(index)})"))
    return devices


def default_device() -> str:
    """The first GPU when there is one (where the Tensor Lab runs an operation on the GPU); for training,
    ``choose_device`` decides by the size of the work."""
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def torch_version() -> str:
    return torch.__version__


def limit_server_threads() -> None:
    """One torch thread for the web server's own work. Its tensors are small (a heatmap of 4,096 points, a
    network of a few hundred weights), and on a busy machine two threads fight the training workers and each
    other: measured on 2 cores under load, a decision boundary took 34 ms with two threads and 0.8 ms with one."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


# --------------------------------------------------------------------------------------------------
# The right device for a training, by measurement
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuMeasurement:
    """A training measured on a GPU against the CPU (steps per second, cuda over cpu) by bench/gpu_check.py."""

    what: str
    parameters: int
    rows: int  # rows in one step (the batch)
    members: int  # models trained together (1: a single run)
    ratios: tuple[float, ...]  # cuda over cpu, one a measurement
    where: str

    @property
    def work(self) -> int:
        return self.parameters * self.rows * self.members

    def said(self) -> str:
        low, high = min(self.ratios), max(self.ratios)
        ratio = f"{low:.3g}x" if low == high else f"{low:.3g}x to {high:.3g}x"
        return f"{ratio} the CPU's speed for {self.what} on {self.where}"


# bench/RESULTS.md, "GPU check" (two runs on fresh H100 leases; the app's engine, Adam).
GPU_MEASUREMENTS: tuple[GpuMeasurement, ...] = (
    GpuMeasurement("the default model (114 parameters, batch 10)", 114, 10, 1, (0.64, 0.82),
                   "an H100 (bench/gpu_check.py, torch 2.11)"),
    GpuMeasurement("8 layers of 1,024 ReLU (7.4 million parameters, batch 4,096)", 7_352_322, 4096, 1, (36.7, 40.3),
                   "an H100 (bench/gpu_check.py, torch 2.11)"),
)
# A single run goes to the GPU from this many multiply-adds a step (parameters x rows): between the measured
# points above, where a step stops being a few kernel launches' worth of work. Sweeps go to the GPU from
# GPU_MIN_SWEEP_MEMBERS members: their step carries every member's work in the same launches.
GPU_MIN_STEP_WORK = 1_000_000
GPU_MIN_SWEEP_MEMBERS = 2


def _nearest(members: int, work: int) -> GpuMeasurement | None:
    """The measurement of the same kind (a single run, or a sweep) closest in work a step, if any."""
    same = [m for m in GPU_MEASUREMENTS if (m.members > 1) == (members > 1)]
    if not same:
        return None
    return min(same, key=lambda m: abs(math.log(max(m.work, 1)) - math.log(max(work, 1))))


def choose_device(parameters: int, members: int = 1, rows: int = 10, cuda: bool | None = None) -> tuple[str, str]:
    """The device a training of ``members`` models of ``parameters`` parameters, ``rows`` rows a step, should
    use by default, and the sentence that says why. The person can still choose another."""
    if cuda is None:
        cuda = cuda_available()
    work = max(1, parameters) * max(1, rows) * max(1, members)
    if not cuda:
        return "cpu", "This server has no CUDA GPU, so training runs on the CPU."
    near = _nearest(members, work)
    measured = f" (measured: {near.said()})" if near is not None else ""
    if members >= GPU_MIN_SWEEP_MEMBERS:
        return "cuda:0", (f"A sweep of {members} models trains on the GPU: they step together, so every step carries "
                          f"{members} models' work in the same kernel launches{measured}.")
    if work >= GPU_MIN_STEP_WORK:
        return "cuda:0", (f"A model of {parameters:,} parameters at {rows:,} rows a step trains on the GPU: its steps "
                          f"are large enough to keep a GPU busy{measured}.")
    return "cpu", (f"A single model of {parameters:,} parameters at {rows:,} rows a step trains on the CPU even though "
                   "this server has a GPU: each step is too small to keep a GPU busy, so launching its kernels costs "
                   f"more than the arithmetic{measured}. Choose the GPU to compare.")
