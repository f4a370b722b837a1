"""The README's "Open in Colab" badge opens notebook 00 of the repository that pyproject.toml
names (the one place the address is written), as each notebook's own badge does: when the
address changes, this test says the README's badge must change with it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from mnist_helpers.course.cells import badge

REPO = Path(__file__).resolve().parent.parent


def repository() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def opens_notebook_00(readme: str) -> bool:
    """Whether ``readme`` has the Colab badge of this repository's notebook 00."""
    return badge(repository(), "00_index.ipynb") in readme


def test_the_readme_badge_opens_notebook_00_of_this_repository():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert opens_notebook_00(readme), (
        f"README.md has no Colab badge for notebooks/00_index.ipynb of {repository()}: "
        "write it as mnist_helpers.course.cells.badge(repository, '00_index.ipynb') makes it")


def test_a_badge_for_another_notebook_or_repository_is_found_out():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    path = repository().removeprefix("https://github.com/")
    assert not opens_notebook_00(readme.replace("00_index.ipynb", "01_data.ipynb"))
    assert not opens_notebook_00(readme.replace(path, "someone-else/old-name"))
