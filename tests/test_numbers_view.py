"""Notebook 07b's figures of reading a number, drawn from a real picture's ink and written to
PNG files."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from mnist_helpers import number_reading
from mnist_helpers.config import shipped_checkpoint_path
from mnist_helpers.digit_line import find_line
from mnist_helpers.display.cut_view import Candidate, cut_search_rows, plot_cut_search, score_cuts
from mnist_helpers.display.line_match import plot_line_match
from mnist_helpers.display.numbers_view import (
    digits_in_a_row,
    plot_number_steps,
    plot_pictures_and_inputs,
    plot_reading_steps,
    print_pieces,
)
from mnist_helpers.display.truth_view import (
    first_mistake,
    group_decisions,
    matched_digits,
    misreading,
    plot_first_mistake,
    plot_reading_against_truth,
    plot_readings_grid,
)
from mnist_helpers.images import rasterize_strokes
from mnist_helpers.lab.pictures import STROKES
from mnist_helpers.number_reading import (
    SKIPPABLE,
    DigitReading,
    NumberReading,
    read_number,
    reading_score,
)
from mnist_helpers.predict import Refusal
from mnist_helpers.preprocess import find_ink


def _picture():
    """A drawn "17" and a lone "4", the 1 and 7 touching, black on white."""
    strokes = [[(20 + 60 * x + 90 * i - (25 if i == 1 else 0), 20 + 100 * y) for x, y in s]
               for i, digit in enumerate((1, 7, 4)) for s in STROKES[digit]]
    return rasterize_strokes(strokes, size=(330, 150), line_width=10)


def _ink():
    """The drawn "17 4" as the reader finds its ink."""
    return find_ink(_picture())


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
    refused = fig.axes[4].patches[1]  # dashed grey, as in the later figures (red: read wrong)
    assert refused.get_linestyle() == "--"
    assert refused.get_edgecolor() == matplotlib.colors.to_rgba("grey")
    assert len(fig.axes[4].patches) == 2 and len(fig.axes[2].patches) == len(line.regions)
    line_x, line_y = fig.axes[3].lines[1].get_data()
    assert np.isclose((line_y[1] - line_y[0]) / (line_x[1] - line_x[0]), np.tan(np.radians(4)))
    _saved(fig, tmp_path, "steps")


@pytest.fixture(scope="module")
def shipped():
    from mnist_helpers import load_checkpoint

    model, info = load_checkpoint(shipped_checkpoint_path())
    return model, Refusal.from_metadata(info.metadata)


def test_the_steps_of_a_real_reading_are_drawn_as_read_number_reads_them(shipped, tmp_path):
    model, refusal = shipped
    picture = _picture()
    fig, steps = plot_number_steps(model, picture, refusal=refusal)
    assert len(fig.axes) == 6 and fig.get_suptitle() == "Reading a number, step by step"
    assert not fig.axes[5].axison and fig.axes[5].get_legend() is not None  # the key, no picture
    assert steps.reading.number == read_number(model, picture, refusal=refusal).number == "174"
    assert steps.strokes == int(steps.labels.max())
    assert f"connected strokes: {steps.strokes}" in fig.axes[1].get_title(loc="left")
    # each stroke numbered as scipy.ndimage.label numbers it, so the text can name strokes
    numbers = [t.get_text() for t in fig.axes[1].texts]
    assert numbers == [str(n) for n in range(1, steps.strokes + 1)]
    assert fig.axes[2].get_title(loc="left").endswith(f": {len(steps.line.regions)}")
    # Panel 5 labels every piece with the digit read_number read there, left to right:
    shown = "".join(t.get_text() for t in fig.axes[4].texts)
    assert len(fig.axes[4].patches) == len(steps.pieces) and shown == steps.reading.number
    assert fig.axes[0].images[0].get_interpolation() == "nearest"  # pixels drawn as squares
    _saved(fig, tmp_path, "number_steps")


def test_a_picture_with_no_line_of_digits_has_no_steps_to_draw(shipped):
    model, refusal = shipped
    scattered = [[(left + 60 * x, top + 100 * y) for x, y in stroke]
                 for digit, left, top in [(4, 60, 30), (2, 150, 230), (7, 240, 30),
                                          (1, 330, 230), (3, 420, 30)]
                 for stroke in STROKES[digit]]
    picture = rasterize_strokes(scattered, size=(520, 370), line_width=10)
    with pytest.raises(ValueError, match="no line of digits to draw: no number"):
        plot_number_steps(model, picture, refusal=refusal)


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
    assert labels == ["cut in two, at this column", "the unsplit group (no cut)",
                      "best cut in three", "best: score -0.30"]
    # one above the other, one column axis: a cut's score stands right under its line
    assert picture.get_position().x0 == pytest.approx(scores.get_position().x0, abs=0.01)
    assert picture.get_position().x1 == pytest.approx(scores.get_position().x1, abs=0.01)
    assert picture.get_position().y0 > scores.get_position().y1
    _saved(fig, tmp_path, "cuts")


def test_the_cut_search_shades_the_overlap_and_says_when_no_cut_wins_or_none_may(tmp_path):
    found = _ink()
    cut_wins = [Candidate((), [0.6], [-0.5], [], -1.0),
                Candidate((30,), [0.9, 0.9], [0, 0], [0.1], -0.3)]
    fig = plot_cut_search(found.ink, found.threshold, cut_wins, overlap=(25, 35), must_cut=True)
    picture, scores = fig.axes
    shaded = [p for p in scores.patches if p.get_alpha() == 0.2]  # the overlap's columns
    assert len(shaded) == 1 and shaded[0].get_x() == 24.5 and shaded[0].get_width() == 11
    edges = [line.get_xdata()[0] for line in picture.lines if line.get_linestyle() == "--"]
    assert edges == [24.5, 35.5]  # dashed over the ink, which a shade would tint
    assert picture.get_aspect() == 1.0  # pixels drawn square
    labels = [t.get_text() for t in scores.get_legend().get_texts()]
    assert "the unsplit group, for comparison only (this group is always cut)" in labels
    assert "both digits' ink (dashed lines above)" in labels
    whole_wins = [Candidate((), [0.9], [-0.1], [], -0.2),
                  Candidate((30,), [0.5, 0.5], [0, 0], [0.1], -1.5)]
    fig = plot_cut_search(found.ink, found.threshold, whole_wins)
    picture, scores = fig.axes
    labels = [t.get_text() for t in scores.get_legend().get_texts()]
    assert labels == ["cut in two, at this column",
                      "the unsplit group (no cut): the best, so no cut is made"]
    assert "best: no cut" in picture.get_title()
    assert not [line for line in picture.lines if line.get_linewidth() == 3]  # no cut drawn
    _saved(fig, tmp_path, "no_cut")


def test_the_cuts_scored_for_show_are_the_ones_read_number_chooses_from(shipped):
    model, _ = shipped
    touching = [[(30 + 35 * i + 60 * x, 20 + 100 * y) for x, y in stroke]
                for i, digit in enumerate((4, 7)) for stroke in STROKES[digit]]  # a 4 and a 7
    steps = plot_number_steps(model, rasterize_strokes(touching, size=(200, 150),
                                                       line_width=10))[1]
    group = max(steps.line.regions, key=lambda r: r.width)  # the touching 4 and 7
    threshold = steps.found.threshold
    candidates = score_cuts(model, group, steps.typical, steps.angle, threshold)
    assert [c.cuts for c in candidates] == [
        c for c in number_reading.candidate_cuts(group, steps.typical)
        if len(number_reading.split(group, c, threshold)) == len(c) + 1]
    for c in candidates:
        widths = np.diff([0, *c.cuts, group.width]).tolist()
        assert np.isclose(c.score, reading_score(c.confidences, widths, steps.typical, c.cut_ink))
        assert len(c.pixels) == len(c.cuts) + 1 and c.pixels[0].shape == (28, 28)
    # read_number's own search (_best_split) cuts where the best of these cuts falls, and
    # hands the model the same pixels
    chosen, _, _ = number_reading._best_split(model, group, steps.typical, steps.angle,
                                              threshold)
    best = max((c for c in candidates if c.cuts), key=lambda c: c.score)
    assert list(best.cuts) == [region.x - group.x for region, _ in chosen[1:]]
    for pixels, (_, theirs) in zip(best.pixels, chosen, strict=True):
        assert np.allclose(pixels, theirs)


def test_the_cut_table_lists_no_cut_then_the_best_cuts():
    candidates = [Candidate((30,), [0.9, 0.8], [-0.1, -0.2], [0.25], -0.5),
                  Candidate((), [0.04], [-0.12], [], -3.4),
                  Candidate((20,), [0.7, 0.9], [-0.3, 0.0], [0.5], -1.2),
                  Candidate((40,), [0.95, 0.6], [0.0, -0.4], [0.1], -0.9)]
    rows = cut_search_rows(candidates, best=2)
    assert [row["cut at columns"] for row in rows] == ["no cut", "[30]", "[40]"]
    assert rows[0]["ink at each cut"] == "-" and rows[1]["ink at each cut"] == "0.25"
    assert rows[1]["each piece: top digit probability"] == "0.900, 0.800"
    assert rows[1]["each piece: width prior"] == "-0.100, -0.200" and rows[2]["score"] == "-0.900"


def test_digits_in_a_row_draws_each_digit_in_its_own_box():
    picture = digits_in_a_row(STROKES[4], STROKES[2], extra=[[(108, 80), (122, 80)]])
    assert picture.shape == (170, 2 * 90 + 100)
    ink = picture < 0.5
    assert ink[:, 40:100].any() and ink[:, 130:190].any()  # the 4, then the 2
    assert ink[80, 108:123].all()  # the dash, drawn where it was given
    assert not ink[:, :30].any() and not ink[:, 200:].any()  # blank margins


def test_each_piece_is_printed_with_the_network_s_verdict_on_it_alone(shipped, capsys):
    model, refusal = shipped
    reading = print_pieces(model, _picture(), "174", refusal=refusal)
    assert reading.number == read_number(model, _picture(), refusal=refusal).number
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"written 174, read {reading.number}; typical width")
    assert len(lines) == 1 + len(reading.digits) + len(reading.refused)
    xs = [int(line.split("x=")[1].split(":")[0]) for line in lines[1:]]
    assert xs == sorted(xs)  # left to right
    assert all(line.endswith(("accepts it", "refuses it")) for line in lines[1:])


def test_group_decisions_says_what_the_cut_step_did_with_each_group_as_read_number_read_it(
        shipped):
    model, refusal = shipped
    picture = _picture()
    reading = read_number(model, picture, refusal=refusal)
    found = find_ink(picture, work_size=number_reading.WORK_SIZE)
    lines = group_decisions(reading)
    assert len(lines) == len(find_line(found.ink, found.threshold).regions)
    xs = [int(line.split("x=")[1].split(":")[0]) for line in lines]
    assert xs == sorted(xs)  # left to right
    assert all(("cut search ran;" in line) != ("cut search not run;" in line) for line in lines)
    # The pieces' digits, read left to right across the groups, spell the number read.
    assert "".join(line.split(", read ")[-1].replace(", ", "") for line in lines) == reading.number


def test_the_groups_kept_in_a_reading_are_its_pieces_before_and_after_the_cut_step(shipped):
    """A 4 and a 7 drawn overlapping make one group, which the cut search cuts in two; two
    digits written apart are two groups, each kept whole."""
    model, refusal = shipped
    overlapping = rasterize_strokes(
        [[(left + 60 * x, 70 + 100 * y) for x, y in stroke]
         for left, digit in ((30, 4), (65, 7)) for stroke in STROKES[digit]],
        size=(200, 220), line_width=10)
    (group,) = read_number(model, overlapping, refusal=refusal).groups
    assert group.searched and len(group.pieces) == 2 and len(group.probabilities) == 12
    apart = rasterize_strokes(
        [[(left + 60 * x, 70 + 100 * y) for x, y in stroke]
         for left, digit in ((30, 4), (130, 7)) for stroke in STROKES[digit]],
        size=(200, 260), line_width=10)
    reading = read_number(model, apart, refusal=refusal)
    assert [len(g.pieces) for g in reading.groups] == [1, 1]
    assert [g.pieces[0] for g in reading.groups] == [d.box for d in reading.digits]


def test_the_first_mistake_is_zoomed_on(tmp_path):
    picture = np.full((150, 600), 240, dtype=np.uint8)
    reading = NumberReading(path="", digits=[_digit((20, 20, 60, 100), 1),
                                             _digit((400, 20, 60, 100), 3)])
    fig = plot_first_mistake(picture, reading, "123")
    whole, zoom = fig.axes
    assert whole.get_legend() is not None and zoom.get_legend() is None
    assert zoom.get_title() == "zoomed on the first mistake (colours as above)"
    gap = first_mistake(reading, "123")[0]  # half-way between the 1 and the 3
    x0, x1 = zoom.get_xlim()
    assert x0 < gap < x1 and x1 - x0 == 4 * 100  # 2 digit heights either side
    # the whole number cropped to its ink: half a digit height either side of the boxes (the
    # picture's left edge is nearer), 0.9 above for the labels and 0.6 below for the ▲
    assert whole.get_xlim() == (-0.5, 510) and whole.get_ylim() == (149.5, -0.5)
    _saved(fig, tmp_path, "first_mistake")
    fig = plot_first_mistake(picture, reading, "13")
    assert fig.axes[1].get_title().startswith("nothing to zoom on")
    tall_page = np.full((600, 600), 240, dtype=np.uint8)  # the digits in a band in the middle
    low = NumberReading(path="", digits=[_digit((20, 250, 60, 100), 1),
                                         _digit((400, 250, 60, 100), 3)])
    whole = plot_first_mistake(tall_page, low, "123").axes[0]
    assert whole.get_ylim() == (410, 160), "cropped to the band, not the whole page"


def test_a_label_sits_above_a_taller_neighbours_box_it_would_cross():
    """A narrow 1 whose box starts lower than the 4 beside it: its label, just above its own
    box, would sit on the 4's box edge."""
    picture = np.full((200, 300), 240, dtype=np.uint8)
    reading = NumberReading(path="", digits=[_digit((40, 80, 12, 90), 1),
                                             _digit((58, 50, 70, 100), 4),
                                             _digit((200, 50, 60, 100), 7)])
    ax = plot_reading_against_truth(picture, reading, "147").axes[0]
    label_y = {t.get_text(): t.get_position()[1] for t in ax.texts}
    assert label_y == {"1": 47, "4": 47, "7": 47}


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


