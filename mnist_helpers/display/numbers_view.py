"""Notebook 07b's first reader (:func:`read_strokes_only`: one connected stroke, one digit),
and figures and printouts that
show how a whole number is read, one step at a time: the ink, its connected strokes, the
groups made of them, the line and its slope, the pieces read (:func:`plot_number_steps` redoes
the steps of ``read_number`` on a picture and draws them with :func:`plot_reading_steps`), the
and each piece of a reading (:func:`print_pieces`); :func:`digits_in_a_row` draws test
numbers with the package's pen strokes. The search for where to cut touching digits is
:mod:`mnist_helpers.display.cut_view`'s; a reading checked against what was written is
:mod:`mnist_helpers.display.truth_view`'s. They draw what the package's own functions compute;
they compute nothing of their own but the colours and the lines drawn."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy import ndimage
from torch import nn

from .. import digit_line, number_reading
from ..config import CLASS_NAMES, DIGIT_OUTPUTS
from ..digit_line import SMALL, Line, Region, find_line, typical_width
from ..errors import NoInkError
from ..evaluate import class_probabilities
from ..images import ImageLike, as_image, rasterize_strokes
from ..number_reading import DigitReading, NumberReading, read_number
from ..predict import Refusal, decide
from ..preprocess import Ink, find_ink, to_mnist_pixels, to_model_input

RIGHT, WRONG, BEST = "tab:green", "tab:red", "tab:orange"
REFUSED = "grey"  # a refused piece, always drawn dashed: red means a digit read wrong or extra
READ = "tab:blue"  # a piece read, not checked against what was written: neither right nor wrong


def _colours(count: int) -> np.ndarray:
    """``count`` distinct RGB colours (tab10, repeated when there are more than ten)."""
    return np.array([plt.get_cmap("tab10")(i % 10)[:3] for i in range(count)])


def _painted(shape: tuple[int, int], layers: Sequence[np.ndarray]) -> np.ndarray:
    """An RGB picture, black where there is no ink, each boolean mask of ``layers`` in its own
    colour (a later layer over an earlier one)."""
    picture = np.zeros((*shape, 3))
    for colour, layer in zip(_colours(len(layers)), layers, strict=True):
        picture[layer] = colour
    return picture


def _region_mask(region: Region, shape: tuple[int, int], threshold: float) -> np.ndarray:
    """Where ``region``'s own ink lies, as a mask the size of the whole ink image."""
    mask = np.zeros(shape, dtype=bool)
    mask[region.y: region.y + region.height, region.x: region.x + region.width] = (
        region.ink > threshold)
    return mask


def _box(ax: Axes, region: Region, colour: str, label: str = "", dashed: bool = False) -> None:
    """A box round ``region`` with ``label`` above it."""
    ax.add_patch(plt.Rectangle((region.x - 0.5, region.y - 0.5), region.width, region.height,
                               fill=False, lw=1.5, edgecolor=colour,
                               linestyle="--" if dashed else "-"))
    if label:
        ax.text(region.x + region.width / 2, region.y - 3, label, ha="center", va="bottom",
                fontsize=10, fontweight="bold", color=colour)


def digits_in_a_row(*digits: Sequence[Sequence[tuple[float, float]]], line_width: int = 12,
                    extra: Sequence[Sequence[tuple[float, float]]] = ()) -> np.ndarray:
    """A test number drawn with pen strokes: each of ``digits`` (a list of strokes, each a list
    of (x, y) points in a unit box, as in ``mnist_helpers.lab.pictures.STROKES``) drawn 60 px
    wide and 100 px tall, their boxes 90 px apart from x = 40, on a canvas 170 px tall and
    100 px wider than the digits take; ``extra`` strokes, in the canvas's own pixels, are
    drawn as they are (a dash, a stray mark). Grey levels 0..1, dark ink on white."""
    strokes = [[(40 + 90 * i + 60 * x, 30 + 100 * y) for x, y in stroke]
               for i, digit in enumerate(digits) for stroke in digit]
    return rasterize_strokes(strokes + [list(s) for s in extra],
                             size=(90 * len(digits) + 100, 170), line_width=line_width)


