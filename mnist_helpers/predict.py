"""Predicting the digit in your own images, or saying that there is none.

:func:`predict_image` prepares one image the way MNIST's digits were made
(:func:`mnist_helpers.preprocess.preprocess_image`) and classifies it; :func:`decide` turns
the model's probabilities into a digit or a refusal ("not a digit"). :func:`each_image` goes
through files and folders, one result per image as soon as it is ready, and an input that
cannot be used gives its own error without stopping the others.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image
from torch import nn

from .data import NOT_A_DIGIT, TWO_DIGITS
from .errors import ImageError, NoInkError
from .evaluate import classify
from .images import IMAGE_SUFFIXES, open_image
from .preprocess import preprocess_image

T = TypeVar("T")


@dataclass(frozen=True)
class Refusal:
    """When to answer "not a digit": when a model with the classes "not a digit" and "two
    digits" gives one of them more probability than any digit, or when no digit reaches
    ``threshold``. The threshold is fitted on validation data and travels in the checkpoint."""

    threshold: float = 0.0

    @classmethod
    def from_metadata(cls, metadata: dict) -> Refusal:
        """The rule a checkpoint's metadata stores (none stored: refuse only by class)."""
        value = metadata.get("refusal_threshold", 0.0)
        return cls(float(value) if isinstance(value, int | float) and 0 <= value < 1 else 0.0)


def wins(probabilities: Sequence[float], label: int) -> bool:
    """Whether the model has the class ``label`` and gives it the most probability."""
    return len(probabilities) > label and probabilities[label] >= max(probabilities)


def decide(probabilities: Sequence[float], refusal: Refusal | None = None
           ) -> tuple[int | None, str | None]:
    """The digit the probabilities name, or ``None`` and the reason it is refused."""
    digits = list(probabilities[:10])
    if not all(math.isfinite(p) for p in probabilities):
        raise ImageError("the model's output is not a number (NaN): the model is broken")
    best = max(range(10), key=digits.__getitem__)
    if len(probabilities) > NOT_A_DIGIT and max(probabilities[NOT_A_DIGIT:]) > digits[best]:
        if wins(probabilities, TWO_DIGITS):
            return None, ("not a digit (it looks like two digits, "
                          f"{100 * probabilities[TWO_DIGITS]:.0f}%: read it as a number)")
        return None, (f"not a digit (the model is {100 * probabilities[NOT_A_DIGIT]:.0f}% sure "
                      "it is not one)")
    if refusal is not None and digits[best] < refusal.threshold:
        return None, (f"not a digit (no digit is likely enough: a {best} at "
                      f"{100 * digits[best]:.0f}%, below {100 * refusal.threshold:.0f}%)")
    return best, None


@dataclass
class Prediction:
    """The digit read in one image (or ``None``: not a digit), the ten digit probabilities,
    and the 28×28 image the model saw."""

    path: str
    digit: int | None
    probabilities: list[float] | None  # one per digit 0..9; None if no model was asked
    pixels: np.ndarray  # 28×28 floats 0..1, white on black: the model's input
    reason: str | None = None  # why it is not a digit

    @property
    def confidence(self) -> float:
        """The probability of the digit predicted (0 for a refusal)."""
        return 0.0 if self.digit is None or not self.probabilities else (
            self.probabilities[self.digit])

    def to_json(self) -> dict:
        """``{"path", "prediction", "probabilities"}`` (and ``"reason"`` for a refusal), as
        the predict command prints it."""
        result: dict = {"path": self.path, "prediction": self.digit}
        if self.reason is not None:
            result["reason"] = self.reason
        result["probabilities"] = (None if self.probabilities is None
                                   else [round(p, 6) for p in self.probabilities])
        return result


def predict_image(model: nn.Module, image: Image.Image | np.ndarray, path: str = "",
                  refusal: Refusal | None = None) -> Prediction:
    """Prepare and classify one image (a PIL image, or grey levels 0..1)."""
    try:
        prepared = preprocess_image(image)
    except NoInkError:
        return Prediction(path=path, digit=None, probabilities=None, pixels=np.zeros((28, 28)),
                          reason="not a digit: no ink found (the image is blank or has too "
                                 "little contrast)")
    probabilities = classify(model, prepared.tensor)[0].tolist()
    digit, reason = decide(probabilities, refusal)
    return Prediction(path=path, digit=digit, probabilities=probabilities[:10],
                      pixels=prepared.pixels, reason=reason)


def image_files(item: str | os.PathLike) -> list[Path]:
    """``item`` itself if it is not a folder, else the images directly in it (sorted); raises
    :class:`ImageError` when the folder cannot be read or holds no images."""
    if not str(item).strip():
        raise ImageError("an empty path; name an image file or a folder (. for the current "
                         "folder)", repr(str(item)))
    path = Path(item)
    try:
        if not path.is_dir():
            return [path]
        found = sorted(p for p in path.iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
                       and p.is_file())
    except OSError as exc:
        raise ImageError(f"cannot read the folder ({exc.strerror or exc})", str(path)) from None
    if not found:
        raise ImageError(f"folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})",
                         str(path))
    return found


def each_image(paths: Sequence[str | os.PathLike], read: Callable[[Image.Image, str], T],
               *, decode_size: int = 512) -> Iterator[T | ImageError]:
    """``read(image, path)`` for every image among ``paths`` (folders stand for the images in
    them), in order and as soon as each is ready, or the :class:`ImageError` that says why an
    input could not be used."""
    for item in paths:
        try:
            files = image_files(item)
        except ImageError as exc:
            yield exc
            continue
        for path in files:
            try:
                yield read(open_image(path, decode_size=decode_size), str(path))
            except ImageError as exc:
                yield _naming(path, exc)


def _naming(path: str | os.PathLike, exc: ImageError) -> ImageError:
    """``exc``, naming ``path`` if it did not name a file yet."""
    return exc if exc.path is not None else ImageError(exc.reason, str(path))


def predict_file(model: nn.Module, path: str | os.PathLike, refusal: Refusal | None = None
                 ) -> Prediction:
    """Open, prepare and classify one image file."""
    try:
        return predict_image(model, open_image(path), str(path), refusal)
    except ImageError as exc:
        raise _naming(path, exc) from None


def predict_files(model: nn.Module, paths: Sequence[str | os.PathLike],
                  refusal: Refusal | None = None) -> Iterator[Prediction | ImageError]:
    """:func:`predict_image` for every image among ``paths``, one by one (see
    :func:`each_image`)."""
    return each_image(paths, lambda image, name: predict_image(model, image, name, refusal))
