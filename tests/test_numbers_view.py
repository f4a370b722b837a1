"""Notebook 07b's figures of reading a number, drawn from a real picture's ink and written to
PNG files."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mnist_helpers.digit_line import find_line
from mnist_helpers.display.numbers_view import (
    Candidate,
    matched_digits,
    plot_cut_search,
    plot_pictures_and_inputs,
    plot_reading_against_truth,
    plot_reading_steps,
)
from mnist_helpers.images import rasterize_strokes
from mnist_helpers.lab.pictures import STROKES
from mnist_helpers.number_reading import DigitReading, NumberReading
from mnist_helpers.preprocess import find_ink


def _ink():
    """A drawn "17" and a lone "4", the 1 and 7 touching, as the reader finds their ink."""
    strokes = [[(20 + 60 * x + 90 * i - (25 if i == 1 else 0), 20 + 100 * y) for x, y in s]
               for i, digit in enumerate((1, 7, 4)) for s in STROKES[digit]]
    return find_ink(rasterize_strokes(strokes, size=(330, 150), line_width=10))


def _saved(fig, tmp_path, name):
    path = tmp_path / f"{name}.png"
    fig.savefig(path)
    image = Image.open(path)
    assert image.width > 300 and image.height > 200
    return image


def test_the_reading_steps_show_each_count_and_the_slope(tmp_path):
    found = _ink()
    labels, count = ndimage.label(found.ink > found.threshold, np.ones((3, 3)))
    line = find_line(found.ink, found.threshold)
    pieces = [(line.regions[0], 1), (line.regions[1], None)]
    fig = plot_reading_steps(found.ink, found.threshold, labels, line.regions, line.height, 4.0,
                             pieces)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert f"connected strokes: {count}" in titles[1]
    assert titles[2].endswith(f": {len(line.regions)}") and "slope 4.0°" in titles[3]
    assert [t.get_text() for t in fig.axes[4].texts] == ["1", "?"]  # a refused piece: ?
    assert len(fig.axes[4].patches) == 2 and len(fig.axes[2].patches) == len(line.regions)
    line_x, line_y = fig.axes[3].lines[1].get_data()
    assert np.isclose((line_y[1] - line_y[0]) / (line_x[1] - line_x[0]), np.tan(np.radians(4)))
    _saved(fig, tmp_path, "steps")


def test_the_cut_search_marks_the_best_cut(tmp_path):
    found = _ink()
    candidates = [Candidate((), [0.6], [-0.5], [], -1.0),
                  Candidate((30,), [0.9, 0.9], [0, 0], [0.1], -0.3),
                  Candidate((40,), [0.9, 0.5], [0, 0], [0.1], -0.9),
                  Candidate((20, 50), [0.9, 0.5, 0.5], [0, 0, 0], [0.1, 0.1], -2.0)]
    fig = plot_cut_search(found.ink, found.threshold, candidates)
    picture, scores = fig.axes
    thick = [line for line in picture.lines if line.get_linewidth() == 3]
    assert [line.get_xdata()[0] for line in thick] == [29.5]  # the best cut, at column 30
    assert len(picture.lines) == 4 + len(thick)  # every column tried, and the best again
    assert "best: [30]" in picture.get_title()
    assert scores.get_xlim() == picture.get_xlim()  # a score sits under its cut's column
    labels = [t.get_text() for t in scores.get_legend().get_texts()]
    assert labels == ["cut in two, at this column", "read whole (no cut)", "best cut in three",
                      "best: score -0.30"]
    _saved(fig, tmp_path, "cuts")


def test_pictures_and_inputs_pair_each_picture_with_its_input(tmp_path):
    pictures = [np.linspace(0, 1, 60 * (20 + i)).reshape(60, 20 + i) for i in range(5)]
    inputs = [np.eye(28) for _ in range(5)]
    fig = plot_pictures_and_inputs(pictures, inputs, [f"kind {i}" for i in range(5)], columns=3)
    assert len(fig.axes) == 4 * 3  # two pairs of rows, three columns
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["kind 0", "kind 1", "kind 2"] and titles[3:6] == ["model's input"] * 3
    assert titles[6:8] == ["kind 3", "kind 4"] and titles[8] == ""  # the last pair's row
    assert fig.axes[0].images[0].get_array().shape == (60, 20)
    _saved(fig, tmp_path, "pairs")


def test_pictures_and_inputs_must_be_as_many():
    with pytest.raises(ValueError, match="as many; got 2, 1 and 2"):
        plot_pictures_and_inputs([np.zeros((5, 5))] * 2, [np.zeros((28, 28))], ["a", "b"])


@pytest.mark.parametrize(("read", "written", "expected"), [
    ("468", "468", [True, True, True]),
    ("4681", "468", [True, True, True, False]),  # a stray mark read as an extra 1
    ("4118", "408", [True, False, False, True]),  # a 0 read as two 1s
    ("498", "448", [True, False, True]),  # a 4 read as a 9
    ("8", "23", [False]),
    ("", "23", []),
])
def test_matched_digits_lines_the_reading_up_with_what_was_written(read, written, expected):
    assert matched_digits(read, written) == expected


def _digit(box, digit):
    return DigitReading(box=box, digit=digit, probabilities=[0.1] * 10,
                        pixels=np.zeros((28, 28)))


def test_a_wrong_digit_is_boxed_in_another_colour_than_a_right_one(tmp_path):
    picture = Image.fromarray(np.full((150, 330), 240, dtype=np.uint8))  # a PIL picture too
    reading = NumberReading(path="", digits=[_digit((20, 20, 60, 100), 4),
                                             _digit((110, 20, 60, 100), 9),
                                             _digit((200, 20, 60, 100), 8)],
                            refused=[_digit((280, 60, 20, 20), None)])
    fig = plot_reading_against_truth(picture, reading, "448")
    ax = fig.axes[0]
    colours = [tuple(p.get_edgecolor()) for p in ax.patches]
    assert colours[0] == colours[2] != colours[1]  # the 9 stands out
    assert [t.get_text() for t in ax.texts] == ["4", "9", "8"]
    assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == 3
    assert ax.patches[3].get_linestyle() == "--"  # the refused piece
    _saved(fig, tmp_path, "truth")
