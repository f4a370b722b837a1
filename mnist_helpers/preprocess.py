"""Preparing any image the way MNIST's digits were made, so the model sees what it knows.

MNIST digits are white ink on black, the ink scaled to fit a 20×20 box (aspect kept) and
moved by whole pixels so its centre of mass is on pixel (14, 14) of a 28×28 field. A photo
or drawing is dark ink on light paper, any size, anywhere on the page.
:func:`preprocess_image` closes that gap step by step and keeps every intermediate image, so
a notebook can show what the model really sees; :func:`find_ink` and :func:`to_mnist_pixels`
are its two halves, which reading a whole number (:mod:`mnist_helpers.number_reading`) uses
on each digit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageOps
from scipy import ndimage

from .config import normalize_scaled
from .errors import NoInkError
from .images import ImageLike, to_grayscale
from .paper import dark_ink_on_light_paper, paper_brightness, remove_ruled_lines

#: Images are shrunk to at most this many pixels a side before the ink is found.
WORK_SIZE = 256
#: Least :func:`edge_strength` of an image with strokes in it. Chosen between two measured
#: sets: 1,000 MNIST *training* digits shrunk to 8×8 and drawn at 64×64 (the blurriest digits
#: a small scan gives) reach 0.257 and more; smooth gradients (linear, radial, sigmoid,
#: vignette) of 64 pixels or more stay at 0.13 or less. Gradients of 28 pixels can reach
#: 0.27: those are left to the model.
MIN_EDGE = 0.2


@dataclass
class Ink:
    """The ink of an image: white on black, uneven light and paper texture removed."""

    ink: np.ndarray  # float32 0..1, at most ``work_size`` pixels a side
    threshold: float  # the level that separates ink from paper (Otsu's)
    inverted: bool  # whether the input was dark ink on light paper
    steps: dict[str, np.ndarray] = field(default_factory=dict)  # for display only
    edges: float = 1.0  # :func:`edge_strength` of the image: below ``MIN_EDGE``, no strokes


@dataclass
class Preprocessed:
    """The model's input and how it was made."""

    tensor: torch.Tensor  # 1×1×28×28, normalised: what the model gets
    pixels: np.ndarray  # 28×28 floats 0..1, white ink on black: what the model sees
    inverted: bool  # whether the input was dark ink on light paper
    steps: dict[str, np.ndarray] = field(default_factory=dict)  # for display only


def _shrink(image: ImageLike, size: int) -> np.ndarray:
    """Grey levels 0..1 (float32), at most ``size`` pixels a side (a box filter: a phone photo
    has far more pixels than a digit needs)."""
    return np.clip(to_grayscale(image, size), 0.0, 1.0)


def edge_strength(gray: np.ndarray) -> float:
    """The largest change of grey level within a stroke's width (1/50 of the image, at least
    3 pixels), as a share of the image's whole range: near 1 where ink meets paper, small
    across a smooth gradient, which has no edges at all."""
    smooth = ndimage.uniform_filter(gray, 3)  # a single noisy pixel is no edge
    width = max(3, round(max(gray.shape) / 50))
    change = ndimage.maximum_filter(smooth, width) - ndimage.minimum_filter(smooth, width)
    span = float(smooth.max() - smooth.min())
    return float(change.max()) / span if span > 0 else 0.0


def _otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    """Otsu's threshold: the level that best splits ``values`` (0..1) into ink and paper, the
    split with the largest between-group variance w0·w1·(m1 − m0)² (each group's share of the
    values, and its mean), tried at every one of ``bins`` levels; the middle of the dark
    group's last bin is returned. Paper of a single grey (a noise-free simulated page) can
    lie just above that middle, in the same bin, and then all of it counts as ink."""
    levels = np.clip((values * bins).astype(np.intp), 0, bins - 1)
    hist = np.bincount(levels.ravel(), minlength=bins)
    centers = (np.arange(bins) + 0.5) / bins
    weight = np.cumsum(hist)
    total = weight[-1]
    mean = np.cumsum(hist * centers)
    between = (mean[-1] * weight - mean * total) ** 2 / np.maximum(weight * (total - weight), 1)
    return float(centers[int(np.argmax(between))])


