"""A reading of a whole number checked digit by digit against what was written, for notebook
07b: which digits match (:func:`matched_digits`, lining up the two digit strings, or by place
along the line with :mod:`mnist_helpers.display.line_match`), the first mistake in words
(:func:`misreading`) and in the picture (:func:`first_mistake`), a reading drawn over its
picture (:func:`plot_reading_against_truth`, with a red ▲ where a written digit was lost),
zoomed on its first mistake (:func:`plot_first_mistake`), many readings side by side
(:func:`plot_readings_grid`), and what the cut step
decided for each group of strokes (:func:`group_decisions`). The boxes and colours are those of
:mod:`mnist_helpers.display.numbers_view`."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image

from .. import number_reading as reader
from ..config import CLASS_NAMES, DIGIT_OUTPUTS
from ..number_reading import NumberReading
from .line_match import placed_digits
from .numbers_view import REFUSED, RIGHT, WRONG


def matched_digits(read: str, written: str) -> list[bool]:
    """For each digit of ``read``, whether it matches a digit of ``written`` once the two are
    aligned (``difflib``'s longest matching blocks): a digit read wrong, or one too many,
    does not."""
    matched = [False] * len(read)
    for block in difflib.SequenceMatcher(a=read, b=written, autojunk=False).get_matching_blocks():
        matched[block.a: block.a + block.size] = [True] * block.size
    return matched


def _lost_and_extra(read: str, written: str) -> list[tuple[str, int, int, int, int]]:
    """The places where ``read`` and ``written`` differ by digits missing from one of them, as
    ``difflib`` opcodes (aligned as :func:`matched_digits` aligns them): ``("insert", i, i,
    j1, j2)`` when ``written[j1:j2]`` was lost before ``read[i]``, ``("delete", i1, i2, j, j)``
    when ``read[i1:i2]`` is extra. A digit read in place of another is not listed: its red
    box shows it."""
    return [op for op in difflib.SequenceMatcher(a=read, b=written, autojunk=False).get_opcodes()
            if op[0] in ("insert", "delete")]


def _where(text: str, before: str, after: str) -> str:
    """``text`` named by its place: after what comes before it, else before what follows."""
    return f"the {text} after {before}" if before else (
        f"the {text} before {after}" if after else f"the {text}")


def misreading(read: str, written: str) -> str:
    """One line saying which written digits the reading lost and which digits read are extra,
    each named by its place ("the 8 after 527 was lost; the 1 after 468 is extra"); "" when
    none was lost or added (a digit read wrong is not named: its red box shows it). Written
    characters that are not digits (a plus, a bracket) are not counted as lost."""
    parts = []
    for tag, i1, i2, j1, j2 in _lost_and_extra(read, written):
        if tag == "insert":
            lost = "".join(c for c in written[j1:j2] if c.isdigit())
            if lost:
                verb = "was" if len(lost) == 1 else "were"
                parts.append(f"{_where(lost, written[:j1], written[j2:])} {verb} lost")
        else:
            verb = "is" if i2 - i1 == 1 else "are"
            parts.append(f"{_where(read[i1:i2], read[:i1], read[i2:])} {verb} extra")
    return "; ".join(parts)


def _lost_places(reading: NumberReading, written: str) -> list[tuple[float, float, float]]:
    """For each run of written digits the reading lost, between which boxes of digits read it
    belongs: ``(x, top, bottom)``, ``x`` in the gap between them (or just beyond the first or
    the last), ``top`` and ``bottom`` those of the boxes on either side. Empty when nothing
    was read: there is then no box to place them by."""
    boxes = [d.box for d in reading.digits]
    read = "".join(str(d.digit) for d in reading.digits)
    places: list[tuple[float, float, float]] = []
    for tag, i, _, j1, j2 in _lost_and_extra(read, written):
        if tag != "insert" or not boxes or not any(c.isdigit() for c in written[j1:j2]):
            continue
        beside = boxes[max(i - 1, 0): i + 1]  # the digits read just before and after the gap
        top = min(b[1] for b in beside)
        bottom = max(b[1] + b[3] for b in beside)
        if i == 0:  # lost before the first digit read
            x = boxes[0][0] - 0.25 * boxes[0][3]
        elif i == len(boxes):  # lost after the last
            x = boxes[-1][0] + boxes[-1][2] + 0.25 * boxes[-1][3]
        else:  # between two: half-way from the end of one to the start of the next
            x = (boxes[i - 1][0] + boxes[i - 1][2] + boxes[i][0]) / 2
        places.append((x, top, bottom))
    return places


def first_mistake(reading: NumberReading, written: str) -> tuple[int, int, int, int] | None:
    """The leftmost place where ``reading`` departs from ``written``, as a box ``(x, y, width,
    height)`` in the picture's pixels: a digit read wrong or extra (a red box of
    :func:`plot_reading_against_truth`), or the gap where a written digit was lost (its red
    ▲; width 0). None when there is neither."""
    read = "".join(str(d.digit) for d in reading.digits)
    places = [d.box for d, ok in zip(reading.digits, matched_digits(read, written), strict=True)
              if not ok]
    places += [(int(round(x)), int(top), 0, int(bottom - top))
               for x, top, bottom in _lost_places(reading, written)]
    return min(places, default=None)


def _legend_handles(lost: bool, by_place: bool = False, refused: bool = True
                    ) -> list[plt.Line2D]:
    """The legend of :func:`plot_reading_against_truth`: what each colour of box means, the
    dashed grey box when a piece was refused (``refused``), and the red ▲ when a written digit
    was lost (``lost``). With ``by_place``, green and red follow
    :func:`~mnist_helpers.display.line_match.placed_digits` (where each piece stands along the
    line); otherwise :func:`matched_digits`, which lines up the two digit strings, not the
    boxes' places, and a ▲ marks one place where that alignment finds written digits with no
    digit read."""
    if by_place:
        labels = ("digit read right, in its written digit's place",
                  "digit wrong, extra, or on two written digits",
                  "written digit with no piece on it")
    else:
        labels = ("digit matched (digit strings aligned)", "digit unmatched: wrong or extra",
                  "written digit(s) unmatched, none read")
    handles = [plt.Line2D([], [], color=RIGHT, lw=2, label=labels[0]),
               plt.Line2D([], [], color=WRONG, lw=3, label=labels[1])]
    if refused:
        handles.append(plt.Line2D([], [], color=REFUSED, lw=1.5, ls="--", label="refused piece"))
    if lost:
        handles.append(plt.Line2D([], [], color=WRONG, marker="^", ls="", ms=9,
                                  markeredgecolor="black", label=labels[2]))
    return handles


def _marks(reading: NumberReading, written: str,
           boxes: Sequence[tuple[int, int, int, int]] | None, span: tuple[float, float] | None
           ) -> tuple[list[bool], list[tuple[float, float, float]]]:
    """Green or red for each digit read, and where to put a ▲ for lost written digits
    ``(x, top, bottom)``: by place (:func:`~mnist_helpers.display.line_match.placed_digits`)
    when the written digits' ``boxes`` and the ink's ``span`` are given, else by the digit
    strings (:func:`matched_digits`)."""
    if boxes is None:
        read = "".join(str(d.digit) for d in reading.digits)
        return matched_digits(read, written), _lost_places(reading, written)
    if span is None:
        raise ValueError("give the ink's span with the written digits' boxes")
    right, columns = placed_digits(reading, written, boxes, span)
    pieces = [piece.box for piece in reading.digits + reading.refused]
    if not pieces:
        return right, []
    top = float(np.median([y for _, y, _, _ in pieces]))
    bottom = float(np.median([y + h for _, y, _, h in pieces]))
    return right, [(x, top, bottom) for x in columns]


def plot_reading_against_truth(image: Image.Image | np.ndarray, reading: NumberReading,
                               written: str, ax: Axes | None = None,
                               title: str | None = None, *,
                               boxes: Sequence[tuple[int, int, int, int]] | None = None,
                               span: tuple[float, float] | None = None) -> Figure:
    """The picture with a box round every digit read: green where it matches the number
    ``written``, red where it does not, dashed grey round a piece refused as not a digit; a
    red ▲ under a written digit that was lost, or, when no digit was read at all, a note
    saying so. Given the written digits' ``boxes`` and the ink's ``span`` (as
    :func:`~mnist_helpers.display.line_match.blame` takes them), each digit is judged by its
    place along the line (:func:`~mnist_helpers.display.line_match.placed_digits`); without
    them, by lining up the two digit strings (:func:`matched_digits`), and a ▲ goes in the gap
    where the alignment lost a digit. A legend says which is which. The title, unless
    ``title`` replaces it, says what was written and what was read, why there is no number
    when there is none, and on a second
    line which digits were lost or are extra (:func:`misreading`)."""
    image = _grey(image)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(10, 1 + image.shape[1] / 80),
                                      1.2 + image.shape[0] / 80))
    _draw_reading(ax, image, reading, written, title, boxes, span)
    figure = ax.get_figure(root=True)
    if figure is None:  # an Axes made by plt.subplots or passed in always sits in a figure
        raise ValueError("ax belongs to no figure: pass an Axes made with plt.subplots")
    return figure


def _grey(image: Image.Image | np.ndarray) -> np.ndarray:
    """A picture as an array of grey levels."""
    return np.asarray(image.convert("L") if isinstance(image, Image.Image) else image)


def _draw_reading(ax: Axes, image: np.ndarray, reading: NumberReading, written: str,
                  title: str | None, boxes: Sequence[tuple[int, int, int, int]] | None,
                  span: tuple[float, float] | None) -> bool:
    """Draw what :func:`plot_reading_against_truth` draws on ``ax``; True when a red ▲ marks a
    lost written digit."""
    ax.imshow(image, cmap="gray", vmin=0, vmax=255 if image.max() > 1 else 1)
    read = "".join(str(d.digit) for d in reading.digits)
    right, lost = _marks(reading, written, boxes, span)
    # A label is about 0.25 of the digits' median height wide and 0.4 tall, in the picture's
    # pixels. It sits above every box under it, so no neighbour's box edge crosses it, and a
    # label that would cover one already drawn (a speck's, on a digit) is lifted.
    tall = float(np.median([d.box[3] for d in reading.digits])) if reading.digits else 0.0
    every_box = [piece.box for piece in reading.digits + reading.refused]
    placed: list[tuple[float, float]] = []
    for digit, ok in zip(reading.digits, right, strict=True):
        x, y, w, h = digit.box
        colour = RIGHT if ok else WRONG
        ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, lw=2 if ok else 3, edgecolor=colour))
        middle = x + w / 2
        under = [by for bx, by, bw, _ in every_box
                 if bx - 0.15 * tall < middle < bx + bw + 0.15 * tall]
        at: tuple[float, float] = (middle, float(min(under, default=y) - 3))
        while covered := [b for a, b in placed
                          if abs(a - at[0]) < 0.25 * tall and abs(b - at[1]) < 0.4 * tall]:
            at = (at[0], min(covered) - 0.45 * tall)  # up is smaller; 0.45: clear of rounding
        placed.append(at)
        ax.text(*at, str(digit.digit), color=colour, ha="center", va="bottom",
                fontsize=11, fontweight="bold")
    for piece in reading.refused:
        x, y, w, h = piece.box
        ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, lw=1.5, edgecolor=REFUSED,
                                   linestyle="--"))
    for gap, top, bottom in lost:  # under the line, pointing up at the gap
        ax.plot(gap, bottom + 0.15 * (bottom - top), "^", color=WRONG, ms=12,
                markeredgecolor="black", clip_on=False,
                scalex=False, scaley=False)  # the axes keep the picture's limits
    if not reading.digits and any(c.isdigit() for c in written):  # no box to put a ▲ by
        # at the top of the picture, right under its own title: at the bottom, in a grid, it
        # would sit against the next panel's title and read as that panel's
        ax.text(0.5, 0.96, "no digit read: every written digit is lost", color=WRONG,
                fontsize=9, fontweight="bold", ha="center", va="top", transform=ax.transAxes,
                bbox={"facecolor": "white", "edgecolor": WRONG, "alpha": 0.85})
    handles = _legend_handles(bool(lost), by_place=boxes is not None,
                              refused=bool(reading.refused))
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0),
              ncols=len(handles), frameon=False)  # below the picture, where it hides no digit
    if title is None:
        title = f"written {written}, read {reading.number}"
        if reading.reason:
            title += f" ({reading.reason})"
        differences = misreading(read, written)
        if differences:
            title += f"\n{differences}" + (" (red ▲)" if lost else "")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return bool(lost)


def plot_first_mistake(image: Image.Image | np.ndarray, reading: NumberReading, written: str
                       ) -> Figure:
    """Two panels, one above the other: the whole reading, drawn as
    :func:`plot_reading_against_truth` draws it and cropped to the band of the picture that
    holds the pieces read, and below it the same zoomed on its first mistake
    (:func:`first_mistake`: two digit heights either side of a digit read wrong or extra, or of
    the gap where a written digit was lost), pixels drawn as squares. The zoomed panel says so
    when there is nothing to zoom on."""
    mistake = first_mistake(reading, written)
    fig, (whole, zoom) = plt.subplots(2, 1, figsize=(10, 8), height_ratios=[1, 1.9])
    with plt.rc_context({"image.interpolation": "nearest"}):  # pixels as squares: sharp
        plot_reading_against_truth(image, reading, written, ax=whole)
        plot_reading_against_truth(
            image, reading, written, ax=zoom,
            title="zoomed on the first mistake (colours as above)" if mistake
            else "nothing to zoom on: no digit read wrong, none lost")
    legend = zoom.get_legend()
    if legend is not None:
        legend.remove()  # the whole panel's legend serves both, in two columns: it fits
    legend = whole.get_legend()
    if legend is not None:
        legend.remove()
        whole.legend(handles=legend.legend_handles, fontsize=8, loc="upper center",
                     bbox_to_anchor=(0.5, 0.0), ncols=2, frameon=False)
    for label in zoom.texts:
        label.set_clip_on(True)  # a digit's label outside the zoomed view is not drawn
    pieces = [piece.box for piece in reading.digits + reading.refused]
    if pieces:  # the whole number, cropped to its band of ink (room for labels above, ▲ below)
        tall = float(np.median([h for *_, h in pieces]))
        left = min(x for x, *_ in pieces) - 0.5 * tall
        right = max(x + w for x, _, w, _ in pieces) + 0.5 * tall
        top = min(y for _, y, _, _ in pieces) - 0.9 * tall
        bottom = max(y + h for _, y, _, h in pieces) + 0.6 * tall
        height, width = _grey(image).shape[:2]
        whole.set(xlim=(max(left, -0.5), min(right, width - 0.5)),
                  ylim=(min(bottom, height - 0.5), max(top, -0.5)))
    if mistake:
        x, y, w, h = mistake
        zoom.set(xlim=(x - 2 * h, x + w + 2 * h), ylim=(y + 1.5 * h, y - 0.6 * h))
    fig.tight_layout()
    return fig


def plot_readings_grid(pictures: Sequence[Image.Image | np.ndarray],
                       readings: Sequence[NumberReading], written: Sequence[str],
                       notes: Sequence[str] | None = None, *, columns: int = 4,
                       title: str = "Readings checked against what was written",
                       boxes: Sequence[Sequence[tuple[int, int, int, int]]] | None = None,
                       spans: Sequence[tuple[float, float]] | None = None) -> Figure:
    """Many readings at once, one small panel each, ``columns`` to a row, in the order given:
    each picture drawn as :func:`plot_reading_against_truth` draws it (a green box round a
    digit read as written, a red one round a digit read wrong or extra, a dashed grey one
    round a refused piece, a red ▲ where a written digit was lost), zoomed on its boxes (half
    the tallest box's height round them, within the picture) so that small digits stay
    legible. Each panel is titled "written …, read …" and, on a second line, its entry of
    ``notes`` (a reason, a row of a table, a setting). One legend, below the panels, serves
    them all. With ``boxes`` and ``spans`` (one each per picture), every panel judges its digits
    by place. Raises ``ValueError`` when there is no picture, or when ``pictures``,
    ``readings``, ``written``, ``notes`` (and ``boxes`` and ``spans``) are not as many."""
    notes = [""] * len(pictures) if notes is None else list(notes)
    places = [None] * len(pictures) if boxes is None else list(boxes)
    ink = [None] * len(pictures) if spans is None else list(spans)
    if not pictures or not (len(pictures) == len(readings) == len(written) == len(notes)
                            == len(places) == len(ink)):
        raise ValueError("pictures, readings, written and notes (and boxes and spans) must be "
                         f"as many, at least one; got {len(pictures)}, {len(readings)}, "
                         f"{len(written)}, {len(notes)}, {len(places)} and {len(ink)}")
    rows = -(-len(pictures) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 2.4 * rows + 0.8),
                             squeeze=False, layout="constrained")
    lost = False
    for ax, picture, reading, number, note, where, span in zip(
            axes.flat[:len(pictures)], pictures, readings, written, notes, places, ink,
            strict=True):
        heading = f"written {number}, read {reading.number}" + (f"\n{note}" if note else "")
        lost = _draw_reading(ax, _grey(picture), reading, number, heading, where, span) or lost
        ax.title.set_fontsize(9)
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()  # one legend for the whole grid, below it
        drawn = [piece.box for piece in reading.digits + reading.refused]
        if drawn:  # zoom on the boxes drawn, the picture's edges permitting
            margin = 0.5 * max(h for _, _, _, h in drawn)
            (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()  # the picture's edges
            x0 = max(min(x for x, _, _, _ in drawn) - margin, left)
            x1 = min(max(x + w for x, _, w, _ in drawn) + margin, right)
            y0 = max(min(y for _, y, _, _ in drawn) - margin, top)
            y1 = min(max(y + h for _, y, _, h in drawn) + margin, bottom)
            ax.set(xlim=(x0, x1), ylim=(y1, y0))  # rows count downwards
    for ax in axes.flat[len(pictures):]:
        ax.axis("off")
    handles = _legend_handles(lost, by_place=boxes is not None,
                              refused=any(reading.refused for reading in readings))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=10,
               frameon=False)
    fig.suptitle(title)
    return fig


def group_decisions(reading: NumberReading) -> list[str]:
    """What the cut step of :func:`~mnist_helpers.number_reading.read_number` did with each
    group of touching strokes, one line per group, left to right, from what ``reading`` keeps
    of it (:attr:`~mnist_helpers.number_reading.NumberReading.groups`): its width in typical
    digit widths (against ``TOO_WIDE``), the network's top output for the whole group and its
    top digit probability (against ``KEEP_WHOLE``), whether the cut search ran, and what each
    resulting piece was read as."""
    read_as = {piece.box: "refused" if piece.digit is None else str(piece.digit)
               for piece in reading.digits + reading.refused}
    lines = []
    for group in reading.groups:
        top = int(np.argmax(group.probabilities))
        lines.append(
            f"group at x={group.box[0]:3d}: {group.width:.2f} typical widths "
            f"(TOO_WIDE {reader.TOO_WIDE:g}); unsplit, top output {CLASS_NAMES[top]} "
            f"{100 * group.probabilities[top]:.0f}%, top digit probability "
            f"{max(group.probabilities[DIGIT_OUTPUTS]):.3f} (KEEP_WHOLE {reader.KEEP_WHOLE:g}); "
            f"cut search {'ran' if group.searched else 'not run'}; {len(group.pieces)} "
            f"piece(s), read " + ", ".join(read_as.get(box, "?") for box in group.pieces))
    return lines
