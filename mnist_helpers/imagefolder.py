"""MNIST as folders of PNG files, the layout ``torchvision.datasets.ImageFolder`` reads::

    Dataset/train/0/00001.png ... Dataset/train/9/...
    Dataset/test/0/...        ... Dataset/test/9/...

It is how many image projects keep labelled images, one folder per class, and the layout to
use for your own.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from PIL import Image
from torchvision import datasets
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension
from torchvision.transforms import v2

from . import config
from .config import MNIST_MEAN, MNIST_STD
from .data import load_mnist
from .errors import MNISTDataError
from .files import atomic_write

SPLITS = {"train": True, "test": False}


def export_imagefolder(
    root: str | os.PathLike | None = None,
    *,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
) -> dict[str, int]:
    """Write MNIST (the first ``limit`` images of each split, or all) as PNG folders.

    Idempotent and safe to interrupt: each PNG is written under a temporary name and renamed,
    files already there are kept, so a rerun only writes what is missing. Returns the number
    of images now present per split.
    """
    root = Path(root) if root is not None else config.imagefolder_dir()
    counts: dict[str, int] = {}
    for split, train in SPLITS.items():
        dataset = load_mnist(train, data_dir)
        n = len(dataset) if limit is None else min(limit, len(dataset))
        for label in range(10):
            (root / split / str(label)).mkdir(parents=True, exist_ok=True)
        pixels, labels = dataset.data[:n].numpy(), dataset.targets[:n].tolist()
        for index, label in enumerate(labels):
            target = root / split / str(label) / f"{index:05d}.png"
            if target.exists():
                continue
            # Hidden and not ".png" until renamed: a leftover from a killed run is never
            # counted or read as an image.
            with atomic_write(target) as out:
                Image.fromarray(pixels[index], mode="L").save(out, format="PNG")
        counts[split] = sum(1 for p in (root / split).glob("*/*.png")
                            if not p.name.startswith("."))
    return counts


def imagefolder_transform(normalize: bool = True) -> v2.Compose:
    """The usual pipeline for folders of images: Grayscale → Resize(28×28) → tensor in
    [0, 1] → Normalize."""
    steps: list = [
        v2.Grayscale(num_output_channels=1),
        v2.Resize((28, 28), antialias=True),
        v2.ToImage(),
        v2.ToDtype(torch.float32, scale=True),
    ]
    if normalize:
        steps.append(v2.Normalize([MNIST_MEAN], [MNIST_STD]))
    return v2.Compose(steps)


def load_imagefolder(
    split: str = "train", root: str | os.PathLike | None = None, *, normalize: bool = True
) -> datasets.ImageFolder:
    """``ImageFolder`` over ``<root>/<split>`` with :func:`imagefolder_transform`."""
    root = Path(root) if root is not None else config.imagefolder_dir()
    folder = root / split
    if not folder.is_dir():
        raise MNISTDataError(
            f"No ImageFolder at {folder}. Create it with export_imagefolder({str(root)!r}), "
            f"or arrange your images as {folder}/<digit>/<image>.png."
        )
    # Hidden files (temporary files of an interrupted export) are skipped; a digit folder
    # with no images (a small export limit) is allowed, so labels stay the folder names.
    return datasets.ImageFolder(
        str(folder), transform=imagefolder_transform(normalize), is_valid_file=_is_image_file,
        allow_empty=True,
    )


def _is_image_file(path: str) -> bool:
    return not Path(path).name.startswith(".") and has_file_allowed_extension(
        path, IMG_EXTENSIONS
    )
