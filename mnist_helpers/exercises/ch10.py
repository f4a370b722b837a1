"""Checks for notebook 10's exercises: 8-bit quantisation of numbers by hand, and reading the
exported model's logits the way the package does (classes and refusal threshold from the
metadata that travels beside the ONNX file).

Each check runs what the learner wrote on inputs it makes itself (seeded, so every run asks the
same) and compares the answer with PyTorch (``torch.fake_quantize_per_tensor_affine``, which
rounds as ONNX's QuantizeLinear does) or with the package (:func:`mnist_helpers.predict.decide`),
never with a number typed in here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..config import CLASS_NAMES
from ..predict import Refusal, decide
from . import raised, verdict

QUANTIZE = "8-bit quantisation"
READING = "readings from the ONNX file's logits"
#: The int8 range: the integers one byte holds.
INT8_LOW, INT8_HIGH = -128, 127


def _quantize_cases() -> list[tuple[torch.Tensor, float, int]]:
    """(values, scale, zero point) cases: weights (symmetric, zero point 0), activations after
    a ReLU (zero point -128), values past the range (clipped), and exact halves (ties)."""
    generator = torch.Generator().manual_seed(10)
    weights = 0.3 * torch.randn(200, generator=generator)
    activations = 2.0 * torch.rand(200, generator=generator)
    return [
        (weights, float(weights.abs().max()) / 127, 0),
        (activations, float(activations.max()) / 255, INT8_LOW),
        (torch.tensor([-3.0, -1.0, 0.0, 1.0, 3.0]), 1 / 64, 0),  # past ±2: clipped
        (torch.tensor([0.25, 0.75, 1.25, -0.25, -0.75]), 0.5, 0),  # x / scale = ±0.5, ±1.5, 2.5
    ]


def _expected_int8(values: torch.Tensor, scale: float, zero_point: int) -> torch.Tensor:
    """The integers PyTorch's fake quantisation stands for: it returns (q - zero_point) * scale,
    so q is recovered exactly by dividing by the scale and adding the zero point back."""
    fake = torch.fake_quantize_per_tensor_affine(values, scale, zero_point, INT8_LOW, INT8_HIGH)
    return torch.round(fake / scale + zero_point).to(torch.int64)


def _as_integers(answer: Any, n: int) -> torch.Tensor | None:
    """The answer as a 1-D int64 tensor of ``n`` whole numbers, else None."""
    try:
        tensor = torch.as_tensor(answer).detach().flatten()
    except (TypeError, ValueError, RuntimeError):
        return None
    if tensor.numel() != n or tensor.is_complex() or not torch.equal(tensor, tensor.round()):
        return None
    return tensor.to(torch.int64)


def _quantize_hint(got: torch.Tensor, values: torch.Tensor, scale: float,
                   zero_point: int) -> str:
    """What a wrong quantisation most likely got wrong."""
    x = values.double() / scale
    unclipped = torch.round(x) + zero_point
    if (got < INT8_LOW).any() or (got > INT8_HIGH).any():
        return (f"some of your integers are outside {INT8_LOW}..{INT8_HIGH}, which one byte "
                "cannot hold: clip them (torch.clamp)")
    if torch.equal(got, torch.clamp(torch.round(x) - zero_point, INT8_LOW, INT8_HIGH).long()):
        return "the zero point is added to value / scale, not subtracted"
    if torch.equal(got, torch.clamp(torch.floor(x + 0.5) + zero_point, INT8_LOW,
                                    INT8_HIGH).long()):
        return ("halves are rounded up here; ONNX's QuantizeLinear rounds them to the even "
                "neighbour, as torch.round and Python's round() do")
    if torch.equal(got, torch.clamp(torch.trunc(x) + zero_point, INT8_LOW, INT8_HIGH).long()) \
            or torch.equal(got, torch.clamp(torch.floor(x) + zero_point, INT8_LOW,
                                            INT8_HIGH).long()):
        return "round to the nearest integer (torch.round), not towards zero or down"
    if torch.equal(got, unclipped.long()):
        return f"clip the integers to {INT8_LOW}..{INT8_HIGH}"
    return "q = clamp(round(value / scale) + zero_point, -128, 127)"


def check_quantize(quantize: Callable[..., object]) -> bool:
    """Right if ``quantize(values, scale, zero_point)`` returns the int8 integers ONNX stores
    for ``values``: round(value / scale) + zero_point, clipped to -128..127, halves to even."""
    for values, scale, zero_point in _quantize_cases():
        try:
            answer = quantize(values.clone(), scale, zero_point)
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, QUANTIZE, raised(error, "your function"))
        expected = _expected_int8(values, scale, zero_point)
        got = _as_integers(answer, len(values))
        if got is None:
            floats = torch.as_tensor(answer) if isinstance(answer, torch.Tensor) else None
            if floats is not None and floats.numel() == len(values) and torch.allclose(
                    floats.double(), ((expected - zero_point) * scale).double(), atol=1e-6):
                return verdict(False, QUANTIZE, "those are the dequantised values (q - zero "
                               "point) * scale: return the integers q themselves")
            return verdict(False, QUANTIZE, f"return {len(values)} whole numbers, one per "
                           "value (a tensor of integers)")
        if not torch.equal(got, expected):
            where = int((got != expected).nonzero()[0])
            return verdict(False, QUANTIZE, f"{_quantize_hint(got, values, scale, zero_point)} "
                           f"(value {float(values[where]):.4g}, scale {scale:.4g}, zero point "
                           f"{zero_point}: you gave {int(got[where])}, it is "
                           f"{int(expected[where])})")
    return verdict(True, QUANTIZE, "")


def _logit_cases() -> torch.Tensor:
    """Rows of 12 logits (ten digits, "not a digit", "two digits"): clear digits, doubtful
    ones below the threshold, and rows where one of the last two classes comes first."""
    generator = torch.Generator().manual_seed(10)
    rows = torch.randn(300, len(CLASS_NAMES), generator=generator) * torch.linspace(
        0.3, 6.0, 300).unsqueeze(1)
    rows[::7, 10] += 8.0  # "not a digit" on top
    rows[3::11, 11] += 8.0  # "two digits" on top
    return rows


def _metadata(threshold: float) -> dict:
    """The part of an exported model's metadata that says how to read its outputs."""
    return {"classes": list(CLASS_NAMES), "refusal_threshold": threshold}


