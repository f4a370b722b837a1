"""The package's shape: layers whose imports point one way, small modules, no duplicates."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "mnist_helpers"
#: Modules above the core: the command line, the notebook display layer and the lab.
UPPER = {"cli", "__main__", "display", "lab"}


def contracts() -> list[dict]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]
    return config["contracts"]


def test_the_import_contract_lists_every_core_module():
    """A new core module must be added to the contract, or nothing would check it."""
    core = {f"mnist_helpers.{p.stem}" for p in PACKAGE.glob("*.py")
            if p.stem not in UPPER and p.stem != "__init__"}
    listed = set(contracts()[0]["source_modules"])
    assert listed == core, (f"add to pyproject's contract: {sorted(core - listed)}; "
                            f"no longer modules: {sorted(listed - core)}")


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
