"""Notebook 08a's exercise checks: a right answer passes, the typical wrong ones fail with the
hint that fits them."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest, chi2

from mnist_helpers.exercises.ch08 import check_mcnemar_counts, check_mcnemar_p_value

# --- McNemar's counts ----------------------------------------------------------------------


def mcnemar_counts(predicted_a, predicted_b, labels):
    right_a, right_b = predicted_a == labels, predicted_b == labels
    return (right_a & ~right_b).sum(), (~right_a & right_b).sum()  # tensors are fine


def mcnemar_counts_loop(predicted_a, predicted_b, labels):
    only_a = only_b = 0
    for a, b, y in zip(predicted_a.tolist(), predicted_b.tolist(), labels.tolist(), strict=True):
        only_a += a == y and b != y
        only_b += b == y and a != y
    return only_a, only_b


@pytest.mark.parametrize("answer", [mcnemar_counts, mcnemar_counts_loop])
def test_right_counts_pass(answer, capsys):
    assert check_mcnemar_counts(answer) is True
    assert capsys.readouterr().out == "✓ McNemar's counts\n"


def swapped(a, b, y):
    return tuple(reversed(mcnemar_counts(a, b, y)))


def every_right_answer(a, b, y):
    return int((a == y).sum()), int((b == y).sum())


def answers_differ(a, b, y):
    differ = a != b
    return int((differ & (a == y)).sum()), int(differ.sum())


def shares(a, b, y):
    only_a, only_b = mcnemar_counts(a, b, y)
    return float(only_a) / len(y), float(only_b) / len(y)


def not_written(a, b, y):
    raise NotImplementedError


@pytest.mark.parametrize("wrong, hint", [
    (swapped, "swapped"),
    (every_right_answer, "including the ones both get right"),
    (answers_differ, "some that both get wrong"),
    (shares, "counts of images, not shares"),
    (lambda a, b, y: ((a == y) & (b == y)).sum(), "return two numbers"),
    (lambda a, b, y: (1, 2), "only_a counts right_a & ~right_b"),
    (not_written, "not written yet"),
    (lambda a, b, y: a[1000], "raised IndexError"),
])
def test_wrong_counts_fail_with_their_hint(wrong, hint, capsys):
    assert check_mcnemar_counts(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ McNemar's counts") and hint in out


# --- McNemar's exact p-value ---------------------------------------------------------------


def p_value_scipy(only_a, only_b):
    n = only_a + only_b
    return 1.0 if n == 0 else binomtest(only_a, n, 0.5).pvalue


def p_value_by_hand(only_a, only_b):
    # The coin model worked out: twice the smaller tail of Binomial(n, 1/2), at most 1.
    n, k = only_a + only_b, min(only_a, only_b)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


@pytest.mark.parametrize("answer", [p_value_scipy, p_value_by_hand])
def test_right_p_values_pass(answer, capsys):
    assert check_mcnemar_p_value(answer) is True
    assert capsys.readouterr().out == "✓ McNemar's exact p-value\n"


def one_tail(only_a, only_b):
    n = only_a + only_b
    return 1.0 if n == 0 else binomtest(only_a, n, 0.5, alternative="greater").pvalue


def uncapped(only_a, only_b):
    n, k = only_a + only_b, min(only_a, only_b)
    return 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n if n else 1.0


def chi_squared(only_a, only_b):
    n = only_a + only_b
    return 1.0 if n == 0 else chi2.sf((only_a - only_b) ** 2 / n, 1)


def raises_without_disagreements(only_a, only_b):
    return binomtest(only_a, only_a + only_b, 0.5).pvalue


@pytest.mark.parametrize("wrong, hint", [
    (one_tail, "that is one tail"),
    (lambda a, b: p_value_scipy(a, b) / 2, "that is one tail"),
    (uncapped, "cap the doubled tail at 1"),
    (chi_squared, "chi-squared approximation"),
    (raises_without_disagreements, "never disagree"),
    (lambda a, b: binomtest(a, a + b + 10, 0.5).pvalue if a + b else 1.0, "fair coin"),
    (lambda a, b: "small", "return one number"),
    (lambda a, b: 1 / 0, "raised ZeroDivisionError"),
])
def test_wrong_p_values_fail_with_their_hint(wrong, hint, capsys):
    assert check_mcnemar_p_value(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ McNemar's exact p-value") and hint in out
