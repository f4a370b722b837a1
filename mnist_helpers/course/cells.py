"""The two cells every numbered notebook opens with, made from the repository's address.

The address is written in one place, ``pyproject.toml``'s ``[project.urls]``; the notebooks'
"Open in Colab" badges and setup cells are made from it, and ``tests/test_course.py`` checks
that every notebook still has them. To rewrite them after the address changes::

    python -m mnist_helpers.course.cells notebooks/ https://github.com/OWNER/REPO
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The numbered notebooks: two digits, then an optional letter (07a, 07b), then ``_``.
NUMBERED = "[0-9][0-9]*_*.ipynb"

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
#: How a setup cell starts (an older one is recognised by it and replaced).
SETUP_MARK = "# Setup:"
#: Where the setup cell's install part ends.
PACKAGE_IMPORT = "import mnist_helpers as mh"

SETUP_CELL = '''\
# Setup: install what the notebooks need where it is missing (Colab, Kaggle), then go on.
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys


def pip_install(*packages):
    print(f"installing {{' '.join(packages)}} with pip ...")
    if subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *packages]).returncode:
        raise SystemExit(f"pip could not install {{' '.join(packages)}}: its message is above.")
    importlib.invalidate_caches()
    print("Installed.")


if importlib.util.find_spec("mnist_helpers") is None:
    package = os.environ.get("MNIST_HELPERS_PIP", "mnist-helpers[notebooks] @ git+{repository}")
    if not package.strip():
        raise SystemExit("MNIST_HELPERS_PIP is set but empty: unset it, or name what to install.")
    pip_install(package.strip())
# The packages only notebooks use (widgets, attributions): mnist-helpers' "notebooks" extra.
try:
    wanted = [r.split(";")[0] for r in importlib.metadata.requires("mnist-helpers") or []
              if 'extra == "notebooks"' in r]
except importlib.metadata.PackageNotFoundError:  # imported from a folder, not installed
    wanted = []
missing = []
for requirement in wanted:  # a distribution's name, not its module's (scikit-learn is sklearn)
    try:
        importlib.metadata.version(re.match(r"[\\w.-]+", requirement)[0])
    except importlib.metadata.PackageNotFoundError:
        missing.append(requirement)
if missing:
    pip_install(*missing)

import mnist_helpers as mh
from mnist_helpers.display.notebook import setup

profile, device = setup()'''


def colab_url(repository: str, notebook: str, branch: str = "main") -> str:
    """The address that opens ``notebooks/<notebook>`` of ``repository`` in Colab."""
    path = repository.removeprefix("https://github.com/").rstrip("/")
    return f"https://colab.research.google.com/github/{path}/blob/{branch}/notebooks/{notebook}"


def badge(repository: str, notebook: str) -> str:
    """The Markdown of the "Open in Colab" badge for ``notebook``."""
    return f"[![Open in Colab]({BADGE_IMAGE})]({colab_url(repository, notebook)})"


def setup_cell(repository: str) -> str:
    """The setup cell's code: install the package from ``repository`` if it is missing."""
    return SETUP_CELL.format(repository=repository)


def header_problems(notebook: dict, name: str, repository: str) -> list[str]:
    """What is missing or out of date in a notebook's first cells (empty: nothing)."""
    cells = notebook.get("cells", [])
    markdown = [c for c in cells[:3] if c.get("cell_type") == "markdown"]
    code = [c for c in cells if c.get("cell_type") == "code"]
    problems = []
    if not any(badge(repository, name) in "".join(c["source"]) for c in markdown):
        problems.append(f"{name}: no Colab badge for {repository} in its first cells")
    if not code or "".join(code[0]["source"]) != setup_cell(repository):
        problems.append(f"{name}: its first code cell is not the setup cell")
    return problems


def install_part(repository: str) -> str:
    """The part of the setup cell that installs what is missing (every solutions notebook
    starts with it too, then imports what it needs)."""
    return setup_cell(repository).split(PACKAGE_IMPORT)[0]


def solution_problems(notebook: dict, name: str, repository: str) -> list[str]:
    """Whether a solutions notebook's first code cell starts with today's install part."""
    code = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    if not code or not "".join(code[0]["source"]).startswith(install_part(repository)):
        return [f"{name}: its first code cell does not start with the setup cell's install part"]
    return []


def update_headers(folder: Path, repository: str) -> list[Path]:
    """Give every numbered notebook in ``folder`` the badge (in its first Markdown cell) and
    the setup cell (as its first code cell), and every notebook in ``folder/solutions`` the
    setup cell's install part; returns the notebooks changed."""
    import nbformat

    changed = []
    for path in sorted((folder / "solutions").glob(NUMBERED)):
        notebook = nbformat.read(path, as_version=4)
        first = next(c for c in notebook.cells if c.cell_type == "code")
        if solution_problems(notebook, path.name, repository) and PACKAGE_IMPORT in first.source:
            first.source = install_part(repository) + PACKAGE_IMPORT + first.source.split(
                PACKAGE_IMPORT, 1)[1]
            nbformat.write(notebook, path)
            changed.append(path)
    for path in sorted(folder.glob(NUMBERED)):
        notebook = nbformat.read(path, as_version=4)
        if not header_problems(notebook, path.name, repository):
            continue
        first_md = next(c for c in notebook.cells if c.cell_type == "markdown")
        rest = "\n".join(line for line in first_md.source.splitlines()
                         if "colab-badge.svg" not in line).strip()
        first_md.source = f"{badge(repository, path.name)}\n\n{rest}"
        code = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        if code and notebook.cells[code[0]].source.startswith(SETUP_MARK):
            notebook.cells[code[0]].source = setup_cell(repository)  # an older setup cell
        else:  # before the first code cell (after the first cell, if there is none)
            notebook.cells.insert(code[0] if code else 1,
                                  nbformat.v4.new_code_cell(setup_cell(repository)))
        nbformat.write(notebook, path)
        changed.append(path)
    return changed


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    for changed_path in update_headers(Path(sys.argv[1]), sys.argv[2]):
        print(f"updated {changed_path}")