def find_ink(image: ImageLike, work_size: int = WORK_SIZE) -> Ink:
    """The ink of ``image`` (a PIL image, a numpy array or a tensor: see
    :func:`mnist_helpers.images.to_grayscale`) as white on black.

    The polarity comes from the image itself (the paper is most of it, whatever its
    brightness); uneven light and shadows are divided out (a *flat field*: the picture is
    divided by the bare paper's brightness at each pixel, estimated by :func:`paper_brightness`),
    and what is left of the paper's texture falls below half of Otsu's threshold (the grey
    level that splits the pixels into the two most different groups, ink and paper: see
    :func:`_otsu_threshold`). Raises :class:`NoInkError`
    ("no ink found") when there is no ink to speak of. How sharp its edges are is measured,
    not judged: a smooth shadow is still found as ink, which the project's non-digits need.
    """
    gray = _shrink(image, work_size)
    if float(gray.max() - gray.min()) < 0.15:
        raise NoInkError("no ink found (the image is blank or has too little contrast)")
    steps = {"grayscale": gray}
    inverted = dark_ink_on_light_paper(gray)
    steps["ink_white"] = 1.0 - gray if inverted else gray.copy()
    paper = gray if inverted else 1.0 - gray  # bright paper, dark ink
    ink = np.clip(1.0 - paper / np.maximum(paper_brightness(paper), 1e-3), 0.0, 1.0)
    contrast = float(ink.max())
    if contrast < 0.15:
        raise NoInkError("no ink found (the image is blank or has too little contrast)")
    ink = ink / contrast
    threshold = _otsu_threshold(ink)
    ink = np.where(ink >= threshold * 0.5, ink, 0.0)
    steps["background_removed"] = ink
    ink = remove_ruled_lines(ink, threshold * 0.5)
    steps["rules_removed"] = ink
    return Ink(ink=ink, threshold=threshold, inverted=inverted, steps=steps,
               edges=edge_strength(gray))


#: MNIST's strokes, 20 pixels to a digit's longer side: 5% of 3,000 training digits are
#: thinner than 2.1 pixels, a quarter thinner than 2.45 (measured with :func:`stroke_width`).
THINNEST_STROKE, THIN_STROKE = 2.1, 2.45


def stroke_width(ink: np.ndarray) -> float:
    """How wide the strokes of white-on-black ``ink`` are, in pixels: the ink's area over
    half its outline (a line ``p`` pixels wide and ``L`` long has area ``pL`` and an outline
    of about ``2L``)."""
    mask = ink > 0.5 * float(ink.max()) if ink.size and ink.max() > 0 else ink > 0
    outline = mask & ~ndimage.binary_erosion(mask)
    return float(mask.sum()) / max(float(outline.sum()) / 2, 1.0)


def thicken_thin_strokes(ink: np.ndarray) -> np.ndarray:
    """A fine pen's digit, made as bold as MNIST's: a digit drawn with a pen far thinner
    than its size would, shrunk to 20 pixels, be a faint hairline no training digit looks
    like. Strokes thinner than MNIST's 5th percentile (:data:`THINNEST_STROKE`: only 5% of
    MNIST's strokes are thinner) are widened (a max filter) to about its 25th
    percentile (:data:`THIN_STROKE`); other strokes are left as they are. The crop ends where
    the ink ends, so it is first given room to grow on every side: otherwise a 1 as wide
    as its crop could not get any wider."""
    scale = 20.0 / max(ink.shape)
    width = stroke_width(ink) * scale
    if width >= THINNEST_STROKE:
        return ink
    grow = round((THIN_STROKE - width) / scale)
    if grow < 1 or not ink.any():
        return ink
    wider = ndimage.grey_dilation(np.pad(ink, grow), size=(grow + 1, grow + 1))
    # Keep the whole frame given and what the ink grew past it; drop only unused padding.
    rows, cols = np.nonzero(wider)
    h, w = ink.shape
    return wider[min(rows.min(), grow): max(rows.max() + 1, grow + h),
                 min(cols.min(), grow): max(cols.max() + 1, grow + w)]


