"""Checks for notebook 09's exercise: the strokes of a drawing turned anticlockwise about the
centre of the 280×280 canvas.

The check turns the strokes of a 4 with matplotlib's :class:`~matplotlib.transforms.Affine2D`
(never with a formula typed in here) and compares the learner's points with those, point by
point, to within a pixel. ``tests/test_exercises_ch09.py`` checks that these points, drawn,
match PIL's :meth:`~PIL.Image.Image.rotate` of the drawn 4.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.transforms import Affine2D

from . import raised, verdict

ROTATE = "strokes turned anticlockwise about the canvas's centre"

#: The centre of the drawing canvas (280×280 pixels), as (x, y).
CENTRE = (140.0, 140.0)

#: The 4 the check turns (and notebook 09's exercise goes on turning): two strokes of [x, y]
#: points on the canvas, a 4 closed at the top.
FOUR = [[[160, 40], [60, 170], [220, 170]], [[160, 40], [160, 250]]]

#: The angles checked, in degrees: a small turn, a quarter turn and a clockwise one.
ANGLES = (30, 90, -45)

#: How far (in pixels, along x or y) a point may be from the right place: an answer rounded
#: to whole pixels passes; every typical wrong answer is tens of pixels away.
TOLERANCE = 1.0

Strokes = Sequence[Sequence[Sequence[float]]]


def turned(strokes: Strokes, degrees: float, centre: tuple[float, float] = CENTRE
           ) -> list[np.ndarray]:
    """The points of ``strokes`` turned anticlockwise on the screen by ``degrees`` about
    ``centre``, one (points, 2) array a stroke."""
    # Affine2D turns anticlockwise with y pointing up; the canvas's y points down, which
    # mirrors the picture, so anticlockwise on the screen is Affine2D's turn by -degrees.
    turn = Affine2D().rotate_deg_around(*centre, -degrees)
    return [turn.transform(np.asarray(stroke, dtype=np.float64)) for stroke in strokes]


def _describe(answer: object) -> str:
    """What ``answer`` is, in a few words, for a hint."""
    if answer is None:
        return "None"
    if isinstance(answer, np.ndarray):
        return f"an array of shape {answer.shape}"
    if isinstance(answer, list | tuple):
        return f"a {type(answer).__name__} of {len(answer)}"
    return f"a {type(answer).__name__}"


def _as_strokes(answer: object, like: list[np.ndarray]) -> tuple[list[np.ndarray] | None, str]:
    """The answer as one (points, 2) float array a stroke, shaped as ``like``; or None and
    what is wrong with its form."""
    form = (f"return the strokes in the form they came: a list of {len(like)} strokes, each a "
            f"list of [x, y] points ({' and '.join(str(len(s)) for s in like)} points here)")
    rows = list(answer) if isinstance(answer, np.ndarray) and answer.ndim else answer
    if not isinstance(rows, list | tuple) or len(rows) != len(like):
        return None, f"{form}; it returned {_describe(answer)}"
    strokes: list[np.ndarray] = []
    for i, (stroke, expected) in enumerate(zip(rows, like, strict=True)):
        try:
            points = np.asarray(stroke, dtype=np.float64)
        except (TypeError, ValueError):  # ragged, or not numbers
            return None, f"{form}; its stroke {i} is not a list of [x, y] pairs of numbers"
        if points.shape != expected.shape:
            return None, (f"{form}; its stroke {i} has the shape {points.shape}, not "
                          f"{expected.shape} (one [x, y] row a point)")
        strokes.append(points)
    return strokes, ""


def _near(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether every coordinate of ``a`` is within :data:`TOLERANCE` of ``b``'s."""
    return bool(np.all(np.abs(a - b) <= TOLERANCE))


def _rotation_hint(answer: np.ndarray, degrees: float) -> str:
    """What is wrong with ``answer``, all the points of the strokes turned by ``degrees``."""
    stack = np.concatenate
    expected = stack(turned(FOUR, degrees))
    if _near(answer, stack(turned(FOUR, 0))):
        return "the strokes came back unturned: turn every [x, y] point and return the new ones"
    if _near(answer, stack(turned(FOUR, -degrees))):
        return ("turned clockwise: y counts downwards on the canvas, so the formula for y "
                "pointing up turns the other way; change the signs of the two sin terms")
    if any(_near(answer, stack(turned(FOUR, sign * math.degrees(degrees)))) for sign in (1, -1)):
        return ("turned by that many radians: math.cos and math.sin take radians, so convert "
                "with math.radians(degrees) first")
    shift = (answer - expected).mean(axis=0)
    if _near(answer, expected + shift):  # the right turn about another point
        matrix = Affine2D().rotate_deg(-degrees).get_matrix()[:2, :2]
        # turning about c instead of the centre C moves every point by (I - R)(c - C)
        x, y = np.asarray(CENTRE) + np.linalg.solve(np.eye(2) - matrix, shift)
        return (f"turned by the right angle, but about ({x:.0f}, {y:.0f}), not about the "
                "canvas's centre (140, 140): subtract the centre from each point, turn that, "
                "then add the centre back")
    worst = int(np.abs(answer - expected).max(axis=1).argmax())
    points = stack([np.asarray(s, dtype=np.float64) for s in FOUR])
    return (f"the point ({points[worst][0]:g}, {points[worst][1]:g}) should go to about "
            f"({expected[worst][0]:.1f}, {expected[worst][1]:.1f}), not "
            f"({answer[worst][0]:.1f}, {answer[worst][1]:.1f}): take its offset from the "
            "centre, turn it, add the centre back (and y counts downwards)")


def check_rotate_strokes(rotate_strokes: Callable[[Strokes, float], object]) -> bool:
    """Right if ``rotate_strokes(strokes, degrees)`` returns :data:`FOUR`'s strokes turned
    anticlockwise on the screen by ``degrees`` about the canvas's centre (140, 140), as
    :func:`turned` does, at each of :data:`ANGLES`."""
    for degrees in ANGLES:
        expected = turned(FOUR, degrees)
        try:  # a copy: a function that turns the points in place must not change FOUR
            answer = rotate_strokes(copy.deepcopy(FOUR), degrees)
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, ROTATE, raised(error, "your function"))
        strokes, wrong_form = _as_strokes(answer, expected)
        if strokes is None:
            return verdict(False, ROTATE, wrong_form)
        points = np.concatenate(strokes)
        if not _near(points, np.concatenate(expected)):
            return verdict(False, ROTATE, f"at {degrees}°: {_rotation_hint(points, degrees)}")
    return verdict(True, ROTATE, "")
