"""Numbers and non-digits composed into pictures, for the benchmark of reading numbers and
refusing what is not a digit (``benchmarks/numbers_and_nondigits.py``).

* :func:`number_picture` writes a number of 2 to 10 digits in one line: each digit an MNIST
  *test* digit or one drawn with a pen, at a slightly different size and height, with gaps that
  vary down to digits that touch, the whole line slanted, then photographed (ink on lit,
  noisy paper), scanned (clean) or drawn on a canvas (black strokes on white).
* :func:`nondigit_photo` photographs a letter, word, symbol, doodle, object, shadow or noise,
  in fonts no model here trained on.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from ..drawing import absorbed, crop_to_ink, elastic, lighting, mnist_ink, to_picture
from ..images import draw_strokes
from ..nondigits import TEST_FONTS, draw_nondigit, load_fonts
from .pictures import STROKES

STYLES = ("photo", "scan", "canvas")


def _pen_ink(digit: int, rng: np.random.Generator, height: int, width_px: float) -> np.ndarray:
    """A digit drawn by a hand: :data:`~mnist_helpers.lab.pictures.STROKES` in a box of random
    proportions, leaning a little, then bent by a smooth random field (no two alike)."""
    aspect = rng.uniform(0.55, 0.85)
    lean = rng.uniform(-0.2, 0.2)
    strokes = [[((x + lean * (1 - y)) * height * aspect + 2 * width_px,
                 y * height + 2 * width_px) for x, y in stroke] for stroke in STROKES[digit]]
    canvas = Image.new("L", (int(height * (aspect + 0.3) + 4 * width_px) + 2,
                             int(height + 4 * width_px) + 2), 0)
    draw_strokes(canvas, strokes, width=width_px, ink=255)
    return crop_to_ink(elastic(np.asarray(canvas, dtype=np.float64) / 255.0, rng,
                               alpha=0.06 * height))


def _scaled(ink: np.ndarray, height: int) -> np.ndarray:
    h, w = ink.shape
    width = max(2, round(w * height / h))
    return np.asarray(Image.fromarray((ink * 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.BILINEAR), dtype=np.float64) / 255.0


def number_picture(digits: str, rng: np.random.Generator, mnist: tuple[np.ndarray, np.ndarray],
                   *, style: str = "photo", touching: float = 0.25
                   ) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """``digits`` written in one line, as a picture (grey, dark on light) and the box of each
    digit before the line is slanted. ``mnist`` is (pixels, labels) of the test split; each
    digit is one of those or drawn with a pen; ``touching`` is the chance that a gap is closed,
    its neighbours touching or overlapping by up to 8% of the digits' height."""
    pixels, labels = mnist
    height = int(rng.integers(40, 90))
    canvas_style = style == "canvas"
    pen_width = height * (rng.uniform(0.1, 0.16) if canvas_style else rng.uniform(0.05, 0.12))
    glyphs = []
    for ch in digits:
        digit = int(ch)
        if not canvas_style and rng.random() < 0.6:
            choices = np.nonzero(labels == digit)[0]
            ink = mnist_ink(pixels[int(rng.choice(choices))])
        else:
            ink = _pen_ink(digit, rng, height, pen_width)
        glyphs.append(_scaled(ink, int(height * rng.uniform(0.85, 1.1))))
    margin = height
    total = sum(g.shape[1] for g in glyphs) + int(height * 0.5 * len(glyphs)) + 2 * margin
    line = np.zeros((height * 2 + 2 * margin, total))
    x, boxes = margin, []
    for i, glyph in enumerate(glyphs):
        if i:
            gap = (rng.uniform(-0.08, 0.0) if rng.random() < touching
                   else rng.uniform(0.05, 0.4)) * height
            x = max(margin, int(x + gap))
        y = margin + height // 2 + int(rng.normal(0, 0.06 * height)) - glyph.shape[0] // 2
        h, w = glyph.shape
        line[y: y + h, x: x + w] = np.maximum(line[y: y + h, x: x + w], glyph)
        boxes.append((x, y, w, h))
        x += w
    line = line[:, : x + margin]
    if rng.random() < 0.5:  # italic: lean the letters
        shear = rng.uniform(-0.25, 0.25)
        line = ndimage.affine_transform(line, [[1, 0], [shear, 1]],
                                        offset=[0, -shear * line.shape[0] / 2], order=1)
    line = ndimage.rotate(line, float(rng.uniform(-12, 12)), reshape=True, order=1)
    return _render(line, rng, style), boxes


