"""Notebook 01's exercise checks: a right answer passes, and each typical wrong answer fails
with the hint that says what to change."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mnist_helpers.config import MNIST_MEAN, MNIST_STD
from mnist_helpers.exercises import NOT_WRITTEN
from mnist_helpers.exercises.ch01 import (
    check_mean_std,
    check_normalise,
    check_shrink,
    check_split,
)


def not_written(*_args):
    raise NotImplementedError


def outcome(check, answer, capsys) -> tuple[bool, str]:
    """What the check returns, and what it printed."""
    right = check(answer)
    return right, capsys.readouterr().out


# --- normalise --------------------------------------------------------------------------------

def normalise_right(pixels):
    return (pixels.unsqueeze(1).float() / 255 - MNIST_MEAN) / MNIST_STD


@pytest.mark.parametrize("answer", [
    normalise_right,
    lambda p: ((p.float() / 255 - MNIST_MEAN) / MNIST_STD)[:, None],
    lambda p: (p.double().unsqueeze(1) / 255 - MNIST_MEAN).div(MNIST_STD).float(),
], ids=["unsqueeze first", "channel last", "through float64"])
def test_a_right_normalise_passes(answer, capsys):
    right, said = outcome(check_normalise, answer, capsys)
    assert right is True
    assert said.startswith("✓") and "hint" not in said


@pytest.mark.parametrize("answer, hint", [
    (lambda p: (p.unsqueeze(1).float() - MNIST_MEAN) / MNIST_STD, "divide by 255"),
    (lambda p: p.unsqueeze(1).float() / 255, "only scaled to [0, 1]"),
    (lambda p: (lambda s: (s - s.mean()) / s.std())(p.unsqueeze(1).float() / 255),
     "not this batch's own mean"),
    (lambda p: (p.unsqueeze(1).float() / 255 - MNIST_STD) / MNIST_MEAN, "not the other way"),
    (lambda p: (p.float() / 255 - MNIST_MEAN) / MNIST_STD, "add the channel dimension"),
    (lambda p: (p.unsqueeze(1).double() / 255 - MNIST_MEAN) / MNIST_STD, "torch.float32"),
    (lambda p: ((p.unsqueeze(1).float() / 255 - MNIST_MEAN) / MNIST_STD).numpy(),
     "return a torch tensor"),
    (lambda p: (p.unsqueeze(1) // 255 - MNIST_MEAN) / MNIST_STD, "numbers differ"),
    (lambda p: p.div_(255), "it raised RuntimeError"),
    (not_written, NOT_WRITTEN),
], ids=["no /255", "not normalised", "batch statistics", "mean and std swapped",
        "no channel", "float64", "numpy", "integer division", "in place on uint8",
        "not written"])
def test_a_wrong_normalise_fails_with_its_hint(answer, hint, capsys):
    right, said = outcome(check_normalise, answer, capsys)
    assert right is False
    assert said.startswith("✗") and hint in said.split("hint:", 1)[1]


# --- mean_std --------------------------------------------------------------------------------

def mean_std_by_sums(pixels):
    values = pixels.double().flatten() / 255
    mean = values.sum() / values.numel()
    return float(mean), float(((values - mean) ** 2).sum() / (values.numel() - 1)) ** 0.5


def test_a_right_mean_std_passes_and_says_which_divisor(capsys):
    right, said = outcome(check_mean_std, mean_std_by_sums, capsys)
    assert right is True and "n - 1" in said
    population = lambda p: ((p.double() / 255).mean(), (p.double() / 255).std(correction=0))  # noqa: E731
    right, said = outcome(check_mean_std, population, capsys)
    assert right is True and "divides by n (" in said


def squares_in_uint8(pixels):
    """E[x²] - E[x]² with the squares taken in uint8, where they wrap round."""
    mean = pixels.double().mean() / 255
    return float(mean), float((pixels * pixels).double().mean() / 255**2 - mean**2) ** 0.5


def squares_in_uint8_torch(pixels):
    """The same in torch: the square root of the negative variance is nan."""
    mean = pixels.double().mean() / 255
    return mean, torch.sqrt((pixels * pixels).double().mean() / 255**2 - mean**2)


def deviations_in_uint8(pixels):
    """sum((x - mean)²) with the mean rounded to a whole uint8 value first."""
    mean = pixels.double().mean()
    centred = pixels - pixels.double().mean().to(torch.uint8)
    return float(mean / 255), float((centred * centred).double().mean()) ** 0.5 / 255


@pytest.mark.parametrize("answer, hint", [
    (lambda p: (float(p.double().mean()), float(p.double().std())), "divide by 255"),
    (lambda p: (float(p.double().mean() / 255), float(p.double().std())), "before the standard"),
    (lambda p: (float(p.double().mean() / 255), float((p.double() / 255).var())),
     "take its square root"),
    (squares_in_uint8, "wrapped round above 255"),
    (squares_in_uint8_torch, "wrapped round above 255"),
    (deviations_in_uint8, "wrapped round above 255"),
    (lambda p: (float(p.double().sum() / 255 / p.shape[0]), 0.3), "pixels.numel()"),
    (lambda p: float(p.double().mean()), "return two numbers"),
    (lambda p: ("0.5", "0.3"), "floats or one-element tensors"),
    (not_written, NOT_WRITTEN),
], ids=["not scaled", "std not scaled", "variance", "uint8 squares", "uint8 squares, torch",
        "uint8 deviations", "mean per image",
        "one number", "strings", "not written"])
def test_a_wrong_mean_std_fails_with_its_hint(answer, hint, capsys):
    right, said = outcome(check_mean_std, answer, capsys)
    assert right is False
    assert hint in said.split("hint:", 1)[1]


# --- split -----------------------------------------------------------------------------------

def split_right(n, val_size, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[val_size:], order[:val_size]


def split_numpy(n, val_size, seed):
    order = np.random.default_rng(seed).permutation(n)
    return list(order[val_size:]), order[:val_size]


@pytest.mark.parametrize("answer", [split_right, split_numpy], ids=["torch", "numpy"])
def test_a_right_split_passes(answer, capsys):
    right, said = outcome(check_split, answer, capsys)
    assert right is True and said.startswith("✓")


def split_unseeded(n, val_size, seed):
    order = torch.randperm(n)
    return order[val_size:], order[:val_size]


def split_overlapping(n, val_size, seed):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order, order[:val_size]


def split_seed_ignored(n, val_size, seed):
    return split_right(n, val_size, 0)


def split_with_repeats(n, val_size, seed):
    """The last validation index is replaced by a second copy of the first."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[val_size:], torch.cat([order[:val_size - 1], order[:1]])


