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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image
from torch import nn

from .config import DIGIT_OUTPUTS, NOT_A_DIGIT, TWO_DIGITS
from .errors import ImageError, NoInkError
from .evaluate import class_probabilities
from .images import IMAGE_SUFFIXES, ImageLike, open_image
from .preprocess import preprocess_image, to_model_input

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


def is_top_class(probabilities: Sequence[float], label: int) -> bool:
    """Whether the model has the class ``label`` and gives it the most probability."""
    return len(probabilities) > label and probabilities[label] >= max(probabilities)


def decide(probabilities: Sequence[float], refusal: Refusal | None = None
           ) -> tuple[int | None, str | None]:
    """The digit the probabilities name, or ``None`` and the reason it is refused."""
    digits = list(probabilities[DIGIT_OUTPUTS])
    if not all(math.isfinite(p) for p in probabilities):
        raise ImageError("the model's output is not a number (NaN): the model is broken")
    best = max(range(len(digits)), key=digits.__getitem__)
    if len(probabilities) > NOT_A_DIGIT and max(probabilities[NOT_A_DIGIT:]) > digits[best]:
        if is_top_class(probabilities, TWO_DIGITS):
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
    can_refuse: bool = True  # False: the model names a digit for anything with ink in it

    @property
    def confidence(self) -> float:
        """The probability of the digit predicted (0 for a refusal)."""
        return 0.0 if self.digit is None or not self.probabilities else (
            self.probabilities[self.digit])

    def to_json(self) -> dict:
        """The line ``predict --json`` prints for an image, always with the same five keys:

        * ``"path"``: the file, as given or found in a folder (a name that is not valid
          UTF-8 keeps its undecodable bytes as the escapes ``os.fsdecode`` makes, e.g.
          ``"\\udcff"``, so ``os.fsencode`` gives the bytes back);
        * ``"prediction"``: the digit 0..9, or ``null`` when the image is refused;
        * ``"reason"``: ``null`` for a digit, else why it was refused, starting with
          ``"not a digit"``;
        * ``"probabilities"``: the model's ten digit probabilities (0..1, 6 decimals; with a
          model that also has the classes "not a digit" and "two digits" they sum to less
          than 1), or ``null`` exactly when the model was not asked because the image has
          no ink (then ``"reason"`` starts with ``"not a digit: no ink found"``);
        * ``"can_refuse"``: ``false`` when the model cannot say "not a digit" about an image
          with ink in it (a ten-class model without a fitted refusal threshold: it names a
          digit for anything, a word or a barcode too), else ``true``.

        A file that cannot be used gets ``{"path", "error"}`` instead (printed by the
        command line, not here).
        """
        return {"path": self.path, "prediction": self.digit, "reason": self.reason,
                "probabilities": (None if self.probabilities is None
                                  else [round(p, 6) for p in self.probabilities]),
                "can_refuse": self.can_refuse}


def can_refuse(classes: int, refusal: Refusal | None) -> bool:
    """Whether a model with ``classes`` outputs, under ``refusal``, can refuse an image with
    ink in it: it has the class "not a digit", or a threshold fitted on validation data."""
    return classes > NOT_A_DIGIT or (refusal is not None and refusal.threshold > 0)