@pytest.mark.parametrize(("read", "written", "expected"), [
    ("13", "123", "the 2 after 1 was lost"),
    ("527802821", "5278802821", "the 8 after 527 was lost"),
    ("23", "123", "the 1 before 23 was lost"),
    ("1", "1234", "the 234 after 1 were lost"),
    ("4681", "468", "the 1 after 468 is extra"),
    ("498", "448", ""),  # a digit read wrong: its red box shows it
    ("48", "+48", ""),  # a plus left out is not a lost digit
    ("468", "468", ""),
])
def test_misreading_names_each_digit_lost_or_extra_by_its_place(read, written, expected):
    assert misreading(read, written) == expected


def test_a_lost_digit_is_marked_where_it_belongs(tmp_path):
    picture = np.full((150, 330), 240, dtype=np.uint8)
    reading = NumberReading(path="", digits=[_digit((20, 20, 60, 100), 1),
                                             _digit((200, 20, 60, 100), 3)])
    fig = plot_reading_against_truth(picture, reading, "123")
    ax = fig.axes[0]
    assert ax.get_title() == "written 123, read 13\nthe 2 after 1 was lost (red ▲)"
    assert ax.patches[0].get_edgecolor() == ax.patches[1].get_edgecolor()  # both read right
    (marker,) = ax.lines  # one ▲, half-way between the 1's right edge (80) and the 3's left (200)
    assert marker.get_marker() == "^" and list(marker.get_xdata()) == [140]
    assert marker.get_ydata()[0] > 120  # under the digits, whose boxes end at row 120
    assert ax.get_xlim() == (-0.5, 329.5)  # the marker did not stretch the picture
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[-1] == "written digit(s) unmatched, none read" and len(labels) == 3
    assert "refused piece" not in labels  # none was refused: the legend names what is drawn
    assert first_mistake(reading, "123") == (140, 20, 0, 100)
    assert first_mistake(reading, "13") is None
    _saved(fig, tmp_path, "lost")


