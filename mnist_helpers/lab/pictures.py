"""Pictures of digits the project makes itself, as a person would hand them in: the sample
images that ship with the package, and the labelled pictures the benchmarks measure on.

Three kinds, each digit 0–9, named ``<kind>_<digit>.png`` so the true label travels in the
file name:

* ``pen``   — digits drawn as pen strokes on white paper, off-centre, various thicknesses;
* ``font``  — a digit typed in DejaVu Sans (shipped with matplotlib), slightly rotated;
* ``photo`` — an MNIST *test* digit turned into a photo: dark ink on light paper, uneven
  light, noise and blur, small and off-centre on a bigger page.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from torch import nn

from ..config import DIGIT_OUTPUTS
from ..data import load_mnist
from ..drawing import absorbed, arc, lighting, to_picture
from ..errors import NoInkError
from ..evaluate import class_probabilities
from ..images import draw_strokes
from ..preprocess import naive_preprocess, preprocess_image

#: Pen strokes per digit, in a unit box (x right, y down); each stroke is a polyline.
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [arc(0.5, 0.5, 0.3, 0.42, 0, 360, 40)],
    1: [[(0.35, 0.25), (0.55, 0.08), (0.55, 0.92)]],
    2: [arc(0.5, 0.32, 0.28, 0.24, 200, 380) + [(0.2, 0.9), (0.85, 0.9)]],
    3: [arc(0.48, 0.3, 0.27, 0.21, 200, 450), arc(0.48, 0.71, 0.3, 0.21, 270, 520)],
    4: [[(0.62, 0.92), (0.62, 0.08), (0.15, 0.65), (0.88, 0.65)]],
    5: [[(0.78, 0.1), (0.3, 0.1), (0.26, 0.45)] + arc(0.5, 0.66, 0.3, 0.26, 235, 500)],
    6: [[(0.7, 0.1)] + arc(0.5, 0.67, 0.28, 0.25, 215, 575)],
    7: [[(0.15, 0.12), (0.85, 0.12), (0.42, 0.92)]],
    8: [arc(0.5, 0.29, 0.23, 0.2, 0, 360, 36), arc(0.5, 0.7, 0.28, 0.22, 0, 360, 36)],
    9: [arc(0.48, 0.32, 0.26, 0.23, 0, 360, 36), [(0.74, 0.32), (0.66, 0.92)]],
}


def draw_pen_digit(digit: int, *, size: int = 220, box: tuple[int, int, int] = (40, 30, 120),
                   width: int = 9, ink: int = 30, paper: int = 235) -> Image.Image:
    """A digit drawn as pen strokes: ``box`` is (left, top, height) of the digit on the page."""
    image = Image.new("L", (size, size), paper)
    left, top, height = box
    w = height * 0.75
    draw_strokes(image, [[(left + x * w, top + y * height) for x, y in stroke]
                         for stroke in STROKES[digit]], width=width, ink=ink)
    return image


def draw_font_digit(digit: int, *, size: int = 220, font_size: int = 110, angle: float = 0.0,
                    offset: tuple[int, int] = (0, 0)) -> Image.Image:
    """A typed digit (DejaVu Sans from matplotlib), dark on light, rotated by ``angle``."""
    from matplotlib import font_manager

    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), font_size)
    layer = Image.new("L", (size, size), 0)
    ImageDraw.Draw(layer).text((size / 2 + offset[0], size / 2 + offset[1]), str(digit),
                               fill=255, font=font, anchor="mm")
    layer = layer.rotate(angle, resample=Image.Resampling.BICUBIC)
    return Image.fromarray((240 - np.asarray(layer) * (210 / 255)).astype(np.uint8))


def mnist_as_photo(pixels: np.ndarray, rng: np.random.Generator, *, page: int = 240,
                   stroke: int = 0, light_on_dark: bool = False) -> Image.Image:
    """An MNIST digit (28×28 uint8, white on black) as a phone photo of ink on paper.

    ``stroke`` > 0 thickens the pen, < 0 thins it; ``light_on_dark`` photographs chalk on a
    blackboard instead of ink on paper.
    """
    scale = int(rng.integers(3, 6))
    digit = Image.fromarray(pixels).resize((28 * scale, 28 * scale), Image.Resampling.BICUBIC)
    if stroke:
        size = 2 * abs(stroke) * scale // 3 * 2 + 1
        digit = digit.filter(ImageFilter.MaxFilter(size) if stroke > 0
                             else ImageFilter.MinFilter(size))
    ink = np.zeros((page, page))
    x, y = (int(v) for v in rng.integers(10, page - 28 * scale - 10, size=2))
    ink[y: y + 28 * scale, x: x + 28 * scale] = np.asarray(digit) / 255.0
    light = lighting((page, page), 0.95, 0.25, (rng.uniform(0.3, 1.0), rng.uniform(0.0, 0.7)))
    if light_on_dark:
        photo = 0.15 + 0.1 * light + 0.7 * ink + rng.normal(0, 0.03, ink.shape)
    else:
        photo = absorbed(light, ink, 0.8) + rng.normal(0, 0.03, ink.shape)
    return to_picture(photo, blur=rng.uniform(0.5, 1.5))


def worksheet_photo(pixels: np.ndarray, busy: bool = False) -> np.ndarray:
    """An MNIST digit (uint8 28×28, white on black) as a photo of a worksheet, uint8 220×220
    grey: printed pictures cut off by the top edge, a printed underline under each, a margin
    line, grains of the paper, and the digit in dark ink below them. ``preprocess.main_object``
    must leave the lines and grains out of the digit's box. With ``busy``, four letter-sized
    rings are printed too: marks of their own, which make it keep all the ink."""
    page = Image.new("L", (220, 220), 225)
    draw = ImageDraw.Draw(page)
    for x in (20, 80, 145):
        draw.ellipse([x, -20, x + 35, 25], outline=60, width=2)  # a printed picture
        draw.line([(x - 5, 38), (x + 40, 38)], fill=90, width=2)  # its underline
    draw.line([(18, 66), (18, 98)], fill=120, width=2)  # the margin
    for x, y in ((67, 57), (115, 55), (167, 54)):
        draw.rectangle([x, y, x + 2, y + 2], fill=110)  # grains of the paper
    if busy:
        for x in (40, 80, 120, 160):
            draw.ellipse([x, 150, x + 20, 180], outline=60, width=3)
    strength = np.asarray(Image.fromarray(pixels).resize((60, 60), Image.Resampling.BILINEAR),
                          np.float64) / 255.0
    gray = np.asarray(page, np.float64)
    gray[60:120, 40:100] -= 150 * strength
    return gray.clip(0, 255).astype(np.uint8)


def make_sample_images(folder: str | os.PathLike, *, data_dir: str | os.PathLike | None = None,
                       seed: int = 0) -> list[Path]:
    """Write the 30 sample images (pen, font and photo of each digit) into ``folder``; the
    package ships them in ``mnist_helpers/sample_images`` (see ``config.sample_images_dir``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    test = load_mnist(False, data_dir)
    written = []
    for digit in range(10):
        box = (int(rng.integers(20, 80)), int(rng.integers(15, 70)), int(rng.integers(90, 140)))
        images = {
            "pen": draw_pen_digit(digit, box=box, width=int(rng.integers(5, 14))),
            "font": draw_font_digit(digit, angle=float(rng.uniform(-12, 12)),
                                    font_size=int(rng.integers(80, 150)),
                                    offset=(int(rng.integers(-30, 30)),
                                            int(rng.integers(-30, 30)))),
        }
        index = int((test.targets == digit).nonzero()[int(rng.integers(0, 50))])
        images["photo"] = mnist_as_photo(test.data[index].numpy(), rng)
        for kind, image in images.items():
            path = folder / f"{kind}_{digit}.png"
            image.save(path, optimize=True)
            written.append(path)
    return written


def make_test_pictures(n: int, seed: int = 1, data_dir: str | os.PathLike | None = None
                       ) -> dict[str, list[tuple[Image.Image, int]]]:
    """``n`` labelled pictures of each kind, made from digits no model trained on (seeded).
    The kinds of change are not new to every model: the shipped model also trained on MNIST
    training digits drawn as similar pictures (:mod:`mnist_helpers.digit_pictures`).

    * ``photo`` — MNIST *test* digits as phone photos: dark ink on light paper, uneven light,
      noise, blur, small and off-centre on the page; ``thick``/``thin`` — the same with a
      thicker or thinner pen; ``chalk`` — light strokes on a dark board;
    * ``pen`` — digits drawn as pen strokes at random sizes, positions and pen widths;
      ``font`` — digits typed in DejaVu Sans at random sizes, positions and angles.
    """
    rng = np.random.default_rng(seed)
    test = load_mnist(False, data_dir)
    picks = rng.choice(len(test), size=n, replace=False)
    kinds: dict[str, list[tuple[Image.Image, int]]] = {
        k: [] for k in ("photo", "thick", "thin", "chalk", "pen", "font")}
    for i in picks.tolist():
        pixels, label = test.data[i].numpy(), int(test.targets[i])
        kinds["photo"].append((mnist_as_photo(pixels, rng), label))
        kinds["thick"].append((mnist_as_photo(pixels, rng, stroke=1), label))
        kinds["thin"].append((mnist_as_photo(pixels, rng, stroke=-1), label))
        kinds["chalk"].append((mnist_as_photo(pixels, rng, light_on_dark=True), label))
    for j in range(n):
        digit = j % 10
        box = (int(rng.integers(10, 80)), int(rng.integers(10, 70)), int(rng.integers(60, 140)))
        kinds["pen"].append((draw_pen_digit(digit, box=box, width=int(rng.integers(4, 16))),
                             digit))
        kinds["font"].append((draw_font_digit(
            digit, angle=float(rng.uniform(-15, 15)), font_size=int(rng.integers(60, 160)),
            offset=(int(rng.integers(-40, 40)), int(rng.integers(-40, 40)))), digit))
    return kinds


def label_from_name(path: str | os.PathLike) -> int | None:
    """The true digit in a sample's file name (``pen_7.png`` → 7), or None."""
    match = re.search(r"_(\d)\.\w+$", Path(path).name)
    return int(match.group(1)) if match else None


def picture_accuracy(model: nn.Module, pictures: list[tuple[Image.Image, int]], *,
                     preprocess: str = "mnist") -> float:
    """Share of labelled ``pictures`` the model gets right, after ``preprocess``:

    ``"mnist"`` — :func:`~mnist_helpers.preprocess.preprocess_image` (MNIST's own steps);
    ``"naive"`` — :func:`~mnist_helpers.preprocess.naive_preprocess` (squash the whole
    picture to 28×28 and invert, as many tutorial scripts do). A picture in which no digit is
    found counts as wrong.
    """
    if preprocess not in ("mnist", "naive"):
        raise ValueError(f"preprocess must be 'mnist' or 'naive', got {preprocess!r}")
    if not pictures:
        raise ValueError("No pictures given.")
    inputs, labels = [], []
    for picture, label in pictures:
        try:
            inputs.append(preprocess_image(picture).tensor if preprocess == "mnist"
                          else naive_preprocess(picture))
            labels.append(label)
        except NoInkError:
            continue  # no digit found: counts as wrong
    if not inputs:
        return 0.0
    predicted = class_probabilities(model, torch.cat(inputs))[:, DIGIT_OUTPUTS].argmax(1)
    return int((predicted == torch.tensor(labels)).sum()) / len(pictures)
