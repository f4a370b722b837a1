"""Checks for notebook 07b's exercises: the boxes of the connected strokes of a picture, and
a score of one way of cutting a group of touching digits that averages its pieces (to see why
the package's :func:`~mnist_helpers.number_reading.reading_score` multiplies them).

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
MEAN = "the mean score of a way of cutting"

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


def mean_score(confidences: list[float], widths: list[float], typical: float,
               cut_inks: list[float]) -> float:
    """The exercise's answer: :func:`~mnist_helpers.number_reading.reading_score` with each
    sum over the pieces made a mean (the log of the mean confidence, the mean width prior),
    less ``INK_PENALTY`` times the sum of the cuts' inks."""
    priors = [_width_prior(w, typical) for w in widths]
    return (math.log(max(float(np.mean(confidences)), 1e-6)) + float(np.mean(priors))
            - INK_PENALTY * sum(cut_inks))


Reading = tuple[list[float], list[float], float, list[float]]

#: An 8 that the mean cuts in two and the product keeps whole: the whole group read at 85%,
#: 1.3 typical widths wide; its halves read at 93% and 90%, the cut crossing 10% ink.
WIDE_EIGHT: Reading = ([0.85], [52.0], 40.0, [])
EIGHT_HALVES: Reading = ([0.93, 0.90], [26.0, 26.0], 40.0, [0.1])


def _readings() -> list[Reading]:
    """Test readings (confidences, widths, typical width, cut inks): a group read whole, cut
    in two and in three, with seeded values."""
    rng = np.random.default_rng(70)
    cases: list[Reading] = [([0.86], [52.0], 40.0, [])]
    for pieces in (2, 3, 3):
        cases.append(([float(c) for c in rng.uniform(0.3, 0.99, pieces)],
                      [float(w) for w in rng.uniform(10, 70, pieces)], 40.0,
                      [float(k) for k in rng.uniform(0.05, 0.9, pieces - 1)]))
    return cases


def _mean_hint(answer: float, case: Reading) -> str:
    """What is wrong with the mean score ``answer`` for ``case``."""
    confidences, widths, typical, inks = case
    log_mean = math.log(float(np.mean(confidences)))
    priors = [_width_prior(w, typical) for w in widths]
    ink = INK_PENALTY * sum(inks)
    right = mean_score(*case)
    if close(answer, float(reading_score(*case))):
        return ("that is reading_score, the product of the confidences (a sum of logs): take "
                "the log of their mean instead")
    if close(answer, float(np.mean(np.log(confidences))) + float(np.mean(priors)) - ink):
        return "the log of the mean of the confidences, not the mean of their logs"
    if close(answer, float(np.mean(confidences)) + float(np.mean(priors)) - ink):
        return "take the log of the mean confidence: math.log(sum(confidences) / len(confidences))"
    if close(answer, log_mean + sum(priors) - ink):
        return "the mean of the width priors, not their sum"
    if close(answer, log_mean - ink):
        return "add the mean of the width priors, _width_prior(width, typical) of each piece"
    if close(answer, right + ink):
        return "take off INK_PENALTY times the sum of the cuts' inks"
    if inks and close(answer, right + ink - INK_PENALTY * float(np.mean(inks))):
        return "every cut costs: the cuts' inks are summed, not averaged"
    return ("the score is log(mean of the confidences) + the mean of the pieces' "
            "_width_prior(width, typical), minus INK_PENALTY times the sum of the cuts' inks")


def _whole_and_halves(score: Callable[..., object]) -> tuple[float, float]:
    """The scores ``score`` gives the wide 8 read whole and cut into its halves."""
    return tuple(float(number(score(*[list(v) if isinstance(v, list) else v for v in case]))
                       or 0.0) for case in (WIDE_EIGHT, EIGHT_HALVES))  # type: ignore[return-value]


def check_mean_score(mean_score_: Callable[..., object]) -> bool:
    """Right if ``mean_score_(confidences, widths, typical, cut_inks)`` gives
    :func:`mean_score` on a group read whole, cut in two and cut in three; then it shows the
    wide 8 that the mean cuts in two while the package's product keeps it whole."""
    for case in _readings():
        try:
            answer = number(mean_score_(*[list(v) if isinstance(v, list) else v
                                         for v in case]))
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, MEAN, raised(error, "your function"))
        if answer is None:
            return verdict(False, MEAN, "return one number, the score")
        if not close(answer, mean_score(*case)):
            return verdict(False, MEAN, f"{_mean_hint(answer, case)} (for confidences "
                           f"{[round(c, 3) for c in case[0]]}, widths "
                           f"{[round(w, 1) for w in case[1]]}, typical {case[2]:g}, cut inks "
                           f"{[round(k, 3) for k in case[3]]}: expected about "
                           f"{mean_score(*case):.3f}, you gave {answer:.3f})")
    verdict(True, MEAN, "")
    (whole_c, whole_w, typical, _), (halves_c, halves_w, _, inks) = WIDE_EIGHT, EIGHT_HALVES
    print(f"  an 8 {whole_w[0]:g} px wide (digits typically {typical:g} px), read whole at "
          f"{whole_c[0]:.0%}, or cut into halves {halves_w[0]:g} px wide read at "
          f"{halves_c[0]:.0%} and {halves_c[1]:.0%} (the cut crossing {inks[0]:.0%} ink):")
    for name, score in (("your mean", mean_score_), ("the package's product", reading_score)):
        whole, halves = _whole_and_halves(score)
        print(f"  {name:>21}: whole {whole:.3f}, halves {halves:.3f} -> "
              + ("cuts the 8 in two" if halves > whole else "keeps the 8 whole"))
    return True
