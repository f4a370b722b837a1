"""The package's shape: layers whose imports point one way, small modules, no duplicates."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "mnist_helpers"
#: Modules above the core: the command line, the notebook layers and the lab.
UPPER = {"cli", "__main__", "display", "course", "exercises", "lab"}


def contracts() -> list[dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    return config["contracts"]


def test_the_import_contracts_list_every_core_module():
    """A new core module must be added to both contracts, or nothing would check it."""
    core = {f"mnist_helpers.{p.stem}" for p in PACKAGE.glob("*.py")
            if p.stem not in UPPER and p.stem != "__init__"}
    layers = next(c for c in contracts() if c["type"] == "layers")
    forbidden = next(c for c in contracts() if c["type"] == "forbidden")  # the core's
    for listed in (set(layers["layers"]), set(forbidden["source_modules"])):
        assert listed == core, (f"add to pyproject's contracts: {sorted(core - listed)}; "
                                f"no longer modules: {sorted(listed - core)}")


def test_the_layers_are_the_order_the_package_docstring_tells():
    """The docstring of mnist_helpers names the core's modules in the contract's order."""
    import re

    import mnist_helpers

    layers = [name.removeprefix("mnist_helpers.")
              for name in reversed(next(c for c in contracts() if c["type"] == "layers")["layers"])]
    told = [name for name in re.findall(r"``(\w+)``", mnist_helpers.__doc__ or "")
            if name in layers]
    assert told == layers, f"the docstring tells {told}, the contract {layers}"


def test_the_old_import_cycle_would_be_caught(tmp_path):
    """data importing nondigits (the old cycle data -> nondigits -> preprocess -> data) breaks
    the layers contract. Checked on a copy of the package, in a process that sees only it."""
    import shutil
    import subprocess

    copy = tmp_path / "mnist_helpers"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns(
        "weights", "sample_images", "__pycache__"))
    data = copy / "data.py"
    data.write_text(data.read_text() + "\nfrom .nondigits import nondigit_pixels  # noqa\n")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    run = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import "
                          "lint_imports; sys.exit(lint_imports(no_cache=True, no_logo=True))"],
                         cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin"},
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "mnist_helpers.data -> mnist_helpers.nondigits" in run.stdout, run.stdout


def test_imports_point_one_way():
    """core <- display <- lab (and the command line above them), checked by import-linter."""
    from importlinter.cli import lint_imports

    assert lint_imports(config_filename=str(REPO / "pyproject.toml"), no_cache=True,
                        no_logo=True) == 0, "an import breaks the layers (see the report above)"


def test_modules_and_classes_stay_small():
    too_long = []
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        lines = source.count("\n")
        if lines > 420:
            too_long.append(f"{path.relative_to(REPO)}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ClassDef):
                size = node.end_lineno - node.lineno + 1
                if size > 160:
                    too_long.append(f"{path.relative_to(REPO)}::{node.name}: {size} lines")
    assert too_long == []


def test_the_core_does_not_import_torchvision_when_imported():
    """Importing torchvision costs over a second and 190 MiB (it imports torch._dynamo): the
    core, the command line's predict path and the fast path do without it."""
    import subprocess

    code = ("import sys, mnist_helpers, mnist_helpers.cli, mnist_helpers.lab.bench; "
            "print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_the_mnist_constants_are_torchvision_s():
    from torchvision import datasets

    from mnist_helpers.download import MIRRORS, RAW_FILES

    assert list(RAW_FILES) == [tuple(r) for r in datasets.MNIST.resources]
    assert {m.rstrip("/") for m in MIRRORS} == {m.rstrip("/") for m in datasets.MNIST.mirrors}
