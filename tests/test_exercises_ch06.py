"""Notebook 06's exercise checks: a right answer passes, the typical wrong ones fail with the
hint that fits them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from mnist_helpers.exercises.ch06 import (
    bootstrap_difference,
    centring_images,
    check_centre_by_mass,
    check_compare_variants,
    check_otsu_threshold,
    threshold_samples,
    variant_results,
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


# --- two variants on the same pictures ------------------------------------------------------


def compare_variants(right_a, right_b, resamples=2000):
    only_a = int((right_a & ~right_b).sum())
    only_b = int((right_b & ~right_a).sum())
    picks = torch.randint(len(right_a), (resamples, len(right_a)))
    difference = (right_a[picks].sum(1) - right_b[picks].sum(1)).double()
    low, high = difference.quantile(torch.tensor([0.025, 0.975], dtype=torch.float64))
    return only_a, only_b, low, high


def compare_with_numpy(right_a, right_b):
    """The same with numpy, its own seed and 1,000 resamples, returning numpy numbers."""
    a, b = np.asarray(right_a), np.asarray(right_b)
    picks = np.random.default_rng(7).integers(0, len(a), (1000, len(a)))
    low, high = np.percentile(a[picks].sum(1) - b[picks].sum(1), [2.5, 97.5])
    return (a & ~b).sum(), (b & ~a).sum(), low, high


@pytest.mark.parametrize("answer", [compare_variants, compare_with_numpy])
def test_a_right_comparison_passes(answer, capsys):
    torch.manual_seed(3)
    assert check_compare_variants(answer) is True
    assert capsys.readouterr().out == "✓ two variants on the same pictures\n"


def test_a_right_comparison_passes_whatever_its_seed(capsys):
    """The learner's bootstrap is random: every seed must pass, not only a lucky one."""
    for seed in range(20):
        torch.manual_seed(seed)
        assert check_compare_variants(compare_variants) is True
    assert capsys.readouterr().out.count("✓") == 20


def test_the_test_pairs_tell_a_paired_bootstrap_from_separate_draws():
    """Else a learner who redraws a and b separately would pass: on some pair the separate
    draws' interval must be wider than the tolerance allows."""
    widths = [(bootstrap_difference(a, b, paired=False), bootstrap_difference(a, b))
              for a, b in variant_results()]
    assert any((hi_u - lo_u) - (hi - lo) > 4 for (lo_u, hi_u), (lo, hi) in widths)


def separate_draws(right_a, right_b):
    only_a, only_b, _, _ = compare_variants(right_a, right_b)
    n = len(right_a)
    first, second = torch.randint(n, (2000, n)), torch.randint(n, (2000, n))
    difference = (right_a[first].sum(1) - right_b[second].sum(1)).double()
    low, high = difference.quantile(torch.tensor([0.025, 0.975], dtype=torch.float64))
    return only_a, only_b, low, high


def with_interval(transform):
    """compare_variants with its interval changed by ``transform(low, high, n)``."""
    def answer(right_a, right_b):
        only_a, only_b, low, high = compare_variants(right_a, right_b)
        return (only_a, only_b, *transform(float(low), float(high), len(right_a)))
    return answer


def all_right(right_a, right_b):
    return (int(right_a.sum()), int(right_b.sum()), *compare_variants(right_a, right_b)[2:])


def swapped_counts(right_a, right_b):
    only_a, only_b, low, high = compare_variants(right_a, right_b)
    return only_b, only_a, low, high


@pytest.mark.parametrize("wrong, hint", [
    (separate_draws, "same picks for a and b"),
    (with_interval(lambda low, high, n: (high, low)), "lower end of the interval first"),
    (with_interval(lambda low, high, n: (-high, -low)), "interval of b − a"),
    (with_interval(lambda low, high, n: (low / n, high / n)), "in pictures"),
    (with_interval(lambda low, high, n: (100 * low / n, 100 * high / n)), "in pictures"),
    (with_interval(lambda low, high, n: (low + 3, high - 3)), "2.5th and 97.5th"),
    (swapped_counts, "swapped"),
    (all_right, "all the pictures each reads right"),
    (lambda right_a, right_b: (0, 0, 0, 0), "right_a & ~right_b"),
    (lambda right_a, right_b: (1, 2, 3), "four numbers"),
    (lambda right_a, right_b: None, "four numbers"),
    (lambda right_a, right_b: right_a.logical_xor(right_b).mean(), "raised RuntimeError"),
])
def test_a_wrong_comparison_fails_with_its_hint(wrong, hint, capsys):
    torch.manual_seed(0)
    assert check_compare_variants(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ two variants on the same pictures") and hint in out


def test_an_unwritten_comparison_says_so(capsys):
    def compare(right_a, right_b):
        raise NotImplementedError
    assert check_compare_variants(compare) is False
    assert "not written yet" in capsys.readouterr().out


def test_the_check_does_not_let_the_learner_change_its_pictures():
    """A function that writes into its arguments must not change the reference it is held to."""
    def compare_and_clear(right_a, right_b):
        answer = compare_variants(right_a, right_b)
        right_a[:] = False
        return answer
    assert check_compare_variants(compare_and_clear) is True


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