def _with_margins(picture, margin=120):
    """``picture`` (grey levels 0..1, dark on light) on a wider sheet of blank paper."""
    return np.pad(picture, margin, constant_values=1.0)


def test_a_grid_of_real_readings_draws_each_as_read_zoomed_on_its_boxes(shipped, tmp_path):
    model, refusal = shipped
    stray = [[(40 + 90 * i + 60 * x, 30 + 100 * y) for x, y in stroke]
             for i, digit in enumerate((4, 6, 8)) for stroke in STROKES[digit]]
    pictures = [_with_margins(_picture()),
                _with_margins(rasterize_strokes(stray + [[(320, 60), (315, 120)]],
                                                size=(370, 170), line_width=12)),
                _picture()]
    written = ["174", "468", "1774"]  # the last: a 7 more than the picture holds, lost
    readings = [read_number(model, p, refusal=refusal) for p in pictures]
    fig = plot_readings_grid(pictures, readings, written, ["a", "b", "c"], columns=2)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 3 and not fig.axes[3].axison  # the fourth place of the grid is empty
    for ax, picture, reading, number, note in zip(shown, pictures, readings, written, "abc",
                                                  strict=True):
        assert ax.get_title() == f"written {number}, read {reading.number}\n{note}"
        read = "".join(str(d.digit) for d in reading.digits)
        red = [p for p in ax.patches if p.get_edgecolor() == matplotlib.colors.to_rgba("tab:red")]
        assert len(red) == matched_digits(read, number).count(False)  # one per digit read wrong
        (x0, x1), (y1, y0) = ax.get_xlim(), ax.get_ylim()
        for piece in reading.digits + reading.refused:  # every box in view...
            x, y, w, h = piece.box
            assert x0 <= x and x + w <= x1 and y0 <= y and y + h <= y1
        assert x0 >= -0.5 and x1 <= picture.shape[1] - 0.5  # ...and nothing beyond the picture
        assert ax.get_legend() is None  # one legend for all, below them
    assert [r.number for r in readings] == ["174", "4681", "174"]  # the stray mark read as a 1
    assert len(shown[2].lines) == 1  # the ▲ of the 7 lost
    # Zoomed: most of the 120-pixel blank margins left and right are cut off.
    assert shown[0].get_xlim()[1] - shown[0].get_xlim()[0] < pictures[0].shape[1] - 150
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[-1] == "written digit(s) unmatched, none read"
    assert ("refused piece" in labels) == any(r.refused for r in readings)  # only if drawn
    _saved(fig, tmp_path, "grid")


