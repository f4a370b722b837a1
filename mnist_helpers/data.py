"""MNIST as PyTorch data: the classic dataset + ``DataLoader`` pipeline, and the fast one.

* **The classic pipeline** (PyTorch's own MNIST example and most tutorials):
  ``torchvision.datasets.MNIST`` turns each image into a tensor through a chain of transforms
  when it is asked for, and a ``DataLoader`` collects them into batches
  (:func:`load_mnist`, :func:`mnist_transform`, :func:`classic_loader`).
* **The fast path:** a whole split held in memory as one tensor of bytes (47 MB for the
  60,000 training images), on the training device; a batch is cut by indexing and turned into
  normalised floats only then (:func:`load_tensors`, :class:`TensorBatches`). Same numbers,
  no per-image Python work, and 4× less memory than keeping floats. It reads the verified
  files itself and never imports torchvision, which would add 190 MiB and over a second.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from .config import MNIST_MEAN, MNIST_STD, NOT_A_DIGIT, normalize_scaled
from .device import seeded_generator
from .download import prepare_mnist
from .errors import ConfigError, MNISTDataError

#: The four unpacked files of each split: (images, labels).
SPLIT_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def load_mnist(train: bool, data_dir: str | os.PathLike | None = None, *, transform=None,
               download: bool = True, cache_dir: str | os.PathLike | None = None):
    """``torchvision.datasets.MNIST`` for the training (``train=True``) or test split, from
    verified files (see :func:`mnist_helpers.download.prepare_mnist`)."""
    from torchvision import datasets

    root = prepare_mnist(data_dir, download=download, cache_dir=cache_dir)
    try:
        return datasets.MNIST(root=str(root), train=train, transform=transform, download=False)
    except (OSError, RuntimeError, AssertionError) as exc:
        raise MNISTDataError(f"Could not read MNIST from {root}: {exc}") from exc


def mnist_transform(normalize: bool = True):
    """The classic per-image transform (a torchvision ``v2.Compose``): PIL/uint8 image ->
    float tensor 1×28×28 in [0, 1], then normalised with the training set's mean and
    standard deviation."""
    from torchvision.transforms import v2

    steps: list = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    if normalize:
        steps.append(v2.Normalize([MNIST_MEAN], [MNIST_STD]))
    return v2.Compose(steps)


def classic_loader(dataset: torch.utils.data.Dataset, batch_size: int, *,
                   indices: torch.Tensor | None = None, shuffle: bool = False, seed: int = 0,
                   pin_memory: bool = False) -> DataLoader:
    """A ``DataLoader`` over (a subset of) a dataset with per-image transforms.

    It loads in the main process (``num_workers=0``), so it works for any dataset, wherever it
    is defined: worker processes are started with *spawn* on Windows and macOS, and there they
    cannot re-import a dataset class defined in a notebook. ``pin_memory`` keeps batches in
    page-locked memory, so copies to a GPU can overlap.
    """
    if indices is not None:
        dataset = Subset(dataset, indices.tolist())
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=0,
                      generator=seeded_generator(seed) if shuffle else None,
                      pin_memory=pin_memory)


def normalize_images(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 images N×28×28 (0..255) -> float32 N×1×28×28, scaled to [0, 1] and normalised:
    what :func:`mnist_transform` does to one image, done to a whole batch at once."""
    return normalize_scaled(pixels.unsqueeze(1).to(torch.float32).div_(255))


