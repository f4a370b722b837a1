"""Running the course where learners run it: the Colab badge and setup cell of every notebook,
the package installed normally (no repository around it), notebooks run from another folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import nbformat
import pytest

from mnist_helpers.course.cells import (
    NUMBERED,
    colab_url,
    header_problems,
    setup_cell,
    solution_problems,
)

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob(NUMBERED))
SOLUTIONS = sorted((REPO / "notebooks" / "solutions").glob(NUMBERED))


def repository() -> str:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_notebook_opens_with_the_badge_and_the_setup_cell(path):
    problems = header_problems(nbformat.read(path, as_version=4), path.name, repository())
    assert problems == [], (f"{problems}; run: python -m mnist_helpers.course.cells "
                            f"notebooks {repository()}")


def test_the_repository_address_is_written_in_one_place():
    url = repository()
    assert url.startswith("https://github.com/")
    assert colab_url(url, "01_data.ipynb").endswith("/blob/main/notebooks/01_data.ipynb")
    elsewhere = [str(p.relative_to(REPO)) for p in REPO.rglob("*")
                 if p.is_file() and p.suffix in {".py", ".md", ".toml", ".yml", ".cfg", ".txt"}
                 and ".venv" not in p.parts and "build" not in p.parts
                 and p.name != "pyproject.toml" and url in p.read_text(errors="ignore")]
    assert elsewhere == []


# --- a clean environment: the dependencies, but no mnist_helpers and no repository ---------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The package built as a wheel, as pip would install it from the repository."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out),
                    str(REPO)], check=True, timeout=600,
                   env={**os.environ, "PIP_FIND_LINKS": str(out)})
    (built,) = out.glob("mnist_helpers-*.whl")
    return built


@pytest.fixture(scope="module")
def clean_python(tmp_path_factory) -> Path:
    """A new virtual environment that sees this environment's packages (torch and the rest),
    except mnist_helpers: a folder of links to them, named in a .pth file."""
    if os.name != "posix":
        pytest.skip("the clean environment is built with symbolic links")
    root = tmp_path_factory.mktemp("clean")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")],
                   check=True)
    python = root / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "ensurepip"], check=True, capture_output=True)
    # ensurepip brings an old setuptools; torch asks for a newer one, which the links have.
    subprocess.run([str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "setuptools"],
                   check=True, capture_output=True)
    deps = root / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().startswith(("mnist_helpers", "__editable__", "mnist-helpers")):
            (deps / entry.name).symlink_to(entry)
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_paths()['purelib'])"], capture_output=True,
                          text=True, check=True).stdout.strip()
    (Path(site) / "dependencies.pth").write_text(f"{deps}\n")
    return python


def run(python: Path, *args: str, cwd: Path, env: dict | None = None, timeout: int = 900
        ) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "MNIST_DEVICE": "cpu", **(env or {})}
    for key in ("MNIST_WORKSPACE", "PYTHONPATH"):
        full_env.pop(key, None)
    return subprocess.run([str(python), *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_the_setup_cell_installs_the_package_where_it_is_missing(clean_python, wheel, tmp_path):
    """Notebook 01's setup cell, in an environment without mnist_helpers: it says what it does,
    installs from MNIST_HELPERS_PIP, and goes on; a second run installs nothing."""
    cell = next(c for c in nbformat.read(REPO / "notebooks" / "01_data.ipynb",
                                         as_version=4).cells if c.cell_type == "code")
    assert cell.source == setup_cell(repository())
    missing = run(clean_python, "-c", "import mnist_helpers", cwd=tmp_path)
    assert missing.returncode != 0 and "No module named 'mnist_helpers'" in missing.stderr
    first = run(clean_python, "-c", cell.source, cwd=tmp_path,
                env={"MNIST_HELPERS_PIP": f"{wheel}", "PIP_NO_INDEX": "1"})
    assert first.returncode == 0, first.stderr[-2000:]
    assert f"installing {wheel} with pip" in first.stdout and "Installed." in first.stdout
    assert "profile: default" in first.stdout and "device: cpu" in first.stdout
    second = run(clean_python, "-c", cell.source, cwd=tmp_path)
    assert second.returncode == 0 and "installing" not in second.stdout
    where = run(clean_python, "-c", "import mnist_helpers, sys; print(mnist_helpers.__file__)",
                cwd=tmp_path)
    assert str(REPO) not in where.stdout and "site-packages" in where.stdout


@pytest.mark.slow
def test_the_series_runs_from_another_folder_with_the_package_installed(
        clean_python, wheel, tmp_path, mnist_raw_dir):
    """Every notebook, copied to a folder of their own, run with the installed package (quick
    profile): data, models and outputs go to ./mnist-workspace there, and nothing is written
    into the repository."""
    installed = run(clean_python, "-m", "pip", "install", "--no-deps", "--quiet", str(wheel),
                    cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr
    course = tmp_path / "my course"
    course.mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, course / path.name)
    before = sorted(p.name for p in REPO.iterdir())
    result = run(clean_python, "-m", "mnist_helpers", "run-notebooks", cwd=course,
                 env={"MNIST_PROFILE": "quick", "MNIST_DATA_DIR": str(mnist_raw_dir)},
                 timeout=1800)
    assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:len(NOTEBOOKS)]] == [p.name for p in NOTEBOOKS]
    assert lines[-1].startswith("test accuracy: ")
    workspace = course / "mnist-workspace"
    assert (workspace / "models" / "mnist_cnn_quick.pt").is_file()
    assert (workspace / "data" / "MNIST" / "raw").is_dir()
    executed = sorted(p.name for p in (workspace / "build" / "notebooks").glob("*.ipynb"))
    assert executed == [p.name for p in NOTEBOOKS]
    for name in executed:
        cells = json.loads((workspace / "build" / "notebooks" / name).read_text())["cells"]
        errors = [o for c in cells for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert errors == [], name
    assert sorted(p.name for p in REPO.iterdir()) == before


@pytest.mark.parametrize("value, message", [
    ("", "MNIST_HELPERS_PIP is set but empty"),
    ("   ", "MNIST_HELPERS_PIP is set but empty"),
    ("./no-such-folder-of-mnist-helpers", "pip could not install ./no-such-folder"),
])
def test_the_setup_cell_says_in_one_line_what_went_wrong(tmp_path, value, message):
    """Where the package is missing (``-S``: no site-packages), a blank or wrong
    MNIST_HELPERS_PIP ends the cell with one line, not a traceback."""
    code = setup_cell(repository())
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=tmp_path,
                            env={**os.environ, "MNIST_HELPERS_PIP": value, "PIP_NO_INDEX": "1"},
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(message), result.stderr


def test_the_setup_cell_installs_only_the_missing_notebook_packages(monkeypatch, capsys):
    """Where mnist_helpers is installed but a package of its "notebooks" extra is missing (a
    core install, or Colab without captum), the cell installs just those, by the extra's
    requirements; nothing else is installed (scikit-learn, whose module is sklearn, included:
    the cell asks for distributions by name)."""
    import importlib.metadata

    version = importlib.metadata.version

    def without_captum(name):
        if name == "captum":
            raise importlib.metadata.PackageNotFoundError(name)
        return version(name)

    monkeypatch.setattr(importlib.metadata, "version", without_captum)
    installed: list[list[str]] = []

    def fake_run(command, *args, **kwargs):
        installed.append(command[command.index("install") + 2:])  # after "--quiet"
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    extra = [r.split(";")[0] for r in importlib.metadata.requires("mnist-helpers") or []
             if 'extra == "notebooks"' in r]
    assert [r for r in extra if r.startswith("captum")], "captum is in the notebooks extra"
    exec(setup_cell(repository()), {"__name__": "setup_cell"})
    assert installed == [[r for r in extra if r.startswith("captum")]]
    assert "installing captum" in capsys.readouterr().out


def test_the_core_does_not_need_the_notebook_packages():
    """The core's dependencies leave out what only notebooks import."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for name in ("ipywidgets", "anywidget", "captum", "jupyterlab"):
        assert name not in core
        assert any(r.startswith(name) for extra in project["optional-dependencies"].values()
                   for r in extra)


