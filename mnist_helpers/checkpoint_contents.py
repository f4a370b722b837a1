"""What a checkpoint may hold, checked before anything in it is used: that the file is a
regular file of a checkpoint's size and begins as a PyTorch file does; how deep its contents
nest, how many values they have, and for every tensor its layout, number type, size and
strides, from their description alone (never their values), so a crafted file of a few
hundred KB that claims gigabytes costs nothing to refuse; and that the class name it records
for a network is a name. :mod:`mnist_helpers.checkpoint` uses these checks both when it
loads a file and before it writes one.
"""

from __future__ import annotations

import stat
from collections import OrderedDict
from pathlib import Path

import torch

from .errors import CheckpointError
from .files import describe_special_file

#: What to do about a checkpoint that is damaged.
ADVICE = "delete it and train again, or restore a good copy."
#: The most a checkpoint may hold, as a file, once unpacked, and in all its tensors together
#: (ours are a few MB).
MAX_BYTES = 256 << 20
#: How deep its dicts and lists may nest (ours: 6 levels).
MAX_DEPTH = 32
#: How many values (dict entries, list items, tensors) it may hold in all (ours: about
#: 10,000, plus two per training step for the loss and learning-rate curves).
MAX_VALUES = 4_000_000
#: The number types weights may have.
FLOAT_DTYPES = frozenset({torch.float32, torch.float16, torch.bfloat16, torch.float64})
#: Where integer tensors belong: batch norm's counter, the optimizer's step counters and the
#: states of the random-number generators (the last part of the name they are stored under).
INTEGER_NAMES = frozenset({"num_batches_tracked", "step", "augment_rng", "shuffle_rng",
                           "torch_rng"})
INTEGER_DTYPES = frozenset({torch.uint8, torch.int32, torch.int64})
#: The containers and plain values a checkpoint may hold: what ``weights_only`` loading
#: rebuilds (a subclass, such as numpy's float64, would be refused on load).
CONTAINERS = (dict, OrderedDict, list, tuple, torch.Size)
PLAIN_VALUES = (str, int, float, bool, type(None))


def where(keys: tuple) -> str:
    """A place in the checkpoint's structure, as ``state_dict/fc.weight`` (shortened)."""
    shown = "/".join(str(key)[:60] for key in keys[:6])
    return (shown + ("/..." if len(keys) > 6 else "")) or "its top level"


def tensor_problem(tensor: torch.Tensor, name: str) -> str | None:
    """What is wrong with a tensor read from a file, or None. Only its description (layout,
    number type, shape, strides) is looked at, never its values, so a crafted one costs
    nothing to check."""
    if tensor.layout != torch.strided:
        return f"is a {tensor.layout} tensor; checkpoints hold dense ones"
    integer_allowed = name.rsplit(".", 1)[-1] in INTEGER_NAMES
    if tensor.dtype not in FLOAT_DTYPES and not (
            integer_allowed and tensor.dtype in INTEGER_DTYPES):
        return f"holds {tensor.dtype} numbers where real floating-point weights belong"
    if any(step < 0 or (step == 0 and size > 1)
           for size, step in zip(tensor.shape, tensor.stride(), strict=True)):
        return "repeats one stored number along a dimension (a stride-0 view)"
    if tensor.numel() * tensor.element_size() > tensor.untyped_storage().nbytes():
        return "claims more numbers than the file stores for it (overlapping strides)"
    return None


