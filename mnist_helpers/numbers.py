"""Reading a whole number — one line of handwritten digits — from one image.

The steps of :func:`read_number`:

1. :func:`find_ink` (from preprocessing) makes the ink white on black and removes the paper;
2. :func:`stroke_groups` finds the connected strokes (connected components), drops specks and
   joins pieces of one digit that lie above one another (the top bar of a 5);
3. a group may hold several digits that touch: :func:`candidate_cuts` proposes where to cut it,
   and the model reads every way of cutting; the reading it is surest of wins (a group the
   model reads as "two digits" is always cut);
4. every piece, left to right, is prepared like a single digit (cropped, fitted into 20×20,
   centred in 28×28) and classified; a piece refused as "not a digit" is left out, unless it
   stands as tall as the digits around it (a bare stroke between digits is a 1), and a line
   that is mostly refused is not a number at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch import nn

from .data import NOT_A_DIGIT, TWO_DIGITS
from .errors import NoInkError
from .evaluate import classify
from .predict import Refusal, decide, wins
from .preprocess import find_ink, to_mnist_pixels, to_model_input

#: Images are shrunk to at most this many pixels a side before the digits are found.
WORK_SIZE = 640


@dataclass
class Region:
    """Where one digit is: a box in work-size pixels and the ink inside it (white on black)."""

    x: int
    y: int
    width: int
    height: int
    ink: np.ndarray  # the region's own ink only (a neighbour reaching into the box is not in it)


@dataclass
class DigitReading:
    """One region of a number, as read."""

    box: tuple[int, int, int, int]  # x, y, width, height, in the image's own pixels
    digit: int | None  # None: refused as not a digit
    probabilities: list[float]  # one per digit 0..9
    pixels: np.ndarray  # 28×28, what the model saw
    reason: str | None = None  # why it was refused

    def to_json(self) -> dict:
        """``{"prediction", "probabilities", "box"}``."""
        return {"prediction": self.digit,
                "probabilities": [round(p, 6) for p in self.probabilities],
                "box": list(self.box)}


@dataclass
class NumberReading:
    """The number read in one image: its digits left to right, and what was left out."""

    path: str
    digits: list[DigitReading] = field(default_factory=list)
    refused: list[DigitReading] = field(default_factory=list)

    @property
    def number(self) -> str | None:
        """The digits as a string (leading zeros kept), or None when there are none."""
        return "".join(str(d.digit) for d in self.digits) or None

    def to_json(self) -> dict:
        """``{"path", "number", "digits": [...]}``, as ``predict --number --json`` prints it."""
        return {"path": self.path, "number": self.number,
                "digits": [d.to_json() for d in self.digits]}


def _components(mask: np.ndarray) -> tuple[np.ndarray, list[tuple[slice, slice]], np.ndarray]:
    """Connected strokes (8-neighbours): the label image, each one's box and its area."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    boxes = ndimage.find_objects(labels)
    areas = np.asarray(ndimage.sum(mask, labels, range(1, n + 1)))
    return labels, boxes, areas


def _join_stacked(groups: list[dict]) -> list[dict]:
    """Join pieces of one digit: a piece whose extent from left to right lies mostly within
    another's (the top bar of a 5, a 4 written in two strokes)."""
    joined = True
    while joined:
        joined = False
        groups.sort(key=lambda g: g["x0"])
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i], groups[j]
                overlap = min(a["x1"], b["x1"]) - max(a["x0"], b["x0"])
                if overlap > 0.5 * min(a["x1"] - a["x0"], b["x1"] - b["x0"]):
                    groups[i] = {"x0": min(a["x0"], b["x0"]), "x1": max(a["x1"], b["x1"]),
                                 "y0": min(a["y0"], b["y0"]), "y1": max(a["y1"], b["y1"]),
                                 "ids": a["ids"] + b["ids"]}
                    del groups[j]
                    joined = True
                    break
            if joined:
                break
    return groups


def stroke_groups(ink: np.ndarray, threshold: float) -> list[Region]:
    """The connected strokes of a white-on-black ink image, specks dropped and pieces of one
    digit joined, left to right; each region holds only its own strokes."""
    labels, boxes, areas = _components(ink > threshold)
    if not boxes:
        return []
    keep = [i for i, area in enumerate(areas) if area >= 0.02 * areas.max()]  # not specks
    groups = _join_stacked([{"x0": boxes[i][1].start, "x1": boxes[i][1].stop,
                             "y0": boxes[i][0].start, "y1": boxes[i][0].stop, "ids": [i + 1]}
                            for i in keep])
    regions = []
    for g in groups:
        window = (slice(g["y0"], g["y1"]), slice(g["x0"], g["x1"]))
        own = np.where(np.isin(labels[window], g["ids"]), ink[window], 0.0)
        regions.append(Region(x=g["x0"], y=g["y0"], width=g["x1"] - g["x0"],
                              height=g["y1"] - g["y0"], ink=own))
    return regions


