"""Non-digits of kinds no model here trained on: notebook 07a's second test set.

``mnist_helpers.nondigits`` draws the non-digits the shipped model learned to refuse, so a test
set drawn by it favours that model. The kinds here are ones it cannot draw:

* ``photo crop``   — square crops of pictures that ship with matplotlib (a photograph, a
  drawing, an MRI slice, a terrain's height map);
* ``other script`` — Greek and Cyrillic letters and mathematical symbols, in fonts used neither
  for training nor for the first test set;
* ``pattern``      — barcodes, checkerboards and rings;
* ``chart``        — a line chart of a real EEG recording that ships with matplotlib.

Each is drawn dark on light paper, then prepared like any user's picture (``preprocess_image``).
"""

from __future__ import annotations

import gzip
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ..errors import ConfigError, NoInkError
from ..nondigits import font_path
from ..preprocess import preprocess_image

#: Letters of other scripts and symbols. Those that look like a digit or two, or like a digit
#: seen in a mirror, are left out, as ``nondigits.LETTERS`` leaves out Latin ones: З (3),
#: б (6), Ч (4), Ю and ю (10), Γ (a mirrored 7) and д, which the serif italic of
#: ``GLYPH_FONTS`` draws as ∂ (a mirrored 6).
LOOK_LIKE_DIGITS = "ЗбЧЮюΓд"
GLYPHS = "ΨΦΛΞΔαγλξψ" + "ЖЯФШЩЛДИЦжяфшлиц" + "∇⊗⊕∏⊥∠"
#: matplotlib's fonts that neither the training nor the first test set's non-digits use.
GLYPH_FONTS = ("DejaVuSansMono-Bold.ttf", "DejaVuSans-BoldOblique.ttf",
               "DejaVuSerif-BoldItalic.ttf")
SIZE = 160  # pixels a side of a drawn glyph, pattern or chart

Drawing = Callable[[np.random.Generator], np.ndarray]


def grey(image: Image.Image) -> np.ndarray:
    """A picture as grey levels 0..1 (see-through parts white)."""
    on_white = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    return np.asarray(on_white.convert("L"), dtype=float) / 255


def stretched(values: np.ndarray) -> np.ndarray:
    """Values stretched to 0..1."""
    return (values - values.min()) / (values.max() - values.min())


def _read_only(values: np.ndarray) -> np.ndarray:
    """``values``, no longer writable: cached pictures are shared by every draw."""
    values.flags.writeable = False
    return values


def _sample_data(name: str) -> str:
    """The path of one of the files of sample data that ship with matplotlib."""
    from matplotlib import cbook

    return cbook.get_sample_data(name, asfileobj=False)


@cache  # read once, on first use rather than on import
def photos() -> tuple[np.ndarray, ...]:
    """The pictures photo crops are cut from, grey levels 0..1."""
    with Image.open(_sample_data("grace_hopper.jpg")) as picture:
        hopper = grey(picture)
    with Image.open(_sample_data("Minduka_Present_Blue_Pack.png")) as picture:
        present = grey(picture)
    with gzip.open(_sample_data("s1045.ima.gz")) as f:  # an MRI slice, 256×256 16-bit
        mri = stretched(np.frombuffer(f.read(), np.uint16).reshape(256, 256).astype(float))
    with np.load(_sample_data("jacksboro_fault_dem.npz")) as dem:
        terrain = stretched(dem["elevation"].astype(float))
    return tuple(_read_only(p) for p in (hopper, present, mri, terrain))


@cache
def eeg() -> np.ndarray:
    """A real EEG recording: 800 samples of 4 channels."""
    return _read_only(np.fromfile(_sample_data("eeg.dat"), float).reshape(-1, 4))


@cache
def glyph_fonts() -> tuple[ImageFont.FreeTypeFont, ...]:
    """``GLYPH_FONTS`` loaded at the size glyphs are drawn."""
    return tuple(ImageFont.truetype(str(font_path(name)), 90) for name in GLYPH_FONTS)


def photo_crop(rng: np.random.Generator) -> np.ndarray:
    """A square crop, of random size and place, of one of ``photos()``."""
    pictures = photos()
    picture = pictures[rng.integers(len(pictures))]
    side = int(rng.uniform(0.25, 1.0) * min(picture.shape))
    y, x = (rng.integers(0, n - side + 1) for n in picture.shape)
    return picture[y:y + side, x:x + side]