def test_a_grid_needs_as_many_readings_as_pictures():
    reading = NumberReading(path="", digits=[_digit((20, 20, 60, 100), 1)])
    with pytest.raises(ValueError, match="as many, at least one; got 2, 1, 2, 2, 2 and 2"):
        plot_readings_grid([np.ones((150, 330))] * 2, [reading], ["1", "1"])
    with pytest.raises(ValueError, match="got 0, 0, 0, 0, 0 and 0"):
        plot_readings_grid([], [], [])


def test_the_first_reader_reads_each_stroke_alone(shipped):
    """``read_strokes_only`` reads one piece per connected stroke (as ``ndimage.label`` counts
    them, corners touching), left to right, each fitted into 28×28."""
    from mnist_helpers.display.numbers_view import read_strokes_only

    model, refusal = shipped
    found = _ink()
    _, strokes = ndimage.label(found.ink > found.threshold, np.ones((3, 3)))
    first = read_strokes_only(model, _picture(), refusal=refusal)
    assert len(first.digits) + len(first.refused) == strokes
    boxes = [piece.box[0] for piece in first.digits + first.refused]
    assert sorted(boxes) == [d.box[0] for d in sorted(first.digits + first.refused,
                                                      key=lambda d: d.box[0])]
    assert all(piece.pixels.shape == (28, 28) for piece in first.digits + first.refused)
    blank = read_strokes_only(model, np.ones((50, 80)), refusal=refusal)
    assert blank.number is None and blank.reason.startswith("no number")


