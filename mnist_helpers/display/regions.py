"""Pointing at a detail of a figure: a box drawn round a region of a picture
(:func:`mark_region`) and the region itself, enlarged, in an axes of its own
(:func:`show_region`). ``display.plots`` offers both with its other figures."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle


def _bounds(part: slice, length: int | None = None) -> tuple[int, int]:
    """A slice of pixels as (first, one past the last); ``length`` (the image's size along that
    axis) lets it leave out its start or stop, or count from the end."""
    if not isinstance(part, slice) or part.step not in (None, 1):
        raise ValueError(f"a region is a slice of whole pixels, step 1, got {part!r}")
    if length is None:
        if not (isinstance(part.start, int) and isinstance(part.stop, int)
                and 0 <= part.start < part.stop):
            raise ValueError(f"give the region's first pixel and the one after its last, got "
                             f"{part!r}")
        return part.start, part.stop
    start, stop, _ = part.indices(length)
    if start >= stop:
        raise ValueError(f"the region {part!r} holds no pixel of an image {length} pixels long")
    return start, stop


def mark_region(ax: Axes, rows: slice, cols: slice, *, color: str = "tab:orange",
                linewidth: float = 1.5) -> Rectangle:
    """Outline the pixels ``rows`` × ``cols`` of the image ``imshow`` drew on ``ax`` (pixel k
    spans k − 0.5 to k + 0.5), to say where a zoomed copy of them comes from."""
    top, bottom = _bounds(rows)
    left, right = _bounds(cols)
    outline = Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False,
                        edgecolor=color, linewidth=linewidth)
    ax.add_patch(outline)
    return outline


def show_region(ax: Axes, image: np.ndarray, rows: slice, cols: slice, *,
                source: Axes | None = None, color: str = "tab:orange", title: str | None = None,
                **imshow_options) -> AxesImage:
    """``image[rows, cols]`` drawn on ``ax`` pixel for pixel (each a square, not smoothed),
    its axes numbered in the whole image's pixels, framed in ``color``: a detail too small to
    see at a figure's size, enlarged. With ``source``, the axes showing the whole image, the
    region is outlined there in the same colour (:func:`mark_region`). Other keywords go to
    ``imshow`` (``cmap``, ``vmin``, ``vmax``); an image of shape (h, w, 3) is shown in colour."""
    pixels = np.asarray(image)
    top, bottom = _bounds(rows, pixels.shape[0])
    left, right = _bounds(cols, pixels.shape[1])
    shown = ax.imshow(pixels[top:bottom, left:right],
                      **{"interpolation": "nearest", **imshow_options},
                      extent=(left - 0.5, right - 0.5, bottom - 0.5, top - 0.5))
    ax.set_xticks([left, right - 1])
    ax.set_yticks([top, bottom - 1])
    ax.tick_params(labelsize=7, length=2)
    for spine in ax.spines.values():
        spine.set(color=color, linewidth=2)
    if title is not None:
        ax.set_title(title, fontsize=8)
    if source is not None:
        mark_region(source, slice(top, bottom), slice(left, right), color=color)
    return shown
