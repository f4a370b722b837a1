"""Figures of the statistics the experiments notebook uses: every equally likely way to share
ranked runs between two recipes (:func:`plot_splits`), the coin tosses behind McNemar's test
(:func:`plot_coin_tosses`), and the groups of test pictures (:func:`plot_picture_groups`).
:mod:`mnist_helpers.lab.experiments` offers them too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from PIL import Image


def _extreme(split: Sequence[int], k: int) -> str | None:
    """Whether ``split`` (the ranks A holds, 0 the lowest of 2k) puts all of A's runs on top,
    all of B's, or neither (None)."""
    if min(split) == k:
        return "all A's on top"
    if max(split) == k - 1:
        return "all B's on top"
    return None


def plot_splits(splits: Sequence[Sequence[int]], *, observed: Sequence[int] | None = None,
                title: str = "Every way to share the ranked runs between A and B") -> Figure:
    """Every way of giving k of 2k ranked runs to recipe A (``splits``: the ranks A holds, 0
    the lowest accuracy), as equally likely if A and B are equally good: one strip per way, a
    square per run from the lowest accuracy (left) to the highest (right), A's filled and
    lettered. The two most extreme ways, all of A's runs on top or all of B's, are framed in
    red; the way the runs fell (``observed``, A's ranks) is labelled "seen"."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if not splits:
        raise ValueError("splits is empty: give at least one way to share the runs")
    k = len(splits[0])
    if any(len(split) != k for split in splits):
        raise ValueError("every split must give A the same number of runs")
    seen = tuple(sorted(observed)) if observed is not None else None
    columns = min(5, len(splits))
    rows = -(-len(splits) // columns)
    step_x, step_y = 2 * k + 1.5, 2.2
    width = 0.23 * columns * step_x  # inches: a square of about a fifth of an inch
    fig, ax = plt.subplots(figsize=(width, width * rows * step_y / (columns * step_x) + 0.9))
    for n, split in enumerate(splits):
        x0, y0 = (n % columns) * step_x, -(n // columns) * step_y
        for rank in range(2 * k):
            is_a = rank in split
            ax.add_patch(Rectangle((x0 + rank, y0), 0.9, 0.9, facecolor="tab:blue" if is_a
                                   else "white", edgecolor="tab:blue", lw=1))
            ax.text(x0 + rank + 0.45, y0 + 0.45, "A" if is_a else "B", ha="center",
                    va="center", fontsize=7, color="white" if is_a else "tab:blue")
        extreme = _extreme(split, k)
        caption = [extreme] if extreme else []
        if seen is not None and tuple(sorted(split)) == seen:
            caption.append("seen")
        if extreme:
            ax.add_patch(Rectangle((x0 - 0.2, y0 - 0.2), 2 * k + 0.3, 1.3, fill=False,
                                   edgecolor="tab:red", lw=2))
        if caption:
            ax.text(x0 + k - 0.05, y0 - 0.35, ", ".join(caption), ha="center", va="top",
                    fontsize=7, color="tab:red", fontweight="bold" if "seen" in caption
                    else "normal")
    ax.set(xlim=(-0.5, columns * step_x - 1.0), ylim=(-(rows - 1) * step_y - 1.1, 1.1),
           aspect="equal", title=f"{title}\neach strip: the {2 * k} runs from the lowest "
           "accuracy (left) to the highest (right)")
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_coin_tosses(heads: int, tosses: int, *,
                     title: str = "Heads in fair coin tosses") -> Figure:
    """The binomial distribution of the number of heads in ``tosses`` tosses of a fair coin
    (in McNemar's test, how ``only_a`` would fall among the disagreements if the two models
    were equally good), with ``heads`` marked, its mirror ``tosses - heads`` dashed, and the
    two tails at least that far from the middle in red: their total probability, in the
    legend, is the two-sided p-value."""
    import matplotlib.pyplot as plt
    from scipy.stats import binom

    if not 0 <= heads <= tosses or tosses < 1:
        raise ValueError(f"need 0 <= heads <= tosses and tosses >= 1, got {heads} of {tosses}")
    counts = np.arange(tosses + 1)
    chance = binom.pmf(counts, tosses, 0.5)
    low, high = min(heads, tosses - heads), max(heads, tosses - heads)
    tails = (counts <= low) | (counts >= high)
    p_value = min(1.0, float(chance[tails].sum()))
    middle, sd = tosses / 2, np.sqrt(tosses) / 2
    span = max(high - middle, 3 * sd) + 2 * sd
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.bar(counts[~tails], chance[~tails], width=1.0, color="tab:gray",
           label=f"P(exactly this many heads in {tosses} fair tosses)")
    hidden = " (too low to see)" if chance[tails].max() < 0.002 * chance.max() else ""
    ax.bar(counts[tails], chance[tails], width=1.0, color="tab:red",
           label=f"at least as uneven as seen, either way{hidden}: total {p_value:.3g}, "
                 "the two-sided p-value")
    top = float(chance.max())
    mirror = tosses - heads
    for at, text, style in ((heads, f"seen\n{heads}", "-"), (mirror, f"as uneven\nthe other "
                                                              f"way\n{mirror}", "--")):
        if at == heads or mirror != heads:
            ax.axvline(at, color="tab:red", lw=1.5, ls=style)
            left = at < middle
            ax.annotate(text, (at, 1.02 * top), xytext=(-4 if left else 4, 0),
                        textcoords="offset points", color="tab:red", fontsize=8, va="top",
                        ha="right" if left else "left")
    ax.set(xlim=(max(-0.5, middle - span), min(tosses + 0.5, middle + span)),
           ylim=(0, 1.08 * top), xlabel="number of heads", ylabel="probability", title=title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    fig.tight_layout()
    return fig


def plot_picture_groups(groups: Mapping[str, Sequence[tuple[Image.Image, int]]], *,
                        per_group: int = 6, title: str = "Pictures of each group") -> Figure:
    """``per_group`` pictures of every group, one row per group with its name on the left,
    each titled with its true digit and shown as handed in (before any preparation). The
    pictures are spread evenly over each group's list, first and last included, so a group
    sorted by kind shows every kind; where the spread lands on a digit already shown, the next
    picture before the following place with a new digit is shown instead, so a list whose
    digits repeat in a cycle (0 to 9, 0 to 9, ...) still shows a mix of digits."""
    import matplotlib.pyplot as plt

    if per_group < 1 or not groups:
        raise ValueError("need at least one group and per_group >= 1")
    fig, axes = plt.subplots(len(groups), per_group, squeeze=False,
                             figsize=(0.95 * per_group + 1.3, 1.05 * len(groups) + 0.5))
    for row, (name, pictures) in zip(axes, groups.items(), strict=True):
        if not pictures:
            raise ValueError(f"group {name!r} has no pictures")
        places = [round(float(at)) for at in
                  np.linspace(0, len(pictures) - 1, min(per_group, len(pictures)))]
        picks, shown = [], set()
        for k, place in enumerate(places):
            end = places[k + 1] if k + 1 < len(places) else len(pictures)
            pick = next((i for i in range(place, end) if pictures[i][1] not in shown), place)
            picks.append(pick)
            shown.add(pictures[pick][1])
        for column, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if column >= len(picks):
                ax.axis("off")
                continue
            picture, label = pictures[picks[column]]
            ax.imshow(np.asarray(picture.convert("L")), cmap="gray", vmin=0, vmax=255)
            ax.set_title(str(label), fontsize=9)
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
