"""Constants every layer shares (how pixels are normalised, which output means which class),
the environment variables we read, and where files live.

Where files live (all of it below one *workspace* folder, see :func:`workspace`)::

    <workspace>/data/      MNIST, downloaded on first use (unless MNIST_DATA_DIR names a folder)
    <workspace>/models/    checkpoints: mnist_cnn.pt (default profile), mnist_cnn_<profile>.pt
    <workspace>/Dataset/   MNIST exported as PNG folders (notebook 01)
    <workspace>/build/     executed notebooks and other outputs

The workspace is the repository when the package is used from a clone, else a folder
``mnist-workspace`` in the current working directory (or ``$MNIST_WORKSPACE``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError

if TYPE_CHECKING:
    import torch

#: Mean and standard deviation of the 60,000 training images' pixels, scaled to [0, 1].
#: ``mnist_helpers.data.compute_mean_std`` recomputes them; a test checks that they agree.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
#: What a blank (black) pixel becomes after normalisation.
BACKGROUND = -MNIST_MEAN / MNIST_STD


def normalize_scaled(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] (N×1×28×28) -> normalised with MNIST's mean and std, in place."""
    return images.sub_(MNIST_MEAN).div_(MNIST_STD)


# The classes, in one place. A model's outputs 0-9 are the digits; a 12-class model (the
# shipped one) has two more, for pictures it should refuse to read as one digit.
#: The ten digit classes.
DIGITS = tuple(range(10))
#: The outputs that are digits: ``probabilities[:, DIGIT_OUTPUTS]`` (any model has them first).
DIGIT_OUTPUTS = slice(0, len(DIGITS))
#: The class of pictures that are no digit at all (letters, symbols, doodles, noise).
NOT_A_DIGIT = 10
#: The class of two digits side by side, touching or nearly (the number reader cuts such a
#: piece in two).
TWO_DIGITS = 11
#: A name for every class, by its index.
CLASS_NAMES = (*map(str, DIGITS), "not a digit", "two digits")

DATA_DIR_ENV = "MNIST_DATA_DIR"  # a folder holding the four MNIST files (only read)
PROFILE_ENV = "MNIST_PROFILE"  # quick | default | robust | best
DEVICE_ENV = "MNIST_DEVICE"  # cpu | cuda | cuda:N | mps | auto
WORKSPACE_ENV = "MNIST_WORKSPACE"  # where data, models and outputs go

PACKAGE_DIR = Path(__file__).resolve().parent


def setting(name: str) -> str | None:
    """The environment variable ``name`` without surrounding spaces, or None when it is not
    set; set but empty (or only spaces) is a :class:`ConfigError`, never a silent default."""
    value = os.environ.get(name)
    if value is None:
        return None
    if not value.strip():
        raise ConfigError(f"{name} is set but {'empty' if not value else 'blank'}: unset it "
                          "(to use the default) or give it a value.")
    return value.strip()


def repository_root() -> Path | None:
    """The clone this package was imported from, or ``None`` when it is installed normally."""
    root = PACKAGE_DIR.parent
    pyproject = root / "pyproject.toml"
    if (root / "notebooks").is_dir() and pyproject.is_file() and (
            'name = "mnist-helpers"' in pyproject.read_text(encoding="utf-8")):
        return root
    return None


def workspace() -> Path:
    """``$MNIST_WORKSPACE``, else the repository, else ``./mnist-workspace``."""
    chosen = os.environ.get(WORKSPACE_ENV)
    if chosen is not None:
        setting(WORKSPACE_ENV)  # set but blank: refused
        if chosen != chosen.strip():
            raise ConfigError(f"{WORKSPACE_ENV}={chosen!r} starts or ends with spaces: "
                              "write the folder's name without them.")
        folder = Path(chosen).expanduser().resolve()
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"{WORKSPACE_ENV}={chosen} is not a folder: name a folder (it is "
                              "made if it does not exist).")
        return folder
    return repository_root() or Path.cwd().resolve() / "mnist-workspace"


def data_dir() -> Path:
    """Where MNIST is downloaded to and unpacked: ``<workspace>/data``."""
    return workspace() / "data"


def models_dir() -> Path:
    """Where checkpoints go: ``<workspace>/models``."""
    return workspace() / "models"


def imagefolder_dir() -> Path:
    """Where MNIST is exported as PNG folders: ``<workspace>/Dataset``."""
    return workspace() / "Dataset"


def build_dir() -> Path:
    """Where executed notebooks and other outputs go: ``<workspace>/build``."""
    return workspace() / "build"


def shipped_checkpoint_path() -> Path:
    """The model that ships inside the package, so prediction works right after install."""
    return PACKAGE_DIR / "weights" / "mnist_robust.pt"


def sample_images_dir() -> Path:
    """The 30 sample images that ship inside the package (pen, font and photo of each digit)."""
    return PACKAGE_DIR / "sample_images"