@pytest.mark.parametrize("answer, hint", [
    (lambda n, v, s: (torch.arange(v, n), torch.arange(v)), "not the first or last"),
    (lambda n, v, s: (torch.arange(n - v), torch.arange(n - v, n)), "not the first or last"),
    (split_unseeded, "the same seed should give the same split"),
    (split_overlapping, "should give 80 training and 20 validation"),
    (split_seed_ignored, "another seed should give another split"),
    (split_with_repeats, "every index 0 … 99 exactly once"),
    (lambda n, v, s: split_right(n, v, s)[::-1], "should give 80 training"),
    (lambda n, v, s: (torch.rand(n - v), torch.rand(v)), "1-D tensors"),
    (lambda n, v, s: split_right(n, v, s)[0], "return two sets"),
    (not_written, NOT_WRITTEN),
], ids=["first ones", "last ones", "unseeded", "overlapping", "seed ignored", "repeats",
        "parts swapped", "floats", "one part", "not written"])
def test_a_wrong_split_fails_with_its_hint(answer, hint, capsys):
    right, said = outcome(check_split, answer, capsys)
    assert right is False
    assert hint in said.split("hint:", 1)[1]


def test_a_split_with_both_parts_sharing_an_index_is_refused(capsys):
    def shared(n, val_size, seed):
        train, val = split_right(n, val_size, seed)
        return torch.cat([train[:-1], val[:1]]), val
    right, said = outcome(check_split, shared, capsys)
    assert right is False and "never be trained on" in said


# --- shrink ----------------------------------------------------------------------------------

def shrink_by_reshape(image, factor):
    h, w = image.shape
    return image.reshape(h // factor, factor, w // factor, factor).mean(dim=(1, 3))


@pytest.mark.parametrize("answer", [
    shrink_by_reshape,
    lambda image, f: F.avg_pool2d(image[None, None], f)[0, 0],
    lambda image, f: image.unfold(0, f, f).unfold(1, f, f).mean(dim=(2, 3)),
], ids=["reshape", "avg_pool2d", "unfold"])
def test_a_right_shrink_passes(answer, capsys):
    right, said = outcome(check_shrink, answer, capsys)
    assert right is True and said.startswith("✓")


@pytest.mark.parametrize("answer, hint", [
    (lambda image, f: image[::f, ::f], "keeps one pixel of each block"),
    (lambda image, f: shrink_by_reshape(image, f) * f * f, "divide it by factor * factor"),
    (lambda image, f: image.reshape(image.shape[0] // f, image.shape[1] // f, f, f).mean((2, 3)),
     "a plain reshape"),
    (lambda image, f: image[: image.shape[0] // f, : image.shape[1] // f], "compare with"),
    (lambda image, f: image, "should be 6×6"),
    (lambda image, f: shrink_by_reshape(image, f).tolist(), "return a torch tensor"),
    (not_written, NOT_WRITTEN),
], ids=["subsampled", "block sums", "plain reshape", "a corner", "unchanged", "list",
        "not written"])
def test_a_wrong_shrink_fails_with_its_hint(answer, hint, capsys):
    right, said = outcome(check_shrink, answer, capsys)
    assert right is False
    assert hint in said.split("hint:", 1)[1]
