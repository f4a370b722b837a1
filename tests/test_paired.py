"""McNemar's test of two models on the same images: the four counts from real answers, the
p-value from scipy's exact binomial test, the interval of the difference, and one-line errors
for answers that cannot be paired."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import binomtest

from mnist_helpers import TensorBatches, evaluate
from mnist_helpers.errors import ConfigError
from mnist_helpers.lab.paired import (
    answer_summary,
    compare_paired,
    right_answers,
    seed_by_seed_rows,
    seed_by_seed_verdicts,
    seed_ranges,
)


def test_counts_p_value_and_interval_of_two_real_models(quick_model, test_tensors):
    batches = TensorBatches(test_tensors.subset(slice(0, 2000)), 500)
    right_a = right_answers(quick_model, batches)
    assert right_a.dtype == torch.bool and len(right_a) == 2000
    assert float(right_a.double().mean()) == pytest.approx(evaluate(quick_model, batches).accuracy)
    # Model B: the same answers, with 40 of A's right answers turned wrong and 15 wrong ones right.
    right_b = right_a.clone()
    right_b[right_a.nonzero().flatten()[:40]] = False
    right_b[(~right_a).nonzero().flatten()[:15]] = True
    paired = compare_paired(right_a, right_b)
    assert (paired.only_a, paired.only_b) == (40, 15)
    assert paired.images == 2000 and paired.both_right + paired.both_wrong == 2000 - 55
    assert paired.difference == pytest.approx(25 / 2000)
    assert paired.p_value == pytest.approx(binomtest(40, 55, 0.5).pvalue)
    assert paired.p_value < 0.01
    # The interval of the difference against a bootstrap of the same images.
    gaps = (right_a.double() - right_b.double()).numpy()
    picks = np.random.default_rng(0).integers(0, 2000, size=(4000, 2000))
    spread = 1.96 * gaps[picks].mean(axis=1).std()
    assert paired.half_width == pytest.approx(spread, rel=0.1)


def test_models_that_never_disagree():
    right = torch.tensor([True, False, True])
    paired = compare_paired(right, right.clone())
    assert (paired.only_a, paired.only_b, paired.p_value, paired.half_width) == (0, 0, 1.0, 0.0)


@pytest.mark.parametrize("right_a, right_b, message", [
    (torch.tensor([1.0, 0.0]), torch.tensor([True, False]), "right_a must be a 1-D tensor"),
    ([True, False], torch.tensor([True, False]), "right_a must be a 1-D tensor"),
    (torch.tensor([True, False]), torch.tensor([[True, False]]), "right_b must be a 1-D tensor"),
    (torch.tensor([True, False]), torch.tensor([True, False, True]), "same images"),
    (torch.tensor([], dtype=torch.bool), torch.tensor([], dtype=torch.bool), "at least one"),
])
def test_answers_that_cannot_be_paired_are_refused_in_one_line(right_a, right_b, message):
    with pytest.raises(ConfigError, match=message) as error:
        compare_paired(right_a, right_b)
    assert "\n" not in str(error.value)


def test_the_seed_by_seed_tables_format_what_they_are_given():
    """Notebook 07a's tables of two recipes over random seeds, from hand-made answers."""
    summary = answer_summary(torch.tensor([0.5, 0.995, 0.999, 0.9]),
                             torch.tensor([True, True, False, True]))
    # Every column with two decimals, a trailing 0 kept (the table prints 90.00, not 90.0).
    assert summary == {"median confidence, %": "90.00",
                       "answers above 99%, % (count)": "50.00 (2)", "test accuracy, %": "75.00"}
    assert seed_ranges("x", {"a": [1.0, 2.0], "b": [3.0, 4.0]}) == (
        "x: a 1.0 to 2.0, b 3.0 to 4.0: the ranges do not overlap")
    assert seed_ranges("x", {"a": [1.0, 3.5], "b": [3.0, 4.0]}, spec=".2f", apart="-").endswith(
        "a 1.00 to 3.50, b 3.00 to 4.00: the ranges overlap: the random seeds cannot separate them")
    with pytest.raises(ConfigError, match="compares two groups; got 1"):
        seed_ranges("x", {"a": [1.0]})
    every = torch.ones(100, dtype=torch.bool)
    fewer = every.clone()
    fewer[:30] = False  # 30 images only "with" gets right, in every seed
    results = {("with", s): {"threshold": 0.5, "t": every} for s in (0, 1)}
    results.update({("without", s): {"threshold": 0.25, "t": fewer} for s in (0, 1)})
    rows = seed_by_seed_rows(results, [0, 1], ["t"])
    # ± 1.96 × √(30 − 30²/100) / 100 images = 8.98 points
    assert rows[0] == {"seed": 0, "threshold without / with": "0.250 / 0.500",
                       "t, % without / with": "70.0 / 100.0",
                       "t: only with / only without": "30 / 0",
                       "t: with − without, points": "+30.00 (±8.98)"}
    assert seed_by_seed_verdicts(results, [0, 1], ["t"]) == [
        "t: the paired 95% interval excludes 0 in seeds [0, 1]",
        "t, % over the random seeds: without 70.0 to 70.0, with 100.0 to 100.0: every seed of one "
        "recipe beats every seed of the other"]


def test_a_table_and_its_lines_round_a_share_alike():
    """A share that falls on a rounding edge (1,219 of 2,000 = 60.95%) prints the same in the
    seed-by-seed table and in the lines under it: both count it exactly."""
    from mnist_helpers.lab.paired import percent

    edge = torch.zeros(2000, dtype=torch.bool)
    edge[:1219] = True
    assert percent(edge) == 60.95
    results = {(name, 0): {"threshold": 0.5, "t": edge} for name in ("with", "without")}
    table_share = seed_by_seed_rows(results, [0], ["t"])[0]["t, % without / with"].split(" / ")[0]
    line = seed_by_seed_verdicts(results, [0], ["t"])[1]
    assert f"without {table_share} to {table_share}" in line