def _render(ink: np.ndarray, rng: np.random.Generator, style: str) -> Image.Image:
    """Ink (0..1) as a photo, a scan or a canvas drawing: grey, dark ink on light paper."""
    ink = np.clip(ink, 0, 1)
    if style == "canvas":
        return to_picture(1 - ink)
    pad = int(rng.integers(10, 80))
    ink = np.pad(ink, ((pad, int(rng.integers(10, 80))), (pad, int(rng.integers(10, 80)))))
    h, w = ink.shape
    if style == "scan":
        return to_picture(0.95 - ink * rng.uniform(0.7, 0.9) + rng.normal(0, 0.01, ink.shape))
    light = lighting((h, w), 0.95, 0.3, (rng.uniform(0, 1), rng.uniform(0, 1)))
    page = absorbed(light, ink, rng.uniform(0.6, 0.85)) + rng.normal(0, 0.03, ink.shape)
    return to_picture(page, blur=rng.uniform(0.4, 1.4))


def number_pictures_with_boxes(n: int, seed: int, mnist: tuple[np.ndarray, np.ndarray],
                               *, touching: float = 0.25
                               ) -> list[tuple[Image.Image, str, list[tuple[int, int, int, int]]]]:
    """``n`` labelled numbers of 2 to 10 digits (leading zeros included), in the three
    styles in turn, each with the box of each digit where it was written (before the line
    was slanted: see :func:`number_picture`, which also says what ``touching`` is: the chance
    that a gap between two neighbours is closed)."""
    rng = np.random.default_rng(seed)
    pictures = []
    for i in range(n):
        digits = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(2, 11))))
        image, boxes = number_picture(digits, rng, mnist, style=STYLES[i % len(STYLES)],
                                      touching=touching)
        pictures.append((image, digits, boxes))
    return pictures


def make_number_pictures(n: int, seed: int, mnist: tuple[np.ndarray, np.ndarray],
                         *, touching: float = 0.25) -> list[tuple[Image.Image, str]]:
    """``n`` labelled numbers of 2 to 10 digits (leading zeros included), in the three
    styles in turn: :func:`number_pictures_with_boxes` without the boxes."""
    return [(image, digits) for image, digits, _ in
            number_pictures_with_boxes(n, seed, mnist, touching=touching)]


def nondigit_photo(kind: str, rng: np.random.Generator, fonts: dict) -> Image.Image:
    """A photo of a non-digit of ``kind`` (see :data:`mnist_helpers.nondigits.KINDS`)."""
    picture = draw_nondigit(kind, rng, fonts, size=int(rng.integers(120, 260)))
    pad = [(int(rng.integers(5, 60)), int(rng.integers(5, 60))) for _ in range(2)]
    return to_picture(np.pad(picture, pad, mode="edge"), blur=rng.uniform(0.2, 0.8))


def make_nondigit_photos(n: int, seed: int, kinds: tuple[str, ...]
                         ) -> list[tuple[Image.Image, str]]:
    """``n`` photos of non-digits, the ``kinds`` in turn, in the held-out fonts."""
    rng = np.random.default_rng(seed)
    fonts = load_fonts(TEST_FONTS)
    return [(nondigit_photo(kinds[i % len(kinds)], rng, fonts), kinds[i % len(kinds)])
            for i in range(n)]
