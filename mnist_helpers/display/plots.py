"""Figures the notebooks show: samples, class counts, pixel values, training curves, the
learning-rate schedule, confusion matrix, error rates, probabilities, preprocessing steps,
a number read in a picture, refusal curves and reliability diagrams. Each function returns
its ``Figure``; :func:`mark_region` and :func:`show_region` draw a zoomed part of an image on
axes the caller made."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image

from ..calibration import RefusalCurve, Reliability
from ..config import DIGITS, MNIST_MEAN, MNIST_STD
from ..number_reading import NumberReading
from ..train import History
from .numbers_view import READ, REFUSED  # a number's pieces: read (not checked), refused
from .regions import mark_region, show_region  # noqa: F401 (offered here with the other figures)

RIGHT, WRONG, TRUE = "tab:green", "tab:red", "tab:blue"


def to_pixels(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A digit as a 28×28 array in [0, 1] for display, from a normalised float tensor
    (1×28×28 or 28×28), a uint8 tensor as MNIST stores it, or an array already in [0, 1]."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        image = (image.float() / 255 if image.dtype == torch.uint8
                 else image.float() * MNIST_STD + MNIST_MEAN).numpy()
    return np.clip(np.asarray(image).reshape(28, 28), 0.0, 1.0)


def show_samples(images: torch.Tensor | Sequence[np.ndarray], labels: Sequence[int | str],
                 predicted: Sequence[int] | None = None,
                 confidence: Sequence[float] | None = None, *, columns: int = 8,
                 title: str = "MNIST samples") -> Figure:
    """A grid of digits titled with their label, or with label and prediction (green right,
    red wrong) and, if given, the prediction's probability. A label that is a string (for a
    picture with no true digit) is the title as it stands."""
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
        if isinstance(labels[i], str):
            ax.set_title(labels[i], fontsize=8)
            continue
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


def plot_grouped_bars(values: Mapping[str, Sequence[float]], groups: Sequence[str], *,
                      ylabel: str, title: str, ylim: tuple[float, float] | None = None,
                      xlabel: str = "", value_fmt: str | None = "%.1f",
                      figsize: tuple[float, float] | None = None) -> Figure:
    """Bars of several series side by side for each group, each bar labelled with its value
    in ``value_fmt`` unless that is None; the legend sits outside, on the right."""
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
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def plot_class_counts(counts: Mapping[str, Sequence[int]], title: str = "Images per digit"
                      ) -> Figure:
    """Side-by-side bars of how many images each digit has, per split."""
    return plot_grouped_bars(counts, [str(d) for d in DIGITS], ylabel="images", title=title,
                             xlabel="digit", value_fmt=None, figsize=(7.5, 3))


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
                ax.text(p, t, str(value), ha="center", va="center", fontsize=7, color=color,
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


PERCENT_FLOOR = 1e-3  # the probability axis starts at 0.001%: smaller bars are not drawn


def percent_text(percent: float) -> str:
    """A probability in percent as plain text, 3 significant digits: "99.4%", "0.00586%",
    "<0.001%" below the axis floor, ">99.9%" rather than a rounded "100%" that is not."""
    if percent < PERCENT_FLOOR:
        return f"<{PERCENT_FLOOR:g}%"
    text = np.format_float_positional(percent, precision=3, fractional=False, trim="-")
    return ">99.9%" if text == "100" and percent < 100 else f"{text}%"


def plot_prediction(pixels: torch.Tensor | np.ndarray, probabilities: Sequence[float],
                    true_label: int | None = None, title: str | None = None) -> Figure:
    """The 28×28 input beside every digit's probability as a bar, with a legend for the colours.

    The axis is logarithmic, from 0.001% to 100%, so that a runner-up at 0.1% is as visible
    as the winner at 99.9% (on a linear axis it would be a bar 1/1000 as long: invisible).
    Values are written only for the predicted digit, the true digit and runners-up of 0.01%
    or more; the other bars are tiny."""
    percent = 100 * np.asarray(probabilities, dtype=float)
    predicted = int(percent.argmax())
    wrong = true_label is not None and true_label != predicted
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(7.5, 3.2), layout="constrained",
                                   gridspec_kw={"width_ratios": [1, 2.4]})
    ax1.imshow(to_pixels(pixels), cmap="gray", vmin=0, vmax=1)
    ax1.axis("off")
    label = f"predicted {predicted}" + (f", true {true_label}" if true_label is not None else "")
    ax1.set_title(textwrap.fill(title or label, 26), fontsize=9)  # a long title wraps
    colors = ["tab:gray"] * len(percent)
    colors[predicted] = WRONG if wrong else RIGHT
    legend = {WRONG: "predicted digit (wrong)"} if wrong else {
        RIGHT: "predicted digit" + (" (right)" if true_label is not None else "")}
    if true_label is not None and wrong:
        colors[true_label] = TRUE
        legend[TRUE] = "true digit"
    legend["tab:gray"] = "other digits"
    # each bar runs from the axis floor to its value; one under the floor has no length
    ax2.barh(range(len(percent)), np.clip(percent - PERCENT_FLOOR, 0, None), color=colors,
             left=PERCENT_FLOOR)
    for y, p in enumerate(percent):
        if y in (predicted, true_label) or p >= 0.01:
            inside = p >= 20  # a long bar has room for its value; a short one gets it beside
            ax2.text(p / 1.15 if inside else max(p, PERCENT_FLOOR) * 1.15, y, percent_text(p),
                     va="center", ha="right" if inside else "left", fontsize=8,
                     color="white" if inside else "black")
    ax2.set_xscale("log")
    ax2.xaxis.set_major_formatter(lambda x, _: f"{x:g}%")  # 0.01% rather than 10^-2
    ax2.set(xlim=(PERCENT_FLOOR, 100), yticks=range(len(percent)), ylabel="digit",
            xlabel=f"probability (%, log scale; under {PERCENT_FLOOR:g}% not drawn)",
            title=f"{label}: probability of each digit")
    ax2.invert_yaxis()
    fig.legend(handles=[Patch(color=c, label=text) for c, text in legend.items()],
               loc="outside lower right", ncol=len(legend), fontsize=8, frameon=False)
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


def plot_number_reading(image: Image.Image | np.ndarray, reading: NumberReading,
                        title: str | None = None) -> Figure:
    """The part of the picture around what was found: a blue box round every digit, with what
    was read in it above, and a dashed grey box with "?" round each region refused as not a
    digit. These are notebook 07b's colours for a reading with no written number to check it
    against: green and red are kept for right and wrong, where the written number is known."""
    pixels = np.asarray(image.convert("L") if isinstance(image, Image.Image) else image)
    found = reading.digits + reading.refused
    left, top = 0, 0
    if found:  # crop to the boxes and a margin of half their height: the rest is bare paper
        x0 = min(d.box[0] for d in found)
        y0 = min(d.box[1] for d in found)
        x1 = max(d.box[0] + d.box[2] for d in found)
        y1 = max(d.box[1] + d.box[3] for d in found)
        margin = (y1 - y0) // 2 + 10
        left, top = max(0, x0 - margin), max(0, y0 - margin)
        pixels = pixels[top:y1 + margin, left:x1 + margin]
    scale = 80 * max(1.0, pixels.shape[1] / 800)  # pixels per inch: at most 10 inches wide
    fig, ax = plt.subplots(figsize=(0.6 + pixels.shape[1] / scale,
                                    0.8 + pixels.shape[0] / scale))
    ax.imshow(pixels, cmap="gray", vmin=0, vmax=255 if pixels.max() > 1 else 1)
    for digit in found:
        x, y, w, h = digit.box
        x, y = x - left, y - top
        refused = digit.digit is None
        colour = REFUSED if refused else READ
        ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, lw=1.5, edgecolor=colour,
                                   linestyle="--" if refused else "-"))
        ax.text(x + w / 2, y - 4, "?" if refused else str(digit.digit), ha="center",
                va="bottom", fontsize=11, fontweight="bold", color=colour)
    ax.axis("off")
    ax.set_title(title or f"read: {reading.number}")
    fig.tight_layout()
    return fig


def plot_refusal_curves(curves: dict[str, RefusalCurve], chosen: dict[str, float],
                        title: str = "Refusing non-digits against keeping digits",
                        units: Mapping[str, str] | None = None,
                        colours: Mapping[str, str] | None = None) -> Figure:
    """For each method, every threshold as a point: the share of non-digits refused (x)
    against the share of real digits still read right (y); the chosen threshold a large dot,
    labelled with its value and, where methods score on different scales (a probability, a
    log-sum-exp), its unit (``units[name]``). Each method is drawn in ``colours[name]``, if
    given, else in matplotlib's next colour; its label too. A label goes below its dot, or below
    and to its left for a dot in the right fifth, clear of the curves that fall steeply there,
    tied to its dot by a thin line."""
    fig, ax = plt.subplots(figsize=(7, 4))
    right_fifth = 0.8 * 101  # of the x axis, which runs from 0 to 101
    for name, curve in curves.items():
        line, = ax.plot(100 * curve.nondigits_refused, 100 * curve.digits_right, label=name,
                        color=(colours or {}).get(name))
        if name in chosen:
            at = int((curve.thresholds <= chosen[name]).nonzero().max())
            x, y = 100 * float(curve.nondigits_refused[at]), 100 * float(curve.digits_right[at])
            ax.plot(x, y, "o", ms=9, color=line.get_color(), markeredgecolor="black")
            unit = (units or {}).get(name)
            near_edge = x > right_fifth
            ax.annotate(f"threshold {chosen[name]:.3g}" + (f"\n({unit})" if unit else ""), (x, y),
                        xytext=(-30, -60) if near_edge else (0, -34),  # from the dot, in points
                        textcoords="offset points", fontsize=8, color=line.get_color(),
                        ha="right" if near_edge else "center",
                        # a label set off to the left is tied to its dot by a thin line
                        arrowprops={"arrowstyle": "-", "color": line.get_color(), "lw": 0.8,
                                    "shrinkB": 6} if near_edge else None)
    ax.set(xlabel="non-digits refused (%)", ylabel="real digits accepted and right (%)",
           title=title, xlim=(0, 101))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def plot_refusal_zoom(ax: Axes, curves: Mapping[str, RefusalCurve], chosen: Mapping[str, float],
                      budget: float, xlim: tuple[float, float],
                      colours: Mapping[str, str] | None = None) -> Axes:
    """Draw on ``ax`` the refusal curves zoomed on the digits kept: every threshold tried a dot
    (a straight stretch with no dots is a jump between two thresholds, not measured points),
    each method's budget (its share of digits right with no threshold, less ``budget``) a
    dashed line in its colour, and its chosen threshold a large dot. The y axis runs from just
    below the lowest budget to just above the highest share with no threshold."""
    lowest, highest = [], []
    for name, curve in curves.items():
        refused, right = 100 * curve.nondigits_refused, 100 * curve.digits_right
        colour = (colours or {}).get(name)
        line, = ax.plot(refused, right, ".-", ms=3, lw=0.8, color=colour, label=name)
        floor = float(right[0]) - 100 * budget
        ax.axhline(floor, color=line.get_color(), ls="--", lw=1)
        at = int((curve.thresholds <= chosen[name]).nonzero().max())
        ax.plot(refused[at], right[at], "o", ms=9, color=line.get_color(), markeredgecolor="black")
        lowest.append(floor)
        highest.append(float(right[0]))
    ax.set(xlim=xlim, ylim=(min(lowest) - 0.3, max(highest) + 0.1),
           xlabel="non-digits refused (%)", ylabel="digits accepted and right (%)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=7)
    return ax


def plot_reliability(diagrams: dict[str, Reliability],
                     title: str = "Reliability: how sure against how often right") -> Figure:
    """One reliability diagram per entry: bars of accuracy per confidence bin against the
    diagonal of perfect calibration, with the expected calibration error in the title and the
    number of images of each bin written at the foot of its bar."""
    fig, axes = plt.subplots(1, len(diagrams), figsize=(4.2 * len(diagrams), 3.8),
                             squeeze=False)
    for ax, (name, diagram) in zip(axes.flat, diagrams.items(), strict=True):
        width = float(diagram.edges[1] - diagram.edges[0])
        centres = (diagram.edges[:-1] + width / 2).numpy()
        used = diagram.count > 0
        ax.bar(centres[used], 100 * diagram.accuracy[used].numpy(), width=width * 0.9,
               color=TRUE, alpha=0.7, label="accuracy in the bin")
        ax.plot([0, 1], [0, 100], "k--", lw=1, label="perfect calibration")
        ax.plot(diagram.confidence[used].numpy(), 100 * diagram.accuracy[used].numpy(), "o",
                color="black", ms=3, label="mean confidence of the bin")
        for x, count in zip(centres[used], diagram.count[used].tolist(), strict=True):
            ax.text(x, 3, f"{int(count):,}", rotation=90, ha="center", va="bottom", fontsize=6)
        ax.set(xlabel="confidence (largest probability)", ylabel="accuracy (%)",
               title=f"{name}\nECE {100 * diagram.expected_calibration_error:.2f}%",
               xlim=(0, 1), ylim=(0, 101))
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