def split(region: Region, cuts: Sequence[int], threshold: float) -> list[Region]:
    """``region`` cut side by side at the columns ``cuts``, each piece trimmed to its ink."""
    edges = [0, *cuts, region.width]
    parts = []
    for left, right in zip(edges[:-1], edges[1:], strict=True):
        if right <= left:
            continue  # no columns: no piece
        part = region.ink[:, left:right]
        rows = np.nonzero(part.max(axis=1) > threshold)[0]
        if rows.size:
            top, bottom = int(rows.min()), int(rows.max()) + 1
            parts.append(Region(x=region.x + left, y=region.y + top, width=right - left,
                                height=bottom - top, ink=part[top:bottom]))
    return parts


#: Cuts are tried between this share of a region's width from its left and from its right (a
#: 1 next to a wide digit takes little of their joint width).
SPAN = 0.12


def candidate_cuts(region: Region, typical: float, must_cut: bool = False
                   ) -> list[tuple[int, ...]]:
    """Ways to cut ``region`` into digits: not at all (unless ``must_cut``), and into as many
    pieces as its width allows (two, or three when it is twice as wide as a digit), at columns
    spread over where the boundaries could be. ``must_cut``: the model reads the region as two
    digits, so it is cut in two however narrow it is (two 1s side by side)."""
    width = region.width
    options: list[tuple[int, ...]] = [] if must_cut else [()]
    step = max(1, width // 24)
    first, last = max(1, int(SPAN * width)), min(width - 1, int((1 - SPAN) * width))
    if width >= 0.7 * typical or must_cut:
        options += [(c,) for c in range(first, last + 1, step)]
    if width >= 2.0 * typical:
        options += [(a, b) for a in range(first, width // 2, 2 * step)
                    for b in range(max(width // 2, a + 1), last + 1, 2 * step)]
    return options


def _line_angle(regions: list[Region]) -> float:
    """The slope of the line of digits, in degrees (a least-squares line through their
    centres, weighted by their ink)."""
    if len(regions) < 2:
        return 0.0
    x = np.array([r.x + r.width / 2 for r in regions])
    y = np.array([r.y + r.height / 2 for r in regions])
    weights = np.array([r.ink.sum() for r in regions])
    slope = np.polyfit(x, y, 1, w=np.sqrt(weights))[0]
    return math.degrees(math.atan(slope))


def _model_input(region: Region, angle: float, threshold: float) -> np.ndarray:
    """A region as the model takes a digit: turned upright along the line, cropped, fitted
    into 20×20 and centred in 28×28."""
    crop = region.ink
    if abs(angle) > 5:
        crop = ndimage.rotate(crop, angle, reshape=True, order=1)
        rows, cols = np.nonzero(crop > threshold)
        if rows.size:
            crop = crop[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    return to_mnist_pixels(crop)


def typical_width(groups: list[Region]) -> float:
    """How wide one digit of this line is: 0.7 of the regions' median height (heights vary
    less than widths, which run from a thin 1 to two digits that touch)."""
    return 0.7 * float(np.median([g.height for g in groups]))


WIDE, NARROW = 0.55, 1.0
INK_PENALTY = 0.5
KEEP_WHOLE = 0.9


def _width_prior(width: float, typical: float) -> float:
    """How usual a digit ``width`` wide is in this line, as a log-probability up to a
    constant: a log-normal around the typical width, wider on the narrow side (a 1 is narrow,
    while a region much wider than a digit is likely two)."""
    ratio = math.log(max(width, 1.0) / typical)
    return -(ratio ** 2) / (2 * (WIDE if ratio > 0 else NARROW) ** 2)


def _best_split(model: nn.Module, region: Region, typical: float, angle: float,
                threshold: float, depth: int = 0) -> list[tuple[Region, np.ndarray]]:
    """``region`` as one digit or cut into several, whichever reading is likeliest: how surely
    the model reads each piece as a digit, how usual each piece's width is for this line and
    how little ink each cut goes through. A region the model reads
    as *two digits* is always cut, and so is a piece, again (up to three times)."""
    whole = _model_input(region, angle, threshold)
    read = classify(model, to_model_input(whole))[0]
    two = wins(read.tolist(), TWO_DIGITS)
    wide = region.width > 1.6 * typical
    if not wide and not two and (float(read[:10].max()) >= KEEP_WHOLE
                                 or wins(read.tolist(), NOT_A_DIGIT)):
        return [(region, whole)]  # a digit read surely, or not a digit at all: not cut
    cuts = candidate_cuts(region, typical, must_cut=two and depth < 3)
    options = [split(region, c, threshold) for c in cuts]
    options = [parts for parts, c in zip(options, cuts, strict=True) if len(parts) == len(c) + 1]
    if not options:
        return [(region, whole)]
    pixels = [[_model_input(part, angle, threshold) for part in parts] for parts in options]
    read_parts = classify(model, torch.cat([to_model_input(p) for option in pixels
                                            for p in option]))
    confidence = read_parts[:, :10].max(dim=1).values.tolist()  # how surely each is a digit
    profile = region.ink.sum(axis=0) / max(float(region.ink.sum(axis=0).max()), 1e-9)
    best, best_score, best_start, start = 0, -math.inf, 0, 0
    for i, parts in enumerate(options):
        sure = confidence[start: start + len(parts)]
        score = float(np.mean([math.log(max(c, 1e-6)) + _width_prior(p.width, typical)
                               for c, p in zip(sure, parts, strict=True)]))
        score -= sum(INK_PENALTY * profile[p.x - region.x] for p in parts[1:])  # ink cut
        if score > best_score:
            best, best_score, best_start = i, score, start
        start += len(parts)
    chosen = []
    for k, (part, part_pixels) in enumerate(zip(options[best], pixels[best], strict=True)):
        if (len(options[best]) > 1 and depth < 3
                and wins(read_parts[best_start + k].tolist(), TWO_DIGITS)):
            chosen += _best_split(model, part, typical, angle, threshold, depth + 1)
        else:
            chosen.append((part, part_pixels))
    return chosen


def read_number(model: nn.Module, image: Image.Image | np.ndarray, path: str = "",
                refusal: Refusal | None = None) -> NumberReading:
    """Find the digits of the number in ``image`` and read them, left to right."""
    original = image.size if isinstance(image, Image.Image) else image.shape[::-1]
    reading = NumberReading(path=path)
    try:
        found = find_ink(image, work_size=WORK_SIZE)
    except NoInkError:
        return reading  # a blank page: no number
    groups = stroke_groups(found.ink, found.threshold)
    if not groups:
        return reading
    angle, typical = _line_angle(groups), typical_width(groups)
    pieces = [piece for group in groups
              for piece in _best_split(model, group, typical, angle, found.threshold)]
    if not pieces:
        return reading
    probabilities = classify(model, torch.cat([to_model_input(p) for _, p in pieces])).tolist()
    decisions = [decide(probs, refusal) for probs in probabilities]
    refused = sum(digit is None for digit, _ in decisions)
    if refused > MOSTLY_REFUSED * len(decisions):  # a word with a letter or two like digits
        decisions = [(None, reason or "not a digit (most of this line is not digits)")
                     for _, reason in decisions]
    in_line = _in_a_line_of_digits([region for region, _ in pieces], decisions)
    scale = max(original) / max(found.ink.shape)
    for (region, pixels), probs, (digit, reason), in_context in zip(
            pieces, probabilities, decisions, in_line, strict=True):
        if digit is None and in_context:  # a lone stroke may be an "l"; between digits, a 1
            digit, reason = int(np.argmax(probs[:10])), None
        box = tuple(int(round(v * scale)) for v in (region.x, region.y, region.width,
                                                   region.height))
        result = DigitReading(box=box, digit=digit, probabilities=probs[:10], pixels=pixels,
                              reason=reason)
        (reading.digits if digit is not None else reading.refused).append(result)
    return reading


#: When more than this share of the regions of a line are refused, none of it is read as a
#: number: a word in which a letter or two look like digits is still not a number.
MOSTLY_REFUSED = 1 / 3

#: A region refused on its own is read as a digit when at least this many other regions of the
#: line are digits and it is at least ``CONTEXT_HEIGHT`` of their median height.
CONTEXT_DIGITS, CONTEXT_HEIGHT = 2, 0.7


def _in_a_line_of_digits(regions: list[Region],
                         decisions: list[tuple[int | None, str | None]]) -> list[bool]:
    """Which regions stand in a line of digits and are as tall as them: there, a shape the
    model would refuse alone (a bare stroke, a 1 or an l) is read as its likeliest digit,
    while a dash or a speck, lower than the digits, is still left out."""
    heights = [r.height for r, (digit, _) in zip(regions, decisions, strict=True)
               if digit is not None]
    if len(heights) < CONTEXT_DIGITS:
        return [False] * len(regions)
    tall = CONTEXT_HEIGHT * float(np.median(heights))
    return [r.height >= tall for r in regions]