def test_read_number_can_skip_a_step_to_measure_what_it_buys(shipped):
    """A 4 and a 7 drawn overlapping (as in notebook 07b's 1.3) make one group: read whole
    with the cut search skipped, cut in two without; a step that does not exist is refused
    with the names of those that do."""
    model, refusal = shipped
    overlapping = rasterize_strokes(
        [[(left + 60 * x, 70 + 100 * y) for x, y in stroke]
         for left, digit in ((30, 4), (65, 7)) for stroke in STROKES[digit]],
        size=(200, 220), line_width=10)
    uncut = read_number(model, overlapping, refusal=refusal, skip=sorted(SKIPPABLE))
    assert len(uncut.digits) + len(uncut.refused) == 1  # the group, not cut
    assert not uncut.groups[0].searched
    cut = read_number(model, overlapping, refusal=refusal)
    assert len(cut.digits) + len(cut.refused) == 2
    with pytest.raises(ValueError, match="upright"):
        read_number(model, overlapping, refusal=refusal, skip=["no such step"])
    with pytest.raises(ValueError, match="list of step names"):
        read_number(model, overlapping, refusal=refusal, skip="cuts")


def _reading_at(*boxes, digits=None):
    digits = digits or [1] * len(boxes)
    return NumberReading(path="", digits=[
        DigitReading(box=box, digit=d, probabilities=[0.1] * 10, pixels=np.zeros((28, 28)))
        for box, d in zip(boxes, digits, strict=True)])


