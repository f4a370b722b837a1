"""Images a user hands in: opening any file safely, turning any mode into grey levels, and
drawing pen strokes (the canvas widget's drawings and the project's sample pictures)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from .errors import ImageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
#: Largest image accepted, in pixels (PIL's own decompression-bomb limit is ~89M).
MAX_PIXELS = 50_000_000


def open_image(path: str | os.PathLike, *, decode_size: int = 512) -> Image.Image:
    """Open an image file fully, or raise :class:`ImageError` with a one-line reason.

    A large JPEG is decoded at reduced scale, to at least ``decode_size`` pixels a side.
    """
    if not str(path).strip():
        raise ImageError("the path is empty: name an image file")
    path = Path(path)
    try:
        if not path.exists():
            raise ImageError("no such file", str(path))
        if path.is_dir():
            raise ImageError("is a folder, not an image", str(path))
        if path.stat().st_size == 0:
            raise ImageError("the file is empty", str(path))
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(f"{width}×{height} is too large to be a digit photo "
                                 f"(limit {MAX_PIXELS:,} pixels); resize it first")
            image.seek(0)  # first frame of an animation
            if image.format == "JPEG" and min(width, height) > decode_size:
                # Let the JPEG decoder scale down (1/2 .. 1/8) while decoding: a phone photo
                # then decodes in a fraction of the time, and we need far fewer pixels.
                image.draft("L" if image.mode in ("L", "RGB") else None,
                            (decode_size, decode_size))
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"declared size is too large ({exc})", str(path)) from exc
    except UnidentifiedImageError:
        raise ImageError("not an image file PIL can read", str(path)) from None
    except PermissionError:
        raise ImageError("permission denied (cannot read the file)", str(path)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"the image data is damaged or truncated ({exc})", str(path)) from exc
    return image


def to_grayscale(image: Image.Image) -> np.ndarray:
    """Upright (by its EXIF orientation) grey levels as floats in 0..1, from any mode:
    transparency is laid over white paper; 16-bit, 32-bit and floating-point images are
    scaled by their own range."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.nan_to_num(np.asarray(image, dtype=np.float64), nan=0.0, posinf=0.0,
                               neginf=0.0)
        low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
        if low >= 0 and high <= 1.0 and image.mode == "F":
            return values  # already 0..1
        top = next((t for t in (255.0, 65535.0) if low >= 0 and high <= t), None)
        if top is None:  # any other range: stretch it
            return (values - low) / (high - low) if high > low else np.zeros_like(values)
        return values / top
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def draw_strokes(image: Image.Image, strokes: Sequence[Sequence[Sequence[float]]], *,
                 width: float, ink: int) -> None:
    """Draw polylines onto ``image`` like a round pen: lines ``width`` wide, round joints,
    caps and single dots."""
    draw = ImageDraw.Draw(image)
    radius = width / 2
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=ink, width=max(1, round(width)), joint="curve")
        for x, y in points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=ink)


def rasterize_strokes(strokes: Sequence[Sequence[Sequence[float]]], size: int | tuple[int, int]
                      = 280, line_width: float = 18.0) -> np.ndarray:
    """Draw ``strokes`` as a canvas shows them: black round-capped lines on white paper.
    Returns a float array in 0..1 (1 = paper), ``size`` square or (width, height)."""
    width, height = (size, size) if isinstance(size, int) else size
    image = Image.new("L", (width, height), 255)
    draw_strokes(image, strokes, width=line_width, ink=0)
    return np.asarray(image, dtype=np.float64) / 255.0
