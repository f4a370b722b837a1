"""Saving and loading trained models: atomic writes, verified and safe loads.

A checkpoint is a plain dict that ``torch.load(..., weights_only=True)`` can read, so loading
one never runs code from the file:

* ``state_dict`` — the weights to predict with (the best epoch by validation accuracy);
* ``arch``/``arch_kwargs`` — how to rebuild the network (see :mod:`mnist_helpers.models`);
* ``normalization`` — the mean and std the inputs must be normalised with;
* ``metadata`` — epochs, accuracies, profile, seed, library versions, date;
* ``resume`` (optional) — the last epoch's weights, optimizer and schedule state, so an
  interrupted run can carry on where it stopped;
* ``integrity`` — a SHA-256 digest of everything above, checked on every load: a file damaged
  on disk or edited by hand is refused, never used.

Before anything is built from a file, what it asks for is checked: a known architecture, its
arguments within their ranges, weights that are finite numbers of the right shapes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import math
import os
import platform
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from . import config
from .device import place_model
from .errors import CheckpointError, ConfigError
from .files import atomic_write
from .models import build_model, check_arguments
from .profiles import get_profile

FORMAT_VERSION = 2
#: The most a checkpoint may hold once unpacked (ours are a few MB).
MAX_BYTES = 256 << 20


def default_checkpoint_path(profile: str | None = None) -> Path:
    """Where notebook 03 saves and later notebooks load: ``<workspace>/models/mnist_cnn.pt``
    for the default profile, ``mnist_cnn_<profile>.pt`` for the others (so a quick test run
    never replaces the real model). ``profile`` defaults to ``$MNIST_PROFILE``."""
    name = get_profile(profile).name
    return config.models_dir() / ("mnist_cnn.pt" if name == "default" else f"mnist_cnn_{name}.pt")


def library_versions() -> dict[str, str]:
    """Versions of Python, torch and torchvision, stored with every checkpoint."""
    return {"python": platform.python_version(), "torch": str(torch.__version__),
            "torchvision": importlib.metadata.version("torchvision")}


def _digest(value: object, sha: hashlib._Hash) -> None:
    """Feed a nested structure of dicts, lists, tensors and plain values into ``sha``."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        sha.update(f"T{tensor.dtype}{tuple(tensor.shape)}".encode())
        sha.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        sha.update(b"{")
        for key in sorted(value, key=str):
            sha.update(json.dumps(str(key)).encode())
            _digest(value[key], sha)
        sha.update(b"}")
    elif isinstance(value, list | tuple):
        sha.update(b"[")
        for item in value:
            _digest(item, sha)
        sha.update(b"]")
    else:
        sha.update(json.dumps(value, default=repr).encode())


def integrity_digest(payload: dict) -> str:
    """SHA-256 of a checkpoint's contents (everything but the ``integrity`` field)."""
    sha = hashlib.sha256()
    _digest({k: v for k, v in payload.items() if k != "integrity"}, sha)
    return sha.hexdigest()


