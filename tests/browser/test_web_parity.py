"""The web page's JavaScript pipeline against Python's, in headless Chromium.

The same decoded pixels (uint8 arrays made in Python, so no two image decoders are compared)
go through ``web/src/preprocess.js`` in the page and through
:func:`mnist_helpers.preprocess.preprocess_image`: MNIST test digits (white on black, and
inverted to dark on light), the package's 30 sample images, strokes drawn as the canvas
widget draws them, a photo larger than the work size and a colour one.

* The 28×28 inputs must agree within ``PIXEL_TOLERANCE``: the JavaScript carries over PIL's
  fixed-point resampling (Pillow 13's order of passes), scipy's filters and numpy's float32
  and rounding rules, so only the last bits of a float may differ (measured: none do).
* With the float model (``?model=float``: the same network as PyTorch's), every reading (the
  digit, or the kind of refusal) must be the one :func:`mnist_helpers.predict.predict_image`
  gives. The page's default int8 model is compared too, and its agreement printed.

Run with ``make test-browser`` (or ``MNIST_BROWSER_TEST=1 pytest tests/browser``) after
``make web``; like the widget test it needs ``/usr/bin/chromium`` and ``playwright``.
"""

from __future__ import annotations

import base64
import os
import statistics
from pathlib import Path

import numpy as np
import pytest

if os.environ.get("MNIST_BROWSER_TEST") != "1":
    pytest.skip("browser test: run `make test-browser` (or set MNIST_BROWSER_TEST=1)",
                allow_module_level=True)

from web_cases import parity_cases, reading_kind, served_web, web_page  # noqa: E402

from mnist_helpers.checkpoint import load_checkpoint  # noqa: E402
from mnist_helpers.config import shipped_checkpoint_path  # noqa: E402
from mnist_helpers.predict import Prediction, Refusal, predict_image  # noqa: E402

#: Largest difference allowed between a pixel of the two 28×28 inputs (0..1): float64
#: rounding, nothing more. A different crop, fit or centring moves whole strokes, and a
#: different 8-bit rounding moves pixels by 1/255 = 0.004 or more.
PIXEL_TOLERANCE = 1e-6
#: Least number of pictures compared (the issue asks for at least 40).
LEAST_CASES = 40

READ_IN_PAGE = """async ([width, height, channels, encoded]) => {
  const data = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  return window.mnist.readPicture({ width, height, channels, data });
}"""


def log(message: str) -> None:
    print(f"[web parity] {message}", flush=True)


def page_readings(page: object, cases: dict[str, np.ndarray]) -> dict[str, dict]:
    """What the page's ``readPicture`` says about every picture."""
    results = {}
    for name, pixels in cases.items():
        height, width = pixels.shape[:2]
        channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        encoded = base64.b64encode(np.ascontiguousarray(pixels).tobytes()).decode()
        results[name] = page.evaluate(READ_IN_PAGE, [width, height, channels, encoded])  # type: ignore[attr-defined]
    return results


@pytest.fixture(scope="module")
def python_readings(mnist_raw_dir: Path) -> tuple[dict[str, np.ndarray], dict[str, Prediction]]:
    """The pictures, and what ``predict_image`` with the shipped model says about each."""
    cases = parity_cases(mnist_raw_dir)
    model, info = load_checkpoint(shipped_checkpoint_path(), "cpu")
    refusal = Refusal.from_metadata(info.metadata)
    return cases, {name: predict_image(model, pixels, name, refusal)
                   for name, pixels in cases.items()}


def test_page_prepares_and_reads_like_python(python_readings: tuple) -> None:
    cases, expected = python_readings
    assert len(cases) >= LEAST_CASES
    with served_web() as url, web_page(f"{url}?model=float") as page:
        got = page_readings(page, cases)
        times = page.evaluate("window.mnist.times")
    differences, probability_gaps, mismatched = [], [], []
    for name, prediction in expected.items():
        result = got[name]
        if result["pixels"] is not None:
            pixels = np.asarray(result["pixels"]).reshape(28, 28)
            differences.append(float(np.abs(pixels - prediction.pixels).max()))
            gap = np.abs(np.asarray(result["probabilities"][:10]) - prediction.probabilities)
            probability_gaps.append(float(gap.max()))
        else:
            assert prediction.probabilities is None, f"{name}: only the page found no ink"
        if (result["digit"], reading_kind(result["reason"])) != (
                prediction.digit, reading_kind(prediction.reason)):
            mismatched.append(f"{name}: page {result['digit']} {result['reason']!r}, "
                              f"Python {prediction.digit} {prediction.reason!r}")
    identical = sum(d == 0 for d in differences)
    log(f"{len(cases)} pictures, {len(differences)} with ink; 28x28 inputs: largest "
        f"difference {max(differences):.3g}, median {statistics.median(differences):.3g}, "
        f"{identical} identical to the last bit")
    log(f"readings (float model): {len(cases) - len(mismatched)} of {len(cases)} identical; "
        f"largest difference of a digit's probability from PyTorch's {max(probability_gaps):.1e}")
    log(f"median time per reading in the page: {statistics.median(times):.1f} ms "
        f"({len(times)} readings)")
    assert max(differences) <= PIXEL_TOLERANCE
    assert not mismatched, "\n".join(mismatched)


def test_int8_model_reads_like_python(python_readings: tuple) -> None:
    """The page's default model is the int8 copy: its readings, compared with PyTorch's."""
    cases, expected = python_readings
    with served_web() as url, web_page(url) as page:
        assert page.evaluate("window.mnist.model") == "model_int8.onnx"
        got = page_readings(page, cases)
    same = [name for name, prediction in expected.items()
            if (got[name]["digit"], reading_kind(got[name]["reason"]))
            == (prediction.digit, reading_kind(prediction.reason))]
    log(f"readings (int8 model): {len(same)} of {len(cases)} identical to PyTorch's; "
        f"different: {sorted(set(expected) - set(same)) or 'none'}")
    # Quantisation moves probabilities a little: a picture near the refusal threshold may
    # fall the other way, but the digits of clear pictures do not change.
    assert len(same) >= 0.95 * len(cases)
