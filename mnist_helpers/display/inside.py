"""Looking inside a trained network: what its first layer learned, what each layer makes of
one digit, which pixels decided its answer, which training images it finds most alike, and
how far its probabilities can be trusted.

Attributions come from Captum, PyTorch's library for explaining models: integrated
gradients (how much each pixel contributed, summed along a path from a baseline image) and
occlusion (how much the answer's score drops when a square of the image is replaced by the
baseline). The reliability diagram of notebook 05b is drawn here too.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.artist import Artist
from matplotlib.figure import Figure
from torch import nn

from ..calibration import Reliability
from ..config import BACKGROUND
from ..device import model_device
from ..evaluate import evaluation_mode
from ..models import crop_border
from .plots import to_pixels


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The network's first convolution (the one that looks at pixels)."""
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


def plot_filters(model: nn.Module, title: str = "The first layer's filters") -> Figure:
    """Every filter of the first convolution as a small image: red weights make the output
    grow where the ink is, blue ones shrink it."""
    weights = first_conv(model).weight.detach().cpu()[:, 0]
    n = len(weights)
    columns = min(n, 8)
    rows = -(-n // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.0 + 0.9, rows * 1.25 + 0.5),
                             squeeze=False)
    limit = float(weights.abs().max())
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            shown = ax.imshow(weights[i].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(str(i), fontsize=8, pad=2)
    fig.suptitle(f"{title} ({n} filters of {weights.shape[1]}×{weights.shape[2]})")
    fig.tight_layout(rect=(0, 0, 0.9, 1), h_pad=0.8)
    fig.colorbar(shown, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02, label="weight")
    return fig


def feature_maps(model: nn.Module, image: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """What each stage of ``model.features`` outputs for one normalised 1×1×28×28 image
    (the stages end where the maps get smaller, or at the end): a list of (name, C×H×W)."""
    features = getattr(model, "features", None)
    if not isinstance(features, nn.Sequential | nn.ModuleList):
        raise TypeError(f"model must hold its layers in an nn.Sequential named features, as "
                        f"this package's CNNs do (a {type(model).__name__} does not)")
    maps, x = [], image.to(model_device(model))
    # tiny_cnn and deep_cnn crop their input's border, as their forward does
    x = crop_border(x, getattr(model, "border", 0))
    with evaluation_mode(model):
        layers = list(features)
        for i, layer in enumerate(layers):
            x = layer(x)
            last = i == len(layers) - 1
            if last or isinstance(layer, nn.MaxPool2d) or (
                    isinstance(layers[i + 1], nn.Conv2d) and x.shape[-1] != image.shape[-1]):
                maps.append((f"after layer {i} ({type(layer).__name__})", x[0].cpu()))
    return maps


def plot_feature_maps(maps: list[tuple[str, torch.Tensor]], image: torch.Tensor,
                      channels: int = 8, title: str = "What each stage sees") -> Figure:
    """The input, then the first ``channels`` feature maps of every stage (brighter: a
    stronger response; each map on its own scale, from its smallest to its largest value)."""
    fig, axes = plt.subplots(len(maps) + 1, channels, figsize=(channels * 1.0,
                                                              (len(maps) + 1) * 1.15 + 0.7))
    for ax in axes.flat:
        ax.axis("off")
    axes[0, 0].imshow(to_pixels(image[0]), cmap="gray", vmin=0, vmax=1)
    axes[0, 0].set_title("input", fontsize=8)
    for row, (_, stage) in enumerate(maps, start=1):
        for c in range(min(channels, stage.shape[0])):
            axes[row, c].imshow(stage[c].numpy(), cmap="magma")
    # Each map gets its own brightness scale, so a weak map looks as bright as a strong one.
    fig.suptitle(f"{title}\n(each map on its own brightness scale: black = its smallest "
                 "value, pale yellow = its largest)", fontsize=10)
    fig.tight_layout()
    # Row labels are placed after the layout: each runs over its row's width, not one map's.
    for row, (name, stage) in enumerate(maps, start=1):
        box = axes[row, 0].get_position()
        fig.text(box.x0, box.y1 + 0.01, f"{name}: {stage.shape[0]}×{stage.shape[1]}×"
                 f"{stage.shape[2]} (maps 0–{min(channels, stage.shape[0]) - 1} of "
                 f"{stage.shape[0]} shown)", fontsize=8, va="bottom")
    return fig


def attributions(model: nn.Module, image: torch.Tensor, target: int, *,
                 baseline: float = BACKGROUND, steps: int = 32, window: int = 4,
                 stride: int = 2) -> dict[str, np.ndarray]:
    """Which pixels made ``model`` give a high score (logit) to ``target`` for one normalised
    1×1×28×28 image, measured against a ``baseline`` image of one value (the default: the
    background, no ink at all), in logits:

    * integrated gradients: the gradient of the score, averaged over ``steps`` images on the
      straight path from the baseline to the image, times (image − baseline) for each pixel;
    * occlusion: every ``window``×``window`` square, ``stride`` pixels apart, is replaced by
      the baseline in turn; a pixel's value is the score's drop, averaged over the squares
      that covered it.

    Where the image equals the baseline (the background, by default), integrated gradients
    give 0; occlusion gives 0 only far from the ink, since a square over paper next to a stroke
    also covers some of the stroke. Either way, what is not there (missing ink) cannot show.
    """
    from captum.attr import IntegratedGradients, Occlusion

    image = image.to(model_device(model))
    with evaluation_mode(model):
        with torch.enable_grad():  # evaluation_mode turns gradients off; IG needs them
            gradients = IntegratedGradients(model).attribute(
                image, baselines=torch.full_like(image, baseline), target=target, n_steps=steps)
        occlusion = Occlusion(model).attribute(image, sliding_window_shapes=(1, window, window),
                                               strides=(1, stride, stride), baselines=baseline,
                                               target=target)
    return {"integrated gradients": gradients[0, 0].detach().cpu().numpy(),
            "occlusion": occlusion[0, 0].detach().cpu().numpy()}


def plot_attributions(image: torch.Tensor, maps: dict[str, np.ndarray], title: str,
                      unit: str = "logit", shared_scale: bool = True) -> Figure:
    """The image, then each attribution map with the digit's outline drawn on it (red: pushed
    the score up, blue: down). With ``shared_scale``, all maps share one symmetric colour scale
    and one bar; without it, each map gets its own scale and bar, for methods whose units differ."""
    fig, axes = plt.subplots(1, len(maps) + 1, figsize=(2.7 * (len(maps) + 1) + 0.8, 3.0))
    pixels = to_pixels(image[0])
    axes[0].imshow(pixels, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("input", fontsize=9)
    # With one scale for every map, equal colours mean equal amounts in every panel.
    shared = max(float(np.abs(values).max()) for values in maps.values()) or 1.0
    for ax, (name, values) in zip(axes[1:], maps.items(), strict=True):
        limit = shared if shared_scale else float(np.abs(values).max()) or 1.0
        shown = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit)
        # The outline (half-ink level) stays visible where the attribution is white (about 0).
        ax.contour(pixels, levels=[0.5], colors="black", linewidths=0.7)
        ax.set_title(name, fontsize=9)
        if not shared_scale:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.03, label=f"attribution ({unit})")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    if shared_scale:
        fig.tight_layout(rect=(0, 0, 0.9, 1))
        fig.colorbar(shown, ax=axes.ravel().tolist(), fraction=0.03, pad=0.02,
                     label=f"attribution ({unit})")
    else:
        fig.tight_layout()
    return fig


def plot_calibration(diagrams: dict[str, Reliability],
                     title: str = "Reliability: how sure against how often right") -> Figure:
    """One reliability diagram per entry: per confidence bin, a bar up to the share right, the
    gap to the bin's mean confidence hatched (red: above it, orange: below it), the diagonal
    of perfect calibration, and the number of predictions in each bin written under its bar."""
    fig, axes = plt.subplots(1, len(diagrams), figsize=(4.3 * len(diagrams), 4.8),
                             squeeze=False, layout="constrained")
    legend: dict[str, Artist] = {}  # one legend under the panels, each entry once
    for ax, (name, diagram) in zip(axes.flat, diagrams.items(), strict=True):
        width = float(diagram.edges[1] - diagram.edges[0])
        left = diagram.edges[:-1].numpy()
        used = (diagram.count > 0).numpy()
        accuracy, confidence = diagram.accuracy.numpy(), diagram.confidence.numpy()
        ax.bar(left[used], accuracy[used], width=width, align="edge", color="tab:blue",
               alpha=0.6, edgecolor="white", label="share right in the bin")
        gap = confidence - accuracy
        # Gaps up (over-sure) and down (under-sure) drawn apart, each with its own legend entry;
        # the gap down is left unfilled, or its colour would mix with the bar's under it.
        up = dict(color="tab:red", alpha=0.35, hatch="//", edgecolor="tab:red",
                  label="over-sure: mean confidence above the bar's top")
        down = dict(facecolor="none", hatch="\\\\", edgecolor="tab:orange", linewidth=1.2,
                    label="under-sure: mean confidence below the bar's top")
        for side, style in ((used & (gap > 0), up), (used & (gap < 0), down)):
            if side.any():
                ax.bar(left[side], gap[side], bottom=accuracy[side], width=width, align="edge",
                       **style)
        ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
        for x, count in zip(left[used] + width / 2, diagram.count[used].tolist(), strict=True):
            ax.text(x, 0.02, f"{int(count):,}", rotation=90, ha="center", va="bottom",
                    fontsize=7)
        ax.set(xlabel="confidence (largest probability)", ylabel="share right",
               title=f"{name}\nECE {100 * diagram.expected_calibration_error:.2f}%",
               xlim=(0, 1), ylim=(0, 1.01))
        handles, labels = ax.get_legend_handles_labels()
        legend.update(zip(labels, handles, strict=True))
    fig.legend(list(legend.values()), list(legend), loc="outside lower center", ncols=2,
               fontsize=8)
    fig.suptitle(title + " (numbers: predictions in each bin)")
    return fig


def embeddings(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
               ) -> torch.Tensor:
    """What the network's last layer sees for every image (its input, one vector per image,
    of unit length), on the CPU."""
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    found: list[torch.Tensor] = []
    hook = last.register_forward_pre_hook(lambda _m, inputs: found.append(inputs[0].cpu()))
    try:
        with evaluation_mode(model):
            for images, _ in batches:
                model(images.to(model_device(model)))
    finally:
        hook.remove()
    return torch.nn.functional.normalize(torch.cat(found), dim=1)


def nearest(queries: torch.Tensor, pool: torch.Tensor, k: int = 6
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """For every query vector, the ``k`` most similar of ``pool`` (cosine similarity):
    (indices, similarities), each queries × k."""
    similarity = queries @ pool.T
    return similarity.topk(k, dim=1).indices, similarity.topk(k, dim=1).values
