"""What the widgets share: errors shown where the user looks, PNG rendering, probability bars."""

from __future__ import annotations

import functools
import html
import io
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import ipywidgets as widgets
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from ..plots import RIGHT, TRUE, WRONG, to_pixels

Params = ParamSpec("Params")
Result = TypeVar("Result")
_HEX = {RIGHT: "#2ca02c", WRONG: "#d62728", TRUE: "#1f77b4"}


def format_error(what: str, exc: BaseException, frames: int = 3) -> str:
    """A short report of ``exc``: what failed, the exception, and its last few frames."""
    lines = [f"{what} failed: {type(exc).__name__}: {exc}"]
    for frame in traceback.extract_tb(exc.__traceback__)[-frames:]:
        lines.append(f"  {Path(frame.filename).name}:{frame.lineno} in {frame.name}")
    return "\n".join(lines) + "\n"


def show_error(output: widgets.Output, what: str, exc: BaseException) -> None:
    """Write :func:`format_error`'s report to ``output`` (as stderr: shown in red)."""
    output.append_stderr(format_error(what, exc))


def report_errors(output: widgets.Output, what: str
                  ) -> Callable[[Callable[Params, Result]], Callable[Params, Result | None]]:
    """Decorator for widget callbacks: an exception is shown in ``output`` instead of being
    lost in the kernel's log, and the callback returns ``None``."""

    def decorate(callback: Callable[Params, Result]) -> Callable[Params, Result | None]:
        @functools.wraps(callback)
        def guarded(*args: Params.args, **kwargs: Params.kwargs) -> Result | None:
            try:
                return callback(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every failure is shown to the user
                show_error(output, what, exc)
                return None

        return guarded

    return decorate


def figure_png(fig: Figure) -> bytes:
    """Render a matplotlib ``Figure`` (made without pyplot) to PNG bytes."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def digit_png(pixels: np.ndarray | torch.Tensor, scale: int = 5) -> bytes:
    """A 28×28 digit (a normalised tensor, or an array in 0..1) as a PNG, enlarged ``scale``×
    with square pixels, so the image shows exactly what the model gets."""
    image = Image.fromarray((to_pixels(pixels) * 255).astype(np.uint8), mode="L")
    image = image.resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def probability_bars_html(probabilities: Sequence[float], true_label: int | None = None) -> str:
    """The ten class probabilities as horizontal HTML bars (cheap enough to redraw on every
    pen stroke): the prediction green (red when it is wrong), the true class blue."""
    probs = [float(p) for p in probabilities]
    predicted = int(np.argmax(probs))
    rows = []
    for digit, p in enumerate(probs):
        if digit == predicted:
            color = _HEX[RIGHT if true_label in (None, predicted) else WRONG]
        elif digit == true_label:
            color = _HEX[TRUE]
        else:
            color = "#9e9e9e"
        weight = "bold" if digit == predicted else "normal"
        rows.append(
            f'<tr><td style="width:1.5em;font-weight:{weight}">{digit}</td>'
            f'<td style="width:220px"><div style="background:{color};height:12px;'
            f'width:{max(100 * p, 0.5):.1f}%"></div></td>'
            f'<td style="text-align:right;width:4.5em">{100 * p:.1f}%</td></tr>')
    return ('<table class="mnist-probabilities" style="border-collapse:collapse;'
            'font-size:12px;line-height:14px">' + "".join(rows) + "</table>")


def html_text(text: str, css_class: str, **style: str) -> str:
    """``text``, escaped, in a ``div`` with a CSS class (tests find it by) and inline style."""
    styles = ";".join(f"{k.replace('_', '-')}:{v}" for k, v in style.items())
    return f'<div class="{css_class}" style="{styles}">{html.escape(text)}</div>'


class Displayable:
    """Shows ``self.widget`` when the object is the last expression of a cell."""

    widget: widgets.Widget

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
