"""Getting MNIST onto the machine and into tensors.

Where the data lives, in order: an explicit ``data_dir`` argument, else the environment
variable ``MNIST_DATA_DIR``, else ``data/`` in the repository. A folder holding the four
original ``.gz`` files, directly or under ``MNIST/raw/``, works with no network at all.
Files that are missing are downloaded (working mirror first), every ``.gz`` is checked
against torchvision's MD5 before use, and the uncompressed files torchvision reads are
written atomically into the project's own data folder only, so a read-only source folder is
never touched and an interrupted run leaves nothing half-written behind.

Two ways to feed a model, both used in the notebooks:

* the classic one, as the seeds do: ``torchvision.datasets.MNIST`` with per-sample
  transforms and a ``DataLoader`` (:func:`classic_loader`);
* the fast one: a whole split held as one normalised tensor on the chosen device, batches
  built by indexing (:func:`load_tensors`, :class:`TensorBatches`).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Subset
from torchvision import datasets
from torchvision.datasets.utils import download_url
from torchvision.transforms import v2

from .files import atomic_write

DATA_DIR_ENV = "MNIST_DATA_DIR"

#: Mean and standard deviation of the 60,000 training images' pixels, scaled to [0, 1].
#: :func:`compute_mean_std` recomputes them; a test checks that they agree.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

#: The four original files and their MD5 sums, as torchvision publishes them.
RAW_FILES: tuple[tuple[str, str], ...] = tuple(datasets.MNIST.resources)

#: Sizes of the original ``.gz`` files, to say how far off a damaged file is.
RAW_SIZES = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}

#: Sizes of the uncompressed IDX files: header + one byte per pixel or label.
EXTRACTED_SIZES = {
    "train-images-idx3-ubyte": 16 + 60_000 * 28 * 28,
    "train-labels-idx1-ubyte": 8 + 60_000,
    "t10k-images-idx3-ubyte": 16 + 10_000 * 28 * 28,
    "t10k-labels-idx1-ubyte": 8 + 10_000,
}

_WORKING_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
#: Download mirrors, the one that works today first (torchvision's own order starts, in some
#: versions, with a host that now answers 403/404), then torchvision's others as fallbacks.
MIRRORS: tuple[str, ...] = (_WORKING_MIRROR,) + tuple(
    m for m in datasets.MNIST.mirrors if m.rstrip("/") != _WORKING_MIRROR.rstrip("/")
)


class MNISTDataError(RuntimeError):
    """MNIST could not be found, downloaded or read; the message says what to do."""


def project_root() -> Path:
    """The repository folder (the one with ``pyproject.toml``), else the current directory."""
    candidate = Path(__file__).resolve().parent.parent
    return candidate if (candidate / "pyproject.toml").is_file() else Path.cwd()


def default_data_dir() -> Path:
    """``data/`` in the repository: where downloads and extracted files go."""
    return project_root() / "data"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder to read MNIST from: ``data_dir``, else ``$MNIST_DATA_DIR``, else ``data/``."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    return Path(chosen).expanduser().resolve() if chosen else default_data_dir()


def _raw_names() -> list[str]:
    return [name for name, _ in RAW_FILES]


def _manual_instructions(data_dir: Path) -> str:
    files = "\n".join(f"    {name}  (md5 {md5})" for name, md5 in RAW_FILES)
    return (
        "To set MNIST up by hand, get the four original files:\n"
        f"{files}\n"
        f"and put them in {data_dir / 'MNIST' / 'raw'} (or in any folder F, then set "
        f"{DATA_DIR_ENV}=F or pass data_dir=F). They are read in place; nothing is written "
        "to F."
    )


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _find_source(folder: Path) -> Path | None:
    """The folder among ``folder`` and ``folder/MNIST/raw`` that holds all four ``.gz`` files."""
    for candidate in (folder, folder / "MNIST" / "raw"):
        if all((candidate / name).is_file() for name in _raw_names()):
            return candidate
    return None


def _extracted_ok(folder: Path) -> bool:
    return all(
        (folder / name).is_file() and (folder / name).stat().st_size == size
        for name, size in EXTRACTED_SIZES.items()
    )


def _found_elsewhere(folder: Path) -> list[Path]:
    """Folders below ``folder`` (three levels at most) that hold MNIST ``.gz`` files."""
    hits: set[Path] = set()
    if folder.is_dir():
        for depth in ("*", "*/*", "*/*/*"):
            for name in _raw_names():
                hits.update(p.parent for p in folder.glob(f"{depth}/{name}"))
    return sorted(hits)


def verify_raw_file(path: Path, md5: str) -> None:
    """Raise :class:`MNISTDataError`, naming ``path`` and the fix, if its MD5 is not ``md5``."""
    actual = _md5(path)
    if actual != md5:
        size = path.stat().st_size
        expected_size = RAW_SIZES.get(path.name)
        size_note = f"{size:,} bytes" + (
            f", expected {expected_size:,}" if expected_size is not None else ""
        )
        raise MNISTDataError(
            f"MNIST file {path} is corrupted or incomplete ({size_note}; md5 {actual}, "
            f"expected {md5}). Delete it and run again to download it afresh, or replace it "
            "with a good copy of the original file."
        )


def download_mnist(
    dest: str | os.PathLike,
    mirrors: Sequence[str] = MIRRORS,
    names: Sequence[str] | None = None,
) -> None:
    """Download the missing original ``.gz`` files into ``dest``, trying ``mirrors`` in order.

    Each file lands under a temporary name, is checked against its MD5 and only then moved
    into place, so an interrupted download leaves nothing that looks complete.
    """
    dest = Path(dest)
    wanted = set(names) if names is not None else set(_raw_names())
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MNISTDataError(
            f"Cannot create {dest} to download MNIST into ({exc}).\n" + _manual_instructions(dest)
        ) from exc
    for name, md5 in RAW_FILES:
        if name not in wanted or (dest / name).is_file():
            continue
        failures = []
        for mirror in mirrors:
            url = f"{mirror.rstrip('/')}/{name}"
            with tempfile.TemporaryDirectory(dir=dest, prefix=".download-") as tmp:
                try:
                    download_url(url, root=tmp, filename=name, md5=md5)
                except Exception as exc:  # noqa: BLE001 - every failure is reported below
                    failures.append(f"  {url}: {type(exc).__name__}: {exc}")
                    continue
                os.replace(Path(tmp) / name, dest / name)
                break
        else:
            tried = "\n".join(failures)
            raise MNISTDataError(
                f"Could not download {name} from any mirror. Tried:\n{tried}\n"
                + _manual_instructions(dest.parent.parent if dest.name == "raw" else dest)
            )


def _extract_atomically(source: Path, target: Path) -> None:
    with gzip.open(source, "rb") as src, atomic_write(target) as out:
        shutil.copyfileobj(src, out, 1 << 20)


def prepare_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    download: bool = True,
    cache_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] = MIRRORS,
) -> Path:
    """Make sure MNIST is readable and return the root to give ``torchvision.datasets.MNIST``.

    ``data_dir`` is where the ``.gz`` files are looked for (see :func:`resolve_data_dir`);
    missing files are downloaded into ``<data_dir>/MNIST/raw`` when ``download`` is true. The
    uncompressed files go to ``cache_dir`` (default: the project's ``data/``), never to a
    folder the user named. Every problem raises :class:`MNISTDataError` saying what to do.
    """
    folder = resolve_data_dir(data_dir)
    cache_root = Path(cache_dir).resolve() if cache_dir is not None else default_data_dir()
    cache_raw = cache_root / "MNIST" / "raw"

    # Already usable: torchvision's layout in the named folder, or files extracted earlier.
    if _extracted_ok(folder / "MNIST" / "raw"):
        return folder
    if _extracted_ok(cache_raw):
        return cache_root

    source = _find_source(folder)
    if source is None:
        elsewhere = _found_elsewhere(folder)
        if elsewhere:
            places = ", ".join(str(p) for p in elsewhere)
            raise MNISTDataError(
                f"MNIST files were found in {places}, but not where they are expected: directly "
                f"in {folder} or in {folder / 'MNIST' / 'raw'}. Point {DATA_DIR_ENV} (or "
                f"data_dir) at the folder that holds all four files, or move them."
            )
        present = [n for n in _raw_names() if (folder / n).is_file()]
        present += [n for n in _raw_names() if (folder / "MNIST" / "raw" / n).is_file()]
        if not download:
            missing = sorted(set(_raw_names()) - set(present))
            raise MNISTDataError(
                f"MNIST is not in {folder} (missing: {', '.join(missing)}) and downloading is "
                "switched off.\n" + _manual_instructions(folder)
            )
        source = folder / "MNIST" / "raw"
        download_mnist(source, mirrors=mirrors)

    for name, md5 in RAW_FILES:
        verify_raw_file(source / name, md5)
    for name, size in EXTRACTED_SIZES.items():
        target = cache_raw / name
        if target.is_file() and target.stat().st_size == size:
            continue
        try:
            _extract_atomically(source / f"{name}.gz", target)
        except OSError as exc:
            raise MNISTDataError(
                f"Could not write the uncompressed MNIST file {target} ({exc}). Make sure "
                f"{cache_root} is writable and has ~60 MB free."
            ) from exc
    return cache_root


def mnist_transform(normalize: bool = True) -> v2.Compose:
    """Per-sample transform for the classic path: PIL/uint8 image -> float tensor 1x28x28."""
    steps: list = [v2.ToImage(), v2.ToDtype(torch.float32, scale=True)]
    if normalize:
        steps.append(v2.Normalize([MNIST_MEAN], [MNIST_STD]))
    return v2.Compose(steps)


def load_mnist(
    train: bool,
    data_dir: str | os.PathLike | None = None,
    *,
    transform=None,
    download: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> datasets.MNIST:
    """``torchvision.datasets.MNIST`` for the training (``train=True``) or test split."""
    root = prepare_mnist(data_dir, download=download, cache_dir=cache_dir)
    return datasets.MNIST(root=str(root), train=train, transform=transform, download=False)


def split_indices(n: int, val_size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A deterministic shuffle of ``range(n)`` cut into (train indices, validation indices)."""
    if not 0 <= val_size < n:
        raise ValueError(f"val_size must be between 0 and {n - 1}, got {val_size}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[val_size:], order[:val_size]


def classic_loader(
    dataset: torch.utils.data.Dataset,
    batch_size: int,
    *,
    indices: torch.Tensor | None = None,
    shuffle: bool = False,
    seed: int = 0,
    num_workers: int = 0,
) -> DataLoader:
    """The seeds' way: a ``DataLoader`` over (a subset of) a dataset with per-sample transforms."""
    if indices is not None:
        dataset = Subset(dataset, indices.tolist())
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed) if shuffle else None,
        num_workers=num_workers,
    )


