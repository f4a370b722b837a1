"""The confusion matrix, its per-class accuracy, and the bootstrap that redraws the test set."""

from __future__ import annotations

import pytest
import torch

from mnist_helpers.errors import ConfigError
from mnist_helpers.evaluate import (
    bootstrap_confusion_matrices,
    confusion_matrix,
    per_class_accuracy,
)

LABELS = torch.tensor([0, 0, 1, 2, 2, 2, 1, 0])
PREDICTED = torch.tensor([0, 1, 1, 2, 0, 2, 1, 0])


def test_the_confusion_matrix_counts_true_rows_and_predicted_columns():
    cm = confusion_matrix(PREDICTED, LABELS, num_classes=3)
    by_hand = torch.zeros(3, 3, dtype=torch.int64)
    for true, guess in zip(LABELS.tolist(), PREDICTED.tolist(), strict=True):
        by_hand[true, guess] += 1
    assert torch.equal(cm, by_hand)
    assert cm[0, 1] == 1 and cm[1, 0] == 0  # a true 0 called 1; no true 1 called 0


def test_each_bootstrap_matrix_is_the_confusion_matrix_of_a_redrawn_test_set():
    cms = bootstrap_confusion_matrices(PREDICTED, LABELS, resamples=50, seed=3, num_classes=3)
    picks = torch.randint(len(LABELS), (50, len(LABELS)),
                          generator=torch.Generator().manual_seed(3))
    one_by_one = torch.stack([confusion_matrix(PREDICTED[p], LABELS[p], num_classes=3)
                              for p in picks])
    assert cms.shape == (50, 3, 3) and cms.dtype == torch.int64
    assert torch.equal(cms, one_by_one)
    assert (cms.sum(dim=(1, 2)) == len(LABELS)).all()  # as many images as the original
    assert len({tuple(cm.flatten().tolist()) for cm in cms}) > 1  # they differ from draw to draw


def test_the_bootstrap_repeats_for_a_seed_and_changes_with_it():
    first = bootstrap_confusion_matrices(PREDICTED, LABELS, resamples=20, seed=0)
    assert torch.equal(first, bootstrap_confusion_matrices(PREDICTED, LABELS, resamples=20,
                                                           seed=0))
    assert not torch.equal(first, bootstrap_confusion_matrices(PREDICTED, LABELS,
                                                               resamples=20, seed=1))


def test_redrawn_test_sets_average_to_the_original():
    """Over many redrawn sets, each cell's mean count is the original count (within 3%)."""
    labels = torch.arange(1000) % 10
    predicted = torch.where(torch.arange(1000) % 7 == 0, (labels + 1) % 10, labels)
    cms = bootstrap_confusion_matrices(predicted, labels, resamples=2000, seed=0)
    original = confusion_matrix(predicted, labels).double()
    assert torch.allclose(cms.double().mean(0), original, atol=0.03 * original.max())


def test_per_class_accuracy_of_a_stack_is_that_of_each_matrix():
    cms = bootstrap_confusion_matrices(PREDICTED, LABELS, resamples=5, num_classes=3)
    assert torch.equal(per_class_accuracy(cms), torch.stack([per_class_accuracy(cm)
                                                             for cm in cms]))
    cm = confusion_matrix(PREDICTED, LABELS, num_classes=3)
    assert per_class_accuracy(cm).tolist() == pytest.approx([2 / 3, 1.0, 2 / 3])


@pytest.mark.parametrize("predicted, labels, resamples, message", [
    (PREDICTED[:5], LABELS, 10, "same, non-zero length"),
    (PREDICTED[:0], LABELS[:0], 10, "same, non-zero length"),
    (PREDICTED.view(2, 4), LABELS.view(2, 4), 10, "must be 1-D"),
    (PREDICTED, LABELS, 0, "resamples must be at least 1, got 0"),
])
def test_the_bootstrap_names_a_bad_argument(predicted, labels, resamples, message):
    with pytest.raises(ConfigError, match=message):
        bootstrap_confusion_matrices(predicted, labels, resamples=resamples)
