"""Writing files so that nothing half-written is ever left under a final name, nothing that
is not ours is ever touched, and a failed write says clearly why.

Every file the package writes goes through :func:`atomic_write`: the data lands in a
temporary file in a folder of our own beside the target (``.mnist-helpers-partial/``, which
holds a note saying whose it is), and is renamed over the target only once it is complete.
A crash, a full disk or a ``kill -9`` leaves the previous file as it was.

What a killed writer left behind is removed by the next write to the same folder, and only
that: files in our own folder, named as we name them, after their writer has died. Nothing
else in a folder the user chose is ever deleted, whatever its name or age.

A target that is a symbolic link is written through: the file it points to is replaced and
the link stays a link. A target that is not a regular file (a folder, a device, a FIFO) is
refused. A replaced file keeps its permissions; a new one gets the umask's.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

from .errors import OutputError

#: The folder, beside whatever we write, that holds our unfinished files.
PARTIAL_DIR = ".mnist-helpers-partial"
#: The note in that folder which shows the folder is ours; without it we delete nothing there.
OWNER_FILE = "OWNER"
OWNER_TEXT = ("This folder holds unfinished files written by mnist_helpers (a write in "
              "progress, or one whose process was killed). It is removed when empty.\n")
#: Our unfinished files are named ``<target name>.<writer's process id>.<random>``.
_PARTIAL_NAME = re.compile(r"^.+\.(\d+)\.[A-Za-z0-9_]{6,}$")
#: A dead writer's file untouched for this long is removed (a live writer on another machine
#: sharing the folder may have a process id we cannot see; it touches its file as it writes).
STALE_AFTER_SECONDS = 3600.0


#: The errors that mean "this place cannot be written to", as opposed to a bad input.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def explain_os_error(exc: OSError, path: str | os.PathLike, action: str = "write") -> str:
    """One line saying why ``action`` on ``path`` failed and what to do."""
    reasons = {
        errno.ENOSPC: "the disk is full: free some space, or choose a folder on another disk",
        errno.EDQUOT: "the disk quota is used up: free some space, or choose another folder",
        errno.EROFS: "the file system is read-only: choose a writable folder",
        errno.EACCES: "permission denied: choose a folder you can write to, or fix its "
                      "permissions",
        errno.EPERM: "permission denied: choose a folder you can write to, or fix its "
                     "permissions",
    }
    reason = reasons.get(exc.errno or -1, exc.strerror or str(exc))
    return f"cannot {action} {path}: {reason}"


def _writer_alive(pid: int) -> bool:
    """Whether the process that named a file with its id may still be writing it."""
    if os.name == "nt":  # Windows has no harmless "kill(pid, 0)": rely on the file's age
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # sends nothing: only asks whether the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # it exists but is not ours, or we cannot tell: assume it is alive
    return True


def _our_folder(folder: Path) -> Path | None:
    """``folder/.mnist-helpers-partial`` if it is a real folder holding our note, else None."""
    partial = folder / PARTIAL_DIR
    note = partial / OWNER_FILE
    try:
        if not stat.S_ISDIR(partial.lstat().st_mode) or not stat.S_ISREG(note.lstat().st_mode):
            return None
        if note.stat().st_size != len(OWNER_TEXT.encode()):
            return None
        if note.read_text(encoding="utf-8") != OWNER_TEXT:
            return None
    except (OSError, UnicodeDecodeError):
        return None
    return partial


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete what killed writers of this package left beside ``folder``'s files: only
    entries of our own folder ``.mnist-helpers-partial`` (which must hold our note), named
    as we name them, whose writing process has ended and which are an hour old."""
    partial = _our_folder(Path(folder))
    removed: list[Path] = []
    if partial is None:
        return removed
    now = time.time()
    for entry in partial.iterdir():
        match = _PARTIAL_NAME.match(entry.name)
        if match is None or _writer_alive(int(match.group(1))):
            continue
        try:
            info = entry.lstat()
            if now - info.st_mtime < STALE_AFTER_SECONDS:
                continue
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(entry)
            else:
                entry.unlink()  # a file, or a link (the link itself, never what it points to)
            removed.append(entry)
        except OSError:
            continue  # another process cleaned it, or we may not: not our problem to report
    _remove_if_empty(partial)
    return removed


def _remove_if_empty(partial: Path) -> None:
    """Remove our folder once nothing but our note is left in it."""
    try:
        if {entry.name for entry in partial.iterdir()} == {OWNER_FILE}:
            (partial / OWNER_FILE).unlink()
            partial.rmdir()
    except OSError:
        pass  # another writer has just put a file there, or removed the folder first


