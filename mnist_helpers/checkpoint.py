"""Saving and loading trained models: atomic writes, verified and safe loads.

A checkpoint is a plain dict that ``torch.load(..., weights_only=True)`` can read, so loading
one never runs code from the file:

* ``state_dict`` — the weights to predict with (the best epoch by validation accuracy);
* ``arch``/``arch_kwargs`` — how to rebuild the network (see :mod:`mnist_helpers.models`),
  or ``arch`` None for a network of your own, which loads only into a fresh instance of its
  class that you pass: ``load_checkpoint(path, model=MyNet())`` (no code is taken from a file);
* ``model_class`` — the name of the network's class (``FastCNN``, ``MyNet``);
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
import inspect
import io
import json
import math
import os
import platform
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
from .checkpoint_contents import (
    ADVICE,
    MAX_BYTES,
    class_name_problem,
    contents_problem,
    is_pytorch_file,
    read_bounded,
    structure_problem,
)
from .device import get_device, place_model, seeded_generator
from .errors import CheckpointError, ConfigError
from .evaluate import evaluation_mode
from .files import atomic_write
from .loop import check_is_network
from .models import ARCHITECTURES, build_model, check_arguments
from .profiles import get_profile

FORMAT_VERSION = 2
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


def save_checkpoint(path: str | os.PathLike, state_dict: dict[str, torch.Tensor], *,
                    arch: str | None, arch_kwargs: dict | None = None,
                    model_class: str | None = None, metadata: dict | None = None,
                    resume: dict | None = None) -> Path:
    """Write a checkpoint of ``state_dict`` atomically: to a temporary file beside ``path``,
    then renamed. A crash or interrupt mid-write leaves the previous checkpoint intact.

    ``arch`` names the network (a key of ``ARCHITECTURES``, with ``arch_kwargs``); for a
    network of your own it is None and ``model_class`` names its class. Everything is checked
    before a byte is written, so it never writes a file that :func:`load_checkpoint` would
    refuse."""
    path = _path_argument(path)
    _check_weights_argument(state_dict)
    arch_kwargs = dict(arch_kwargs or {})
    if arch is None:
        if arch_kwargs or class_name_problem(model_class):
            raise ValueError("save_checkpoint: with arch=None (a network of your own), name "
                             "its class, model_class=type(model).__name__, and no arch_kwargs")
    else:
        check_arguments(arch, arch_kwargs)
        _check_weights_fit(state_dict, arch, arch_kwargs)
        if model_class not in (None, ARCHITECTURES[arch].__name__):
            raise ValueError(f"save_checkpoint: architecture {arch!r} is a "
                             f"{ARCHITECTURES[arch].__name__}, not a {model_class}")
        model_class = ARCHITECTURES[arch].__name__
    for name, value in (("metadata", metadata), ("resume", resume)):
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"{name} must be a dict or None, not {type(value).__name__}")
    payload = {
        "format": FORMAT_VERSION,
        "arch": arch,
        "arch_kwargs": arch_kwargs,
        "model_class": model_class,
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
    _rewrite(path, payload)
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
    with torch.random.fork_rng(devices=[]):  # its random weights are not the run's numbers
        model = build_model(arch, **arch_kwargs)
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise ValueError(f"state_dict does not fit architecture {arch!r} with arch_kwargs "
                         f"{arch_kwargs}: {one_line(exc)}") from None
    for name, tensor in state_dict.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"state_dict: the weights are not all numbers ({name} holds NaN "
                             "or infinity): the training diverged. Train again, with a lower "
                             "learning rate.")


def one_line(exc: BaseException) -> str:
    """An error's message on one line (PyTorch's load errors span several), shortened."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def architecture_of(model: nn.Module, kwargs: Mapping[str, object]) -> tuple[str | None, dict]:
    """What a checkpoint of ``model`` records to rebuild it: its architecture's name and
    those of ``kwargs`` (a profile's ``model_kwargs()``) that its class takes, when the
    network built from them computes what ``model`` computes; else ``(None, {})``: a network
    of your own (or built with other arguments), which loads only into one you pass."""
    name = next((n for n, cls in ARCHITECTURES.items() if type(model) is cls), None)
    if name is None:
        return None, {}
    taken = inspect.signature(ARCHITECTURES[name]).parameters
    arguments = {k: v for k, v in kwargs.items() if k in taken}
    with torch.random.fork_rng(devices=[]):  # its random weights are not the run's numbers
        twin = build_model(name, **arguments)
    try:
        twin.load_state_dict(model.state_dict())
    except RuntimeError:
        return None, {}
    device = next(model.parameters()).device
    images = torch.rand(2, 1, 28, 28, generator=seeded_generator(0)).to(device)
    with evaluation_mode(model), evaluation_mode(twin.to(device)):
        same = torch.allclose(model(images), twin(images), rtol=1e-4, atol=1e-5)
    return (name, arguments) if same else (None, {})


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
    """Write ``payload`` to ``path`` atomically, with a fresh integrity digest."""
    payload["integrity"] = integrity_digest(payload)
    buffer = io.BytesIO()  # serialised in memory first, so a full disk is a plain OSError
    torch.save(payload, buffer)
    with atomic_write(Path(path), fsync=True) as out:
        out.write(buffer.getbuffer())


