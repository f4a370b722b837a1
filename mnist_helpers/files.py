"""Writing files so that nothing half-written is ever left under a final name, and saying
clearly why a write failed.

Every file the package writes goes through :func:`atomic_write`: the data lands in a hidden
temporary file beside the target, which is renamed over the target only once it is complete.
A crash, a full disk or a ``kill -9`` leaves the previous file as it was; a temporary file
left behind by a killed process is removed by the next write to the same folder.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from .errors import OutputError

TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"
#: A temporary file untouched for this long belongs to a writer that died (a running writer
#: touches its file with every block it writes).
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


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files and download folders that a killed writer left in
    ``folder`` (ours only: hidden, ``*.tmp`` or ``.download-*``, untouched for an hour)."""
    folder = Path(folder)
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        name = entry.name
        ours = name.startswith(TEMP_PREFIX) and (
            name.endswith(TEMP_SUFFIX) or name.startswith(".download-"))
        try:
            if not ours or now - entry.stat().st_mtime < STALE_AFTER_SECONDS:
                continue
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
        except OSError:
            continue  # another process cleaned it, or we may not: not our problem to report
    return removed


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
    return folder


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, fsync: bool = False
                 ) -> Iterator[IO]:
    """Open a hidden temporary file beside ``path`` for writing; on success it is renamed to
    ``path`` (an atomic step), on any error or interrupt it is deleted and ``path`` is left
    as it was. The file gets the usual permissions (0666 less the umask). A failure to write
    (a full disk, a read-only folder) becomes an :class:`OutputError` that says so."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent)
        handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                            suffix=TEMP_SUFFIX)
    except OSError as exc:
        raise OutputError(explain_os_error(exc, path)) from exc
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(handle, mode, encoding=encoding) as out:
            yield out
            out.flush()
            if fsync:
                os.fsync(out.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        if exc.errno in _WRITE_ERRNOS:
            raise OutputError(explain_os_error(exc, path)) from exc
        raise
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
