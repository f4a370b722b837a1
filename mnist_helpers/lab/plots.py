"""Figures of the experiments notebooks (08a, 08b and 09's section 1): accuracy against time,
the spread of accuracies over seeds, runs with their intervals against the seed-to-seed noise, a
hyperparameter sweep, where a training step's time goes, and what each speed lever bought; and
notebook 07a's class regions of a classifier of points in a plane, and overlap of one score's
histograms for digits and non-digits."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .experiments import RunResult


def plot_tradeoff(runs: Sequence[RunResult],
                  title: str = "Accuracy against training time") -> Figure:
    """One point per configuration: seconds per epoch against test accuracy, the marker's
    area growing with the parameter count. Runs with the same name (other seeds) are shown
    as their mean, with a bar from the lowest to the highest test accuracy."""
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        groups.setdefault(run.name, []).append(run)
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    largest = max(r.parameters for r in runs)
    means = {name: 100 * float(np.mean([r.test_accuracy for r in rs]))
             for name, rs in groups.items()}
    for rank, name in enumerate(sorted(groups, key=means.__getitem__)):
        rs = groups[name]
        x = float(np.mean([r.seconds_per_epoch for r in rs]))
        accuracies = [100 * r.test_accuracy for r in rs]
        size = 40 + 400 * np.sqrt(rs[0].parameters / largest)
        ax.scatter(x, means[name], s=size, alpha=0.6)
        if len(rs) > 1:
            ax.errorbar(x, means[name], yerr=[[means[name] - min(accuracies)],
                                              [max(accuracies) - means[name]]],
                        color="black", capsize=3, lw=1)
        ax.annotate(f"{name}\n{rs[0].parameters:,} params", (x, means[name]), fontsize=8,
                    xytext=(8, 4 if rank % 2 else -22), textcoords="offset points")
    ax.set(xscale="log", xlabel="seconds per epoch (log scale)", ylabel="test accuracy (%)",
           title=title)
    ax.margins(x=0.35, y=0.25)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_sweep_curves(grid: torch.Tensor, lrs: Sequence[float], batch_sizes: Sequence[int],
                      title: str = "Validation accuracy by learning rate and batch size",
                      *, zoom: float = 5.0) -> Figure:
    """A learning-rate × batch-size sweep (``grid[i, j]`` for batch size ``i`` and learning
    rate ``j``, as fractions), drawn as one line per batch size: accuracy (%) against the
    peak learning rate on a log axis, each line's best run marked with a star and
    its value. Left, every run on a 0–100% axis, so a collapse looks like one; right, the same
    lines zoomed on the ``zoom`` points below the best run, where the best rows differ."""
    values = 100 * grid.numpy()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    best = float(values.max())
    for i, batch_size in enumerate(batch_sizes):
        row = values[i]
        j = int(np.argmax(row))
        for ax in axes:
            line, = ax.plot(lrs, row, "o-", label=f"batch {batch_size}")
            ax.plot(lrs[j], row[j], "*", markersize=14, color=line.get_color(),
                    markeredgecolor="black", zorder=3)
        axes[1].annotate(f"{row[j]:.1f}", (lrs[j], row[j]), xytext=(6, 4),
                         textcoords="offset points", fontsize=8, color=line.get_color())
    axes[0].set(ylim=(0, 100), title="every run")
    axes[1].set(ylim=(best - zoom, best + 0.6 * zoom / 5),
                title=f"zoomed: the best and {zoom:g} percentage points below it "
                      "(lower runs off the axis)")
    for ax in axes:
        ax.set(xscale="log", xlabel="peak learning rate (log scale)",
               ylabel="validation accuracy (%)")
        ax.set_xticks(list(lrs), [f"{lr:g}" for lr in lrs])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower center", fontsize=8, title="★ best of each batch size",
                   title_fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def plot_step_breakdown(breakdowns: dict[str, dict[str, float]],
                        title: str = "Where the time of a training step goes") -> Figure:
    """Horizontal stacked bars: for each configuration, milliseconds per 1,000 training images
    spent on each phase (fetching, forward, backward, optimizer)."""
    fig, ax = plt.subplots(figsize=(8, 0.7 * len(breakdowns) + 1.6))
    names = list(breakdowns)
    left = np.zeros(len(names))
    phases = list(next(iter(breakdowns.values())))
    for phase in phases:
        widths = np.array([breakdowns[n][phase] for n in names])
        ax.barh(names, widths, left=left, label=phase)
        left += widths
    for y, total in enumerate(left):
        ax.text(total, y, f" {total:,.0f} ms", va="center", fontsize=8)
    ax.set(xlabel="milliseconds per 1,000 training images", title=title)
    ax.invert_yaxis()
    ax.margins(x=0.2)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_ladder(labels: Sequence[str], images_per_second: Sequence[float],
                title: str = "Training speed, one lever at a time") -> Figure:
    """Horizontal bars of throughput per rung, each labelled with its gain over the rung
    above and over the first."""
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(labels) + 1.4))
    speeds = np.asarray(images_per_second, dtype=float)
    ax.barh(list(labels), speeds, color="tab:green")
    for y, speed in enumerate(speeds):
        step = "" if y == 0 else f" (×{speed / speeds[y - 1]:.2f}; ×{speed / speeds[0]:.1f} in all)"
        ax.text(speed, y, f" {speed:,.0f}{step}", va="center", fontsize=8)
    ax.set(xlabel="training images per second", title=title)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.9 * speeds.max())  # room for the labels right of the longest bar
    fig.tight_layout()
    return fig


def plot_seed_spread(accuracies: Mapping[str, Sequence[float]], *, xlabel: str,
                     title: str = "Accuracy of every seed",
                     order: Sequence[str] | None = None) -> Figure:
    """One row per configuration: a dot for every seed's accuracy (in %), a line from the
    lowest to the highest, and a tick at the mean. Rows run top to bottom in ``order`` (a
    ranking made elsewhere, say on validation), else from the highest mean down."""
    if order is None:
        order = sorted(accuracies, key=lambda name: float(np.mean(accuracies[name])),
                       reverse=True)
    elif sorted(order) != sorted(accuracies):
        raise ValueError(f"order must name every configuration once; got {list(order)} for "
                         f"{list(accuracies)}")
    order = list(reversed(order))  # matplotlib puts the first row at the bottom
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(order) + 1.5))
    for y, name in enumerate(order):
        values = np.asarray(accuracies[name], dtype=float)
        ax.hlines(y, values.min(), values.max(), color="tab:gray", lw=2, alpha=0.6)
        ax.plot(values, np.full(len(values), y), "o", color="tab:blue", ms=5, alpha=0.8,
                label="one seed" if y == 0 else None)
        ax.plot(values.mean(), y, "|", color="black", ms=14, mew=2,
                label="mean" if y == 0 else None)
    ax.set(yticks=range(len(order)), yticklabels=order, xlabel=xlabel, title=title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def plot_speed_ladder(labels: Sequence[str], speeds: Sequence[Sequence[float]],
                      title: str = "Training speed, one setting changed per rung") -> Figure:
    """One row per rung, on a log scale (equal ratios, equal distances): a dot for every
    timing, a tick at their median, and the rung's gain over the rung above (the median of the
    per-round ratios, and their lowest and highest); the title's second line says so."""
    timings = np.asarray(speeds, dtype=float)  # rungs × rounds
    median = np.median(timings, axis=1)
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(labels) + 1.5))
    for y in range(len(labels)):
        ax.hlines(y, timings[y].min(), timings[y].max(), color="tab:gray", lw=2, alpha=0.6)
        ax.plot(timings[y], np.full(timings.shape[1], y), "o", color="tab:green", ms=5,
                alpha=0.8, label="one timing" if y == 0 else None)
        ax.plot(median[y], y, "|", color="black", ms=14, mew=2,
                label="median" if y == 0 else None)
        text = f"  {median[y]:,.0f}/s"
        if y > 0:
            ratios = timings[y] / timings[y - 1]
            text += f"  ×{np.median(ratios):.2f} ({ratios.min():.2f} to {ratios.max():.2f})"
        ax.text(timings[y].max(), y, text, va="center", fontsize=8)
    ax.set_xscale("log")
    key = ("label: median images/s, then × the rung above "
           "(median of the rounds' ratios; lowest to highest)")
    ax.set(yticks=range(len(labels)), yticklabels=list(labels),
           xlabel="training images per second (log scale)", title=f"{title}\n{key}",
           xlim=(timings.min() / 1.5, timings.max() * 8))  # room for the labels on the right
    ax.invert_yaxis()
    ax.grid(axis="x", which="both", alpha=0.2)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def _spread_out(center: float, count: int, width: float) -> np.ndarray:
    """``count`` x positions spread evenly over ``width`` around ``center``, so that dots with
    the same value (tied seeds) sit side by side instead of on top of each other."""
    if count == 1:
        return np.array([center])
    return center + np.linspace(-width / 2, width / 2, count)