def test_each_piece_stands_on_the_written_digit_whose_box_holds_its_centre():
    from mnist_helpers.display.line_match import centre_owners, left_to_right

    places = np.array([[0.0, 0.25], [0.25, 0.5], [0.75, 1.0]])  # edges exact in binary
    found = np.array([[0.0, 0.125],     # centre 0.0625: the first digit
                      [0.25, 0.5],      # centre 0.375: the second
                      [0.5, 0.75],      # centre 0.625: between the second and the third, on none
                      [0.125, 0.375]])  # centre 0.25: on the shared edge, the first one listed
    assert centre_owners(found, places) == [0, 1, None, 0]
    reading = _reading_at((50, 0, 10, 10), (5, 0, 10, 10), digits=[1, 2])
    reading.refused = _reading_at((20, 0, 5, 5), digits=[3]).digits
    assert [piece.box[0] for piece in left_to_right(reading)] == [5, 20, 50]


def test_pieces_are_matched_to_the_written_boxes_along_the_line():
    from mnist_helpers.display.line_match import along_the_line, blame, pieces_on_digits

    written = [(10, 5, 40, 60), (60, 5, 40, 60), (100, 5, 40, 60)]  # the last two touch
    # The picture: the same line shifted by 100 px and stretched by 1.5.
    span = (100 + 10 * 1.5, 100 + 140 * 1.5)
    one_each = _reading_at((115, 0, 60, 90), (190, 0, 60, 90), (250, 0, 60, 90), digits=[1, 2, 3])
    found, places = along_the_line(one_each, written, span)
    assert np.allclose(found, places)
    assert blame(one_each, "123", written, span) == []
    assert blame(one_each, "123", written, span, even_if_read=True) == []
    assert blame(one_each, "124", written, span) == ["misread"]
    merged = _reading_at((115, 0, 60, 90), (190, 0, 120, 90), digits=[1, 2])
    assert blame(merged, "123", written, span) == ["2 digits in one piece (touching)"]
    assert [(piece.box, digits) for piece, digits in pieces_on_digits(merged, written, span)] == [
        ((115, 0, 60, 90), [0]), ((190, 0, 120, 90), [1, 2])]
    halves = _reading_at((115, 0, 30, 90), (145, 0, 30, 90), (190, 0, 60, 90),
                         (250, 0, 60, 90), digits=[1, 1, 2, 3])
    assert blame(halves, "123", written, span) == ["a digit in pieces"]
    stray = _reading_at((115, 0, 60, 90), (178, 0, 8, 90), (190, 0, 60, 90), (250, 0, 60, 90),
                        digits=[1, 7, 2, 3])
    assert blame(stray, "123", written, span) == ["a piece on no digit"]
    lost = _reading_at((115, 0, 60, 90), (250, 0, 60, 90), digits=[1, 3])
    assert blame(lost, "123", written, span) == ["a digit with no piece"]


