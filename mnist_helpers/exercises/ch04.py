"""Checks for notebook 04's exercises: the precision of each digit, and a bootstrap interval.

Each check runs what the learner wrote on inputs it makes itself (seeded, so every run asks
the same) and compares the answer with the package's code or with the binomial formula, never
with a number typed in here.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from ..evaluate import confusion_matrix, per_class_accuracy
from . import raised, verdict

PRECISION = "precision of each digit"
INTERVAL = "bootstrap interval"


def _confusion_matrices() -> list[torch.Tensor]:
    """Test matrices: a 10-class one from a 90%-right model, and a 4-class one in which class
    3 is never predicted (its precision has nothing to divide by)."""
    generator = torch.Generator().manual_seed(4)
    labels = torch.randint(10, (2000,), generator=generator)
    guesses = torch.randint(10, (2000,), generator=generator)
    predicted = torch.where(torch.rand(2000, generator=generator) < 0.9, labels, guesses)
    small = confusion_matrix(torch.tensor([0, 1, 1, 2, 0, 2, 2, 1]),
                             torch.tensor([0, 1, 2, 2, 0, 3, 2, 1]), num_classes=4)
    return [confusion_matrix(predicted, labels), small]


def _as_tensor(answer: object) -> torch.Tensor | None:
    """The answer as a float64 tensor, or None if it cannot be one."""
    try:
        return torch.as_tensor(answer, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        return None


def check_precision(precision: Callable[[torch.Tensor], object]) -> bool:
    """Right if ``precision(cm)`` gives, for each digit d, the share of the images predicted as
    d that really are d (d's right answers over column d's total), on two test matrices."""
    for cm in _confusion_matrices():
        try:
            answer = _as_tensor(precision(cm.clone()))
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, PRECISION, raised(error, "your function"))
        expected = per_class_accuracy(cm.T)  # a column of cm is a row of its transpose
        if answer is None or answer.shape != expected.shape:
            return verdict(False, PRECISION, "return one number per digit: a tensor of "
                           f"length {len(expected)} for a {len(cm)}×{len(cm)} matrix")
        never_predicted = cm.sum(0) == 0
        answer = torch.where(never_predicted & answer.isnan(), 0.0, answer)  # 0 or NaN: both fine
        if torch.allclose(answer, expected):
            continue
        if torch.allclose(answer, per_class_accuracy(cm)):
            hint = ("that is each digit's accuracy (recall): right answers over the row, the "
                    "images that are d. Precision divides by the column: the images predicted d")
        elif torch.allclose(answer, 100 * expected):
            hint = "give fractions between 0 and 1, not percentages"
        else:
            hint = ("for each digit d: cm[d, d] divided by cm[:, d].sum(); mind integer "
                    "division (use .double() or .float())")
        return verdict(False, PRECISION, hint)
    return verdict(True, PRECISION, "")


def _right_answers(total: int, mistakes: int) -> torch.Tensor:
    """A test set of ``total`` images with ``mistakes`` wrong answers, as True/False."""
    right = torch.ones(total, dtype=torch.bool)
    right[torch.randperm(total, generator=torch.Generator().manual_seed(total))[:mistakes]] = False
    return right


def check_bootstrap_interval(
        bootstrap_interval: Callable[..., tuple[float, float]]) -> bool:
    """Right if ``bootstrap_interval(right, resamples=..., seed=...)`` returns ``(low, high)``,
    a 95% interval of the accuracy of the True/False tensor ``right`` from redrawn test sets,
    repeatable for a seed, that matches the binomial formula p ± 1.96·√(p(1−p)/n) within a
    quarter of its half-width at each end."""
    for total, mistakes in [(10_000, 63), (1_000, 100), (400, 200)]:
        right = _right_answers(total, mistakes)
        try:
            first = bootstrap_interval(right.clone(), resamples=2000, seed=1)
            again = bootstrap_interval(right.clone(), resamples=2000, seed=1)
        except TypeError as error:
            return verdict(False, INTERVAL, "define it as bootstrap_interval(right, resamples="
                           f"1000, seed=0); calling it with those names failed: {error}")
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, INTERVAL, raised(error, "your function"))
        try:
            low, high = (float(x) for x in first)
        except (TypeError, ValueError, RuntimeError):
            return verdict(False, INTERVAL, f"return two numbers, (low, high); it returned "
                           f"{first!r}")
        p = 1 - mistakes / total
        half = 1.96 * math.sqrt(p * (1 - p) / total)
        hint = _interval_hint(low, high, p, half)
        if hint is None and tuple(float(x) for x in again) != (low, high):
            hint = ("the same seed must give the same interval: draw from "
                    "torch.Generator().manual_seed(seed), passed to torch.randint")
        if hint is not None:
            return verdict(False, INTERVAL, f"{hint} (on {total:,} images, {mistakes} wrong, "
                           f"you gave {low:.4g} to {high:.4g}; the formula gives about "
                           f"{p - half:.4g} to {p + half:.4g})")
    return verdict(True, INTERVAL, "")


def _interval_hint(low: float, high: float, p: float, half: float) -> str | None:
    """What is wrong with the interval (low, high) for accuracy ``p``, or None if it fits."""
    if low > high:
        return "return (low, high), the smaller first"
    if high > 1.5:
        return "give accuracies as fractions between 0 and 1, not percentages or counts"
    if not low <= p <= high:
        return "the interval must contain the measured accuracy"
    width = (high - low) / 2
    if width < 0.1 * half:
        return ("every redrawn test set gave the same accuracy: draw the images WITH "
                "replacement (torch.randint), not a shuffle of the same images")
    if 0.35 * half < width < 0.88 * half:  # ± one standard deviation gives about 0.5
        return ("too narrow: a 95% interval holds the middle 95% of the resampled accuracies, "
                "from the 2.5th to the 97.5th percentile (torch.quantile)")
    if width > 1.3 * half:
        return ("too wide: each redrawn test set has as many images as the original "
                "(n draws from n), and the interval is the middle 95%, not all of them")
    if abs(low - (p - half)) > 0.25 * half or abs(high - (p + half)) > 0.25 * half:
        return ("the ends are off: take the 2.5th and 97.5th percentiles of the accuracies "
                "of at least 1,000 redrawn test sets")
    return None
