"""Pictures that are not digits, for a model to learn to refuse and for measuring how often
it does: letters and words in many fonts, symbols, doodles, objects, shadows on paper, noise.

Each picture is drawn as dark ink on light paper, like a photo of a page, and then goes
through the same preprocessing as any image a user hands in (:mod:`mnist_helpers.preprocess`),
so a model learns what a non-digit looks like *after* that preprocessing. Letters that are
written like digits (O and o like 0, I and l like 1, S like 5, Z like 2, B like 8, b and G
like 6, g and q like 9) are left out: nobody could tell them apart from digits alone. So are
single slanted strokes, which is how many people write a 1.

The fonts are those that ship with matplotlib; :data:`TRAIN_FONTS` and :data:`TEST_FONTS` do
not overlap, so a measurement can use fonts the model never saw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from scipy import ndimage

from .drawing import arc, darkened, elastic, lighting, mnist_ink
from .errors import ImageError
from .images import draw_strokes
from .preprocess import find_ink, to_mnist_pixels

TRAIN_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
               "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-Bold.ttf",
               "cmr10.ttf", "cmss10.ttf")
TEST_FONTS = ("DejaVuSansMono.ttf", "DejaVuSansMono-BoldOblique.ttf", "STIXGeneral.ttf",
              "STIXGeneralItalic.ttf", "STIXGeneralBol.ttf", "cmti10.ttf", "cmb10.ttf")
#: Fonts with symbols as well as letters (matplotlib's Computer Modern fonts have none).
_SYMBOL_FONTS = ("DejaVu", "STIX")

#: Letters no one writes like a digit.
LETTERS = "ACEFHKMNPRUVWXYacefhkmnprtuvwxy"
#: Symbols, typed.
SYMBOLS = "+−×÷=≠#%*?@&<>~^✓→∞★♥☺€√∑πΩ"

KINDS = ("letter", "word", "symbol", "doodle", "object", "shadow", "noise")

Strokes = list[list[tuple[float, float]]]


def _star(points: int = 5) -> Strokes:
    angles = [math.radians(-90 + i * 360 * 2 / points) for i in range(points + 1)]
    return [[(0.5 + 0.45 * math.cos(a), 0.5 + 0.45 * math.sin(a)) for a in angles]]


#: Drawings in a unit box (x right, y down), each a list of polylines, as a hand would draw.
SHAPES: dict[str, Callable[[np.random.Generator], Strokes]] = {
    "plus": lambda r: [[(0.5, 0.1), (0.5, 0.9)], [(0.1, 0.5), (0.9, 0.5)]],
    "times": lambda r: [[(0.15, 0.15), (0.85, 0.85)], [(0.85, 0.15), (0.15, 0.85)]],
    "equals": lambda r: [[(0.1, 0.35), (0.9, 0.35)], [(0.1, 0.65), (0.9, 0.65)]],
    "divide": lambda r: [[(0.1, 0.5), (0.9, 0.5)], arc(0.5, 0.2, 0.05, 0.05, 0, 360, 8),
                         arc(0.5, 0.8, 0.05, 0.05, 0, 360, 8)],
    "minus": lambda r: [[(0.1, 0.5), (0.9, 0.5)]],
    "hash": lambda r: [[(0.35, 0.1), (0.3, 0.9)], [(0.7, 0.1), (0.65, 0.9)],
                       [(0.1, 0.35), (0.9, 0.35)], [(0.1, 0.65), (0.9, 0.65)]],
    "check": lambda r: [[(0.1, 0.55), (0.4, 0.85), (0.9, 0.15)]],
    "arrow": lambda r: [[(0.05, 0.5), (0.95, 0.5)], [(0.7, 0.25), (0.95, 0.5), (0.7, 0.75)]],
    "star": lambda r: _star(5),
    "heart": lambda r: [arc(0.3, 0.35, 0.2, 0.2, 150, 360, 20) + [(0.5, 0.9)]
                        + arc(0.7, 0.35, 0.2, 0.2, 180, 390, 20)],
    "spiral": lambda r: [[(0.5 + t / 14 * math.cos(t), 0.5 + t / 14 * math.sin(t))
                          for t in np.linspace(0, 6 * math.pi, 60)]],
    "zigzag": lambda r: [[(x, 0.3 if i % 2 else 0.7) for i, x in
                          enumerate(np.linspace(0.05, 0.95, int(r.integers(4, 9))))]],
    "wave": lambda r: [[(x, 0.5 + 0.25 * math.sin(x * math.pi * r.uniform(2, 5)))
                        for x in np.linspace(0.05, 0.95, 40)]],
    "box": lambda r: [[(0.15, 0.15), (0.85, 0.15), (0.85, 0.85), (0.15, 0.85), (0.15, 0.15)]],
    "triangle": lambda r: [[(0.5, 0.1), (0.9, 0.85), (0.1, 0.85), (0.5, 0.1)]],
    "smiley": lambda r: [arc(0.5, 0.5, 0.42, 0.42, 0, 360, 40),
                         arc(0.35, 0.38, 0.04, 0.04, 0, 360, 8),
                         arc(0.65, 0.38, 0.04, 0.04, 0, 360, 8),
                         arc(0.5, 0.55, 0.22, 0.18, 20, 160, 20)],
    "cat": lambda r: [arc(0.5, 0.6, 0.35, 0.3, 0, 360, 40),
                      [(0.2, 0.45), (0.25, 0.1), (0.42, 0.32)],
                      [(0.58, 0.32), (0.75, 0.1), (0.8, 0.45)],
                      [(0.05, 0.6), (0.35, 0.65)], [(0.65, 0.65), (0.95, 0.6)],
                      [(0.05, 0.72), (0.35, 0.7)], [(0.65, 0.7), (0.95, 0.72)]],
    "house": lambda r: [[(0.15, 0.45), (0.15, 0.9), (0.85, 0.9), (0.85, 0.45), (0.15, 0.45),
                         (0.5, 0.1), (0.85, 0.45)], [(0.42, 0.9), (0.42, 0.65), (0.58, 0.65),
                                                     (0.58, 0.9)]],
    "sun": lambda r: [arc(0.5, 0.5, 0.2, 0.2, 0, 360, 24)] + [
        [(0.5 + 0.28 * math.cos(a), 0.5 + 0.28 * math.sin(a)),
         (0.5 + 0.45 * math.cos(a), 0.5 + 0.45 * math.sin(a))]
        for a in np.linspace(0, 2 * math.pi, 9)[:-1]],
    "tree": lambda r: [[(0.45, 0.95), (0.45, 0.6)], [(0.55, 0.95), (0.55, 0.6)],
                       arc(0.5, 0.38, 0.32, 0.28, 0, 360, 30)],
    "person": lambda r: [arc(0.5, 0.15, 0.1, 0.1, 0, 360, 16), [(0.5, 0.25), (0.5, 0.6)],
                         [(0.2, 0.4), (0.8, 0.4)], [(0.5, 0.6), (0.3, 0.95)],
                         [(0.5, 0.6), (0.7, 0.95)]],
    "flower": lambda r: [arc(0.5 + 0.2 * math.cos(a), 0.35 + 0.2 * math.sin(a), 0.12, 0.12,
                              0, 360, 14) for a in np.linspace(0, 2 * math.pi, 6)[:-1]]
    + [[(0.5, 0.5), (0.5, 0.95)]],
    "scribble": lambda r: [[(float(x), float(y)) for x, y in r.uniform(0.05, 0.95, (12, 2))]],
    "hatch": lambda r: [[(x, 0.1), (x + 0.3, 0.9)] for x in np.linspace(0.05, 0.65, 5)],
}


def font_path(name: str) -> Path:
    """One of matplotlib's bundled fonts, by file name."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name