def read_strokes_only(model: nn.Module, image: ImageLike,
                      refusal: Refusal | None = None) -> NumberReading:
    """The smallest number reader, which notebook 07b builds ``read_number`` up from: find the
    ink (``find_ink``), split it into connected strokes (``digit_line._components``, as
    ``read_number``'s step 2 does), cut each stroke out with its own ink only
    (``digit_line._region``), fit it into 28×28 (``to_mnist_pixels``) and read it alone
    (``decide``, 07a's refusal rule), left to right. Nothing more: no speck dropped, no strokes
    joined, no slope measured, no cut, no context rule."""
    image = as_image(image)
    reading = NumberReading(path="")
    try:
        found = find_ink(image, work_size=number_reading.WORK_SIZE)
    except NoInkError:
        reading.reason = "no number: no ink found"
        return reading
    labels, strokes = digit_line._components(found.ink > found.threshold)
    regions = sorted((digit_line._region(s, labels, found.ink) for s in strokes),
                     key=lambda r: r.x)
    pixels = [to_mnist_pixels(r.ink) for r in regions]
    read = class_probabilities(model, torch.cat([to_model_input(p) for p in pixels])).tolist() \
        if pixels else []
    scale = max(image.size) / max(found.ink.shape)  # picture pixels per ink pixel
    for region, seen, probs in zip(regions, pixels, read, strict=True):
        digit, reason = decide(probs, refusal)
        x, y, width, height = (int(round(v * scale))
                               for v in (region.x, region.y, region.width, region.height))
        piece = DigitReading(box=(x, y, width, height), digit=digit,
                             probabilities=probs[DIGIT_OUTPUTS], pixels=seen, reason=reason)
        (reading.digits if digit is not None else reading.refused).append(piece)
    if not reading.digits:
        reading.reason = "no number: nothing in the image was read as a digit"
    return reading


def plot_reading_steps(ink: np.ndarray, threshold: float, labels: np.ndarray,
                       regions: Sequence[Region], height: float, angle: float,
                       pieces: Sequence[tuple[Region, int | None]],
                       title: str = "Reading a number, step by step") -> Figure:
    """Five panels, left to right and top to bottom, in the ink image's own (work-size)
    pixels: the ink; its connected strokes (``labels``, as ``scipy.ndimage.label`` numbers them
    in raster order, each number written above its stroke), one colour each;
    the groups ``find_line`` made of them (``regions``), one colour each; the centres of the
    groups at least ``SMALL`` of the digits' ``height`` tall and the line through them at
    ``angle`` degrees (a weighted least-squares line passes through the weighted mean of its
    points, here weighted by ink); the pieces read, with the digit read above each (``None``:
    refused, a dashed grey box, as in :func:`plot_reading_against_truth`). The sixth place
    holds the key to the fifth panel's boxes."""
    rows, cols = np.nonzero(ink > threshold)
    margin = 10
    top, bottom = max(0, rows.min() - 3 * margin), min(ink.shape[0], rows.max() + margin)
    left, right = max(0, cols.min() - margin), min(ink.shape[1], cols.max() + margin)
    aspect = (bottom - top) / max(right - left, 1)
    fig, grid = plt.subplots(3, 2, figsize=(11, 3 * (5.5 * aspect + 0.4)), layout="constrained")
    axes = grid.ravel()  # panels 1 to 5 left to right, row by row; the sixth place is the key
    count = int(labels.max())
    panels = [
        (ink, f"1. the ink, white on black (a pixel is ink above {threshold:.2f})"),
        (_painted(ink.shape, [labels == i for i in range(1, count + 1)]),
         f"2. connected strokes: {count}, one colour each"),
        (_painted(ink.shape, [_region_mask(r, ink.shape, threshold) for r in regions]),
         f"3. groups (new colours): specks dropped, strokes above one another joined: "
         f"{len(regions)}"),
        (ink, f"4. the line through the groups' centres: slope {angle:.1f}°\n"
              "(rows count downwards: below 0, it rises to the right)"),
        (ink, f"5. the pieces read, after cutting touching digits: {len(pieces)}"),
    ]
    for ax, (picture, name) in zip(axes[:5], panels, strict=True):
        ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9, loc="left")
        ax.set(xlim=(left - 0.5, right - 0.5), ylim=(bottom - 0.5, top - 0.5))
        ax.set_xticks([])
        ax.set_yticks([])
    for number in range(1, count + 1):  # each stroke's number, just above its top
        stroke_rows, stroke_cols = np.nonzero(labels == number)
        axes[1].text(stroke_cols.mean(), stroke_rows.min() - 2, str(number), color="white",
                     fontsize=11, fontweight="bold", ha="center", va="bottom")
    for region in regions:
        _box(axes[2], region, "white")
    tall = [r for r in regions if r.height >= SMALL * height]
    x = np.array([r.x + r.width / 2 for r in tall])
    y = np.array([r.y + r.height / 2 for r in tall])
    weights = np.array([float(r.ink.sum()) for r in tall])
    axes[3].plot(x, y, "o", color=BEST, ms=7, label="centre of a group")
    if len(tall):
        mid_x, mid_y = np.average(x, weights=weights), np.average(y, weights=weights)
        ends = np.array([left, right])
        axes[3].plot(ends, mid_y + math.tan(math.radians(angle)) * (ends - mid_x), "--",
                     color=BEST, lw=1.5, label=f"the line, {angle:.1f}°")
    axes[3].legend(fontsize=8, loc="lower right")
    for region, digit in pieces:
        refused = digit is None
        _box(axes[4], region, REFUSED if refused else READ, "?" if refused else str(digit),
             dashed=refused)
    key = [Line2D([], [], color=READ, lw=2, label="a piece read as the digit above it"),
           Line2D([], [], color=REFUSED, lw=2, ls="--", label="a refused piece, labelled ?")]
    axes[5].legend(handles=key, loc="center", fontsize=9, frameon=False,
                   title="panel 5: each box is a piece\n(not checked against the written digits)")
    axes[5].axis("off")
    fig.suptitle(title)
    return fig


