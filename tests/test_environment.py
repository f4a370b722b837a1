"""environment.yml (conda) and pyproject.toml (pip) must ask for the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

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


def conda_dependencies() -> list[object]:
    return yaml.safe_load((REPO / "environment.yml").read_text())["dependencies"]


def conda_requirements() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for entry in conda_dependencies():
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


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def pip_requirements() -> dict[str, str | None]:
    project = pyproject()["project"]
    lines = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        lines.extend(line for line in extra if not line.startswith(project["name"]))
    found: dict[str, str | None] = {}
    for line in lines:
        name, bound = parse_requirement(line)
        # A package two extras need (onnxruntime: exporting, and notebook 10) is listed in
        # both, with the same bound.
        assert found.get(name, bound) == bound, f"{name} listed twice in pyproject.toml, " \
            f"with different bounds ({found[name]}, {bound})"
        found[name] = bound
    return found


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
    project = pyproject()["project"]
    conda_python = [e for e in conda_dependencies()
                    if isinstance(e, str) and e.replace(" ", "").startswith("python")]
    assert conda_python and parse_requirement(conda_python[0])[1] == \
        project["requires-python"].removeprefix(">=")


def test_environment_file_installs_the_project_itself():
    pip_entries = [e for e in conda_dependencies() if isinstance(e, dict)]
    assert pip_entries and "-e ." in pip_entries[0]["pip"]


def test_the_dev_extra_brings_what_running_the_notebooks_needs():
    extras = pyproject()["project"]["optional-dependencies"]
    assert "mnist-helpers[jupyter,export]" in extras["dev"]
    assert "mnist-helpers[notebooks]" in extras["jupyter"]
    assert {parse_requirement(r)[0] for r in extras["jupyter"]} >= {"jupyterlab", "ipykernel"}
    assert {parse_requirement(r)[0] for r in extras["notebooks"]} == {
        "ipywidgets", "anywidget", "captum", "onnx", "onnxscript", "onnxruntime", "scikit-learn"}


def test_the_changelog_names_the_version_of_the_package():
    """The newest release in the CHANGELOG is the version the package says it is."""
    import mnist_helpers

    text = (REPO / "docs" / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## (\d+\.\d+\.\d+)$", text, flags=re.MULTILINE)
    assert releases and releases[0] == mnist_helpers.__version__, (releases[:1],
                                                                   mnist_helpers.__version__)
    assert "version" in pyproject()["project"]["dynamic"], "the version is written once"
