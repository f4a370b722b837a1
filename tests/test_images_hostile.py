"""Images handed in by a new user who tries everything: odd PIL modes, file names that are
not UTF-8 or hold a newline, FIFOs and devices named as images, huge 16-bit PNGs, smooth
gradients, arrays and tensors in every range and dtype, wrong argument types, and a model
that cannot refuse. Every case is a real file, FIFO, link or object, and the test checks
what the user sees: a prediction, a refusal or one line naming the input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_helpers import load_checkpoint, load_mnist, save_checkpoint
from mnist_helpers.cli import main
from mnist_helpers.config import shipped_checkpoint_path
from mnist_helpers.errors import ImageError
from mnist_helpers.images import MAX_FILE_BYTES, open_image, to_grayscale
from mnist_helpers.predict import Prediction, Refusal, predict_file, predict_files, predict_image
from mnist_helpers.preprocess import find_ink, preprocess_image

REPO = Path(__file__).resolve().parent.parent
PREDICTION_KEYS = {"path", "prediction", "reason", "probabilities", "can_refuse"}


@pytest.fixture(scope="module")
def digits(mnist_raw_dir, mnist_cache) -> tuple[np.ndarray, np.ndarray]:
    """The test split's first 10 digits (uint8 28×28, white on black) and their labels."""
    test = load_mnist(False, mnist_raw_dir, download=False, cache_dir=mnist_cache)
    return test.data[:10].numpy(), test.targets[:10].numpy()


@pytest.fixture(scope="module")
def seven(digits, photo_of) -> tuple[Image.Image, int]:
    """A photo of the first test digit (a 7): dark ink on a light 400×300 page."""
    pixels, labels = digits
    return photo_of(pixels[0]), int(labels[0])


@pytest.fixture(scope="module")
def shipped():
    """The shipped 12-class model and its refusal rule."""
    model, info = load_checkpoint(shipped_checkpoint_path(), "cpu")
    return model, Refusal.from_metadata(info.metadata)


def run_cli(*args: str | os.PathLike, env: dict | None = None) -> subprocess.CompletedProcess:
    """The command line in a fresh process (its timeout only guards against a hang)."""
    full_env = {**os.environ, "MNIST_DEVICE": "cpu", "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.run([sys.executable, "-m", "mnist_helpers", *map(os.fsencode, args)],
                          cwd=REPO, env=full_env, capture_output=True, timeout=300, check=False)


# --- PIL modes, files that are not files, names that are not text -------------------------


@pytest.mark.parametrize("mode", ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa",
                                  "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16", "F"])
def test_every_pil_mode_is_read(mode, seven, quick_model):
    """LAB, La and HSV images used to end in a ValueError from PIL (a traceback)."""
    photo, label = seven
    via = {"La": "LA", "LAB": "RGB", "HSV": "RGB", "RGBa": "RGBA", "PA": "RGBA"}
    image = photo.convert(via.get(mode, mode)) if mode in via else photo
    # A black-and-white scan is thresholded, not dithered like PIL's convert("1").
    image = image.convert(mode, dither=Image.Dither.NONE)
    assert image.mode == mode
    assert predict_image(quick_model, image).digit == label


def test_a_lab_tiff_is_read_from_a_file(tmp_path, seven, quick_model):
    photo, label = seven
    path = tmp_path / "lab.tif"
    photo.convert("RGB").convert("LAB").save(path)
    with Image.open(path) as check:
        assert check.mode == "LAB"
    assert predict_file(quick_model, path).digit == label


@pytest.fixture
def hostile_files(tmp_path, seven) -> dict[str, bytes]:
    """Name -> path (as bytes) of inputs a new user might hand to ``predict``."""
    photo, _ = seven
    base = os.fsencode(tmp_path)
    files = {}

    def name(key: str, raw: bytes) -> bytes:
        files[key] = os.path.join(base, raw)
        return files[key]

    photo.save(name("good", b"seven.png"))
    photo.convert("RGB").convert("LAB").save(name("lab", b"lab.tif"))
    try:  # a name in Latin-1, as old cameras and zip files write them: not valid UTF-8
        photo.save(name("latin1", b"sept\xe9\xff.png"), format="PNG")
    except OSError:  # pragma: no cover - a file system that insists on UTF-8 names
        del files["latin1"]
    photo.save(name("newline", b"two\nlines.png"), format="PNG")
    photo.save(name("escape", b"red\x1b[31m\x1b[2J.png"), format="PNG")
    os.mkfifo(name("fifo", b"pipe.png"))
    os.symlink("/dev/zero", name("zero_link", b"zero.png"))
    files["zero"], files["urandom"] = b"/dev/zero", b"/dev/urandom"
    with open(name("huge", b"huge.png"), "wb") as sparse:  # no disk space used
        sparse.truncate(MAX_FILE_BYTES + 1)
    return files