def test_the_line_match_draws_what_each_piece_spans_and_stands_on(tmp_path):
    written = [(10, 5, 40, 60), (60, 5, 40, 60), (100, 5, 40, 60)]  # the last two touch
    span = (115, 305)
    merged = _reading_at((115, 0, 60, 90), digits=[1])
    merged.refused = [DigitReading(box=(190, 0, 115, 90), digit=None, probabilities=[0.1] * 10,
                                   pixels=np.zeros((28, 28)))]
    fig = plot_line_match(merged, "123", written, span)
    ax = fig.axes[0]
    assert ax.get_title() == "written 123, read 1: 2 digits in one piece (touching)"
    texts = [t.get_text() for t in ax.texts]
    assert texts[:3] == ["1", "2", "3"]  # the written digits, left to right
    assert "read 1" in texts and "refused" in texts
    assert "spans the centres of 1\nstands on 1" in texts
    assert "spans the centres of 2, 3\nstands on 3" in texts
    boxes = [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]
    assert len(boxes) == 5 and boxes[4].get_linestyle() == "--"  # the refused piece: dashed
    assert boxes[4].get_x() == pytest.approx((190 - 115) / (305 - 115))  # on the 0-to-1 scale
    one_each = _reading_at((115, 0, 60, 90), (190, 0, 60, 90), (250, 0, 60, 90),
                           digits=[1, 2, 3])
    fig = plot_line_match(one_each, "123", written, (115, 325))
    assert fig.axes[0].get_title().endswith("every piece on its own digit")
    _saved(fig, tmp_path, "line_match")


def test_a_reading_with_no_digit_read_says_so_in_its_panel(tmp_path):
    picture = np.full((150, 330), 240, dtype=np.uint8)
    refused = DigitReading(box=(20, 20, 60, 100), digit=None, probabilities=[0.1] * 10,
                           pixels=np.zeros((28, 28)), reason="not a digit")
    nothing = NumberReading(path="", refused=[refused], reason="no number: test")
    fig = plot_reading_against_truth(picture, nothing, "86")
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert "no digit read: every written digit is lost" in notes
    note = next(t for t in fig.axes[0].texts if t.get_text().startswith("no digit read"))
    assert note.get_position()[1] > 0.5 and note.get_va() == "top", \
        "at the top, under its own title: at the bottom a grid's next title would claim it"
    one = NumberReading(path="", digits=[_digit((20, 20, 60, 100), 8)])
    grid = plot_readings_grid([picture, picture], [nothing, one], ["86", "86"], columns=1)
    first = [t for t in grid.axes[0].texts if t.get_text().startswith("no digit read")]
    assert len(first) == 1 and first[0].get_position()[1] > 0.5
    fig = plot_reading_against_truth(picture, one, "86")
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert "no digit read: every written digit is lost" not in notes
    _saved(fig, tmp_path, "nothing")


def test_the_true_boxes_belong_to_the_same_numbers_as_without_them():
    from mnist_helpers.lab import compose

    pixels = np.zeros((10, 28, 28), dtype=np.uint8)
    pixels[:, 6:22, 11:17] = 255  # ten bars, one per label
    mnist = (pixels, np.arange(10))
    with_boxes = compose.number_pictures_with_boxes(4, seed=3, mnist=mnist)
    pictures = compose.make_number_pictures(4, seed=3, mnist=mnist)
    assert [written for _, written in pictures] == [written for _, written, _ in with_boxes]
    assert all(np.array_equal(np.asarray(a), np.asarray(b))
               for (a, _), (b, _, _) in zip(pictures, with_boxes, strict=True))
    assert [len(boxes) for *_, boxes in with_boxes] == [len(written) for _, written in pictures]


