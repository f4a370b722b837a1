"""Figures of notebook 07b that show how a whole number is read, one step at a time: the ink,
its connected strokes, the groups made of them, the line and its slope, the pieces read
(:func:`plot_reading_steps`), the search for where to cut touching digits
(:func:`plot_cut_search`) and a reading checked digit by digit against what was written
(:func:`plot_reading_against_truth`). They draw what the notebook computed with the package's
own functions; they compute nothing of their own but the colours, the line drawn and which
digits match."""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image

from ..digit_line import SMALL, Region
from ..number_reading import NumberReading

RIGHT, WRONG, BEST = "tab:green", "tab:red", "tab:orange"


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


def plot_reading_steps(ink: np.ndarray, threshold: float, labels: np.ndarray,
                       regions: Sequence[Region], height: float, angle: float,
                       pieces: Sequence[tuple[Region, int | None]],
                       title: str = "Reading a number, step by step") -> Figure:
    """Five panels, top to bottom, in the ink image's own (work-size) pixels: the ink; its
    connected strokes (``labels``, as ``scipy.ndimage.label`` numbers them), one colour each;
    the groups ``find_line`` made of them (``regions``), one colour each; the centres of the
    groups at least ``SMALL`` of the digits' ``height`` tall and the line through them at
    ``angle`` degrees (a weighted least-squares line passes through the weighted mean of its
    points, here weighted by ink); the pieces read, with the digit read above each (``None``:
    refused, a dashed red box)."""
    rows, cols = np.nonzero(ink > threshold)
    margin = 10
    top, bottom = max(0, rows.min() - 3 * margin), min(ink.shape[0], rows.max() + margin)
    left, right = max(0, cols.min() - margin), min(ink.shape[1], cols.max() + margin)
    aspect = (bottom - top) / max(right - left, 1)
    fig, axes = plt.subplots(5, 1, figsize=(6, 5 * (6 * aspect + 0.35)), layout="constrained")
    count = int(labels.max())
    panels = [
        (ink, f"1. the ink, white on black (a pixel is ink above {threshold:.2f})"),
        (_painted(ink.shape, [labels == i for i in range(1, count + 1)]),
         f"2. connected strokes: {count}, one colour each"),
        (_painted(ink.shape, [_region_mask(r, ink.shape, threshold) for r in regions]),
         f"3. groups (new colours): specks dropped, pieces above one another joined: "
         f"{len(regions)}"),
        (ink, f"4. the line through the groups' centres: slope {angle:.1f}° "
              "(rows count downwards: below 0, it rises to the right)"),
        (ink, f"5. the pieces read, after cutting touching digits: {len(pieces)}"),
    ]
    for ax, (picture, name) in zip(axes, panels, strict=True):
        ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9, loc="left")
        ax.set(xlim=(left - 0.5, right - 0.5), ylim=(bottom - 0.5, top - 0.5))
        ax.set_xticks([])
        ax.set_yticks([])
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
        _box(axes[4], region, WRONG if refused else RIGHT, "?" if refused else str(digit),
             dashed=refused)
    fig.suptitle(title)
    return fig


@dataclass
class Candidate:
    """One way of reading a group: the columns it is cut at (none: read whole), how surely
    the model reads each piece as a digit, each piece's width prior, the ink each cut goes
    through, and the summed score."""

    cuts: tuple[int, ...]
    confidences: list[float]
    priors: list[float]
    cut_ink: list[float]
    score: float