def partial_folder(folder: str | os.PathLike) -> Path:
    """Our folder for unfinished files beside ``folder``'s files, made (with its note) if
    needed. A ``.mnist-helpers-partial`` there that we did not make is refused, never used."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / PARTIAL_DIR
    for _attempt in range(100):  # another writer may be making or removing it right now
        ours = _our_folder(folder)
        if ours is not None:
            return ours
        try:
            partial.mkdir()
        except FileExistsError:
            continue  # someone else's, or another writer's whose note is not written yet
        except FileNotFoundError:
            continue
        try:
            with open(partial / OWNER_FILE, "x", encoding="utf-8") as note:
                note.write(OWNER_TEXT)
        except (FileExistsError, FileNotFoundError):
            continue
    raise OutputError(f"cannot write to {folder}: {partial} is there but was not made by "
                      "this package (it has no note saying so); move it away")


def temporary_name(name: str) -> str:
    """The prefix of our unfinished files for ``name``: ``<name>.<process id>.``."""
    return f"{name}.{os.getpid()}."


def resolve_target(path: str | os.PathLike) -> Path:
    """The file a write to ``path`` really replaces: ``path`` itself, or the file a symbolic
    link there points to. Refuses a target that is not a regular file (a folder, a device, a
    FIFO, a socket): writing there would destroy it or never end."""
    path = Path(path)
    if not str(path).strip():
        raise OutputError("the output path is empty: name a file to write")
    try:
        target = path.resolve() if path.is_symlink() else path
    except (RuntimeError, OSError) as exc:  # a loop of links: Python says RuntimeError
        raise OutputError(f"cannot write to {path}: it is a symbolic link that leads nowhere "
                          f"(a loop of links?): choose another file name") from exc
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError(explain_os_error(exc, path)) from exc
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else describe_special_file(path, mode)
        raise OutputError(f"cannot write to {path}: it is {kind}, not a regular file; "
                          "choose a file name")
    return target


#: What a path that is neither a regular file nor a folder can be, in words.
SPECIAL_FILES = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                 (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def describe_special_file(path: Path, mode: int) -> str:
    """What ``path`` (whose ``os.stat`` mode is ``mode``) is, in words, such as "a link to
    /dev/zero, a character device": it is not a regular file, so it must not be read."""
    kind = next((name for test, name in SPECIAL_FILES if test(mode)), "not a regular file")
    return f"a link to {os.path.realpath(path)}, {kind}" if path.is_symlink() else kind


def ensure_writable_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and prove a file can be written there, before any long
    work starts; raises :class:`OutputError` saying why not."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(explain_os_error(exc, folder, "write to")) from exc
    partial = folder / PARTIAL_DIR
    if (partial.exists() or partial.is_symlink()) and _our_folder(folder) is None:
        raise OutputError(f"cannot write to {folder}: {partial} is there but was not made by "
                          "this package (it has no note saying so); move it away")
    return folder


def _new_file_mode() -> int:
    """0666 less the umask: the mode ``open()`` gives a new file."""
    umask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, fsync: bool = False
                 ) -> Iterator[IO]:
    """Open a temporary file in our folder beside ``path`` for writing; on success it is
    renamed to ``path`` (an atomic step), on any error or interrupt it is deleted and ``path``
    is left as it was. A link at ``path`` is written through (see :func:`resolve_target`);
    the file keeps the permissions of the one it replaces. A failure to write (a full disk,
    a read-only folder) becomes an :class:`OutputError` that says so."""
    target = resolve_target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(target.parent)
        partial = partial_folder(target.parent)
        handle, tmp_name = tempfile.mkstemp(dir=partial,
                                            prefix=temporary_name(target.name))
    except OSError as exc:
        raise OutputError(explain_os_error(exc, path)) from exc
    try:
        try:
            before = target.stat()
        except FileNotFoundError:
            os.chmod(tmp_name, _new_file_mode())
        else:  # the same permissions (and, where we may, owner) as the file it replaces
            os.chmod(tmp_name, stat.S_IMODE(before.st_mode))
            if hasattr(os, "chown") and (before.st_uid, before.st_gid) != (os.getuid(),
                                                                            os.getgid()):
                with suppress(OSError):
                    os.chown(tmp_name, before.st_uid, before.st_gid)
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(handle, mode, encoding=encoding) as out:
            yield out
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if exc.errno in _WRITE_ERRNOS:
            raise OutputError(explain_os_error(exc, path)) from exc
        raise
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    finally:
        _remove_if_empty(partial)


@contextmanager
def temporary_folder(folder: str | os.PathLike, name: str) -> Iterator[Path]:
    """A temporary folder in our folder beside ``folder``'s files (for a download in
    progress), removed afterwards; if the process is killed, a later write cleans it up."""
    partial = partial_folder(folder)
    try:
        with tempfile.TemporaryDirectory(dir=partial,
                                         prefix=temporary_name(name)) as tmp:
            yield Path(tmp)
    finally:
        _remove_if_empty(partial)
