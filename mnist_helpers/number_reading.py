"""Reading a whole number — one line of handwritten digits — from one image.

The steps of :func:`read_number`:

1. :func:`find_ink` (from preprocessing) makes the ink white on black and removes the paper;
2. :func:`~mnist_helpers.digit_line.find_line` finds the line of writing in the ink: the
   groups of strokes to read as digits, with specks, rules, underlines and pages of dots or
   noise left out, and the signs and separators sorted out (see :mod:`mnist_helpers.digit_line`);
3. a group may hold several digits that touch: :func:`candidate_cuts` proposes where to cut it,
   and the model reads every way of cutting; the reading :func:`reading_score` scores highest
   wins, not cutting included (a group the model reads as "two digits" is always cut);
   what this step did with each group is kept in :attr:`NumberReading.groups`;
4. every piece, left to right, is prepared like a single digit (cropped, fitted into 20×20,
   centred in 28×28) and classified; a line that is mostly refused is not a number at all. A
   piece refused as "not a digit" is left out, unless at least ``CONTEXT_DIGITS`` pieces were
   accepted and it is at least ``CONTEXT_HEIGHT`` of their median height: then it is read as
   its likeliest digit, wherever it stands in the line.

Signs, separators and decimal points are never dropped in silence, since "-42", "3.14" and
"1,000,000" read without them are other numbers:

* a minus sign before the first digit is read: ``"-42"``;
* a small mark sitting low before or between the digits may be a decimal point or a
  separator. A full stop and a comma are hard to tell apart in handwriting and mean opposite
  things in different countries (1,5 and 1.5; 1.000 and 1,000), so such a number is refused
  (``number`` is None, ``reason`` says why; the digits read are still listed). A mark after
  the last digit (the full stop of "42.") changes nothing and is left out;
* an underline that does not touch the digits is left out: an underlined 2024 reads 2024.

Whenever ``number`` is None, :attr:`NumberReading.reason` says why.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from .config import DIGIT_OUTPUTS, NOT_A_DIGIT, TWO_DIGITS
from .digit_line import SMALL, Region, find_line, typical_width
from .errors import NoInkError
from .evaluate import class_probabilities
from .images import ImageLike, as_image
from .predict import Refusal, check_arguments, decide, is_top_class
from .preprocess import find_ink, to_mnist_pixels, to_model_input

#: Images are shrunk to at most this many pixels a side before the digits are found.
WORK_SIZE = 640


#: When more than this share of the regions of a line are refused, none of it is read as a
#: number: a word in which a letter or two look like digits is still not a number. Small
#: marks (less tall and less wide than half the digits' height: a speck, a bit of a rule at
#: the picture's edge) are not counted either way: they say nothing about the line.
MOSTLY_REFUSED = 1 / 3

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
class GroupReading:
    """What the cut step did with one group of touching strokes."""

    box: tuple[int, int, int, int]  # x, y, width, height, in the image's own pixels
    width: float  # in the line's typical widths (digit_line.typical_width)
    probabilities: list[float]  # the model's outputs for the group read whole, every class
    searched: bool  # whether the cut search ran (False: kept whole without trying cuts)
    pieces: list[tuple[int, int, int, int]]  # the boxes of what it became, left to right


@dataclass
class NumberReading:
    """The number read in one image: its digits left to right, what was left out, and what
    the cut step did with each group of strokes."""

    path: str
    digits: list[DigitReading] = field(default_factory=list)
    refused: list[DigitReading] = field(default_factory=list)
    groups: list[GroupReading] = field(default_factory=list)
    sign: str = ""  # "-" when a minus sign stands before the first digit
    reason: str | None = None  # why there is no number (set whenever ``number`` is None)

    @property
    def number(self) -> str | None:
        """The sign and the digits as a string (leading zeros kept), or None when there is
        no number (``reason`` says why)."""
        if self.reason is not None or not self.digits:
            return None
        return self.sign + "".join(str(d.digit) for d in self.digits)

    def to_json(self) -> dict:
        """``{"path", "number", "reason", "digits": [...]}``, as ``predict --number --json``
        prints it (``reason`` is null when a number was read)."""
        return {"path": self.path, "number": self.number, "reason": self.reason,
                "digits": [d.to_json() for d in self.digits]}


def split(region: Region, cuts: Sequence[int], threshold: float) -> list[Region]:
    """``region`` cut side by side at the columns ``cuts``, each piece trimmed to its ink above
    and below (its sides are where the cuts fall, so its width is the columns between them)."""
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
    pieces as its width allows (two, or three when it is twice the typical width), at columns
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


def _line_angle(regions: list[Region], height: float) -> float:
    """The slope of the line of digits, in degrees: a least-squares line through the centres
    of the groups at least half as tall as the digits (``height``), weighted by their ink:
    counted, a speck or a dash far from the digits would tilt it."""
    tall = [r for r in regions if r.height >= SMALL * height]
    x = np.array([r.x + r.width / 2 for r in tall])
    y = np.array([r.y + r.height / 2 for r in tall])
    if len(tall) < 2 or np.ptp(x) <= np.ptp(y):
        return 0.0  # groups more above one another than side by side make no line
    weights = np.array([r.ink.sum() for r in tall])
    slope = np.polyfit(x, y, 1, w=np.sqrt(weights))[0]
    return math.degrees(math.atan(slope))


def _model_input(region: Region, angle: float, threshold: float) -> np.ndarray:
    """A region as the model takes a digit: turned upright along the line when it slopes by
    more than 5° (``angle`` degrees; a smaller slope is left alone), cropped, fitted into
    20×20 and centred in 28×28."""
    crop = region.ink
    if abs(angle) > 5:
        crop = ndimage.rotate(crop, angle, reshape=True, order=1)
        rows, cols = np.nonzero(crop > threshold)
        if rows.size:
            crop = crop[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    return to_mnist_pixels(crop)


# How a region is cut. These values were set by hand when the number reader was written,
# looking at generated numbers, and were not fitted; to tune them, measure on the benchmark's
# validation draw (python benchmarks/numbers_and_nondigits.py --seed 100), never on the
# pictures reported.
#: How far a digit's width strays from the line's typical width, as the standard deviation of
#: the log of their ratio: wider than typical (WIDE) is less usual than narrower (NARROW; a 1
#: is narrow).
WIDE, NARROW = 0.55, 1.0
#: What a cut costs for each unit of ink it goes through (its column's ink over the region's
#: fullest column): a cut through a stroke must buy that much more sureness.
INK_PENALTY = 0.5
#: A region the model reads as one digit at least this surely is not cut...
KEEP_WHOLE = 0.9
#: ...unless it is this many times as wide as the line's typical digit.
TOO_WIDE = 1.6
#: A piece read as two digits is cut again, down to this many cuts deep.
MAX_DEPTH = 3


def _width_prior(width: float, typical: float) -> float:
    """How usual a piece ``width`` wide is in this line, on a log scale: the log of a normal
    curve in ln(width / typical), 0 at its peak (the typical width), its half on the narrow
    side wider than the other (a *split normal*, spreads ``NARROW`` and ``WIDE``: a 1 is
    narrow, while a region much wider than a digit is likely two). The curve's normalising
    term, the same for every width (log(2 / (sqrt(2π) (WIDE + NARROW))), about -0.66), is
    left out."""
    ratio = math.log(max(width, 1.0) / typical)
    return -(ratio ** 2) / (2 * (WIDE if ratio > 0 else NARROW) ** 2)


def reading_score(confidences: Sequence[float], widths: Sequence[float], typical: float,
                  cut_inks: Sequence[float]) -> float:
    """How likely one way of reading a group is, on a log-probability scale: for each piece,
    the log of how surely the model reads it as a digit plus its :func:`_width_prior`; less
    ``INK_PENALTY`` for each cut's ink (its column's ink over the group's fullest column).
    The width prior leaves out its normalising term, which would add the same amount (about
    -0.66) once per piece; so this is not an exact log-probability, and a reading with more
    pieces is not charged that amount for each extra piece.
    The likelihood of a reading is the product of its pieces' (a sum of logs), so every cut
    must pay for itself: made-up halves of an 8 read at 93% and 90% (a product of 0.837) do
    not beat the 8 at 85%, though their average (0.915) would."""
    score = sum(math.log(max(c, 1e-6)) + _width_prior(w, typical)
                for c, w in zip(confidences, widths, strict=True))
    return score - sum(INK_PENALTY * ink for ink in cut_inks)


def _best_split(model: nn.Module, region: Region, typical: float, angle: float,
                threshold: float, depth: int = 0, cut: bool = True
                ) -> tuple[list[tuple[Region, np.ndarray]], list[float], bool]:
    """``region`` as one digit or cut into several, whichever reading is likeliest: how surely
    the model reads each piece as a digit, how usual each piece's width is for this line and
    how little ink each cut goes through. A region the model reads
    as *two digits* is always cut, and so is a piece, again (``MAX_DEPTH`` cuts deep).
    Returns the pieces (with what the model sees of each), the model's outputs for the whole
    region and whether the cut search ran; ``cut=False`` never cuts (the cut step skipped)."""
    whole = _model_input(region, angle, threshold)
    read = class_probabilities(model, to_model_input(whole))[0]
    two = is_top_class(read.tolist(), TWO_DIGITS)
    wide = region.width > TOO_WIDE * typical
    if not cut or not wide and not two and (float(read[DIGIT_OUTPUTS].max()) >= KEEP_WHOLE
                                            or is_top_class(read.tolist(), NOT_A_DIGIT)):
        return [(region, whole)], read.tolist(), False  # a sure digit or not a digit: whole
    cuts = candidate_cuts(region, typical, must_cut=two and depth < MAX_DEPTH)
    options = [split(region, c, threshold) for c in cuts]
    options = [parts for parts, c in zip(options, cuts, strict=True) if len(parts) == len(c) + 1]
    if not options:
        return [(region, whole)], read.tolist(), True
    pixels = [[_model_input(part, angle, threshold) for part in parts] for parts in options]
    read_parts = class_probabilities(
        model, torch.cat([to_model_input(p) for option in pixels for p in option]))
    confidence = read_parts[:, DIGIT_OUTPUTS].max(dim=1).values.tolist()  # how surely a digit
    column_ink = region.ink.sum(axis=0) / max(float(region.ink.sum(axis=0).max()), 1e-9)
    best, best_score, best_start, start = 0, -math.inf, 0, 0
    for i, parts in enumerate(options):
        score = reading_score(confidence[start: start + len(parts)], [p.width for p in parts],
                              typical, [column_ink[p.x - region.x] for p in parts[1:]])
        if score > best_score:
            best, best_score, best_start = i, score, start
        start += len(parts)
    chosen = []
    for k, (part, part_pixels) in enumerate(zip(options[best], pixels[best], strict=True)):
        if (len(options[best]) > 1 and depth < MAX_DEPTH
                and is_top_class(read_parts[best_start + k].tolist(), TWO_DIGITS)):
            chosen += _best_split(model, part, typical, angle, threshold, depth + 1)[0]
        else:
            chosen.append((part, part_pixels))
    return chosen, read.tolist(), True


def _decide(probabilities: list[float], region: Region, height: float,
            refusal: Refusal | None) -> tuple[int | None, str | None]:
    """:func:`decide` for one piece of a line whose digits are ``height`` tall: a piece less
    than half as tall is no digit, whatever the model says (a comma, a dash or a speck it
    might take for a 1)."""
    digit, reason = decide(probabilities, refusal)
    if digit is not None and region.height < SMALL * height:
        return None, "not a digit (less than half as tall as the digits of the line)"
    return digit, reason


def _check_arguments(model: object, image: object, path: object, refusal: object) -> None:
    """Raise a TypeError naming the argument of :func:`read_number` that has the wrong type
    (the image's own type is checked when it is converted)."""
    if isinstance(image, str | bytes | os.PathLike):
        raise TypeError("image must be a picture, not a file name: open the file first "
                        "(read_number(model, open_image(path), str(path)))")
    check_arguments(model, path, refusal)


#: The steps :func:`read_number` can be told to skip, to measure what each one buys.
SKIPPABLE = {"upright": "the line's slope is taken as 0°: no piece is turned upright",
             "cuts": "no group of strokes is cut: each is read as one piece",
             "context": "a refused piece stays refused, whatever digits stand beside it"}


def read_number(model: nn.Module, image: ImageLike, path: str = "",
                refusal: Refusal | None = None, *, skip: Sequence[str] = ()) -> NumberReading:
    """Find the digits of the number in ``image`` (a PIL image, or a numpy array or torch
    tensor of grey levels) and read them, left to right; when there is no number, the
    reading's ``reason`` says why. ``path`` only names the image in the result: to read a
    file, open it with :func:`mnist_helpers.images.open_image`. ``skip`` names steps to leave
    out (keys of :data:`SKIPPABLE`), to measure what each buys; a reader never skips any."""
    _check_arguments(model, image, path, refusal)
    unknown = sorted(set(skip) - set(SKIPPABLE))
    if unknown or isinstance(skip, str):
        raise ValueError(f"skip must be a list of step names out of {sorted(SKIPPABLE)}, "
                         f"not {skip!r}")
    image = as_image(image)
    reading = NumberReading(path=path)
    try:
        found = find_ink(image, work_size=WORK_SIZE)
    except NoInkError:
        reading.reason = "no number: no ink found (the image is blank or has too little contrast)"
        return reading
    line = find_line(found.ink, found.threshold)
    reading.sign = line.sign
    if line.problem is not None or not line.regions:
        reading.reason = line.problem or "no number: only marks that are not digits"
        return reading
    angle = 0.0 if "upright" in skip else _line_angle(line.regions, line.height)
    typical = typical_width(line.regions)
    scale = max(image.size) / max(found.ink.shape)  # picture pixels per ink pixel

    def box(region: Region) -> tuple[int, int, int, int]:  # in the picture's own pixels
        x, y, width, height = (int(round(v * scale))
                               for v in (region.x, region.y, region.width, region.height))
        return x, y, width, height

    pieces = []
    for region in line.regions:
        chosen, whole, searched = _best_split(model, region, typical, angle, found.threshold,
                                              cut="cuts" not in skip)
        reading.groups.append(GroupReading(box(region), region.width / typical, whole,
                                           searched, [box(part) for part, _ in chosen]))
        pieces += chosen
    probabilities = class_probabilities(
        model, torch.cat([to_model_input(p) for _, p in pieces])).tolist()
    decisions = [_decide(probs, region, line.height, refusal)
                 for probs, (region, _) in zip(probabilities, pieces, strict=True)]
    counted = [(digit, region) for (digit, _), (region, _) in zip(decisions, pieces, strict=True)
               if max(region.width, region.height) >= SMALL * line.height]
    refused = sum(digit is None for digit, _ in counted)
    if refused > MOSTLY_REFUSED * len(counted):  # a word with a letter or two like digits
        decisions = [(None, reason or "not a digit (over a third of this line is not digits)")
                     for _, reason in decisions]
        reading.reason = (f"no number: over a third of the line is not digits ({refused} of "
                          f"{len(counted)} pieces refused)")
    in_line = _in_a_line_of_digits([region for region, _ in pieces], decisions)
    if "context" in skip:
        in_line = [False] * len(pieces)
    for (region, pixels), probs, (digit, reason), in_context in zip(
            pieces, probabilities, decisions, in_line, strict=True):
        if digit is None and in_context:  # tall beside enough digits, wherever it stands
            digit, reason = int(np.argmax(probs[DIGIT_OUTPUTS])), None
        result = DigitReading(box=box(region), digit=digit,
                              probabilities=probs[DIGIT_OUTPUTS], pixels=pixels, reason=reason)
        (reading.digits if digit is not None else reading.refused).append(result)
    if reading.reason is None and not reading.digits:
        reading.reason = "no number: nothing in the image was read as a digit"
    elif reading.reason is None and _dash_between_digits(reading):
        reading.reason = ("no number: a dash stands between the digits (a range, a date or a "
                          "phone number?); the digits read are listed")
    elif reading.reason is None and line.separators:
        reading.reason = ("no number: a small mark sits low among the digits, a decimal point "
                          "or a separator (1.5 or 1,500?); the digits read are listed")
    return reading


def _dash_between_digits(reading: NumberReading) -> bool:
    """Whether a refused mark wider than tall stands between two digits read, clear of them
    and at mid-height (where a dash is written, not a piece broken off a digit's base):
    leaving it out would silently turn "2-4" into 24."""
    if len(reading.digits) < 2:
        return False
    spans = [(d.box[0], d.box[0] + d.box[2]) for d in reading.digits]
    top = min(d.box[1] for d in reading.digits)
    bottom = max(d.box[1] + d.box[3] for d in reading.digits)

    def is_dash(box: tuple[int, ...]) -> bool:
        x, y, width, height = box
        middle = y + height / 2
        return (width >= height and spans[0][1] <= x and x + width <= spans[-1][0]
                and all(x + width <= a or b <= x for a, b in spans)
                and top + 0.25 * (bottom - top) <= middle <= top + 0.75 * (bottom - top))

    return any(is_dash(r.box) for r in reading.refused)


#: A region refused on its own is read as its likeliest digit when at least this many regions
#: of the line were accepted as digits and it is at least ``CONTEXT_HEIGHT`` of their median
#: height, wherever it stands (there is no test of its place in the line).
CONTEXT_DIGITS, CONTEXT_HEIGHT = 2, 0.7


def _in_a_line_of_digits(regions: list[Region],
                         decisions: list[tuple[int | None, str | None]]) -> list[bool]:
    """Which regions :func:`read_number` reads as their likeliest digit even when refused: all
    those at least ``CONTEXT_HEIGHT`` of the median height of the accepted regions, wherever
    they stand, once at least ``CONTEXT_DIGITS`` regions were accepted; none otherwise. A dash
    or a speck, shorter than that, is still left out."""
    heights = [r.height for r, (digit, _) in zip(regions, decisions, strict=True)
               if digit is not None]
    if len(heights) < CONTEXT_DIGITS:
        return [False] * len(regions)
    tall = CONTEXT_HEIGHT * float(np.median(heights))
    return [r.height >= tall for r in regions]
