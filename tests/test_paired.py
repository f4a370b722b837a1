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
from mnist_helpers.lab.paired import compare_paired, right_answers


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
