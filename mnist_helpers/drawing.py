"""Pictures of ink on paper, made: what every maker of pictures here shares.

The non-digits a model learns to refuse (:mod:`mnist_helpers.nondigits`), the numbers and
photos of the benchmarks (``mnist_helpers.lab``) and the tests' photos are made in two steps:

1. the **ink**, a float array that is 0 where the paper stays bare and 1 where the pen laid
   full ink: strokes along lines and arcs (:func:`arc`), a font's letters, or an MNIST digit
   (:func:`mnist_ink`), cropped to the ink (:func:`crop_to_ink`) and made to wobble like a
   hand (:func:`elastic`);
2. the **paper**: light that falls off across the page (:func:`lighting`), the ink laid on
   it (:func:`absorbed` or :func:`darkened`), grain, a little blur, and the grey levels 0..1
   turned into an 8-bit picture (:func:`to_picture`).

Reading pictures goes the other way: :mod:`mnist_helpers.paper` estimates the paper of a
picture someone took, and :mod:`mnist_helpers.preprocess` finds its ink.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 24
        ) -> list[tuple[float, float]]:
    """``n`` points on an ellipse (centre ``cx, cy``, radii ``rx, ry``) from ``start`` to
    ``end`` degrees (0 = right, 90 = down, as y grows downwards in pictures)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in np.linspace(start, end, n)]


def crop_to_ink(ink: np.ndarray, level: float = 0.1) -> np.ndarray:
    """``ink`` cut down to the smallest box holding every value above ``level``."""
    rows, cols = np.nonzero(ink > level)
    return ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]


def mnist_ink(pixels: np.ndarray) -> np.ndarray:
    """An MNIST digit (uint8, white on black) as ink 0..1, cropped to its ink."""
    return crop_to_ink(pixels.astype(np.float64) / 255.0)


def elastic(ink: np.ndarray, rng: np.random.Generator, alpha: float, cells: int = 5
            ) -> np.ndarray:
    """Elastic distortion (Simard et al., 2003): every pixel moves by a smooth random field
    (random shifts of up to ``alpha`` pixels on a coarse grid of ``cells``×``cells``,
    interpolated), which makes typed strokes wobble as handwriting does."""
    h, w = ink.shape
    coarse = rng.uniform(-alpha, alpha, (2, cells, cells))
    dy, dx = (ndimage.zoom(c, (h / cells, w / cells), order=1)[:h, :w] for c in coarse)
    yy, xx = np.mgrid[0:h, 0:w]
    return ndimage.map_coordinates(ink, [yy + dy, xx + dx], order=1, mode="constant")


def lighting(shape: tuple[int, int], top: float, tilt: float,
             direction: tuple[float, float]) -> np.ndarray:
    """The light on a page of ``shape`` (rows, columns): ``top`` at the top-left corner,
    falling by ``tilt`` times ``direction`` (per page width, along x and y) across it."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    return top - tilt * (direction[0] * xx + direction[1] * yy)


def absorbed(light: np.ndarray, ink: np.ndarray, share: float) -> np.ndarray:
    """Ink that absorbs ``share`` of the light falling on it (a photo of a pen's ink): the
    darker the page is lit, the darker its ink."""
    return light * (1 - share * ink)


def darkened(paper: np.ndarray | float, ink: np.ndarray, darkness: float) -> np.ndarray:
    """Paper whose full ink is the grey level ``darkness``, whatever the paper's own."""
    return paper - ink * (paper - darkness)


def to_picture(values: np.ndarray, blur: float = 0.0) -> Image.Image:
    """Grey levels 0..1 (clipped) as an 8-bit picture, out of focus by ``blur`` pixels."""
    image = Image.fromarray((np.clip(values, 0, 1) * 255).astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(blur)) if blur else image
