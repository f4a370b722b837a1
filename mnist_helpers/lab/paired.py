"""Two models compared on the same test images: McNemar's exact test and the interval of their
difference in accuracy.

Images both models get right, or both get wrong, say nothing about which is better; only the
images exactly one of them gets right do. If the two were equally good, each such image would be
A's or B's with probability 1/2, like a fair coin, so the number that only A gets right follows
a binomial distribution with ``only_a + only_b`` tosses and probability 1/2 (McNemar's test, in
its exact form: ``scipy.stats.binomtest``).

Two *recipes* are compared over several random seeds: one network of each per seed. Notebooks
07a's and 07c's tables of them come from :func:`answer_summary`, :func:`seed_by_seed_rows`,
:func:`seed_by_seed_verdicts` and :func:`seed_ranges`, which only format what the notebook
computed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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


def percent(flags: torch.Tensor) -> float:
    """The share of True in ``flags``, in %, counted exactly (hits × 100 / images), so that a
    table and a line that print the same share round it alike."""
    return 100 * int(flags.sum()) / len(flags)


def answer_summary(confidence: torch.Tensor, right: torch.Tensor) -> dict[str, str]:
    """One network's answers as a table row, in %: the median ``confidence`` (the probability
    of each answer), the share above 99% with its count, and the share ``right``. Each is a
    string with two decimals, so that every row prints alike (91.50, not 91.5; 0.00, not 0);
    ``float()`` turns one back into a number."""
    above = confidence > 0.99
    return {"median confidence, %": f"{100 * float(confidence.median()):.2f}",
            "answers above 99%, % (count)":
                f"{percent(above):.2f} ({int(above.sum()):,})",
            "test accuracy, %": f"{percent(right):.2f}"}


def seed_ranges(what: str, values: Mapping[str, Sequence[float]], *, spec: str = "",
                apart: str = "the ranges do not overlap") -> str:
    """One line on two groups of runs (``values``: a name and one value per random seed each):
    each group's lowest to highest value, in the format ``spec``, then ``apart`` if the two
    ranges do not overlap, else that the random seeds cannot separate the groups."""
    if len(values) != 2:
        raise ConfigError(f"seed_ranges compares two groups; got {len(values)}: {list(values)}")
    first, second = values.values()
    separate = min(second) > max(first) or min(first) > max(second)
    ranges = ", ".join(f"{name} {min(v):{spec}} to {max(v):{spec}}" for name, v in values.items())
    return f"{what}: {ranges}: " + (
        apart if separate else "the ranges overlap: the random seeds cannot separate them")


def seed_by_seed_rows(results: Mapping[tuple[str, int], Mapping[str, Any]], seeds: Sequence[int],
                      tests: Sequence[str], a: str = "with", b: str = "without"
                      ) -> list[dict[str, object]]:
    """A table of two recipes ``a`` and ``b``, one row per random seed: each one's refusal
    threshold, then for each of ``tests`` each one's share right, the images only one of them
    gets right, and ``a`` − ``b`` in points with its paired 95% interval. ``results[name,
    seed]`` holds ``"threshold"`` and, for each test, True for every image handled right."""
    rows: list[dict[str, object]] = []
    for seed in seeds:
        in_a, in_b = results[a, seed], results[b, seed]
        row: dict[str, object] = {"seed": seed, f"threshold {b} / {a}":
                                  f"{in_b['threshold']:.3f} / {in_a['threshold']:.3f}"}
        for test in tests:
            c = compare_paired(in_a[test], in_b[test])
            row[f"{test}, % {b} / {a}"] = f"{percent(in_b[test]):.1f} / {percent(in_a[test]):.1f}"
            row[f"{test}: only {a} / only {b}"] = f"{c.only_a} / {c.only_b}"
            row[f"{test}: {a} − {b}, points"] = (
                f"{100 * c.difference:+.2f} (±{100 * c.half_width:.2f})")
        rows.append(row)
    return rows


def seed_by_seed_verdicts(results: Mapping[tuple[str, int], Mapping[str, Any]],
                          seeds: Sequence[int], tests: Sequence[str], a: str = "with",
                          b: str = "without") -> list[str]:
    """What :func:`seed_by_seed_rows`' table says, one line each: for every test, the training
    seeds whose paired 95% interval excludes 0; then each recipe's range of shares (%) over
    those seeds, and whether every seed of one recipe beats every seed of the other."""
    lines = []
    for test in tests:
        paired = {s: compare_paired(results[a, s][test], results[b, s][test]) for s in seeds}
        lines.append(f"{test}: the paired 95% interval excludes 0 in seeds "
                     f"{[s for s, c in paired.items() if abs(c.difference) > c.half_width]}")
    for test in tests:
        shares = {name: [percent(results[name, s][test]) for s in seeds]
                  for name in (b, a)}
        lines.append(seed_ranges(f"{test}, % over the random seeds", shares, spec=".1f",
                                 apart="every seed of one recipe beats every seed of the other"))
    return lines
