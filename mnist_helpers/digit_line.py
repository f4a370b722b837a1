"""Finding the line of writing in one image's ink: the groups of strokes the model must read
as digits, and the marks that are not digits (step 2 of
:func:`mnist_helpers.number_reading.read_number`).

:func:`find_line` labels the connected strokes (connected components) once and measures each:
its box, its ink, its outline and its thickness. The strokes give the size of the line: how
tall its digits are and how wide the pen is. Everything after counts on those sizes, and every
step takes time in proportion to the pixels or the strokes:

* a page of nothing but dots (a dot-grid notebook, dust) has no number, and specks far
  smaller than the pen are dropped;
* a long flat stroke (an underline, a rule) is left out; a rule of the paper thinner than
  the pen is erased where it crosses the digits, while a line drawn with the pen that
  touches them makes the number unreadable (taking it away would take the bottom of a 2
  with it);
* strokes of one digit that lie above one another (the top bar of a 5) are joined into one
  group, in one sweep from left to right;
* more than :data:`MAX_PIECES` groups, or groups that do not stand in one line, are not
  one number: they are refused before the model sees any of them, so a page of noise
  costs less than a long number;
* small marks are told apart by where they sit (signs and separators, below).

Signs, separators and decimal points are never dropped in silence, since "-42", "3.14" and
"1,000,000" read without them are other numbers:

* a short flat bar at mid-height just before the first digit is a minus sign:
  :attr:`Line.sign` is ``"-"``;
* a small mark sitting low before or between the digits may be a decimal point or a
  separator, and is counted in :attr:`Line.separators` (a full stop and a comma are hard to
  tell apart in handwriting and mean opposite things in different countries: 1,5 and 1.5;
  1.000 and 1,000). A mark after the last digit (the full stop of "42.") changes nothing and
  is left out;
* an underline that does not touch the digits is left out: an underlined 2024 reads 2024.

Whenever the ink cannot be one number, :attr:`Line.problem` says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from .paper import opening_along

#: A line of more groups than this is not one number (a page of noise, dots or text): it is
#: refused before the model is asked about any of it.
MAX_PIECES = 30


@dataclass
class Region:
    """A group of strokes, or a piece cut from one: a box in work-size pixels and the ink
    inside it (white on black)."""

    x: int
    y: int
    width: int
    height: int
    ink: np.ndarray  # the region's own ink only (a neighbour reaching into the box is not in it)


@dataclass
class Group:
    """One or more connected strokes that belong together: their box (work-size pixels,
    ends excluded), their labels, and how much ink and how thick a pen they have."""

    x0: int
    y0: int
    x1: int
    y1: int
    ids: list[int]
    area: float  # pixels of ink
    outline: float  # pixels of ink at its edge
    thickness: float  # twice the deepest point inside: a dot is as thick as it is long

    @property
    def width(self) -> int:
        """Columns from the left edge to the right."""
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        """Rows from the top to the bottom."""
        return self.y1 - self.y0

    def join(self, other: Group) -> None:
        """Take ``other``'s strokes into this group."""
        self.x0, self.y0 = min(self.x0, other.x0), min(self.y0, other.y0)
        self.x1, self.y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        self.ids += other.ids
        self.area += other.area
        self.outline += other.outline
        self.thickness = max(self.thickness, other.thickness)


@dataclass
class Line:
    """What one image's ink holds before the model reads it: the regions to read, the marks
    that are not digits, and why it cannot be a number when it cannot."""

    regions: list[Region] = field(default_factory=list)  # left to right
    height: float = 0.0  # how tall its digits are, in work-size pixels
    sign: str = ""  # "-": a minus sign before the first digit
    separators: int = 0  # small marks low before or between the digits
    problem: str | None = None  # why this is not a number at all


