"""Preprocessing with one step left out: the variants of notebook 06's exercise 4.

Each variant takes a picture (a PIL image) and returns the 28×28 digit a model reads, like
``preprocess_image(image).pixels``, but with one step changed, so that comparing its readings
with those of all the steps measures what that step buys. One variant cannot change only one:
``no_crop`` also changes the widening, which takes its scale from the crop.

The variants are built from the package's own pieces. Where a step sits inside
``preprocess_image``, ``unittest.mock.patch`` swaps that one function for a stand-in for the
length of the call and puts it back after.
"""

from __future__ import annotations

from collections.abc import Callable
from unittest import mock

import numpy as np
from PIL import Image
from scipy import ndimage

from .. import preprocess


def all_steps(image: Image.Image) -> np.ndarray:
    """Every step, as ``predict`` prepares a picture."""
    return preprocess.preprocess_image(image).pixels


def centred_by_box(image: Image.Image) -> np.ndarray:
    """The 28×28 field before the shift by the centre of mass: the fitted ink's box placed in
    the middle (exercise 3's rule)."""
    return preprocess.preprocess_image(image).steps["fitted_20x20"]


def no_flat_field(image: Image.Image) -> np.ndarray:
    """``find_ink`` divides by 1 instead of by the paper's brightness."""
    with mock.patch.object(preprocess, "paper_brightness", np.ones_like):
        return preprocess.preprocess_image(image).pixels


def no_crop(image: Image.Image) -> np.ndarray:
    """The whole picture's ink fitted into 20×20. This changes the widening too:
    ``thicken_thin_strokes`` sets its scale from the longest side of what it is given, here
    the whole picture."""
    return preprocess.to_mnist_pixels(preprocess.find_ink(image).ink)


def no_widening(image: Image.Image) -> np.ndarray:
    """``thicken_thin_strokes`` returns its input unchanged."""
    with mock.patch.object(preprocess, "thicken_thin_strokes", lambda ink: ink):
        return preprocess.preprocess_image(image).pixels


def no_20x20_box(image: Image.Image) -> np.ndarray:
    """The widened crop fitted into the whole 28×28 field (longer side 28, proportions kept)
    instead of 20×20, then shifted by whole pixels so its centre of mass is on pixel 14."""
    found = preprocess.find_ink(image)
    crop = preprocess.crop_to(found.ink, preprocess.main_object(found.ink > found.threshold))
    crop = preprocess.thicken_thin_strokes(crop)
    factor = 28 / max(crop.shape)
    width, height = max(1, round(crop.shape[1] * factor)), max(1, round(crop.shape[0] * factor))
    fitted = np.asarray(Image.fromarray((np.clip(crop, 0, 1) * 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.LANCZOS), dtype=float) / 255
    field = np.zeros((28, 28))
    top, left = (28 - height) // 2, (28 - width) // 2
    field[top:top + height, left:left + width] = fitted
    cy, cx = ndimage.center_of_mass(field)  # then the package's shift, by whole pixels
    return ndimage.shift(field, (round(14 - cy), round(14 - cx)), order=0, mode="constant")


#: Every variant by the name the notebook prints, all the steps first.
VARIANTS: dict[str, Callable[[Image.Image], np.ndarray]] = {
    "all steps": all_steps, "centred by the box": centred_by_box,
    "no flat field": no_flat_field, "no crop": no_crop, "no widening": no_widening,
    "no 20×20 box": no_20x20_box,
}
