"""Notebook 10's exercise checks: a right answer passes, the typical wrong ones fail with the
hint that fits them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mnist_helpers.exercises.ch10 import check_quantize, check_readings

# --- 8-bit quantisation ------------------------------------------------------------------


def quantize_torch(values, scale, zero_point):
    return torch.clamp(torch.round(values / scale) + zero_point, -128, 127).to(torch.int8)


def quantize_python(values, scale, zero_point):
    # Python's round() also sends halves to the even neighbour.
    return [min(127, max(-128, round(v / scale) + zero_point)) for v in values.tolist()]


def quantize_numpy(values, scale, zero_point):
    return np.clip(np.rint(values.numpy() / scale) + zero_point, -128, 127).astype(np.int8)


@pytest.mark.parametrize("answer", [quantize_torch, quantize_python, quantize_numpy])
def test_right_quantisations_pass(answer, capsys):
    assert check_quantize(answer) is True
    assert capsys.readouterr().out == "✓ 8-bit quantisation\n"


def not_written(*args):
    raise NotImplementedError


@pytest.mark.parametrize("wrong, hint", [
    (lambda v, s, z: torch.round(v / s) + z, "outside -128..127"),
    (lambda v, s, z: torch.clamp(torch.round(v / s) - z, -128, 127), "not subtracted"),
    (lambda v, s, z: torch.clamp(torch.floor(v / s + 0.5) + z, -128, 127), "halves are rounded up"),
    (lambda v, s, z: torch.clamp(torch.trunc(v / s) + z, -128, 127), "not towards zero"),
    (lambda v, s, z: torch.clamp(torch.round(v * s) + z, -128, 127), "round(value / scale)"),
    (lambda v, s, z: (quantize_torch(v, s, z).float() - z) * s, "dequantised values"),
    (lambda v, s, z: quantize_torch(v, s, z)[:-1], "whole numbers, one per value"),
    (not_written, "not written yet"),
    (lambda v, s, z: v[len(v)], "raised IndexError"),
])
def test_wrong_quantisations_fail_with_their_hint(wrong, hint, capsys):
    assert check_quantize(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ 8-bit quantisation") and hint in out, out


def test_ties_go_to_the_even_integer_as_onnx_does():
    """The check's reference (PyTorch's fake quantisation) rounds 2.5 to 2 and 1.5 to 2."""
    values = torch.tensor([1.25, 0.75])
    fake = torch.fake_quantize_per_tensor_affine(values, 0.5, 0, -128, 127)
    assert fake.tolist() == [1.0, 1.0]


# --- readings from the logits ---------------------------------------------------------------


def read_right(logits, metadata):
    probabilities = torch.softmax(logits, dim=1)
    digits = len([c for c in metadata["classes"] if c.isdigit()])
    readings = []
    for p in probabilities:
        best = int(p[:digits].argmax())
        refused = p[digits:].max() > p[best] or p[best] < metadata["refusal_threshold"]
        readings.append(None if refused else best)
    return readings


def read_by_exp(logits, metadata):
    # Softmax by hand, in plain Python.
    readings = []
    for row in logits.tolist():
        top = max(row)
        exps = [math.exp(v - top) for v in row]
        p = [e / sum(exps) for e in exps]
        best = max(range(10), key=p.__getitem__)
        ok = max(p[10:]) <= p[best] and p[best] >= metadata["refusal_threshold"]
        readings.append(best if ok else None)
    return readings


@pytest.mark.parametrize("answer", [read_right, read_by_exp])
def test_right_readings_pass(answer, capsys):
    assert check_readings(answer) is True
    assert capsys.readouterr().out == "✓ readings from the ONNX file's logits\n"


def argmax_of_twelve(logits, metadata):
    return logits.argmax(dim=1).tolist()


def softmax_of_digits(logits, metadata):
    p = torch.softmax(logits[:, :10], dim=1)
    return [int(r.argmax()) if r.max() >= metadata["refusal_threshold"] else None for r in p]


def without_threshold(logits, metadata):
    return read_right(logits, dict(metadata, refusal_threshold=0.0))


def threshold_on_logits(logits, metadata):
    return [int(r.argmax()) if int(r.argmax()) < 10 and r.max() >= metadata["refusal_threshold"]
            else None for r in logits]


@pytest.mark.parametrize("wrong, hint", [
    (argmax_of_twelve, "10 and 11 are not digits"),
    (softmax_of_digits, "the softmax goes over all 12 outputs"),
    (without_threshold, "below metadata[\"refusal_threshold\"]"),
    (threshold_on_logits, "compare it with the softmax, not the logits"),
    (lambda logits, metadata: read_right(logits, metadata)[:-1], "one reading per row"),
    (lambda logits, metadata: 7, "return a list"),
    (not_written, "not written yet"),
    (lambda logits, metadata: metadata["threshold"], "raised KeyError"),
])
def test_wrong_readings_fail_with_their_hint(wrong, hint, capsys):
    assert check_readings(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("✗ readings from the ONNX file's logits") and hint in out, out
