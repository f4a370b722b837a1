"""Figures the notebooks show: samples, histograms, training curves, confusion matrix,
probability bars and preprocessing steps. Each returns its ``Figure``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from .data import MNIST_MEAN, MNIST_STD

DIGITS = list(range(10))


def to_pixels(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A normalised 1×28×28 (or 28×28) tensor back to a 28×28 array in [0, 1] for display."""
    if isinstance(image, torch.Tensor):
        image = (image.detach().cpu().float() * MNIST_STD + MNIST_MEAN).numpy()
    return np.clip(np.asarray(image).reshape(28, 28), 0.0, 1.0)


def show_samples(
    images: torch.Tensor,
    labels: Sequence[int],
    predicted: Sequence[int] | None = None,
    *,
    columns: int = 8,
    title: str = "MNIST samples",
) -> Figure:
    """A grid of digits titled with their label (and prediction: green right, red wrong)."""
    n = len(labels)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.0, rows * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(to_pixels(images[i]), cmap="gray", vmin=0, vmax=1)
        if predicted is None:
            ax.set_title(f"{int(labels[i])}", fontsize=10)
        else:
            ok = int(predicted[i]) == int(labels[i])
            ax.set_title(f"true {int(labels[i])}\npred {int(predicted[i])}", fontsize=8,
                         color="tab:green" if ok else "tab:red")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_class_counts(counts: dict[str, Sequence[int]], title: str = "Images per digit"
                      ) -> Figure:
    """Side-by-side bars of how many images each digit has, per split."""
    return plot_grouped_bars(counts, [str(d) for d in DIGITS], ylabel="images", title=title,
                             xlabel="digit", value_fmt=None, figsize=(7, 3), legend_loc="best")


def plot_pixel_histogram(pixels: torch.Tensor, title: str = "Pixel values (training set)"
                         ) -> Figure:
    """Histogram of pixel intensities (uint8 images), log scale: mostly black, some white."""
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(pixels.flatten().numpy(), bins=64, range=(0, 255), color="tab:blue")
    ax.set(yscale="log", xlabel="pixel value (0 = black, 255 = white)", ylabel="count",
           title=title)
    fig.tight_layout()
    return fig


def plot_history(history: object, title: str = "Training") -> Figure:
    """Per-batch training loss, and per-epoch validation loss and accuracy."""
    h = history
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.2))
    steps = np.arange(1, len(h.step_loss) + 1)
    per_epoch = len(h.step_loss) / max(len(h.epoch), 1)
    ax1.plot(steps / per_epoch, h.step_loss, lw=0.6, alpha=0.6, label="training (per batch)")
    ax1.plot(h.epoch, h.val_loss, "o-", label="validation (per epoch)")
    ax1.set(yscale="log", xlabel="epoch", ylabel="cross-entropy loss", title=f"{title}: loss")
    ax1.legend()
    ax2.plot(h.epoch, [100 * a for a in h.val_accuracy], "o-", color="tab:green")
    ax2.set(xlabel="epoch", ylabel="validation accuracy (%)", title=f"{title}: accuracy",
            xticks=h.epoch)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(cm: torch.Tensor, title: str = "Confusion matrix (test set)"
                          ) -> Figure:
    """Counts of (true, predicted) pairs; off-diagonal cells are the mistakes."""
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    off = cm.clone().numpy().astype(float)
    np.fill_diagonal(off, np.nan)
    image = ax.imshow(off, cmap="Reds")
    dark = 0.6 * np.nanmax(off) if np.nanmax(off) > 0 else 1.0
    for t in range(10):
        for p in range(10):
            value = int(cm[t, p])
            if value:
                color = "tab:green" if t == p else ("white" if value > dark else "black")
                ax.text(p, t, value, ha="center", va="center", fontsize=7, color=color,
                        fontweight="bold" if t == p else "normal")
    ax.set(xticks=DIGITS, yticks=DIGITS, xlabel="predicted digit", ylabel="true digit",
           title=title)
    fig.colorbar(image, ax=ax, label="mistakes", shrink=0.8)
    fig.tight_layout()
    return fig


