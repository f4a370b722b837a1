"""Your own images: opening anything a user may hand in, MNIST-style preprocessing, predicting.

Every image here is made from a real MNIST test digit (or is deliberately broken), written
to a real file in a temporary folder.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from mnist_helpers import load_mnist
from mnist_helpers.config import MNIST_MEAN, MNIST_STD
from mnist_helpers.data import normalize_images
from mnist_helpers.errors import ImageError
from mnist_helpers.images import MAX_PIXELS, open_image, to_grayscale
from mnist_helpers.predict import (
    Prediction,
    image_files,
    predict_file,
    predict_files,
)
from mnist_helpers.preprocess import preprocess_image

BLANK = -MNIST_MEAN / MNIST_STD


@pytest.fixture(scope="module")
def digits(mnist_raw_dir, mnist_cache) -> tuple[np.ndarray, np.ndarray]:
    """The test split's first 100 digits (uint8 28×28, white on black) and their labels."""
    test = load_mnist(False, mnist_raw_dir, download=False, cache_dir=mnist_cache)
    return test.data[:100].numpy(), test.targets[:100].numpy()


def correlation(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def mnist_tensor(pixels: np.ndarray) -> torch.Tensor:
    return normalize_images(torch.from_numpy(pixels)[None])


def ink_strength(pixels: np.ndarray, size: int) -> np.ndarray:
    """The digit enlarged to ``size``×``size``, as ink strength 0..1."""
    big = Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(big, dtype=np.float64) / 255.0


def png_with_size(path: Path, width: int, height: int) -> Path:
    """A small valid PNG whose header then claims ``width``×``height`` (CRC fixed up)."""
    Image.new("L", (8, 8), 255).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


# --- good images of many kinds ------------------------------------------------------------


def test_photo_of_a_digit_preprocesses_back_to_the_digit(digits, photo_of):
    pixels, labels = digits
    for index in range(5):
        photo = photo_of(pixels[index])
        assert photo.size == (400, 300)
        prepared = preprocess_image(photo)
        assert prepared.inverted
        assert prepared.tensor.shape == (1, 1, 28, 28)
        assert prepared.tensor.dtype == torch.float32
        original = mnist_tensor(pixels[index])
        assert correlation(prepared.tensor, original) > 0.8, index
        # Background is MNIST's black, the ink MNIST's white.
        assert prepared.tensor.min().item() == pytest.approx(BLANK, abs=1e-5)
        assert prepared.tensor.max().item() > 0.9 * (1 - MNIST_MEAN) / MNIST_STD
        assert {"grayscale", "ink_white", "background_removed", "cropped", "fitted_20x20",
                "centred_28x28"} <= set(prepared.steps)


def test_mnist_digits_come_back_where_mnist_puts_them(digits):
    """MNIST's own digits, run through the pipeline, land where MNIST has them: centre of
    mass at pixel (14, 14), the same pixels lit."""
    pixels, _ = digits
    yy, xx = np.indices((28, 28))
    centres, scores = [], []
    for index in range(100):
        prepared = preprocess_image(pixels[index] / 255.0)
        assert not prepared.inverted
        canvas = prepared.pixels
        centres.append(((yy * canvas).sum() / canvas.sum(), (xx * canvas).sum() / canvas.sum()))
        scores.append(correlation(prepared.tensor, mnist_tensor(pixels[index])))
    mean_y, mean_x = np.mean(centres, axis=0)
    assert mean_y == pytest.approx(14.0, abs=0.2) and mean_x == pytest.approx(14.0, abs=0.2)
    assert np.median(scores) > 0.95 and np.mean(scores) > 0.9


@pytest.fixture(scope="module")
def files(tmp_path_factory, digits, photo_of) -> dict[str, tuple[Path, int | None]]:
    """Name -> (file, true digit or None for files that must be refused)."""
    pixels, labels = digits
    folder = tmp_path_factory.mktemp("images")
    files: dict[str, tuple[Path, int | None]] = {}

    def keep(name: str, path: Path, label: int | None) -> None:
        files[name] = (path, label)

    path = folder / "ink_on_white.png"
    photo_of(pixels[0]).save(path)
    keep("png", path, int(labels[0]))

    strength = ink_strength(pixels[1], 200)
    rgba = np.zeros((300, 300, 4), dtype=np.uint8)
    rgba[50:250, 60:260, 3] = (strength * 255).astype(np.uint8)  # black ink, alpha = ink
    path = folder / "transparent.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    keep("rgba", path, int(labels[1]))

    gray16 = (np.asarray(photo_of(pixels[2]), dtype=np.uint16) * 257).astype(np.uint16)
    path = folder / "sixteen_bit.png"
    Image.fromarray(gray16).save(path)  # a uint16 array becomes a 16-bit grayscale image
    assert path.read_bytes()[24] == 16, "PNG bit depth"
    keep("16bit", path, int(labels[2]))

    path = folder / "cmyk.jpg"
    photo_of(pixels[3]).convert("CMYK").save(path, quality=95)
    with Image.open(path) as check:
        assert check.mode == "CMYK"
    keep("cmyk", path, int(labels[3]))

    upright = photo_of(pixels[4]).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = folder / "exif_rotated.jpg"
    upright.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=95)
    keep("exif", path, int(labels[4]))

    path = folder / "one_pixel.png"
    Image.new("L", (1, 1), 0).save(path)
    keep("1x1", path, None)

    path = folder / "blank_page.png"
    Image.new("RGB", (400, 300), (255, 255, 255)).save(path)
    keep("blank", path, None)

    path = folder / "empty.png"
    path.write_bytes(b"")
    keep("empty", path, None)

    path = folder / "notes.png"
    path.write_text("this is not a picture of a digit\n")
    keep("text", path, None)

    path = folder / "truncated.png"
    photo_of(pixels[5]).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    keep("truncated", path, None)

    keep("bomb", png_with_size(folder / "bomb.png", 100_000, 100_000), None)

    no_images = folder / "no_images"
    no_images.mkdir()
    (no_images / "readme.txt").write_text("nothing to see\n")
    keep("empty_folder", no_images, None)

    keep("missing", folder / "does_not_exist.png", None)
    return files


