"""Notebook 09's exercise check: a right rotate_strokes passes; the typical wrong ones fail,
each with the hint that leads to the fix."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from PIL import Image

from mnist_helpers.exercises import NOT_WRITTEN
from mnist_helpers.exercises.ch09 import ANGLES, FOUR, ROTATE, check_rotate_strokes, turned
from mnist_helpers.images import rasterize_strokes


def passed(capsys) -> None:
    assert capsys.readouterr().out == f"✓ {ROTATE}\n"


def failed_with(capsys, hint: str) -> None:
    out = capsys.readouterr().out
    assert out.startswith(f"✗ {ROTATE}\n  hint: "), out
    assert hint in out, out


def rotate(strokes, degrees, centre=(140, 140), sign=1.0, angle=math.radians):
    """The solutions' formula; ``sign`` -1 turns clockwise, ``angle`` converts the degrees."""
    theta = sign * angle(degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    cx, cy = centre
    return [[[cx + (x - cx) * cos + (y - cy) * sin, cy - (x - cx) * sin + (y - cy) * cos]
             for x, y in stroke] for stroke in strokes]


# --- the reference itself, against PIL's rotation of the drawn picture ----------------------


def ink(picture: np.ndarray) -> np.ndarray:
    return picture < 0.5


@pytest.mark.parametrize("degrees", ANGLES)
def test_the_reference_turns_as_pil_turns_the_drawing(degrees):
    """The points the check expects, drawn, cover PIL's turned drawing of the 4 (anticlockwise
    on the screen), and the clockwise turn does not: the sign convention is PIL's."""
    drawn = Image.fromarray(np.uint8(255 * rasterize_strokes(FOUR)))
    pils = ink(np.asarray(drawn.rotate(degrees, resample=Image.Resampling.BILINEAR,
                                       fillcolor=255)) / 255)

    def overlap(strokes) -> float:
        ours = ink(rasterize_strokes([s.tolist() for s in strokes]))
        return float((ours & pils).sum() / (ours | pils).sum())

    assert overlap(turned(FOUR, degrees)) > 0.8
    assert overlap(turned(FOUR, -degrees)) < 0.3


def test_the_reference_is_the_solutions_formula():
    for degrees in ANGLES:
        for ours, theirs in zip(turned(FOUR, degrees), rotate(FOUR, degrees), strict=True):
            np.testing.assert_allclose(ours, theirs, atol=1e-9)


# --- right answers ---------------------------------------------------------------------------


def with_numpy(strokes, degrees):
    theta = np.radians(degrees)
    matrix = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    centre = np.array([140, 140])
    # y down: flip y, turn, flip back
    flip = np.array([1, -1])
    return [((np.asarray(s) - centre) * flip @ matrix.T) * flip + centre for s in strokes]


def rounded(strokes, degrees):
    return [[(round(x), round(y)) for x, y in s] for s in rotate(strokes, degrees)]


def in_place(strokes, degrees):
    for stroke, new in zip(strokes, rotate(strokes, degrees), strict=True):
        stroke[:] = new
    return strokes


@pytest.mark.parametrize("answer", [rotate, with_numpy, rounded, in_place])
def test_a_right_rotate_strokes_passes(answer, capsys):
    assert check_rotate_strokes(answer) is True
    passed(capsys)


def test_a_function_that_turns_in_place_leaves_four_as_it_was(capsys):
    before = copy.deepcopy(FOUR)
    check_rotate_strokes(in_place)
    assert before == FOUR
    passed(capsys)


# --- typical wrong answers --------------------------------------------------------------------


def not_written(strokes, degrees):
    raise NotImplementedError


def fails(strokes, degrees):
    return [[x, y] for stroke in strokes for x, y in stroke][100]


def one_sign_wrong(strokes, degrees):
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return [[[140 + (x - 140) * cos - (y - 140) * sin, 140 - (x - 140) * sin + (y - 140) * cos]
             for x, y in stroke] for stroke in strokes]


@pytest.mark.parametrize("wrong, hint", [
    (not_written, NOT_WRITTEN),
    (lambda strokes, degrees: strokes, "came back unturned"),
    (lambda strokes, degrees: rotate(strokes, degrees, sign=-1), "turned clockwise"),
    (lambda strokes, degrees: rotate(strokes, degrees, angle=float), "math.radians(degrees)"),
    (lambda strokes, degrees: rotate(strokes, degrees, angle=lambda d: -d),
     "math.radians(degrees)"),
    (lambda strokes, degrees: rotate(strokes, degrees, centre=(0, 0)), "about (0, 0), not"),
    (lambda strokes, degrees: rotate(strokes, degrees, centre=(14, 14)), "about (14, 14), not"),
    (lambda strokes, degrees: rotate(strokes, degrees, centre=np.concatenate(strokes).mean(0)),
     "about (152, 134), not"),
    (one_sign_wrong, "should go to about"),
    (lambda strokes, degrees: None, "it returned None"),
    (lambda strokes, degrees: [p for s in rotate(strokes, degrees) for p in s],
     "it returned a list of 5"),
    (lambda strokes, degrees: [np.asarray(s).T for s in rotate(strokes, degrees)],
     "has the shape (2, 3), not (3, 2)"),
    (lambda strokes, degrees: [[str(p) for p in s] for s in strokes], "pairs of numbers"),
    (lambda strokes, degrees: 1.0, "it returned a float"),
    (lambda strokes, degrees: np.array(1.0), "it returned an array of shape ()"),
    (fails, "your function raised IndexError: list index out of range"),
    (lambda strokes: strokes, "your function raised TypeError"),
])
def test_a_wrong_rotate_strokes_fails_with_its_hint(wrong, hint, capsys):
    assert check_rotate_strokes(wrong) is False
    failed_with(capsys, hint)


def test_the_hint_says_at_which_angle(capsys):
    def right_but_quarter_turns(strokes, degrees):
        return strokes if degrees == 90 else rotate(strokes, degrees)

    assert check_rotate_strokes(right_but_quarter_turns) is False
    failed_with(capsys, "at 90°: the strokes came back unturned")
