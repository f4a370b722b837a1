"""Notebook 07b's exercise checks: a right answer passes; the usual wrong answers fail, each with
the hint that leads to the fix."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from mnist_helpers.exercises.ch07 import check_mean_score, check_stroke_boxes, package_boxes
from mnist_helpers.exercises.ch07 import mean_score as reference_mean_score
from mnist_helpers.number_reading import INK_PENALTY, _width_prior, reading_score


def passed(capsys) -> None:
    out = capsys.readouterr().out
    assert out.startswith("✓") and "hint" not in out, out


def failed_with(capsys, hint: str) -> None:
    out = capsys.readouterr().out
    assert out.startswith("✗"), out
    assert hint in out, out


def not_written(*_args):
    raise NotImplementedError


# --- boxes of the connected strokes ---------------------------------------------------------


def stroke_boxes(mask):
    labels, _count = ndimage.label(mask, structure=np.ones((3, 3)))
    return sorted((cols.start, rows.start, cols.stop, rows.stop)
                  for rows, cols in ndimage.find_objects(labels))


def test_the_package_finds_a_diagonal_stroke_as_one():
    mask = np.zeros((6, 6), dtype=bool)
    mask[np.arange(5), np.arange(5)] = True
    assert package_boxes(mask) == [(0, 0, 5, 5)]


def test_right_stroke_boxes_pass(capsys):
    assert check_stroke_boxes(stroke_boxes) is True
    passed(capsys)


def four_connected(mask):
    labels, _count = ndimage.label(mask)
    return sorted((c.start, r.start, c.stop, r.stop) for r, c in ndimage.find_objects(labels))


def rows_first(mask):
    return sorted((r.start, c.start, r.stop, c.stop)
                  for r, c in ndimage.find_objects(ndimage.label(mask, np.ones((3, 3)))[0]))


def inclusive(mask):
    return [(x0, y0, x1 - 1, y1 - 1) for x0, y0, x1, y1 in stroke_boxes(mask)]


def unsorted(mask):
    return list(reversed(stroke_boxes(mask)))


@pytest.mark.parametrize("wrong, hint", [
    (four_connected, "touch at a corner"),
    (rows_first, "the column first"),
    (inclusive, "one past the last pixel"),
    (unsorted, "left to right"),
    (lambda mask: stroke_boxes(mask)[:1], "strokes, not"),
    (lambda mask: None, "a list of boxes"),
    (lambda mask: mask[100, 100], "raised IndexError"),
    (not_written, "not written yet"),
])
def test_wrong_stroke_boxes_fail_with_their_hint(wrong, hint, capsys):
    assert check_stroke_boxes(wrong) is False
    failed_with(capsys, hint)


# --- the mean score of a way of cutting ---------------------------------------------------


def mean_score(confidences, widths, typical, cut_inks):
    return (math.log(sum(confidences) / len(confidences))
            + sum(_width_prior(w, typical) for w in widths) / len(widths)
            - INK_PENALTY * sum(cut_inks))


def test_the_mean_score_of_one_piece_is_the_package_score():
    assert reference_mean_score([0.5], [52.0], 40.0, []) == pytest.approx(
        reading_score([0.5], [52.0], 40.0, []))


def test_a_right_mean_score_passes_and_shows_the_8_it_cuts(capsys):
    assert check_mean_score(mean_score) is True
    out = capsys.readouterr().out
    assert out.startswith("✓") and "hint" not in out, out
    mine, package = out.splitlines()[2:4]
    assert "your mean" in mine and mine.endswith("cuts the 8 in two"), out
    assert "product" in package and package.endswith("keeps the 8 whole"), out


def mean_of_logs(c, w, t, k):
    return (sum(math.log(x) for x in c) / len(c) + sum(_width_prior(y, t) for y in w) / len(w)
            - INK_PENALTY * sum(k))


@pytest.mark.parametrize("wrong, hint", [
    (reading_score, "that is reading_score"),
    (mean_of_logs, "not the mean of their logs"),
    (lambda c, w, t, k: mean_score(c, w, t, k) - math.log(sum(c) / len(c)) + sum(c) / len(c),
     "take the log of the mean"),
    (lambda c, w, t, k: mean_score(c, w, t, k) + sum(_width_prior(y, t) for y in w)
     * (1 - 1 / len(w)), "not their sum"),
    (lambda c, w, t, k: math.log(sum(c) / len(c)) - INK_PENALTY * sum(k), "add the mean"),
    (lambda c, w, t, k: mean_score(c, w, t, k) + INK_PENALTY * sum(k), "take off INK_PENALTY"),
    (lambda c, w, t, k: mean_score(c, w, t, k) + INK_PENALTY * (sum(k) - sum(k) / max(len(k), 1)),
     "summed, not averaged"),
    (lambda c, w, t, k: mean_score(c, w, t, k) + 1.0, "log(mean of the confidences)"),
    (lambda c, w, t, k: [mean_score(c, w, t, k)] * 2, "one number"),
    (lambda c, w, t, k: c[5], "raised IndexError"),
    (not_written, "not written yet"),
])
def test_a_wrong_mean_score_fails_with_its_hint(wrong, hint, capsys):
    assert check_mean_score(wrong) is False
    failed_with(capsys, hint)
