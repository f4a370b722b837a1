"""Running the notebook series headless: ``python -m mnist_helpers run-notebooks``."""

from __future__ import annotations

import time
from pathlib import Path

from .. import config
from ..errors import MnistError
from ..files import atomic_write, ensure_writable_folder


class NotebookError(MnistError):
    """A notebook is missing, is not a notebook, or one of its cells failed."""


def default_notebooks() -> list[Path]:
    """The numbered notebooks (``NN_*.ipynb``) in ``./notebooks``, else in ``./``, else in the
    repository's ``notebooks/`` folder."""
    places = [Path.cwd() / "notebooks", Path.cwd()]
    if config.repository_root() is not None:
        places.append(config.repository_root() / "notebooks")
    for folder in places:
        found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
        if found:
            return found
    raise NotebookError("No numbered notebooks (NN_*.ipynb) in ./notebooks or here: name the "
                        "notebooks to run, or run this from the folder that holds them.")


def _read(path: Path):
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


def execute_notebook(source: Path, target: Path, timeout: int = 1800) -> None:
    """Execute ``source`` top to bottom on a fresh kernel, in its own folder, and write the
    executed notebook to ``target`` atomically (also when a cell fails, so its traceback can
    be read there)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    notebook = _read(source)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(source.resolve().parent)}},
        # The kernel's own log (e.g. that it talks to us over TCP on this machine) is noise
        # here; what the cells print and warn stays in the outputs.
        extra_arguments=["--IPKernelApp.log_level=ERROR"])
    failure = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as exc:
        failure = exc
    _drop_widget_outputs(notebook)
    with atomic_write(target, "w") as out:
        nbformat.write(notebook, out)
    if failure is not None:
        lines = [line for line in str(failure).splitlines() if line.strip()]
        raise NotebookError(f"{source}: a cell failed ({lines[-1][:200] if lines else failure});"
                            f" the executed copy with its traceback is {target}")


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
    for path in notebooks:
        started = time.perf_counter()
        target = path if out is None else out / path.name
        execute_notebook(path, target, timeout)
        print(f"{path.name}: {time.perf_counter() - started:.1f} s", flush=True)
