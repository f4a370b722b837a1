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
from mnist_helpers.lab.pictures import worksheet_photo

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
    cases["worksheet_7"] = worksheet_photo(pixels[0])
    cases["worksheet_7_busy_page"] = worksheet_photo(pixels[0], busy=True)
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


# ---- whole numbers (test_web_numbers.py) -----------------------------------------------
NUMBER_CANVAS = (840, 280)  # the page's canvas in number mode, in pixels (width, height)


def number_strokes(text: str, left: float = 40, top: float = 50, size: float = 180,
                   advance: float = 150) -> list[list[tuple[float, float]]]:
    """``text`` (digits, "-" and ".") as pen strokes on the number canvas, one cell of
    ``advance`` pixels per character: the digits of ``mnist_helpers.lab.pictures.STROKES`` in
    a ``size`` square, a minus sign as a short bar at mid-height, a point as a dot low."""
    from mnist_helpers.lab.pictures import STROKES as UNIT_STROKES

    strokes: list[list[tuple[float, float]]] = []
    x = left
    for ch in text:
        if ch == "-":
            strokes.append([(x + 0.2 * size, top + 0.5 * size), (x + 0.6 * size, top + 0.5 * size)])
        elif ch == ".":
            strokes.append([(x + 0.1 * size, top + 0.95 * size)])
            x += 0.4 * advance  # a point takes little room
            continue
        else:
            strokes += [[(x + px * 0.8 * size, top + py * size) for px, py in stroke]
                        for stroke in UNIT_STROKES[int(ch)]]
        x += advance
    return strokes


def number_canvas(strokes: list[list[tuple[float, float]]],
                  size: tuple[int, int] = NUMBER_CANVAS) -> np.ndarray:
    """Strokes drawn as the page's number canvas draws them, as uint8 (dark on white)."""
    return np.round(rasterize_strokes(strokes, size) * 255).astype(np.uint8)


def _side_by_side(digits: list[np.ndarray], gap: int) -> np.ndarray:
    """MNIST digits (28×28 uint8, white on black) in one line, ``gap`` pixels apart, with a
    margin round them. A negative gap makes their 28×28 squares overlap; as MNIST's digits
    have about 4 blank pixels each side, beyond -8 the ink of neighbours touches."""
    width = 28 * len(digits) + gap * (len(digits) - 1) + 40
    line = np.zeros((68, width), np.uint8)
    x = 20
    for digit in digits:
        line[20:48, x: x + 28] = np.maximum(line[20:48, x: x + 28], digit)
        x += 28 + gap
    return line


def number_cases(raw: Path) -> dict[str, np.ndarray]:
    """Named pictures of numbers (uint8 grey, H×W) made with the package's own tools: MNIST
    test digits side by side (apart and touching, so the cut search runs), numbers drawn with
    pen strokes on the page's canvas (with a minus sign, a decimal point, a dash, an
    underline), the benchmark's composed numbers (photo, scan and canvas styles, slanted,
    some touching), a photo-like one on ruled paper, and pictures with no number."""
    from mnist_helpers.lab.compose import number_picture
    from mnist_helpers.nondigits import TEST_FONTS, draw_nondigit, load_fonts

    pixels, labels = mnist_test_digits(raw, 10_000)
    first = {d: pixels[int(np.nonzero(labels == d)[0][0])] for d in range(10)}
    second = {d: pixels[int(np.nonzero(labels == d)[0][1])] for d in range(10)}
    cases: dict[str, np.ndarray] = {}
    for number, gap in (("1984", 6), ("305", 4), ("2718", 8), ("60", 3)):
        cases[f"mnist_apart_{number}"] = _side_by_side([first[int(c)] for c in number], gap)
    for number, gap in (("47", -10), ("583", -11), ("90", -4), ("2026", -11)):
        cases[f"mnist_overlap{-gap}_{number}"] = 255 - _side_by_side(
            [second[int(c)] for c in number], gap)  # dark on light, as on paper
    for text in ("1984", "-42", "3.14", "705", "2-4"):
        cases[f"strokes_{text}"] = number_canvas(number_strokes(text))
    underlined = number_strokes("365") + [[(40, 258), (470, 258)]]
    cases["strokes_365_underlined"] = number_canvas(underlined)
    crossed = number_strokes("365") + [[(40, 228), (470, 228)]]  # drawn through the digits
    cases["strokes_365_crossed"] = number_canvas(crossed)
    mnist = (pixels, labels)
    rng = np.random.default_rng(23)
    for i, (digits, style, touching) in enumerate((
            ("2048", "photo", 0.0), ("173", "scan", 0.0), ("95", "canvas", 0.0),
            ("6401", "photo", 0.7), ("318", "scan", 0.7), ("7259", "canvas", 0.7),
            ("80", "photo", 0.3), ("4136", "scan", 0.3))):
        image, _ = number_picture(digits, rng, mnist, style=style, touching=touching)
        cases[f"composed_{i}_{style}_{digits}"] = np.asarray(image.convert("L"))
    ruled = np.asarray(number_picture("5280", rng, mnist, style="photo", touching=0.0)[0]
                       .convert("L")).copy()
    for row in range(12, ruled.shape[0], 28):  # lined paper: thin grey rules across the page
        ruled[row] = np.minimum(ruled[row], 150)
    cases["composed_ruled_5280"] = ruled
    fonts = load_fonts(TEST_FONTS)
    word = draw_nondigit("word", np.random.default_rng(5), fonts, size=120)
    cases["word"] = np.round(np.clip(word, 0, 1) * 255).astype(np.uint8)
    cases["noise"] = np.random.default_rng(7).integers(0, 256, (120, 300)).astype(np.uint8)
    cases["blank"] = np.full((100, 300), 240, np.uint8)
    return cases
