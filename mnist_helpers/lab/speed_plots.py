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
                      title: str = "Every rung, round by round, beside the noise") -> Figure:
    """One row per rung after the first: a dot per round for its ratio (the rung's images per
    second over the rung above's, in that round: above 1, faster), a tick at the median, on a
    log scale. The controls' dots (``controls``: rung numbers whose change alters nothing the
    computer does) are orange. Each shaded band is the noise band (:func:`~mnist_helpers.lab.
    speed.noise_band`) of an identical pair, rung ``pair`` (or each of several): how far noise
    alone moved a ratio."""
    ratios = np.asarray(list(rung_ratios(speeds).values()))  # row i - 1: rung i ÷ rung i - 1
    rows = list(range(1, len(labels)))
    fig, ax = plt.subplots(figsize=(9.5, 0.42 * len(rows) + 2.2))
    shades = [("tab:blue", 0.25), ("tab:purple", 0.15), ("tab:olive", 0.15)]
    for k, rung in enumerate([pair] if isinstance(pair, int) else pair):
        colour, alpha = shades[k % len(shades)]
        low, high = noise_band(ratios[rung - 1].tolist())
        ax.axvspan(low, high, color=colour, alpha=alpha,
                   label=f"noise band of {labels[rung]}: {low:.2f} to {high:.2f}")
    ax.axvline(1, color="black", lw=0.8)
    for y, rung in enumerate(rows):
        is_control = rung in controls
        first = rung == next(r for r in rows if (r in controls) == is_control)
        ax.plot(ratios[rung - 1], np.full(ratios.shape[1], y), "o", ms=5, alpha=0.8,
                color="tab:orange" if is_control else "tab:green",
                label=("one round (a control)" if is_control else "one round") if first else None)
        ax.plot(np.median(ratios[rung - 1]), y, "|", color="black", ms=14, mew=2,
                label=None if y else "median")
    ax.set_xscale("log")
    ticks = [t for t in (0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 4, 5, 10)
             if ratios.min() / 1.2 <= t <= ratios.max() * 1.2]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(yticks=range(len(rows)), yticklabels=[labels[r] for r in rows],
           xlabel="images per second, ÷ the rung above's (log scale): above 1, the rung is faster",
           title=title)
    ax.invert_yaxis()
    ax.grid(axis="x", which="both", alpha=0.2)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=8, ncol=2)
    fig.tight_layout()
    return fig

