"""Which devices this server has, chosen at run time (never assumed)."""

from __future__ import annotations

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
    """The device the app trains on unless told otherwise: the first GPU when there is one."""
    return "cuda:0" if torch.cuda.is_available() else "cpu"


def torch_version() -> str:
    return torch.__version__


def limit_server_threads() -> None:
    """One torch thread for the web server's own work. Its tensors are small (a heatmap of 4,096 points, a
    network of a few hundred weights), and on a busy machine two threads fight the training workers and each
    other: measured on 2 cores under load, a decision boundary took 34 ms with two threads and 0.8 ms with one."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
