"""Running the notebook series headless: ``python -m mnist_helpers run-notebooks``."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import re
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .. import config
from ..errors import MnistError, Terminated
from ..files import atomic_write, ensure_writable_folder
from .cells import NUMBERED

if TYPE_CHECKING:  # nbformat itself is imported only when notebooks are run
    from nbformat import NotebookNode


class NotebookError(MnistError):
    """A notebook is missing, is not a notebook, or one of its cells failed."""


def default_notebooks() -> list[Path]:
    """The numbered notebooks (``NN_*.ipynb``, ``NNa_*.ipynb``) in ``./notebooks``, else in
    ``./``, else in the repository's ``notebooks/`` folder."""
    places = [Path.cwd() / "notebooks", Path.cwd()]
    root = config.repository_root()
    if root is not None:
        places.append(root / "notebooks")
    for folder in places:
        found = sorted(folder.glob(NUMBERED))
        if found:
            return found
    raise NotebookError("No numbered notebooks (NN_*.ipynb) in ./notebooks or here: name the "
                        "notebooks to run, or run this from the folder that holds them.")


def _read(path: Path) -> NotebookNode:
    import nbformat

    if not path.is_file():
        raise NotebookError(f"{path}: no such notebook")
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as exc:  # noqa: BLE001 - JSON errors, validation errors, bad encodings
        raise NotebookError(f"{path}: not a Jupyter notebook ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0][:120]})") from None
    return notebook


def _cell_name(notebook: dict, index: int | None) -> str:
    """``cell 7 of 31 ("history = fit(...")``: which cell, as a reader finds it."""
    if index is None:
        return "its kernel, while it was starting"
    cells = notebook.get("cells", [])
    first = next((line.strip() for line in "".join(cells[index].get("source", "")).splitlines()
                  if line.strip()), "")
    first = first if len(first) <= 40 else first[:37] + "..."
    return f"cell {index + 1} of {len(cells)} ({first!r})"


#: Colour codes in a kernel's traceback: not for a one-line message.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _last_words(kernel_log) -> str:
    """The last line the kernel wrote to its error stream, for a message ("" if none)."""
    kernel_log.seek(0)
    lines = [line.strip() for line in kernel_log.read().splitlines() if line.strip()]
    return f"; its last words: {lines[-1][:200]!r}" if lines else ""


def _stoppable_client(notebook: NotebookNode, timeout: int, folder: Path, where: dict,
                      kernel_log):
    """An nbclient ``NotebookClient`` that runs in ``folder`` and, from the moment the kernel
    starts, stops it on Ctrl-C or SIGTERM as nbclient itself would, but also notes in
    ``where`` which signal it was (and ``where["cell"]``: the cell running). The kernel's
    own error stream goes to ``kernel_log``, not to the terminal: what the cells print is in
    the outputs, and a kernel dying on a stop (a libzmq assertion, a port retried) must not
    add lines to the one that says what happened."""
    from nbclient import NotebookClient

    async def stop(kernel_manager) -> None:
        with contextlib.suppress(Exception):  # it may be dead, or still starting
            await kernel_manager.shutdown_kernel(now=True)

    class StoppableClient(NotebookClient):
        async def async_start_new_kernel(self, **kwargs) -> None:
            loop = asyncio.get_running_loop()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, self.on_signal, signum)
            await super().async_start_new_kernel(stderr=kernel_log, **kwargs)

        def on_signal(self, signum: int) -> None:
            where["signal"] = signum
            if self.km is not None:
                asyncio.ensure_future(stop(self.km))

    def on_cell_start(cell: dict, cell_index: int) -> None:
        where["cell"] = cell_index

    return StoppableClient(
        notebook, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(folder)}}, on_cell_start=on_cell_start,
        # The kernel's own log (e.g. that it talks to us over TCP on this machine) is noise
        # here; what the cells print and warn stays in the outputs.
        extra_arguments=["--IPKernelApp.log_level=ERROR"])


