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

A file is also checked before it is trusted with memory or time: it must be a regular file of
at most ``MAX_BYTES`` (never a pipe or a device, which could block or never end), and what it
unpickles to is walked, without reading a single weight, for nesting, size and the kind of
every tensor: a few hundred bytes can describe a tensor of a trillion numbers that all share
one stored value, and only its description says so.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import math
import os
import platform
import stat
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from . import config
from .checkpoint_contents import MAX_BYTES, structure_problem
from .device import get_device, place_model
from .errors import CheckpointError, ConfigError
from .files import atomic_write, describe_special_file
from .models import build_model, check_arguments
from .profiles import get_profile

FORMAT_VERSION = 2
#: What to do about a checkpoint that is damaged.
ADVICE = "delete it and train again, or restore a good copy."
#: What to do about a file that is not a checkpoint at all (a photo, a script): never delete.
NOT_OURS = "it is not a checkpoint file. Name a .pt file saved by mnist_helpers."

_Number = TypeVar("_Number", int, float)


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
    then renamed. A crash or interrupt mid-write leaves the previous checkpoint intact.

    Everything is checked before a byte is written, so it never writes a file that
    :func:`load_checkpoint` would refuse."""
    path = _path_argument(path)
    _check_weights_argument(state_dict)
    arch_kwargs = dict(arch_kwargs or {})
    check_arguments(arch, arch_kwargs)
    _check_weights_fit(state_dict, arch, arch_kwargs)
    for name, value in (("metadata", metadata), ("resume", resume)):
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a dict or None, not {type(value).__name__}")
    payload = {
        "format": FORMAT_VERSION,
        "arch": arch,
        "arch_kwargs": arch_kwargs,
        "state_dict": {k: v.detach().cpu().clone() for k, v in state_dict.items()},
        "normalization": {"mean": config.MNIST_MEAN, "std": config.MNIST_STD},
        "metadata": {"saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
                     "versions": library_versions(), **(metadata or {})},
    }
    if resume is not None:
        payload["resume"] = resume
    problem = structure_problem(payload)
    if problem:
        raise ValueError(f"save_checkpoint: the checkpoint {problem}, so it could not be loaded; "
                         "store only dicts, lists, str, int, float, bool, None and tensors")
    payload["integrity"] = integrity_digest(payload)
    buffer = io.BytesIO()  # serialised in memory first, so a full disk is a plain OSError
    torch.save(payload, buffer)
    with atomic_write(path, fsync=True) as out:
        out.write(buffer.getbuffer())
    return path


def _path_argument(path: object) -> Path:
    """``path`` as a Path, or a TypeError/ValueError naming it when it names no file."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if path is None or (isinstance(path, str) and not path.strip()):
        raise (TypeError if path is None else ValueError)(
            f"path is {path!r}: the checkpoint path is empty: name a file")
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a file name (str or os.PathLike), not "
                        f"{type(path).__name__}")
    return Path(path)


def _check_weights_argument(state_dict: object) -> None:
    """A TypeError unless ``state_dict`` maps names to tensors."""
    if isinstance(state_dict, nn.Module):
        raise TypeError(f"state_dict is a model ({type(state_dict).__name__}), not its "
                        "weights: pass model.state_dict()")
    if not isinstance(state_dict, Mapping):
        kind = "None" if state_dict is None else f"a {type(state_dict).__name__}"
        raise TypeError(f"state_dict is {kind}, not a mapping of names to tensors: pass "
                        "model.state_dict()")
    for key, value in state_dict.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise TypeError(f"state_dict must map names (str) to tensors; its entry {key!r} "
                            f"holds a {type(value).__name__}: pass model.state_dict()")


def _check_weights_fit(state_dict: Mapping[str, torch.Tensor], arch: str,
                       arch_kwargs: dict) -> None:
    """A ValueError unless the weights load into ``build_model(arch, **arch_kwargs)`` as
    :func:`load_checkpoint` loads them (strictly), and are all finite numbers."""
    try:
        build_model(arch, **arch_kwargs).load_state_dict(state_dict)
    except RuntimeError as exc:
        raise ValueError(f"state_dict does not fit architecture {arch!r} with arch_kwargs "
                         f"{arch_kwargs}: {str(exc).splitlines()[0]}") from None
    for name, tensor in state_dict.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"state_dict: the weights are not all numbers ({name} holds NaN "
                             "or infinity): the training diverged. Train again, with a lower "
                             "learning rate.")


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


def _read_bytes(path: Path) -> bytes:
    """The bytes of the checkpoint file ``path``, after checking that it is a regular file of
    at most ``MAX_BYTES``: a pipe would block, and a device such as /dev/zero never ends."""
    try:
        info = path.stat()  # follows links: a link to /dev/zero is judged by where it leads
    except FileNotFoundError:
        raise _refuse(path, "no such checkpoint. Train one first: run notebook 03, or "
                            f"`python -m mnist_helpers train --out {path}`.") from None
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise _refuse(path, "is a folder, not a checkpoint file.")
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(path, f"is {describe_special_file(path, info.st_mode)}, not a checkpoint "
                            "file; it was not opened. Name a .pt file saved by mnist_helpers.")
    if info.st_size > MAX_BYTES:
        raise _too_big(path, f"{info.st_size:,} bytes")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # bounded: a file may grow, or misreport its size
    except OSError as exc:
        raise _refuse(path, f"cannot be read ({exc.strerror or exc}).") from None
    if len(data) > MAX_BYTES:
        raise _too_big(path, f"more than {MAX_BYTES:,} bytes")
    return data


