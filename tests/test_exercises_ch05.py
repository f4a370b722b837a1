"""Notebook 05's exercise checks: a right answer passes, the typical wrong ones fail with the
hint that fits them."""

from __future__ import annotations

import pytest
import torch

from mnist_helpers.exercises import NOT_WRITTEN
from mnist_helpers.exercises.ch05 import check_expected_calibration_error, check_layer_output

# --- the expected calibration error by hand ---------------------------------------------------


def ece(probabilities, labels, bins=10):
    confidence, predicted = probabilities.max(dim=1)
    right = (predicted == labels).double()
    which = (confidence * bins).long().clamp(max=bins - 1)  # 1.0 goes in the last bin
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            gap = confidence[inside].mean() - right[inside].mean()
            total += float(inside.double().mean() * gap.abs())
    return total


def ece_bincount(probabilities, labels, bins=10):
    confidence, predicted = probabilities.max(dim=1)
    which = torch.bucketize(confidence, torch.linspace(0, 1, bins + 1)[1:-1], right=True)
    # per bin: |sum of confidences - number right| / all = share of the bin × |its gap|
    gap = (torch.bincount(which, confidence, bins)
           - torch.bincount(which, (predicted == labels).double(), bins)).abs()
    return gap.sum() / len(labels)  # a one-element tensor is fine too


@pytest.mark.parametrize("answer", [ece, ece_bincount])
def test_a_right_ece_passes(answer, capsys):
    assert check_expected_calibration_error(answer) is True
    assert capsys.readouterr().out == "✓ expected calibration error\n"


def unweighted(probabilities, labels, bins=10):
    confidence, predicted = probabilities.max(dim=1)
    right = (predicted == labels).double()
    which = (confidence * bins).long().clamp(max=bins - 1)
    gaps = [(confidence[which == b].mean() - right[which == b].mean()).abs()
            for b in range(bins) if (which == b).any()]
    return float(torch.stack(gaps).mean())


def overall(probabilities, labels, bins=10):
    confidence, predicted = probabilities.max(dim=1)
    return float((confidence.mean() - (predicted == labels).double().mean()).abs())


def signed(probabilities, labels, bins=10):
    confidence, predicted = probabilities.max(dim=1)
    right = (predicted == labels).double()
    which = (confidence * bins).long().clamp(max=bins - 1)
    return abs(sum(float((which == b).double().mean() * (confidence[which == b].mean()
                                                          - right[which == b].mean()))
                   for b in range(bins) if (which == b).any()))


def no_clamp(probabilities, labels, bins=10):
    confidence, predicted = probabilities.max(dim=1)
    which = (confidence * bins).long()  # 1.0 lands in a bin that does not exist
    counts = torch.zeros(bins).index_add_(0, which, torch.ones(len(which)))
    return float(counts.sum())


def not_written(probabilities, labels, bins=10):
    raise NotImplementedError


@pytest.mark.parametrize("wrong, hint", [
    (unweighted, "weigh each bin by its share"),
    (overall, "must not cancel"),
    (signed, "must not cancel"),
    (lambda p, y, bins=10: 100 * ece(p, y, bins), "not a percentage"),
    (no_clamp, "last bin"),
    (lambda p, y, bins=10: ece(p, y), "with 7 bins"),  # ignores bins
    (lambda p, y: ece(p, y), "calling it that way failed"),
    (lambda p, y, bins=10: [0.1, 0.2], "return one number"),
    (not_written, NOT_WRITTEN + "\n"),
])
def test_a_wrong_ece_fails_with_its_hint(wrong, hint, capsys):
    assert check_expected_calibration_error(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ expected calibration error") and hint in out
    assert hint != NOT_WRITTEN + "\n" or out.endswith(hint), "no other hint added"


# --- a forward hook -----------------------------------------------------------------------------


def layer_output(model, layer, images):
    caught = []
    handle = layer.register_forward_hook(lambda _module, _inputs, output: caught.append(output))
    try:
        model(images)
    finally:
        handle.remove()
    return caught[0]


def test_a_right_hook_passes(capsys):
    assert check_layer_output(layer_output) is True
    assert capsys.readouterr().out == "✓ a layer's output, caught by a forward hook\n"


def hook_left_behind(model, layer, images):
    caught = []
    layer.register_forward_hook(lambda _module, _inputs, output: caught.append(output))
    model(images)
    return caught[0]


def layer_input(model, layer, images):
    caught = []
    handle = layer.register_forward_pre_hook(lambda _module, inputs: caught.append(inputs[0]))
    model(images)
    handle.remove()
    return caught[0]


def whole_network(model, layer, images):
    return model(images)


@pytest.mark.parametrize("wrong, hint", [
    (hook_left_behind, ".remove()"),
    (layer_input, "not the layer's input"),
    (whole_network, "what the whole network outputs"),
    (lambda model, layer, images: None, "not a NoneType"),
    (lambda model, images: model(images), "calling it that way failed"),
])
def test_a_wrong_hook_fails_with_its_hint(wrong, hint, capsys):
    assert check_layer_output(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ a layer's output") and hint in out

