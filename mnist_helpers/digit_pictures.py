"""Training digits as the pictures people hand in, prepared the way every picture is.

Augmentation (:mod:`mnist_helpers.augment`) changes a digit *after* it was prepared. A real
picture is changed *before*: a small scan blurs the digit, and then finding its ink, cropping
and fitting into 20×20 see the blur, so the model gets a thicker, softer digit than any
augmented MNIST digit. Here MNIST training digits are drawn as such pictures, dark ink on light
paper, and prepared by :func:`mnist_helpers.preprocess.find_ink` and
:func:`mnist_helpers.preprocess.to_mnist_pixels`, so a model learns what a real digit of each
kind looks like *after* preparation (as :mod:`mnist_helpers.nondigits` does for non-digits).

The kinds (:data:`STYLES`), each drawn with random settings over a wide range:

* ``"small scan"``: the digit averaged down to 7–14 pixels on its longer side, then enlarged
  again with a smooth filter (a low-resolution scan or a far-away photo);
* ``"bold marker"``: strokes widened by 1 to 3 pixels of the 28×28 digit (a felt pen);
* ``"fine pen"``: the digit drawn three to five times larger with strokes as thin as a
  ballpoint's (preparation widens them again);
* ``"faint ink"``: pale grey ink on paper lit unevenly (pencil, a washed-out photo).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from .drawing import darkened, lighting, mnist_ink, to_picture
from .errors import ImageError
from .preprocess import crop_to, find_ink, main_object, to_mnist_pixels


def _small_scan(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    side = int(rng.integers(7, 15))
    scale = side / max(ink.shape)
    small = Image.fromarray(ink.astype(np.float32)).resize(
        (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale))),
        Image.Resampling.BOX)
    size = int(rng.integers(40, 97))
    enlarge = size / max(small.size)
    filters = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)
    new_size = (max(1, round(small.width * enlarge)), max(1, round(small.height * enlarge)))
    big = small.resize(new_size, filters[int(rng.integers(len(filters)))])
    return np.clip(np.asarray(big, dtype=np.float64), 0, 1)


def _bold_marker(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    big = np.pad(ndimage.zoom(ink, 2.0, order=1), 4)  # twice as large, so the pen can grow
    grow = int(rng.integers(1, 4))  # by half a pixel to 1.5 pixels of the 28×28 digit
    return ndimage.grey_dilation(big, size=(2 * grow + 1, 2 * grow + 1))


def _fine_pen(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    big = ndimage.zoom(ink, float(rng.uniform(3, 5)), order=1)
    # Keep only the middle of each stroke: a ridge about a fifth of MNIST's stroke wide.
    return np.where(big > rng.uniform(0.6, 0.85), 1.0, 0.0)


def _faint_ink(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return ndimage.zoom(ink, float(rng.uniform(2, 4)), order=1)  # a photo's size; pale later


#: How each style changes the digit's ink before it is laid on paper.
_STYLE_INK = {"small scan": _small_scan, "bold marker": _bold_marker, "fine pen": _fine_pen,
              "faint ink": _faint_ink}
STYLES = tuple(_STYLE_INK)


def draw_digit_picture(digit: np.ndarray, style: str, rng: np.random.Generator) -> Image.Image:
    """An MNIST digit (uint8 28×28, white on black) as a grey picture of ``style`` (one of
    :data:`STYLES`): dark ink on light paper with a margin round it."""
    if style not in _STYLE_INK:
        raise ValueError(f"Unknown style {style!r}; choose one of {', '.join(STYLES)}")
    ink = _STYLE_INK[style](mnist_ink(digit), rng)
    margin = max(2, int(max(ink.shape) * rng.uniform(0.1, 0.4)))
    ink = np.pad(ink, margin)
    light = lighting(ink.shape, rng.uniform(0.75, 1.0), rng.uniform(0.0, 0.3),
                     (rng.uniform(-1, 1), rng.uniform(-1, 1)))
    darkness = rng.uniform(0.45, 0.75) if style == "faint ink" else rng.uniform(0.0, 0.3)
    page = darkened(light, ink, darkness) + rng.normal(0, 0.01, ink.shape)
    return to_picture(page, blur=float(rng.uniform(0, 0.8)))


def prepared(picture: Image.Image) -> np.ndarray:
    """A picture prepared like a user's digit (ink found on at most 96 pixels a side, as the
    non-digits' are, cropped to the main object, fitted and centred): 28×28 floats 0..1, white
    on black. Raises ImageError when it has no ink. Unlike
    :func:`mnist_helpers.preprocess.preprocess_image` it does not refuse a picture without
    sharp edges: the shipped model was trained on such blurry scans too."""
    found = find_ink(picture, work_size=96)
    mask = found.ink > found.threshold
    if not mask.any():
        raise ImageError("no ink found")
    return to_mnist_pixels(crop_to(found.ink, main_object(mask)))


def digit_picture_pixels(digits: torch.Tensor, labels: torch.Tensor, n: int, seed: int
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` of ``digits`` (uint8 N×28×28, chosen at random with ``seed``) drawn as pictures
    of the :data:`STYLES` in turn and prepared: uint8 n×28×28 white on black, and their
    labels from ``labels``. A picture in which no ink is found is drawn again from another
    digit."""
    rng = np.random.default_rng(seed)
    source = digits.cpu().numpy()
    out = torch.empty(n, 28, 28, dtype=torch.uint8)
    chosen = torch.empty(n, dtype=labels.dtype)
    made = 0
    while made < n:
        index = int(rng.integers(len(source)))
        try:
            pixels = prepared(draw_digit_picture(source[index], STYLES[made % len(STYLES)], rng))
        except ImageError:
            continue
        out[made] = torch.from_numpy((pixels * 255).round().astype(np.uint8))
        chosen[made] = labels[index]
        made += 1
    return out, chosen
