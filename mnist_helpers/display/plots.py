"""Figures the notebooks show: samples, class counts, pixel values, training curves, the
learning-rate schedule, confusion matrix, error rates, probabilities and preprocessing steps.
Each function returns its ``Figure``."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from ..config import DIGITS, MNIST_MEAN, MNIST_STD
from ..train import History

RIGHT, WRONG, TRUE = "tab:green", "tab:red", "tab:blue"


def to_pixels(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A digit as a 28×28 array in [0, 1] for display, from a normalised float tensor
    (1×28×28 or 28×28), a uint8 tensor as MNIST stores it, or an array already in [0, 1]."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        image = (image.float() / 255 if image.dtype == torch.uint8
                 else image.float() * MNIST_STD + MNIST_MEAN).numpy()
    return np.clip(np.asarray(image).reshape(28, 28), 0.0, 1.0)


def show_samples(images: torch.Tensor | Sequence[np.ndarray], labels: Sequence[int],
                 predicted: Sequence[int] | None = None,
                 confidence: Sequence[float] | None = None, *, columns: int = 8,
                 title: str = "MNIST samples") -> Figure:
    """A grid of digits titled with their label, or with label and prediction (green right,
    red wrong) and, if given, the prediction's probability."""
    n = len(labels)
    rows = -(-n // columns)
    height = 1.2 if predicted is None else 1.5
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.05, rows * height + 0.5),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(to_pixels(images[i]), cmap="gray", vmin=0, vmax=1)
        if predicted is None:
            ax.set_title(f"{int(labels[i])}", fontsize=10)
            continue
        text = f"true {int(labels[i])}\npred {int(predicted[i])}"
        if confidence is not None:
            text += f" ({100 * confidence[i]:.0f}%)"
        ax.set_title(text, fontsize=8,
                     color=RIGHT if int(predicted[i]) == int(labels[i]) else WRONG)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_grouped_bars(values: dict[str, Sequence[float]], groups: Sequence[str], *,
                      ylabel: str, title: str, ylim: tuple[float, float] | None = None,
                      xlabel: str = "", value_fmt: str | None = "%.1f",
                      figsize: tuple[float, float] | None = None,
                      legend_loc: str = "lower right") -> Figure:
    """Bars of several series side by side for each group, each bar labelled with its value
    in ``value_fmt`` unless that is None."""
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
    ax.legend(loc=legend_loc, fontsize=8)
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
    ax.hist(pixels.flatten().numpy(), bins=64, range=(0, 255), color=TRUE)
    ax.set(yscale="log", xlabel="pixel value (0 = black, 255 = white)",
           ylabel="number of pixels (log scale)", title=title)
    fig.tight_layout()
    return fig


def plot_learning_rate(rates: Sequence[float], steps_per_epoch: int,
                       title: str = "Learning rate, step by step") -> Figure:
    """The learning rate of every optimizer step, against epochs."""
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.plot(np.arange(1, len(rates) + 1) / steps_per_epoch, rates, color="tab:purple")
    ax.set(xlabel="epoch", ylabel="learning rate", title=title, ylim=(0, max(rates) * 1.08))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_history(history: History, title: str = "Training") -> Figure:
    """Loss (every batch, and validation per epoch), accuracy (training and validation per
    epoch) and the learning rate of every step, against epochs."""
    h = history
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(12, 3.3))
    per_epoch = len(h.step_loss) / max(len(h.epoch), 1)
    steps = np.arange(1, len(h.step_loss) + 1) / per_epoch
    ax1.plot(steps, h.step_loss, lw=0.6, alpha=0.6, label="training (each batch)")
    ax1.plot(h.epoch, h.train_loss, "s-", ms=4, label="training (epoch mean)")
    ax1.plot(h.epoch, h.val_loss, "o-", label="validation")
    ax1.set(yscale="log", xlabel="epoch", ylabel="cross-entropy loss (log scale)", title="loss")
    ax2.plot(h.epoch, [100 * a for a in h.train_accuracy], "s-", ms=4, label="training")
    ax2.plot(h.epoch, [100 * a for a in h.val_accuracy], "o-", label="validation")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", xticks=h.epoch)
    ax3.plot(steps, h.step_lr, color="tab:purple")
    ax3.set(xlabel="epoch", ylabel="learning rate", title="learning rate", ylim=(0, None))
    for ax in (ax1, ax2):
        ax.legend(fontsize=8)
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(cm: torch.Tensor, title: str = "Confusion matrix (test set)"
                          ) -> Figure:
    """Counts of (true, predicted) pairs; off-diagonal cells are the mistakes, coloured by
    count (the diagonal, the right answers, is printed in green and not coloured)."""
    fig, ax = plt.subplots(figsize=(6, 5.2))
    off = cm.clone().numpy().astype(float)
    np.fill_diagonal(off, np.nan)
    image = ax.imshow(off, cmap="Reds", vmin=0)
    dark = 0.6 * np.nanmax(off) if np.nanmax(off) > 0 else 1.0
    for t in range(cm.shape[0]):
        for p in range(cm.shape[1]):
            value = int(cm[t, p])
            if value:
                color = RIGHT if t == p else ("white" if value > dark else "black")
                ax.text(p, t, value, ha="center", va="center", fontsize=7, color=color,
                        fontweight="bold" if t == p else "normal")
    ticks = list(range(cm.shape[0]))
    ax.set(xticks=ticks, yticks=ticks, xlabel="predicted digit", ylabel="true digit",
           title=title)
    fig.colorbar(image, ax=ax, label="mistakes", shrink=0.8)
    fig.tight_layout()
    return fig


