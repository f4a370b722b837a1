"""The code a notebook shows with ``show_source`` is the package's code as it is today: a
committed output that no longer matches (the helper changed, the notebook was not re-run)
would teach code that does not run."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import pytest

import mnist_helpers

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted(
    (REPO / "notebooks" / "solutions").glob("*.ipynb"))


def current_sources() -> set[str]:
    """The source of every module, function, class and method defined in the package
    (``show_source`` takes a module as well as a function)."""
    sources: set[str] = set()
    for info in pkgutil.walk_packages(mnist_helpers.__path__, "mnist_helpers."):
        if info.name.endswith("__main__"):  # importing it runs the command line
            continue
        module = importlib.import_module(info.name)
        sources.add(_source(module))
        for _name, value in vars(module).items():
            if getattr(value, "__module__", None) != module.__name__:
                continue
            if inspect.isfunction(value) or inspect.isclass(value):
                sources.add(_source(value))
            if inspect.isclass(value):
                sources |= {_source(m) for m in vars(value).values() if inspect.isfunction(m)}
    return sources


def _source(obj: object) -> str:
    """Its source, or "" for what has none in a file (made by a dataclass, say)."""
    try:
        return inspect.getsource(obj)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return ""


def shown_sources(path: Path) -> list[tuple[int, str]]:
    """(cell number, code shown) for every ``show_source(...)`` output in a notebook."""
    shown = []
    for number, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"], 1):
        if cell["cell_type"] != "code" or "show_source(" not in "".join(cell["source"]):
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = data.get("text/plain")
            # A figure's or a table's text is only a placeholder, not code.
            if text is not None and not {"image/png", "text/markdown"} & data.keys():
                shown.append((number, "".join(text)))
    return shown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_source_a_notebook_shows_is_todays(path):
    today = current_sources()
    stale = [f"{path.name}, cell {number}: {code.splitlines()[0][:60]}"
             for number, code in shown_sources(path) if code not in today
             and code.rstrip("\n") + "\n" not in today]
    assert stale == [], ("re-run these notebooks (python -m mnist_helpers run-notebooks "
                         f"--in-place NOTEBOOK): {stale}")
