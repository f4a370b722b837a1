"""Every image a notebook's Markdown shows is a file of the repository, at the relative path the
Markdown names: GitHub shows a notebook's Markdown images only from such files (not from cell
attachments, nor from paths on the machine that wrote the notebook)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
FIGURES = REPO / "notebooks" / "figures"
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb")) + sorted(
    (REPO / "notebooks" / "solutions").glob("*.ipynb"))

# ![alt](target "title") in Markdown, and <img src="target"> in HTML.
MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
HTML_IMAGE = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def image_targets(markdown: str) -> list[str]:
    """The targets of the images a Markdown text shows, in order."""
    return MARKDOWN_IMAGE.findall(markdown) + HTML_IMAGE.findall(markdown)


def image_problems(path: Path) -> list[str]:
    """One line per image of ``path``'s Markdown that GitHub could not show."""
    problems = []
    cells = nbformat.read(path, as_version=4).cells
    for number, cell in enumerate(cells, 1):
        if cell.cell_type != "markdown":
            continue
        for target in image_targets(cell.source):
            where = f"{path.name}, cell {number}: {target}"
            if target.startswith(("http://", "https://", "data:")):
                continue
            if target.startswith("attachment:"):
                problems.append(f"{where} is a cell attachment, which GitHub does not show: "
                                "save it in notebooks/figures/ and link it by relative path")
            elif Path(unquote(target)).is_absolute():
                problems.append(f"{where} is an absolute path: link it relative to the notebook")
            elif not (path.parent / unquote(target)).is_file():
                problems.append(f"{where} is not a file at that path (relative to the notebook)")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_image_a_notebook_shows_is_a_file_at_its_relative_path(path):
    assert image_problems(path) == []


def test_every_figure_file_is_shown_by_a_notebook():
    """No stale screenshot left in notebooks/figures/ once a notebook stops showing it."""
    shown = {(path.parent / unquote(target)).resolve() for path in NOTEBOOKS
             for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"
             for target in image_targets(cell.source)}
    unused = sorted(p.name for p in FIGURES.glob("*") if p.is_file() and p.resolve() not in shown)
    assert unused == []


def write_notebook(folder: Path, markdown: str, attachments: dict | None = None) -> Path:
    """A notebook in ``folder`` with one Markdown cell."""
    cell = nbformat.v4.new_markdown_cell(markdown)
    if attachments:
        cell.attachments = attachments
    path = folder / "lesson.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), path)
    return path


def test_an_image_at_its_relative_path_passes_with_a_title_and_spaces(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "my plot.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    path = write_notebook(tmp_path, '![a plot](figures/my%20plot.png "the title")\n'
                          '<img src="figures/my plot.png" width="300">\n'
                          "![badge](https://example.org/badge.svg)")
    assert image_targets(nbformat.read(path, as_version=4).cells[0].source) == [
        "figures/my%20plot.png", "https://example.org/badge.svg", "figures/my plot.png"]
    assert image_problems(path) == []


def test_a_missing_file_is_reported_with_the_cell(tmp_path):
    (tmp_path / "figures").mkdir()
    (tmp_path / "09_plot.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # beside, not in figures/
    path = write_notebook(tmp_path, "Text.\n\n![a plot](figures/09_plot.png)")
    assert image_problems(path) == [
        "lesson.ipynb, cell 1: figures/09_plot.png is not a file at that path (relative to the "
        "notebook)"]


def test_an_attachment_and_an_absolute_path_are_reported(tmp_path):
    picture = tmp_path / "shot.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    path = write_notebook(tmp_path, f"![a](attachment:shot.png)\n![b]({picture})",
                          attachments={"shot.png": {"image/png": "iVBORw0KGgo="}})
    problems = image_problems(path)
    assert len(problems) == 2
    assert "cell attachment, which GitHub does not show" in problems[0]
    assert "is an absolute path" in problems[1]
