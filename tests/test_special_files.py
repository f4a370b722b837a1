"""Pipes, devices and links to them where a checkpoint or an MNIST file belongs: each is
refused with one line naming it, without being opened.

Opening a named pipe (FIFO) for reading blocks until a writer comes, and /dev/zero or
/dev/urandom never end, so a regression would hang the suite or fill the memory. Each load
therefore runs in a child process with a bounded address space and a deadline: a regression
fails the test instead.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from mnist_helpers.download import RAW_NAMES

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(),
                                reason="needs POSIX named pipes and /dev/zero")

#: Makes each call given on the command line (JSON: ``[[function name, keyword arguments],
#: ...]``) and prints one line for each: the error's type and message, or "loaded".
CHILD = """
import json, sys
import mnist_helpers

for name, kwargs in json.loads(sys.argv[1]):
    try:
        getattr(mnist_helpers, name)(**kwargs)
        print("loaded")
    except mnist_helpers.MnistError as exc:
        print(f"{type(exc).__name__}: {exc}")
"""


def _limit_memory() -> None:
    """Run in the child before it starts: 8 GiB of address space (importing torch takes
    about 3.5), so reading a device to its end fails with MemoryError instead of filling
    the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))


def in_child(*calls: tuple[str, dict]) -> list[str]:
    """The line each call of an ``mnist_helpers`` function gives, made in a child process;
    a child that hangs is killed after 120 s, and the test fails."""
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(calls)], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=_limit_memory, env={**os.environ, "MNIST_DEVICE": "cpu"})
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert len(lines) == len(calls), done.stdout
    return lines


def load_checkpoint(path: Path) -> tuple[str, dict]:
    return "load_checkpoint", {"path": str(path)}


def prepare_mnist(folder: Path, cache: Path) -> tuple[str, dict]:
    return "prepare_mnist", {"data_dir": str(folder), "download": False,
                             "cache_dir": str(cache)}


def test_a_pipe_or_a_device_as_the_checkpoint_is_refused_unopened(tmp_path):
    fifo = tmp_path / "pipe.pt"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.pt"
    zero.symlink_to("/dev/zero")
    random = tmp_path / "random.pt"
    random.symlink_to("/dev/urandom")
    fifo_line, zero_line, random_line = in_child(
        load_checkpoint(fifo), load_checkpoint(zero), load_checkpoint(random))
    assert fifo_line.startswith(f"CheckpointError: {fifo}: is a named pipe (FIFO)")
    assert zero_line.startswith(f"CheckpointError: {zero}: is a link to /dev/zero, a character "
                                "device")
    assert random_line.startswith(f"CheckpointError: {random}: is a link to /dev/urandom")
    assert all("Name a .pt file" in line for line in (fifo_line, zero_line, random_line))


def test_a_pipe_or_a_device_in_place_of_an_mnist_archive_is_refused_unopened(
        tmp_path, raw_gz_dir):
    """Two folders of MNIST archives, each with one replaced: by a FIFO, and by a link to
    /dev/zero (the real files are linked, never copied or changed)."""
    folders = []
    for kind in ("fifo", "zero"):
        folder = tmp_path / kind
        folder.mkdir()
        for name in RAW_NAMES:
            (folder / name).symlink_to(raw_gz_dir / name)
        folders.append(folder)
    pipe = folders[0] / "train-labels-idx1-ubyte.gz"
    pipe.unlink()
    os.mkfifo(pipe)
    zero = folders[1] / "t10k-images-idx3-ubyte.gz"
    zero.unlink()
    zero.symlink_to("/dev/zero")
    pipe_line, zero_line = in_child(*(prepare_mnist(folder, tmp_path / "cache")
                                      for folder in folders))
    assert pipe_line.startswith(f"MNISTDataError: MNIST file {pipe} is a named pipe (FIFO)")
    assert zero_line.startswith(f"MNISTDataError: MNIST file {zero} is a link to /dev/zero, "
                                "a character device")
    assert all("Delete it" in line for line in (pipe_line, zero_line))


def test_a_pipe_or_a_device_in_place_of_an_unpacked_file_is_named(tmp_path, raw_gz_dir):
    """The unpacked files live in our cache; one that is a FIFO or a link to /dev/zero is
    neither read nor written through."""
    caches = [tmp_path / "fifo-cache", tmp_path / "zero-cache"]
    pipe, zero = (cache / "MNIST" / "raw" / "t10k-labels-idx1-ubyte" for cache in caches)
    for path in (pipe, zero):
        path.parent.mkdir(parents=True)
    os.mkfifo(pipe)
    zero.symlink_to("/dev/zero")
    pipe_line, zero_line = in_child(*(prepare_mnist(raw_gz_dir, cache) for cache in caches))
    assert pipe_line == (f"MNISTDataError: {pipe} is a named pipe (FIFO) where the unpacked "
                         "MNIST file belongs: delete it and run again.")
    assert zero_line == (f"MNISTDataError: {zero} is a link to /dev/zero, a character device "
                         "where the unpacked MNIST file belongs: delete it and run again.")
