"""Getting MNIST onto the machine: find the four files, download what is missing, verify all.

Where the files are read from, in order: a ``data_dir`` argument, else the environment
variable ``MNIST_DATA_DIR``, else ``<workspace>/data`` (see :mod:`mnist_helpers.config`).
A folder the user names holds the four original ``.gz`` files, directly or under
``MNIST/raw/``, and is only ever read: nothing is downloaded or written into it. Only
``<workspace>/data`` is downloaded into.

Nothing is used unchecked: every ``.gz`` must match torchvision's published MD5, and the
uncompressed files must match the MD5 of the official files' contents; a damaged
uncompressed file is simply made again from its verified archive. Before a file is hashed, it
must be a regular file of exactly its known size: a named pipe would block the reader for
ever, and a link to a device such as /dev/zero would never end.

This module does not import torchvision (only a download does): importing it costs 1.7 s and,
with torchvision 0.29, 190 MiB of memory, because it imports ``torch._dynamo``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
from collections.abc import Sequence
from pathlib import Path

from . import config
from .errors import MNISTDataError, OutputError
from .files import (
    atomic_write,
    describe_special_file,
    explain_os_error,
    remove_stale_temporaries,
    temporary_folder,
)

#: The four original files and their MD5 sums, as torchvision publishes them
#: (``torchvision.datasets.MNIST.resources``; a test checks that they agree).
RAW_FILES: tuple[tuple[str, str], ...] = (
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
)

#: Sizes of the original ``.gz`` files, checked before a file is read at all.
RAW_SIZES = {
    "train-images-idx3-ubyte.gz": 9_912_422,
    "train-labels-idx1-ubyte.gz": 28_881,
    "t10k-images-idx3-ubyte.gz": 1_648_877,
    "t10k-labels-idx1-ubyte.gz": 4_542,
}

#: MD5 and size of each uncompressed file (the IDX format: a header, then one byte per pixel
#: or label), computed from the official archives; ``tests/test_data.py`` re-derives them.
EXTRACTED = {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", 16 + 60_000 * 28 * 28),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", 8 + 60_000),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", 16 + 10_000 * 28 * 28),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", 8 + 10_000),
}

#: Download mirrors, the one that works today first, then the original site (torchvision's
#: ``MNIST.mirrors``; in some versions it lists the original first, which now answers 403).
MIRRORS: tuple[str, ...] = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                            "http://yann.lecun.com/exdb/mnist/")

RAW_NAMES = tuple(name for name, _ in RAW_FILES)


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> tuple[Path, bool]:
    """The folder to read MNIST from, and whether the user named it (then it is read-only):
    ``data_dir``, else ``$MNIST_DATA_DIR``, else ``<workspace>/data`` (downloaded into)."""
    chosen = data_dir if data_dir is not None else os.environ.get(config.DATA_DIR_ENV)
    if chosen is not None and str(chosen).strip() == "":
        raise MNISTDataError(f"The MNIST folder is an empty string; unset {config.DATA_DIR_ENV}"
                             " or name a folder that holds the four MNIST files.")
    if chosen:
        return Path(chosen).expanduser().resolve(), True
    return config.data_dir(), False


def manual_instructions(folder: Path) -> str:
    """How to set MNIST up by hand, in a few lines."""
    files = "\n".join(f"    {name}  (md5 {md5})" for name, md5 in RAW_FILES)
    return ("To set MNIST up by hand, get the four original files:\n"
            f"{files}\nand put them in a folder F (directly, or in F/MNIST/raw), then set "
            f"{config.DATA_DIR_ENV}=F or pass data_dir=F. They are read in place; nothing is "
            f"written to F. (Without {config.DATA_DIR_ENV}, they are downloaded into "
            f"{folder}.)")


def _find_source(folder: Path) -> Path | None:
    """The folder among ``folder`` and ``folder/MNIST/raw`` that holds all four ``.gz`` files."""
    for candidate in (folder, folder / "MNIST" / "raw"):
        if all((candidate / name).exists() for name in RAW_NAMES):
            return candidate
    return None


def _found_elsewhere(folder: Path) -> list[Path]:
    """Folders below ``folder`` (three levels at most) that hold MNIST ``.gz`` files."""
    hits: set[Path] = set()
    try:
        if folder.is_dir():
            for depth in ("*", "*/*", "*/*/*"):
                for name in RAW_NAMES:
                    hits.update(p.parent for p in folder.glob(f"{depth}/{name}"))
    except OSError:
        pass
    return sorted(hits)


def file_md5(path: Path) -> str:
    """The MD5 of a file, read in 1 MB blocks. (torchvision's ``calculate_md5`` does the same,
    but importing torchvision costs over a second and 190 MiB, which the fast path avoids.)"""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, md5: str, size: int | None, what: str, fix: str) -> None:
    """Raise :class:`MNISTDataError` naming ``path`` and ``fix`` unless it is a readable
    regular file of ``size`` bytes (when given) with the expected MD5. The kind and size are
    checked first, so a pipe, a device or a file of the wrong size is refused unread."""
    try:
        info = path.stat()  # follows links: a link to /dev/zero is judged by where it leads
        if stat.S_ISDIR(info.st_mode):
            raise MNISTDataError(f"{what} {path} is a folder, not a file. {fix}")
        if not stat.S_ISREG(info.st_mode):
            raise MNISTDataError(f"{what} {path} is {describe_special_file(path, info.st_mode)},"
                                 f" not a file; it was not opened. {fix}")
        if size is not None and info.st_size != size:
            raise MNISTDataError(f"{what} {path} is corrupted or incomplete ({info.st_size:,} "
                                 f"bytes, expected {size:,}). {fix}")
        actual = file_md5(path)
    except OSError as exc:
        raise MNISTDataError(f"Cannot read {what} {path} ({exc.strerror or exc}). {fix}") from exc
    if actual != md5:
        raise MNISTDataError(f"{what} {path} is corrupted ({info.st_size:,} bytes; md5 {actual},"
                             f" expected {md5}). {fix}")


def verify_raw_file(path: Path, md5: str) -> None:
    """Check one original ``.gz`` file against its published MD5."""
    verify_file(path, md5, RAW_SIZES.get(path.name), "MNIST file",
                "Delete it and run again to download it afresh, or replace it with a good copy "
                "of the original file.")


def download_mnist(dest: str | os.PathLike, mirrors: Sequence[str] = MIRRORS,
                   names: Sequence[str] | None = None) -> None:
    """Download the missing original ``.gz`` files into ``dest``, trying ``mirrors`` in order.

    Each file lands in a hidden temporary folder, is checked against its MD5 and only then
    moved into place, so an interrupted download leaves nothing that looks complete.
    """
    dest = Path(dest)
    from torchvision.datasets.utils import download_url

    wanted = set(names) if names is not None else set(RAW_NAMES)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MNISTDataError(f"Cannot create {dest} to download MNIST into "
                             f"({exc.strerror or exc}).\n" + manual_instructions(dest)) from exc
    remove_stale_temporaries(dest)
    for name, md5 in RAW_FILES:
        if name not in wanted or (dest / name).is_file():
            continue
        failures = []
        for mirror in mirrors:
            url = f"{mirror.rstrip('/')}/{name}"
            with temporary_folder(dest, name) as tmp:
                try:
                    download_url(url, root=tmp, filename=name, md5=md5)
                except Exception as exc:  # noqa: BLE001 - every failure is reported below
                    failures.append(f"  {url}: {type(exc).__name__}: {exc}")
                    continue
                os.replace(Path(tmp) / name, dest / name)
                break
        else:
            tried = "\n".join(failures)
            raise MNISTDataError(f"Could not download {name} from any mirror. Tried:\n{tried}\n"
                                 + manual_instructions(dest))


def _extracted_ok(path: Path) -> bool:
    md5, size = EXTRACTED[path.name]
    try:
        return path.is_file() and path.stat().st_size == size and file_md5(path) == md5
    except OSError:
        return False


def _extract(source: Path, target: Path) -> None:
    """Uncompress ``source`` to ``target`` atomically, then check the result's MD5."""
    try:
        mode = target.stat().st_mode  # follows links: what is written to is where they lead
    except OSError:
        mode = stat.S_IFREG  # not there yet: it is made below
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else describe_special_file(target, mode)
        raise MNISTDataError(f"{target} is {kind} where the unpacked MNIST file belongs: "
                             "delete it and run again.")
    try:
        with gzip.open(source, "rb") as src, atomic_write(target) as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except OutputError as exc:
        raise MNISTDataError(f"Could not write the uncompressed MNIST file: {exc} (it needs "
                             "~60 MB).") from exc
    except OSError as exc:
        raise MNISTDataError(explain_os_error(exc, target, "unpack")) from exc
    verify_file(target, *EXTRACTED[target.name], "Unpacked MNIST file",
                "It was just made from a verified archive: check the disk and memory.")


