"""Predicting the digit in your own images.

:func:`predict_image` prepares one image the way MNIST's digits were made
(:func:`mnist_helpers.preprocess.preprocess_image`) and classifies it; :func:`predict_files`
does that for files and folders, one result per image as soon as it is ready, and an input
that cannot be used gives its own error without stopping the others.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from torch import nn

from .errors import ImageError
from .evaluate import classify
from .images import IMAGE_SUFFIXES, open_image
from .preprocess import preprocess_image


@dataclass
class Prediction:
    """The digit the model read in one image, its ten probabilities, and what it saw."""

    path: str
    digit: int
    probabilities: list[float]  # one per digit 0..9
    pixels: np.ndarray  # 28×28 floats 0..1, white on black: the model's input

    @property
    def confidence(self) -> float:
        """The probability of the digit predicted."""
        return self.probabilities[self.digit]

    def to_json(self) -> dict:
        """``{"path", "prediction", "probabilities"}``, as the predict command prints it."""
        return {"path": self.path, "prediction": self.digit,
                "probabilities": [round(p, 6) for p in self.probabilities]}


def predict_image(model: nn.Module, image: Image.Image | np.ndarray, path: str = ""
                  ) -> Prediction:
    """Prepare and classify one image (a PIL image, or grey levels 0..1)."""
    prepared = preprocess_image(image)
    probabilities = classify(model, prepared.tensor)[0].tolist()
    if not all(math.isfinite(p) for p in probabilities):
        raise ImageError("the model's output is not a number (NaN): the model is broken")
    digit = max(range(10), key=lambda d: probabilities[d])
    return Prediction(path=path, digit=digit, probabilities=probabilities[:10],
                      pixels=prepared.pixels)


def predict_file(model: nn.Module, path: str | os.PathLike) -> Prediction:
    """Open, prepare and classify one image file."""
    try:
        return predict_image(model, open_image(path), str(path))
    except ImageError as exc:
        message = str(exc)
        raise ImageError(message if message.startswith(str(path)) else f"{path}: {message}"
                         ) from None


def image_files(item: str | os.PathLike) -> list[Path]:
    """``item`` itself if it is not a folder, else the images directly in it (sorted); raises
    :class:`ImageError` when the folder cannot be read or holds no images."""
    if not str(item).strip():
        raise ImageError(f"{str(item)!r}: an empty path; name an image file or a folder "
                         "(. for the current folder)")
    path = Path(item)
    try:
        if not path.is_dir():
            return [path]
        found = sorted(p for p in path.iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
                       and p.is_file())
    except OSError as exc:
        raise ImageError(f"{path}: cannot read the folder ({exc.strerror or exc})") from None
    if not found:
        raise ImageError(f"{path}: folder has no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def predict_files(model: nn.Module, paths: Sequence[str | os.PathLike]
                  ) -> Iterator[Prediction | ImageError]:
    """A result for every image among ``paths`` (folders stand for the images in them), in
    order and as soon as each is ready: its :class:`Prediction`, or the :class:`ImageError`
    that says why it could not be used."""
    for item in paths:
        try:
            files = image_files(item)
        except ImageError as exc:
            yield exc
            continue
        for path in files:
            try:
                yield predict_file(model, path)
            except ImageError as exc:
                yield exc
