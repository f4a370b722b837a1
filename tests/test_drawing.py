"""The shared maker of ink-on-paper pictures: light, ink and the 8-bit picture."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_helpers.drawing import (
    absorbed,
    arc,
    crop_to_ink,
    darkened,
    lighting,
    mnist_ink,
    to_picture,
)


def test_light_falls_off_from_the_top_left_corner_by_the_tilt():
    light = lighting((50, 100), 0.9, 0.2, (1.0, 0.5))
    assert light[0, 0] == pytest.approx(0.9)
    assert light[0, 99] == pytest.approx(0.9 - 0.2 * 0.99)  # one page width to the right
    assert light[49, 0] == pytest.approx(0.9 - 0.2 * 0.5 * 0.49)
    assert np.all(np.diff(light, axis=1) < 0) and np.all(np.diff(light, axis=0) < 0)


def test_absorbing_ink_is_darker_where_the_page_is_darker_but_darkened_ink_is_not():
    light = np.array([0.9, 0.5])
    full = np.ones(2)
    assert absorbed(light, full, 0.8) == pytest.approx([0.18, 0.1])
    assert darkened(light, full, 0.2) == pytest.approx([0.2, 0.2])
    assert darkened(light, np.zeros(2), 0.2) == pytest.approx(light)  # bare paper stays


def test_ink_is_cropped_to_what_is_above_the_level():
    ink = np.zeros((10, 12))
    ink[3:6, 4:9] = 1.0
    ink[0, 0] = 0.05  # a faint speck below the level
    assert crop_to_ink(ink).shape == (3, 5)
    pixels = (ink * 255).astype(np.uint8)
    assert mnist_ink(pixels).max() == 1.0 and mnist_ink(pixels).shape == (3, 5)


def test_an_arc_runs_from_start_to_end_with_y_downwards():
    points = arc(0.5, 0.5, 0.2, 0.1, 0, 90, 3)
    assert points[0] == pytest.approx((0.7, 0.5)) and points[-1] == pytest.approx((0.5, 0.6))


def test_a_picture_is_8_bit_grey_clipped_and_blurred_only_when_asked():
    values = np.array([[-0.5, 0.0, 0.5, 1.0, 2.0]] * 5)
    sharp = np.asarray(to_picture(values))
    assert sharp.dtype == np.uint8 and sharp[0].tolist() == [0, 0, 127, 255, 255]
    blurred = np.asarray(to_picture(values, blur=1.0))
    assert blurred[2, 1] > sharp[2, 1] and blurred[2, 3] < sharp[2, 3]