def _ink_onto_paper(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lay ink (0..1, 1 = full ink) onto light, unevenly lit, grainy paper, slightly blurred."""
    h, w = ink.shape
    light = lighting((h, w), rng.uniform(0.8, 0.98), rng.uniform(0, 0.2),
                     (rng.uniform(-1, 1), rng.uniform(-1, 1)))
    paper = np.clip(light + rng.normal(0, 0.015, (h, w)), 0, 1)
    picture = darkened(paper, ink, rng.uniform(0.05, 0.35))
    picture = ndimage.gaussian_filter(picture, rng.uniform(0.3, 1.0))
    return np.clip(picture, 0, 1)


def load_fonts(names: Sequence[str], size: int = 64) -> dict[str, ImageFont.FreeTypeFont]:
    """matplotlib's bundled fonts ``names``, loaded once at ``size`` points."""
    return {name: ImageFont.truetype(str(font_path(name)), size) for name in names}


def _typed(text: str, fonts: dict[str, ImageFont.FreeTypeFont], rng: np.random.Generator,
           size: int, symbols: bool = False) -> np.ndarray:
    """``text`` in a random font of ``fonts``, rotated, sheared, thickened or thinned and
    distorted like handwriting; ink 0..1 on a canvas ``size`` pixels high."""
    usable = [name for name in fonts if not symbols or name.startswith(_SYMBOL_FONTS)]
    font = fonts[usable[int(rng.integers(len(usable)))]]
    left, top, right, bottom = font.getbbox(text)
    pad = font.size // 2
    # Whole pixels: PIL's types allow fractional boxes (a fractional stroke width), ours are not.
    canvas = Image.new("L", (int(right - left + 2 * pad), int(bottom - top + 2 * pad)), 0)
    ImageDraw.Draw(canvas).text((pad - left, pad - top), text, fill=255, font=font)
    scale = size * rng.uniform(0.45, 0.7) / font.size
    canvas = canvas.resize((max(1, round(canvas.width * scale)),
                            max(1, round(canvas.height * scale))), Image.Resampling.BILINEAR)
    shear = rng.uniform(-0.3, 0.3)
    canvas = canvas.transform(canvas.size, Image.Transform.AFFINE,
                              (1, shear, -shear * size / 2, 0, 1, 0),
                              resample=Image.Resampling.BILINEAR)
    canvas = canvas.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR)
    width = int(rng.integers(-1, 3))
    if width:
        filt = ImageFilter.MaxFilter if width > 0 else ImageFilter.MinFilter
        canvas = canvas.filter(filt(2 * abs(width) + 1))
    ink = np.asarray(canvas, dtype=np.float64) / 255.0
    return elastic(ink, rng, alpha=size * rng.uniform(0.0, 0.05))


