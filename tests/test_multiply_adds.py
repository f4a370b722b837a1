"""Counting a network's arithmetic: the multiply-adds PyTorch counts are the textbook formula's."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mnist_helpers import build_model
from mnist_helpers.models import count_multiply_adds


def test_a_convolution_and_a_linear_layer_count_as_the_formula_says():
    """A conv does c_in·k·k multiply-adds per output value; a linear layer one per weight."""
    model = nn.Sequential(nn.Conv2d(1, 4, kernel_size=3), nn.Flatten(), nn.Linear(4 * 26 * 26, 10))
    assert count_multiply_adds(model) == 4 * 26 * 26 * (1 * 3 * 3) + 4 * 26 * 26 * 10


def test_classic_cnn_does_most_of_its_arithmetic_in_conv2():
    """The claim notebook 02 prints: parameters in fc1, arithmetic in conv2."""
    conv2 = 64 * 24 * 24 * 32 * 3 * 3
    total = count_multiply_adds(build_model("classic_cnn"))
    assert total == 32 * 26 * 26 * 9 + conv2 + 9216 * 128 + 128 * 10
    assert conv2 > total / 2


def test_the_count_grows_with_the_batch_and_keeps_the_mode():
    model = build_model("fast_cnn").train()
    running = model.features[0][1].running_mean.clone()
    one = count_multiply_adds(model)
    assert count_multiply_adds(model, (3, 1, 28, 28)) == 3 * one
    assert model.training, "the model's mode is restored"
    assert torch.equal(model.features[0][1].running_mean, running), "batch norm is not updated"
    count_multiply_adds(model.eval())
    assert not model.training, "an evaluating model stays evaluating"


def test_what_is_not_a_network_is_refused_by_name():
    with pytest.raises(TypeError, match="model must be an nn.Module, not str"):
        count_multiply_adds("fast_cnn")
