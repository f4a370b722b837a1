"""The paper under the ink: how bright it is at every pixel (shadows included), which side of
a picture is the paper, and the rules printed on it.

:func:`mnist_helpers.preprocess.find_ink` uses all three to turn a photo of a digit into
white ink on black. Each is made for real photos and scans: a phone's shadow with a sharp
edge, a dark frame round a white page, lined notebook paper.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage


def paper_brightness(paper: np.ndarray, cell: int = 4, reach: int = 10) -> np.ndarray:
    """How bright the bare paper is at every pixel, shadows included. On 4×4-pixel averages:
    a grey *closing* (a filter that takes the bright side of each neighbourhood ``reach``
    cells wide, then a minimum filter as wide), smoothly upsampled. The first filter fills
    every dark mark narrower than ``reach`` (a stroke); the minimum filter then gives back
    what it spread over a wide dark area, so the sharp edge of a shadow stays where it is
    instead of turning the shadow's rim into ink. The bright side is the 90th percentile,
    not the maximum, so a few bright specks of noise do not count as paper."""
    h, w = paper.shape
    coarse = np.asarray(Image.fromarray((paper * 255).astype(np.uint8)).resize(
        (max(1, w // cell), max(1, h // cell)), Image.Resampling.BOX), dtype=np.float32)
    if min(coarse.shape) >= reach:
        bright = ndimage.percentile_filter(coarse, 90, size=reach, mode="nearest")
        coarse = ndimage.minimum_filter(bright, size=reach, mode="nearest")
    else:
        coarse = np.full_like(coarse, np.percentile(coarse, 90))
    return np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize(
        (w, h), Image.Resampling.BILINEAR), dtype=np.float32) / np.float32(255)


def dark_ink_on_light_paper(gray: np.ndarray) -> bool:
    """Whether the ink is darker than the paper. The paper is most of the picture, so the
    median grey level is the paper's: nearer the brightest level than the darkest, the paper
    is light. (Percentiles would miss a thin line, which can be far less than 1% of the
    pixels; the border alone misleads: a dark frame round a white page, or a sheet on a dark
    table.)"""
    return bool(np.median(gray) > (float(gray.min()) + float(gray.max())) / 2)


def opening_along(mask: np.ndarray, size: int, axis: int) -> np.ndarray:
    """An opening along one axis: keeps only runs of ``mask`` at least ``size`` long (a
    running minimum, then a running maximum; fast, however long the run)."""
    size |= 1  # odd, so the two windows are centred on the same pixel
    return ndimage.maximum_filter1d(ndimage.minimum_filter1d(mask, size, axis=axis,
                                                             mode="nearest"),
                                    size, axis=axis, mode="nearest")


def closing_along(mask: np.ndarray, size: int, axis: int) -> np.ndarray:
    """A closing along one axis: fills gaps in ``mask`` shorter than ``size``."""
    size |= 1
    return ndimage.minimum_filter1d(ndimage.maximum_filter1d(mask, size, axis=axis,
                                                             mode="nearest"),
                                    size, axis=axis, mode="nearest")


def _horizontal_rules(mask: np.ndarray, thin: int = 5) -> np.ndarray:
    """The pixels of ``mask`` on thin straight lines that run across at least 80% of its
    width and are at least 25 times as long as they are thick: the rules of lined paper. A
    digit's bar or stem (a 7's top, a 1) stops short of that, or is too thick for its length."""
    h, w = mask.shape
    inked_columns = np.asarray(mask.any(axis=0))  # an array: numpy's types also allow a scalar
    if closing_along(inked_columns, 9, 0).mean() < 0.8:
        return np.zeros_like(mask)  # no line crosses 80% of the picture: nothing to look for
    run = max(3, w // 8) | 1
    # Join a slightly slanted thin line into one band (3 rows), let it go on past the edges,
    # bridge small breaks (9 columns), then keep only runs longer than an eighth of the width
    # that are at most ``thin`` rows tall (a blob or a stroke across the rule is not thin).
    band = np.pad(ndimage.maximum_filter1d(mask, 3, axis=0), ((0, 0), (run, run)), mode="edge")
    band = closing_along(band, 9, 1)
    runs = opening_along(band, run, 1)
    runs &= ~opening_along(runs, thin + 1, 0)
    # One rule, even where strokes cross it, is one piece: join breaks up to ``run`` wide.
    labels, _ = ndimage.label(closing_along(runs, run, 1))
    labels = labels[:, run:-run] * runs[:, run:-run]
    rules = np.zeros_like(mask)
    for number, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        piece = labels[rows, cols] == number
        length = int(piece.any(axis=0).sum())
        if length >= 0.8 * w and length >= 25 * piece.sum() / length:
            rules[rows, cols] |= piece
    return rules & mask


#: A line across the picture at least this share of the pen's width thick is drawn with the
#: pen (the stem of a 4 or a 1 in a tightly cropped picture), not printed on the paper, and is
#: kept: printed rules are finer than a pen's strokes.
AS_THICK_AS_THE_PEN = 0.8


def pen_width(mask: np.ndarray) -> float:
    """How wide the strokes of ``mask`` are on average: their area over half their outline
    (a stroke's outline is twice its length); infinite when there is no ink."""
    outline = int((mask & ~ndimage.binary_erosion(mask)).sum())
    return 2 * float(mask.sum()) / outline if outline else float("inf")


def _finer_than(rules: np.ndarray, pen: float, axis: int) -> np.ndarray:
    """The lines of ``rules`` (running along ``axis``: 1 across, 0 down) thinner than
    :data:`AS_THICK_AS_THE_PEN` of the pen."""
    labels, count = ndimage.label(rules, np.ones((3, 3), bool))
    fine = np.zeros_like(rules)
    for number, box in enumerate(ndimage.find_objects(labels), start=1):
        piece = labels[box] == number
        thickness = piece.sum() / max(int(piece.any(axis=1 - axis).sum()), 1)
        if thickness < AS_THICK_AS_THE_PEN * pen:
            fine[box] |= piece
    return fine


def remove_ruled_lines(ink: np.ndarray, threshold: float) -> np.ndarray:
    """``ink`` without the rules of lined or squared paper (thin lines across the whole
    picture, horizontal or vertical, finer than the pen). Where a stroke crosses a rule, the
    rule's pixels that join the stroke's two sides are kept, so the stroke is not cut in two."""
    mask = ink >= threshold
    across, down = _horizontal_rules(mask), _horizontal_rules(mask.T).T
    if not (across.any() or down.any()):
        return ink
    pen = pen_width(mask & ~across & ~down)
    cleaned = ink
    # Each set of rules, with the axis across it (along which a stroke crosses it).
    for rules, crossed_along in ((_finer_than(across, pen, 1), 0), (_finer_than(down, pen, 0), 1)):
        if rules.any():
            rest = (cleaned >= threshold) & ~rules
            crossing = closing_along(rest, 9, crossed_along) & rules
            cleaned = np.where(rules & ~crossing, 0.0, cleaned)
    return cleaned
