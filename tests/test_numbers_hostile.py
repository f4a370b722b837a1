"""Reading whole numbers from hostile pictures: pages of dots and noise (bounded work, a clear
refusal), signs, separators, decimal points and underlines (read as written or refused with a
reason, never another value), and library calls with the wrong types."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from mnist_helpers.config import shipped_checkpoint_path
from mnist_helpers.digit_line import MAX_PIECES
from mnist_helpers.images import open_image, rasterize_strokes
from mnist_helpers.lab.pictures import STROKES
from mnist_helpers.number_reading import read_number
from mnist_helpers.predict import Refusal

SEPARATOR = "decimal point or a separator"


@pytest.fixture(scope="module")
def shipped():
    from mnist_helpers import load_checkpoint

    model, info = load_checkpoint(shipped_checkpoint_path())
    return model, Refusal.from_metadata(info.metadata)


@pytest.fixture
def counted(shipped):
    """The shipped model, its refusal rule, and a list that gets the batch size of every
    call of the model (how many images it was asked about)."""
    model, refusal = shipped
    calls: list[int] = []
    handle = model.register_forward_hook(lambda _m, inputs, _out: calls.append(len(inputs[0])))
    yield model, refusal, calls
    handle.remove()


def as_file(tmp_path: Path, picture: Image.Image | np.ndarray, name: str) -> Image.Image:
    """``picture`` saved as a PNG file and opened again, as a user's file would be."""
    if isinstance(picture, np.ndarray):
        picture = Image.fromarray((np.clip(picture, 0, 1) * 255).astype(np.uint8))
    path = tmp_path / f"{name}.png"
    picture.save(path)
    return open_image(path)


def pen(text: str, *, size: int = 100, width: float = 10, underline: float | None = None
        ) -> np.ndarray:
    """``text`` written with a round pen (black on white): digits from ``STROKES``, "." a
    dot on the line, "," a short tick below it, "-" a bar at mid-height. ``underline``: a
    stroke under the whole line, that many pixels below the digits' box (negative: higher,
    through them)."""
    strokes, x, top = [], 20.0, 30.0
    for ch in text:
        if ch.isdigit():
            strokes += [[(x + 0.7 * size * px, top + size * py) for px, py in stroke]
                        for stroke in STROKES[int(ch)]]
            x += 0.7 * size + 30
        elif ch == ".":
            strokes.append([(x, top + 0.92 * size)])
            x += 30
        elif ch == ",":
            strokes.append([(x + 4, top + 0.88 * size), (x - 4, top + 1.1 * size)])
            x += 30
        elif ch == "-":
            strokes.append([(x, top + 0.5 * size), (x + 0.4 * size, top + 0.5 * size)])
            x += 0.4 * size + 30
    if underline is not None:
        strokes.append([(15, top + size + underline), (x - 10, top + size + underline)])
    return rasterize_strokes(strokes, (int(x + 40), size + 90), line_width=width)


