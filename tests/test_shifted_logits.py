"""Test-time augmentation's shifted copies: each copy is the image moved, read by the model."""

from __future__ import annotations

import torch

from mnist_helpers.data import TensorBatches
from mnist_helpers.evaluate import SHIFTS, all_logits, shifted_logits
from mnist_helpers.models import build_model


def test_each_shift_is_the_model_on_the_moved_images(test_tensors):
    torch.manual_seed(0)
    model = build_model("fast_cnn")
    batches = TensorBatches(test_tensors.subset(slice(0, 50)), 20)  # three batches, the last short
    logits = shifted_logits(model, batches)
    assert logits.shape == (len(SHIFTS), 50, 10)
    unshifted, _ = all_logits(model, batches)
    assert torch.equal(logits[0], unshifted)  # SHIFTS starts with the image itself
    images, _ = batches.dataset.batch(list(range(50)))
    down = model.eval()(torch.roll(images, (1, 0), dims=(2, 3))).detach()
    assert torch.allclose(logits[SHIFTS.index((1, 0))], down, atol=1e-5)
    # A real digit moved by one pixel is a different input: its logits change.
    assert not torch.allclose(logits[1], logits[0])


def test_only_the_shifts_asked_for_are_read(test_tensors):
    model = build_model("logistic")
    batches = TensorBatches(test_tensors.subset(slice(0, 8)), 8)
    assert shifted_logits(model, batches, shifts=[(0, 2)]).shape == (1, 8, 10)
