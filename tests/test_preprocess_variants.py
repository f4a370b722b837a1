"""Notebook 06's exercise-4 variants: each returns a 28×28 digit and changes only its step."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from mnist_helpers import preprocess
from mnist_helpers.lab.preprocess_variants import VARIANTS


def _photo_of_a_seven(tmp_path) -> Image.Image:
    """A thin dark 7 on light paper under light that fades to the right, written to a file
    and read back, as a user's picture would be."""
    picture = Image.new("L", (160, 200), 235)
    draw = ImageDraw.Draw(picture)
    draw.line([(40, 40), (120, 40), (70, 170)], fill=40, width=4)
    shade = np.linspace(1.0, 0.6, 160)[None, :]
    picture = Image.fromarray((np.asarray(picture) * shade).astype(np.uint8))
    path = tmp_path / "seven.png"
    picture.save(path)
    return Image.open(path)


def test_every_variant_returns_an_mnist_shaped_digit(tmp_path):
    image = _photo_of_a_seven(tmp_path)
    for name, prepare in VARIANTS.items():
        pixels = prepare(image)
        assert pixels.shape == (28, 28), name
        assert pixels.max() > 0.5, name  # the 7 is there


def test_all_steps_is_what_predict_reads_and_the_stand_ins_are_put_back(tmp_path):
    image = _photo_of_a_seven(tmp_path)
    before = (preprocess.paper_brightness, preprocess.thicken_thin_strokes)
    np.testing.assert_array_equal(VARIANTS["all steps"](image),
                                  preprocess.preprocess_image(image).pixels)
    VARIANTS["no flat field"](image)
    VARIANTS["no widening"](image)
    assert (preprocess.paper_brightness, preprocess.thicken_thin_strokes) == before


def test_the_20x20_box_variant_fills_more_of_the_field(tmp_path):
    image = _photo_of_a_seven(tmp_path)

    def ink_rows(pixels):
        rows = np.flatnonzero(pixels.max(axis=1) > 0.1)
        return rows[-1] - rows[0] + 1

    assert ink_rows(VARIANTS["no 20×20 box"](image)) > ink_rows(VARIANTS["all steps"](image))
