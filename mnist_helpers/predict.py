"""Predicting the digit in your own images, prepared the way MNIST's digits were made.

MNIST digits are white ink on black, the ink scaled to fit a 20×20 box (aspect kept) and
placed so its centre of mass sits at the centre of a 28×28 field. A photo or drawing is
dark ink on light paper, any size, anywhere on the page. :func:`preprocess_image` closes
that gap step by step and returns every intermediate image, so notebook 05 can show what
the model really sees.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import nn

from .data import MNIST_MEAN, MNIST_STD

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
#: Largest image accepted, in pixels (PIL's own decompression-bomb limit is ~89M).
MAX_PIXELS = 50_000_000
#: Images are shrunk to at most this many pixels a side before the ink is found.
WORK_SIZE = 256


class ImageError(ValueError):
    """An image could not be used; the message says why, in one line."""


@dataclass
class Preprocessed:
    """The model's input (1×1×28×28, normalised) and the steps that produced it."""

    tensor: torch.Tensor
    steps: dict[str, np.ndarray] = field(default_factory=dict)  # name -> float image 0..1
    inverted: bool = False


@dataclass
class Prediction:
    """A predicted digit, the ten class probabilities, and the 28×28 input the model saw."""

    path: str
    label: int
    probabilities: list[float]
    image: np.ndarray  # 28×28, 0..1, white ink on black

    def to_json(self) -> dict:
        """``{"path", "prediction", "probabilities"}`` as the predict command prints it."""
        return {"path": self.path, "prediction": self.label,
                "probabilities": [round(p, 6) for p in self.probabilities]}


def open_image(path: str | os.PathLike) -> Image.Image:
    """Open an image file fully, or raise :class:`ImageError` with a one-line reason."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(
                    f"{path}: {width}×{height} is too large to be a digit photo "
                    f"(limit {MAX_PIXELS:,} pixels); resize it first"
                )
            image.seek(0)  # first frame of an animation
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path}: declared size is too large ({exc})") from exc
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image file PIL can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: the image data is damaged or truncated ({exc})") from exc
    return image


def to_grayscale(image: Image.Image) -> np.ndarray:
    """EXIF-upright grayscale as floats in 0..1; transparency is composited onto white."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else 255.0
        return np.clip(values / top, 0.0, 1.0)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return np.asarray(image.convert("L"), dtype=np.float64) / 255.0


def _otsu_threshold(values: np.ndarray) -> float:
    hist, edges = np.histogram(values, bins=64, range=(0.0, 1.0))
    centers = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(hist)
    total = weight[-1]
    mean = np.cumsum(hist * centers)
    between = (mean[-1] * weight - mean * total) ** 2 / np.maximum(weight * (total - weight), 1)
    return float(centers[int(np.argmax(between))])


