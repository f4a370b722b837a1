"""Draw with the mouse and watch the model read it: a small canvas widget (anywidget) whose
strokes go through the same preprocessing as any image of your own."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import anywidget
import ipywidgets as widgets
import numpy as np
import traitlets
from PIL import Image, ImageDraw
from torch import nn

from ...errors import ImageError
from ...images import rasterize_strokes
from ...number_reading import NumberReading, read_number
from ...predict import Prediction, Refusal, predict_image
from .common import Displayable, digit_png, html_text, probability_bars_html, report_errors


class SketchPad(anywidget.AnyWidget):
    """An HTML canvas to draw on with the mouse, a pen or a finger (``sketchpad.js``). The
    drawing reaches Python as ``strokes``: a list of strokes, each a list of ``[x, y]``."""

    _esm = Path(__file__).with_name("sketchpad.js")
    size = traitlets.Int(280).tag(sync=True)  # height (and width, unless ``width`` is set)
    width = traitlets.Int(0).tag(sync=True)
    line_width = traitlets.Float(18.0).tag(sync=True)
    strokes = traitlets.List(traitlets.List(traitlets.List(traitlets.Float()))).tag(sync=True)


class DrawDigit(Displayable):
    """Draw a digit with the mouse and watch the prediction follow the pen.

    The drawing goes through :func:`~mnist_helpers.preprocess.preprocess_image`, the same steps
    as any image of your own (dark ink on light paper, cropped, fitted into 20×20, centred by
    mass); the 28×28 image the model sees is shown beside the probabilities.
    """

    def __init__(self, model: nn.Module, *, refusal: Refusal | None = None, size: int = 280,
                 line_width: float = 18.0) -> None:
        self.model = model
        self.refusal = refusal
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
        on dark); a blank one is refused ("not a digit: no ink found")."""
        return predict_image(self.model, np.asarray(pixels, dtype=np.float64), "canvas",
                             self.refusal)

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
        if result is not None and result.digit is None:
            reason = result.reason or "not a digit"  # a refusal always has a reason
            self.prediction.value = html_text(reason.capitalize(), "mnist-draw-text",
                                              font_size="16px", font_weight="bold")
            self.bars.value = probability_bars_html(result.probabilities or [0.0] * 10)
            self.seen.value = digit_png(result.pixels)
        elif result is None:
            self.prediction.value = html_text("Draw a digit in the box.", "mnist-draw-text",
                                              font_size="16px")
            self.bars.value = probability_bars_html([0.0] * 10)
            self.seen.value = digit_png(np.zeros((28, 28)))
        else:
            self.prediction.value = html_text(
                f"Prediction: {result.digit} ({100 * result.confidence:.1f}%)",
                "mnist-draw-text", font_size="16px", font_weight="bold")
            self.bars.value = probability_bars_html(result.probabilities or [0.0] * 10)
            self.seen.value = digit_png(result.pixels)
        return result

    def clear(self) -> None:
        """Wipe the canvas (the Clear button)."""
        self.pad.strokes = []
        self.update()


class DrawNumber(Displayable):
    """Write a whole number on a wide canvas and watch it being read, digit by digit: every
    digit found gets a box (green with the digit read, red when it is refused as not a
    digit), and the 28×28 image of each digit is shown."""

    def __init__(self, model: nn.Module, *, refusal: Refusal | None = None,
                 width: int = 640, height: int = 200, line_width: float = 14.0) -> None:
        self.model, self.refusal = model, refusal
        self.last: NumberReading | None = None
        self.pad = SketchPad(size=height, width=width, line_width=line_width)
        self.clear_button = widgets.Button(description="Clear", icon="eraser")
        self.clear_button.add_class("mnist-number-clear")
        self.result = widgets.HTML()
        self.result.add_class("mnist-number-result")
        self.boxes = widgets.Image(format="png", layout=widgets.Layout(width=f"{width}px"))
        self.digits = widgets.HBox()
        self.messages = widgets.Output()
        self.clear_button.on_click(report_errors(self.messages, "Clear")(lambda _b: self.clear()))
        self.pad.observe(report_errors(self.messages, "Reading")(lambda _c: self.update()),
                         names="strokes")
        self.widget = widgets.VBox([self.pad, self.clear_button, self.result, self.boxes,
                                    self.digits, self.messages])
        self.widget.add_class("mnist-number")
        self.update()

    def read_strokes(self, strokes: Sequence[Sequence[Sequence[float]]]) -> NumberReading:
        """Read the number drawn as ``strokes`` (the canvas's format)."""
        pixels = rasterize_strokes(strokes, (self.pad.width, self.pad.size), self.pad.line_width)
        return read_number(self.model, pixels, "canvas", self.refusal)

    def update(self) -> NumberReading | None:
        """Read what is on the canvas now and show it; ``None`` while it is blank."""
        strokes = self.pad.strokes
        reading = self.read_strokes(strokes) if strokes else None
        self.last = reading
        if reading is None:
            self.result.value = html_text("Write a number in the box.", "mnist-number-text",
                                          font_size="16px")
            self.boxes.value, self.digits.children = b"", ()
            return None
        found = reading.number if reading.number is not None else reading.reason
        refused = f" ({len(reading.refused)} region(s) refused)" if reading.refused else ""
        self.result.value = html_text(f"Number: {found}{refused}", "mnist-number-text",
                                      font_size="16px", font_weight="bold")
        self.boxes.value = _boxes_png(rasterize_strokes(strokes, (self.pad.width, self.pad.size),
                                                        self.pad.line_width), reading)
        self.digits.children = tuple(
            widgets.VBox([widgets.Image(value=digit_png(d.pixels, scale=2), format="png"),
                          widgets.HTML(f"<center>{'?' if d.digit is None else d.digit}"
                                       "</center>")])
            for d in sorted(reading.digits + reading.refused, key=lambda d: d.box[0]))
        return reading

    def clear(self) -> None:
        """Wipe the canvas (the Clear button)."""
        self.pad.strokes = []
        self.update()


def _boxes_png(pixels: np.ndarray, reading: NumberReading) -> bytes:
    """The drawing with a box round every region read (green) or refused (red)."""
    image = Image.fromarray((pixels * 255).astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for digit in reading.digits + reading.refused:
        x, y, w, h = digit.box
        color = (214, 39, 40) if digit.digit is None else (44, 160, 44)
        draw.rectangle((x, y, x + w, y + h), outline=color, width=3)
        draw.text((x + 3, max(0, y - 14)), "?" if digit.digit is None else str(digit.digit),
                  fill=color)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
