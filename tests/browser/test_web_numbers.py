"""The web page's number reader (``web/src/digit_line.js``, ``number_reading.js``) against
:func:`mnist_helpers.number_reading.read_number`, in headless Chromium.

The same decoded pixels (uint8 arrays made in Python, see ``web_cases.number_cases``) go
through the page's ``readNumber`` and through ``read_number`` with the shipped model: MNIST
test digits side by side and touching (so the cut search runs), numbers drawn with pen
strokes on the page's canvas (a minus sign, a decimal point, a dash, an underline, a line
through the digits), the benchmark's composed numbers (photo, scan, canvas; slanted, so some
pieces are turned upright before they are read), one on ruled paper, a word, noise, a blank
page. For every picture these must be identical: the number (or the reason there is none),
every piece's box and digit (or refusal), and each piece's 28×28 input within
``PIXEL_TOLERANCE``. The page runs the float model there (``?model=float``: PyTorch's network).

A second test draws 1984 with the mouse in the page's number mode and checks the reading,
then picks a photo of a number through the file input (decoded by the browser) and checks it
reads as ``read_number`` reads the file.

Run with ``make test-browser`` (or ``MNIST_BROWSER_TEST=1 pytest tests/browser``) after
``make web``; like the other browser tests it needs ``/usr/bin/chromium`` and ``playwright``.
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

from PIL import Image  # noqa: E402
from web_cases import number_cases, number_strokes, served_web, web_page  # noqa: E402

from mnist_helpers import number_reading  # noqa: E402
from mnist_helpers.checkpoint import load_checkpoint  # noqa: E402
from mnist_helpers.config import shipped_checkpoint_path  # noqa: E402
from mnist_helpers.images import open_image  # noqa: E402
from mnist_helpers.number_reading import NumberReading, read_number  # noqa: E402
from mnist_helpers.predict import Refusal  # noqa: E402

#: Largest difference allowed between a pixel of a piece's two 28×28 inputs (0..1): float64
#: rounding, nothing more (measured: none differ at all). A different box, cut, rotation or
#: 8-bit rounding moves pixels by 1/255 = 0.004 or more.
PIXEL_TOLERANCE = 1e-6
#: Least number of pictures compared (the task asks for at least 20).
LEAST_CASES = 20
MS = 1000
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "browser"

READ_IN_PAGE = """async ([width, height, encoded]) => {
  const data = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
  return window.mnist.readNumber({ width, height, channels: 1, data });
}"""


def log(message: str) -> None:
    print(f"[web numbers] {message}", flush=True)


def pieces(reading: NumberReading | dict) -> list[tuple[list[int], int | None, np.ndarray]]:
    """Every piece of a reading, read or refused, left to right: (box, digit, 28×28 input)."""
    if isinstance(reading, NumberReading):
        found = [(list(d.box), d.digit, np.asarray(d.pixels, float).reshape(28, 28))
                 for d in reading.digits + reading.refused]
    else:
        found = [(list(d["box"]), d["digit"], np.asarray(d["pixels"], float).reshape(28, 28))
                 for d in reading["digits"] + reading["refused"]]
    return sorted(found, key=lambda piece: piece[0])


@pytest.fixture(scope="module")
def python_readings(mnist_raw_dir: Path) -> tuple[dict[str, np.ndarray], dict, dict]:
    """The pictures, what ``read_number`` with the shipped model says about each, and for each
    what the reading went through: the line's slant and how many regions were cut."""
    cases = number_cases(mnist_raw_dir)
    model, info = load_checkpoint(shipped_checkpoint_path(), "cpu")
    refusal = Refusal.from_metadata(info.metadata)
    angles: list[float] = []
    line_angle = number_reading._line_angle

    def recording_angle(*args: object) -> float:
        angles.append(line_angle(*args))  # type: ignore[arg-type]
        return angles[-1]

    readings, trace = {}, {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(number_reading, "_line_angle", recording_angle)
        for name, pixels in cases.items():
            angles.clear()
            readings[name] = read_number(model, pixels, name, refusal)
            cut = sum(len(group.pieces) > 1 for group in readings[name].groups)
            trace[name] = {"angle": angles[0] if angles else None, "cut": cut}
    return cases, readings, trace


def test_page_reads_numbers_like_python(python_readings: tuple) -> None:
    cases, expected, trace = python_readings
    assert len(cases) >= LEAST_CASES
    with served_web() as url, web_page(f"{url}?model=float") as page:
        got = {}
        for name, pixels in cases.items():
            encoded = base64.b64encode(np.ascontiguousarray(pixels).tobytes()).decode()
            got[name] = page.evaluate(READ_IN_PAGE, [pixels.shape[1], pixels.shape[0], encoded])
        times = page.evaluate("window.mnist.numberTimes")
    mismatched, differences, count = [], [], 0
    for name, reading in expected.items():
        result = got[name]
        mine, theirs = pieces(result), pieces(reading)
        count += len(theirs)
        if (result["number"], result["reason"]) != (reading.number, reading.reason):
            mismatched.append(f"{name}: page {result['number']!r} ({result['reason']}), "
                              f"Python {reading.number!r} ({reading.reason})")
        elif [(box, digit) for box, digit, _ in mine] != [(b, d) for b, d, _ in theirs]:
            mismatched.append(f"{name}: page's pieces {[p[:2] for p in mine]}, "
                              f"Python's {[p[:2] for p in theirs]}")
        else:
            differences += [float(np.abs(a[2] - b[2]).max()) for a, b in zip(mine, theirs,
                                                                               strict=True)]
        log(f"{name}: {reading.number or reading.reason} ({len(theirs)} pieces, "
            f"{trace[name]['cut']} regions cut, slant {trace[name]['angle'] or 0:.1f} deg; "
            f"page {result['ms']:.0f} ms)")
    read = sum(r.number is not None for r in expected.values())
    cut_cases = sum(t["cut"] > 0 for t in trace.values())
    turned = sum(t["angle"] is not None and abs(t["angle"]) > 5 for t in trace.values())
    log(f"{len(cases)} pictures ({read} numbers read, {len(cases) - read} with a reason why "
        f"not; {cut_cases} with a region cut into digits, {turned} slanted more than 5 "
        f"degrees, so their pieces are turned upright); {len(cases) - len(mismatched)} with "
        f"the same number or reason, boxes and digits")
    if differences:
        log(f"{len(differences)} pieces' 28x28 inputs: largest difference "
            f"{max(differences):.3g}, {sum(d == 0 for d in differences)} identical to the "
            "last bit")
    log(f"time per number reading in the page (float model): median "
        f"{statistics.median(times):.0f} ms, largest {max(times):.0f} ms ({len(times)} readings)")
    assert not mismatched, "\n".join(mismatched)
    assert max(differences) <= PIXEL_TOLERANCE
    assert cut_cases >= 3 and turned >= 1, "the pictures no longer exercise cuts and slants"


def draw(page: object, strokes: list[list[tuple[float, float]]], width: int) -> None:
    """Draw ``strokes`` (canvas pixels) on the page's canvas with the mouse."""
    box = page.locator("#pad").bounding_box()  # type: ignore[attr-defined]
    scale = box["width"] / width
    for stroke in strokes:
        (x0, y0), rest = stroke[0], stroke[1:]
        page.mouse.move(box["x"] + x0 * scale, box["y"] + y0 * scale)  # type: ignore[attr-defined]
        page.mouse.down()  # type: ignore[attr-defined]
        for x, y in rest:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=4)  # type: ignore[attr-defined]
        page.mouse.up()  # type: ignore[attr-defined]


