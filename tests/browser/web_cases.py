"""Pictures the web page's tests hand to both pipelines, Python's and the page's JavaScript,
as the same decoded pixels (uint8 arrays), so that no image decoder can make them differ.

Shared by ``test_web_parity.py`` and ``test_web_page.py``; not a test module itself.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mnist_helpers.config import sample_images_dir
from mnist_helpers.drawing import arc
from mnist_helpers.images import rasterize_strokes

WEB = Path(__file__).resolve().parents[2] / "web"
CANVAS = 280  # the page's canvas, in pixels: rasterize_strokes' default size
#: What ``make web`` puts beside the page.
BUILT = ("model.onnx", "model.json", "model_int8.onnx", "model_int8.json", "ort.wasm.min.mjs",
         "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
#: Chromium as the widget test (test_notebook_widgets.py) runs it.
CHROMIUM = os.environ.get("MNIST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MS = 1000  # Playwright counts in milliseconds

#: Digits (and a letter) as a hand draws them on the page's canvas, in canvas pixels.
STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "stroke_1": [[(150, 50), (140, 230)]],
    "stroke_7": [[(80, 60), (200, 60), (120, 230)]],
    "stroke_0": [arc(140, 140, 60, 90, 0, 360, 40)],
    "stroke_2": [arc(140, 100, 55, 45, 180, 360, 20) + [(90, 220), (200, 220)]],
    "stroke_3": [arc(135, 95, 50, 40, 200, 450, 20) + arc(135, 175, 55, 45, 270, 520, 20)],
    "stroke_4": [[(170, 230), (170, 50), (80, 170), (210, 170)]],
    "stroke_6": [[(180, 50), (100, 140)] + arc(140, 175, 45, 45, 200, 560, 30)],
    "stroke_9": [arc(140, 95, 45, 40, 0, 360, 30) + [(185, 95), (175, 230)]],
    "stroke_A": [[(80, 230), (140, 50), (200, 230)], [(105, 160), (175, 160)]],
    "stroke_plus": [[(140, 40), (140, 240)], [(40, 140), (240, 140)]],
}


def mnist_test_digits(raw: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` MNIST test images (uint8, white on black) and their labels."""
    with gzip.open(raw / "t10k-images-idx3-ubyte.gz") as images:
        pixels = np.frombuffer(images.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(raw / "t10k-labels-idx1-ubyte.gz") as labels:
        digits = np.frombuffer(labels.read(), np.uint8, offset=8)
    return pixels[:count].copy(), digits[:count].copy()


def stroke_pixels(strokes: list[list[tuple[float, float]]]) -> np.ndarray:
    """Strokes drawn as the canvas widget draws them (``rasterize_strokes``), as uint8."""
    return np.round(rasterize_strokes(strokes, CANVAS) * 255).astype(np.uint8)


def parity_cases(raw: Path, mnist_count: int = 12) -> dict[str, np.ndarray]:
    """Named pictures (uint8: H×W grey or H×W×3 colour): MNIST test digits white on black
    and inverted, the 30 sample images, strokes drawn on a canvas, a large photo (shrunk to
    256 pixels first) and a colour one."""
    cases: dict[str, np.ndarray] = {}
    pixels, labels = mnist_test_digits(raw, mnist_count)
    for index, (digit, label) in enumerate(zip(pixels, labels, strict=True)):
        cases[f"mnist_{index}_{label}"] = digit
        cases[f"mnist_{index}_{label}_inverted"] = 255 - digit
    for path in sorted(sample_images_dir().glob("*.png")):
        cases[f"sample_{path.stem}"] = np.asarray(Image.open(path).convert("L"))
    for name, strokes in STROKES.items():
        cases[name] = stroke_pixels(strokes)
    photo = Image.open(sample_images_dir() / "photo_4.png").convert("L")
    cases["large_photo_4"] = np.asarray(photo.resize((700, 620), Image.Resampling.BICUBIC))
    grey = np.asarray(Image.open(sample_images_dir() / "pen_8.png").convert("L"), np.float64)
    ink = 1 - grey / 255  # blue ink on cream paper
    colour = np.stack([250 - 220 * ink, 240 - 190 * ink, 215 - 60 * ink], axis=-1)
    cases["colour_pen_8"] = np.round(colour).astype(np.uint8)
    return cases


def reading_kind(reason: str | None) -> str | None:
    """What kind of answer a reason is, without its percentages: None (a digit), "no ink",
    "two digits", "not a digit" (by class) or "unlikely" (below the threshold)."""
    if reason is None:
        return None
    for words, kind in (("no ink", "no ink"), ("two digits", "two digits"),
                        ("sure it is not", "not a digit"), ("likely enough", "unlikely")):
        if words in reason:
            return kind
    return reason


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves web/ without a line per request."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, directory=str(WEB), **kwargs)  # type: ignore[arg-type]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass


def check_built() -> None:
    """Fail with what to run when ``make web`` has not put the model and onnxruntime there."""
    missing = [name for name in BUILT if not (WEB / name).is_file()]
    if missing:
        pytest.fail(f"web/ lacks {', '.join(missing)}: run `make web` first")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: `apt-get install -y chromium` (make test-browser "
                    "does it), or set MNIST_CHROMIUM")


@contextlib.contextmanager
def served_web() -> Iterator[str]:
    """web/ served on a free port of 127.0.0.1 (a static server, as GitHub Pages is)."""
    check_built()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def web_page(url: str) -> Iterator[Any]:
    """The page open in headless Chromium, once its model is loaded (``data-ready``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            # Everything the page loads comes from its own folder: no CDN, works offline.
            page.on("request", lambda request: None if request.url.startswith(url.split("?")[0])
                    or request.url.startswith(("data:", "blob:"))
                    else errors.append(f"fetched from elsewhere: {request.url}"))
            page.goto(url)
            page.wait_for_function("document.body.dataset.ready", timeout=60 * MS)
            status = page.inner_text("#status")
            assert page.evaluate("document.body.dataset.ready") == "1", f"{status}; {errors}"
            yield page
            assert not errors, errors
        finally:
            browser.close()