def plot_cut_search(ink: np.ndarray, threshold: float, candidates: Sequence[Candidate],
                    title: str = "Where to cut a group of touching digits") -> Figure:
    """Left: the group's ink, every candidate cut drawn as a thin orange line and the cuts of
    the best-scoring candidate thick. Right: the score of every cut in two (by where it cuts,
    on the same column axis as the ink), against the score of reading the group whole and of
    the best cut in three."""
    best = max(candidates, key=lambda c: c.score)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6),
                                      gridspec_kw={"width_ratios": [1, 1.6]})
    left.imshow(ink > threshold, cmap="gray")
    for column in sorted({c for candidate in candidates for c in candidate.cuts}):
        # orange stands out on white ink and black paper; thin and half seen through, so
        # that the digits stay visible under two dozen of them
        left.axvline(column - 0.5, color=BEST, lw=0.8, alpha=0.6)
    for column in best.cuts:
        left.axvline(column - 0.5, color=BEST, lw=3)
    left.set(title=f"{len({c for k in candidates for c in k.cuts})} columns tried; best: "
                   f"{list(best.cuts) or 'no cut'}", xlabel="column (pixels)",
             ylabel="row (pixels)")
    left.title.set_fontsize(9)
    twos = sorted((c for c in candidates if len(c.cuts) == 1), key=lambda c: c.cuts)
    if twos:
        right.plot([c.cuts[0] for c in twos], [c.score for c in twos], ".-", color="tab:blue",
                   label="cut in two, at this column")
    whole = [c for c in candidates if not c.cuts]
    if whole:
        right.axhline(whole[0].score, color="black", ls="--", lw=1, label="read whole (no cut)")
    threes = [c for c in candidates if len(c.cuts) == 2]
    if threes:
        right.axhline(max(c.score for c in threes), color="tab:purple", ls=":", lw=1.5,
                      label="best cut in three")
    if best.cuts:
        right.plot(best.cuts[0], best.score, "o", ms=10, color=BEST, markeredgecolor="black",
                   label=f"best: score {best.score:.2f}")
    right.set(xlabel="column of the cut (pixels from the group's left edge)",
              ylabel="score (sum of log-probabilities,\nwidth priors and ink penalty)",
              title="The score of each way of reading the group")
    right.set_xlim(left.get_xlim())  # a cut's score stands under the same column as its line
    right.title.set_fontsize(9)
    right.grid(alpha=0.3)
    right.legend(fontsize=8, loc="lower center")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


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


def matched_digits(read: str, written: str) -> list[bool]:
    """For each digit of ``read``, whether it matches a digit of ``written`` once the two are
    aligned (``difflib``'s longest matching blocks): a digit read wrong, or one too many,
    does not."""
    matched = [False] * len(read)
    for block in difflib.SequenceMatcher(a=read, b=written, autojunk=False).get_matching_blocks():
        matched[block.a: block.a + block.size] = [True] * block.size
    return matched


def plot_reading_against_truth(image: Image.Image | np.ndarray, reading: NumberReading,
                               written: str, ax: Axes | None = None,
                               title: str | None = None) -> Figure:
    """The picture with a box round every digit read: green where it matches the number
    ``written`` (aligned by :func:`matched_digits`), red where it does not, dashed grey round
    a piece refused as not a digit; a legend says which is which."""
    image = np.asarray(image.convert("L") if isinstance(image, Image.Image) else image)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(10, 1 + image.shape[1] / 80),
                                      1.2 + image.shape[0] / 80))
    ax.imshow(image, cmap="gray", vmin=0, vmax=255 if image.max() > 1 else 1)
    right = matched_digits("".join(str(d.digit) for d in reading.digits), written)
    for digit, ok in zip(reading.digits, right, strict=True):
        x, y, w, h = digit.box
        colour = RIGHT if ok else WRONG
        ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, lw=2 if ok else 3, edgecolor=colour))
        ax.text(x + w / 2, y - 3, str(digit.digit), color=colour, ha="center", va="bottom",
                fontsize=11, fontweight="bold")
    for piece in reading.refused:
        x, y, w, h = piece.box
        ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, lw=1.5, edgecolor="grey",
                                   linestyle="--"))
    ax.legend(handles=[plt.Line2D([], [], color=RIGHT, lw=2, label="digit read as written"),
                       plt.Line2D([], [], color=WRONG, lw=3, label="digit read wrong or extra"),
                       plt.Line2D([], [], color="grey", lw=1.5, ls="--", label="refused piece")],
              fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=3,
              frameon=False)  # below the picture, where it hides no digit
    ax.set_title(title or f"written {written}, read {reading.number}", fontsize=9)
    ax.axis("off")
    figure = ax.get_figure(root=True)
    if figure is None:  # an Axes made by plt.subplots or passed in always sits in a figure
        raise ValueError("ax belongs to no figure: pass an Axes made with plt.subplots")
    return figure
