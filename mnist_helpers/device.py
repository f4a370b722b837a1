"""Which device to compute on, and seeding for repeatable runs."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

DEVICE_ENV = "MNIST_DEVICE"


def get_device(prefer: str | None = None) -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU.

    ``prefer`` (or the ``MNIST_DEVICE`` environment variable, e.g. ``MNIST_DEVICE=cpu``)
    overrides the search; asking for a device that is not there is an error, not a
    silent fallback, so a run never pretends to be on a GPU it does not have.
    """
    wanted = (prefer or os.environ.get(DEVICE_ENV) or "").strip().lower()
    if not wanted or wanted == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(wanted)
    except RuntimeError as exc:
        raise ValueError(
            f"Unknown device {wanted!r}; use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'."
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"Device {wanted!r} was asked for but PyTorch sees no CUDA GPU. "
            f"Unset {DEVICE_ENV} (or pass 'auto') to use the best device available."
        )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise RuntimeError(
            f"Device 'mps' was asked for but this PyTorch build or machine has no MPS. "
            f"Unset {DEVICE_ENV} (or pass 'auto') to use the best device available."
        )
    return device


def describe_device(device: torch.device) -> str:
    """A one-line, human description of ``device`` (GPU name, or CPU thread count)."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def place_model(model: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """Move ``model`` to ``device`` in the fastest memory layout for it.

    On CPUs and CUDA GPUs that is channels-last (NHWC): measured on a 2-core CPU it trains
    ``fast_cnn`` 1.6× faster than the default NCHW layout (the inputs need no conversion:
    convolutions follow the weights' layout). MPS keeps the default.
    """
    device = torch.device(device)
    model = model.to(device)
    if device.type in ("cpu", "cuda"):
        model = model.to(memory_format=torch.channels_last)
    return model


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so a run can be repeated exactly on CPU."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators


def make_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (for shuffling and splits)."""
    return torch.Generator().manual_seed(seed)
