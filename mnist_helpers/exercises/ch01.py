"""Checks for notebook 01's exercises (the data): normalising a batch, the mean and standard
deviation by hand, a validation split, and shrinking a black-and-white image by averaging.

Each check runs the learner's function on small inputs drawn with a fixed seed, compares the
result with PyTorch or the package, prints ``✓``/``✗`` with a hint, and returns ``True`` or
``False``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ..config import MNIST_MEAN, MNIST_STD
from ..data import normalize_images
from . import NOT_WRITTEN, close, verdict


#: The hint for a function whose body is still the exercise's ``raise NotImplementedError``.
def _attempt(function: Callable[..., Any], *args: Any) -> tuple[Any, str | None]:
    """``function(*args)``, and ``None``; or ``None`` and what went wrong, as a hint."""
    try:
        return function(*args), None
    except NotImplementedError:
        return None, NOT_WRITTEN
    except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything: say what
        return None, f"it raised {type(exc).__name__}: {exc}"


def _same(a: torch.Tensor, b: torch.Tensor, tolerance: float = 1e-5) -> bool:
    """Whether two tensors have the same shape and (nearly) the same numbers."""
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=tolerance,
                                                 rtol=1e-6)


def _pixels(count: int, height: int, width: int, seed: int) -> torch.Tensor:
    """Random uint8 "images" (every value 0-255 is possible), drawn with a fixed seed."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, height, width), generator=generator, dtype=torch.uint8)


# --- normalising a batch --------------------------------------------------------------------

def _normalise_problem(result: Any, pixels: torch.Tensor) -> str | None:
    """What is wrong with ``result`` as the normalised ``pixels`` (None: nothing)."""
    if not isinstance(result, torch.Tensor):
        return f"return a torch tensor, not {type(result).__name__}"
    expected = normalize_images(pixels)
    scaled = pixels.double().unsqueeze(1) / 255
    wrong = {  # typical slips, each with what to do instead
        "scale the pixels to [0, 1] first: divide by 255, then subtract the mean and divide by "
        "the standard deviation": (pixels.double().unsqueeze(1) - MNIST_MEAN) / MNIST_STD,
        "that is only scaled to [0, 1]: now subtract MNIST_MEAN and divide by MNIST_STD":
            scaled,
        "use the training set's constants MNIST_MEAN and MNIST_STD, not this batch's own mean "
        "and standard deviation: every image must be changed the same way, whatever batch it "
        "is in": (scaled - scaled.mean()) / scaled.std(),
        "subtract the mean and divide by the standard deviation (not the other way round)":
            (scaled - MNIST_STD) / MNIST_MEAN,
        "that undoes a normalisation: subtract MNIST_MEAN, then divide by MNIST_STD":
            scaled * MNIST_STD + MNIST_MEAN,
    }
    same_count = result.numel() == expected.numel()
    values = result.detach().reshape(expected.shape) if same_count else None
    if values is not None and not _same(values, expected, 1e-4):
        for hint, slip in wrong.items():
            if _same(values, slip, 1e-4):
                return hint
        return ("the numbers differ from mnist_helpers.data.normalize_images: print "
                "both for one image and compare")
    if result.shape != expected.shape:
        if values is not None and result.shape == pixels.shape:
            return ("add the channel dimension: the result should be N×1×28×28 "
                    "(pixels.unsqueeze(1) makes one)")
        return f"the shape should be {tuple(expected.shape)}, got {tuple(result.shape)}"
    if result.dtype != torch.float32:
        return (f"the dtype should be torch.float32, got {result.dtype}: "
                ".to(torch.float32) or .float() converts")
    return None


