"""The README and the pages in docs/ stay true to the code: links lead somewhere, quoted command
lines parse with the command line's own parser, quoted names import, named files and make
targets exist. Everything is checked in this process; no command is run."""

from __future__ import annotations

import argparse
import contextlib
import glob
import importlib
import io
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from mnist_helpers.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
IDS = [str(p.relative_to(REPO)) for p in PAGES]
# The changelog is history: it may name commands, modules and files as they were then.
CURRENT = [p for p in PAGES if p.name != "CHANGELOG.md"]
CURRENT_IDS = [str(p.relative_to(REPO)) for p in CURRENT]

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})[^\n]*\n(.*?)^ {0,3}\1[ \t]*$", re.M | re.S)
INLINE = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
CLI = re.compile(r"\bpython3? -m mnist_helpers(?=\s)(.*)")
DOTTED = re.compile(r"(?<![\w./-])mnist_helpers(?:\.[A-Za-z_]\w*)+")
PATH = re.compile(r"(?<![\w./-])((?:benchmarks|notebooks|tests|mnist_helpers|docs|\.ci)/[\w./*-]*)")
MAKE = re.compile(r"(?<![\w./-])make\s+([A-Za-z][\w.-]*)")
COMMAND_END = re.compile(r"\s(?:#|&&|\|\|?|;|>)|\)\s*$")  # a comment, the next command, ...


def prose_and_code(text: str) -> tuple[str, list[str]]:
    """The text outside code blocks, and every code text: each fenced block's logical lines
    (a line ending in a backslash continues on the next) and each inline code span."""
    code: list[str] = []
    for match in FENCE.finditer(text):
        code.extend(match.group(2).replace("\\\n", " ").splitlines())
    prose = FENCE.sub("", text)
    code.extend(" ".join(m.group(2).split()) for m in INLINE.finditer(prose))
    return prose, code


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", INLINE.sub(r"\2", heading).lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors a Markdown page's headings define."""
    prose, _ = prose_and_code(page.read_text(encoding="utf-8"))
    return {slug(h) for h in HEADING.findall(prose)}


def broken_links(page: Path) -> list[str]:
    """Relative links (and #anchors into Markdown pages) in ``page`` that lead nowhere."""
    prose, _ = prose_and_code(page.read_text(encoding="utf-8"))
    problems = []
    for target in LINK.findall(INLINE.sub("", prose)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            problems.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            problems.append(f"{target}: no heading #{anchor} in {linked.name}")
    return problems


def cli_arguments(command: str) -> list[list[str]]:
    """The argument lists to parse for one quoted command line after
    ``python -m mnist_helpers``: ``...`` dropped, ``<name>`` read as ``name``, and a
    ``{a,b}`` sub-command as each of its choices."""
    words = [w.strip("<>") for w in shlex.split(command) if w != "..."]
    if words and re.fullmatch(r"\{[\w,-]+\}", words[0]):
        return [[choice, *words[1:]] for choice in words[0][1:-1].split(",")]
    return [words] if words else []


def parse_error(argv: list[str]) -> str | None:
    """Why the command line's parser refuses ``argv`` (None when it accepts it); ``--help``
    is accepted without printing."""
    parser: argparse.ArgumentParser = build_parser()
    messages = io.StringIO()
    with contextlib.redirect_stdout(messages), contextlib.redirect_stderr(messages):
        try:
            parser.parse_args(argv)
        except SystemExit as stop:
            return None if stop.code == 0 else messages.getvalue().strip() or str(stop.code)
    return None


def bad_commands(text: str) -> list[str]:
    """Quoted ``python -m mnist_helpers ...`` command lines the parser refuses."""
    problems = []
    for line in prose_and_code(text)[1]:
        for match in CLI.finditer(line):
            command = COMMAND_END.split(match.group(1), maxsplit=1)[0]
            for argv in cli_arguments(command):
                error = parse_error(argv)
                if error:
                    problems.append(f"python -m mnist_helpers {' '.join(argv)}: {error}")
    return problems


def resolves(name: str) -> bool:
    """Whether ``name`` (``mnist_helpers.x.y``) is a module, or an attribute of one."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            found: object = importlib.import_module(module)
        except ModuleNotFoundError as missing:
            if not f"{module}.".startswith(f"{missing.name}."):
                raise  # the module is there, but something it imports is missing
            continue
        for attribute in parts[cut:]:
            if not hasattr(found, attribute):
                return False
            found = getattr(found, attribute)
        return True
    return False


def unknown_names(text: str) -> list[str]:
    """Quoted dotted names ``mnist_helpers.x.y`` that neither import nor resolve."""
    names = {n for code in prose_and_code(text)[1] for n in DOTTED.findall(code)}
    return sorted(n for n in names if not resolves(n))


def missing_paths(text: str) -> list[str]:
    """Repository paths named anywhere in ``text`` (``benchmarks/x.py``, ``notebooks/y.ipynb``,
    ``tests/``, ``mnist_helpers/``, ``docs/``, ``.ci/``) that do not exist; a glob must match."""
    paths = {p.rstrip(".,") for p in PATH.findall(text)}
    return sorted(p for p in paths if not glob.glob(str(REPO / p)))


def make_targets() -> set[str]:
    """The targets the Makefile defines."""
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", text, re.M))


def unknown_make_targets(text: str) -> list[str]:
    """``make <target>`` in code (comments left out) whose target the Makefile lacks."""
    code = [re.sub(r"(^|\s)#.*", "", line) for line in prose_and_code(text)[1]]
    named = {t for line in code for t in MAKE.findall(line)}
    return sorted(named - make_targets())


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_relative_links_lead_to_files_and_headings_that_exist(page):
    assert broken_links(page) == []


@pytest.mark.parametrize("page", CURRENT, ids=CURRENT_IDS)
def test_quoted_command_lines_parse_with_the_cli_parser(page):
    assert bad_commands(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", CURRENT, ids=CURRENT_IDS)
def test_quoted_mnist_helpers_names_import_or_resolve(page):
    assert unknown_names(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", CURRENT, ids=CURRENT_IDS)
def test_named_benchmarks_notebooks_and_files_exist(page):
    assert missing_paths(page.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_make_targets_named_are_in_the_makefile(page):
    assert unknown_make_targets(page.read_text(encoding="utf-8")) == []


def test_the_readme_links_every_docs_page():
    linked = {(REPO / t.partition("#")[0]).resolve()
              for t in LINK.findall((REPO / "README.md").read_text(encoding="utf-8"))}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


def test_the_readme_gives_the_test_commands_ci_runs():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    readme = prose_and_code((REPO / "README.md").read_text(encoding="utf-8"))[1]
    in_readme = {re.sub(r"\s#.*", "", line).strip() for line in readme}
    for command in ("python -m pytest", "python -m pytest -m slow tests", "make test-browser"):
        assert command in ci, f".ci/run no longer runs {command}"
        assert command in in_readme, f"README.md does not give {command}"


def core_layers() -> list[str]:
    """The core's modules, lowest first, as the import-linter ``layers`` contract lists them."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (layers,) = [c["layers"] for c in config["tool"]["importlinter"]["contracts"]
                 if c["type"] == "layers"]
    return list(reversed(layers))