def save_checkpoint(path: str | os.PathLike, state_dict: dict[str, torch.Tensor], *, arch: str,
                    arch_kwargs: dict | None = None, metadata: dict | None = None,
                    resume: dict | None = None) -> Path:
    """Write a checkpoint of ``state_dict`` atomically: to a temporary file beside ``path``,
    then renamed. A crash or interrupt mid-write leaves the previous checkpoint intact."""
    path = Path(path)
    arch_kwargs = dict(arch_kwargs or {})
    check_arguments(arch, arch_kwargs)
    payload = {
        "format": FORMAT_VERSION,
        "arch": arch,
        "arch_kwargs": arch_kwargs,
        "state_dict": {k: v.detach().cpu().clone() for k, v in state_dict.items()},
        "normalization": {"mean": config.MNIST_MEAN, "std": config.MNIST_STD},
        "metadata": {"saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "versions": library_versions(), **(metadata or {})},
    }
    if resume is not None:
        payload["resume"] = resume
    payload["integrity"] = integrity_digest(payload)
    buffer = io.BytesIO()  # serialised in memory first, so a full disk is a plain OSError
    torch.save(payload, buffer)
    with atomic_write(path, fsync=True) as out:
        out.write(buffer.getbuffer())
    return path


def add_metadata(path: str | os.PathLike, **items: object) -> None:
    """Add ``items`` to a checkpoint's metadata (written atomically, with a new digest)."""
    payload = read_checkpoint(path)
    payload["metadata"].update(items)
    _rewrite(path, payload)


def drop_resume_state(path: str | os.PathLike) -> None:
    """Remove what only resuming needs (optimizer state, last-epoch weights) from a checkpoint:
    a file for predicting, a third of the size."""
    payload = read_checkpoint(path)
    payload.pop("resume", None)
    _rewrite(path, payload)


def _rewrite(path: str | os.PathLike, payload: dict) -> None:
    payload["integrity"] = integrity_digest(payload)
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with atomic_write(Path(path), fsync=True) as out:
        out.write(buffer.getbuffer())


def _refuse(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"{path}: {why}")


def read_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict:
    """The checkpoint's dict, loaded with ``weights_only=True`` onto ``device``, after checking
    that it is ours, intact, and asks only for what we can build."""
    if not str(path).strip():
        raise CheckpointError("The checkpoint path is empty: name a checkpoint file.")
    path = Path(path)
    if not path.exists():
        raise _refuse(path, "no such checkpoint. Train one first: run notebook 03, or "
                            f"`python -m mnist_helpers train --out {path}`.")
    if path.is_dir():
        raise _refuse(path, "is a folder, not a checkpoint file.")
    advice = "delete it and train again, or restore a good copy."
    try:
        if not zipfile.is_zipfile(path):
            raise _refuse(path, f"is not a checkpoint this project wrote (not a PyTorch file); "
                                f"{advice}")
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
        if unpacked > MAX_BYTES:
            raise _refuse(path, f"would unpack to {unpacked:,} bytes, more than a checkpoint "
                                f"holds ({MAX_BYTES:,}); refused.")
        payload = torch.load(path, map_location=device, weights_only=True)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise _refuse(path, f"is not a readable checkpoint ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:160] if str(exc) else ''}); "
                            f"{advice}") from exc
    if not isinstance(payload, dict) or "state_dict" not in payload or "arch" not in payload:
        raise _refuse(path, "is a PyTorch file but not an mnist_helpers checkpoint (no 'arch' "
                            "and 'state_dict'). Save models with mnist_helpers.save_checkpoint.")
    if payload.get("format") != FORMAT_VERSION or "integrity" not in payload:
        raise _refuse(path, f"was written by another version of mnist_helpers (format "
                            f"{payload.get('format')!r}, this one reads {FORMAT_VERSION}, with "
                            "an integrity check): train it again.")
    if integrity_digest(payload) != payload["integrity"]:
        raise _refuse(path, f"is damaged or was changed after it was saved (its integrity "
                            f"check fails); {advice}")
    _check_contents(path, payload)
    return payload


def _check_contents(path: Path, payload: dict) -> None:
    """What the file asks for, checked before anything is built from it."""
    try:
        check_arguments(payload["arch"], payload.get("arch_kwargs", {}))
    except ConfigError as exc:
        raise _refuse(path, f"asks for a model we will not build: {exc}") from None
    weights = payload["state_dict"]
    if not isinstance(weights, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        raise _refuse(path, "its 'state_dict' is not a mapping of names to tensors.")
    for key in ("metadata", "normalization"):
        if not isinstance(payload.get(key, {}), dict):
            raise _refuse(path, f"its {key!r} is not a dict.")
    if "resume" in payload and not isinstance(payload["resume"], dict):
        raise _refuse(path, "its 'resume' is not a dict.")
    for name, tensor in weights.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise _refuse(path, f"its weights are not all numbers ({name} holds NaN or "
                                "infinity): the training diverged. Train again, with a lower "
                                "learning rate.")


@dataclass
class CheckpointInfo:
    """What a checkpoint says about its model."""

    arch: str
    arch_kwargs: dict
    normalization: dict
    epochs: int | None = None  # epochs trained
    best_epoch: int | None = None  # the epoch whose weights these are
    val_accuracy: float | None = None
    seed: int | None = None
    profile: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)  # everything, as saved

    @property
    def num_classes(self) -> int:
        """10 digits, or 12 with "not a digit" and "two digits"."""
        return int(self.arch_kwargs.get("num_classes", 10))


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu"
                    ) -> tuple[nn.Module, CheckpointInfo]:
    """Rebuild the model from a checkpoint, on ``device`` and in eval mode, and say what it is."""
    payload = read_checkpoint(path, "cpu")
    path = Path(path)
    model = build_model(payload["arch"], **payload.get("arch_kwargs", {}))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise _refuse(path, f"its weights do not fit architecture {payload['arch']!r}: "
                            f"{str(exc).splitlines()[0]}") from None
    place_model(model, device).eval()
    meta = payload.get("metadata", {})
    norm = payload.get("normalization") or {"mean": config.MNIST_MEAN, "std": config.MNIST_STD}
    if not all(isinstance(norm.get(k), float) and math.isfinite(norm[k]) for k in ("mean", "std")):
        raise _refuse(path, "its normalisation is not two numbers.")

    def number(key: str, kind: type) -> object:
        value = meta.get(key)
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    profile = meta.get("profile") if isinstance(meta.get("profile"), dict) else {}
    return model, CheckpointInfo(
        arch=payload["arch"], arch_kwargs=dict(payload.get("arch_kwargs", {})),
        normalization=dict(norm), epochs=number("epochs", int),
        best_epoch=number("best_epoch", int), val_accuracy=number("val_accuracy", float),
        seed=number("seed", int), profile=profile, metadata=meta)