@pytest.mark.parametrize("kind", ["png", "rgba", "16bit", "cmyk", "exif"])
def test_good_files_are_predicted(kind, files, quick_model, digits):
    path, label = files[kind]
    prediction = predict_file(quick_model, path)
    assert isinstance(prediction, Prediction)
    assert prediction.path == str(path)
    assert prediction.digit == label
    assert len(prediction.probabilities) == 10
    assert sum(prediction.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert prediction.pixels.shape == (28, 28)
    assert prediction.to_json()["prediction"] == label


@pytest.mark.parametrize("kind,index", [("png", 0), ("rgba", 1), ("16bit", 2), ("cmyk", 3),
                                        ("exif", 4)])
def test_good_files_preprocess_back_to_the_digit(kind, index, files, digits):
    pixels, _ = digits
    prepared = preprocess_image(open_image(files[kind][0]))
    assert correlation(prepared.tensor, mnist_tensor(pixels[index])) > 0.8


def test_sixteen_bit_png_reads_like_the_eight_bit_one(tmp_path, files, digits, photo_of):
    pixels, _ = digits
    image = open_image(files["16bit"][0])
    assert image.mode in {"I;16", "I;16B", "I;16L", "I"}
    eight = np.asarray(photo_of(pixels[2]), dtype=np.float64) / 255.0
    assert np.abs(to_grayscale(image) - eight).max() < 1e-6


def test_transparent_background_counts_as_white_paper(files):
    gray = to_grayscale(open_image(files["rgba"][0]))
    assert gray[0, 0] == 1.0 and gray.min() < 0.1


def test_exif_orientation_is_applied(files, digits, photo_of):
    pixels, _ = digits
    from_file = preprocess_image(open_image(files["exif"][0])).tensor
    upright = preprocess_image(photo_of(pixels[4])).tensor
    with Image.open(files["exif"][0]) as raw:  # the pixels as stored, EXIF ignored
        sideways = preprocess_image(np.asarray(raw.convert("L")) / 255.0).tensor
    assert correlation(from_file, upright) > 0.95
    assert correlation(sideways, upright) < 0.6


# --- bad files: one clear line each, never a crash ----------------------------------------


@pytest.mark.parametrize("kind", ["1x1", "blank"])
def test_images_without_ink_are_refused_not_errors(kind, files, quick_model):
    """A blank page is an answer, "not a digit", not a broken file."""
    path, _ = files[kind]
    prediction = predict_file(quick_model, path)
    assert prediction.digit is None and prediction.probabilities is None
    assert prediction.reason.startswith("not a digit: no ink found")
    assert prediction.to_json() == {"path": str(path), "prediction": None,
                                    "reason": prediction.reason, "probabilities": None,
                                    "can_refuse": False}  # a ten-class model


@pytest.mark.parametrize("kind,reason", [
    ("empty", "the file is empty"),
    ("text", "not an image file"),
    ("truncated", "damaged or truncated"),
    ("bomb", "too large"),
    ("missing", "no such file"),
    ("empty_folder", "is a folder"),
])
def test_bad_files_raise_image_error(kind, reason, files, quick_model):
    path, _ = files[kind]
    with pytest.raises(ImageError) as caught:
        predict_file(quick_model, path)
    message = str(caught.value)
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize("width,height,reason", [
    (100_000, 100_000, "too large"),  # PIL refuses it outright
    (10_000, 10_000, "too large"),  # PIL only warns; the warning is an error here
    (8_000, 8_000, "too large to be a digit photo"),  # under PIL's limits, over ours
])
def test_huge_declared_sizes_are_refused_before_decoding(tmp_path, width, height, reason):
    assert width * height > MAX_PIXELS
    path = png_with_size(tmp_path / "big.png", width, height)
    with pytest.raises(ImageError, match=reason):
        open_image(path)


def test_white_page_is_no_digit():
    with pytest.raises(ImageError, match="no ink found"):
        preprocess_image(Image.new("L", (400, 300), 250))
    with pytest.raises(ImageError, match="no ink found"):
        preprocess_image(Image.new("L", (50, 50), 0))


def test_a_blank_page_is_a_refusal_and_a_broken_image_an_error(quick_model):
    """No ink is an answer ("not a digit"), told apart by its type, not by its message."""
    from mnist_helpers.errors import NoInkError
    from mnist_helpers.predict import predict_image

    with pytest.raises(NoInkError):
        preprocess_image(Image.new("L", (400, 300), 250))
    blank = predict_image(quick_model, Image.new("L", (400, 300), 250), "page.png")
    assert blank.digit is None and blank.reason.startswith("not a digit: no ink found")
    with pytest.raises(ImageError, match="no pixels") as raised:
        predict_image(quick_model, np.zeros((0, 5)))
    assert not isinstance(raised.value, NoInkError)


def test_predict_files_never_raises_and_keeps_the_order(files, quick_model):
    names = list(files)
    results = list(predict_files(quick_model, [files[name][0] for name in names]))
    assert len(results) == len(names)
    for name, result in zip(names, results, strict=True):
        path, label = files[name]
        if name in ("1x1", "blank"):
            assert isinstance(result, Prediction) and result.digit is None, name
        elif label is None:
            assert isinstance(result, ImageError), name
            assert str(result).startswith(f"{path}: "), str(result)
            assert "\n" not in str(result)
        else:
            assert isinstance(result, Prediction), (name, result)
            assert result.digit == label and result.path == str(path)


def test_empty_folder_error_stays_in_its_place(files, quick_model):
    good, _ = files["png"]
    empty, _ = files["empty_folder"]
    results = list(predict_files(quick_model, [good, empty, good]))
    assert [type(r) for r in results] == [Prediction, ImageError, Prediction]
    assert "folder has no images" in str(results[1]) and str(empty) in str(results[1])


def test_folders_are_expanded_to_their_images(tmp_path, digits, photo_of, quick_model):
    pixels, labels = digits
    folder = tmp_path / "mine"
    folder.mkdir()
    for index in (7, 8, 9):
        photo_of(pixels[index]).save(folder / f"digit_{index}.png")
    (folder / "notes.txt").write_text("not an image\n")
    (folder / "sub").mkdir()
    (folder / ".hidden.png").write_bytes(b"")  # a temporary file of ours, or a dotfile
    assert [p.name for p in image_files(folder)] == [
        "digit_7.png", "digit_8.png", "digit_9.png"]
    results = list(predict_files(quick_model, [folder]))
    assert [r.digit for r in results] == [int(labels[i]) for i in (7, 8, 9)]


def photo_variant(pixels: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A phone-photo-like rendering: random size, place, ink, paper, light, blur, noise."""
    size = int(rng.integers(60, 220))
    page = (int(rng.integers(size + 40, 500)), int(rng.integers(size + 40, 400)))
    offset = (int(rng.integers(0, page[0] - size)), int(rng.integers(0, page[1] - size)))
    strength = np.zeros((page[1], page[0]))
    strength[offset[1]: offset[1] + size, offset[0]: offset[0] + size] = ink_strength(pixels,
                                                                                     size)
    yy, xx = np.mgrid[0: page[1], 0: page[0]]
    light = rng.uniform(0.8, 0.97) - rng.uniform(0, 0.15) * xx / page[0]
    ink = rng.uniform(0.05, 0.3)
    photo = light - strength * (light - ink) + rng.normal(0, 0.02, strength.shape)
    image = Image.fromarray((np.clip(photo, 0, 1) * 255).astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))


def test_most_photo_like_renderings_are_recognised(tmp_path, digits, quick_model):
    pixels, labels = digits
    rng = np.random.default_rng(0)
    paths = []
    for index in range(20, 40):
        path = tmp_path / f"photo_{index}.jpg"
        photo_variant(pixels[index], rng).convert("RGB").save(path, quality=90)
        paths.append(path)
    results = list(predict_files(quick_model, paths))
    assert all(isinstance(r, Prediction) for r in results)
    correct = sum(r.digit == int(labels[i]) for r, i in zip(results, range(20, 40),
                                                             strict=True))
    assert correct / len(paths) > 0.7, f"{correct}/20 right"


def test_results_stream_one_by_one(files, quick_model, monkeypatch):
    """The first result is ready before the second file is even opened."""
    import mnist_helpers.predict as predict_module

    opened = []
    real_open = predict_module.open_image
    monkeypatch.setattr(predict_module, "open_image",
                        lambda path, **kw: opened.append(path) or real_open(path, **kw))
    results = predict_files(quick_model, [files["png"][0], files["rgba"][0]])
    first = next(results)
    assert isinstance(first, Prediction) and len(opened) == 1
    assert isinstance(next(results), Prediction) and len(opened) == 2


def test_an_empty_path_is_an_error_not_the_current_folder(quick_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.new("L", (40, 40), 255).save(tmp_path / "x.png")
    results = list(predict_files(quick_model, [""]))
    assert len(results) == 1 and isinstance(results[0], ImageError)
    assert "empty path" in str(results[0])


@pytest.mark.parametrize("scale", [1.0, 255.0, 65535.0])
def test_floating_point_tiff_of_any_range_is_read(tmp_path, digits, photo_of, quick_model, scale):
    """A 32-bit float TIFF with values 0..1 (as scientific tools write them) used to be
    read as almost black, 'no digit'."""
    pixels, labels = digits
    values = np.asarray(photo_of(pixels[6]), dtype=np.float32) / 255.0 * scale
    path = tmp_path / "float.tif"
    Image.fromarray(values, mode="F").save(path)
    prediction = predict_file(quick_model, path)
    assert prediction.digit == int(labels[6])


def test_a_model_that_outputs_nan_gives_an_error_not_nan(files):
    import torch

    class Broken(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return torch.full((len(x), 10), float("nan"))

    with pytest.raises(ImageError, match="not a number"):
        predict_file(Broken(), files["png"][0])
