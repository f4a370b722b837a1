"""The web page as a user meets it, in headless Chromium: digits drawn with mouse strokes, a
photo picked through the file input, a letter refused as "not a digit".

Run with ``make test-browser`` (or ``MNIST_BROWSER_TEST=1 pytest tests/browser``) after
``make web``. Prints the time from page load to ready and the median time per reading.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

import pytest

if os.environ.get("MNIST_BROWSER_TEST") != "1":
    pytest.skip("browser test: run `make test-browser` (or set MNIST_BROWSER_TEST=1)",
                allow_module_level=True)

from web_cases import STROKES, reading_kind, served_web, web_page  # noqa: E402

from mnist_helpers.checkpoint import load_checkpoint  # noqa: E402
from mnist_helpers.config import sample_images_dir, shipped_checkpoint_path  # noqa: E402
from mnist_helpers.predict import Refusal, predict_file  # noqa: E402

MS = 1000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "browser"


def log(message: str) -> None:
    print(f"[web page] {message}", flush=True)


def answer_after(page: object, action: object) -> tuple[str, str]:
    """Do ``action`` (which makes the page read something) and wait for the new answer:
    (``data-digit``: a digit, "none" or "error"; the text shown)."""
    before = page.evaluate(  # type: ignore[attr-defined]
        "document.getElementById('answer').dataset.digit = 'waiting';"
        "Number(document.body.dataset.readings ?? 0)")
    action()  # type: ignore[operator]
    page.wait_for_function(  # type: ignore[attr-defined]
        f"Number(document.body.dataset.readings ?? 0) > {before} "
        "|| document.getElementById('answer').dataset.digit === 'error'", timeout=30 * MS)
    answer = page.locator("#answer")  # type: ignore[attr-defined]
    return answer.get_attribute("data-digit"), answer.inner_text()


def draw(page: object, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw ``strokes`` (canvas pixels) on the page's canvas with the mouse, after clearing
    it; the page reads the drawing when the last stroke ends."""
    page.click("#clear")  # type: ignore[attr-defined]
    box = page.locator("#pad").bounding_box()  # type: ignore[attr-defined]
    scale = box["width"] / 280
    for stroke in strokes:
        (x0, y0), rest = stroke[0], stroke[1:]
        page.mouse.move(box["x"] + x0 * scale, box["y"] + y0 * scale)  # type: ignore[attr-defined]
        page.mouse.down()  # type: ignore[attr-defined]
        for x, y in rest:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=8)  # type: ignore[attr-defined]
        page.mouse.up()  # type: ignore[attr-defined]


def test_draw_pick_and_refuse() -> None:
    photo = sample_images_dir() / "photo_3.png"
    model, info = load_checkpoint(shipped_checkpoint_path(), "cpu")
    expected_photo = predict_file(model, photo, Refusal.from_metadata(info.metadata))
    assert expected_photo.digit == 3
    with served_web() as url, web_page(url) as page:
        ready_ms = page.evaluate("window.mnist.readyMs")
        readings = {}
        for digit in ("1", "7"):
            readings[digit] = answer_after(page, lambda d=digit: draw(page, STROKES[f"stroke_{d}"]))
        # A photo through the file input: decoded by the browser, read like predict_file.
        readings["photo_3"] = answer_after(page, lambda: page.set_input_files("#photo", photo))
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "web_page_photo.png"))
        readings["letter A"] = answer_after(page, lambda: draw(page, STROKES["stroke_A"]))
        page.screenshot(path=str(SCREENSHOTS / "web_page_letter.png"))
        times = page.evaluate("window.mnist.times")
    for name, (_, text) in readings.items():
        log(f"{name}: {text!r}")
    log(f"page load to ready: {ready_ms:.0f} ms; median time per reading "
        f"{statistics.median(times):.1f} ms ({len(times)} readings)")
    assert readings["1"][0] == "1"
    assert readings["7"][0] == "7"
    assert readings["photo_3"][0] == "3"
    digit, text = readings["letter A"]
    assert digit == "none" and text.startswith("not a digit"), text
    assert reading_kind(text) in ("not a digit", "unlikely")


def test_a_file_that_is_no_image_is_named(tmp_path: Path) -> None:
    """A file the browser cannot decode gets one line naming it, and the page goes on."""
    broken = tmp_path / "notes.png"
    broken.write_text("this is not a picture\n")
    with served_web() as url, web_page(url) as page:
        digit, text = answer_after(page, lambda: page.set_input_files("#photo", broken))
        assert digit == "error"
        assert text.startswith("notes.png: not an image"), text
        digit, _ = answer_after(page, lambda: page.set_input_files(
            "#photo", sample_images_dir() / "pen_7.png"))
        assert digit == "7"