def check_arguments(model: object, path: object, refusal: object) -> None:
    """Raise a TypeError naming the argument of :func:`predict_image` (or of
    :func:`mnist_helpers.number_reading.read_number`) that has the wrong type."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module (load one with load_checkpoint), "
                        f"not {type(model).__name__}")
    if not isinstance(path, str):
        raise TypeError(f"path must be a str (the name to report), not {type(path).__name__}")
    if refusal is not None and not isinstance(refusal, Refusal):
        raise TypeError(f"refusal must be a Refusal or None, not {type(refusal).__name__}")


def predict_image(model: nn.Module, image: ImageLike, path: str = "",
                  refusal: Refusal | None = None) -> Prediction:
    """Prepare and classify one image: a PIL image, or a numpy array or torch tensor of grey
    levels (how their values are read: :func:`mnist_helpers.images.to_grayscale`)."""
    check_arguments(model, path, refusal)
    try:
        prepared = preprocess_image(image)
    except NoInkError as exc:
        blank = np.zeros((28, 28), dtype=np.float32)
        classes = class_probabilities(model, to_model_input(blank)).shape[1]  # what it can say
        return Prediction(path=path, digit=None, probabilities=None, pixels=blank,
                          reason=f"not a digit: {exc.reason}",
                          can_refuse=can_refuse(classes, refusal))
    probabilities = class_probabilities(model, prepared.tensor)[0].tolist()
    digit, reason = decide(probabilities, refusal)
    return Prediction(path=path, digit=digit, probabilities=probabilities[DIGIT_OUTPUTS],
                      pixels=prepared.pixels, reason=reason,
                      can_refuse=can_refuse(len(probabilities), refusal))


PathName = str | bytes | os.PathLike  # a file or folder name, as Python gives them


def _path_list(paths: PathName | Iterable[PathName]) -> list[PathName]:
    """``paths`` as a list: one path (a str, bytes or Path) stands for itself, not for the
    characters of its name; anything but paths is a TypeError naming the argument."""
    if isinstance(paths, str | bytes | os.PathLike):
        return [paths]
    if not isinstance(paths, Iterable):
        raise TypeError(f"paths must be a file or folder name or a list of them, not "
                        f"{type(paths).__name__}")
    items = list(paths)
    for item in items:
        if not isinstance(item, str | bytes | os.PathLike):
            raise TypeError(f"paths must hold file or folder names (str, bytes or "
                            f"os.PathLike), not {type(item).__name__}")
    return items


def image_files(item: PathName) -> list[Path]:
    """``item`` itself if it is not a folder, else the images directly in it (sorted); raises
    :class:`ImageError` when the folder cannot be read or holds no images."""
    item = os.fsdecode(item)  # bytes, from os.listdir(b"."), keep undecodable bytes
    if not item.strip():
        raise ImageError("an empty path; name an image file or a folder (. for the current "
                         "folder)", repr(item))
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


def each_image(paths: PathName | Iterable[PathName], read: Callable[[Image.Image, str], T],
               *, decode_size: int = 512) -> Iterator[T | ImageError]:
    """``read(image, path)`` for every image among ``paths`` (folders stand for the images in
    them; one path may be given alone), in order and as soon as each is ready, or the
    :class:`ImageError` that says why an input could not be used."""
    return _each_image(_path_list(paths), read, decode_size)  # wrong types fail here, at once


def _each_image(paths: list[PathName], read: Callable[[Image.Image, str], T],
                decode_size: int) -> Iterator[T | ImageError]:
    """The generator behind :func:`each_image`."""
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


def _naming(path: PathName, exc: ImageError) -> ImageError:
    """``exc``, naming ``path`` if it did not name a file yet."""
    return exc if exc.path is not None else ImageError(exc.reason, os.fsdecode(path))


def predict_file(model: nn.Module, path: PathName, refusal: Refusal | None = None
                 ) -> Prediction:
    """Open, prepare and classify one image file."""
    check_arguments(model, "", refusal)
    try:
        return predict_image(model, open_image(path), os.fsdecode(path), refusal)
    except ImageError as exc:
        raise _naming(path, exc) from None


def predict_files(model: nn.Module, paths: PathName | Iterable[PathName],
                  refusal: Refusal | None = None) -> Iterator[Prediction | ImageError]:
    """:func:`predict_image` for every image among ``paths`` (one path, or a list of files and
    folders), one by one (see :func:`each_image`)."""
    check_arguments(model, "", refusal)
    return each_image(paths, lambda image, name: predict_image(model, image, name, refusal))
