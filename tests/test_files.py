"""Writing files: never touch what is not ours, never follow a path into something that is not
a regular file, keep permissions, and leave no half-written file under a final name.

Every test makes the real situation: a user's own files with leftover-looking names, a writer
killed with SIGKILL, a symbolic link, a FIFO, a device node, a mode-600 file.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mnist_helpers.errors import OutputError
from mnist_helpers.files import (
    OWNER_FILE,
    PARTIAL_DIR,
    STALE_AFTER_SECONDS,
    atomic_write,
    remove_stale_temporaries,
)

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX files and signals")


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


def _users_files(home: Path) -> list[Path]:
    """What a user's home may hold with names a careless clean-up would take for leftovers:
    hidden ``.tmp`` files and folders, old and just edited, and a download-looking folder."""
    notes = home / ".notes.tmp"
    notes.write_text("my notes")
    thesis = home / ".thesis.tmp"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("edited seconds ago")
    model_tmp = home / ".model.pt.abc123.tmp"  # looks like what older versions left
    model_tmp.write_bytes(b"a user's file")
    download = home / ".download-photos"
    download.mkdir()
    (download / "img.jpg").write_bytes(b"jpeg")
    for path in (notes, thesis, model_tmp, download):
        _age(path, 10 * STALE_AFTER_SECONDS)
    return [notes, thesis, thesis / "chapter1.tex", model_tmp, download, download / "img.jpg"]


def test_a_write_never_deletes_the_users_files(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    theirs = _users_files(home)
    with atomic_write(home / "model.pt") as out:
        out.write(b"weights")
    assert (home / "model.pt").read_bytes() == b"weights"
    assert all(path.exists() for path in theirs)
    assert remove_stale_temporaries(home) == []
    assert all(path.exists() for path in theirs)
    assert not (home / PARTIAL_DIR).exists(), "our own folder goes once it is empty"


def test_a_folder_by_our_name_that_we_did_not_make_is_refused_and_kept(tmp_path):
    imposter = tmp_path / PARTIAL_DIR
    imposter.mkdir()
    (imposter / "model.pt.123.abcdefgh").write_text("a user's file")
    _age(imposter / "model.pt.123.abcdefgh", 10 * STALE_AFTER_SECONDS)
    with pytest.raises(OutputError, match="was not made by this package"):
        with atomic_write(tmp_path / "model.pt") as out:
            out.write(b"x")
    assert (imposter / "model.pt.123.abcdefgh").read_text() == "a user's file"
    assert not (tmp_path / "model.pt").exists()


_KILLED_WRITER = textwrap.dedent("""
    import os, sys, time
    from mnist_helpers.files import atomic_write
    with atomic_write(sys.argv[1]) as out:
        out.write(b"half a checkpoint")
        out.flush()
        print("writing", flush=True)
        time.sleep(60)
""")


@posix_only
def test_what_a_killed_writer_left_is_removed_once_it_is_old(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"the good model")
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    partial = tmp_path / PARTIAL_DIR
    (left,) = [p for p in partial.iterdir() if p.name != OWNER_FILE]
    assert target.read_bytes() == b"the good model"
    assert remove_stale_temporaries(tmp_path) == [], "not an hour old yet: kept"
    _age(left, 2 * STALE_AFTER_SECONDS)
    with atomic_write(target) as out:  # the next write to the folder cleans up
        out.write(b"a new model")
    assert not left.exists() and not partial.exists()
    assert target.read_bytes() == b"a new model"


@posix_only
def test_a_live_writers_file_is_never_removed_however_old(tmp_path):
    target = tmp_path / "model.pt"
    writer = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(target)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        (left,) = [p for p in (tmp_path / PARTIAL_DIR).iterdir() if p.name != OWNER_FILE]
        _age(left, 2 * STALE_AFTER_SECONDS)
        assert remove_stale_temporaries(tmp_path) == []
        assert left.exists()
    finally:
        writer.kill()
        writer.wait()


def test_an_interrupted_write_leaves_the_old_file_and_nothing_else(tmp_path):
    target = tmp_path / "model.pt"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(target) as out:
            out.write(b"new, half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


@posix_only
def test_a_link_is_written_through_and_stays_a_link(tmp_path):
    real = tmp_path / "runs" / "model-v3.pt"
    real.parent.mkdir()
    real.write_bytes(b"old")
    link = tmp_path / "model.pt"
    link.symlink_to(real)
    with atomic_write(link) as out:
        out.write(b"new")
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert real.read_bytes() == b"new"
    dangling = tmp_path / "next.pt"
    dangling.symlink_to(tmp_path / "runs" / "next-real.pt")
    with atomic_write(dangling) as out:
        out.write(b"made")
    assert dangling.is_symlink() and (tmp_path / "runs" / "next-real.pt").read_bytes() == b"made"


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "device", "link to a device", "folder"])
def test_what_is_not_a_regular_file_is_refused_and_left_alone(tmp_path, kind):
    path = tmp_path / "model.pt"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    elif kind == "link to a device":
        path.symlink_to("/dev/null")
    else:
        path.mkdir()
    before = os.lstat(path)
    with pytest.raises(OutputError, match="not a regular file"):
        with atomic_write(path) as out:
            out.write(b"x")
    after = os.lstat(path)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


@posix_only
def test_a_replaced_file_keeps_its_permissions_and_a_new_one_gets_the_umask(tmp_path):
    private = tmp_path / "private.pt"
    private.write_bytes(b"old")
    private.chmod(0o600)
    with atomic_write(private) as out:
        out.write(b"new")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    old_umask = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "new.pt") as out:
            out.write(b"new")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "new.pt").stat().st_mode) == 0o640


def test_a_checkpoint_over_a_fifo_is_refused_at_once(tmp_path):
    """The checkpoint writer goes through the same path checks (it never blocks on a FIFO)."""
    if os.name != "posix":
        pytest.skip("FIFOs are POSIX")
    from mnist_helpers import build_model, save_checkpoint

    fifo = tmp_path / "model.pt"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="a named pipe \\(FIFO\\)"):
        save_checkpoint(fifo, build_model("logistic").state_dict(), arch="logistic")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
