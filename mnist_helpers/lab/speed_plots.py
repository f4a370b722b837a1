"""Figures of the speed notebook (08b) beside those of :mod:`mnist_helpers.lab.plots`: a step's
phases as shares of the step (:func:`plot_breakdown_with_shares`), and every ladder rung's
ratio, round by round, against the identical pair's noise band (:func:`plot_round_ratios`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from .plots import plot_step_breakdown
from .speed import noise_band, rung_ratios


def plot_breakdown_with_shares(breakdowns: Mapping[str, Mapping[str, float]],
                               title: str = "Where the time of a training step goes") -> Figure:
    """:func:`~mnist_helpers.lab.plots.plot_step_breakdown`'s bars (milliseconds per phase),
    and under them the same phases as shares of each setup's step: 100%-stacked bars, each
    share written on its piece when it is wide enough to hold it."""
    fig = plot_step_breakdown({name: dict(row) for name, row in breakdowns.items()}, title=title)
    top = fig.axes[0]
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, 2 * height)
    grid = fig.add_gridspec(2, 1)
    top.set_subplotspec(grid[0])
    ax = fig.add_subplot(grid[1])
    names = list(breakdowns)
    phases = list(next(iter(breakdowns.values())))
    left = np.zeros(len(names))
    for phase in phases:
        shares = np.array([100 * breakdowns[n][phase] / sum(breakdowns[n].values())
                           for n in names])
        ax.barh(names, shares, left=left, label=phase)
        for y, (start, share) in enumerate(zip(left, shares, strict=True)):
            if share >= 6:
                ax.text(start + share / 2, y, f"{share:.0f}%", ha="center", va="center",
                        fontsize=8, color="white")
        left += shares
    ax.set(xlim=(0, 100), xlabel="share of the step's time (%)",
           title="The same phases, as shares of each setup's step")
    ax.invert_yaxis()
    fig.tight_layout()
    return fig


def plot_round_ratios(labels: Sequence[str], speeds: Sequence[Sequence[float]],
                      controls: Sequence[int], pair: int | Sequence[int],
                      title: str = "Every rung, round by round, beside the noise",
                      split_at: float | None = None) -> Figure:
    """One row per rung after the first: a dot per round for its ratio (the rung's images per
    second over the rung above's, in that round: above 1, faster), a tick at the median, on a
    log scale. Each round has its own colour and marker, so that the rounds of a slow stretch
    can be followed from row to row. The controls (``controls``: rung numbers whose change
    alters nothing the computer does) say so in their labels. Each shaded band is the noise
    band (:func:`~mnist_helpers.lab.speed.noise_band`) of an identical pair, rung ``pair`` (or
    each of several): how far noise alone moved a ratio. The bands are opaque, the narrower in
    front, so each has exactly its legend's colour; each band's edges are drawn in a line of its
    own (solid, dashed, dotted), so that a band hidden behind an equal one still shows.

    With ``split_at`` (say 2.0), ratios above it go to a second, narrower panel on the right:
    the axis is broken there, so the region near 1, where verdicts are decided, keeps most of
    the width however large the biggest ratio is."""
    ratios = np.asarray(list(rung_ratios(speeds).values()))  # row i - 1: rung i ÷ rung i - 1
    rows = list(range(1, len(labels)))
    high_part = split_at is not None and bool((ratios > split_at).any())
    fig, grid = plt.subplots(1, 2 if high_part else 1, sharey=True, squeeze=False,
                             figsize=(9.5, 0.42 * len(rows) + 2.6),
                             gridspec_kw={"width_ratios": [3, 1]} if high_part else None)
    axes = list(grid[0])  # one panel, or two: near 1, and right of the break
    colours = ["#c6dbef", "#dadaeb", "#e5f5e0"]  # light blue, light violet, light green
    edges, styles = ["tab:blue", "tab:purple", "tab:olive"], ["-", "--", ":"]  # a band's edges
    bands = [(rung, *noise_band(ratios[rung - 1].tolist()))
             for rung in ([pair] if isinstance(pair, int) else pair)]
    lowest = min(ratios.min(), *(low for _, low, _ in bands)) / 1.05  # every band drawn whole
    highest = max(ratios.max(), *(high for _, _, high in bands)) * 1.05
    limits = [(lowest, split_at), (split_at, highest)] if high_part else [(lowest, highest)]
    markers = "osD^vPX*<>"
    for ax, (left_end, right_end) in zip(axes, limits, strict=True):
        # the widest band first, so that each narrower one lies in front of it
        order = sorted(range(len(bands)), key=lambda k: bands[k][1])
        for k in order:
            rung, low, high = bands[k]
            ax.axvspan(low, high, facecolor=colours[k % len(colours)], zorder=0,
                       edgecolor=edges[k % len(edges)], linestyle=styles[k % len(styles)],
                       linewidth=1.5,
                       label=f"noise band of {labels[rung]}: {low:.2f} to {high:.2f}")
        ax.axvline(1, color="black", lw=0.8, zorder=1)
        for y, rung in enumerate(rows):
            for turn, ratio in enumerate(ratios[rung - 1]):
                if left_end <= ratio <= right_end:
                    ax.plot(ratio, y, markers[turn % len(markers)], ms=6, alpha=0.85,
                            color=plt.cm.tab10(turn % 10), zorder=2,
                            label=f"round {turn + 1}" if y == 0 else None)
            median = float(np.median(ratios[rung - 1]))
            if left_end <= median <= right_end:
                ax.plot(median, y, "|", color="black", ms=16, mew=2.5, zorder=3,
                        label="median" if ax is axes[0] and y == 0 else None)
        ax.set_xscale("log")
        ax.set_xlim(left_end, right_end)
        candidates = [0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.5, 2, 3, 4, 5, 6, 8,
                      10]
        if right_end < 2:  # an axis that stops short of 2 also gets 1.8, when it reaches that far
            candidates.append(1.8)
        ticks = sorted(t for t in candidates
                       if left_end <= t <= right_end and not (ax is not axes[0] and t == left_end))
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(axis="x", which="both", alpha=0.25)
    axes[0].set(yticks=range(len(rows)),
                yticklabels=[labels[r] + (" · control" if r in controls else "") for r in rows])
    fig.suptitle(title)
    axes[0].set_ylim(len(rows) - 0.5, -0.5)  # the first rung at the top, half a row of margin
    axes[0].set_xlabel("images per second, ÷ the rung above's (log scale): above 1, the rung "
                       "is faster")
    if high_part:
        axes[0].spines["right"].set_linestyle((0, (4, 3)))
        axes[1].spines["left"].set_linestyle((0, (4, 3)))
        axes[1].tick_params(axis="y", length=0)
        axes[1].set_title(f"above {split_at:g} (axis broken)", fontsize=9)
    handles, names = axes[0].get_legend_handles_labels()
    if high_part:  # a round whose dots all lie right of the break is named there
        for handle, name in zip(*axes[1].get_legend_handles_labels(), strict=True):
            if name not in names:
                handles.append(handle)
                names.append(name)
    fig.legend(handles, names, loc="lower center", fontsize=8, ncol=4, frameon=False)
    legend_inches = 0.25 * ((len(names) + 3) // 4) + 0.15  # its rows, under the axis label
    fig.tight_layout(rect=(0, legend_inches / fig.get_size_inches()[1], 1, 1))
    return fig