def test_hostile_files_each_get_one_json_line_and_never_block(hostile_files, seven):
    """A FIFO or /dev/zero used to be read until a writer came or memory ran out, a LAB TIFF
    ended the run with a traceback; now each input gets its own line, in order."""
    _, label = seven
    keys = list(hostile_files)
    result = run_cli("predict", "--json", *hostile_files.values())
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    assert result.returncode == 1  # some inputs cannot be used
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == len(keys)
    for key, record in zip(keys, lines, strict=True):
        assert os.fsencode(record["path"]) == hostile_files[key], key  # the exact bytes back
        if key in ("good", "lab", "latin1", "newline", "escape"):
            assert set(record) == PREDICTION_KEYS and record["prediction"] == label, record
        else:
            assert set(record) == {"path", "error"}, record
    errors = {key: record.get("error", "") for key, record in zip(keys, lines, strict=True)}
    assert "is a named pipe (FIFO)" in errors["fifo"]
    assert all("a character device" in errors[key] for key in ("zero", "zero_link", "urandom"))
    assert "too large" in errors["huge"]


def test_plain_output_escapes_names_on_a_strict_utf8_terminal(hostile_files, seven):
    """A name that is not UTF-8 used to raise UnicodeEncodeError on a UTF-8 terminal (a
    traceback); a newline split the line in two, an escape sequence reached the terminal."""
    _, label = seven
    wanted = [key for key in ("good", "latin1", "newline", "escape", "fifo")
              if key in hostile_files]
    result = run_cli("predict", *(hostile_files[key] for key in wanted),
                     env={"PYTHONIOENCODING": "utf-8:strict"})
    out, err = result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
    assert "Traceback" not in err, err
    assert "\x1b" not in out + err
    out_lines, err_lines = out.splitlines(), err.splitlines()
    assert len(out_lines) == len(wanted) - 1 and len(err_lines) == 1
    assert err_lines[0].endswith("pipe.png: is a named pipe (FIFO), not an image file; name "
                                 "an image file")
    for line in out_lines:
        assert line.split(": ")[-1].startswith(f"{label} ("), line
    names = [line.rsplit(": ", 1)[0].rsplit("/", 1)[-1] for line in out_lines]
    assert "two\\nlines.png" in names and "red\\x1b[31m\\x1b[2J.png" in names
    if "latin1" in wanted:
        assert "sept\\udce9\\udcff.png" in names


def test_a_fifo_and_dev_zero_are_refused_by_the_library(hostile_files, quick_model):
    """The check is made on the opened file, so a link to a device is refused too."""
    for key in ("fifo", "zero_link", "zero"):
        with pytest.raises(ImageError, match="not an image file"):
            open_image(hostile_files[key])
    results = list(predict_files(quick_model, [hostile_files["fifo"], hostile_files["good"]]))
    assert isinstance(results[0], ImageError) and isinstance(results[1], Prediction)


@pytest.mark.parametrize(("mode", "dtype"), [("I;16B", ">u2"), ("I;16L", "<u2"),
                                             ("I;16N", "=u2")])
def test_16_bit_images_in_any_byte_order_are_read(tmp_path, mode, dtype, seven, shipped,
                                                  quick_model):
    """A big-endian 16-bit TIFF used to end in PIL's "ValueError: image has wrong mode", and
    PIL's box resize garbles these byte orders: the shrunk grey levels must match native's."""
    stripe = np.full((100, 100), 65535, np.uint16)
    stripe[15:85, 45:55] = 0  # a dark vertical bar: a 1
    image = Image.frombytes(mode, (100, 100), stripe.astype(dtype).tobytes())
    assert predict_image(shipped[0], image).digit == 1
    photo, label = seven
    deep = np.asarray(photo, dtype=np.uint16) * 257
    image = Image.frombytes(mode, photo.size, deep.astype(dtype).tobytes())
    assert np.abs(to_grayscale(image, 64) - to_grayscale(photo, 64)).max() < 0.01
    if mode != "I;16N":  # PIL writes no TIFF in native order
        path = tmp_path / "deep.tif"
        image.save(path)
        with Image.open(path) as check:
            assert check.mode in (mode, "I;16")
        assert predict_file(quick_model, path).digit == label


