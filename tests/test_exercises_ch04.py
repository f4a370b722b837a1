"""Notebook 04's exercise checks: a right answer passes, the typical wrong ones fail with the
hint that fits them."""

from __future__ import annotations

import pytest
import torch

from mnist_helpers.exercises.ch04 import check_bootstrap_interval, check_precision

# --- precision of each digit ---------------------------------------------------------------


def precision(cm: torch.Tensor) -> torch.Tensor:
    return cm.diag() / cm.sum(0)  # a never-predicted digit gives 0/0 = NaN: accepted


def precision_zero_for_empty(cm: torch.Tensor) -> list[float]:
    return [float(cm[d, d]) / max(int(cm[:, d].sum()), 1) for d in range(len(cm))]


@pytest.mark.parametrize("answer", [precision, precision_zero_for_empty])
def test_a_right_precision_passes(answer, capsys):
    assert check_precision(answer) is True
    assert capsys.readouterr().out.startswith("✓ precision of each digit")


@pytest.mark.parametrize("wrong, hint", [
    (lambda cm: cm.diag() / cm.sum(1), "recall"),  # rows: the accuracy of each true digit
    (lambda cm: 100 * cm.diag() / cm.sum(0), "not percentages"),
    (lambda cm: cm.diag() // cm.sum(0).clamp(min=1), "integer division"),
    (lambda cm: (cm.diag() / cm.sum(0)).mean(), "one number per digit"),
    (lambda cm: cm.diag() / cm.sum(), "cm[d, d] divided by cm[:, d].sum()"),
    (lambda cm: cm.diag() / cm.sum(0)[20], "raised IndexError"),
    (lambda cm: None, "one number per digit"),
])
def test_a_wrong_precision_fails_with_its_hint(wrong, hint, capsys):
    assert check_precision(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ precision of each digit") and hint in out


# --- bootstrap interval --------------------------------------------------------------------


def bootstrap_interval(right: torch.Tensor, resamples: int = 1000, seed: int = 0
                       ) -> tuple[float, float]:
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(right), (resamples, len(right)), generator=generator)
    accuracies = right[picks].double().mean(dim=1)
    low, high = accuracies.quantile(torch.tensor([0.025, 0.975], dtype=torch.float64))
    return float(low), float(high)


def test_a_right_bootstrap_interval_passes(capsys):
    assert check_bootstrap_interval(bootstrap_interval) is True
    assert capsys.readouterr().out == "✓ bootstrap interval\n"


def shuffled(right, resamples=1000, seed=0):
    """Without replacement: every 'redrawn' set holds the same images."""
    generator = torch.Generator().manual_seed(seed)
    accuracies = torch.stack([right[torch.randperm(len(right), generator=generator)].double()
                              .mean() for _ in range(20)])
    return float(accuracies.quantile(0.025)), float(accuracies.quantile(0.975))


def one_spread(right, resamples=1000, seed=0):
    """Mean ± one standard deviation: a 68% interval, not 95%."""
    generator = torch.Generator().manual_seed(seed)
    accuracies = right[torch.randint(len(right), (resamples, len(right)),
                                     generator=generator)].double().mean(1)
    return float(accuracies.mean() - accuracies.std()), float(accuracies.mean() + accuracies.std())


def small_draws(right, resamples=1000, seed=0):
    """Redrawn sets of 100 images instead of len(right): far too wide."""
    generator = torch.Generator().manual_seed(seed)
    accuracies = right[torch.randint(len(right), (resamples, 100),
                                     generator=generator)].double().mean(1)
    return float(accuracies.quantile(0.025)), float(accuracies.quantile(0.975))


def unseeded(right, resamples=1000, seed=0):
    """Ignores the seed: a new interval every call."""
    accuracies = right[torch.randint(len(right), (resamples, len(right)))].double().mean(1)
    return float(accuracies.quantile(0.025)), float(accuracies.quantile(0.975))


def no_keywords(right):
    return bootstrap_interval(right)


@pytest.mark.parametrize("wrong, hint", [
    (shuffled, "WITH replacement"),
    (one_spread, "2.5th to the 97.5th percentile"),
    (small_draws, "too wide"),
    (unseeded, "the same seed must give the same interval"),
    (lambda right, resamples=1000, seed=0: bootstrap_interval(right, resamples, seed)[::-1],
     "the smaller first"),
    (lambda right, resamples=1000, seed=0: tuple(100 * x for x in
                                                 bootstrap_interval(right, resamples, seed)),
     "not percentages"),
    (no_keywords, "bootstrap_interval(right, resamples=1000, seed=0)"),
    (lambda right, resamples=1000, seed=0: None, "return two numbers, (low, high)"),
    (lambda right, resamples=1000, seed=0: right[10 ** 6], "raised IndexError: index"),
    (lambda right, resamples=1000, seed=0: float(right.double().mean()), "return two numbers"),
])
def test_a_wrong_bootstrap_interval_fails_with_its_hint(wrong, hint, capsys):
    assert check_bootstrap_interval(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ bootstrap interval") and hint in out


def not_written(*args, **kwargs):
    """The notebook's stub, as the learner first finds it."""
    raise NotImplementedError


@pytest.mark.parametrize("check", [check_precision, check_bootstrap_interval])
def test_the_stub_says_it_is_not_written_yet(check, capsys):
    assert check(not_written) is False
    assert "not written yet: replace `raise NotImplementedError`" in capsys.readouterr().out