def plot_error_rates(cm: torch.Tensor, title: str = "Mistakes per digit (test set)"
                     ) -> Figure:
    """The share of each true digit's test images the model gets wrong, from zero."""
    totals = cm.sum(1).clamp(min=1).double()
    errors = 100 * (totals - cm.diag().double()) / totals
    fig, ax = plt.subplots(figsize=(7, 2.8))
    bars = ax.bar(DIGITS, errors.numpy(), color=WRONG)
    ax.bar_label(bars, labels=[f"{e:.1f}" for e in errors.tolist()], fontsize=8, padding=1)
    ax.set(xticks=DIGITS, xlabel="true digit", ylabel="wrong (%)", title=title,
           ylim=(0, max(float(errors.max()) * 1.2, 0.5)))
    fig.tight_layout()
    return fig


def plot_prediction(pixels: torch.Tensor | np.ndarray, probabilities: Sequence[float],
                    true_label: int | None = None, title: str | None = None) -> Figure:
    """The 28×28 input beside every class's probability, on a log scale so that a runner-up
    at 0.1% is as visible as the winner at 99.9%, each bar labelled with its value."""
    probs = np.clip(np.asarray(probabilities, dtype=float), 1e-7, 1.0)
    predicted = int(probs.argmax())
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7.5, 2.9),
                                   gridspec_kw={"width_ratios": [1, 2.4]})
    ax1.imshow(to_pixels(pixels), cmap="gray", vmin=0, vmax=1)
    ax1.axis("off")
    label = f"predicted {predicted}" + (f", true {true_label}" if true_label is not None else "")
    ax1.set_title(title or label, fontsize=9)
    colors = ["tab:gray"] * len(probs)
    colors[predicted] = RIGHT if true_label in (None, predicted) else WRONG
    if true_label is not None and true_label != predicted:
        colors[true_label] = TRUE
    names = [str(d) for d in range(len(probs))]
    ax2.barh(names, probs, color=colors)
    for y, p in enumerate(probs):
        ax2.text(p * 1.3, y, f"{100 * p:.3g}%", va="center", fontsize=7)
    ax2.set(xscale="log", xlim=(1e-7, 30), ylabel="digit", title=f"{label}: probability of each "
            "digit (log scale)", xlabel="probability")
    ax2.invert_yaxis()
    fig.tight_layout()
    return fig


def plot_steps(steps: dict[str, np.ndarray], title: str = "What the model sees") -> Figure:
    """The preprocessing steps of one image, left to right."""
    fig, axes = plt.subplots(1, len(steps), figsize=(2.0 * len(steps), 2.4), squeeze=False)
    for ax, (name, pixels) in zip(axes.flat, steps.items(), strict=True):
        ax.imshow(pixels, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{name.replace('_', ' ')}\n{pixels.shape[1]}×{pixels.shape[0]}",
                     fontsize=8)
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