def _refuse(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"{path}: {why}")


def _unpickle(path: Path, device: torch.device) -> object:
    """What the file holds, read with ``weights_only=True`` (so no code from it runs), after
    checking that it is a PyTorch zip archive that unpacks to at most ``MAX_BYTES``."""
    data = read_bounded(path)
    try:
        if not is_pytorch_file(data):  # a user's photo or script: never advise deleting it
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
    arch = payload["arch"]
    try:
        if arch is not None or payload.get("arch_kwargs"):  # None: a network of your own
            check_arguments(arch, payload.get("arch_kwargs", {}))
    except ConfigError as exc:
        raise _refuse(path, f"asks for a model we will not build: {exc}") from None
    if arch is not None and payload.get("model_class") not in (None,
                                                               ARCHITECTURES[arch].__name__):
        raise _refuse(path, f"names another class than its architecture's; {ADVICE}")
    problem = contents_problem(payload)
    if problem:
        raise _refuse(path, problem)


@dataclass
class CheckpointInfo:
    """What a checkpoint says about its model."""

    arch: str | None  # None: a network of your own, of class ``model_class``
    arch_kwargs: dict
    normalization: dict
    model_class: str = ""  # the network's class: FastCNN, MyNet, ...
    epochs: int | None = None  # epochs trained
    best_epoch: int | None = None  # the epoch whose weights these are
    val_accuracy: float | None = None
    seed: int | None = None
    profile: dict = field(default_factory=dict)  # the hyperparameters it was trained with
    metadata: dict = field(default_factory=dict)  # everything, as saved

    @property
    def num_classes(self) -> int:
        """10 digits, or 12 with "not a digit" and "two digits"."""
        value = self.arch_kwargs.get("num_classes", self.metadata.get("num_classes"))
        return value if isinstance(value, int) and 10 <= value <= 12 else 10


def model_class_of(payload: dict) -> str:
    """The class of the network a checkpoint (as :func:`read_checkpoint` returns it) holds;
    files from before it was recorded name only their architecture."""
    return payload.get("model_class") or ARCHITECTURES[payload["arch"]].__name__


def load_checkpoint(path: str | os.PathLike, device: torch.device | str = "cpu", *,
                    model: nn.Module | None = None) -> tuple[nn.Module, CheckpointInfo]:
    """Rebuild the model from a checkpoint, on ``device`` and in eval mode, and say what it is.

    A network of your own (``info.arch`` None) is loaded into a fresh one you pass, of the
    class the file names: ``load_checkpoint(path, model=MyNet())``; the file holds only its
    weights, never code. ``model`` may be given for the other networks too."""
    if not isinstance(path, str | bytes | os.PathLike):
        raise TypeError(f"path must be a checkpoint file name (str or os.PathLike), not "
                        f"{type(path).__name__}")
    if model is not None:
        check_is_network(model)
    device = get_device(str(device))  # a device that is not there: one line, before reading
    payload = read_checkpoint(path, "cpu")
    path, recorded = Path(path), model_class_of(payload)
    if model is None and payload["arch"] is None:
        raise _refuse(path, f"holds a network of your own, a {recorded}, which mnist_helpers "
                            f"cannot build: pass a fresh one, load_checkpoint(path, "
                            f"model={recorded}()).")
    if model is None:
        model = build_model(payload["arch"], **payload.get("arch_kwargs", {}))
    elif type(model).__name__ != recorded:
        raise _refuse(path, f"holds a {recorded}, not a {type(model).__name__}: pass a fresh "
                            f"{recorded}().")
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        what = f"architecture {payload['arch']!r}" if payload["arch"] else f"this {recorded}"
        raise _refuse(path, f"its weights do not fit {what}: {one_line(exc)}") from None
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
        normalization=dict(norm), model_class=recorded, epochs=number("epochs", int),
        best_epoch=number("best_epoch", int), val_accuracy=number("val_accuracy", float),
        seed=number("seed", int), profile=profile, metadata=meta)