def _too_big(path: Path, size: str) -> CheckpointError:
    return _refuse(path, f"is {size}, larger than a checkpoint can be ({MAX_BYTES:,} bytes at "
                         "most); it was not read. Name a .pt file saved by mnist_helpers.")


def _is_pytorch_file(data: bytes) -> bool:
    """Whether ``data`` begins as a PyTorch file does, even one cut short: a zip archive whose
    first entry is ``<name>/data.pkl``. A photo or a script does not."""
    if data[:4] != b"PK\x03\x04" or len(data) < 30:
        return False
    name_length = int.from_bytes(data[26:28], "little")
    return data[30:30 + name_length].endswith(b"/data.pkl")


def _unpickle(path: Path, device: torch.device) -> object:
    """What the file holds, read with ``weights_only=True`` (so no code from it runs), after
    checking that it is a PyTorch zip archive that unpacks to at most ``MAX_BYTES``."""
    data = _read_bytes(path)
    try:
        if not _is_pytorch_file(data):  # a user's photo or script: never advise deleting it
            raise _refuse(path, f"is not a PyTorch zip archive: {NOT_OURS}")
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise _refuse(path, f"is a damaged PyTorch file (cut short?); {ADVICE}")
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
        if unpacked > MAX_BYTES:
            raise _refuse(path, f"would unpack to {unpacked:,} bytes, more than a checkpoint "
                                f"holds ({MAX_BYTES:,}); refused.")
        # PyTorch checks each tensor's storage against the bytes stored for it, so what this
        # allocates is bounded by the size just checked; views are checked after.
        with warnings.catch_warnings():  # a sparse tensor is refused after, without a warning
            warnings.filterwarnings("ignore", "Validating sparse tensor", UserWarning)
            return torch.load(io.BytesIO(data), map_location=device, weights_only=True)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise _refuse(path, f"is not a readable checkpoint ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:160] if str(exc) else ''}); "
                            f"{ADVICE}") from exc


def _check_structure(path: Path, payload: object) -> None:
    """Refuse a file whose contents :func:`_structure_problem` finds fault with."""
    problem = structure_problem(payload)
    if problem:
        raise _refuse(path, f"{problem}; {ADVICE}")


def read_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu") -> dict:
    """The checkpoint's dict, loaded with ``weights_only=True`` onto ``device``, after checking
    that it is ours, intact, and asks only for what we can build."""
    if path is None or not isinstance(path, str | bytes | os.PathLike):
        raise TypeError(f"path must be a checkpoint file name (str or os.PathLike), not "
                        f"{type(path).__name__}")
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not str(path).strip():
        raise CheckpointError("The checkpoint path is empty: name a checkpoint file.")
    device = get_device(str(device))  # a device that is not there: one line, before reading
    path = Path(path)
    payload = _unpickle(path, device)
    if not isinstance(payload, dict) or "state_dict" not in payload or "arch" not in payload:
        raise _refuse(path, "is a PyTorch file but not an mnist_helpers checkpoint (no 'arch' "
                            "and 'state_dict'). Save models with mnist_helpers.save_checkpoint.")
    _check_structure(path, payload)  # before anything reads, copies or hashes a tensor
    version = payload.get("format")
    if (not isinstance(version, int) or version != FORMAT_VERSION
            or not isinstance(payload.get("integrity"), str)):
        raise _refuse(path, f"was written by another version of mnist_helpers (format "
                            f"{version if isinstance(version, int) else 'unknown'}, this one "
                            f"reads {FORMAT_VERSION}, with an integrity check): train it again.")
    if integrity_digest(payload) != payload["integrity"]:
        raise _refuse(path, f"is damaged or was changed after it was saved (its integrity "
                            f"check fails); {ADVICE}")
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
    resume = payload.get("resume", {})
    if not isinstance(resume, dict):
        raise _refuse(path, "its 'resume' is not a dict.")
    for key in ("epoch", "planned_epochs", "steps_per_epoch"):
        if key in resume and (not isinstance(resume[key], int) or isinstance(resume[key], bool)):
            raise _refuse(path, f"its resume state's {key!r} is not a whole number; {ADVICE}")
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
    if not isinstance(path, str | bytes | os.PathLike):
        raise TypeError(f"path must be a checkpoint file name (str or os.PathLike), not "
                        f"{type(path).__name__}")
    device = get_device(str(device))  # a device that is not there: one line, before reading
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

    def number(key: str, kind: type[_Number]) -> _Number | None:
        value = meta.get(key)
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    profile = meta.get("profile") if isinstance(meta.get("profile"), dict) else {}
    return model, CheckpointInfo(
        arch=payload["arch"], arch_kwargs=dict(payload.get("arch_kwargs", {})),
        normalization=dict(norm), epochs=number("epochs", int),
        best_epoch=number("best_epoch", int), val_accuracy=number("val_accuracy", float),
        seed=number("seed", int), profile=profile, metadata=meta)