def test_the_core_and_the_command_line_import_without_the_notebook_packages():
    """With ipywidgets, anywidget and captum missing, the package, the number reader and the
    command line still import (only notebooks need those)."""
    code = ("import sys\n"
            "for name in ('ipywidgets', 'anywidget', 'captum'): sys.modules[name] = None\n"
            "import mnist_helpers, mnist_helpers.number_reading, mnist_helpers.cli\n"
            "mnist_helpers.cli.build_parser()\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_solutions_notebook_starts_with_the_setup_cells_install_part(path):
    """Opened on its own (on Colab too), a solutions notebook installs what it needs."""
    problems = solution_problems(nbformat.read(path, as_version=4), path.name, repository())
    assert problems == [], (f"{problems}; run: python -m mnist_helpers.course.cells "
                            f"notebooks {repository()}")


def test_numbered_notebooks_include_lettered_ones_in_course_order(tmp_path, monkeypatch):
    from mnist_helpers.course.runner import default_notebooks

    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name in ["08_experiments.ipynb", "07b_reading.ipynb", "00_index.ipynb",
                 "07a_refusing.ipynb", "scratch.ipynb", "7_typo.ipynb"]:
        (folder / name).write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert [p.name for p in default_notebooks()] == [
        "00_index.ipynb", "07a_refusing.ipynb", "07b_reading.ipynb", "08_experiments.ipynb"]


OPENS, CLOSES = "> **Optional · ", "> *End of the optional part: "


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_every_optional_part_is_closed_and_says_where_the_main_path_goes_on(path):
    """A learner skipping an optional part is told which heading to skip to, and it exists."""
    cells = [c.source for c in nbformat.read(path, as_version=4).cells
             if c.cell_type == "markdown"]
    headings = {line.lstrip("#").strip() for text in cells for line in text.splitlines()
                if line.startswith("#")}
    open_part = None
    for text in cells:
        if text.startswith(OPENS):
            text = " ".join(line.removeprefix(">").strip() for line in text.splitlines())
            assert open_part is None, f"{path.name}: {text[:60]!r} opens inside {open_part!r}"
            open_part = text
            target = text.split("skip to **")[-1].split("**")[0]
            assert "skip to **" in text and target in headings, (
                f"{path.name}: {text[:60]!r} must say 'skip to **<a heading of this notebook>**'")
        elif text.startswith(CLOSES):
            assert open_part is not None, f"{path.name}: {text[:60]!r} closes no optional part"
            open_part = None
    assert open_part is None, f"{path.name}: {open_part[:60]!r} is never closed"


def _bound_and_loaded(source: str) -> tuple[set[str], set[str], set[str]]:
    """What a cell binds for later cells (at its top level: assignments, imports, functions),
    what it binds anywhere (also arguments and names inside functions), and what it reads.
    IPython's %magic and !shell lines are left out."""
    import ast

    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    tree = ast.parse("\n".join(lines))

    def binds(nodes: list[ast.AST], *, top: bool) -> set[str]:
        names: set[str] = set()
        todo = list(nodes)
        while todo:
            node = todo.pop()
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                names.add(node.name)
            inner = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                     ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
            if not (top and isinstance(node, inner)):
                todo.extend(ast.iter_child_nodes(node))
        return names

    loaded = {node.id for node in ast.walk(tree)
              if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
    return binds(tree.body, top=True), binds(tree.body, top=False), loaded


def main_path_uses_of_optional_names(notebook: nbformat.NotebookNode) -> list[str]:
    """Main-path code cells that read a name only an optional part defines: a learner who skips
    that part, as its banner invites, gets a NameError there."""
    import builtins

    main, optional, problems = set(dir(builtins)), set(), []
    inside = False
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            inside = (True if cell.source.startswith(OPENS)
                      else False if cell.source.startswith(CLOSES) else inside)
        elif cell.cell_type == "code":
            top, anywhere, loaded = _bound_and_loaded(cell.source)
            if inside:
                optional |= top - main
                continue
            missing = sorted((loaded - anywhere - main) & optional)
            if missing:
                problems.append(f"{cell.source.splitlines()[0][:60]!r} reads {missing}")
            main |= top
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=[p.name for p in NOTEBOOKS + SOLUTIONS])
def test_the_main_path_runs_with_every_optional_part_skipped(path):
    problems = main_path_uses_of_optional_names(nbformat.read(path, as_version=4))
    assert problems == [], f"{path.name}: define these on the main path: {problems}"


def test_a_main_path_cell_reading_an_optional_name_is_found():
    v4 = nbformat.v4
    notebook = v4.new_notebook(cells=[
        v4.new_code_cell("import math\nseen = math.pi"),
        v4.new_markdown_cell(OPENS + "Extra.** On a first read, skip to **Summary**."),
        v4.new_code_cell("from statistics import median\nextra = median([seen, 1])"),
        v4.new_markdown_cell(CLOSES + "extra.*"),
        v4.new_code_cell("def f(extra):\n    return extra\nprint(f(seen), math.e)"),  # fine
        v4.new_code_cell("print(extra, median([1]))")])
    assert main_path_uses_of_optional_names(notebook) == [
        "'print(extra, median([1]))' reads ['extra', 'median']"]
