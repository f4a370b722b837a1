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
    check_centre_by_box,
    check_compare_variants,
    check_separation,
    paper_and_ink,
    variant_results,
)
from mnist_helpers.preprocess import _otsu_threshold, to_mnist_pixels

# --- centring by the bounding box ------------------------------------------------------------


def centre_by_box(pixels):
    rows, cols = np.nonzero(pixels)
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    dy, dx = (28 - height) // 2 - rows.min(), (28 - width) // 2 - cols.min()
    return ndimage.shift(pixels, (dy, dx), order=0, mode="constant", cval=0.0)


def centre_by_rolling(pixels):
    """np.roll wraps round, but a box that fits never crosses an edge: also right, as a tensor."""
    rows, cols = np.nonzero(pixels)
    dy = (28 - (rows.max() - rows.min() + 1)) // 2 - rows.min()
    dx = (28 - (cols.max() - cols.min() + 1)) // 2 - cols.min()
    return torch.from_numpy(np.roll(pixels, (dy, dx), axis=(0, 1)))


@pytest.mark.parametrize("answer", [centre_by_box, centre_by_rolling])
def test_a_right_centring_passes(answer, capsys):
    assert check_centre_by_box(answer) is True
    assert capsys.readouterr().out == "✓ centring by the bounding box\n"


def test_the_package_pastes_a_box_where_the_check_puts_it():
    """A crop of 20 rows is not resized by to_mnist_pixels: its fitted step is pasted at
    (28 − height) // 2, (28 − width) // 2, where the check's reference puts the same box."""
    crop = np.zeros((20, 9))
    crop[:, 2:7] = 204 / 255  # a level the package's 8-bit resampling keeps exactly
    steps = {}
    to_mnist_pixels(crop, steps)
    field = np.zeros((28, 28))
    field[0:20, 19:28] = crop
    assert np.allclose(steps["fitted_20x20"], centre_by_box(field))


def test_the_test_images_tell_the_box_from_the_centre_of_mass():
    """Else a learner centring by mass would pass."""
    moved = [not np.allclose(centre_by_box(p), ndimage.shift(
        p, [round(14 - c) for c in ndimage.center_of_mass(p)], order=0)) for p in centring_images()]
    assert any(moved)


def unmoved(pixels):
    return pixels


def by_mass(pixels):
    cy, cx = ndimage.center_of_mass(pixels)
    return ndimage.shift(pixels, (round(14 - cy), round(14 - cx)), order=0, mode="constant")


def backwards(pixels):
    rows, cols = np.nonzero(pixels)
    dy = (28 - (rows.max() - rows.min() + 1)) // 2 - rows.min()
    dx = (28 - (cols.max() - cols.min() + 1)) // 2 - cols.min()
    return ndimage.shift(pixels, (-dy, -dx), order=0, mode="constant")


def swapped(pixels):
    rows, cols = np.nonzero(pixels)
    dy = (28 - (rows.max() - rows.min() + 1)) // 2 - rows.min()
    dx = (28 - (cols.max() - cols.min() + 1)) // 2 - cols.min()
    return ndimage.shift(pixels, (dx, dy), order=0, mode="constant")


def one_short(pixels):
    rows, cols = np.nonzero(pixels)
    dy = (28 - (rows.max() - rows.min())) // 2 - rows.min()
    dx = (28 - (cols.max() - cols.min())) // 2 - cols.min()
    return ndimage.shift(pixels, (dy, dx), order=0, mode="constant")


def box_middle_at_14(pixels):
    """The box's middle moved to pixel 14: a pixel off for odd sizes."""
    rows, cols = np.nonzero(pixels)
    dy = round(14 - (rows.min() + rows.max()) / 2)
    dx = round(14 - (cols.min() + cols.max()) / 2)
    return ndimage.shift(pixels, (dy, dx), order=0, mode="constant")


def interpolated(pixels):
    return ndimage.shift(centre_by_box(pixels), (0.4, 0.3), order=1, mode="constant")


