"""Checks for notebooks 05a's and 05b's exercises: a forward hook that returns what one layer of
a network outputs (05a), and the expected calibration error written by hand (05b).

Each check runs what the learner wrote on inputs it makes itself (drawn with a fixed seed,
without touching the learner's own random numbers) and compares the answer with the
package's :func:`mnist_helpers.calibration.reliability` or with the network's layers run one
after the other, never with a number typed in here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..calibration import reliability
from ..models import build_model
from . import number, raised, verdict

ECE = "expected calibration error"
HOOK = "a layer's output, caught by a forward hook"


def _predictions(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Test predictions over 10 classes and their labels: 1,000 over-confident ones, 1,000
    timid ones (right more often than they say), and 50 sure ones (a confidence of 1.0)."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(10, (2050,), generator=generator)
    logits = torch.randn(2050, 10, generator=generator, dtype=torch.float64)
    logits[torch.arange(2050), labels] += 2.5 * torch.rand(2050, generator=generator,
                                                          dtype=torch.float64)
    logits[:1000] *= 3  # sharper than its accuracy warrants
    logits[1000:2000, :] *= 0.6
    logits[torch.arange(1000, 2000), labels[1000:2000]] += 1.5  # flatter than it should be
    probabilities = torch.softmax(logits, dim=1)
    probabilities[-50:] = torch.nn.functional.one_hot(labels[-50:], 10).double()
    return probabilities, labels


def _ece_variants(probabilities: torch.Tensor, labels: torch.Tensor, bins: int
                  ) -> dict[str, float]:
    """The typical wrong answers, each computed here, with the hint that fits it."""
    diagram = reliability(probabilities, labels, bins)
    used = diagram.count > 0
    gaps = diagram.confidence - diagram.accuracy
    confidence, predicted = probabilities.max(dim=1)
    right = (predicted == labels).double()
    return {
        "weigh each bin by its share of the predictions (count / total), not every bin the "
        "same": float(gaps[used].abs().mean()),
        # the same number as the signed gaps added up: the whole set's gap
        "take each bin's gap (mean confidence − share right) apart and add their absolute "
        "values: over- and under-confident bins must not cancel, as they do over all the "
        "predictions at once": float((confidence.mean() - right.mean()).abs()),
    }


def check_expected_calibration_error(
        expected_calibration_error: Callable[..., object]) -> bool:
    """Right if ``expected_calibration_error(probabilities, labels, bins=10)`` gives the
    package's ECE (equal-width bins of the largest probability, a confidence of 1.0 in the
    last bin) on two seeded sets of predictions, with 10 and with 7 bins."""
    for seed, bins in ((5, 10), (6, 7)):
        probabilities, labels = _predictions(seed)
        try:
            answer = number(expected_calibration_error(probabilities.clone(), labels.clone(),
                                                       bins=bins))
        except TypeError as error:
            return verdict(False, ECE, "define it as expected_calibration_error(probabilities, "
                           f"labels, bins=10); calling it that way failed: {error}")
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            hint = raised(error, "your function")
            if isinstance(error, IndexError) or type(error) is RuntimeError:
                hint += (" (a confidence of exactly 1.0 belongs in the last bin: clamp the "
                         "bin number to bins - 1)")
            return verdict(False, ECE, hint)
        expected = reliability(probabilities, labels, bins).expected_calibration_error
        if answer is None:
            return verdict(False, ECE, "return one number (a float, or a one-element tensor)")
        if abs(answer - expected) <= 1e-5:
            continue
        why = next((why for why, value in _ece_variants(probabilities, labels, bins).items()
                    if abs(answer - value) <= 1e-5), None)
        if why is None and abs(answer - 100 * expected) <= 1e-3:
            why = "give a fraction between 0 and 1, not a percentage"
        if why is None:
            why = ("per bin: |mean confidence − share right| × (predictions in the bin / all "
                   "predictions), summed over the bins; a bin is [k/bins, (k+1)/bins), and a "
                   "confidence of 1.0 goes in the last one")
        return verdict(False, ECE, f"{why} (with {bins} bins: you gave {answer:.5f}, the "
                       f"package gives {expected:.5f})")
    return verdict(True, ECE, "")


def _network() -> tuple[nn.Module, torch.Tensor]:
    """A fast_cnn with seeded random weights, in evaluation mode, and 4 seeded images."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        model = build_model("fast_cnn").eval()
        images = torch.randn(4, 1, 28, 28)
    return model, images


def _expected_outputs(model: nn.Module, images: torch.Tensor) -> list[tuple[nn.Module, str,
                                                                           torch.Tensor]]:
    """(layer, its name, what it outputs) for three layers, found by running the network's
    layers one after the other by hand."""
    features = model.get_submodule("features")
    assert isinstance(features, nn.Sequential)  # as every CNN of this package has
    found, x = [], images
    with torch.no_grad():
        for i, layer in enumerate(features):
            x = layer(x)
            if i in (0, 3):
                found.append((layer, f"model.features[{i}]", x.clone()))
        found.append((model.get_submodule("classifier.0"), "model.classifier[0]", x.flatten(1)))
    return found


def check_layer_output(layer_output: Callable[..., object]) -> bool:
    """Right if ``layer_output(model, layer, images)`` returns what ``layer`` outputs when
    ``model`` runs on ``images`` (checked on three layers of a seeded fast_cnn), and removes
    its hook afterwards."""
    model, images = _network()
    for layer, name, expected in _expected_outputs(model, images):
        try:
            answer = layer_output(model, layer, images.clone())
        except TypeError as error:
            return verdict(False, HOOK, "define it as layer_output(model, layer, images); "
                           f"calling it that way failed: {error}")
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, HOOK, raised(error, "your function"))
        if layer._forward_hooks or layer._forward_pre_hooks:
            layer._forward_hooks.clear()
            layer._forward_pre_hooks.clear()
            return verdict(False, HOOK, "remove the hook when you are done (keep what "
                           "register_forward_hook returns and call its .remove()): a hook "
                           "left behind runs on every later call of the network")
        if not isinstance(answer, torch.Tensor):
            return verdict(False, HOOK, "return the tensor the hook caught (the hook's third "
                           f"argument, output), not a {type(answer).__name__}")
        if answer.shape == expected.shape and torch.allclose(answer.detach(), expected,
                                                             atol=1e-5):
            continue
        with torch.no_grad():
            scores = model(images)
        if answer.shape == scores.shape and torch.allclose(answer.detach(), scores, atol=1e-5):
            hint = ("that is what the whole network outputs (its scores); return what the hook "
                    "saw: its third argument, output")
        else:
            hint = ("register a hook with layer.register_forward_hook(hook), where hook(module, "
                    "inputs, output) keeps output; run model(images); remove the hook; return "
                    "what it kept (not the layer's input, which is what it received)")
        return verdict(False, HOOK, f"{hint} (on {name}: expected a tensor of shape "
                       f"{tuple(expected.shape)}, got {tuple(answer.shape)})")
    return verdict(True, HOOK, "")
