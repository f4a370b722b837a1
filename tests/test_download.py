"""Downloading MNIST from mirrors, against a real HTTP server on the loopback interface."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from mnist_helpers import MNISTDataError, load_mnist, prepare_mnist
from mnist_helpers.download import RAW_FILES, download_mnist

RAW_NAMES = [name for name, _ in RAW_FILES]
CORRUPTED = "train-labels-idx1-ubyte.gz"


class Mirror:
    """A static file server in a thread; ``requests`` records every path asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.requests: list[str] = []
        mirror = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                mirror.requests.append(self.path)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0),
                                          partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start_mirror(folder: Path) -> Iterator[Mirror]:
    mirror = Mirror(folder)
    try:
        yield mirror
    finally:
        mirror.close()


@pytest.fixture
def good_mirror(tmp_path: Path, raw_gz_dir: Path) -> Iterator[Mirror]:
    served = tmp_path / "served" / "mnist"
    served.mkdir(parents=True)
    for name in RAW_NAMES:
        shutil.copyfile(raw_gz_dir / name, served / name)
    yield from start_mirror(served.parent)


@pytest.fixture
def bad_mirror(tmp_path: Path, raw_gz_dir: Path) -> Iterator[Mirror]:
    """Serves the right files, except ``CORRUPTED`` which has some bytes flipped."""
    served = tmp_path / "bad-served"
    served.mkdir()
    for name in RAW_NAMES:
        shutil.copyfile(raw_gz_dir / name, served / name)
    content = bytearray((served / CORRUPTED).read_bytes())
    for i in range(100, 200):
        content[i] ^= 0xFF
    (served / CORRUPTED).write_bytes(bytes(content))
    yield from start_mirror(served)


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def hidden_or_temp(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.startswith(".") or p.suffix in {".tmp", ".part"})


def test_download_falls_back_to_a_working_mirror(tmp_path, good_mirror):
    dest = tmp_path / "dest"
    missing = f"{good_mirror.url}/no-such-mirror/"
    download_mnist(dest, mirrors=[missing, f"{good_mirror.url}/mnist/"])
    assert sorted(p.name for p in dest.iterdir()) == sorted(RAW_NAMES)
    for name, expected in RAW_FILES:
        assert md5(dest / name) == expected
        # The 404 mirror was tried first, then the working one.
        first = good_mirror.requests.index(f"/no-such-mirror/{name}")
        assert good_mirror.requests.index(f"/mnist/{name}") > first
    served_again = len(good_mirror.requests)
    download_mnist(dest, mirrors=[f"{good_mirror.url}/mnist/"])
    assert len(good_mirror.requests) == served_again, "files already there are not fetched"


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Path:
    """A fresh workspace, and no MNIST_DATA_DIR: the files are downloaded into its data/."""
    monkeypatch.setenv("MNIST_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)
    return tmp_path / "ws"


def test_prepare_downloads_into_the_workspace_and_loads(workspace, good_mirror):
    data_dir = workspace / "data"
    root = prepare_mnist(download=True,
                         mirrors=[f"{good_mirror.url}/missing", f"{good_mirror.url}/mnist"])
    assert root == data_dir.resolve()
    raw = data_dir / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        RAW_NAMES + [name[:-3] for name in RAW_NAMES])
    for name, expected in RAW_FILES:
        assert md5(raw / name) == expected
    assert hidden_or_temp(data_dir) == []
    test = load_mnist(False, download=False)
    assert len(test) == 10_000
    assert torch.bincount(test.targets, minlength=10).tolist()[:3] == [980, 1135, 1032]


def test_corrupted_download_is_reported_and_not_kept(tmp_path, bad_mirror):
    dest = tmp_path / "dest"
    with pytest.raises(MNISTDataError) as caught:
        download_mnist(dest, mirrors=[bad_mirror.url])
    message = str(caught.value)
    assert CORRUPTED in message
    assert f"{bad_mirror.url}/{CORRUPTED}" in message
    assert "corrupted" in message
    assert not (dest / CORRUPTED).exists(), "a file that failed its MD5 must not be kept"
    assert hidden_or_temp(dest) == []
    # The file before the damaged one arrived whole.
    assert md5(dest / RAW_NAMES[0]) == RAW_FILES[0][1]


def test_corrupted_download_then_good_mirror_succeeds(tmp_path, bad_mirror, raw_gz_dir):
    dest = tmp_path / "dest"
    with pytest.raises(MNISTDataError):
        download_mnist(dest, mirrors=[bad_mirror.url])
    shutil.copyfile(raw_gz_dir / CORRUPTED, bad_mirror.folder / CORRUPTED)  # mirror repaired
    download_mnist(dest, mirrors=[bad_mirror.url])
    for name, expected in RAW_FILES:
        assert md5(dest / name) == expected


def test_prepare_with_corrupted_download_leaves_the_workspace_clean(workspace, bad_mirror):
    data_dir = workspace / "data"
    with pytest.raises(MNISTDataError, match=CORRUPTED):
        prepare_mnist(download=True, mirrors=[bad_mirror.url])
    assert not (data_dir / "MNIST" / "raw" / CORRUPTED).exists()
    assert hidden_or_temp(data_dir) == []
    assert not any(data_dir.rglob("*-ubyte"))


def test_an_archive_of_the_wrong_size_is_refused_before_it_is_hashed(tmp_path, raw_gz_dir,
                                                                      monkeypatch):
    """An archive in $MNIST_DATA_DIR that is 64 MB where 9.9 MB belong (a sparse file): one
    line naming it and both sizes, and not one file hashed to find that out."""
    import mnist_helpers.download as download_module

    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in RAW_NAMES:
        (folder / name).symlink_to(raw_gz_dir / name)  # the real files are never changed
    wrong = folder / "train-images-idx3-ubyte.gz"
    wrong.unlink()
    with wrong.open("wb") as handle:
        handle.truncate(64 << 20)
    hashed: list[Path] = []
    real_md5 = download_module.file_md5
    monkeypatch.setattr(download_module, "file_md5",
                        lambda path: hashed.append(path) or real_md5(path))
    monkeypatch.setenv("MNIST_DATA_DIR", str(folder))
    with pytest.raises(MNISTDataError) as caught:
        prepare_mnist(download=False, cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert f"MNIST file {wrong} is corrupted or incomplete (67,108,864 bytes, expected " \
           "9,912,422)" in message
    assert "Delete it" in message and "\n" not in message
    assert hashed == []
