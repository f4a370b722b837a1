"""Saving and loading trained models: atomic writes, safe loads, metadata that travels along.

A checkpoint is a plain dict that ``torch.load(..., weights_only=True)`` can read, so loading
one never runs code from the file:

* ``state_dict`` — the weights to predict with (the best epoch by validation accuracy);
* ``arch``/``arch_kwargs`` — how to rebuild the network (see :mod:`mnist_helpers.models`);
* ``normalization`` — the mean and std the inputs must be normalised with;
* ``metadata`` — epochs, accuracies, profile, seed, library versions, date;
* ``resume`` (optional) — the last epoch's weights, optimizer and scheduler state, so an
  interrupted run can carry on where it stopped.
"""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch
import torchvision
from torch import nn

from .data import MNIST_MEAN, MNIST_STD, project_root
from .device import place_model
from .files import atomic_write
from .models import build_model

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, damaged or not one of ours; the message says what to do."""


def default_checkpoint_path(profile: str | None = None) -> Path:
    """Where notebook 03 saves and 04/05 load: ``models/mnist_cnn.pt`` for the default
    profile, ``models/mnist_cnn_<profile>.pt`` for the others (so a quick test run never
    replaces the real model). ``profile`` defaults to ``$MNIST_PROFILE``."""
    from .profiles import get_profile

    name = get_profile(profile).name
    suffix = "" if name == "default" else f"_{name}"
    return project_root() / "models" / f"mnist_cnn{suffix}.pt"


def library_versions() -> dict[str, str]:
    """Versions of Python, torch and torchvision, stored with every checkpoint."""
    return {
        "python": platform.python_version(),
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
    }


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    arch: str,
    arch_kwargs: dict | None = None,
    metadata: dict | None = None,
    resume: dict | None = None,
) -> Path:
    """Write a checkpoint atomically: to a temporary file beside ``path``, then renamed.

    A crash or interrupt mid-write leaves the previous checkpoint intact, never half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT_VERSION,
        "arch": arch,
        "arch_kwargs": dict(arch_kwargs or {}),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "normalization": {"mean": MNIST_MEAN, "std": MNIST_STD},
        "metadata": {
            "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "versions": library_versions(),
            **(metadata or {}),
        },
    }
    if resume is not None:
        payload["resume"] = resume
    with atomic_write(path, fsync=True) as out:
        torch.save(payload, out)
    return path


def read_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict:
    """The raw checkpoint dict, loaded with ``weights_only=True`` onto ``device``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"No checkpoint at {path}. Train one first: run notebook 03, or "
            f"`python -m mnist_helpers train --out {path}`."
        )
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({type(exc).__name__}: {str(exc)[:200]}). "
            "It may be damaged or not a file this project wrote; delete it and train again."
        ) from exc
    if not isinstance(payload, dict) or "state_dict" not in payload or "arch" not in payload:
        raise CheckpointError(
            f"{path} is a PyTorch file but not an mnist_helpers checkpoint (no 'arch' and "
            "'state_dict'). Save models with mnist_helpers.save_checkpoint."
        )
    return payload


def load_checkpoint(
    path: str | os.PathLike, device: torch.device | str = "cpu"
) -> tuple[nn.Module, dict]:
    """Rebuild the model from a checkpoint, on ``device`` and in eval mode, plus its metadata.

    The metadata dict also carries ``arch``, ``arch_kwargs`` and ``normalization``.
    """
    payload = read_checkpoint(path, device)
    model = build_model(payload["arch"], **payload.get("arch_kwargs", {}))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(
            f"The weights in {path} do not fit architecture {payload['arch']!r}: "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    place_model(model, device).eval()
    info = dict(payload.get("metadata", {}))
    info.update(
        arch=payload["arch"],
        arch_kwargs=payload.get("arch_kwargs", {}),
        normalization=payload.get("normalization", {"mean": MNIST_MEAN, "std": MNIST_STD}),
    )
    return model, info
