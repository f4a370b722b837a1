"""The search for where to cut a group of touching digits, shown, for notebook 07b:
:func:`score_cuts` scores every way of cutting a group as ``read_number`` scores it (which
keeps those scores to itself), :func:`cut_search_rows` lays them out as a table and
:func:`plot_cut_search` draws them under the group's ink. They compute nothing of their own but
the loop of ``read_number``'s cut search, repeated to show every score, and the lines drawn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from .. import number_reading
from ..config import DIGIT_OUTPUTS
from ..digit_line import Region
from ..evaluate import class_probabilities
from ..preprocess import to_model_input
from .numbers_view import BEST


@dataclass
class Candidate:
    """One way of reading a group: the columns it is cut at (``cuts``; none: the unsplit
    group), each piece's top digit probability (``confidences``: how surely the model reads it
    as a digit), each piece's width prior (``priors``), the ink each cut goes through
    (``cut_ink``), the summed ``score``, and (when known) each piece's 28×28 input to the
    model (``pixels``)."""

    cuts: tuple[int, ...]
    confidences: list[float]
    priors: list[float]
    cut_ink: list[float]
    score: float
    pixels: list[np.ndarray] = field(default_factory=list, repr=False)


def score_cuts(model: nn.Module, region: Region, typical: float, angle: float,
               threshold: float) -> list[Candidate]:
    """Every way :func:`~mnist_helpers.number_reading.candidate_cuts` proposes to read
    ``region`` (not cutting it included), scored as ``read_number``'s ``_best_split`` scores
    it: the same pieces (``split``), the same inputs to the model (``_model_input``: turned
    upright along a line sloping ``angle`` degrees, fitted into 28×28), the same
    :func:`~mnist_helpers.number_reading.reading_score` with the line's ``typical`` digit
    width. A way whose cut leaves a piece with no ink is skipped, as ``_best_split`` skips it.
    ``_best_split`` keeps its scores to itself; this repeats its loop so that a figure or a
    table can show them all."""
    column_ink = region.ink.sum(axis=0) / max(float(region.ink.sum(axis=0).max()), 1e-9)
    candidates = []
    for cuts in number_reading.candidate_cuts(region, typical):
        parts = number_reading.split(region, cuts, threshold)
        if len(parts) != len(cuts) + 1:
            continue  # a cut left a piece with no ink
        pixels = [number_reading._model_input(part, angle, threshold) for part in parts]
        read = class_probabilities(model, torch.cat([to_model_input(p) for p in pixels]))
        sure = read[:, DIGIT_OUTPUTS].max(dim=1).values.tolist()  # how surely a digit
        widths = [part.width for part in parts]
        inks = [float(column_ink[part.x - region.x]) for part in parts[1:]]
        candidates.append(Candidate(
            tuple(cuts), sure, [number_reading._width_prior(w, typical) for w in widths], inks,
            number_reading.reading_score(sure, widths, typical, inks), pixels))
    return candidates


def cut_search_rows(candidates: Sequence[Candidate], best: int = 4) -> list[dict[str, str]]:
    """Rows of a table of the cut search: reading the group whole ("no cut"), then the
    ``best`` highest-scoring cuts, each with its pieces' confidences and width priors, the
    ink at each cut and the score."""
    ranked = sorted((c for c in candidates if c.cuts), key=lambda c: -c.score)[:best]
    return [{"cut at columns": str(list(c.cuts)) if c.cuts else "no cut",
             "each piece: top digit probability": ", ".join(f"{x:.3f}" for x in c.confidences),
             "each piece: width prior": ", ".join(f"{x:.3f}" for x in c.priors),
             "ink at each cut": ", ".join(f"{x:.2f}" for x in c.cut_ink) or "-",
             "score": f"{c.score:.3f}"}
            for c in [c for c in candidates if not c.cuts] + ranked]


def plot_cut_search(ink: np.ndarray, threshold: float, candidates: Sequence[Candidate],
                    title: str = "Where to cut a group of touching digits", *,
                    overlap: tuple[float, float] | None = None,
                    must_cut: bool = False) -> Figure:
    """Two panels, one above the other, on one column axis (columns from the group's left
    edge), so that a cut's score stands right under its column. Top: the group's ink, every
    column a candidate cuts at drawn as an orange tick above it and the cuts of the
    best-scoring candidate as thick lines through it. Bottom: the score of every cut in two,
    against the score of reading the group whole and of the best cut in three; the best cut
    as an orange dot, or, when reading the group whole scores best, the legend says so.
    Pixels are drawn square. ``overlap``, columns ``(first, last)`` where two digits' ink
    overlaps, is marked on both panels: dashed edges over the ink, a shaded band under the
    scores. ``must_cut``: the group is cut whatever the scores (its top output is *two
    digits*), so the unsplit group's line is labelled as drawn for comparison only."""
    best = max(candidates, key=lambda c: c.score)
    height, width = ink.shape
    band = 0.15 * height  # a strip above the ink for the columns tried, so none hides a digit
    # Pixels drawn square: the picture is as wide as the scores below it, and as tall as that
    # width allows (at most 6.5 inches; a taller group is drawn narrower, scores and all).
    across = min(5.0, 6.5 * width / (height + band))
    picture_inches = across * (height + band) / width
    fig, (above, below) = plt.subplots(2, 1, figsize=(across + 2.0, picture_inches + 4.4),
                                       height_ratios=[picture_inches, 2.6])
    above.imshow(ink > threshold, cmap="gray", interpolation="nearest", aspect="equal")
    above.set_ylim(height - 0.5, -0.5 - band)
    top = band / (height + band)  # the strip's share of the panel's height
    for column in sorted({c for candidate in candidates for c in candidate.cuts}):
        above.axvline(column - 0.5, ymin=1 - 0.8 * top, ymax=1, color=BEST, lw=1)  # a tick
    for column in best.cuts:  # the chosen cut runs through the ink
        above.axvline(column - 0.5, color=BEST, lw=3)
    chosen = f"{list(best.cuts)} (thick line)" if best.cuts else "no cut"
    above.set(title=f"The group's ink: {len({c for k in candidates for c in k.cuts})} columns "
                    f"tried (ticks above it);\nbest: {chosen}", ylabel="row (pixels)",
              xlabel="column (pixels from the group's left edge)")
    above.title.set_fontsize(9)
    twos = sorted((c for c in candidates if len(c.cuts) == 1), key=lambda c: c.cuts)
    if twos:
        below.plot([c.cuts[0] for c in twos], [c.score for c in twos], ".-", color="tab:blue",
                   label="cut in two, at this column")
    whole = [c for c in candidates if not c.cuts]
    if whole:
        label = ("the unsplit group, for comparison only (this group is always cut)"
                 if must_cut else "the unsplit group (no cut)"
                 + (": the best, so no cut is made" if not best.cuts else ""))
        below.axhline(whole[0].score, color="black", ls="--", lw=1, label=label)
    threes = [c for c in candidates if len(c.cuts) == 2]
    if threes:
        below.axhline(max(c.score for c in threes), color="tab:purple", ls=":", lw=1.5,
                      label="best cut in three")
    if best.cuts:
        below.plot(best.cuts[0], best.score, "o", ms=10, color=BEST, markeredgecolor="black",
                   label=f"best: score {best.score:.2f}")
    if overlap is not None:  # dashed edges over the ink (a fill would tint it), shaded below
        first, last = overlap[0] - 0.5, overlap[1] + 0.5
        for edge in (first, last):
            above.axvline(edge, color="tab:cyan", ls="--", lw=2)
        below.axvspan(first, last, color="tab:cyan", alpha=0.2, lw=0,
                      label="both digits' ink (dashed lines above)")
    below.set(xlabel="column (pixels from the group's left edge)",
              ylabel="score (log-probabilities\n+ width priors − ink penalty)",
              title="The score of each way of reading the group")
    below.set_xlim(above.get_xlim())  # a cut's score stands under the same column as its line
    scores = [c.score for c in candidates]
    pad = 0.08 * max(max(scores) - min(scores), 1.0)  # no line on the frame's edge
    below.set_ylim(min(scores) - pad, max(scores) + pad)
    below.title.set_fontsize(9)
    below.grid(alpha=0.3)
    below.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25),
                 frameon=False)  # under the axis: it hides no point
    fig.suptitle(title)
    fig.tight_layout()
    above.apply_aspect()  # the square pixels may leave the picture narrower: align the scores
    picture, scores = above.get_position(), below.get_position()
    below.set_position((picture.x0, scores.y0, picture.width, scores.height))
    return fig
