"""Checks for notebook 07's exercises: the boxes of the connected strokes of a picture, and
the score of one way of cutting a group of touching digits.

Each check runs what the learner wrote on inputs it makes itself (seeded, so every run asks
the same) and compares the answer with the package's own code (:mod:`mnist_helpers.digit_line`
and :mod:`mnist_helpers.number_reading`), never with a number typed in here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from ..digit_line import _components
from ..number_reading import INK_PENALTY, _width_prior, reading_score
from . import close, number, raised, verdict

BOXES = "boxes of the connected strokes"
SCORE = "score of a way of cutting"

Box = tuple[int, int, int, int]


def _masks() -> list[np.ndarray]:
    """Test pictures of ink (True) on paper: a stroke that runs diagonally (its pixels touch
    only at corners) beside a blob, seeded random blobs, and a blank page."""
    diagonal = np.zeros((12, 20), dtype=bool)
    diagonal[np.arange(2, 10), np.arange(10, 18)] = True  # touches only corner to corner
    diagonal[3:8, 1:5] = True
    blobs = ndimage.gaussian_filter(np.random.default_rng(7).uniform(size=(40, 90)), 2) > 0.53
    return [diagonal, blobs, np.zeros((8, 8), dtype=bool)]


def package_boxes(mask: np.ndarray) -> list[Box]:
    """The package's answer: the box (x0, y0, x1, y1; the ends one past the last pixel) of each
    8-connected stroke of ``mask``, as :mod:`mnist_helpers.digit_line` finds them, left to
    right (top to bottom where two start in the same column)."""
    _labels, groups = _components(mask)
    return sorted((g.x0, g.y0, g.x1, g.y1) for g in groups)


def _as_boxes(answer: object) -> list[Box] | None:
    """The answer as a list of four-int tuples, or None if it is not one."""
    if not isinstance(answer, list | tuple):
        return None
    boxes: list[Box] = []
    for box in answer:
        try:
            x0, y0, x1, y1 = (int(v) for v in box)
        except (TypeError, ValueError):  # not four numbers
            return None
        boxes.append((x0, y0, x1, y1))
    return boxes


def _boxes_hint(answer: list[Box], expected: list[Box], mask: np.ndarray) -> str:
    """What is wrong with ``answer``, the boxes given for ``mask``."""
    four = ndimage.label(mask)[0]  # scipy's default: only the 4 side neighbours touch
    if sorted(answer) == expected:
        return "sort the boxes left to right (by x0, then y0)"
    if answer == sorted((s[1].start, s[0].start, s[1].stop, s[0].stop)
                        for s in ndimage.find_objects(four)):
        return ("a stroke that runs diagonally fell apart: pixels that touch at a corner are "
                "connected too (structure=np.ones((3, 3)) in ndimage.label)")
    if sorted(answer) == sorted((y0, x0, y1, x1) for x0, y0, x1, y1 in expected):
        return "give (x0, y0, x1, y1): the column first (find_objects gives (rows, columns))"
    if sorted(answer) == sorted((x0, y0, x1 - 1, y1 - 1) for x0, y0, x1, y1 in expected):
        return "x1 and y1 are one past the last pixel, as a slice's stop is"
    if len(answer) != len(expected):
        return (f"{len(expected)} strokes, not {len(answer)}: label the ink with "
                "ndimage.label(mask, structure=np.ones((3, 3)))")
    return ("each box is (slice.start, ...) of the stroke's slices from ndimage.find_objects: "
            "(columns.start, rows.start, columns.stop, rows.stop)")


def check_stroke_boxes(stroke_boxes: Callable[[np.ndarray], object]) -> bool:
    """Right if ``stroke_boxes(mask)`` gives the box (x0, y0, x1, y1) of every connected
    stroke of the boolean picture ``mask`` (pixels touching at a side or a corner are one
    stroke), left to right, as the package's :func:`package_boxes` does, on three pictures."""
    for mask in _masks():
        expected = package_boxes(mask)
        try:
            answer = _as_boxes(stroke_boxes(mask.copy()))
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, BOXES, raised(error, "your function"))
        if answer is None:
            return verdict(False, BOXES, "return a list of boxes, each four whole numbers "
                           "(x0, y0, x1, y1)")
        if answer != expected:
            return verdict(False, BOXES, _boxes_hint(answer, expected, mask)
                           + f" (on a {mask.shape[1]}×{mask.shape[0]} picture: expected "
                           f"{expected[:3]}{'...' if len(expected) > 3 else ''})")
    return verdict(True, BOXES, "")