def _drawn(strokes: Strokes, rng: np.random.Generator, size: int) -> np.ndarray:
    """``strokes`` (unit box) drawn by an unsteady hand with a round pen; ink 0..1."""
    box = size * rng.uniform(0.5, 0.8)
    aspect = rng.uniform(0.7, 1.3)
    jitter = size * 0.02
    placed = [[(size * 0.15 + x * box * aspect + rng.normal(0, jitter),
                size * 0.15 + y * box + rng.normal(0, jitter)) for x, y in stroke]
              for stroke in strokes]
    canvas = Image.new("L", (int(size * 0.3 + box * aspect) + 1, size), 0)
    draw_strokes(canvas, placed, width=size * rng.uniform(0.03, 0.09), ink=255)
    canvas = canvas.rotate(float(rng.uniform(-20, 20)), resample=Image.Resampling.BILINEAR)
    return np.asarray(canvas, dtype=np.float64) / 255.0


def _object(rng: np.random.Generator, size: int) -> np.ndarray:
    """A synthetic stand-in for an object: one to three filled polygons or ellipses, with a
    blurred random texture (drawn, not photographed)."""
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(1, 4))):
        x0, y0 = rng.uniform(0.05, 0.5, 2) * size
        x1, y1 = (x0, y0) + rng.uniform(0.25, 0.5, 2) * size
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=int(rng.integers(150, 256)))
        else:
            points = [tuple(p) for p in rng.uniform(0.1, 0.9, (int(rng.integers(3, 7)), 2))
                      * size]
            draw.polygon(points, fill=int(rng.integers(150, 256)))
    ink = np.asarray(canvas, dtype=np.float64) / 255.0
    texture = ndimage.gaussian_filter(rng.uniform(0, 1, ink.shape), 2)
    return ink * (0.6 + 0.4 * texture / texture.max())


def _shadow(rng: np.random.Generator, size: int) -> np.ndarray:
    """Blank paper with a shadow across it: a hand's or a phone's, with a soft edge."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle = rng.uniform(0, 2 * math.pi)
    edge = (xx - 0.5) * math.cos(angle) + (yy - 0.5) * math.sin(angle) - rng.uniform(-0.3, 0.3)
    return rng.uniform(0.2, 0.6) / (1 + np.exp(-edge / rng.uniform(0.04, 0.2)))


def _noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Specks and grain, as a dirty scan or a dark photo has."""
    grain = ndimage.gaussian_filter(rng.uniform(0, 1, (size, size)), rng.uniform(0.5, 3))
    return np.clip((grain - grain.mean()) / (grain.std() + 1e-9) * 0.3, 0, 1)