def to_mnist_pixels(ink: np.ndarray, steps: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """A crop of white-on-black ink -> a 28×28 MNIST-style digit: strokes thinner than
    MNIST's 5th percentile widened, fitted into 20×20 keeping the aspect ratio, then shifted
    by whole pixels so its centre of mass is on pixel (14, 14), where the training digits
    have theirs (notebook 06 measures them). Pixels are numbered 0..27, so that is 28 / 2,
    half a pixel below and right of the field's geometric middle, 13.5."""
    ink = thicken_thin_strokes(ink)
    h, w = ink.shape
    factor = 20.0 / max(h, w)
    new_w, new_h = max(1, round(w * factor)), max(1, round(h * factor))
    fitted = np.asarray(Image.fromarray((np.clip(ink, 0, 1) * 255).astype(np.uint8)).resize(
        (new_w, new_h), Image.Resampling.LANCZOS), dtype=np.float64) / 255.0
    canvas = np.zeros((28, 28))
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    canvas[top: top + new_h, left: left + new_w] = fitted
    if steps is not None:
        steps["fitted_20x20"] = canvas.copy()
    mass = canvas.sum()
    if mass > 0:
        yy, xx = np.indices(canvas.shape)
        dy = int(round(14.0 - (yy * canvas).sum() / mass))
        dx = int(round(14.0 - (xx * canvas).sum() / mass))
        # A shift with zero fill: ink pushed past an edge is dropped, never wrapped round to
        # the opposite edge (as np.roll would).
        canvas = ndimage.shift(canvas, (dy, dx), order=0, mode="constant", cval=0.0)
    return canvas


def to_model_input(pixels: np.ndarray) -> torch.Tensor:
    """28×28 floats 0..1, white on black -> the normalised 1×1×28×28 tensor a model takes."""
    return normalize_scaled(torch.from_numpy(pixels.astype(np.float32)).view(1, 1, 28, 28))


def _group_around(boxes: list[tuple[slice, slice]], sizes: np.ndarray, first: int) -> set[int]:
    """Piece ``first`` and every piece that comes within a third of its size of the group,
    again and again (a 5's bar, a 4 drawn in two strokes). Specks (under 2% of its ink, or
    less than a fifth of its size across) are not added: a dotted line, or grains of the
    paper one after the other, must not lead the group across the page."""
    chosen = {first}
    (top, bottom), (left, right) = ((s.start, s.stop) for s in boxes[first])
    size = max(bottom - top, right - left)
    reach = size / 3
    grown = True
    while grown:
        grown = False
        for number, (rows, cols) in enumerate(boxes):
            gap = max(rows.start - bottom, top - rows.stop, cols.start - right,
                      left - cols.stop, 0)
            speck = (sizes[number] < 0.02 * sizes[first]
                     or 5 * max(rows.stop - rows.start, cols.stop - cols.start) < size)
            if number not in chosen and gap <= reach and not speck:
                chosen.add(number)
                top, bottom = min(top, rows.start), max(bottom, rows.stop)
                left, right = min(left, cols.start), max(right, cols.stop)
                grown = True
    return chosen


def _is_other_mark(box: tuple[slice, slice], main_size: int) -> bool:
    """Whether a piece left out of a digit's box is a mark of its own (a letter, part of a
    drawing) rather than a line or a speck. A line (a printed underline, a margin, a rule
    cut short; 6 times longer than it is thick) and a mark less than a fifth of the digit's
    size (a speck of dirt, a fragment of paper texture) say nothing about whether the picture
    is of one thing."""
    long_side, short_side = sorted((s.stop - s.start for s in box), reverse=True)
    return long_side < 6 * short_side and 5 * long_side >= main_size


def crop_to(ink: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """``ink`` cut to ``box``, its strongest ink made 1 again. The contrast stretch of
    :func:`find_ink` makes the strongest ink of the whole picture 1; when that was a shadow or
    a mark left out of the box, a faint digit would stay faint, unlike MNIST's."""
    cropped = ink[box]
    peak = cropped.max()
    return cropped / peak if 0 < peak < 1 else cropped


def main_object(mask: np.ndarray) -> tuple[slice, slice]:
    """The box round the one thing a picture of a digit is of. Starts from the heaviest
    connected piece of ink clear of the picture's edge (a shadow, a finger or the edge of the
    desk comes in from outside; a digit is drawn inside), adds the pieces near it, and leaves
    out the pieces that touch the edge and the specks further away. When the marks left out
    inside the picture are more than lines and specks (a page of text, a drawing), the box
    holds all the ink: the picture is not of one small thing, and the model is shown all of
    it."""
    labels, count = ndimage.label(mask, np.ones((3, 3), bool))
    everything = (slice(0, mask.shape[0]), slice(0, mask.shape[1]))
    if count == 0:
        return everything
    boxes = ndimage.find_objects(labels)
    sizes = ndimage.sum_labels(mask, labels, np.arange(1, count + 1))
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    inside = np.ones(count, bool)
    inside[edge[edge > 0] - 1] = False
    if sizes[inside].sum() < 0.1 * sizes.sum():
        inside[:] = True  # (almost) all the ink touches the edge: a tight crop
    chosen = _group_around(boxes, sizes, int(np.argmax(np.where(inside, sizes, -1))))
    box = _box_round([boxes[n] for n in chosen])
    main_size = max(s.stop - s.start for s in box)
    others = [n for n in range(count) if inside[n] and n not in chosen
              and _is_other_mark(boxes[n], main_size)]
    if sizes[others].sum() >= 0.1 * sizes[list(chosen)].sum():
        return _box_round(boxes)
    return box


def _box_round(boxes: list[tuple[slice, slice]]) -> tuple[slice, slice]:
    """The smallest box holding all of ``boxes``."""
    return (slice(min(b[0].start for b in boxes), max(b[0].stop for b in boxes)),
            slice(min(b[1].start for b in boxes), max(b[1].stop for b in boxes)))


def preprocess_image(image: ImageLike) -> Preprocessed:
    """MNIST's steps on any image: upright, grey, ink made white on black, background removed,
    cropped to the ink, fitted into 20×20, centred by mass in 28×28, normalised.

    Raises :class:`NoInkError` ("no ink found") when there is no ink to speak of, or when
    it has no edge of a stroke (a smooth gradient).
    """
    found = find_ink(image)
    if found.edges < MIN_EDGE:
        # Dividing out the light makes a ramp of brightness look like a bold stroke.
        raise NoInkError("no ink found (only a smooth change of brightness, no strokes)")
    mask = found.ink > found.threshold
    if not mask.any():
        raise NoInkError("no ink found")
    cropped = crop_to(found.ink, main_object(mask))
    steps = {**found.steps, "cropped": cropped}
    pixels = to_mnist_pixels(cropped, steps)
    steps["centred_28x28"] = pixels
    return Preprocessed(tensor=to_model_input(pixels), pixels=pixels, inverted=found.inverted,
                        steps=steps)


def naive_preprocess(image: Image.Image) -> torch.Tensor:
    """What many tutorial scripts do, for comparison: grey, squash the whole picture to 28×28,
    invert, normalise (no cropping, centring or background removal)."""
    gray = Image.fromarray((to_grayscale(image) * 255).astype(np.uint8))
    small = ImageOps.invert(gray.resize((28, 28), Image.Resampling.BILINEAR))
    return to_model_input(np.asarray(small, dtype=np.float64) / 255.0)