def check_normalise(normalise: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """Does ``normalise`` (uint8 N×28×28 -> float32 N×1×28×28) do what the course's
    normalisation does (``mnist_helpers.data.normalize_images``)?"""
    pixels = _pixels(4, 28, 28, seed=1)
    result, problem = _attempt(normalise, pixels.clone())
    if problem is None:
        problem = _normalise_problem(result, pixels)
    return verdict(problem is None, "normalise(pixels) gives what normalize_images gives",
                   problem or "")


# --- the mean and standard deviation --------------------------------------------------------

def _as_number(value: Any) -> float | complex | None:
    """A plain number from a number or a one-element tensor, else None."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, int | float | complex) and not isinstance(value, bool):
        return value
    return None


#: Squares of uint8 values are uint8 too: the slip behind a wrong standard deviation.
UINT8_WRAP = ("if you squared uint8 values, they wrapped round above 255 (200 * 200 is 64 in "
              "uint8): convert to float first")


def _mean_std_problem(result: Any, pixels: torch.Tensor) -> tuple[str | None, str]:
    """(what is wrong with ``result`` as (mean, std) of the scaled pixels, or None; and which
    divisor the standard deviation used, when it is right)."""
    if not isinstance(result, tuple | list) or len(result) != 2:
        return "return two numbers, (mean, std)", ""
    mean, std = (_as_number(v) for v in result)
    if mean is None or std is None:
        return "return two numbers, (mean, std): floats or one-element tensors", ""
    if any(isinstance(v, complex) or math.isnan(v) for v in (mean, std)):
        return (f"the standard deviation came out as {std}: the variance was negative, "
                f"which no true variance is. {UINT8_WRAP}"), ""
    mean, std = float(mean.real), float(std.real)  # real numbers now: float() for the type
    scaled = pixels.double() / 255
    right_mean = float(scaled.mean())
    if not close(mean, right_mean):
        if close(mean, 255 * right_mean):
            return "scale the pixels to [0, 1] first: divide by 255", ""
        return ("the mean is the sum of all the values divided by how many there are "
                "(pixels.numel())"), ""
    stds = {"n - 1, as torch's .std() does": float(scaled.std()),
            "n (torch's .std() divides by n - 1; on MNIST's 47 million pixels the two differ by "
            "about one part in 100 million)": float(scaled.std(correction=0))}
    for divisor, right in stds.items():
        if close(std, right):
            return None, divisor
    if any(close(std, right**2) for right in stds.values()):
        return "that is the variance: take its square root (** 0.5 or torch.sqrt)", ""
    if any(close(std, 255 * right) for right in stds.values()):
        return "scale the pixels to [0, 1] before the standard deviation too", ""
    return f"std = square root of the mean of (value - mean)²; {UINT8_WRAP}", ""


def check_mean_std(mean_std: Callable[[torch.Tensor], tuple[float, float]]) -> bool:
    """Does ``mean_std`` (uint8 images -> (mean, std) after scaling to [0, 1]) agree with
    PyTorch's ``mean()`` and ``std()``?"""
    pixels = _pixels(3, 4, 5, seed=2)
    result, problem = _attempt(mean_std, pixels.clone())
    divisor = ""
    if problem is None:
        problem, divisor = _mean_std_problem(result, pixels)
    what = "mean_std(pixels) agrees with torch's mean() and std()"
    return verdict(problem is None, what + (f" (your std divides by {divisor})" if divisor else ""),
                   problem or "")


# --- a validation split ---------------------------------------------------------------------

def _indices(value: Any) -> torch.Tensor | None:
    """``value`` (a tensor, list or array of whole numbers) as a 1-D int64 tensor, else None."""
    try:
        tensor = torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        return None
    if tensor.dim() != 1 or tensor.is_floating_point() or tensor.dtype == torch.bool:
        return None
    return tensor.long()


def _split_problem(split: Callable[[int, int, int], Any], n: int, val_size: int
                   ) -> str | None:
    """What is wrong with ``split`` as a seeded random train/validation split (None: nothing)."""
    runs: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    for seed in (0, 0, 1):
        result, problem = _attempt(split, n, val_size, seed)
        if problem is not None:
            return problem
        if not isinstance(result, tuple | list) or len(result) != 2:
            return "return two sets of indices: (train_indices, val_indices)"
        train, val = (_indices(part) for part in result)
        if train is None or val is None:
            return "return the indices as 1-D tensors (or lists) of whole numbers"
        runs.setdefault(seed, []).append((train, val))
    train, val = runs[0][0]
    if len(val) != val_size or len(train) != n - val_size:
        return (f"split({n}, {val_size}, seed) should give {n - val_size} training and "
                f"{val_size} validation indices, got {len(train)} and {len(val)}")
    if set(train.tolist()) & set(val.tolist()):
        return "an index is in both parts: a validation image must never be trained on"
    if sorted(torch.cat([train, val]).tolist()) != list(range(n)):
        return f"together the two parts should hold every index 0 … {n - 1} exactly once"
    if sorted(val.tolist()) in (list(range(val_size)), list(range(n - val_size, n))):
        return ("draw the validation images at random (torch.randperm), not the first or last "
                "ones: a file's order need not be random")
    again_train, again_val = runs[0][1]
    if not (torch.equal(train, again_train) and torch.equal(val, again_val)):
        return ("the same seed should give the same split: draw with "
                "torch.Generator().manual_seed(seed)")
    other_train, other_val = runs[1][0]
    if torch.equal(val, other_val):
        return "another seed should give another split: use the seed argument"
    return None


def check_split(split: Callable[[int, int, int], Any]) -> bool:
    """Is ``split(n, val_size, seed)`` a seeded random cut of ``range(n)`` into
    (train indices, validation indices)?"""
    problem = _split_problem(split, n=100, val_size=20)
    return verdict(problem is None,
                   "split(n, val_size, seed) is a repeatable random train/validation split",
                   problem or "")


# --- shrinking by averaging blocks ----------------------------------------------------------

def _shrink_problem(shrink: Callable[[torch.Tensor, int], torch.Tensor]) -> str | None:
    """What is wrong with ``shrink`` as a factor×factor block average (None: nothing)."""
    generator = torch.Generator().manual_seed(3)
    for height, width, factor in ((12, 12, 2), (12, 12, 3), (6, 9, 3)):
        image = torch.randint(0, 2, (height, width), generator=generator).float()
        result, problem = _attempt(shrink, image.clone(), factor)
        if problem is not None:
            return problem
        if not isinstance(result, torch.Tensor):
            return f"return a torch tensor, not {type(result).__name__}"
        expected = F.avg_pool2d(image[None, None], factor)[0, 0]
        if result.shape != expected.shape:
            return (f"a {height}×{width} image shrunk by {factor} should be "
                    f"{height // factor}×{width // factor}, got {tuple(result.shape)}")
        if _same(result, expected):
            continue
        blocks = image.reshape(height // factor, width // factor, factor, factor)
        if _same(result, image[::factor, ::factor]):
            return ("that keeps one pixel of each block: average all factor×factor pixels of "
                    "the block")
        if _same(result, expected * factor**2):
            return "that is each block's sum: divide it by factor * factor"
        if _same(result, blocks.mean(dim=(2, 3))):
            return ("reshape to (height // factor, factor, width // factor, factor), then "
                    "average over dimensions 1 and 3: a plain reshape to (…, factor, factor) "
                    "mixes pixels of different blocks")
        return ("each result pixel should be the mean of one factor×factor block; compare "
                "with torch.nn.functional.avg_pool2d(image[None, None], factor)[0, 0]")
    return None


def check_shrink(shrink: Callable[[torch.Tensor, int], torch.Tensor]) -> bool:
    """Does ``shrink(image, factor)`` average each factor×factor block, as PyTorch's
    ``avg_pool2d`` does?"""
    problem = _shrink_problem(shrink)
    return verdict(problem is None, "shrink(image, factor) averages factor×factor blocks",
                   problem or "")