def typed(text: str, *, underline: bool = False, size: int = 120) -> Image.Image:
    """``text`` typed in DejaVu Sans (shipped with matplotlib), black on white, with a line
    under it (not touching) if ``underline``."""
    from matplotlib import font_manager

    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    image = Image.new("L", (int(0.8 * size * len(text)) + 80, int(1.8 * size)), 255)
    draw = ImageDraw.Draw(image)
    draw.text((40, 20), text, fill=0, font=font)
    if underline:
        left, _, right, bottom = draw.textbbox((40, 20), text, font=font)
        draw.line([(left, bottom + 12), (right, bottom + 12)], fill=0, width=size // 12)
    return image


def dots(n: int, *, size: tuple[int, int] = (1200, 900), radius: int = 3, seed: int = 0
         ) -> Image.Image:
    """``n`` black dots at random on a white page."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    for x, y in zip(rng.integers(0, size[0], n), rng.integers(0, size[1], n), strict=True):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    return image


def dot_grid(size: tuple[int, int] = (1200, 900), step: int = 40) -> Image.Image:
    """An empty dot-grid notebook page: small grey dots every ``step`` pixels."""
    image = Image.new("L", size, 250)
    draw = ImageDraw.Draw(image)
    for x in range(step // 2, size[0], step):
        for y in range(step // 2, size[1], step):
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=90)
    return image


# Pages of dots and noise: a clear refusal, counted in model calls, not seconds.

@pytest.mark.parametrize("radius", [1, 3])
def test_thousands_of_random_dots_are_refused_before_the_model_is_asked(
        counted, tmp_path, radius):
    model, refusal, calls = counted
    reading = read_number(model, as_file(tmp_path, dots(3000, radius=radius), "dots"),
                          refusal=refusal)
    assert reading.number is None and reading.digits == []
    assert reading.reason.startswith("no number: ")
    assert sum(calls) == 0, "no piece of a page of dots is worth asking the model about"


def test_a_page_of_noise_is_refused_before_the_model_is_asked(counted, tmp_path):
    model, refusal, calls = counted
    noise = np.random.default_rng(1).integers(0, 256, (600, 800), dtype=np.uint8)
    reading = read_number(model, as_file(tmp_path, Image.fromarray(noise), "noise"),
                          refusal=refusal)
    assert reading.number is None and "page of noise" in reading.reason
    assert sum(calls) == 0


def test_digits_scattered_over_a_page_are_not_one_number(counted, tmp_path):
    model, refusal, calls = counted
    strokes = [[(x + 70 * px, y + 100 * py) for px, py in stroke]
               for digit, (x, y) in zip((2, 0, 2, 4), ((20, 20), (160, 380), (300, 30),
                                                       (440, 400)), strict=True)
               for stroke in STROKES[digit]]
    page = rasterize_strokes(strokes, (560, 540), line_width=10)
    reading = read_number(model, as_file(tmp_path, page, "scattered"), refusal=refusal)
    assert reading.number is None and "do not stand in one line" in reading.reason
    assert sum(calls) == 0


def test_a_line_of_more_pieces_than_a_number_has_is_refused_unread(counted, tmp_path):
    """Forty strokes as tall as digits: each could be a 1, but no number has that many."""
    model, refusal, calls = counted
    page = np.ones((140, 45 * 40 + 40))
    for i in range(40):
        page[20:120, 20 + 45 * i: 30 + 45 * i] = 0.0
    reading = read_number(model, as_file(tmp_path, page, "strokes"), refusal=refusal)
    assert reading.number is None and f"at most {MAX_PIECES}" in reading.reason
    assert sum(calls) == 0


def test_an_empty_dot_grid_page_has_no_number(counted, tmp_path):
    model, refusal, calls = counted
    reading = read_number(model, as_file(tmp_path, dot_grid(), "dotgrid"), refusal=refusal)
    assert reading.number is None and "dots" in reading.reason
    assert sum(calls) == 0


def test_a_number_written_on_dot_grid_paper_is_read(shipped, tmp_path):
    """The paper's dots are far smaller than the pen's strokes: they are not digits, nor
    decimal points."""
    model, refusal = shipped
    page = pen("2024").copy()
    page[5::24, 5::24] = 0.35  # a grey dot every 24 pixels, some of them between the digits
    page[6::24, 5::24] = 0.35
    assert read_number(model, as_file(tmp_path, page, "dotted"), refusal=refusal).number == "2024"


# Signs, separators, decimal points and underlines: read as written, or refused with a reason.

@pytest.mark.parametrize("picture", [typed("-42"), pen("-42")], ids=["typed", "pen"])
def test_a_minus_sign_is_read(shipped, tmp_path, picture):
    model, refusal = shipped
    reading = read_number(model, as_file(tmp_path, picture, "minus"), refusal=refusal)
    assert reading.number == "-42" and reading.reason is None
    assert reading.to_json()["number"] == "-42"
    assert [d.digit for d in reading.digits] == [4, 2]


@pytest.mark.parametrize("text", ["3.14", "1,000,000", "0.5"])
@pytest.mark.parametrize("writer", [typed, pen], ids=["typed", "pen"])
def test_a_decimal_point_or_separator_refuses_the_number_with_a_reason(
        shipped, tmp_path, writer, text):
    """Never 314 for 3.14, nor 110001000 for 1,000,000: refused, the digits still listed."""
    model, refusal = shipped
    reading = read_number(model, as_file(tmp_path, writer(text), "separated"), refusal=refusal)
    assert reading.number is None and SEPARATOR in reading.reason
    assert "".join(str(d.digit) for d in reading.digits) == text.replace(",", "").replace(
        ".", "")


def test_a_point_before_the_first_digit_refuses_the_number(shipped, tmp_path):
    model, refusal = shipped
    reading = read_number(model, as_file(tmp_path, pen(".5"), "point5"), refusal=refusal)
    assert reading.number is None and SEPARATOR in reading.reason


def pieces(*parts: tuple[int, int], extra: list[tuple[float, float]]) -> np.ndarray:
    """Digits of ``STROKES`` at the given (digit, left) places, 100 pixels tall, and one
    ``extra`` pen stroke, black on white."""
    strokes = [[(left + 70 * px, 30 + 100 * py) for px, py in stroke]
               for digit, left in parts for stroke in STROKES[digit]]
    return rasterize_strokes(strokes + [extra], (parts[-1][1] + 100, 170), line_width=10)


def test_a_piece_broken_off_a_digit_is_not_a_decimal_point(shipped, tmp_path):
    """Faint ink breaks the end of the 2's base off, into the 5's columns: a piece of a
    digit, close to its strokes, not a point of its own."""
    model, refusal = shipped
    picture = pieces((2, 20), (5, 85), extra=[(91, 124), (97, 126)])
    reading = read_number(model, as_file(tmp_path, picture, "broken"), refusal=refusal)
    assert reading.number == "25"


def test_a_mark_less_than_half_as_tall_as_the_digits_is_never_a_digit(shipped, tmp_path):
    """A short tick between two digits, which the model alone reads as a 1."""
    model, refusal = shipped
    picture = pieces((2, 20), (4, 160), extra=[(128, 65), (128, 95)])
    reading = read_number(model, as_file(tmp_path, picture, "tick"), refusal=refusal)
    assert reading.number == "24"
    assert [d.reason for d in reading.refused] == [
        "not a digit (less than half as tall as the digits of the line)"]


@pytest.mark.parametrize("picture", [typed("42."), pen("42.")], ids=["typed", "pen"])
def test_a_full_stop_after_the_number_changes_nothing(shipped, tmp_path, picture):
    model, refusal = shipped
    reading = read_number(model, as_file(tmp_path, picture, "stop"), refusal=refusal)
    assert reading.number == "42" and reading.refused == []


@pytest.mark.parametrize("picture", [typed("2024", underline=True), pen("2024", underline=20)],
                         ids=["typed", "pen"])
def test_an_underline_is_left_out(shipped, tmp_path, picture):
    """It used to be joined with the digits above it and read as 2021."""
    model, refusal = shipped
    reading = read_number(model, as_file(tmp_path, picture, "underlined"), refusal=refusal)
    assert reading.number == "2024" and reading.refused == []


@pytest.mark.parametrize("offset", [-2, -50], ids=["under", "through"])
def test_a_line_drawn_into_the_digits_refuses_the_number(counted, tmp_path, offset):
    model, refusal, calls = counted
    picture = as_file(tmp_path, pen("2024", underline=offset), "crossed")
    reading = read_number(model, picture, refusal=refusal)
    assert reading.number is None and "touches them" in reading.reason
    assert sum(calls) == 0


def test_thin_rules_of_the_paper_across_the_digits_are_erased(shipped, tmp_path):
    """Lined paper: rules far thinner than the pen, crossing the digits."""
    model, refusal = shipped
    page = pen("2024").copy()
    page[60:62, :] = page[125:127, :] = 0.2
    assert read_number(model, as_file(tmp_path, page, "lined"), refusal=refusal).number == "2024"


def test_every_reading_says_why_it_has_no_number(shipped):
    model, refusal = shipped
    read = read_number(model, pen("42"), refusal=refusal)
    assert read.number == "42" and read.to_json()["reason"] is None
    for picture in (np.ones((50, 80)), dot_grid((300, 200)), pen("3.14")):
        reading = read_number(model, picture, refusal=refusal)
        assert reading.number is None and reading.reason
        assert reading.to_json()["reason"] == reading.reason


def test_the_command_line_prints_the_reason_in_json(tmp_path):
    files = {"dotgrid.png": dot_grid((600, 400)), "pi.png": typed("3.14"),
             "minus.png": typed("-42")}
    for name, picture in files.items():
        picture.save(tmp_path / name)
    done = subprocess.run([sys.executable, "-m", "mnist_helpers", "predict", "--number",
                           "--json", *sorted(str(tmp_path / name) for name in files)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = {Path(r["path"]).name: r for r in map(json.loads, done.stdout.splitlines())}
    assert lines["minus.png"]["number"] == "-42" and lines["minus.png"]["reason"] is None
    assert lines["pi.png"]["number"] is None and SEPARATOR in lines["pi.png"]["reason"]
    assert lines["dotgrid.png"]["number"] is None and "dots" in lines["dotgrid.png"]["reason"]


# Library calls from a notebook.

@pytest.mark.parametrize(("arguments", "named"), [
    ((None,), "image must be"), (("2024.png",), "open_image"), ((3,), "image must be"),
    ((np.ones((50, 80)), 7), "path must be"), ((np.ones((50, 80)), "", 0.4), "refusal must"),
])
def test_wrong_argument_types_raise_a_type_error_naming_the_argument(shipped, arguments, named):
    model, _ = shipped
    with pytest.raises(TypeError, match=named):
        read_number(model, *arguments)


def test_a_model_that_is_not_a_model_is_a_type_error():
    with pytest.raises(TypeError, match="model must be"):
        read_number("mnist_robust.pt", np.ones((50, 80)))


@pytest.mark.parametrize("convert", [
    lambda a: torch.tensor(a, dtype=torch.float32, requires_grad=True),
    lambda a: torch.tensor(a).to(torch.bfloat16)[None, None],
    lambda a: (a * 255).astype(np.uint8),
    lambda a: a > 0.5,
], ids=["tensor-requires-grad", "bf16-1x1xHxW", "uint8-array", "bool-array"])
def test_tensors_and_arrays_of_any_common_type_are_read(shipped, convert):
    model, refusal = shipped
    assert read_number(model, convert(pen("2024")), refusal=refusal).number == "2024"