def plot_prediction(
    image: torch.Tensor | np.ndarray,
    probabilities: Sequence[float],
    true_label: int | None = None,
    title: str | None = None,
) -> Figure:
    """The digit beside a bar chart of the ten class probabilities (prediction highlighted)."""
    probs = np.asarray(probabilities, dtype=float)
    predicted = int(probs.argmax())
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7, 2.6),
                                   gridspec_kw={"width_ratios": [1, 2.2]})
    pixels = image if isinstance(image, np.ndarray) else to_pixels(image)
    ax1.imshow(pixels.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
    ax1.axis("off")
    label = f"predicted {predicted}" + (f", true {true_label}" if true_label is not None else "")
    ax1.set_title(title or label, fontsize=9)
    colors = ["tab:gray"] * 10
    colors[predicted] = "tab:green" if true_label in (None, predicted) else "tab:red"
    if true_label is not None and true_label != predicted:
        colors[true_label] = "tab:blue"
    ax2.bar(DIGITS, probs, color=colors)
    ax2.set(xticks=DIGITS, ylim=(0, 1.05), xlabel="digit", ylabel="probability",
            title=f"{100 * probs[predicted]:.1f}% sure it is a {predicted}")
    fig.tight_layout()
    return fig


def plot_steps(steps: dict[str, np.ndarray], title: str = "What the model sees") -> Figure:
    """The preprocessing steps of one image, left to right."""
    fig, axes = plt.subplots(1, len(steps), figsize=(2.0 * len(steps), 2.3), squeeze=False)
    for ax, (name, pixels) in zip(axes.flat, steps.items(), strict=True):
        ax.imshow(pixels, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{name}\n{pixels.shape[1]}×{pixels.shape[0]}", fontsize=8)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_tradeoff(rows: Sequence[dict], title: str = "Accuracy against training time") -> Figure:
    """One point per run (``rows`` from ``RunResult.row()``): seconds per epoch against test
    accuracy, the marker's area growing with the parameter count."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    params = np.array([r["parameters"] for r in rows], dtype=float)
    sizes = 40 + 400 * np.sqrt(params / params.max())
    by_accuracy = sorted(range(len(rows)), key=lambda i: rows[i]["test acc %"])
    for rank, i in enumerate(by_accuracy):  # labels alternate above/below so neighbours part
        row = rows[i]
        ax.scatter(row["seconds/epoch"], row["test acc %"], s=sizes[i], alpha=0.6)
        ax.annotate(f"{row['name']}\n{row['parameters']:,} params",
                    (row["seconds/epoch"], row["test acc %"]), fontsize=8,
                    xytext=(8, 4 if rank % 2 else -22), textcoords="offset points")
    ax.set(xscale="log", xlabel="seconds per epoch (log scale)", ylabel="test accuracy (%)",
           title=title)
    ax.margins(x=0.35, y=0.25)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_grouped_bars(values: dict[str, Sequence[float]], groups: Sequence[str], *,
                      ylabel: str, title: str, ylim: tuple[float, float] | None = None,
                      xlabel: str = "", value_fmt: str | None = "%.1f",
                      figsize: tuple[float, float] | None = None,
                      legend_loc: str = "lower right") -> Figure:
    """Bars of several series side by side for each group (e.g. accuracy per kind of picture,
    with and without augmentation; images per digit, per split), each bar labelled with its
    value in ``value_fmt`` unless that is None."""
    fig, ax = plt.subplots(figsize=figsize or (max(6.0, 0.9 * len(groups) * len(values)), 3.4))
    width = 0.8 / len(values)
    x = np.arange(len(groups))
    for k, (name, series) in enumerate(values.items()):
        bars = ax.bar(x + k * width - 0.4 + width / 2, series, width, label=name)
        if value_fmt is not None:
            ax.bar_label(bars, fmt=value_fmt, fontsize=7, padding=1)
    ax.set(xticks=x, xticklabels=list(groups), xlabel=xlabel, ylabel=ylabel, title=title)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.legend(loc=legend_loc, fontsize=8 if value_fmt is not None else None)
    fig.tight_layout()
    return fig


def plot_sweep(grid: torch.Tensor, lrs: Sequence[float], batch_sizes: Sequence[int],
               title: str = "Validation accuracy (%) by learning rate and batch size") -> Figure:
    """A heat map of a learning-rate × batch-size sweep (``grid[i, j]`` for batch size ``i``
    and learning rate ``j``, as fractions), each cell labelled, the best one outlined."""
    values = 100 * grid.numpy()
    fig, ax = plt.subplots(figsize=(1.1 * len(lrs) + 2.5, 0.6 * len(batch_sizes) + 1.8))
    floor = max(float(values.max()) - 5.0, float(values.min()))
    image = ax.imshow(values, cmap="viridis", vmin=floor, vmax=float(values.max()))
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            ax.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", fontsize=8,
                    color="black" if values[i, j] > (floor + values.max()) / 2 else "white")
    best = np.unravel_index(np.argmax(values), values.shape)
    ax.add_patch(plt.Rectangle((best[1] - 0.5, best[0] - 0.5), 1, 1, fill=False, lw=2.5,
                               edgecolor="red"))
    ax.set(xticks=range(len(lrs)), xticklabels=[f"{lr:g}" for lr in lrs],
           yticks=range(len(batch_sizes)), yticklabels=[str(b) for b in batch_sizes],
           xlabel="peak learning rate", ylabel="batch size", title=title)
    fig.colorbar(image, ax=ax, label=f"accuracy (%), {floor:.1f} and below darkest")
    fig.tight_layout()
    return fig


def plot_step_breakdown(breakdowns: dict[str, dict[str, float]],
                        title: str = "Where the time of a training step goes") -> Figure:
    """Horizontal stacked bars: for each configuration, milliseconds per 1,000 training images
    spent on each phase (batch, forward, backward, optimizer)."""
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
    ax.margins(x=0.15)
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
    ax.margins(x=0.45)
    fig.tight_layout()
    return fig
