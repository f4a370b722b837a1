"""Shared fixtures: where the real MNIST files are, a private cache, tensors, a tiny model.

The four original ``.gz`` files are read in place and never written to. Everything the
tests extract, export or train goes under pytest's temporary folders, so the suite depends
neither on the project's ``data/`` folder nor on the network.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_helpers import (
    TensorBatches,
    build_model,
    fit,
    get_profile,
    load_tensors,
    prepare_mnist,
    save_checkpoint,
    seed_everything,
)
from mnist_helpers.download import RAW_FILES
from mnist_helpers.drawing import darkened

REPO = Path(__file__).resolve().parent.parent
RAW_NAMES = [name for name, _ in RAW_FILES]


def _holds_raw_files(folder: Path) -> bool:
    return all((folder / name).is_file() for name in RAW_NAMES)


@pytest.fixture(scope="session")
def mnist_raw_dir() -> Path:
    """The folder with the original MNIST files, as a user would name it.

    ``$MNIST_DATA_DIR`` (the four ``.gz`` files directly in it, or below it in
    ``MNIST/raw/``), else the shared copy beside the repository; skip if there is none.
    """
    chosen = os.environ.get("MNIST_DATA_DIR")
    if chosen:
        folder = Path(chosen).expanduser().resolve()
        if not (_holds_raw_files(folder) or _holds_raw_files(folder / "MNIST" / "raw")):
            pytest.skip(
                f"MNIST_DATA_DIR={chosen} holds neither the four MNIST .gz files "
                f"({', '.join(RAW_NAMES)}) nor a MNIST/raw/ folder with them"
            )
        return folder
    shared = (REPO / ".." / "shared" / "data" / "MNIST" / "raw").resolve()
    if shared.is_dir() and _holds_raw_files(shared):
        return shared
    pytest.skip(
        "no MNIST data for the tests: set MNIST_DATA_DIR to a folder holding the four "
        f"original .gz files ({', '.join(RAW_NAMES)}), or put them in {shared}"
    )


@pytest.fixture(scope="session")
def raw_gz_dir(mnist_raw_dir: Path) -> Path:
    """The folder that directly holds the four ``.gz`` files."""
    if _holds_raw_files(mnist_raw_dir):
        return mnist_raw_dir
    return mnist_raw_dir / "MNIST" / "raw"


@pytest.fixture(scope="session")
def mnist_cache(tmp_path_factory: pytest.TempPathFactory, mnist_raw_dir: Path) -> Path:
    """A private cache with the uncompressed files, shared by the whole session: the
    ``data/`` folder of a workspace of its own."""
    cache = tmp_path_factory.mktemp("mnist-workspace") / "data"
    return prepare_mnist(mnist_raw_dir, download=False, cache_dir=cache)


@pytest.fixture(scope="session")
def train_tensors(mnist_raw_dir: Path, mnist_cache: Path):
    return load_tensors(True, mnist_raw_dir, cache_dir=mnist_cache, download=False)


@pytest.fixture(scope="session")
def small_train(train_tensors):
    """The first 1,000 training images: enough for a model to learn something in seconds."""
    return train_tensors.subset(slice(0, 1000))


@pytest.fixture(scope="session")
def small_val(train_tensors):
    """500 images from the end of the training set, never in ``small_train``."""
    return train_tensors.subset(slice(59_000, 59_500))


@pytest.fixture(scope="session")
def test_tensors(mnist_raw_dir: Path, mnist_cache: Path):
    return load_tensors(False, mnist_raw_dir, cache_dir=mnist_cache, download=False)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
                       ) -> None:
    """Device and profile choices from the caller's shell must not leak into the tests, and
    nothing a test does may write into the repository: the workspace (data, models, outputs)
    is a temporary folder unless a test sets another."""
    monkeypatch.delenv("MNIST_DEVICE", raising=False)
    monkeypatch.delenv("MNIST_PROFILE", raising=False)
    monkeypatch.setenv("MNIST_WORKSPACE", str(tmp_path_factory.getbasetemp() / "workspace"))


@pytest.fixture
def private_default_data_dir(monkeypatch: pytest.MonkeyPatch, mnist_cache: Path) -> Path:
    """Make the workspace the one whose ``data/`` is the session's cache, for code paths that
    have no ``cache_dir`` argument."""
    monkeypatch.setenv("MNIST_WORKSPACE", str(mnist_cache.parent))
    return mnist_cache


@pytest.fixture(scope="session")
def quick_model(train_tensors, test_tensors) -> torch.nn.Module:
    """A fast_cnn trained for one epoch on 5,000 images (a few seconds on a CPU; ~94%)."""
    profile = get_profile("quick").with_overrides(batch_size=100, lr=0.1, epochs=1)
    seed_everything(0)
    model = build_model("fast_cnn")
    train = TensorBatches(train_tensors.subset(slice(0, 5000)), 100, shuffle=True, seed=0)
    val = TensorBatches(train_tensors.subset(slice(59000, 60000)), 500)
    fit(model, train, val, profile, device="cpu", verbose=False)
    return model.eval()


@pytest.fixture(scope="session")
def quick_checkpoint(tmp_path_factory: pytest.TempPathFactory, quick_model) -> Path:
    """``quick_model`` saved as a checkpoint file."""
    path = tmp_path_factory.mktemp("checkpoints") / "quick.pt"
    return save_checkpoint(path, quick_model.state_dict(), arch="fast_cnn",
                           metadata={"epochs": 1, "seed": 0, "profile": {"name": "quick"}})


@pytest.fixture
def unprivileged() -> list[str]:
    """A prefix that runs a command without the power to ignore file permissions: nothing as
    a normal user, and as root ``setpriv`` dropping the capabilities that let root read and
    write anything. Skips the test where neither is possible."""
    if os.name != "posix":
        pytest.skip("file permission tests need a POSIX system")
    if os.geteuid() != 0:
        return []
    import shutil

    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop the right to ignore "
                    "file permissions")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


def digit_photo(pixels: np.ndarray, *, size: int = 200, page: tuple[int, int] = (400, 300),
                offset: tuple[int, int] = (150, 60), ink: int = 20, paper: int = 245
                ) -> Image.Image:
    """An MNIST digit (28×28 uint8, white on black) as dark ink on a white page: inverted,
    enlarged to ``size``×``size`` and pasted off-centre at ``offset`` on a ``page``."""
    big = Image.fromarray(np.asarray(pixels, dtype=np.uint8)).resize(
        (size, size), Image.Resampling.BILINEAR)
    digit = darkened(float(paper), np.asarray(big, dtype=np.float64) / 255.0, ink)
    canvas = np.full((page[1], page[0]), float(paper))
    x, y = offset
    canvas[y: y + size, x: x + size] = digit
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), mode="L")


@pytest.fixture(scope="session")
def photo_of() -> Callable[..., Image.Image]:
    """:func:`digit_photo`, for test modules."""
    return digit_photo