def _reading_hint(got: list, logits: torch.Tensor, threshold: float) -> str:
    """What a wrong list of readings most likely got wrong."""
    probabilities = torch.softmax(logits.double(), dim=1)
    if any(g in (10, 11) for g in got):
        return ('10 and 11 are not digits: they are the classes "not a digit" and "two '
                'digits" (metadata["classes"]); when one of them comes first, the answer is None')
    digits_only = [decide(torch.softmax(row[:10].double(), 0).tolist(), Refusal(threshold))[0]
                   for row in logits]
    if got == digits_only:
        return ("the softmax goes over all 12 outputs: the last two take their share of the "
                "probability, and they can beat every digit")
    no_threshold = [decide(p.tolist())[0] for p in probabilities]
    if got == no_threshold:
        return ('a digit whose probability is below metadata["refusal_threshold"] is refused '
                "(None) too")
    on_logits = [None if int(row[:10].argmax()) != int(row.argmax()) or float(row.max())
                 < threshold else int(row.argmax()) for row in logits]
    if got == on_logits:
        return "the threshold is a probability: compare it with the softmax, not the logits"
    return ("softmax over the 12 logits; the most likely digit, unless class 10 or 11 has more "
            "probability (None), or the digit's probability is below the threshold (None)")


def check_readings(read: Callable[..., object]) -> bool:
    """Right if ``read(logits, metadata)`` turns rows of 12 logits into what the package reads:
    a digit (an int), or None where :func:`mnist_helpers.predict.decide` refuses."""
    logits = _logit_cases()
    for threshold in (0.405, 0.7):
        metadata = _metadata(threshold)
        expected = [decide(p.tolist(), Refusal(threshold))[0]
                    for p in torch.softmax(logits.double(), dim=1)]
        try:
            answer = read(logits.clone(), dict(metadata, classes=list(metadata["classes"])))
        except Exception as error:  # noqa: BLE001 - the learner's code may raise anything
            return verdict(False, READING, raised(error, "your function"))
        try:
            got = [None if a is None else int(a) for a in answer]  # type: ignore[attr-defined]
        except (TypeError, ValueError):
            return verdict(False, READING, "return a list: one digit (or None) per row")
        if len(got) != len(expected):
            return verdict(False, READING, f"return one reading per row: {len(expected)} rows, "
                           f"you gave {len(got)}")
        if got != expected:
            wrong = sum(g != e for g, e in zip(got, expected, strict=True))
            return verdict(False, READING, f"{_reading_hint(got, logits, threshold)} ({wrong} "
                           f"of {len(expected)} rows differ, threshold {threshold})")
    return verdict(True, READING, "")
