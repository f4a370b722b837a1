"""Draw with the mouse and watch the model read it: a small canvas widget (anywidget) whose
strokes go through the same preprocessing as any image of your own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets
from torch import nn

from ...errors import ImageError
from ...images import rasterize_strokes
from ...predict import Prediction, predict_image
from .common import Displayable, digit_png, html_text, probability_bars_html, report_errors


class SketchPad(anywidget.AnyWidget):
    """An HTML canvas to draw on with the mouse, a pen or a finger (``sketchpad.js``). The
    drawing reaches Python as ``strokes``: a list of strokes, each a list of ``[x, y]``."""

    _esm = Path(__file__).with_name("sketchpad.js")
    size = traitlets.Int(280).tag(sync=True)
    line_width = traitlets.Float(18.0).tag(sync=True)
    strokes = traitlets.List(traitlets.List(traitlets.List(traitlets.Float()))).tag(sync=True)


class DrawDigit(Displayable):
    """Draw a digit with the mouse and watch the prediction follow the pen.

    The drawing goes through :func:`~mnist_helpers.preprocess.preprocess_image`, the same steps
    as any image of your own (dark ink on light paper, cropped, fitted into 20×20, centred by
    mass); the 28×28 image the model sees is shown beside the probabilities.
    """

    def __init__(self, model: nn.Module, *, size: int = 280, line_width: float = 18.0) -> None:
        self.model = model
        self.last: Prediction | None = None
        self.pad = SketchPad(size=size, line_width=line_width)
        self.clear_button = widgets.Button(description="Clear", icon="eraser")
        self.clear_button.add_class("mnist-draw-clear")
        self.prediction = widgets.HTML()
        self.prediction.add_class("mnist-draw-prediction")
        self.bars = widgets.HTML()
        self.seen = widgets.Image(format="png", layout=widgets.Layout(width="112px",
                                                                      height="112px"))
        self.messages = widgets.Output()
        self.clear_button.on_click(report_errors(self.messages, "Clear")(lambda _b: self.clear()))
        self.pad.observe(report_errors(self.messages, "Prediction")(lambda _c: self.update()),
                         names="strokes")
        side = widgets.VBox([self.prediction, self.bars,
                             widgets.HTML("<small>what the model sees (28×28):</small>"),
                             self.seen], layout=widgets.Layout(margin="0 0 0 16px"))
        self.widget = widgets.VBox([widgets.HBox([widgets.VBox([self.pad, self.clear_button]),
                                                  side]), self.messages])
        self.widget.add_class("mnist-draw")
        self.update()

    def predict_from_pixels(self, pixels: np.ndarray) -> Prediction:
        """Predict the digit in a grey image (floats 0..1, dark ink on light paper or light
        on dark). Raises :class:`~mnist_helpers.errors.ImageError` when it is blank."""
        return predict_image(self.model, np.asarray(pixels, dtype=np.float64), "canvas")

    def predict_strokes(self, strokes: Sequence[Sequence[Sequence[float]]]) -> Prediction:
        """Predict the digit drawn as ``strokes`` (the canvas's format)."""
        return self.predict_from_pixels(rasterize_strokes(strokes, self.pad.size,
                                                          self.pad.line_width))

    def update(self) -> Prediction | None:
        """Predict what is on the canvas now and show it; ``None`` while it is blank."""
        strokes = self.pad.strokes
        try:
            result = self.predict_strokes(strokes) if strokes else None
        except ImageError:
            result = None
        self.last = result
        if result is None:
            self.prediction.value = html_text("Draw a digit in the box.", "mnist-draw-text",
                                              font_size="16px")
            self.bars.value = probability_bars_html([0.0] * 10)
            self.seen.value = digit_png(np.zeros((28, 28)))
        else:
            self.prediction.value = html_text(
                f"Prediction: {result.digit} ({100 * result.confidence:.1f}%)",
                "mnist-draw-text", font_size="16px", font_weight="bold")
            self.bars.value = probability_bars_html(result.probabilities)
            self.seen.value = digit_png(result.pixels)
        return result

    def clear(self) -> None:
        """Wipe the canvas (the Clear button)."""
        self.pad.strokes = []
        self.update()