def package_score(confidences: list[float], widths: list[float], typical: float,
                  cut_inks: list[float]) -> float:
    """The score the number reader gives one way of reading a group (its own function)."""
    return float(reading_score(confidences, widths, typical, cut_inks))


def _readings() -> list[tuple[list[float], list[float], float, list[float]]]:
    """Test readings (confidences, widths, typical width, cut inks): a group read whole, cut
    in two and in three, with seeded values."""
    rng = np.random.default_rng(70)
    cases: list[tuple[list[float], list[float], float, list[float]]] = [
        ([0.86], [52.0], 40.0, [])]
    for pieces in (2, 3, 2):
        cases.append(([float(c) for c in rng.uniform(0.3, 0.99, pieces)],
                      [float(w) for w in rng.uniform(10, 70, pieces)], 40.0,
                      [float(k) for k in rng.uniform(0.05, 0.9, pieces - 1)]))
    return cases


def _score_hint(answer: float, case: tuple[list[float], list[float], float, list[float]]
                ) -> str:
    """What is wrong with the score ``answer`` for ``case``."""
    confidences, widths, typical, inks = case
    logs = [math.log(c) for c in confidences]
    priors = [_width_prior(w, typical) for w in widths]
    right = package_score(*case)
    if close(answer, sum(logs) / len(logs) + sum(priors) / len(priors)
             - INK_PENALTY * sum(inks)) or close(answer, math.prod(confidences)):
        return ("add the logs of the pieces' confidences (a product of probabilities), not "
                "their mean: every cut must pay for itself")
    if close(answer, right - sum(priors)):
        return "add each piece's width prior, _width_prior(width, typical)"
    if close(answer, right + INK_PENALTY * sum(inks)):
        return "take off INK_PENALTY times the ink at each cut"
    if close(answer, right + INK_PENALTY * sum(inks) - sum(inks)):
        return "each cut's ink costs INK_PENALTY times its ink, not the ink itself"
    if close(answer, right + 2 * INK_PENALTY * sum(inks)):
        return "the ink at a cut lowers the score: subtract it"
    return ("the score is the sum over the pieces of log(confidence) + _width_prior(width, "
            "typical), minus INK_PENALTY times the sum of the cuts' inks")


def check_reading_score(reading_score: Callable[..., object]) -> bool:
    """Right if ``reading_score(confidences, widths, typical, cut_inks)`` gives the score the
    number reader gives that way of reading a group (:func:`package_score`), on a group read
    whole, cut in two and cut in three."""
    for case in _readings():
        try:
            answer = number(reading_score(*[list(v) if isinstance(v, list) else v
                                            for v in case]))
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, SCORE, raised(error, "your function"))
        if answer is None:
            return verdict(False, SCORE, "return one number, the score")
        if not close(answer, package_score(*case)):
            return verdict(False, SCORE, f"{_score_hint(answer, case)} (for confidences "
                           f"{[round(c, 3) for c in case[0]]}, widths "
                           f"{[round(w, 1) for w in case[1]]}, typical {case[2]:g}, cut inks "
                           f"{[round(k, 3) for k in case[3]]}: expected about "
                           f"{package_score(*case):.3f}, you gave {answer:.3f})")
    return verdict(True, SCORE, "")
