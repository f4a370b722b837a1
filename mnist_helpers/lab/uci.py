"""Real handwriting to measure on: scikit-learn's copy of the UCI digits, drawn as a small scan.

``sklearn.datasets.load_digits()`` holds 1,797 handwritten digits (the test set of UCI's
"Optical Recognition of Handwritten Digits", shipped inside scikit-learn under its BSD
licence: no download). Its description says 43 people wrote the whole set, 30 the training
set and 13 others this test set; the data do not say which writer wrote which digit. Each
digit is 8×8 counts of 0 to 16 (how many pixels of a 4×4 block of a 32×32 scan were inked).

Here each is drawn as dark ink on light paper and its 8×8 block counts are scaled up
smoothly, so ``predict_image`` reads it like any other picture. The result is blurred blocks,
like a very small scan, not sharp strokes: a score on these pictures mixes the handwriting
with that blur. The pictures are for
measuring only: the project never stores or ships them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import ConfigError

#: The largest count in an 8×8 cell: a cell whose whole 4×4 block was inked.
FULL_CELL = 16


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits (counts, shape 1,797×8×8) and their true digits, or a ConfigError
    that says how to install scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # scikit-learn is optional: only the notebooks and benchmarks need it
        raise ConfigError(  # as export.py does for its optional packages
            "the UCI digits come with scikit-learn, which is not installed: "
            "pip install scikit-learn") from None
    digits = load_digits()
    return digits.images, np.asarray(digits.target)


def uci_digit_images(size: int = 64) -> tuple[list[Image.Image], np.ndarray]:
    """The 1,797 UCI digits as ``size``×``size`` greyscale pictures of dark ink on light paper
    (the 8×8 block counts scaled up bilinearly: blurred blocks), and their true digits."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be a whole number of pixels, at least 8, got {size!r}")
    counts, labels = _load_digits()
    # A count of 16 (all ink) becomes black (0), a count of 0 (no ink) white paper (255).
    grey = (255 - counts / FULL_CELL * 255).astype(np.uint8)
    images = [Image.fromarray(cells).resize((size, size), Image.Resampling.BILINEAR)
              for cells in grey]
    return images, labels