def prepare_mnist(data_dir: str | os.PathLike | None = None, *, download: bool = True,
                  cache_dir: str | os.PathLike | None = None,
                  mirrors: Sequence[str] = MIRRORS) -> Path:
    """Make sure MNIST is readable and verified; return the root for ``datasets.MNIST``.

    ``data_dir`` is where the ``.gz`` files are looked for (see :func:`resolve_data_dir`);
    without a named folder, missing files are downloaded into ``<workspace>/data`` when
    ``download`` is true. The uncompressed files go to ``cache_dir`` (default
    ``<workspace>/data``), never into a folder the user named. Every problem raises
    :class:`MNISTDataError` saying what to do.
    """
    folder, named = resolve_data_dir(data_dir)
    cache_root = Path(cache_dir).resolve() if cache_dir is not None else config.data_dir()
    cache_raw = cache_root / "MNIST" / "raw"

    # Already unpacked and intact: torchvision's layout in the named folder, or our cache.
    for root in (folder, cache_root):
        if all(_extracted_ok(root / "MNIST" / "raw" / name) for name in EXTRACTED):
            return root

    source = _find_source(folder)
    if source is None:
        elsewhere = _found_elsewhere(folder)
        if elsewhere:
            places = ", ".join(str(p) for p in elsewhere)
            raise MNISTDataError(
                f"MNIST files were found in {places}, but not where they are expected: directly "
                f"in {folder} or in {folder / 'MNIST' / 'raw'}. Point {config.DATA_DIR_ENV} (or "
                "data_dir) at the folder that holds all four files, or move them.")
        present = [n for n in RAW_NAMES
                   if (folder / n).exists() or (folder / "MNIST" / "raw" / n).exists()]
        missing = ", ".join(n for n in RAW_NAMES if n not in present)
        if named:
            raise MNISTDataError(
                f"MNIST is not in {folder} (missing: {missing}). A folder you name is only "
                f"read, never downloaded into: put the files there, or unset "
                f"{config.DATA_DIR_ENV} to download them into {config.data_dir()}.")
        if not download:
            raise MNISTDataError(f"MNIST is not in {folder} (missing: {missing}) and downloading"
                                 " is switched off.\n" + manual_instructions(folder))
        source = folder / "MNIST" / "raw"
        download_mnist(source, mirrors=mirrors)

    for name, md5 in RAW_FILES:
        verify_raw_file(source / name, md5)
    try:
        cache_raw.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MNISTDataError(explain_os_error(exc, cache_raw, "create") + " (MNIST is unpacked "
                             f"there; set {config.WORKSPACE_ENV} to a writable folder).") from exc
    remove_stale_temporaries(cache_raw)
    for name in EXTRACTED:
        if not _extracted_ok(cache_raw / name):
            _extract(source / f"{name}.gz", cache_raw / name)
    return cache_root