def test_how_often_digits_touch_is_set_by_touching():
    from mnist_helpers.lab import compose

    pixels = np.zeros((10, 28, 28), dtype=np.uint8)
    pixels[:, 6:22, 11:17] = 255  # ten bars, one per label
    mnist = (pixels, np.arange(10))

    def touching_pairs(chance):  # neighbours whose written boxes touch or overlap, of all
        pairs = [boxes[i + 1][0] <= boxes[i][0] + boxes[i][2]
                 for _, _, boxes in compose.number_pictures_with_boxes(12, seed=5, mnist=mnist,
                                                                       touching=chance)
                 for i in range(len(boxes) - 1)]
        return sum(pairs), len(pairs)

    assert touching_pairs(0.0)[0] == 0
    touched, pairs = touching_pairs(1.0)
    assert touched == pairs > 0
    assert 0 < touching_pairs(0.5)[0] < touching_pairs(0.5)[1]
    default = compose.make_number_pictures(3, seed=5, mnist=mnist)  # touching 0.25, as before
    same = compose.make_number_pictures(3, seed=5, mnist=mnist, touching=0.25)
    assert all(np.array_equal(np.asarray(a), np.asarray(b))
               for (a, _), (b, _) in zip(default, same, strict=True))


def test_digits_are_judged_by_their_place_along_the_line_when_the_boxes_are_known(tmp_path):
    """The same line as above, read "12" with the touching 2 and 3 in one piece: by the digit
    strings the 2 would match and the 3 be lost; by place the piece stands on two written
    digits, so it is red, and no ▲ is drawn (both digits lie under a box)."""
    from mnist_helpers.display.line_match import placed_digits

    written = [(10, 5, 40, 60), (60, 5, 40, 60), (100, 5, 40, 60)]
    span = (100 + 10 * 1.5, 100 + 140 * 1.5)
    merged = _reading_at((115, 0, 60, 90), (190, 0, 120, 90), digits=[1, 2])
    assert placed_digits(merged, "123", written, span) == ([True, False], [])
    assert matched_digits("12", "123") == [True, True]  # the strings' view differs
    misread = _reading_at((115, 0, 60, 90), (190, 0, 60, 90), (250, 0, 60, 90), digits=[1, 7, 3])
    assert placed_digits(misread, "123", written, span) == ([True, False, True], [])
    extra = _reading_at((115, 0, 60, 90), (190, 0, 45, 90), (236, 0, 12, 90), (250, 0, 60, 90),
                        digits=[1, 2, 7, 3])  # a speck in the 2's place, read as a 7
    assert placed_digits(extra, "123", written, span)[0] == [True, False, False, True]
    bar = DigitReading(box=(236, 0, 12, 20), digit=None, probabilities=[0.1] * 10,
                       pixels=np.zeros((28, 28)), reason="not a digit")
    beside = NumberReading(path="", digits=misread.digits[:1] + extra.digits[1:2]
                           + misread.digits[2:], refused=[bar])  # refused, in the 2's place
    assert placed_digits(beside, "123", written, span) == ([True, True, True], [])
    lost = _reading_at((115, 0, 60, 90), (250, 0, 60, 90), digits=[1, 3])
    right, columns = placed_digits(lost, "123", written, span)
    assert right == [True, True] and columns == [pytest.approx(100 + 80 * 1.5)]  # the 2's centre
    picture = np.full((150, 420), 240, dtype=np.uint8)
    fig = plot_reading_against_truth(picture, merged, "123", boxes=written, span=span)
    ax = fig.axes[0]
    assert ax.patches[0].get_edgecolor() != ax.patches[1].get_edgecolor()
    assert not ax.lines  # no ▲: no written digit is without a piece
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "digit read right, in its written digit's place"
    fig = plot_reading_against_truth(picture, lost, "123", boxes=written, span=span)
    (marker,) = fig.axes[0].lines
    assert list(marker.get_xdata()) == [pytest.approx(220.0)]
    fig = plot_readings_grid([picture, picture], [merged, lost], ["123", "123"],
                             boxes=[written, written], spans=[span, span], columns=2)
    assert fig.legends[0].get_texts()[-1].get_text() == "written digit with no piece on it"
    with pytest.raises(ValueError, match="as many"):
        plot_readings_grid([picture], [merged], ["123"], boxes=[written, written], spans=[span])
    with pytest.raises(ValueError, match="span"):
        plot_reading_against_truth(picture, merged, "123", boxes=written)
    _saved(fig, tmp_path, "by_place")