@dataclass
class MNISTTensors:
    """A whole split in memory: ``images`` N×1×28×28 float32 (normalised), ``labels`` N int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: torch.Tensor | slice) -> MNISTTensors:
        """The images and labels at ``indices``."""
        if isinstance(indices, torch.Tensor):
            indices = indices.to(self.labels.device)
        return MNISTTensors(self.images[indices], self.labels[indices])

    def to(self, device: torch.device | str) -> MNISTTensors:
        """The same split on ``device``."""
        return MNISTTensors(self.images.to(device), self.labels.to(device))


def normalize_images(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 images N×28×28 (0..255) -> float32 N×1×28×28, scaled to [0, 1] and normalised.

    The same torchvision functions as :func:`mnist_transform`, applied to the whole batch at
    once, so both paths give bit-identical tensors.
    """
    scaled = v2.functional.to_dtype(pixels.unsqueeze(1), torch.float32, scale=True)
    # In place: a second 188 MB copy of the training set would raise the peak memory.
    return v2.functional.normalize(scaled, [MNIST_MEAN], [MNIST_STD], inplace=True)


def load_tensors(
    train: bool,
    data_dir: str | os.PathLike | None = None,
    *,
    device: torch.device | str = "cpu",
    cache_dir: str | os.PathLike | None = None,
    download: bool = True,
) -> MNISTTensors:
    """The fast path: one split as normalised tensors on ``device``, converted once."""
    dataset = load_mnist(train, data_dir, download=download, cache_dir=cache_dir)
    pixels = dataset.data.to(device)
    return MNISTTensors(normalize_images(pixels), dataset.targets.to(device))


class TensorBatches:
    """Batches of an in-memory split, by indexing (no per-sample Python work).

    Iterating gives ``(images, labels)`` pairs; with ``shuffle`` the order is a fresh
    permutation each pass, drawn from a generator seeded with ``seed`` (so repeatable).
    """

    def __init__(
        self,
        data: MNISTTensors,
        batch_size: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.data)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def dataset(self) -> MNISTTensors:
        """The split being batched (mirrors ``DataLoader.dataset``)."""
        return self.data

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.data)
        device = self.data.labels.device
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(device)
        else:
            order = None
        for b in range(len(self)):
            start = b * self.batch_size
            stop = min(start + self.batch_size, n)
            if order is None:
                yield self.data.images[start:stop], self.data.labels[start:stop]
            else:
                idx = order[start:stop]
                yield self.data.images[idx], self.data.labels[idx]


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
