"""A reading's pieces matched to the written digits by their place along the line, for notebook
07b: both put on one scale from 0 to 1 (:func:`along_the_line`), each piece given the written
digit whose box holds its centre, and from that what went wrong in a reading (:func:`blame`),
which digits read stand right in their written digit's place (:func:`placed_digits`), which
written digits each piece spans (:func:`pieces_on_digits`), and the matching drawn
(:func:`plot_line_match`). The written digits' boxes are those ``number_picture`` records;
:mod:`mnist_helpers.display.truth_view` draws the verdicts over the picture."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..number_reading import DigitReading, NumberReading
from .numbers_view import REFUSED


def left_to_right(reading: NumberReading) -> list[DigitReading]:
    """Every piece of ``reading``, read or refused, in order of its box's left edge."""
    return sorted(reading.digits + reading.refused, key=lambda piece: piece.box[0])


def along_the_line(reading: NumberReading, boxes: Sequence[tuple[int, int, int, int]],
                   span: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """The pieces of ``reading`` (digits read and refused, left to right) and the written
    digits, each as (left, right) on one scale from 0 to 1 along the line. ``boxes`` are the
    written digits' boxes as ``number_picture`` records them: in the line's pixels *before* the
    line is sheared, turned and padded, not the picture's. So the written digits are mapped
    from the first's left edge to the last's right edge, and the pieces from ``span``, the
    picture's first and last column of ink. A turn (up to 12°) and a shear widen the ink and
    the pieces' boxes a little, so this is an approximation."""
    left, right = boxes[0][0], max(x + w for x, _, w, _ in boxes)
    written = [((x - left) / (right - left), (x + w - left) / (right - left))
               for x, _, w, _ in boxes]
    found = [((x - span[0]) / (span[1] - span[0]), (x + w - span[0]) / (span[1] - span[0]))
             for x, _, w, _ in (piece.box for piece in left_to_right(reading))]
    return np.array(found).reshape(-1, 2), np.array(written).reshape(-1, 2)


def _spanned(found: np.ndarray, places: np.ndarray) -> list[list[int]]:
    """For each piece (``found``, as :func:`along_the_line` gives it), the written digits whose
    centres lie within it."""
    centres = places.mean(axis=1)
    return [[i for i, c in enumerate(centres) if left <= c <= right] for left, right in found]


def centre_owners(found: np.ndarray, places: np.ndarray) -> list[int | None]:
    """For each piece (``found``, as :func:`along_the_line` gives it), the index of the first
    written digit (``places``) whose box holds the piece's centre, or ``None`` when no box
    does: the digit the piece stands on."""
    return [next((i for i, (a, b) in enumerate(places) if a <= c <= b), None)
            for c in found.mean(axis=1)]


def pieces_on_digits(reading: NumberReading, boxes: Sequence[tuple[int, int, int, int]],
                     span: tuple[float, float]) -> list[tuple[DigitReading, list[int]]]:
    """Every piece of ``reading`` (read or refused, left to right) with the written digits
    whose centres lie within it, matched along the line as :func:`blame` matches them: a piece
    with two or more holds digits left in one piece."""
    found, places = along_the_line(reading, boxes, span)
    return list(zip(left_to_right(reading), _spanned(found, places), strict=True))


def placed_digits(reading: NumberReading, written: str,
                  boxes: Sequence[tuple[int, int, int, int]], span: tuple[float, float]
                  ) -> tuple[list[bool], list[float]]:
    """The digits read, checked against the written digits by place along the line, as
    :func:`blame` matches them. For each digit of ``reading.digits``: whether it reads the
    written digit whose box holds its centre, is the only digit read there (a refused piece
    beside it, a 5's loose top bar, does not count), and spans no second written digit's
    centre. Then, for each written digit with no piece on it (no piece's centre in its box,
    none spanning its centre), the picture's column where it stands."""
    found, places = along_the_line(reading, boxes, span)
    pieces, spanned = left_to_right(reading), _spanned(found, places)
    owners = centre_owners(found, places)
    read_on = [o for o, piece in zip(owners, pieces, strict=True) if piece.digit is not None]
    shared = {o for o in read_on if o is not None and read_on.count(o) > 1}
    right = {id(piece): owner is not None and owner not in shared and len(on) <= 1
             and piece.digit is not None and str(piece.digit) == written[owner]
             for piece, owner, on in zip(pieces, owners, spanned, strict=True)}
    covered = {o for o in owners if o is not None} | {i for on in spanned for i in on}
    lost = [span[0] + float(places[i].mean()) * (span[1] - span[0])
            for i in range(len(places)) if i not in covered]
    return [right[id(digit)] for digit in reading.digits], lost


def blame(reading: NumberReading, written: str, boxes: Sequence[tuple[int, int, int, int]],
          span: tuple[float, float], *, even_if_read: bool = False) -> list[str]:
    """What went wrong in a reading, found by matching its pieces to the written digits'
    boxes along the line (:func:`along_the_line`), by their centres, which a turn or a shear
    moves less than their edges: "N digits in one piece" when a piece spans the centres of N
    written digits ("touching" when their boxes touch or overlap); "a digit in pieces" when the
    centres of two or more pieces lie in one digit's box; "a piece on no digit" when a piece's
    centre lies in no digit's box; "a digit with no piece" when no piece lies on a digit or
    spans its centre; else, one piece per digit, "misread" or "refused" for a digit read wrong
    or refused. Empty when the number was read exactly, unless ``even_if_read`` (to check the
    matching where nothing went wrong)."""
    if reading.number == written and not even_if_read:
        return []
    found, places = along_the_line(reading, boxes, span)
    causes, covered = [], set()
    for spanned in _spanned(found, places):
        covered.update(spanned)
        if len(spanned) > 1:
            touching = any(boxes[i + 1][0] <= boxes[i][0] + boxes[i][2] for i in spanned[:-1])
            causes.append(f"{len(spanned)} digits in one piece"
                          + (" (touching)" if touching else ""))
    owners = centre_owners(found, places)
    placed = [owner for owner in owners if owner is not None]
    if len(set(placed)) < len(placed):
        causes.append("a digit in pieces")
    if None in owners:
        causes.append("a piece on no digit")
    if len(covered | set(placed)) < len(places):
        causes.append("a digit with no piece")
    if not causes:  # one piece per written digit: the network's verdict is to blame
        for piece, owner in zip(left_to_right(reading), placed, strict=True):
            if piece.digit is None:
                causes.append("refused")
            elif str(piece.digit) != written[owner]:
                causes.append("misread")
    return sorted(set(causes)) or (["other"] if reading.number != written else [])


def plot_line_match(reading: NumberReading, written: str,
                    boxes: Sequence[tuple[int, int, int, int]], span: tuple[float, float],
                    title: str | None = None) -> Figure:
    """How :func:`blame` matches a reading to what was
    written, drawn on its scale from 0 to 1 along the line
    (:func:`along_the_line`): the written digits' boxes in
    the lower row, each centre a black dot; the pieces read in the upper row (a refused piece
    dashed grey), each centre a ▼. Under each piece, the written digits whose centres it
    *spans* and the one its centre *stands on*. The title, unless ``title`` replaces it, gives
    ``blame``'s verdict."""
    found, places = along_the_line(reading, boxes, span)
    owners = centre_owners(found, places)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for (left, right), digit in zip(places, written, strict=True):
        ax.add_patch(plt.Rectangle((left, 0), right - left, 0.8, fill=False, lw=1.5,
                                   edgecolor="black"))
        ax.text((left + right) / 2, 0.4, digit, ha="center", va="center", fontsize=16)
        ax.plot((left + right) / 2, 0.0, "o", color="black", ms=6, clip_on=False)
    for (left, right), piece, owner in zip(found, left_to_right(reading), owners, strict=True):
        refused = piece.digit is None
        ax.add_patch(plt.Rectangle((left, 1.6), right - left, 0.8, fill=False, lw=2,
                                   edgecolor=REFUSED if refused else "tab:blue",
                                   linestyle="--" if refused else "-"))
        ax.text((left + right) / 2, 2.0, "refused" if refused else f"read {piece.digit}",
                ha="center", va="center", fontsize=11)
        ax.plot((left + right) / 2, 1.6, "v", color="tab:blue", ms=9, clip_on=False)
        for edge in (left, right):  # the piece's edges, down across the written digits
            ax.plot([edge, edge], [1.6, -0.1], ":", color="tab:blue", lw=1)
        spanned = [written[i] for i, c in enumerate(places.mean(axis=1)) if left <= c <= right]
        stands = "nothing" if owner is None else written[owner]
        ax.text((left + right) / 2, 1.2, f"spans the centres of {', '.join(spanned) or 'none'}"
                f"\nstands on {stands}", ha="center", va="center", fontsize=8.5,
                color="tab:blue")
    ax.set(xlim=(-0.03, 1.03), ylim=(-0.35, 2.55), yticks=[0.4, 2.0],
           xlabel="place along the line, 0 to 1: pieces from the first column of ink to the "
                  "last, written digits\nfrom the first digit's left edge to the last's right "
                  "edge")
    ax.set_yticklabels(["written digits\n(true boxes)", "pieces read"])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    handles = [plt.Line2D([], [], color="tab:blue", lw=2, label="a piece read (not judged)"),
               plt.Line2D([], [], color=REFUSED, lw=2, ls="--", label="a refused piece"),
               plt.Line2D([], [], color="black", marker="o", ls="",
                          label="a written digit's centre"),
               plt.Line2D([], [], color="tab:blue", marker="v", ls="", ms=9,
                          label="a piece's centre"),
               plt.Line2D([], [], color="tab:blue", ls=":", label="a piece's edges")]
    ax.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.32),
              ncols=3, frameon=False)
    if title is None:
        causes = blame(reading, written, boxes, span, even_if_read=True)
        title = (f"written {written}, read {reading.number}: "
                 + ("; ".join(causes) if causes else "every piece on its own digit"))
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