@dataclass
class ReadingSteps:
    """What each step of ``read_number`` made of one picture, in the pixels of its ink image
    (at most ``WORK_SIZE`` a side): the ink (step 1), its connected strokes numbered 1 to
    ``strokes`` (step 2), the line of groups (step 3), its slope in degrees (step 4), the
    typical width, the pieces after cutting (step 5) and ``read_number``'s own reading
    (step 6); ``scale`` is how many picture pixels one ink pixel stands for."""

    found: Ink
    labels: np.ndarray
    strokes: int
    line: Line
    angle: float
    typical: float
    pieces: list[tuple[Region, np.ndarray]]
    reading: NumberReading
    scale: float


def plot_number_steps(model: nn.Module, image: ImageLike, refusal: Refusal | None = None,
                      title: str = "Reading a number, step by step"
                      ) -> tuple[Figure, ReadingSteps]:
    """Read ``image`` with ``read_number`` and draw its steps (:func:`plot_reading_steps`,
    pixels drawn as squares), each redone with the function ``read_number`` calls: step 1
    ``find_ink``; step 2 ``scipy.ndimage.label`` with a 3×3 ``structure`` (as ``find_line``
    labels strokes), so that pixels touching only at a corner join and a thin diagonal stays
    one stroke; step 3
    ``find_line``; step 4 ``_line_angle``; step 5 ``_best_split`` on every group. Returns the
    figure and what each step made. Raises ``ValueError`` when the picture has no line of
    digits, or when a piece redone here is not one of ``read_number``'s (the two would then
    disagree, and the figure would not show how the number was read)."""
    found = find_ink(image, work_size=number_reading.WORK_SIZE)
    labels, strokes = ndimage.label(found.ink > found.threshold, structure=np.ones((3, 3)))
    line = find_line(found.ink, found.threshold)
    if line.problem is not None or not line.regions:
        raise ValueError(f"no line of digits to draw: {line.problem or 'no region to read'}")
    angle = number_reading._line_angle(line.regions, line.height)
    typical = typical_width(line.regions)
    pieces = [piece for region in line.regions
              for piece in number_reading._best_split(model, region, typical, angle,
                                                      found.threshold)[0]]
    reading = read_number(model, image, refusal=refusal)
    scale = max(as_image(image).size) / max(found.ink.shape)
    read_at = {d.box: d.digit for d in reading.digits + reading.refused}
    drawn: list[tuple[Region, int | None]] = []
    for region, _ in pieces:
        box = tuple(int(round(v * scale))
                    for v in (region.x, region.y, region.width, region.height))
        if box not in read_at:
            raise ValueError(f"the piece at {box} is not one of read_number's pieces "
                             f"{sorted(read_at)}")
        drawn.append((region, read_at[box]))
    with plt.rc_context({"image.interpolation": "nearest"}):  # pixels as squares: sharp
        fig = plot_reading_steps(found.ink, found.threshold, labels, line.regions, line.height,
                                 angle, drawn, title=title)
    return fig, ReadingSteps(found, labels, int(strokes), line, angle, typical, pieces,
                             reading, scale)