def test_number_mode_draw_and_photo(python_readings: tuple, tmp_path: Path) -> None:
    cases = python_readings[0]
    photo = tmp_path / "number_2048.png"
    Image.fromarray(cases["composed_0_photo_2048"]).save(photo)
    model, info = load_checkpoint(shipped_checkpoint_path(), "cpu")
    expected = read_number(model, open_image(photo), photo.name,
                           Refusal.from_metadata(info.metadata))
    assert expected.number == "2048"
    with served_web() as url, web_page(url) as page:
        page.check("#number-mode")
        assert page.evaluate("document.getElementById('pad').width") == 840
        assert page.is_hidden("#digit-view") and page.is_visible("#number-view")
        strokes = number_strokes("1984")
        draw(page, strokes, 840)
        # Every stroke ends in a reading; the one of the last stroke is the answer.
        page.wait_for_function("document.body.dataset.read === document.body.dataset.drawn",
                               timeout=120 * MS)
        answer = page.locator("#number-answer")
        number, text = answer.get_attribute("data-number"), answer.inner_text()
        shown = page.locator("#pieces figcaption").all_inner_texts()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "web_page_number.png"), full_page=True)
        # A photo of a number through the file input.
        page.evaluate("document.getElementById('number-answer').dataset.number = 'waiting'")
        page.set_input_files("#photo", photo)
        page.wait_for_function(
            "document.getElementById('number-answer').dataset.number !== 'waiting'",
            timeout=60 * MS)
        photo_number = answer.get_attribute("data-number")
        photo_boxes = page.locator("#pieces figure").count()
        times = page.evaluate("window.mnist.numberTimes")
        # Back to one digit: the single-digit page as before.
        page.uncheck("#number-mode")
        assert page.evaluate("document.getElementById('pad').width") == 280
        assert page.is_visible("#digit-view") and page.is_hidden("#number-view")
    log(f"drawn 1984 with the mouse ({len(strokes)} strokes): read {text!r}, pieces {shown}")
    log(f"time per number reading in the page (int8 model, while drawing): median "
        f"{statistics.median(times):.0f} ms ({len(times)} readings)")
    log(f"photo {photo.name}: read {photo_number!r} ({photo_boxes} pieces); Python "
        f"{expected.number!r} ({len(expected.digits) + len(expected.refused)} pieces)")
    assert number == "1984", text
    assert shown == ["1", "9", "8", "4"]
    assert photo_number == expected.number
    assert photo_boxes == len(expected.digits) + len(expected.refused)
