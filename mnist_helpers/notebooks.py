"""Running the notebook series headless (``make run``) and showing helper source in notebooks."""

from __future__ import annotations

import inspect
from pathlib import Path

from .files import atomic_write


def execute_notebook(source: Path, target: Path, timeout: int = 1800) -> None:
    """Execute ``source`` top to bottom on a fresh kernel (in its own folder) and write the
    executed notebook to ``target`` atomically; a failing cell raises with its traceback."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(source, as_version=4)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(source.resolve().parent)}},
    )
    client.execute()
    _drop_widget_outputs(notebook)
    with atomic_write(target, "w") as out:
        nbformat.write(notebook, out)


def _drop_widget_outputs(notebook: dict) -> None:
    """Remove widget views (e.g. progress bars) from saved outputs: without a live kernel they
    show only their initial text, such as a progress bar stuck at 0%."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = [
                out for out in cell.get("outputs", [])
                if "application/vnd.jupyter.widget-view+json" not in out.get("data", {})
            ]
    notebook.get("metadata", {}).pop("widgets", None)


def show_source(obj: object) -> None:
    """Display the source code of a helper with syntax highlighting (plain text outside
    Jupyter): notebooks show the one real copy of the code instead of repeating it."""
    code = inspect.getsource(obj)  # type: ignore[arg-type]
    try:
        from IPython.display import Code, display
    except ImportError:  # pragma: no cover - outside IPython
        print(code)
        return
    display(Code(code, language="python"))


def markdown_table(rows: list[dict]) -> str:
    """``rows`` (dicts with the same keys) as a Markdown table; numbers get thousands
    separators, other values are shown as they are."""
    if not rows:
        raise ValueError("No rows to show.")
    keys = list(rows[0])

    def cell(value: object) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return str(value)
        return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}".rstrip("0").rstrip(".")

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def show_table(rows: list[dict]) -> None:
    """Display ``rows`` as a table (Markdown in Jupyter, plain text elsewhere)."""
    table = markdown_table(rows)
    try:
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - outside IPython
        print(table)
        return
    display(Markdown(table))


def notebook_setup(figure_dpi: int = 80) -> tuple:
    """The first cell of every notebook: small PNG figures, the profile and device chosen,
    library versions printed. Returns ``(profile, device)``."""
    import matplotlib.pyplot as plt
    import torch
    import torchvision

    from .device import describe_device, get_device
    from .profiles import get_profile

    plt.rcParams.update({"figure.dpi": figure_dpi, "savefig.dpi": figure_dpi,
                         "axes.titlesize": 10})
    profile = get_profile()
    device = get_device()
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}")
    print(f"profile: {profile.name} (set MNIST_PROFILE=quick|default|robust|best to change)")
    print(f"device: {describe_device(device)}")
    if device.type == "cpu":
        print("No GPU found: running on the CPU, which is fine for this series.")

    return profile, device