def _wrapped(label: str, width: int) -> str:
    """``label`` with each of its lines broken at spaces into lines of at most ``width``
    characters where it can be (a tick label that does not run into its neighbours)."""
    return "\n".join(textwrap.fill(line, width, break_long_words=False) or line
                     for line in label.split("\n"))


def plot_grouped_spread(values: Mapping[str, Mapping[str, Sequence[float]]],
                        groups: Sequence[str], *, ylabel: str, title: str,
                        intervals: Mapping[str, tuple[float, float]] | None = None,
                        interval_label: str = "95% interval of one run") -> Figure:
    """For each group, one column of dots per series, a dot for every seed side by side (so
    tied seeds show), and a short line at their mean (``values[series][group]`` holds one
    value per random seed; the numbers go in a table). ``intervals`` (optional) gives a group
    a (low, high) range, drawn as a grey band across its columns behind the dots: how loosely
    the group's few images pin down one score. The y axis spans the values and the bands, not
    0 to 100: the differences between the series are what is read. Group names are wrapped at
    spaces to fit their column."""
    fig_width = min(10.0, 2.0 + 0.5 * len(groups) * len(values))
    fig, ax = plt.subplots(figsize=(fig_width, 3.6))
    # The axes take about 3/4 of the width; a character of a 9-point label is under 7 points.
    chars = max(5, int(0.75 * fig_width * 72 / len(groups) / 7))
    width = 0.8 / len(values)
    x = np.arange(len(groups))
    everything = [v for by_group in values.values() for g in groups for v in by_group[g]]
    banded = [(xi, group) for xi, group in zip(x, groups, strict=True)
              if group in (intervals or {})]
    for k, (xi, group) in enumerate(banded):
        low, high = intervals[group]  # type: ignore[index]
        ax.fill_between([xi - 0.45, xi + 0.45], low, high, color="0.85", lw=0, zorder=0,
                        label=interval_label if k == 0 else None)  # one legend entry
        everything += [low, high]
    for k, (name, by_group) in enumerate(values.items()):
        color = f"C{k}"
        for xi, group in zip(x + k * width - 0.4 + width / 2, groups, strict=True):
            dots = np.asarray(by_group[group], dtype=float)
            first = group == groups[0]
            ax.hlines(dots.mean(), xi - 0.4 * width, xi + 0.4 * width, color=color, lw=2.5,
                      label=f"{name} (mean)" if first else "_nolegend_")
            ax.plot(_spread_out(xi, len(dots), 0.5 * width), dots, "o", ms=4, color=color,
                    markeredgecolor="black", markeredgewidth=0.5,
                    label=f"{name} (one seed)" if first else None)
    low, high = min(everything), max(everything)
    margin = max(0.5, 0.08 * (high - low))
    ax.set(xticks=x, ylabel=f"{ylabel}, axis not from 0", title=title,
           ylim=(low - margin, high + margin))
    ax.set_xticklabels([_wrapped(group, chars) for group in groups], fontsize=9)
    for boundary in x[1:] - 0.5:  # thin lines between the groups
        ax.axvline(boundary, color="tab:gray", lw=0.5, alpha=0.4)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_score_histograms(scores: Mapping[str, torch.Tensor | np.ndarray], *, xlabel: str,
                          title: str, threshold: float | None = None,
                          bins: int | Sequence[float] = 50) -> Figure:
    """Overlapping histograms of one score for groups of images (``scores``: a name and one
    score per image each) on one shared axis. Each bar is a share of its own group, so groups
    of different sizes compare; the legend, right of the axes so that it hides no bar, gives
    each group's count. The share axis is logarithmic, so that a few images of one group among
    the other's show; ``threshold``, if given, is a dashed vertical line, "refused" on its left
    and "accepted" on its right."""
    values = {name: np.asarray(torch.as_tensor(v).detach().cpu(), dtype=float).ravel()
              for name, v in scores.items()}
    if any(len(v) == 0 for v in values.values()):
        raise ValueError(f"every group needs at least one score; got "
                         f"{ {name: len(v) for name, v in values.items()} }")
    edges = np.histogram_bin_edges(np.concatenate(list(values.values())), bins=bins)
    fig, ax = plt.subplots(figsize=(8.4, 3.0))
    for k, (name, v) in enumerate(values.items()):
        share = np.full(len(v), 100 / len(v))  # each image's weight: % of its group
        ax.hist(v, bins=list(edges), weights=share, color=f"C{k}", alpha=0.45,
                label=f"{name} ({len(v):,})")
        ax.hist(v, bins=list(edges), weights=share, color=f"C{k}", histtype="step",
                lw=1.2)  # each group's outline, visible where the other covers it
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", lw=1.2, label=f"threshold {threshold:.3g}")
        for side, text in ((-1, "← refused"), (1, "accepted →")):
            ax.annotate(text, (threshold, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(side * 4, -3), textcoords="offset points", va="top", fontsize=8,
                        ha="right" if side < 0 else "left")
    ax.set_yscale("log")
    tallest = max(float(np.histogram(v, bins=edges)[0].max()) * 100 / len(v)
                  for v in values.values())
    ax.set_ylim(top=3 * tallest)  # room above the bars for the "refused" and "accepted" labels
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))  # 0.1, 1, 10: not 10⁻¹
    ax.set(xlabel=xlabel, ylabel="share of its group (%, log scale)", title=title,
           xlim=(edges[0], edges[-1]))
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_class_regions(probabilities: Callable[[torch.Tensor], torch.Tensor],
                       points: torch.Tensor, labels: torch.Tensor, *, extent: float,
                       marks: Mapping[str, tuple[float, float]] | None = None,
                       steps: int = 201,
                       title: str = "A classifier of points in a plane") -> Figure:
    """Two panels over the square from −``extent`` to ``extent`` on both axes: on the left, the
    class with the largest probability at each point, a pale colour per class; on the right,
    that largest probability, on a colour scale from 1/K (all K classes alike) to 1.
    ``probabilities`` takes an (N, 2) tensor of points and gives their (N, K) probabilities,
    each row adding up to 1; it is called once, on a grid of ``steps`` × ``steps`` points,
    without gradients. ``points`` (N × 2) and ``labels`` (the training data) are drawn on both
    panels in their class's colour, and each of ``marks`` (a name and a point) as a labelled
    cross on the right, the labels alternately above right and below left of their crosses
    (in the order given), so that two marks close together keep both labels readable."""
    points = torch.as_tensor(points, dtype=torch.float32).detach().cpu()
    labels = torch.as_tensor(labels).detach().cpu()
    if points.dim() != 2 or points.shape[1] != 2 or len(labels) != len(points):
        raise ValueError(f"points must be N × 2 with one label each; got points "
                         f"{tuple(points.shape)} and {len(labels)} labels")
    axis = torch.linspace(-extent, extent, steps)
    x, y = torch.meshgrid(axis, axis, indexing="xy")  # row i: y = axis[i]; column j: x = axis[j]
    with torch.no_grad():
        p = torch.as_tensor(probabilities(torch.stack([x.ravel(), y.ravel()], dim=1)))
    p = p.detach().cpu().double()
    if p.dim() != 2 or len(p) != steps * steps or p.shape[1] < 2:
        raise ValueError(f"probabilities must give one row of K ≥ 2 probabilities per point; "
                         f"got {tuple(p.shape)} for {steps * steps} points")
    if not torch.allclose(p.sum(dim=1), torch.ones(len(p), dtype=p.dtype), atol=1e-4):
        raise ValueError("each row of probabilities must add up to 1 (apply the softmax to "
                         "the logits first)")
    classes = p.shape[1]
    best = p.max(dim=1)
    box = (-extent, extent, -extent, extent)
    pale = ListedColormap([tuple(0.65 + 0.35 * c for c in to_rgb(f"C{k}"))
                           for k in range(classes)])
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 4.2), layout="constrained")
    left.imshow(best.indices.reshape(steps, steps).numpy(), origin="lower", extent=box,
                cmap=pale, vmin=-0.5, vmax=classes - 0.5, interpolation="nearest")
    image = right.imshow(best.values.reshape(steps, steps).numpy(), origin="lower", extent=box,
                         cmap="viridis", vmin=1 / classes, vmax=1.0)
    fig.colorbar(image, ax=right, label="largest probability")
    for ax in (left, right):
        for k in range(classes):
            mine = labels == k
            ax.scatter(points[mine, 0], points[mine, 1], s=6, color=f"C{k}",
                       edgecolors="black", linewidths=0.2, label=f"class {k}")
        ax.set(xlim=box[:2], ylim=box[2:], aspect="equal", xlabel="first coordinate",
               ylabel="second coordinate")
    left.set_title("the class it names, with the training points", fontsize=10)
    left.legend(loc="upper left", fontsize=8, markerscale=2)
    right.set_title("how sure it is: its largest probability", fontsize=10)
    for k, (name, (mx, my)) in enumerate((marks or {}).items()):
        right.plot(mx, my, "x", color="red", ms=8, mew=2)
        above = k % 2 == 0  # above right, then below left, then above right again, ...
        right.annotate(name, (mx, my), xytext=(6, 6) if above else (-6, -6),
                       textcoords="offset points", ha="left" if above else "right",
                       va="bottom" if above else "top", color="red", fontsize=9,
                       bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                             "edgecolor": "none", "alpha": 0.85})
    fig.suptitle(title)
    return fig
