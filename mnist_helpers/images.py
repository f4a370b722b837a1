"""Images a user hands in: opening any file safely, turning any mode, array or tensor into
grey levels, and drawing pen strokes (the canvas widget's drawings and the project's sample
pictures)."""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
import torch
from PIL import ExifTags, Image, ImageDraw, ImageOps, UnidentifiedImageError

from .errors import ImageError
from .files import describe_special_file

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
#: Largest image accepted, in pixels (PIL's own decompression-bomb limit is ~89M).
MAX_PIXELS = 50_000_000
#: Largest file read, in bytes: an uncompressed 50-megapixel colour TIFF fits, a disk image
#: named ``.png`` does not.
MAX_FILE_BYTES = 256 * 1024 * 1024
#: PIL modes whose pixels are integers or floats of more than 8 bits.
DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
#: Modes ``convert("L")`` gets wrong or refuses, and the way to grey levels from each.
_GREY_FROM = {"LAB": lambda image: image.getchannel("L"),  # L* is the lightness
              "HSV": lambda image: image.convert("RGB"),
              "La": lambda image: image.convert("LA"),  # alpha not premultiplied
              "1": lambda image: image.convert("L"),  # resizing "1" or "P" would not average
              "P": lambda image: image.convert("RGBA"),
              "PA": lambda image: image.convert("RGBA"),
              # PIL's getextrema and resize get 16-bit pixels in these byte orders wrong (and
              # convert("I;16") clips them to 255): numpy reads them right.
              **dict.fromkeys(("I;16B", "I;16L", "I;16N"),
                              lambda image: Image.fromarray(np.asarray(image, np.uint16)))}

ImageLike = Image.Image | np.ndarray | torch.Tensor