# --- memory: large images are shrunk before any array is made ------------------------------


def test_a_large_16_bit_png_is_shrunk_before_it_becomes_an_array(tmp_path, seven):
    """A 7000² 16-bit PNG used to peak at 1.85 GB: float64 copies of every pixel. Now the
    arrays are float32 at the work size; numpy's allocations (traced by tracemalloc) stay a
    small fraction of even one full-size float32 copy (4000×3000×4 bytes = 48 MB)."""
    photo, label = seven
    path = tmp_path / "big16.png"
    big = photo.resize((4000, 3000), Image.Resampling.BILINEAR)
    Image.fromarray(np.asarray(big, dtype=np.uint16) * 257).save(path, compress_level=1)
    image = open_image(path)
    assert image.mode == "I;16" and image.size == (4000, 3000)
    grey = to_grayscale(image, 256)
    assert grey.dtype == np.float32 and grey.shape == (192, 256)
    assert np.abs(grey - to_grayscale(big, 256)).max() < 0.01  # the same as 8 bits
    tracemalloc.start()
    try:
        found = find_ink(image)
        prepared = preprocess_image(image)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found.ink.dtype == np.float32 and max(found.ink.shape) == 256
    assert peak < 8 * 2**20, f"{peak / 2**20:.1f} MiB"
    assert prepared.tensor.shape == (1, 1, 28, 28)


# --- confident wrong answers -----------------------------------------------------------------


def gradient(kind: str, size: int = 300) -> Image.Image:
    """A smooth gradient, no strokes: left to right, or bright in the middle."""
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    values = xx if kind == "linear" else 1 - np.hypot(xx - 0.5, yy - 0.5) / 0.71
    return Image.fromarray((values * 255).astype(np.uint8))


@pytest.mark.parametrize("kind", ["linear", "radial"])
def test_a_smooth_gradient_is_refused_not_read_as_a_1(tmp_path, kind, shipped, quick_model):
    """The shipped model used to call a grey gradient a 1 at 67%."""
    path = tmp_path / f"{kind}.png"
    gradient(kind).convert("RGB").save(path)
    model, refusal = shipped
    for prediction in (predict_file(model, path, refusal), predict_file(quick_model, path)):
        assert prediction.digit is None
        assert prediction.reason == ("not a digit: no ink found (only a smooth change of "
                                     "brightness, no strokes)")


