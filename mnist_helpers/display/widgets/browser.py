"""The prediction browser: the test images one at a time, with the model's prediction and
every class's probability; only the mistakes, or only one true digit, if you like."""

from __future__ import annotations

import random
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch
from torch import nn

from ...data import MNISTTensors, TensorBatches
from ...evaluate import predict_all
from .common import Displayable, digit_png, html_text, probability_bars_html, report_errors


@dataclass
class BrowsedSample:
    """The sample a :class:`PredictionBrowser` shows."""

    index: int  # position in the dataset
    true_label: int
    predicted: int
    probabilities: list[float]

    @property
    def correct(self) -> bool:
        """Whether the prediction is right."""
        return self.true_label == self.predicted


#: The class dropdown's value for "all digits" (a dropdown cannot show ``None`` as chosen).
ALL_DIGITS = -1


class PredictionBrowser(Displayable):
    """Step through a dataset's images with the model's prediction and all ten probabilities;
    show only the mistakes, or only one true digit. ``images`` are uint8 pixels N×28×28 (as
    :class:`~mnist_helpers.data.MNISTTensors` keeps them) or normalised N×1×28×28 floats."""

    def __init__(self, images: torch.Tensor, probabilities: torch.Tensor, labels: torch.Tensor,
                 *, seed: int = 0, name: str = "test image") -> None:
        if not len(images) == len(probabilities) == len(labels):
            raise ValueError(f"images ({len(images)}), probabilities ({len(probabilities)}) "
                             f"and labels ({len(labels)}) must have the same length")
        self.images = images.detach().cpu()
        self.probabilities = probabilities.detach().cpu().float()
        self.labels = labels.detach().cpu().long()
        self.predicted = self.probabilities.argmax(1)
        self.name = name
        self.mistakes_only = False
        self.true_class: int | None = None
        self.indices: list[int] = list(range(len(self.labels)))
        self.position = 0
        self._rng = random.Random(seed)
        self._syncing = False

        self.random_button = widgets.Button(description="Random", icon="random")
        self.previous_button = widgets.Button(description="Previous", icon="arrow-left")
        self.next_button = widgets.Button(description="Next", icon="arrow-right")
        self.mistakes_box = widgets.Checkbox(value=False, description="mistakes only",
                                             indent=False, layout=widgets.Layout(width="130px"))
        self.class_dropdown = widgets.Dropdown(
            options=[("all digits", ALL_DIGITS)] + [(f"true {d}", d) for d in range(10)],
            value=ALL_DIGITS, description="show", layout=widgets.Layout(width="190px"),
            style={"description_width": "40px"})
        self.position_label = widgets.HTML()
        self.title = widgets.HTML()
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="140px",
                                                                       height="140px"))
        self.bars = widgets.HTML()
        self.messages = widgets.Output()
        self.next_button.add_class("mnist-browser-next")
        self.image.add_class("mnist-browser-image")

        for button, action in ((self.random_button, self.random),
                               (self.previous_button, self.previous),
                               (self.next_button, self.next)):
            button.on_click(report_errors(self.messages, button.description)(
                lambda _b, action=action: action()))
        on_filter = report_errors(self.messages, "Filter")(self._filter_widgets_changed)
        self.mistakes_box.observe(on_filter, names="value")
        self.class_dropdown.observe(on_filter, names="value")

        nav = widgets.HBox([self.random_button, self.previous_button, self.next_button,
                            self.mistakes_box, self.class_dropdown])
        shown = widgets.HBox([self.image, self.bars],
                             layout=widgets.Layout(align_items="center"))
        self.widget = widgets.VBox([nav, self.position_label, self.title, shown, self.messages])
        self.widget.add_class("mnist-browser")
        self.show()

    @classmethod
    def from_model(cls, model: nn.Module, data: MNISTTensors, *, batch_size: int = 1000,
                   seed: int = 0, name: str = "test image") -> PredictionBrowser:
        """Predict every image of ``data`` with ``model`` (``predict_all``) and browse."""
        probabilities, labels = predict_all(model, TensorBatches(data, batch_size))
        return cls(data.pixels, probabilities, labels, seed=seed, name=name)

    # ---- what the buttons do ----------------------------------------------------------------

    @property
    def current(self) -> BrowsedSample | None:
        """The sample shown, or ``None`` when no image matches the filter."""
        if not self.indices:
            return None
        index = self.indices[self.position]
        return BrowsedSample(index=index, true_label=int(self.labels[index]),
                             predicted=int(self.predicted[index]),
                             probabilities=self.probabilities[index].tolist())

    def next(self) -> BrowsedSample | None:
        """Show the next matching image (after the last comes the first)."""
        return self._move(self.position + 1)

    def previous(self) -> BrowsedSample | None:
        """Show the previous matching image (before the first comes the last)."""
        return self._move(self.position - 1)

    def random(self) -> BrowsedSample | None:
        """Show a random matching image."""
        return self._move(self._rng.randrange(len(self.indices)) if self.indices else 0)

    def filter_changed(self, mistakes_only: bool = False, true_class: int | None = None
                       ) -> int:
        """Show only the mistakes and/or only one true digit (``None``: all); returns how many
        images match, and shows the first of them."""
        if true_class is not None and not 0 <= int(true_class) <= 9:
            raise ValueError(f"true_class must be 0..9 or None, got {true_class!r}")
        self.mistakes_only = bool(mistakes_only)
        self.true_class = None if true_class is None else int(true_class)
        keep = torch.ones(len(self.labels), dtype=torch.bool)
        if self.mistakes_only:
            keep &= self.predicted != self.labels
        if self.true_class is not None:
            keep &= self.labels == self.true_class
        self.indices = keep.nonzero().flatten().tolist()
        self.position = 0
        self._syncing = True
        try:  # keep the widgets in step when called from code
            self.mistakes_box.value = self.mistakes_only
            self.class_dropdown.value = ALL_DIGITS if self.true_class is None else self.true_class
        finally:
            self._syncing = False
        self.show()
        return len(self.indices)

    def show(self) -> None:
        """Draw the current sample (image, labels, probability bars)."""
        sample = self.current
        wanted = ("mistakes" if self.mistakes_only else "images") + (
            f" of true digit {self.true_class}" if self.true_class is not None else "")
        if sample is None:
            self.position_label.value = html_text(f"No {wanted} to show.",
                                                   "mnist-browser-position")
            self.title.value = ""
            self.image.value = digit_png(np.zeros((28, 28)))
            self.bars.value = ""
            return
        accuracy = float((self.predicted == self.labels).float().mean())
        self.position_label.value = html_text(
            f"{self.position + 1:,} of {len(self.indices):,} {wanted} "
            f"(model accuracy on all {len(self.labels):,}: {100 * accuracy:.2f}%)",
            "mnist-browser-position", color="#555")
        verdict = "right" if sample.correct else "wrong"
        self.title.value = html_text(
            f"{self.name} #{sample.index}: true {sample.true_label}, predicted "
            f"{sample.predicted} ({100 * max(sample.probabilities):.1f}%) — {verdict}",
            "mnist-browser-title", font_weight="bold",
            color="#2ca02c" if sample.correct else "#d62728")
        self.image.value = digit_png(self.images[sample.index])
        self.bars.value = probability_bars_html(sample.probabilities, sample.true_label)

    # ---- internals --------------------------------------------------------------------------

    def _move(self, position: int) -> BrowsedSample | None:
        if self.indices:
            self.position = position % len(self.indices)
        self.show()
        return self.current

    def _filter_widgets_changed(self, _change: dict) -> None:
        if not self._syncing:
            chosen = self.class_dropdown.value
            self.filter_changed(self.mistakes_box.value, None if chosen == ALL_DIGITS else chosen)