def open_regular_file(path: Path) -> BinaryIO:
    """``path`` opened for reading, once it is known to be a regular file of a sane size.

    The check is made on the opened file itself (a link is followed once, and nothing can be
    swapped in between), and a FIFO is opened without waiting for a writer: a FIFO, a device
    such as /dev/zero, or a link to one, is refused before a byte is read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ImageError("no such file", str(path)) from None
    except IsADirectoryError:
        raise ImageError("is a folder, not an image", str(path)) from None
    except PermissionError:
        if path.is_dir():  # how Windows refuses to open a folder
            raise ImageError("is a folder, not an image", str(path)) from None
        raise ImageError("permission denied (cannot read the file)", str(path)) from None
    except OSError as exc:
        raise ImageError(f"cannot open the file ({exc.strerror or exc})", str(path)) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImageError("is a folder, not an image", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(f"is {describe_special_file(path, info.st_mode)}, not an image "
                             "file; name an "
                             "image file", str(path))
        if info.st_size == 0:
            raise ImageError("the file is empty", str(path))
        if info.st_size > MAX_FILE_BYTES:
            raise ImageError(f"the file is {info.st_size / 2**20:,.0f} MiB, too large to be a "
                             f"digit photo (limit {MAX_FILE_BYTES // 2**20} MiB); resize it "
                             "first", str(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def open_image(path: str | bytes | os.PathLike, *, decode_size: int = 512) -> Image.Image:
    """Open an image file fully, or raise :class:`ImageError` with a one-line reason.

    A large JPEG is decoded at reduced scale, to at least ``decode_size`` pixels a side.
    """
    if isinstance(path, bytes):  # a name that is not valid UTF-8, as os.listdir(b".") gives
        path = os.fsdecode(path)
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a file name (str, bytes or os.PathLike), not "
                        f"{type(path).__name__}")
    if not str(path).strip():
        raise ImageError("the path is empty: name an image file")
    path = Path(path)
    try:
        with open_regular_file(path) as file, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(f"{width}×{height} is too large to be a digit photo "
                                 f"(limit {MAX_PIXELS:,} pixels); resize it first", str(path))
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


def _array_from_tensor(tensor: torch.Tensor) -> np.ndarray:
    """A tensor's values as a numpy array: detached, on the CPU, in a dtype numpy has, and
    without the batch and channel axes of one grey image (1×1×H×W, 1×H×W); C×H×W colour
    becomes H×W×C."""
    if tensor.is_meta:
        raise ValueError("image is a meta tensor: it has a shape but no values; pass a "
                         "tensor that holds the pixels")
    tensor = tensor.detach().cpu()
    if tensor.is_floating_point():
        tensor = tensor.float()  # bfloat16 and float16 have no numpy dtype of their own
    while tensor.ndim > 2 and tensor.shape[0] == 1:
        tensor = tensor[0]
    if tensor.ndim == 3 and tensor.shape[0] in (3, 4):
        tensor = tensor.permute(1, 2, 0)
    return tensor.numpy()


def _image_from_array(array: np.ndarray) -> Image.Image:
    """A PIL image holding ``array``: uint8 as 8-bit grey or colour, uint16 as 16-bit grey,
    other integers as 32-bit, floats as 32-bit floats (colour floats must be 0..1)."""
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number)
                                     or array.dtype == bool):
        raise TypeError(f"image must hold numbers, not {array.dtype} values")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    colour = array.ndim == 3 and array.shape[2] in (3, 4)
    if array.ndim != 2 and not colour:
        raise ValueError(f"image must be height × width grey levels or height × width × 3 "
                         f"(or 4) colour, not an array of shape {array.shape}")
    if array.size == 0:
        raise ImageError("the image has no pixels")
    if np.iscomplexobj(array):
        raise TypeError("image must hold real numbers, not complex ones")
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if colour and array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating) or not (
                np.nanmin(array) >= 0 and np.nanmax(array) <= 1):
            raise ValueError("image: a colour array must be uint8 (0..255) or floats in 0..1; "
                             "convert it to grey levels first")
        array = np.round(np.nan_to_num(array, nan=1.0) * 255).astype(np.uint8)
    if array.dtype in (np.uint8, np.uint16):
        return Image.fromarray(np.ascontiguousarray(array))
    if np.issubdtype(array.dtype, np.integer) and (
            np.iinfo(np.int32).min <= array.min() and array.max() <= np.iinfo(np.int32).max):
        return Image.fromarray(array.astype(np.int32))
    return Image.fromarray(array.astype(np.float32))


def as_image(image: ImageLike) -> Image.Image:
    """``image`` as a PIL image: a PIL image as it is, a numpy array or a torch tensor of
    grey levels (or colour) converted; anything else is a :class:`TypeError`."""
    if isinstance(image, Image.Image):
        return image
    if isinstance(image, torch.Tensor):
        return _image_from_array(_array_from_tensor(image))
    if isinstance(image, np.ndarray):
        return _image_from_array(image)
    hint = (": to read a file, use open_image(path) or predict_file(model, path)"
            if isinstance(image, str | bytes | os.PathLike) else "")
    raise TypeError(f"image must be a PIL image, a numpy array or a torch tensor, not "
                    f"{type(image).__name__}{hint}")


def _upright(image: Image.Image) -> Image.Image:
    """``image`` turned upright by its EXIF orientation (itself, not a copy, when it is)."""
    if image.getexif().get(ExifTags.Base.Orientation, 1) in (None, 1):
        return image
    return ImageOps.exif_transpose(image)


def _deep_range(image: Image.Image) -> tuple[float, float] | None:
    """The range an integer image's values are read against: 0 up to the top of the
    smallest of 8, 10, 12, 14, 16 … bits that holds its brightest pixel (10- and 12-bit
    data is often stored in 16-bit files), or its own range when it has negative values.
    ``None`` for a float image (its range is found after shrinking, without NaN)."""
    if image.mode == "F":
        return None
    # One band, so one (low, high) pair (PIL's type also allows a pair per band).
    low, high = cast(tuple[float, float], image.getextrema())
    if low < 0:
        return float(low), float(high)
    bits = max(8, int(high).bit_length())
    return 0.0, float(2 ** (bits + bits % 2) - 1)


def _scaled_deep(values: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    """Integer or float pixels as grey levels 0..1 (float32), in place. Floats: as they are
    when within 0..1, else divided by the brightest (or stretched when some are negative);
    NaN and infinite pixels become the image's median, the paper."""
    finite = np.isfinite(values)
    if not finite.all():
        if not finite.any():
            raise ImageError("the image has no valid pixels (all are NaN or infinite)")
        values[~finite] = np.median(values[finite])
    if value_range is None:
        low, high = float(values.min()), float(values.max())
        if 0 <= low and high <= 1:
            return values
        value_range = (0.0, high) if low >= 0 else (low, high)
    low, high = value_range
    if high <= low:
        return np.zeros_like(values)
    values -= low
    values /= high - low
    return values


def to_grayscale(image: ImageLike, max_size: int | None = None) -> np.ndarray:
    """Upright (by its EXIF orientation) grey levels as float32 in 0..1, from any PIL mode,
    a numpy array or a torch tensor, shrunk to at most ``max_size`` pixels a side (a box
    filter) before any array is made.

    Transparency is laid over white paper. uint8 arrays are 0..255; 16-bit and other integer
    images are read against the bit depth they use; float images are taken as 0..1 when they
    are within it, else scaled by their range; NaN pixels count as paper.
    """
    picture = _upright(as_image(image))
    if picture.width * picture.height == 0:
        raise ImageError("the image has no pixels")
    if picture.mode in _GREY_FROM:
        picture = _GREY_FROM[picture.mode](picture)
    value_range = _deep_range(picture) if picture.mode in DEEP_MODES else None
    if max_size is not None and max(picture.size) > max_size:
        # A box filter straight to the work size: only the small image is ever made, in the
        # image's own compact mode, whatever the size of the original.
        scale = max_size / max(picture.size)
        picture = picture.resize((max(1, round(picture.width * scale)),
                                  max(1, round(picture.height * scale))), Image.Resampling.BOX)
    if picture.mode in DEEP_MODES:
        return _scaled_deep(np.array(picture, dtype=np.float32), value_range)
    if picture.mode in ("RGBA", "LA", "RGBa") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        picture = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    try:
        grey = picture.convert("L")
    except ValueError:
        raise ImageError(f"images in PIL mode {picture.mode} are not supported; save it as "
                         "PNG or JPEG") from None
    return np.asarray(grey, dtype=np.float32) / np.float32(255)


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