def not_written(pixels):
    raise NotImplementedError


@pytest.mark.parametrize("wrong, hint", [
    (unmoved, "nothing moved"),
    (by_mass, "centres the centre of mass"),
    (backwards, "wrong way"),
    (swapped, "swapped"),
    (one_short, "rows.max() − rows.min() + 1"),
    (box_middle_at_14, "belongs at (8, 3)"),
    (interpolated, "no interpolation"),
    (lambda pixels: pixels[:20, :20], "28×28"),
    (lambda pixels: None, "28×28"),
    (lambda pixels: pixels[40], "raised IndexError"),
    (not_written, "not written yet"),
])
def test_a_wrong_centring_fails_with_its_hint(wrong, hint, capsys):
    assert check_centre_by_box(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ centring by the bounding box") and hint in out


def test_the_check_does_not_let_the_learner_change_its_images():
    """A function that writes into its argument must not change what the next call gets."""
    def centre_in_place(pixels):
        pixels[:] = centre_by_box(pixels)
        return pixels
    assert check_centre_by_box(centre_in_place) is True


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


# --- ink and paper on either side of a threshold -------------------------------------------


def wrong_side(values, is_ink, threshold):
    taken = values > threshold
    return taken[~is_ink].mean(), (~taken[is_ink]).mean()


def wrong_side_torch(values, is_ink, threshold):
    values, is_ink = torch.from_numpy(values), torch.from_numpy(is_ink)
    paper, ink = values[~is_ink], values[is_ink]
    return (paper > threshold).double().mean(), (ink <= threshold).double().mean()


@pytest.mark.parametrize("answer", [wrong_side, wrong_side_torch])
def test_a_right_separation_passes(answer, capsys):
    assert check_separation(answer) is True
    assert capsys.readouterr().out == "✓ ink and paper on either side of a threshold\n"


def test_otsu_separates_at_a_tenth_of_ink_and_not_at_a_five_hundredth():
    """The exercise's finding, on the check's own data: with 10% ink, Otsu's threshold leaves
    (almost) no paper above it; with 0.2%, it falls inside the paper's own spread."""
    for share, most in ((0.1, 0.001), (0.002, 1.0)):
        values, is_ink = paper_and_ink(share)
        paper_above, _ = wrong_side(values, is_ink, _otsu_threshold(values))
        assert (paper_above < most) if share == 0.1 else (paper_above > 0.2)


def counts(values, is_ink, threshold):
    taken = values > threshold
    return taken[~is_ink].sum(), (~taken[is_ink]).sum()


def of_all(values, is_ink, threshold):
    taken = values > threshold
    return taken[~is_ink].sum() / len(values), (~taken[is_ink]).sum() / len(values)


def at_or_above(values, is_ink, threshold):
    taken = values >= threshold
    return taken[~is_ink].mean(), (~taken[is_ink]).mean()


@pytest.mark.parametrize("wrong, hint", [
    (lambda values, is_ink, threshold: wrong_side(values, is_ink, threshold)[::-1], "swapped"),
    (counts, "counts of pixels"),
    (of_all, "shares of all the pixels"),
    (at_or_above, "exactly at the threshold is not ink"),
    (lambda values, is_ink, threshold: wrong_side(values, ~is_ink, threshold),
     "the paper is where is_ink is False"),
    (lambda values, is_ink, threshold: 0.1, "return two numbers"),
    (lambda values, is_ink, threshold: values.median(), "raised AttributeError"),
])
def test_a_wrong_separation_fails_with_its_hint(wrong, hint, capsys):
    assert check_separation(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ ink and paper on either side of a threshold") and hint in out


@pytest.mark.parametrize("share", [-0.1, 1.5, "0.1", True])
def test_paper_and_ink_names_a_bad_share(share):
    with pytest.raises(ValueError, match="share must be a number from 0 to 1"):
        paper_and_ink(share)
