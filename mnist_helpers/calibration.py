"""How far to trust a model's probabilities, and when to refuse to answer.

* Calibration: a model that says "90%" should be right 9 times in 10. The reliability
  diagram compares the two; the expected calibration error (ECE) sums the gaps; temperature
  scaling (Guo et al., 2017) divides the logits by one number, fitted on the validation
  split (the one that makes the validation labels most likely), which leaves every prediction
  as it was: T > 1 softens an over-confident model's probabilities, T < 1 sharpens a timid one's.
* Refusal: a threshold on how surely the model reads a digit, fitted on validation images
  (real digits and non-digits the model did not train on), never on the test set. The AUROC
  sums up a score without any threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from scipy.stats import mannwhitneyu
from torch import nn

from .config import DIGIT_OUTPUTS, NOT_A_DIGIT
from .evaluate import all_logits

__all__ = ["all_logits", "auroc", "digit_confidence", "fit_refusal", "fit_refusal_threshold",
           "fit_temperature", "refusal_curve", "reliability", "score_curve"]


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T that makes ``softmax(logits / T)`` most likely for ``labels``
    (their negative log-likelihood is smallest), found by L-BFGS on log T."""
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = F.cross_entropy(logits / log_t.exp(), labels)
        value.backward()
        return value

    optimizer.step(loss)
    return float(log_t.detach().exp())


@dataclass
class Reliability:
    """Predictions grouped by confidence: per bin, how sure the model was and how often right."""

    confidence: torch.Tensor  # mean confidence per bin
    accuracy: torch.Tensor  # share right per bin
    count: torch.Tensor  # predictions per bin
    edges: torch.Tensor  # bin edges, 0..1

    @property
    def expected_calibration_error(self) -> float:
        """The gap between confidence and accuracy, averaged over predictions (ECE)."""
        weights = self.count / self.count.sum().clamp(min=1)
        return float((weights * (self.confidence - self.accuracy).abs()).sum())


def reliability(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = 10
                ) -> Reliability:
    """Group predictions into ``bins`` equal-width confidence bins."""
    confidence, predicted = probabilities.max(dim=1)
    right = (predicted == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    which = torch.bucketize(confidence, edges[1:-1], right=True)
    count = torch.bincount(which, minlength=bins).float()
    safe = count.clamp(min=1)
    return Reliability(confidence=torch.bincount(which, confidence, bins) / safe,
                       accuracy=torch.bincount(which, right, bins) / safe, count=count,
                       edges=edges)


def digit_confidence(probabilities: torch.Tensor) -> torch.Tensor:
    """How surely each image is read as a digit: its best digit's probability, or, when a
    class beyond the digits ("not a digit", "two digits") wins, minus that class's (below 0)."""
    best = probabilities[:, DIGIT_OUTPUTS].max(dim=1).values
    if probabilities.shape[1] > 10:
        other = probabilities[:, NOT_A_DIGIT:].max(dim=1).values
        best = torch.where(other > best, -other, best)
    return best


@dataclass
class RefusalCurve:
    """For every threshold, how many real digits are still read right and how many
    non-digits are refused."""

    thresholds: torch.Tensor
    digits_right: torch.Tensor  # share of real digits accepted *and* right
    nondigits_refused: torch.Tensor


def score_curve(digit_scores: torch.Tensor, digits_right: torch.Tensor,
                nondigit_scores: torch.Tensor, thresholds: torch.Tensor) -> RefusalCurve:
    """The trade-off for any score where higher means "more surely a digit": at each
    threshold, the share of digits accepted *and* read right, and of non-digits refused."""
    return RefusalCurve(
        thresholds=thresholds,
        digits_right=torch.stack([((digit_scores >= t) & digits_right).float().mean()
                                  for t in thresholds]),
        nondigits_refused=torch.stack([(nondigit_scores < t).float().mean()
                                       for t in thresholds]))


def refusal_curve(digit_probabilities: torch.Tensor, labels: torch.Tensor,
                  nondigit_probabilities: torch.Tensor, steps: int = 201) -> RefusalCurve:
    """The trade-off between keeping digits and refusing non-digits, for thresholds from 0
    to 1 on :func:`digit_confidence` (the rule :func:`mnist_helpers.predict.decide` uses)."""
    right = digit_probabilities[:, DIGIT_OUTPUTS].argmax(dim=1) == labels
    return score_curve(digit_confidence(digit_probabilities), right,
                       digit_confidence(nondigit_probabilities), torch.linspace(0, 1, steps))


def fit_refusal_threshold(curve: RefusalCurve, budget: float = 0.003) -> float:
    """The highest threshold that keeps the share of real digits read right within
    ``budget`` of what it is with no threshold (so it refuses the most non-digits)."""
    allowed = curve.digits_right >= curve.digits_right[0] - budget
    return float(curve.thresholds[allowed].max())


def fit_refusal(model: nn.Module, val: Iterable[tuple[torch.Tensor, torch.Tensor]],
                budget: float = 0.003) -> tuple[float, RefusalCurve]:
    """The refusal threshold of a model, fitted on validation images by
    :func:`fit_refusal_threshold`: the highest threshold that keeps the share of digits read
    right within ``budget`` of what it is at the lowest threshold tried (the most it can be:
    refusing more never reads more digits right). The digits alone decide it. A higher
    threshold never refuses fewer, so it is also the one that refuses the most non-digits within
    the budget; the non-digits among ``val`` (ones the model did not train on) only fill the
    curve returned with it. A model with "not a digit" and "two digits" classes refuses by them
    too; a ten-class model by the threshold alone."""
    logits, labels = all_logits(model, val)
    probabilities = torch.softmax(logits, dim=1)
    digits = labels < NOT_A_DIGIT
    curve = refusal_curve(probabilities[digits], labels[digits], probabilities[~digits])
    return fit_refusal_threshold(curve, budget), curve


def auroc(digit_scores: torch.Tensor, nondigit_scores: torch.Tensor) -> float:
    """The chance that a random non-digit scores below a random digit, ties counting half (the
    area under the ROC curve). Counting the (digit, non-digit) pairs that the digit wins is what
    Mann and Whitney's U statistic does (from ranks, without building every pair), so the area is
    the digits' U divided by the number of pairs."""
    n_digits, n_nondigits = len(digit_scores), len(nondigit_scores)
    if not n_digits or not n_nondigits:
        raise ValueError("auroc needs at least one digit and one non-digit")
    wins = mannwhitneyu(digit_scores.flatten().double().cpu().numpy(),
                        nondigit_scores.flatten().double().cpu().numpy(),
                        method="asymptotic").statistic
    return float(wins / (n_digits * n_nondigits))
