"""Checks for notebook 08a's exercises: McNemar's counts from two models' predictions, and the
exact two-sided p-value from those counts.

Each check runs what the learner wrote on inputs it makes itself (seeded, so every run asks the
same) and compares the answer with PyTorch (the counts) or with ``scipy.stats.binomtest`` (the
p-value), never with a number typed in here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from scipy.stats import binomtest, chi2

from . import close, number, raised, verdict

COUNTS = "McNemar's counts"
P_VALUE = "McNemar's exact p-value"


def _predictions() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(predicted_a, predicted_b, labels) test cases: two models about 90% and 85% right on
    500 images, whose mistakes are random digits (so both can be wrong with different answers),
    and a small hand-made one."""
    generator = torch.Generator().manual_seed(8)
    labels = torch.randint(10, (500,), generator=generator)
    cases = []
    for share in (0.9, 0.85):
        guesses = torch.randint(10, (500,), generator=generator)
        right = torch.rand(500, generator=generator) < share
        cases.append(torch.where(right, labels, guesses))
    small = (torch.tensor([1, 2, 3, 4, 5, 6]), torch.tensor([1, 2, 0, 0, 9, 6]),
             torch.tensor([1, 0, 3, 4, 7, 6]))
    return [(cases[0], cases[1], labels), small]


def _pair(answer: Any) -> tuple[float, float] | None:
    """Two plain numbers from a pair (of ints, floats or one-element tensors), else None."""
    try:
        first, second = answer
    except (TypeError, ValueError):
        return None
    a, b = number(first), number(second)
    return None if a is None or b is None else (a, b)


def check_mcnemar_counts(mcnemar_counts: Callable[..., object]) -> bool:
    """Right if ``mcnemar_counts(predicted_a, predicted_b, labels)`` returns ``(only_a,
    only_b)``: how many images model A gets right and B wrong, and the other way round."""
    for predicted_a, predicted_b, labels in _predictions():
        try:
            answer = _pair(mcnemar_counts(predicted_a.clone(), predicted_b.clone(),
                                          labels.clone()))
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, COUNTS, raised(error, "your function"))
        right_a, right_b = predicted_a == labels, predicted_b == labels
        only_a, only_b = int((right_a & ~right_b).sum()), int((~right_a & right_b).sum())
        if answer is None:
            return verdict(False, COUNTS, "return two numbers, (only_a, only_b)")
        if answer == (only_a, only_b):
            continue
        n = len(labels)
        if answer == (only_b, only_a):
            hint = "the two are swapped: first the images only A gets right, then only B"
        elif answer == (int(right_a.sum()), int(right_b.sum())):
            hint = ("those are all the images each model gets right, including the ones both "
                    "get right: only_a needs A right AND B wrong (use & and ~)")
        elif int((predicted_a != predicted_b).sum()) in answer:
            hint = ("the images on which the two answers differ include some that both get "
                    "wrong (with different wrong digits): compare each answer with the labels")
        elif close(answer[0] * n, only_a) and close(answer[1] * n, only_b):
            hint = "give counts of images, not shares of the test set"
        else:
            hint = ("with right_a = predicted_a == labels (and right_b alike), only_a counts "
                    "right_a & ~right_b")
        return verdict(False, COUNTS, f"{hint} (on {n} images you gave {answer}; the counts "
                       f"are {(only_a, only_b)})")
    return verdict(True, COUNTS, "")


#: (only_a, only_b) pairs the p-value is checked on: uneven, even, one-sided, large, none.
_DISAGREEMENTS = [(12, 5), (9, 9), (0, 7), (140, 101), (3, 0), (0, 0)]


def _p_value_hint(answer: float, only_a: int, only_b: int) -> str:
    """What a wrong p-value for (only_a, only_b) most likely got wrong."""
    n = only_a + only_b
    if n == 0:
        return ("when the models never disagree there is no evidence either way: return 1.0 "
                "(binomtest refuses n = 0)")
    exact = binomtest(only_a, n, 0.5).pvalue
    one_sided = [binomtest(only_a, n, 0.5, alternative=side).pvalue
                 for side in ("greater", "less")]
    statistic = (only_a - only_b) ** 2 / n
    corrected = (abs(only_a - only_b) - 1) ** 2 / n
    if answer > 1:
        return ("a probability is at most 1: when the two tails overlap (only_a close to "
                "only_b), cap the doubled tail at 1")
    if any(close(answer, p) for p in one_sided) or close(2 * answer, exact):
        return ("that is one tail: the test is two-sided (A better OR B better), so add the "
                "other tail, as binomtest does by default")
    if close(answer, float(chi2.sf(statistic, 1))) or close(answer, float(chi2.sf(corrected, 1))):
        return ("that is the chi-squared approximation; the exact test sums binomial "
                "probabilities: binomtest(only_a, only_a + only_b, 0.5).pvalue")
    return ("under 'equally good', only_a is the heads of only_a + only_b tosses of a fair coin: "
            "scipy.stats.binomtest(only_a, only_a + only_b, 0.5).pvalue")


def check_mcnemar_p_value(mcnemar_p_value: Callable[[int, int], object]) -> bool:
    """Right if ``mcnemar_p_value(only_a, only_b)`` gives McNemar's exact two-sided p-value,
    as ``scipy.stats.binomtest`` computes it (1.0 when the models never disagree)."""
    for only_a, only_b in _DISAGREEMENTS:
        try:
            answer = number(mcnemar_p_value(only_a, only_b))
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            if only_a + only_b == 0:
                return verdict(False, P_VALUE, _p_value_hint(float("nan"), 0, 0)
                               + f"; your function raised {type(error).__name__}")
            return verdict(False, P_VALUE, raised(error, "your function"))
        if answer is None:
            return verdict(False, P_VALUE, "return one number, the p-value")
        n = only_a + only_b
        expected = 1.0 if n == 0 else float(binomtest(only_a, n, 0.5).pvalue)
        if not close(answer, expected):
            return verdict(False, P_VALUE, f"{_p_value_hint(answer, only_a, only_b)} (for "
                           f"only_a = {only_a}, only_b = {only_b} you gave {answer:.4g}, "
                           f"binomtest gives {expected:.4g})")
    return verdict(True, P_VALUE, "")