def print_pieces(model: nn.Module, picture: ImageLike, written: str,
                 refusal: Refusal | None = None) -> NumberReading:
    """Read ``picture`` with ``read_number`` and print, for every piece it read (accepted or
    refused), left to right: its left edge and width in the picture's pixels, its height
    against the line's, the model's two likeliest outputs for the piece alone, and whether
    :func:`~mnist_helpers.predict.decide` accepts it alone (before step 6's context rule and
    the height test of ``_decide``). The first line gives what was ``written``, what was read,
    the line's typical width and ``TOO_WIDE`` times it (a wider group is always searched for
    cuts, though "no cut" may still win). Returns the reading."""
    reading = read_number(model, picture, refusal=refusal)
    found = find_ink(picture, work_size=number_reading.WORK_SIZE)
    line = digit_line.find_line(found.ink, found.threshold)
    scale = max(as_image(picture).size) / max(found.ink.shape)  # picture pixels per ink pixel
    typical = scale * typical_width(line.regions) if line.regions else float("nan")
    print(f"written {written}, read {reading.number}; typical width {typical:.1f} px, "
          f"TOO_WIDE × typical = {number_reading.TOO_WIDE * typical:.1f} px")
    for piece in sorted(reading.digits + reading.refused, key=lambda piece: piece.box[0]):
        x, _, width, height = piece.box
        read = class_probabilities(model, to_model_input(piece.pixels))[0].tolist()
        top = sorted(range(len(read)), key=lambda k: -read[k])[:2]
        accepted = decide(read, refusal)[0] is not None
        print(f"  piece at x={x:3d}: {width:3d} px wide, {height / (scale * line.height):.2f} "
              "of the line's height; "
              + ", ".join(f"{CLASS_NAMES[k]} {100 * read[k]:.0f}%" for k in top)
              + ("; the network alone accepts it" if accepted
                 else "; the network alone refuses it"))
    return reading


def plot_pictures_and_inputs(pictures: Sequence[np.ndarray], inputs: Sequence[np.ndarray],
                             titles: Sequence[str], *, columns: int = 8,
                             title: str = "Pictures, and what the model sees") -> Figure:
    """Each picture (grey levels 0..1, any size) with the 28×28 image the model sees under it
    (white on black, 0..1), ``columns`` pairs to a row, titled with ``titles``."""
    if not len(pictures) == len(inputs) == len(titles):
        raise ValueError(f"pictures, inputs and titles must be as many; got {len(pictures)}, "
                         f"{len(inputs)} and {len(titles)}")
    pairs = -(-len(pictures) // columns)
    fig, axes = plt.subplots(2 * pairs, columns, figsize=(1.15 * columns, 2.5 * pairs + 0.5),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (picture, seen, name) in enumerate(zip(pictures, inputs, titles, strict=True)):
        row, column = 2 * (i // columns), i % columns
        axes[row, column].imshow(picture, cmap="gray", vmin=0, vmax=1)
        axes[row, column].set_title(name, fontsize=8)
        axes[row + 1, column].imshow(np.asarray(seen).reshape(28, 28), cmap="gray", vmin=0,
                                     vmax=1)
        axes[row + 1, column].set_title("model's input", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
