"""environment.yml (conda) and pyproject.toml (pip) must ask for the same packages."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parent.parent
#: conda-forge names that differ from the PyPI ones.
CONDA_TO_PIP = {"pytorch": "torch"}
#: Entries of environment.yml that are not packages of the project.
NOT_PACKAGES = {"python", "pip"}
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^\]]*\])?\s*(?:>=\s*([0-9][^,;\s]*))?")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(text: str) -> tuple[str, str | None]:
    match = REQUIREMENT.match(text)
    assert match, f"cannot read requirement {text!r}"
    return normalise(match.group(1)), match.group(2)


def conda_dependencies_by_hand(text: str) -> list[object]:
    """The ``dependencies:`` list of an environment file: strings, and ``{"pip": [...]}``."""
    entries: list[object] = []
    in_dependencies, pip_list, pip_indent = False, None, 0
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            in_dependencies = line.strip() == "dependencies:"
            pip_list = None
            continue
        if not in_dependencies:
            continue
        item = line.strip()
        if pip_list is not None and indent > pip_indent:
            assert item.startswith("- "), raw
            pip_list.append(item[2:].strip())
            continue
        pip_list = None
        assert item.startswith("- "), f"unexpected line in dependencies: {raw!r}"
        value = item[2:].strip()
        if value == "pip:":
            pip_list, pip_indent = [], indent
            entries.append({"pip": pip_list})
        else:
            entries.append(value)
    return entries


def conda_dependencies(text: str) -> list[object]:
    try:
        import yaml
    except ImportError:
        return conda_dependencies_by_hand(text)
    return yaml.safe_load(text)["dependencies"]


def conda_requirements() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for entry in conda_dependencies((REPO / "environment.yml").read_text()):
        if isinstance(entry, dict):
            # Only the project itself may come from pip in the conda file.
            assert all(item.startswith("-e ") for item in entry.get("pip", [])), entry
            continue
        name, bound = parse_requirement(str(entry).replace(" ", ""))
        name = CONDA_TO_PIP.get(name, name)
        if name in NOT_PACKAGES:
            continue
        assert name not in found, f"{name} listed twice in environment.yml"
        found[name] = bound
    return found


def pip_requirements() -> dict[str, str | None]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(extra)
    found: dict[str, str | None] = {}
    for line in lines:
        name, bound = parse_requirement(line)
        assert name not in found, f"{name} listed twice in pyproject.toml"
        found[name] = bound
    return found


def test_hand_parser_agrees_with_yaml():
    yaml = pytest.importorskip("yaml")
    text = (REPO / "environment.yml").read_text()
    assert conda_dependencies_by_hand(text) == yaml.safe_load(text)["dependencies"]


def test_hand_parser_reads_a_small_example():
    text = ("name: x\nchannels:\n  - conda-forge\ndependencies:\n  - python>=3.10\n"
            "  - pytorch>=2.4   # comment\n  - pip\n  - pip:\n      - -e .\nvariables:\n  A: 1\n")
    assert conda_dependencies_by_hand(text) == ["python>=3.10", "pytorch>=2.4", "pip",
                                                {"pip": ["-e ."]}]


def test_conda_and_pip_ask_for_the_same_packages():
    conda, pip = conda_requirements(), pip_requirements()
    assert "torch" in conda and "torchvision" in conda
    assert sorted(conda) == sorted(pip), (
        f"only in environment.yml: {sorted(set(conda) - set(pip))}; "
        f"only in pyproject.toml: {sorted(set(pip) - set(conda))}")


def test_conda_and_pip_have_the_same_lower_bounds():
    conda, pip = conda_requirements(), pip_requirements()
    differing = {name: (conda[name], pip[name]) for name in conda.keys() & pip.keys()
                 if conda[name] != pip[name]}
    assert differing == {}, f"lower bounds differ (environment.yml, pyproject.toml): {differing}"
    assert all(bound for bound in pip.values()), "every package should have a lower bound"


def test_python_versions_agree():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    conda_python = [e for e in conda_dependencies((REPO / "environment.yml").read_text())
                    if isinstance(e, str) and e.replace(" ", "").startswith("python")]
    assert conda_python and parse_requirement(conda_python[0])[1] == \
        project["requires-python"].removeprefix(">=")


def test_environment_file_installs_the_project_itself():
    pip_entries = [e for e in conda_dependencies((REPO / "environment.yml").read_text())
                   if isinstance(e, dict)]
    assert pip_entries and "-e ." in pip_entries[0]["pip"]