def other_script(rng: np.random.Generator) -> np.ndarray:
    """One of ``GLYPHS`` in one of ``GLYPH_FONTS``, turned by up to 10°."""
    fonts = glyph_fonts()
    canvas = Image.new("L", (SIZE, SIZE), 255)
    ImageDraw.Draw(canvas).text((SIZE // 2, SIZE // 2), GLYPHS[rng.integers(len(GLYPHS))],
                                fill=30, font=fonts[rng.integers(len(fonts))], anchor="mm")
    return np.asarray(canvas.rotate(rng.uniform(-10, 10), fillcolor=255), dtype=float) / 255


def pattern(rng: np.random.Generator) -> np.ndarray:
    """A barcode, a checkerboard or rings."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    which = rng.integers(3)
    if which == 0:  # a barcode: bars of random widths, a margin at the top
        bars = np.repeat(np.arange(30) % 2, rng.integers(4, 17, 30))[:SIZE]
        ink = np.tile(np.pad(bars, (0, SIZE - len(bars))), (SIZE, 1)).astype(float)
        ink[:int(rng.uniform(0.2, 0.5) * SIZE)] = 0
    elif which == 1:  # a checkerboard
        cell = rng.integers(12, 40)
        ink = ((yy // cell + xx // cell) % 2).astype(float)
    else:  # rings
        radius = np.hypot(yy - SIZE / 2, xx - SIZE / 2)
        ink = ((radius // rng.integers(6, 16)) % 2 == 0) & (radius < 0.45 * SIZE)
    return 1 - 0.8 * ink


def chart(rng: np.random.Generator) -> np.ndarray:
    """A line chart of a stretch of one of ``eeg()``'s channels, with its axes."""
    recording = eeg()
    start = rng.integers(0, len(recording) - 300)
    signal = recording[start:start + 300:rng.integers(4, 20), rng.integers(4)]
    x = np.linspace(20, SIZE - 10, len(signal))
    y = SIZE - 20 - stretched(signal) * (SIZE - 40)
    canvas = Image.new("L", (SIZE, SIZE), 255)
    draw = ImageDraw.Draw(canvas)
    draw.line([(15, 10), (15, SIZE - 15), (SIZE - 5, SIZE - 15)], fill=30, width=2)  # the axes
    draw.line(list(zip(x, y, strict=True)), fill=30, width=int(rng.integers(1, 4)))
    return np.asarray(canvas, dtype=float) / 255


#: How each new kind is drawn: grey levels 0..1, dark on light.
DRAWERS: dict[str, Drawing] = {"photo crop": photo_crop, "other script": other_script,
                               "pattern": pattern, "chart": chart}
#: The new kinds' names, in the order they are drawn.
NEW_KINDS: tuple[str, ...] = tuple(DRAWERS)


@dataclass(frozen=True, eq=False)
class NewKindPictures:
    """A draw of new-kind non-digits: what the models see, and the pictures they came from."""

    pixels: torch.Tensor  # uint8 N×28×28, white on black, as MNIST's
    kinds: np.ndarray  # the kind of each picture (strings, N)
    pictures: list[Image.Image]  # as drawn, before preprocessing (N)
    no_ink: int  # drawings preprocessing refused for having no ink: left out of the N


def varied_picture(drawing: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A drawing as an 8-bit picture: its brightness scaled and shifted by one random amount
    each for the whole picture, then blurred by a random radius."""
    values = drawing * rng.uniform(0.8, 1.0) + rng.normal(0, 0.02, (1, 1))
    return Image.fromarray((np.clip(values, 0, 1) * 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))


def new_kind_pictures(per_kind: int, seed: int) -> NewKindPictures:
    """``per_kind`` pictures of each of ``NEW_KINDS``, drawn from ``seed``, as the models see
    them; those preprocessing finds no ink in are left out, as ``predict`` refuses them."""
    per_kind, seed = _count(per_kind, "per_kind"), _count(seed, "seed")
    # One generator, drawn from in a fixed order (kind by kind): the same seed, the same pictures.
    rng = np.random.default_rng(seed)
    pixels: list[np.ndarray] = []
    kinds: list[str] = []
    pictures: list[Image.Image] = []
    no_ink = 0
    for kind, draw in DRAWERS.items():
        for _ in range(per_kind):
            picture = varied_picture(draw(rng), rng)
            try:
                pixels.append(preprocess_image(picture).pixels)
            except NoInkError:  # refused before any model sees it
                no_ink += 1
                continue
            kinds.append(kind)
            pictures.append(picture)
    return NewKindPictures(_as_uint8(pixels), np.array(kinds, dtype=str), pictures, no_ink)


def _as_uint8(pixels: list[np.ndarray]) -> torch.Tensor:
    """28×28 pictures of floats 0..1 as one uint8 N×28×28 tensor (N may be 0)."""
    if not pixels:
        return torch.empty(0, 28, 28, dtype=torch.uint8)
    return torch.from_numpy((np.stack(pixels) * 255).round().astype(np.uint8))


def _count(value: object, name: str) -> int:
    """``value`` as a whole number of at least 0, or a clear error naming ``name``."""
    # True is an Integral to Python, but never meant as a count; 2.0 and "2" are refused too.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, not {type(value).__name__} {value!r}")
    if value < 0:
        raise ConfigError(f"{name} must be 0 or more, not {value}")
    return int(value)