def draw_nondigit(kind: str, rng: np.random.Generator, fonts: dict[str, ImageFont.FreeTypeFont],
                  size: int = 96) -> np.ndarray:
    """One picture of ``kind`` (one of :data:`KINDS`) in one of ``fonts`` (see
    :func:`load_fonts`): grey levels 0..1, dark ink on light paper, about ``size`` pixels
    high."""
    if kind == "letter":
        ink = _typed(LETTERS[int(rng.integers(len(LETTERS)))], fonts, rng, size)
    elif kind == "word":
        word = "".join(rng.choice(list(LETTERS + "oilsbgq"), int(rng.integers(2, 6))))
        ink = _typed(word, fonts, rng, size)
    elif kind == "symbol":
        if rng.random() < 0.5:
            ink = _typed(SYMBOLS[int(rng.integers(len(SYMBOLS)))], fonts, rng, size,
                         symbols=True)
        else:
            ink = _drawn(SHAPES[rng.choice(list(SHAPES)[:10])](rng), rng, size)
    elif kind == "doodle":
        ink = _drawn(SHAPES[rng.choice(list(SHAPES)[8:])](rng), rng, size)
    elif kind == "object":
        ink = _object(rng, size)
    elif kind == "shadow":
        ink = _shadow(rng, size)
    elif kind == "noise":
        ink = _noise(rng, size)
    else:
        raise ValueError(f"Unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    return _ink_onto_paper(ink, rng)


def digit_pair(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Two random digits of ``digits`` side by side, touching, overlapping or just apart."""
    left, right = (mnist_ink(digits[int(i)]) for i in rng.integers(len(digits), size=2))
    height = max(left.shape[0], right.shape[0])
    gap = int(rng.uniform(-0.15, 0.1) * height)
    width = left.shape[1] + max(gap, -left.shape[1] // 2) + right.shape[1]
    canvas = np.zeros((height, max(width, left.shape[1], right.shape[1])))
    canvas[:left.shape[0], :left.shape[1]] = left
    x = canvas.shape[1] - right.shape[1]
    top = int(rng.integers(0, height - right.shape[0] + 1))
    canvas[top: top + right.shape[0], x:] = np.maximum(canvas[top: top + right.shape[0], x:],
                                                        right)
    return canvas


def _as_pixels(crop: np.ndarray) -> torch.Tensor:
    return torch.from_numpy((to_mnist_pixels(crop) * 255).round().astype(np.uint8))


def nondigit_pixels(n: int, seed: int, *, fonts: Sequence[str] = TRAIN_FONTS,
                    kinds: Sequence[str] = KINDS) -> torch.Tensor:
    """``n`` non-digits as a model sees them: drawn, then prepared like any user's image
    (ink found, cropped, fitted into 20×20, centred in 28×28); uint8 N×28×28, white on
    black, as MNIST's. Pictures in which preprocessing already finds no ink (blank paper, a
    faint shadow) are refused before any model sees them, so they are drawn again."""
    rng = np.random.default_rng(seed)
    loaded = load_fonts(fonts)
    out = torch.empty(n, 28, 28, dtype=torch.uint8)
    made = 0
    for _attempt in range(20 * n + 100):  # bounded: a kind that never has ink must not hang
        if made == n:
            return out
        try:
            found = find_ink(draw_nondigit(kinds[made % len(kinds)], rng, loaded),
                             work_size=96)
        except ImageError:
            continue
        rows, cols = np.nonzero(found.ink > found.threshold)
        if rows.size == 0:
            continue
        out[made] = _as_pixels(found.ink[rows.min(): rows.max() + 1,
                                         cols.min(): cols.max() + 1])
        made += 1
    if made == n:
        return out
    raise RuntimeError(f"only {made} of {n} non-digits had ink after {20 * n + 100} drawings: "
                       f"a kind in {list(kinds)} never has any (a bug in its drawing)")


def pair_pixels(n: int, seed: int, digits: torch.Tensor) -> torch.Tensor:
    """``n`` pictures of two ``digits`` (uint8 N×28×28 MNIST images) that touch, overlap or
    nearly do, prepared like one digit: what reading a number sees when it has not cut two
    digits apart. A model that recognises them tells a number where to cut. (Parts of one
    digit are not used: the left part of a 4 or a 7 is often a perfect 1.)"""
    rng = np.random.default_rng(seed)
    source = digits.cpu().numpy()
    return torch.stack([_as_pixels(digit_pair(source, rng)) for _ in range(n)]) if n else (
        torch.empty(0, 28, 28, dtype=torch.uint8))