#: A stroke is at least this many times as long as the pen is thick; a shorter one is a dot.
ELONGATED = 2.0
#: Marks smaller than this share of the pen's width (or than this share of the largest
#: stroke's area) are specks.
SPECK, SPECK_AREA = 0.6, 0.02
#: Marks less tall and less wide than this share of the digits' height are small marks.
SMALL = 0.5
#: A flat stroke (no taller than this share of its width) at least ``LONG`` digit heights
#: wide is an underline or a rule; one ``TOUCHING`` digit heights long inside the strokes of
#: the digits is an underline that touches them.
FLAT, LONG, TOUCHING = 0.35, 1.3, 2.2
#: A mark whose centre sits below this share of the line's height (0 at its top, 1 at its
#: bottom) sits low, where a full stop or a comma is written (a minus sits higher).
LOW = 0.7
#: Groups whose centre lies further than this many digit heights from the line through the
#: others do not stand in the line of digits.
OFF_LINE = 0.75
#: Joining looks back at this many groups at most, which keeps one sweep linear.
LOOK_BACK = 8

#: A picture with more separate marks, specks included, than this share of its pixels (and
#: more than ten times ``MAX_PIECES``) is texture or noise, not writing: a page of random
#: noise has about one mark per 25 pixels, a dot-grid page about one per 125, a photo of a
#: number a few dozen marks in all.
NOISE_MARKS = 1 / 50

#: When more than this share of the groups stand off the line the others make, the picture is
#: no line of digits at all (scattered marks, noise, a page of text).
MOSTLY_OFF_THE_LINE = 1 / 3