def preprocess_image(image: Image.Image | np.ndarray) -> Preprocessed:
    """MNIST's steps on any image: upright, gray, ink made white on black, background removed,
    cropped to the ink, fitted into 20×20, centred by mass in 28×28, normalised.

    Raises :class:`ImageError` ("no digit found") when there is no ink to speak of.
    """
    steps: dict[str, np.ndarray] = {}
    gray = to_grayscale(image) if isinstance(image, Image.Image) else np.asarray(image, float)
    if gray.ndim != 2 or min(gray.shape) < 1:
        raise ImageError("the image has no pixels")
    steps["grayscale"] = gray
    # Work on a small copy: a phone photo has far more pixels than a digit needs.
    scale = WORK_SIZE / max(gray.shape)
    if scale < 1:
        small = Image.fromarray((gray * 255).astype(np.uint8)).resize(
            (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale))),
            Image.Resampling.BOX,
        )
        gray = np.asarray(small, dtype=np.float64) / 255.0
    # Polarity from the image itself: the border is background, whatever its brightness.
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    inverted = bool(np.median(border) > 0.5)
    ink = 1.0 - gray if inverted else gray.copy()
    steps["ink_white"] = ink
    # Background: subtract the typical background level, then keep what stands out (Otsu).
    ink = np.clip(ink - np.median(border if not inverted else 1.0 - border), 0.0, 1.0)
    contrast = float(ink.max())
    if contrast < 0.15:
        raise ImageError("no digit found (the image is blank or has too little contrast)")
    ink = ink / contrast
    threshold = _otsu_threshold(ink)
    ink = np.where(ink >= threshold * 0.5, ink, 0.0)
    steps["background_removed"] = ink
    rows, cols = np.nonzero(ink > threshold)
    if rows.size == 0:
        raise ImageError("no digit found")
    ink = ink[rows.min(): rows.max() + 1, cols.min(): cols.max() + 1]
    steps["cropped"] = ink
    # Fit into 20×20 keeping the aspect ratio, as MNIST did.
    h, w = ink.shape
    factor = 20.0 / max(h, w)
    new_w, new_h = max(1, round(w * factor)), max(1, round(h * factor))
    fitted = np.asarray(
        Image.fromarray((ink * 255).astype(np.uint8)).resize((new_w, new_h),
                                                             Image.Resampling.LANCZOS),
        dtype=np.float64,
    ) / 255.0
    canvas = np.zeros((28, 28))
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    canvas[top: top + new_h, left: left + new_w] = fitted
    steps["fitted_20x20"] = canvas.copy()
    # Centre of mass to the centre of the 28×28 field, where MNIST puts it: pixel (14, 14)
    # (the training digits' centres of mass average 14.0 ± 0.3 in both axes).
    mass = canvas.sum()
    yy, xx = np.indices(canvas.shape)
    dy = int(round(14.0 - (yy * canvas).sum() / mass))
    dx = int(round(14.0 - (xx * canvas).sum() / mass))
    canvas = np.roll(canvas, (dy, dx), axis=(0, 1))
    steps["centred_28x28"] = canvas
    tensor = torch.from_numpy(((canvas - MNIST_MEAN) / MNIST_STD).astype(np.float32))
    return Preprocessed(tensor=tensor.view(1, 1, 28, 28), steps=steps, inverted=inverted)


def expand_paths(paths: list[str | os.PathLike]) -> list[Path]:
    """Files as given, folders replaced by the images directly in them (sorted)."""
    expanded: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            expanded.extend(sorted(p for p in path.iterdir()
                                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        else:
            expanded.append(path)
    return expanded


@torch.no_grad()
def predict_tensor(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """Class probabilities (N×10) for a batch of normalised N×1×28×28 images."""
    device = next(model.parameters()).device
    model.eval()
    return torch.softmax(model(batch.to(device)), dim=1).cpu()


def predict_image(model: nn.Module, path: str | os.PathLike) -> Prediction:
    """Open, preprocess and classify one image file."""
    prepared = preprocess_image(open_image(path))
    probabilities = predict_tensor(model, prepared.tensor)[0]
    return Prediction(
        path=str(path), label=int(probabilities.argmax()),
        probabilities=probabilities.tolist(), image=prepared.steps["centred_28x28"],
    )


def predict_paths(
    model: nn.Module, paths: list[str | os.PathLike]
) -> list[Prediction | ImageError]:
    """Predict every image among ``paths`` (folders expanded); a bad file gives its error in
    its place and never stops the rest."""
    results: list[Prediction | ImageError] = []
    for item in paths:
        if Path(item).is_dir() and not expand_paths([item]):
            kinds = ", ".join(sorted(IMAGE_SUFFIXES))
            results.append(ImageError(f"{item}: folder has no images ({kinds})"))
            continue
        for path in expand_paths([item]):
            try:
                results.append(predict_image(model, path))
            except ImageError as exc:
                message = str(exc)
                results.append(ImageError(message if message.startswith(str(path))
                                          else f"{path}: {message}"))
    return results