def test_a_ten_class_model_says_on_every_line_that_it_cannot_refuse(
        tmp_path, quick_checkpoint, seven, capsys):
    """A model made by ``train`` has no class "not a digit": it called a barcode a 4. Every
    prediction from it says so, in JSON and in plain text."""
    photo, label = seven
    good, blank = tmp_path / "seven.png", tmp_path / "blank.png"
    photo.save(good)
    Image.new("L", (100, 100), 255).save(blank)
    assert main(["predict", "--json", "--checkpoint", str(quick_checkpoint), "--device", "cpu",
                 str(good), str(blank)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["prediction"] for r in records] == [label, None]
    assert all(set(r) == PREDICTION_KEYS and r["can_refuse"] is False for r in records)
    assert main(["predict", "--checkpoint", str(quick_checkpoint), "--device", "cpu",
                 str(good)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{good}: {label} (") and "cannot refuse" in line


def test_the_shipped_model_and_a_fitted_threshold_can_refuse(tmp_path, quick_model, seven,
                                                             shipped, capsys):
    """A ten-class checkpoint that stores a refusal threshold (fitted on validation data)
    refuses below it and says it can refuse; the shipped model can, and its plain lines
    carry no caveat."""
    photo, label = seven
    model, refusal = shipped
    assert predict_image(model, photo, "", refusal).can_refuse
    assert predict_image(quick_model, photo, "", Refusal(0.5)).can_refuse
    assert not predict_image(quick_model, photo).can_refuse
    checkpoint = save_checkpoint(tmp_path / "thresholded.pt", quick_model.state_dict(),
                                 arch="fast_cnn", metadata={"refusal_threshold": 0.999999})
    good = tmp_path / "seven.png"
    photo.save(good)
    main(["predict", "--json", "--checkpoint", str(checkpoint), "--device", "cpu", str(good)])
    record = json.loads(capsys.readouterr().out)
    assert record["can_refuse"] is True
    assert record["prediction"] is None and "below 100%" in record["reason"]
    assert main(["predict", "--device", "cpu", str(good)]) == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(rf"{re.escape(str(good))}: {label} \(\d+\.\d%\)", line), line


# --- the ranges users have: arrays, tensors, deep and float images -------------------------


@pytest.fixture(scope="module")
def seven_grey(seven) -> tuple[np.ndarray, int]:
    """The photo of the 7 as grey levels 0..1 (float64), and its label."""
    photo, label = seven
    return np.asarray(photo, dtype=np.float64) / 255.0, label


@pytest.mark.parametrize("convert", [
    pytest.param(lambda g: np.round(g * 255).astype(np.uint8), id="uint8 0..255"),
    pytest.param(lambda g: np.round(g * 255).astype(np.int64), id="int64 0..255"),
    pytest.param(lambda g: g * 255.0, id="float 0..255"),
    pytest.param(lambda g: g * 1000.0, id="float 0..1000"),
    pytest.param(lambda g: g.astype(np.float16), id="float16 0..1"),
    pytest.param(lambda g: np.round(g * 4095).astype(np.uint16), id="uint16 12-bit"),
    pytest.param(lambda g: np.round(g * 1023).astype(np.uint16), id="uint16 10-bit"),
    pytest.param(lambda g: np.round(g * 65535).astype(np.uint16), id="uint16 16-bit"),
    pytest.param(lambda g: np.repeat(np.round(g * 255).astype(np.uint8)[..., None], 3, 2),
                 id="uint8 height×width×3"),
    pytest.param(lambda g: np.dstack([g, g, g, np.ones_like(g)]).astype(np.float32),
                 id="float32 height×width×4 0..1 (plt.imread)"),
])
def test_arrays_are_read_by_their_dtype_and_range(convert, seven_grey, quick_model):
    """``np.asarray(pil_image)`` (0..255) used to be clipped as if it were 0..1."""
    grey, label = seven_grey
    reference = preprocess_image(grey).pixels
    array = convert(grey)
    prepared = preprocess_image(array)
    assert np.abs(prepared.pixels - reference).max() < 0.05
    assert predict_image(quick_model, array).digit == label


@pytest.mark.parametrize("bits", [10, 12])
def test_a_16_bit_png_holding_10_or_12_bit_data_is_read(tmp_path, bits, seven_grey,
                                                        quick_model):
    """It used to be read against 65535, as a nearly black page: "no ink found"."""
    grey, label = seven_grey
    path = tmp_path / f"{bits}bit.png"
    Image.fromarray(np.round(grey * (2 ** bits - 1)).astype(np.uint16)).save(path)
    assert path.read_bytes()[24] == 16, "PNG bit depth"
    assert np.abs(to_grayscale(open_image(path)) - grey).max() < 1e-3
    assert predict_file(quick_model, path).digit == label


def test_a_float_tiff_in_0_to_1000_is_read(tmp_path, seven_grey, quick_model):
    grey, label = seven_grey
    path = tmp_path / "float.tif"
    Image.fromarray((grey * 1000).astype(np.float32)).save(path)
    assert predict_file(quick_model, path).digit == label


def test_nan_pixels_are_paper(seven_grey, shipped, quick_model, tmp_path):
    """One NaN pixel far from the digit used to become a speck of ink, and the shipped model
    refused the 7 ("two digits"); NaN and infinity now count as paper."""
    grey, label = seven_grey
    model, refusal = shipped
    spotted = grey.copy()
    spotted[280, 10] = np.nan  # on the page, far from the digit
    spotted[0, 0] = np.inf
    assert predict_image(model, spotted, "", refusal).digit == label
    path = tmp_path / "nan.tif"
    Image.fromarray(spotted.astype(np.float32)).save(path)
    assert predict_file(model, path, refusal).digit == label
    with pytest.raises(ImageError, match="no valid pixels"):
        predict_image(quick_model, np.full((20, 20), np.nan))


@pytest.mark.parametrize("make", [
    pytest.param(lambda g: torch.tensor(g, requires_grad=True), id="requires grad"),
    pytest.param(lambda g: torch.tensor(g).to(torch.bfloat16), id="bfloat16"),
    pytest.param(lambda g: torch.tensor(g)[None, None].half(), id="1×1×H×W float16"),
    pytest.param(lambda g: torch.tensor(np.round(g * 255).astype(np.uint8)), id="uint8"),
])
def test_tensors_from_a_notebook_just_work(make, seven_grey, quick_model):
    grey, label = seven_grey
    assert predict_image(quick_model, make(grey)).digit == label


@pytest.mark.parametrize("image, error, fragment", [
    ("seven.png", TypeError, "image must be a PIL image"),
    (Path("seven.png"), TypeError, "predict_file"),
    ([[0, 1], [1, 0]], TypeError, "not list"),
    (torch.zeros(28, 28, device="meta"), ValueError, "image is a meta tensor"),
    (np.zeros((2, 3, 28, 28)), ValueError, "not an array of shape (2, 3, 28, 28)"),
    (np.array([["a", "b"]]), TypeError, "image must hold numbers"),
    (np.full((5, 5, 3), 300.0), ValueError, "colour array must be uint8"),
])
def test_wrong_images_are_clear_errors_naming_the_argument(image, error, fragment,
                                                            quick_model):
    with pytest.raises(error) as raised:
        predict_image(quick_model, image)
    assert fragment in str(raised.value)


def test_wrong_arguments_are_clear_errors(quick_model, seven):
    photo, _ = seven
    with pytest.raises(TypeError, match="model must be a torch nn.Module"):
        predict_image("model.pt", photo)
    with pytest.raises(TypeError, match="refusal must be a Refusal"):
        predict_image(quick_model, photo, "", 0.5)
    with pytest.raises(TypeError, match="paths must be a file or folder name"):
        predict_files(quick_model, 42)
    with pytest.raises(TypeError, match="paths must hold file or folder names"):
        predict_files(quick_model, [photo])  # at once, not when the first result is asked


def test_one_path_given_alone_is_one_path(tmp_path, seven, quick_model):
    """``predict_files(model, "a.png")`` used to go through the name letter by letter."""
    photo, label = seven
    path = tmp_path / "a.png"
    photo.save(path)
    for given in (str(path), path, os.fsencode(path)):
        results = list(predict_files(quick_model, given))
        assert len(results) == 1 and results[0].digit == label
        assert results[0].path == str(path)


# --- one JSON schema per kind of line ------------------------------------------------------


def test_every_prediction_line_has_the_same_keys(tmp_path, seven, capsys):
    """A digit, a refusal by the model, a blank page and a gradient: the same five keys, ten
    probabilities or (no ink, no model asked) null; a file that cannot be used: path and
    error."""
    from mnist_helpers.nondigits import TEST_FONTS, draw_nondigit, load_fonts

    photo, label = seven
    paths = [tmp_path / name for name in ("seven.png", "word.png", "blank.png", "ramp.png",
                                          "missing.png")]
    photo.save(paths[0])
    word = draw_nondigit("word", np.random.default_rng(0), load_fonts(TEST_FONTS), size=160)
    Image.fromarray((word * 255).astype(np.uint8)).save(paths[1])
    Image.new("L", (100, 100), 255).save(paths[2])
    gradient("linear").save(paths[3])
    assert main(["predict", "--json", "--device", "cpu", *map(str, paths)]) == 1
    digit, word, blank, ramp, missing = map(json.loads, capsys.readouterr().out.splitlines())
    for record in (digit, word, blank, ramp):
        assert set(record) == PREDICTION_KEYS and record["can_refuse"] is True
    assert digit["prediction"] == label and digit["reason"] is None
    assert word["prediction"] is None and word["reason"].startswith("not a digit (")
    for record in (digit, word):
        assert len(record["probabilities"]) == 10
        assert all(isinstance(p, float) for p in record["probabilities"])
    for record in (blank, ramp):
        assert record["probabilities"] is None and record["prediction"] is None
        assert record["reason"].startswith("not a digit: no ink found")
    assert set(missing) == {"path", "error"} and "no such file" in missing["error"]


def test_blurry_low_resolution_digits_are_not_taken_for_gradients(test_tensors):
    """A small scan: MNIST test digits shrunk to 8×8 and drawn at 64×64 (bilinear) are soft
    everywhere, yet they have strokes: the gradient rule must let every one through."""
    from mnist_helpers.preprocess import preprocess_image

    for digit in test_tensors.pixels[:200].numpy():
        small = Image.fromarray(255 - digit).resize((8, 8), Image.Resampling.BOX)
        preprocess_image(small.resize((64, 64), Image.Resampling.BILINEAR))  # no NoInkError