def execute_notebook(source: Path, target: Path, timeout: int = 1800) -> None:
    """Execute ``source`` top to bottom on a fresh kernel, in its own folder, and write the
    executed notebook to ``target`` atomically, also when it stops early (a failing cell, a
    cell over ``timeout`` seconds, a kernel that dies, Ctrl-C or SIGTERM), so what ran can be
    read there. Each of those is one line naming the notebook and the cell."""
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = _read(source)
    where: dict = {"cell": None, "signal": None}
    kernel_log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (closed in the finally below)
    client = _stoppable_client(notebook, timeout, source.resolve().parent, where, kernel_log)
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    problem: str | None = None
    stopped: BaseException | None = None
    try:
        client.execute()
    except CellExecutionError as exc:
        lines = [line for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
        problem = (f"{_cell_name(notebook, where['cell'])} failed "
                   f"({lines[-1][:200] if lines else exc})")
    except CellTimeoutError:
        problem = (f"{_cell_name(notebook, where['cell'])} timed out: it ran for more than "
                   f"{timeout} s (raise --timeout)")
    except (KeyboardInterrupt, asyncio.CancelledError, Exception) as exc:  # noqa: BLE001
        if isinstance(exc, KeyboardInterrupt) and where["signal"] is None:
            # The signal reached us directly, before nbclient's loop was running.
            where["signal"] = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
        if where["signal"] is None and not isinstance(exc, DeadKernelError):
            raise  # not a stop we asked for, nor a dead kernel: a bug, keep its traceback
        cell = _cell_name(notebook, where["cell"])
        if where["signal"] is None:
            problem = (f"the kernel died in {cell} (out of memory, or a crash in compiled "
                       f"code{_last_words(kernel_log)})")
        elif where["signal"] == signal.SIGTERM:
            stopped, problem = Terminated(), f"terminated (SIGTERM) in {cell}"
        else:
            stopped, problem = KeyboardInterrupt(), f"interrupted in {cell}"
    finally:
        # A kernel stopped while starting leaves nbclient's clean-up registered for exit,
        # where it would fail with a traceback: it has nothing left to clean.
        atexit.unregister(client._cleanup_kernel)
        kernel_log.close()
        for signum, handler in before.items():  # nbclient resets them to the defaults
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler)
    _drop_widget_outputs(notebook)
    with atomic_write(target, "w") as out:
        nbformat.write(notebook, out)
    if problem is None:
        return
    copy = "the executed copy" if target != source else "the notebook"
    line = f"{source}: {problem}; {copy} with what ran is {target}"
    if stopped is not None:
        print(f"error: {line}", file=sys.stderr, flush=True)
        raise stopped
    raise NotebookError(line)


def _drop_widget_outputs(notebook: dict) -> None:
    """Remove widget views (e.g. progress bars) from saved outputs: without a live kernel they
    show only their initial text, such as a progress bar stuck at 0%."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = [out for out in cell.get("outputs", [])
                               if "application/vnd.jupyter.widget-view+json"
                               not in out.get("data", {})]
    notebook.get("metadata", {}).pop("widgets", None)


def run_notebooks(notebooks: list[Path], out: Path | None, timeout: int = 1800) -> None:
    """Execute ``notebooks`` in order, printing one line per notebook with its time; the
    executed copies go to the folder ``out`` (``None``: over the notebooks themselves)."""
    for path in notebooks:
        _read(path)  # every notebook is checked before the first one runs
    if out is not None:
        ensure_writable_folder(out)
        for path in notebooks:  # never over the notebooks themselves, nor over a user's file
            target = out / path.name
            if target.exists() and target.resolve() == path.resolve():
                raise NotebookError(f"{path}: --out {out} is its own folder, so its executed copy "
                                    "would replace it; choose another folder, or use "
                                    "--in-place to do that on purpose")
            if target.exists():
                try:
                    _read(target)
                except NotebookError:
                    raise NotebookError(f"{target} is there and is not a notebook: it would be "
                                        "replaced; choose another --out, or move it") from None
    for path in notebooks:
        started = time.perf_counter()
        target = path if out is None else out / path.name
        execute_notebook(path, target, timeout)
        print(f"{path.name}: {time.perf_counter() - started:.1f} s", flush=True)
