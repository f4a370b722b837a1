"""Two models compared on the same test images: McNemar's exact test and the interval of their
difference in accuracy.

Images both models get right, or both get wrong, say nothing about which is better; only the
images exactly one of them gets right do. If the two were equally good, each such image would be
A's or B's with probability 1/2, like a fair coin, so the number that only A gets right follows
a binomial distribution with ``only_a + only_b`` tosses and probability 1/2 (McNemar's test, in
its exact form: ``scipy.stats.binomtest``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy.stats import binomtest
from torch import nn

from ..errors import ConfigError
from ..evaluate import LabelledBatches, all_logits


@dataclass(frozen=True)
class PairedComparison:
    """The four counts of two models' answers on the same images, and what they imply."""

    both_right: int
    only_a: int  # images model A gets right and model B gets wrong
    only_b: int  # images model B gets right and model A gets wrong
    both_wrong: int

    @property
    def images(self) -> int:
        """How many images were compared."""
        return self.both_right + self.only_a + self.only_b + self.both_wrong

    @property
    def difference(self) -> float:
        """A's accuracy minus B's (a fraction): only the images they disagree on count."""
        return (self.only_a - self.only_b) / self.images

    @property
    def half_width(self) -> float:
        """Half the 95% interval of :attr:`difference` on these images (normal approximation):
        1.96 standard errors, from the disagreements alone."""
        n, d = self.images, self.only_a - self.only_b
        return 1.96 * math.sqrt(max(self.only_a + self.only_b - d * d / n, 0.0)) / n

    @property
    def p_value(self) -> float:
        """McNemar's exact test (two-sided): how often a fair coin tossed ``only_a + only_b``
        times would split at least this unevenly. 1.0 when the models never disagree."""
        tosses = self.only_a + self.only_b
        return 1.0 if tosses == 0 else float(binomtest(self.only_a, tosses, 0.5).pvalue)


def _as_right(values: object, name: str) -> torch.Tensor:
    """``values`` as a 1-D bool tensor (True: the model got that image right)."""
    if not isinstance(values, torch.Tensor) or values.dtype != torch.bool or values.dim() != 1:
        raise ConfigError(f"{name} must be a 1-D tensor of True/False, one per image (e.g. "
                          f"predicted == labels); got {type(values).__name__} "
                          f"{getattr(values, 'dtype', '')} {tuple(getattr(values, 'shape', ()))}")
    return values


def compare_paired(right_a: torch.Tensor, right_b: torch.Tensor) -> PairedComparison:
    """Count, image by image, which of two models gets each of the same images right."""
    right_a, right_b = _as_right(right_a, "right_a"), _as_right(right_b, "right_b")
    if right_a.shape != right_b.shape or len(right_a) == 0:
        raise ConfigError(f"right_a and right_b must cover the same images in the same order "
                          f"(and at least one); got {len(right_a)} and {len(right_b)}")
    return PairedComparison(both_right=int((right_a & right_b).sum()),
                            only_a=int((right_a & ~right_b).sum()),
                            only_b=int((~right_a & right_b).sum()),
                            both_wrong=int((~right_a & ~right_b).sum()))


def right_answers(model: nn.Module, batches: LabelledBatches) -> torch.Tensor:
    """True for every image of ``batches`` (in order) that ``model`` classifies right."""
    logits, labels = all_logits(model, batches)
    return logits.argmax(dim=1) == labels
