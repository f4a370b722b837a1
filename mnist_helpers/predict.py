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
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError
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
            if image.format == "JPEG" and max(width, height) > 2 * WORK_SIZE:
                # Let the JPEG decoder scale down (1/2 .. 1/8) while decoding: a phone
                # photo then decodes in a fraction of the time, and we only need ~256 px.
                image.draft("L" if image.mode in ("L", "RGB") else None,
                            (2 * WORK_SIZE, 2 * WORK_SIZE))
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


def _shrink(image: Image.Image) -> Image.Image:
    """Upright, and at most ``WORK_SIZE`` pixels a side (a box filter in PIL, before any
    conversion to floats: a phone photo has far more pixels than a digit needs)."""
    image = ImageOps.exif_transpose(image)
    if max(image.size) > WORK_SIZE and image.mode in ("L", "RGB", "RGBA", "LA", "CMYK", "P"):
        if image.mode == "P":
            image = image.convert("RGBA")
        image = image.copy()
        image.thumbnail((WORK_SIZE, WORK_SIZE), Image.Resampling.BOX)
    return image


def _paper_brightness(paper: np.ndarray, cell: int = 8) -> np.ndarray:
    """How bright the bare paper is at every pixel: the brightest coarse cell nearby (a max
    filter over 8×8-pixel averages, which ink strokes cannot fill), smoothly upsampled."""
    h, w = paper.shape
    coarse = Image.fromarray((paper * 255).astype(np.uint8)).resize(
        (max(1, w // cell), max(1, h // cell)), Image.Resampling.BOX)
    if min(coarse.size) >= 5:
        coarse = coarse.filter(ImageFilter.MaxFilter(5))
    else:
        coarse = Image.new("L", coarse.size, int(np.asarray(coarse).max()))
    return np.asarray(coarse.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float64) / 255.0


def _otsu_threshold(values: np.ndarray, bins: int = 64) -> float:
    """Otsu's threshold: the level that best splits ``values`` (0..1) into ink and paper."""
    levels = np.clip((values * bins).astype(np.intp), 0, bins - 1)
    hist = np.bincount(levels.ravel(), minlength=bins)
    centers = (np.arange(bins) + 0.5) / bins
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
    if isinstance(image, Image.Image):
        gray = to_grayscale(_shrink(image))
    else:
        gray = np.asarray(image, float)
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
    steps["ink_white"] = 1.0 - gray if inverted else gray.copy()
    # Background: uneven light and shadows are divided out (flat-field), the rest of the paper
    # texture falls below the ink threshold (Otsu) further down.
    paper = gray if inverted else 1.0 - gray  # bright paper, dark ink
    ink = np.clip(1.0 - paper / np.maximum(_paper_brightness(paper), 1e-3), 0.0, 1.0)
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


def naive_preprocess(image: Image.Image) -> torch.Tensor:
    """What the seeds do, for comparison: grayscale, squash the whole picture to 28×28,
    invert, normalise (no cropping, centring or background removal)."""
    gray = Image.fromarray((to_grayscale(image) * 255).astype(np.uint8))
    small = ImageOps.invert(gray.resize((28, 28), Image.Resampling.BILINEAR))
    pixels = torch.from_numpy(np.asarray(small, dtype=np.float32) / 255.0)
    return ((pixels - MNIST_MEAN) / MNIST_STD).view(1, 1, 28, 28)


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


def predict_picture(model: nn.Module, picture: Image.Image | np.ndarray, path: str = ""
                    ) -> Prediction:
    """Preprocess and classify one picture (a PIL image, or grayscale floats in 0..1)."""
    prepared = preprocess_image(picture)
    probabilities = predict_tensor(model, prepared.tensor)[0]
    return Prediction(
        path=path, label=int(probabilities.argmax()),
        probabilities=probabilities.tolist(), image=prepared.steps["centred_28x28"],
    )


def predict_image(model: nn.Module, path: str | os.PathLike) -> Prediction:
    """Open, preprocess and classify one image file."""
    return predict_picture(model, open_image(path), str(path))


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


def picture_accuracy(model: nn.Module, pictures: list[tuple[Image.Image, int]], *,
                     preprocess: str = "mnist") -> float:
    """Share of labelled ``pictures`` the model gets right, after ``preprocess``:

    ``"mnist"`` — :func:`preprocess_image` (MNIST's own steps); ``"seeds"`` — the seeds' way,
    :func:`naive_preprocess` (resize the whole picture to 28×28 and invert). A picture in
    which no digit is found counts as wrong.
    """
    if preprocess not in ("mnist", "seeds"):
        raise ValueError(f"preprocess must be 'mnist' or 'seeds', got {preprocess!r}")
    if not pictures:
        raise ValueError("No pictures given.")
    inputs, labels = [], []
    for picture, label in pictures:
        try:
            inputs.append(preprocess_image(picture).tensor if preprocess == "mnist"
                          else naive_preprocess(picture))
        except ImageError:
            inputs.append(torch.full((1, 1, 28, 28), -MNIST_MEAN / MNIST_STD))  # a blank input
        labels.append(label)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        predicted = predict_tensor(model, torch.cat(inputs).to(device)).argmax(1).cpu()
    finally:
        model.train(was_training)
    return (predicted == torch.tensor(labels)).float().mean().item()