def _components(mask: np.ndarray) -> tuple[np.ndarray, list[Group]]:
    """Connected strokes (pixels touching at a side or a corner): the label image and one
    :class:`Group` each."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return labels, []
    index = np.arange(1, n + 1)
    areas = ndimage.sum_labels(mask, labels, index)
    outlines = ndimage.sum_labels(mask & ~ndimage.binary_erosion(mask), labels, index)
    thickness = 2 * np.asarray(ndimage.maximum(ndimage.distance_transform_edt(mask), labels,
                                               index))
    return labels, [Group(box[1].start, box[0].start, box[1].stop, box[0].stop, [i + 1],
                          float(areas[i]), float(outlines[i]), float(thickness[i]))
                    for i, box in enumerate(ndimage.find_objects(labels))]


def _weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The value below which half of the weight lies."""
    order = np.argsort(values)
    cumulative = np.cumsum(np.asarray(weights, dtype=float)[order])
    return float(np.asarray(values)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _line_size(groups: list[Group]) -> tuple[float, float] | None:
    """How tall the digits of the line are (the median height of its strokes, weighted by
    their ink: a digit outweighs a speck) and how wide its pen is (a stroke's area over half
    its outline, which is twice its length); None when there are no strokes, only dots."""
    strokes = [g for g in groups if max(g.width, g.height) >= ELONGATED * g.thickness]
    if not strokes:
        return None
    height = _weighted_median([g.height for g in strokes], [g.area for g in strokes])
    return height, 2 * sum(g.area for g in strokes) / sum(g.outline for g in strokes)


def _is_rule(group: Group, height: float) -> bool:
    """Whether ``group`` is a long flat stroke (an underline or a rule), not a digit: far
    wider than a digit and less than half as tall."""
    return (group.width >= LONG * height and group.height <= FLAT * group.width
            and group.height < SMALL * height)


def _long_rows(mask: np.ndarray, height: float, pen: float) -> tuple[np.ndarray, np.ndarray]:
    """The ink lying in rows of ink ``TOUCHING`` digit heights long or longer (no digit is
    that wide), as two masks: thinner than half the pen (the paper's rules and edges, which
    the digits may cross) and as thick as the pen (a line drawn with it)."""
    run = max(2, int(TOUCHING * height))
    rows = opening_along(mask, run, axis=1)  # only runs at least ``run`` long
    labels, n = ndimage.label(rows)
    if n == 0:
        return rows, rows
    widths = np.array([box[1].stop - box[1].start for box in ndimage.find_objects(labels)])
    thickness = ndimage.sum_labels(rows, labels, np.arange(1, n + 1)) / widths
    thin = np.isin(labels, np.nonzero(thickness < 0.5 * pen)[0] + 1)
    return thin, rows & ~thin


def _join_stacked(groups: list[Group]) -> list[Group]:
    """Join the strokes of one digit into one group: a stroke joins a group when their extents
    from left to right overlap by more than half the narrower one's width and the gap between
    them, above or below, is at most half the taller one's height (the top bar of a 5, a 4
    written in two strokes). One sweep from left to right, each stroke compared with the last
    few groups only: linear in the number of strokes."""
    joined: list[Group] = []
    for g in sorted(groups, key=lambda g: g.x0):
        for other in reversed(joined[-LOOK_BACK:]):
            overlap = min(g.x1, other.x1) - max(g.x0, other.x0)
            gap = max(g.y0, other.y0) - min(g.y1, other.y1)
            if (overlap > 0.5 * min(g.width, other.width)
                    and gap <= 0.5 * max(g.height, other.height)):
                other.join(g)
                break
        else:
            joined.append(g)
    return joined


def _band(digits: list[Group]) -> tuple[np.ndarray, np.ndarray]:
    """The top and the bottom of the line as straight lines across it (slope, offset),
    fitted through the digits' tops and bottoms (a slanted line has slanted edges)."""
    x = np.array([(g.x0 + g.x1) / 2 for g in digits])
    tops, bottoms = np.array([g.y0 for g in digits]), np.array([g.y1 for g in digits])
    if len(digits) < 2 or np.ptp(x) == 0:
        return np.array([0.0, tops.mean()]), np.array([0.0, bottoms.mean()])
    return np.polyfit(x, tops, 1), np.polyfit(x, bottoms, 1)


def _place(group: Group, band: tuple[np.ndarray, np.ndarray]) -> float:
    """Where the centre of ``group`` sits in the line: 0 at its top, 1 at its bottom."""
    centre = (group.x0 + group.x1) / 2
    top, bottom = (float(np.polyval(edge, centre)) for edge in band)
    return ((group.y0 + group.y1) / 2 - top) / max(bottom - top, 1.0)


def _is_minus(mark: Group, first: Group, band: tuple[np.ndarray, np.ndarray],
              height: float) -> bool:
    """Whether ``mark``, just before the first digit, is a minus sign: a short flat bar at
    mid-height, close to the digit."""
    return (mark.height <= 0.5 * mark.width and mark.width >= 0.25 * height
            and mark.x1 <= first.x0 + 0.2 * first.width and first.x0 - mark.x1 <= height
            and 0.25 <= _place(mark, band) <= 0.8)


def _is_low_point(mark: Group, band: tuple[np.ndarray, np.ndarray], height: float) -> bool:
    """Whether ``mark`` has the size, shape and place of a full stop or a comma: small,
    not a flat dash, sitting low in the line."""
    return (mark.height < SMALL * height and mark.width < SMALL * height
            and mark.height > FLAT * mark.width and LOW <= _place(mark, band) <= 1.5)


def _is_broken_off(mark: Group, digits: list[Group], distance: np.ndarray,
                   labels: np.ndarray, pen: float) -> bool:
    """Whether ``mark`` is a piece broken off a digit (faint ink) rather than a point: it
    reaches into a digit's columns and lies less than a pen's width from its strokes."""
    return (any(min(mark.x1, d.x1) > max(mark.x0, d.x0) for d in digits)
            and min(ndimage.minimum(distance, labels, mark.ids)) < pen)


def _sort_marks(groups: list[Group], labels: np.ndarray, height: float, pen: float,
                line: Line) -> list[Group]:
    """The groups the model must read, left to right. A point (a full stop or a comma)
    before or between the digits is counted in ``line.separators``, and one after them (the
    full stop of "42.") is left out; a minus sign before the first digit is noted in
    ``line.sign``."""
    digits = [g for g in groups if g.height >= SMALL * height]  # as tall as digits
    if not digits:
        return groups  # no line of digits to measure the marks against: the model decides
    band = _band(digits)
    first, last = digits[0], digits[-1]
    distance = None  # from the digits' strokes, found once there is a mark to measure
    read = []
    for g in groups:
        if _is_low_point(g, band, height):
            if distance is None:
                distance = ndimage.distance_transform_edt(
                    ~np.isin(labels, [i for d in digits for i in d.ids]))
            if not _is_broken_off(g, digits, distance, labels, pen):
                if g.x1 <= last.x0 + 0.5 * last.width and first.x0 - g.x1 <= height:
                    line.separators += 1  # ".5", "3.14", "1,000": it may be a decimal point
                continue
        read.append(g)  # a digit, a dash, a piece of a digit...: the model decides
    before = [g for g in read if g.x1 <= first.x0 + 0.2 * first.width]
    if before and _is_minus(before[-1], first, band, height):
        line.sign = "-"
        read.remove(before[-1])
    return read


def _off_the_line(groups: list[Group], height: float) -> int:
    """How many of the groups as tall as digits have their centre more than ``OFF_LINE``
    digit heights away from the line through the others: a robust straight line (Theil and
    Sen's: the median of the slopes between every two groups), which a few strays do not
    pull off the digits."""
    tall = [g for g in groups if g.height >= SMALL * height]
    if len(tall) < 3:
        return 0
    x = np.array([(g.x0 + g.x1) / 2 for g in tall])
    y = np.array([(g.y0 + g.y1) / 2 for g in tall])
    i, j = np.triu_indices(len(tall), 1)
    apart = x[j] != x[i]
    slope = float(np.median((y[j] - y[i])[apart] / (x[j] - x[i])[apart])) if apart.any() else 0.0
    residual = y - slope * x
    return int(np.sum(np.abs(residual - np.median(residual)) > OFF_LINE * height))


def _region(group: Group, labels: np.ndarray, ink: np.ndarray) -> Region:
    """The :class:`Region` of ``group``: its box and only its own strokes' ink."""
    window = (slice(group.y0, group.y1), slice(group.x0, group.x1))
    own = np.where(np.isin(labels[window], group.ids), ink[window], 0.0)
    return Region(x=group.x0, y=group.y0, width=group.width, height=group.height, ink=own)


def find_line(ink: np.ndarray, threshold: float) -> Line:
    """The regions of a white-on-black ink image that the model must read, left to right,
    with the marks that are not digits sorted out (see the module's docstring)."""
    mask = ink > threshold
    labels, groups = _components(mask)
    line = Line()
    size = _line_size(groups)
    if size is None:
        line.problem = (f"no number: only {len(groups)} small dots or specks, no strokes as "
                        "long as a digit's" if groups else "no number: no ink found")
        return line
    if len(groups) > max(10 * MAX_PIECES, NOISE_MARKS * mask.size):
        line.problem = (f"no number: {len(groups)} separate marks; is it a page of noise, "
                        "dots or text?")
        return line
    height, pen = size
    line.height = height
    thin, thick = _long_rows(mask, height, pen)
    if thin.any():  # the paper's rules or edges: erased, and the strokes found again
        mask, ink = mask & ~thin, np.where(thin, 0.0, ink)
        labels, groups = _components(mask)
    biggest = max((g.area for g in groups), default=0.0)
    kept = [g for g in groups
            if g.area >= SPECK_AREA * biggest and max(g.width, g.height) >= SPECK * pen
            and not _is_rule(g, height)]
    groups = _join_stacked(kept)
    if len(groups) > MAX_PIECES:
        line.problem = (f"no number: {len(groups)} separate pieces, too many for one line of "
                        f"digits (at most {MAX_PIECES}); is it a page of noise, dots or text?")
        return line
    off = _off_the_line(groups, height)
    if off > MOSTLY_OFF_THE_LINE * len(groups):
        line.problem = (f"no number: {off} of {len(groups)} pieces do not stand in one line "
                        "with the others; is it a page of noise, dots or text?")
        return line
    if np.isin(labels[thick], [i for g in groups for i in g.ids]).any():
        line.problem = ("no number: a line drawn under or through the digits touches them; "
                        "leave a gap below the digits or crop the line away")
        return line
    line.regions = [_region(g, labels, ink)
                    for g in _sort_marks(groups, labels, height, pen, line)]
    return line


def stroke_groups(ink: np.ndarray, threshold: float) -> list[Region]:
    """The connected strokes of a white-on-black ink image, left to right: specks, rules,
    separators and a minus sign left out, strokes of one digit joined; each region holds only
    its own strokes."""
    return find_line(ink, threshold).regions


def typical_width(groups: list[Region]) -> float:
    """The line's unit of width, its *typical width*: 0.7 of the regions' median height
    (heights vary less than widths, which run from a thin 1 to two digits that touch). It is a
    unit for the cut step's rules, not a measured digit: handwritten digits are often
    narrower."""
    return 0.7 * float(np.median([g.height for g in groups]))
