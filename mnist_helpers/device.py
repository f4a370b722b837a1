"""Which device to compute on, the settings that only pay on a GPU, and seeding.

CPU by default, CUDA or Apple's MPS when present. On a CUDA GPU three settings make training
faster and are switched on automatically (on a CPU they are off, and the code runs unchanged):

* **mixed precision** — ``torch.autocast`` runs convolutions in float16 on the GPU's tensor
  cores, and a gradient scaler keeps small gradients from underflowing;
* **cuDNN autotuning** — cuDNN times its algorithms for each input shape once, then uses the
  fastest (our batches always have the same shape, so this pays at once);
* **non-blocking copies** — a batch that lives in (pinned) CPU memory is copied to the GPU
  while the GPU is still busy with the previous one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from .config import DEVICE_ENV, setting
from .errors import ConfigError

SUPPORTED = "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"


def get_device(prefer: str | None = None) -> torch.device:
    """CUDA if present, else Apple's MPS, else the CPU.

    ``prefer`` (or the ``MNIST_DEVICE`` environment variable, e.g. ``MNIST_DEVICE=cpu``)
    overrides the search; asking for a device that is not there is an error, not a
    silent fallback, so a run never pretends to be on a GPU it does not have.
    """
    wanted = (prefer or setting(DEVICE_ENV) or "").strip().lower()
    if not wanted or wanted == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(wanted)
    except RuntimeError:
        raise ConfigError(f"Unknown device {wanted!r}; use {SUPPORTED}.") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"Device {wanted!r} is not supported here; use {SUPPORTED}.")
    if device.type in ("cpu", "mps") and device.index not in (None, 0):
        raise ConfigError(f"There is only one {device.type} device: use {device.type!r}, "
                          f"not {wanted!r}.")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"Device {wanted!r} was asked for but PyTorch sees no CUDA GPU. "
                f"Unset {DEVICE_ENV} (or pass 'auto') to use the best device available.")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"Device {wanted!r} does not exist: this machine has "
                              f"{torch.cuda.device_count()} CUDA GPU(s), cuda:0 to "
                              f"cuda:{torch.cuda.device_count() - 1}.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(
            f"Device 'mps' was asked for but this PyTorch build or machine has no MPS. "
            f"Unset {DEVICE_ENV} (or pass 'auto') to use the best device available.")
    return device


def describe_device(device: torch.device | str) -> str:
    """A one-line, human description of ``device`` (GPU name, or CPU thread count)."""
    device = torch.device(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's weights are on."""
    return next(model.parameters()).device


def place_model(model: torch.nn.Module, device: torch.device | str) -> torch.nn.Module:
    """Move ``model`` to ``device`` in the fastest memory layout for it.

    On CPUs and CUDA GPUs that is channels-last (NHWC): the convolution kernels work in that
    layout, so with it no convolution converts its input first (notebook 08b measures what it
    buys). MPS keeps the default.
    """
    device = torch.device(device)
    model = model.to(device)
    if device.type in ("cpu", "cuda"):
        model = model.to(memory_format=torch.channels_last)
    return model


@dataclass(frozen=True)
class GpuSettings:
    """The settings that only pay on a GPU, and whether each is on (see the module text)."""

    mixed_precision: bool
    cudnn_benchmark: bool
    non_blocking: bool

    @contextmanager
    def autocast(self, device: torch.device) -> Iterator[None]:
        """Mixed precision for the forward pass when it is on (float16 on a GPU, bfloat16 on
        a CPU, where it was forced); nothing otherwise."""
        with torch.autocast(device.type, dtype=_half(device), enabled=self.mixed_precision):
            yield

    def grad_scaler(self, device: torch.device) -> torch.amp.GradScaler:
        """A gradient scaler, on for float16 (whose small gradients would underflow to zero),
        a pass-through otherwise."""
        enabled = self.mixed_precision and _half(device) == torch.float16
        return torch.amp.GradScaler(device.type, enabled=enabled)


def _half(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if device.type == "cpu" else torch.float16


def gpu_settings(device: torch.device | str, mixed_precision: bool | None = None
                 ) -> GpuSettings:
    """The GPU settings for ``device``: all on for CUDA, all off elsewhere.

    ``mixed_precision`` forces it on or off (``None``: on for CUDA only; on most CPUs reduced
    precision is no faster for networks this small, so the CPU keeps float32).
    """
    cuda = torch.device(device).type == "cuda"
    return GpuSettings(mixed_precision=cuda if mixed_precision is None else mixed_precision,
                       cudnn_benchmark=cuda, non_blocking=cuda)


#: The largest seed every generator we seed accepts (NumPy's limit).
MAX_SEED = 2**32 - 1


def check_seed(seed: object) -> int:
    """``seed`` if it is a whole number from 0 to :data:`MAX_SEED`, else a ConfigError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"The seed must be a whole number from 0 to {MAX_SEED:,}, "
                          f"got {seed!r}.")
    return seed


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so a run can be repeated exactly on CPU."""
    check_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU random-number generator of its own, for shuffles, splits and augmentation, so
    each stream of random numbers repeats under its seed whatever else draws numbers."""
    return torch.Generator().manual_seed(seed)