def test_the_design_page_lists_the_layers_in_the_contract_s_order():
    design = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    section = design.split("## The layers", 1)[1].split("\n## ", 1)[0]
    named = list(dict.fromkeys(n for n in DOTTED.findall(section) if n in core_layers()))
    assert named == core_layers()


def test_the_design_page_maps_every_module():
    design = (REPO / "docs" / "design.md").read_text(encoding="utf-8")
    package = REPO / "mnist_helpers"
    modules = [*package.glob("*.py"), *package.glob("*/*.py")]
    unmapped = [str(m.relative_to(package)) for m in modules
                if m.name not in {"__init__.py", "__main__.py"}
                and not re.search(rf"^ +{re.escape(m.name)} ", design, re.M)]
    assert unmapped == []


# --- each check finds a planted mistake (a scratch page, never the real ones) ----------------

SCRATCH = """# Scratch

See [the benchmarks](benchmarks.md#timing) and [a missing page](nowhere.md), and
[a heading here](#scratch) and [a missing one](#nowhere).

```bash
python -m mnist_helpers predict --number photo.png   # fine
python -m mnist_helpers predict --numbers photo.png
python -m mnist_helpers {train,evaluate,serve} --help
make test && make tests
python benchmarks/no_such_benchmark.py
```

`mnist_helpers.predict.is_top_class`, `mnist_helpers.predict.wins`, `mnist_helpers.numbers`,
`notebooks/99_missing.ipynb`, `python -m mnist_helpers evaluate --checkpoint-file x.pt`.
"""


def test_each_check_finds_a_planted_mistake(tmp_path):
    page = tmp_path / "scratch.md"
    page.write_text(SCRATCH, encoding="utf-8")
    (tmp_path / "benchmarks.md").write_text("# Benchmarks\n\n## Timing\n", encoding="utf-8")

    assert broken_links(page) == ["nowhere.md: no such file",
                                  "#nowhere: no heading #nowhere in scratch.md"]
    refused = bad_commands(SCRATCH)
    assert [p.split(":")[0] for p in refused] == [
        "python -m mnist_helpers predict --numbers photo.png",
        "python -m mnist_helpers serve --help",
        "python -m mnist_helpers evaluate --checkpoint-file x.pt"]
    assert "unrecognized arguments: --numbers" in refused[0]
    assert unknown_names(SCRATCH) == ["mnist_helpers.numbers", "mnist_helpers.predict.wins"]
    assert missing_paths(SCRATCH) == ["benchmarks/no_such_benchmark.py",
                                      "notebooks/99_missing.ipynb"]
    assert unknown_make_targets(SCRATCH) == ["tests"]


def test_commands_in_comments_and_other_programs_are_not_parsed():
    text = ("```bash\nmake run  # then make sure it printed\n"
            "python -m mnist_helpers.lab.bench --best\n"
            "MNIST_PROFILE=default python -m mnist_helpers run-notebooks --in-place x.ipynb"
            " && echo done\n```\n")
    assert bad_commands(text) == []
    assert unknown_make_targets(text) == []
