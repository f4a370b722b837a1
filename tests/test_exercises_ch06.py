"""Notebook 06's exercise checks: a right answer passes, the typical wrong ones fail with the
hint that fits them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from mnist_helpers.exercises.ch06 import (
    centring_images,
    check_centre_by_mass,
    check_otsu_threshold,
    threshold_samples,
)
from mnist_helpers.preprocess import to_mnist_pixels

# --- centring by the centre of mass ----------------------------------------------------------


def centre_by_mass(pixels):
    ys, xs = np.indices(pixels.shape)
    mass = pixels.sum()
    dy = round(14 - (ys * pixels).sum() / mass)
    dx = round(14 - (xs * pixels).sum() / mass)
    return ndimage.shift(pixels, (dy, dx), order=0, mode="constant", cval=0.0)


def centre_by_slicing(pixels):
    """The same with slices into a blank image, returned as a torch tensor."""
    cy, cx = ndimage.center_of_mass(pixels)
    dy, dx = round(14 - cy), round(14 - cx)
    out = np.zeros_like(pixels)
    h, w = pixels.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        pixels[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return torch.from_numpy(out)


@pytest.mark.parametrize("answer", [centre_by_mass, centre_by_slicing])
def test_a_right_centring_passes(answer, capsys):
    assert check_centre_by_mass(answer) is True
    assert capsys.readouterr().out == "✓ centring by the centre of mass\n"


def test_the_test_images_have_no_ties_to_round():
    """Half a pixel from 14 in either axis, two right answers could round differently."""
    for pixels in centring_images():
        for centre in ndimage.center_of_mass(pixels):
            assert abs((14 - centre) % 1 - 0.5) > 0.1


def test_the_package_centres_the_same_way():
    """A crop of exactly 20×20 is not resized: to_mnist_pixels then only pads and centres,
    and its answer is the check's."""
    rng = np.random.default_rng(0)
    crop = np.zeros((20, 20))
    crop[2:18, 1:9] = rng.uniform(0.6, 1.0, (16, 8))
    crop[10:20, 12:15] = 0.7
    canvas = np.zeros((28, 28))
    canvas[4:24, 4:24] = np.asarray(np.clip(crop, 0, 1) * 255, np.uint8) / 255.0
    assert np.allclose(to_mnist_pixels(crop), centre_by_mass(canvas))


def unmoved(pixels):
    return pixels


def rolled(pixels):
    cy, cx = ndimage.center_of_mass(pixels)
    return np.roll(pixels, (round(14 - cy), round(14 - cx)), axis=(0, 1))


def backwards(pixels):
    cy, cx = ndimage.center_of_mass(pixels)
    return ndimage.shift(pixels, (round(cy - 14), round(cx - 14)), order=0, mode="constant")


def swapped(pixels):
    cy, cx = ndimage.center_of_mass(pixels)
    return ndimage.shift(pixels, (round(14 - cx), round(14 - cy)), order=0, mode="constant")


def unweighted(pixels):
    rows, cols = np.nonzero(pixels)
    return ndimage.shift(pixels, (round(14 - rows.mean()), round(14 - cols.mean())), order=0,
                         mode="constant")


def box_centred(pixels):
    rows, cols = np.nonzero(pixels)
    dy = round(14 - (rows.min() + rows.max()) / 2)
    dx = round(14 - (cols.min() + cols.max()) / 2)
    return ndimage.shift(pixels, (dy, dx), order=0, mode="constant")


def interpolated(pixels):
    cy, cx = ndimage.center_of_mass(pixels)
    return ndimage.shift(pixels, (14 - cy, 14 - cx), order=1, mode="constant")


def not_written(pixels):
    raise NotImplementedError


@pytest.mark.parametrize("wrong, hint", [
    (unmoved, "nothing moved"),
    (rolled, "wrapped round"),
    (backwards, "wrong way"),
    (swapped, "swapped"),
    (unweighted, "weigh each pixel by its brightness"),
    (box_centred, "centres the box"),
    (interpolated, "whole pixels"),
    (lambda pixels: pixels[:20, :20], "28×28"),
    (lambda pixels: None, "28×28"),
    (lambda pixels: pixels[40], "raised IndexError"),
    (not_written, "not written yet"),
    (lambda pixels: np.zeros((28, 28)), "np.indices"),
])
def test_a_wrong_centring_fails_with_its_hint(wrong, hint, capsys):
    assert check_centre_by_mass(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ centring by the centre of mass") and hint in out


def test_the_check_does_not_let_the_learner_change_its_images():
    """A function that writes into its argument must not change what the next call gets."""
    def centre_in_place(pixels):
        pixels[:] = centre_by_mass(pixels)
        return pixels
    assert check_centre_by_mass(centre_in_place) is True


# --- Otsu's threshold -----------------------------------------------------------------------


def otsu(values, bins=64):
    levels = np.clip((values * bins).astype(int), 0, bins - 1)
    counts = np.bincount(levels, minlength=bins)
    centres = (np.arange(bins) + 0.5) / bins
    best, best_k = -1.0, 0
    for k in range(bins - 1):
        n0, n1 = counts[: k + 1].sum(), counts[k + 1:].sum()
        if n0 == 0 or n1 == 0:
            continue
        m0 = (counts[: k + 1] * centres[: k + 1]).sum() / n0
        m1 = (counts[k + 1:] * centres[k + 1:]).sum() / n1
        between = n0 * n1 * (m0 - m1) ** 2
        if between > best:
            best, best_k = between, k
    return centres[best_k]


@pytest.mark.parametrize("answer", [otsu, lambda values, bins: torch.tensor(otsu(values, bins))])
def test_a_right_otsu_threshold_passes(answer, capsys):
    assert check_otsu_threshold(answer) is True
    assert capsys.readouterr().out == "✓ Otsu's threshold\n"


def unclipped(values, bins=64):
    levels = (values * bins).astype(int)
    centres = (np.arange(bins) + 0.5) / bins
    return centres[levels.max()] / 2


@pytest.mark.parametrize("wrong, hint", [
    (lambda values, bins=64: values.mean(), "mean grey level"),
    (lambda values, bins=64: (values.min() + values.max()) / 2, "halfway"),
    (lambda values, bins=64: otsu(values, bins) - 1 / bins, "a bin or half a bin off"),
    (lambda values, bins=64: otsu(values, bins) + 0.5 / bins, "a bin or half a bin off"),
    (lambda values, bins=64: otsu(values, bins) * bins, "not a bin number"),
    (lambda values, bins=64: [0.2, 0.3], "return one number"),
    (unclipped, "clip the bin numbers"),
    (lambda values, bins=64: 0.9, "largest w0·w1·(m0 − m1)²"),
    (lambda values, bins: values.median(), "raised AttributeError"),
])
def test_a_wrong_otsu_threshold_fails_with_its_hint(wrong, hint, capsys):
    assert check_otsu_threshold(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ Otsu's threshold") and hint in out


def test_the_mean_and_otsu_split_one_test_set_differently():
    """Else a learner splitting at the mean would pass."""
    differs = [not np.array_equal(v > v.mean(), v > otsu(v, b)) for v, b in threshold_samples()]
    assert any(differs)