@dataclass
class MNISTTensors:
    """A whole split in memory: ``pixels`` N×28×28 uint8 (as in the files), ``labels`` N int64."""

    pixels: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, indices: torch.Tensor | slice | list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """The images at ``indices``, normalised (N×1×28×28 float32), and their labels."""
        if isinstance(indices, list):
            indices = torch.tensor(indices, dtype=torch.long)
        if isinstance(indices, torch.Tensor):
            indices = indices.to(self.labels.device)
        return normalize_images(self.pixels[indices]), self.labels[indices]

    def subset(self, indices: torch.Tensor | slice) -> MNISTTensors:
        """The images and labels at ``indices``."""
        if isinstance(indices, torch.Tensor):
            indices = indices.to(self.labels.device)
        return MNISTTensors(self.pixels[indices], self.labels[indices])

    def to(self, device: torch.device | str) -> MNISTTensors:
        """The same split on ``device``."""
        return MNISTTensors(self.pixels.to(device), self.labels.to(device))

    def concat(self, other: MNISTTensors) -> MNISTTensors:
        """This split followed by ``other``."""
        return MNISTTensors(torch.cat([self.pixels, other.pixels.to(self.pixels.device)]),
                            torch.cat([self.labels, other.labels.to(self.labels.device)]))

    def with_extra(self, pixels: torch.Tensor, label: int = NOT_A_DIGIT) -> MNISTTensors:
        """This split and more images ``pixels`` (uint8 N×28×28), all labelled ``label``
        (``config.NOT_A_DIGIT`` or ``config.TWO_DIGITS``)."""
        return self.concat(MNISTTensors(pixels, torch.full((len(pixels),), label,
                                                            dtype=self.labels.dtype)))


def load_tensors(train: bool, data_dir: str | os.PathLike | None = None, *,
                 device: torch.device | str = "cpu", cache_dir: str | os.PathLike | None = None,
                 download: bool = True) -> MNISTTensors:
    """The fast path: one split as tensors on ``device``, read once.

    The unpacked files have just been verified byte for byte, so their layout is known: a
    16-byte header, then 28×28 bytes per image; an 8-byte header, then a byte per label.
    """
    raw = prepare_mnist(data_dir, download=download, cache_dir=cache_dir) / "MNIST" / "raw"
    images, labels = (raw / name for name in SPLIT_FILES[train])
    pixels = torch.from_numpy(np.fromfile(images, dtype=np.uint8, offset=16)).view(-1, 28, 28)
    targets = torch.from_numpy(np.fromfile(labels, dtype=np.uint8, offset=8)).long()
    return MNISTTensors(pixels.to(device), targets.to(device))


class TensorBatches:
    """Batches of an in-memory split, by indexing (no per-image Python work).

    Iterating gives ``(images, labels)`` pairs, the images normalised as they are cut; with
    ``shuffle`` the order is a fresh permutation each pass, drawn from a generator seeded with
    ``seed`` (so repeatable).
    """

    def __init__(self, data: MNISTTensors, batch_size: int, *, shuffle: bool = False,
                 seed: int = 0, drop_last: bool = False) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.dataset = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = seeded_generator(seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
        for b in range(len(self)):
            part = slice(b * self.batch_size, min((b + 1) * self.batch_size, n))
            yield self.dataset.batch(order[part] if self.shuffle else part)


def split_indices(n: int, val_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A deterministic shuffle of ``range(n)`` cut into (train indices, validation indices)."""
    if not 0 <= val_size < n:
        raise ConfigError(f"val_size must be between 0 and {n - 1}, got {val_size}")
    order = torch.randperm(n, generator=seeded_generator(seed))
    return order[val_size:], order[:val_size]


class Batches(Protocol):
    """What training reads: ``(images, labels)`` batches that know how many they are, cut
    from ``dataset`` (a :class:`TensorBatches` or a ``DataLoader`` is one)."""

    @property
    def dataset(self) -> Any:
        """The images the batches are cut from."""

    def __len__(self) -> int:
        """The number of batches in one pass."""

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One pass over the batches."""


@dataclass
class TrainingData:
    """The three splits of a run, as batch iterables (and, for a profile with a "not a
    digit" class, validation non-digits and validation digits drawn as pictures, kept apart
    so epochs are chosen on MNIST's own digits)."""

    train: Batches
    val: TensorBatches
    test: TensorBatches
    val_nondigits: MNISTTensors | None = None
    val_pictures: MNISTTensors | None = None


def compute_mean_std(pixels: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of uint8 images after scaling to [0, 1]."""
    scaled = pixels.double() / 255.0
    return scaled.mean().item(), scaled.std().item()


def images_per_second(batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                      max_images: int | None = None) -> float:
    """How fast ``batches`` delivers images (a pass over it, or its first ``max_images``)."""
    seen = 0
    started = time.perf_counter()
    for images, _ in batches:
        seen += len(images)
        if max_images is not None and seen >= max_images:
            break
    return seen / max(time.perf_counter() - started, 1e-9)