def structure_problem(payload: object) -> str | None:
    """What is wrong, if anything, with contents that nest deeper than ``MAX_DEPTH``, hold
    more than ``MAX_VALUES`` values or tensors of more than ``MAX_BYTES`` together, or hold
    anything but plain values and dense real tensors. Walked with a list rather than
    recursion (a list nested 5,000 deep must not crash Python), without reading a tensor."""
    pending: list[tuple[object, tuple]] = [(payload, ())]
    seen = claimed = 0
    while pending:
        value, keys = pending.pop()
        seen += 1
        if len(keys) > MAX_DEPTH:
            return f"nests its values more than {MAX_DEPTH} levels deep (under {where(keys[:2])})"
        if isinstance(value, torch.Tensor):
            problem = tensor_problem(value, str(keys[-1]) if keys else "")
            if problem:
                return f"its tensor {where(keys)} {problem}"
            claimed += value.numel() * value.element_size()
            if claimed > MAX_BYTES:
                return (f"its tensors hold more than {MAX_BYTES:,} bytes together, more than "
                        "a checkpoint holds")
        elif isinstance(value, CONTAINERS) and type(value) in CONTAINERS:  # no subclasses
            if seen + len(pending) + len(value) > MAX_VALUES:
                return f"holds more than {MAX_VALUES:,} values, more than a checkpoint holds"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if type(key) not in (str, int):
                    return (f"has a {type(key).__name__} as a key in {where(keys)}, where keys "
                            "are names or whole numbers")
                pending.append((item, (*keys, key)))
        elif type(value) not in PLAIN_VALUES:
            return f"holds a {type(value).__name__} at {where(keys)}, which checkpoints never hold"
    return None


def class_name_problem(name: object) -> str | None:
    """What is wrong with ``name`` as the recorded class of a network, or None: it is shown
    in one-line messages, so it is a short line of printable text."""
    if not isinstance(name, str) or not name or len(name) > 100 or not name.isprintable():
        return f"names its network's class as {str(name)[:60]!r}, which is not a class name"
    return None


def contents_problem(payload: dict) -> str | None:
    """What is wrong with what a checkpoint's loader reads besides its architecture (its
    weights, metadata, resume state and class name), said with what to do, or None."""
    weights = payload["state_dict"]
    if not isinstance(weights, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()):
        return "its 'state_dict' is not a mapping of names to tensors."
    for key in ("metadata", "normalization", "resume"):
        if not isinstance(payload.get(key, {}), dict):
            return f"its {key!r} is not a dict."
    resume = payload.get("resume", {})
    for key in ("epoch", "planned_epochs", "steps_per_epoch"):
        if key in resume and (not isinstance(resume[key], int) or isinstance(resume[key], bool)):
            return f"its resume state's {key!r} is not a whole number; {ADVICE}"
    recorded = payload.get("model_class")
    problem = class_name_problem(recorded) if payload["arch"] is None or recorded else None
    if problem:
        return f"{problem}; {ADVICE}"
    for name, tensor in weights.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return (f"its weights are not all numbers ({name} holds NaN or infinity): the "
                    "training diverged. Train again, with a lower learning rate.")
    return None


def read_bounded(path: Path) -> bytes:
    """The bytes of the checkpoint file ``path``, after checking that it is a regular file of
    at most ``MAX_BYTES``: a pipe would block, and a device such as /dev/zero never ends."""
    try:
        info = path.stat()  # follows links: a link to /dev/zero is judged by where it leads
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint. Train one first: run notebook 03, "
                              f"or `python -m mnist_helpers train --out {path}`.") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if stat.S_ISDIR(info.st_mode):
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file.")
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(f"{path}: is {describe_special_file(path, info.st_mode)}, not a "
                              "checkpoint file; it was not opened. Name a .pt file saved by "
                              "mnist_helpers.")
    if info.st_size > MAX_BYTES:
        raise _too_big(path, f"{info.st_size:,} bytes")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # bounded: a file may grow, or misreport its size
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc}).") from None
    if len(data) > MAX_BYTES:
        raise _too_big(path, f"more than {MAX_BYTES:,} bytes")
    return data


def _too_big(path: Path, size: str) -> CheckpointError:
    return CheckpointError(f"{path}: is {size}, larger than a checkpoint can be ({MAX_BYTES:,} "
                           "bytes at most); it was not read. Name a .pt file saved by "
                           "mnist_helpers.")


def is_pytorch_file(data: bytes) -> bool:
    """Whether ``data`` begins as a PyTorch file does, even one cut short: a zip archive whose
    first entry is ``<name>/data.pkl``. A photo or a script does not."""
    if data[:4] != b"PK\x03\x04" or len(data) < 30:
        return False
    name_length = int.from_bytes(data[26:28], "little")
    return data[30:30 + name_length].endswith(b"/data.pkl")
