"""Notebook 09 in a real browser: JupyterLab, headless Chromium, mouse clicks and strokes.

Run with ``make test-browser`` (or ``MNIST_BROWSER_TEST=1 pytest tests/browser``); the normal
``pytest tests`` run skips this module. It needs ``/usr/bin/chromium`` (Debian's ``chromium``
package; ``$MNIST_CHROMIUM`` names another binary) and the ``playwright`` Python package;
Playwright's own browser download is not used.

A copy of the notebook is run in ``build/browser/work/`` (the committed one is left as it is),
under the ``quick`` profile. Screenshots go to ``build/browser/``.

``MNIST_REFRESH_FIGURES=1`` refreshes the screenshots the notebook shows: the copy is run under
the ``default`` profile, the profile of the notebook's committed outputs, and the four
screenshots it shows are also written to ``notebooks/figures/09_*.png``. Before any screenshot,
the test checks that what the notebook printed in the browser about its networks (the number of
mistakes, the drawing model) is what the committed notebook printed, so the screenshots and the
printed outputs show the same networks: re-execute the notebook first
(``python -m mnist_helpers run-notebooks --in-place notebooks/09_interactive.ipynb``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

if os.environ.get("MNIST_BROWSER_TEST") != "1":
    pytest.skip("browser test: run `make test-browser` (or set MNIST_BROWSER_TEST=1)",
                allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "09_interactive.ipynb"
OUT = REPO / "build" / "browser"
CHROMIUM = os.environ.get("MNIST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MS = 1000  # Playwright counts in milliseconds
REFRESH = os.environ.get("MNIST_REFRESH_FIGURES") == "1"
PROFILE = "default" if REFRESH else "quick"
FIGURES = REPO / "notebooks" / "figures"
#: Lines the notebook prints about the networks its screenshots show (see printed_lines).
NETWORK_LINES = ("mistakes in", "drawing model:")


def log(message: str) -> None:
    print(f"[browser] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_settings(folder: Path) -> None:
    """JupyterLab user settings for a test run: every cell rendered (no windowing, so widgets
    below the fold exist in the page) and no news or update checks."""
    settings = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {
            "autoStartDefaultKernel": True},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false", "checkForUpdates": False},
    }
    for name, values in settings.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def copy_without_outputs(source: Path, target: Path) -> None:
    """The notebook with no outputs and no execution counts, so every output the test sees
    comes from running it in the browser."""
    notebook = json.loads(source.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    target.write_text(json.dumps(notebook, indent=1))


@pytest.fixture(scope="module")
def lab(mnist_raw_dir: Path) -> Iterator[str]:
    """JupyterLab on a free port of 127.0.0.1 with a token, serving a copy of notebook 09;
    yields the notebook's URL."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: `apt-get install -y chromium` (make test-browser "
                    "does it), or set MNIST_CHROMIUM")
    OUT.mkdir(parents=True, exist_ok=True)
    work = OUT / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    copy_without_outputs(NOTEBOOK, work / NOTEBOOK.name)
    home = Path(tempfile.mkdtemp(prefix="mnist-lab-"))
    write_settings(home / "settings")
    port, token = free_port(), os.urandom(16).hex()
    env = dict(
        os.environ,
        MNIST_PROFILE=PROFILE,
        MNIST_DATA_DIR=str(mnist_raw_dir),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
    )
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
        "--ServerApp.port_retries=0",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--ServerApp.terminals_enabled=False",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        command.append("--allow-root")
    server_log = (OUT / "jupyterlab.log").open("w")
    log(f"starting JupyterLab on 127.0.0.1:{port} (log: {OUT / 'jupyterlab.log'})")
    server = subprocess.Popen(command, cwd=work, env=env, stdout=server_log,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("JupyterLab did not start; see " + str(OUT / "jupyterlab.log"))
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}"
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        server_log.close()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def page(lab: str) -> Iterator[object]:
    """Chromium (a fresh profile) with the notebook open and every cell run."""
    profile = Path(tempfile.mkdtemp(prefix="mnist-chromium-"))
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60 * MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            log("opening the notebook")
            page.goto(lab)
            page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=120 * MS)
            accept_kernel_dialog(page)
            wait_for_kernel_idle(page, 120)
            log("Run > Run All Cells")
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
            # Section 1 trains a dozen small networks (longer in the default profile).
            wait_for_all_cells(page, 2400 if REFRESH else 300)
            log("all cells ran")
            if REFRESH:
                check_same_networks_as_committed(page)
            page.screenshot(path=str(OUT / "00_after_run_all.png"))
            page.javascript_errors = errors  # type: ignore[attr-defined]
            yield page
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def accept_kernel_dialog(page, seconds: float = 5) -> None:
    """Press Select if JupyterLab asks which kernel to start (the settings ask it not to)."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    try:
        dialog.wait_for(timeout=seconds * MS)
    except sync_api.TimeoutError:
        return
    log("kernel dialog: Select")
    dialog.locator("button.jp-mod-accept").click()


def wait_for_kernel_idle(page, seconds: float) -> None:
    page.wait_for_function(
        """() => {
            const s = document.querySelector(
                '.jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator');
            return s && s.getAttribute('data-status') === 'idle';
        }""", timeout=seconds * MS)


def wait_for_all_cells(page, seconds: float) -> None:
    """Until every code cell shows an execution count (no ``[*]`` or blank prompt left)."""
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll(
                '.jp-NotebookPanel .jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""", timeout=seconds * MS)
    wait_for_kernel_idle(page, seconds)


def printed_lines(notebook: Path) -> list[str]:
    """The lines of ``notebook``'s printed outputs that name the networks it uses."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    text = "".join("".join(o.get("text", "")) for c in cells if c["cell_type"] == "code"
                   for o in c.get("outputs", []) if o["output_type"] == "stream")
    return [line for line in text.splitlines() if any(m in line for m in NETWORK_LINES)]


def check_same_networks_as_committed(page) -> None:
    """Fail unless the browser's run printed the committed notebook's lines about its networks
    (so the screenshots go with the committed outputs)."""
    committed = printed_lines(NOTEBOOK)
    assert len(committed) == len(NETWORK_LINES), (
        f"{NOTEBOOK.name} has no saved outputs naming its networks: re-execute it in place "
        "(default profile) first")
    body = page.locator("body").inner_text()
    differ = [line for line in committed if line not in body]
    assert not differ, (f"the browser's run did not print {differ}: the committed outputs come "
                        "from other networks; re-execute the notebook in place (default "
                        "profile), then refresh the figures")
    log(f"same networks as the committed outputs: {committed}")


def shot(locator, name: str, figure: str | None = None) -> None:
    """A screenshot of ``locator`` in build/browser/; when refreshing, also the notebook's
    ``figure`` in notebooks/figures/."""
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(OUT / name))
    log(f"screenshot {OUT / name}")
    if REFRESH and figure:
        FIGURES.mkdir(exist_ok=True)
        shutil.copyfile(OUT / name, FIGURES / figure)
        log(f"figure {FIGURES / figure}")


def test_every_widget_renders(page):
    body = page.locator("body").inner_text()
    assert "Error displaying widget" not in body
    assert "Traceback" not in body
    for css in (".mnist-playground", ".mnist-browser", ".mnist-draw", ".mnist-draw canvas",
                ".mnist-number", ".mnist-number canvas"):
        assert page.locator(css).count() == 1, f"{css} is not on the page"
        assert page.locator(css).is_visible(), f"{css} is not visible"
    # The cells' own outputs are there too (text and a figure).
    assert "training images to draw from" in body and "mistakes in" in body
    assert page.locator(".jp-RenderedImage img").count() >= 1
    assert not page.javascript_errors, page.javascript_errors


def test_train_updates_the_figure_live_and_stop_keeps_the_best(page):
    figure = page.locator("img.mnist-playground-figure")
    status = page.locator(".mnist-playground-status")
    shot(page.locator(".mnist-playground"), "01_playground_before.png")
    seen = {figure.get_attribute("src")}
    page.locator("button.mnist-train").click()
    log("Train clicked")
    page.wait_for_function(
        "() => /Training|Epoch/.test(document.querySelector('.mnist-playground-status')"
        ".textContent)", timeout=60 * MS)
    deadline = time.monotonic() + 300
    during_shot = False
    epoch_src = None  # the figure when the status first named an epoch
    while "Finished" not in (text := status.inner_text()):
        assert time.monotonic() < deadline, "training did not finish: " + text
        src = figure.get_attribute("src")
        seen.add(src)
        # The screenshot once the figure has been redrawn after the first epoch ended, so it
        # shows a validation point (or as soon as a later epoch is under way).
        if not during_shot and re.match(r"Epoch \d+/", text):
            if epoch_src is None:
                epoch_src = src
            elif src != epoch_src or not text.startswith("Epoch 1/"):
                shot(page.locator(".mnist-playground"), "02_playground_training.png",
                     "09_playground_training.png")
                during_shot = True
        time.sleep(0.1)
    assert during_shot, "no screenshot after the first epoch ended and before the run finished"
    updates_while_training = len(seen) - 1
    seen.add(figure.get_attribute("src"))
    log(f"figure changed {len(seen) - 1} times ({updates_while_training} while training); "
        f"status: {status.inner_text()}")
    assert updates_while_training >= 2, "the figure did not update during training"
    shot(page.locator(".mnist-playground"), "03_playground_finished.png")
    assert page.locator("button.mnist-train").is_enabled()
    assert page.locator("button.mnist-stop").is_disabled()

    # Again, and Stop as soon as the figure first moves.
    before = figure.get_attribute("src")
    page.locator("button.mnist-train").click()
    page.wait_for_function(
        "old => document.querySelector('img.mnist-playground-figure').src !== old",
        arg=before, timeout=60 * MS)
    page.locator("button.mnist-stop").click()
    log("Stop clicked")
    page.wait_for_function(
        "() => /Stopped/.test(document.querySelector('.mnist-playground-status').textContent)",
        timeout=60 * MS)
    log(f"status: {status.inner_text()}")
    assert "Finished" not in status.inner_text()
    page.locator("button.mnist-train:not([disabled])").wait_for(timeout=10 * MS)
    shot(page.locator(".mnist-playground"), "04_playground_stopped.png")


def test_browser_next_changes_the_sample(page):
    title = page.locator(".mnist-browser-title")
    image = page.locator("img.mnist-browser-image")
    first_title, first_src = title.inner_text(), image.get_attribute("src")
    shot(page.locator(".mnist-browser"), "05_browser_first.png")
    page.locator("button.mnist-browser-next").click()
    page.wait_for_function(
        "old => document.querySelector('.mnist-browser-title').textContent !== old",
        arg=first_title, timeout=20 * MS)
    second_title = title.inner_text()
    log(f"{first_title!r} -> {second_title!r}")
    index = [int(re.search(r"#(\d+)", t).group(1)) for t in (first_title, second_title)]
    assert index[1] == index[0] + 1
    assert image.get_attribute("src") != first_src
    # Mistakes only: every sample shown is a wrong prediction.
    page.locator(".mnist-browser input[type=checkbox]").check()
    page.wait_for_function(
        "() => /wrong/.test(document.querySelector('.mnist-browser-title').textContent)",
        timeout=20 * MS)
    for _ in range(3):
        assert "wrong" in title.inner_text()
        before = title.inner_text()
        page.locator("button.mnist-browser-next").click()
        page.wait_for_function(
            "old => document.querySelector('.mnist-browser-title').textContent !== old",
            arg=before, timeout=20 * MS)
    shot(page.locator(".mnist-browser"), "06_browser_mistakes.png", "09_browser_mistakes.png")


def draw_stroke(page, box: dict, points: list[tuple[float, float]], steps: int = 12,
                pause_at: int | None = None) -> None:
    """Press the mouse at the first point (fractions of the canvas), move through the others,
    release. With ``pause_at``, wait there (pen down) until a prediction is shown."""
    def at(p: tuple[float, float]) -> tuple[float, float]:
        return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]

    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for i, point in enumerate(points[1:], start=1):
        page.mouse.move(*at(point), steps=steps)
        if pause_at == i:
            page.wait_for_function(
                "() => /Prediction: \\d/.test("
                "document.querySelector('.mnist-draw-prediction').textContent)",
                timeout=20 * MS)
            log("prediction shown while the pen is still down: "
                + page.locator(".mnist-draw-prediction").inner_text())
    page.mouse.up()


def predicted_digit(page, expected: int) -> int:
    """The digit the page predicts, once it shows ``expected`` (or after 20 s, whatever it
    shows then)."""
    try:
        page.wait_for_function(
            f"() => /Prediction: {expected}/.test("
            "document.querySelector('.mnist-draw-prediction').textContent)", timeout=20 * MS)
    except sync_api.TimeoutError:
        pass
    text = page.locator(".mnist-draw-prediction").inner_text()
    log(f"prediction label: {text!r}")
    found = re.search(r"Prediction: (\d)", text)
    assert found, f"no prediction shown: {text!r}"
    return int(found.group(1))


def ink_pixels(page, css: str = ".mnist-draw canvas") -> int:
    return page.evaluate("""css => {
        const c = document.querySelector(css);
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++;
        return n;
    }""", css)


def test_drawn_digits_are_predicted(page):
    canvas = page.locator(".mnist-draw canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 100
    assert "Draw a digit" in page.locator(".mnist-draw-prediction").inner_text()

    # A "1": one vertical stroke, checked half way down as well.
    draw_stroke(page, box, [(0.5, 0.15), (0.5, 0.5), (0.5, 0.85)], pause_at=1)
    assert predicted_digit(page, 1) == 1
    assert ink_pixels(page) > 1000
    shot(page.locator(".mnist-draw"), "07_draw_one.png")

    page.locator("button.mnist-draw-clear").click()
    page.wait_for_function(
        "() => /Draw a digit/.test(document.querySelector('.mnist-draw-prediction').textContent)",
        timeout=20 * MS)
    assert ink_pixels(page) == 0, "Clear left ink on the canvas"

    # A "7": the bar, then down to the left, in one stroke.
    draw_stroke(page, box, [(0.28, 0.2), (0.72, 0.2), (0.45, 0.85)])
    assert predicted_digit(page, 7) == 7
    shot(page.locator(".mnist-draw"), "08_draw_seven.png", "09_draw_seven.png")


def test_a_written_number_is_read(page):
    canvas = page.locator(".mnist-number canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 3 * box["height"], "a wide canvas"
    result = page.locator(".mnist-number-result")
    assert "Write a number" in result.inner_text()
    # "1", "7", "4", each in its own fifth of the canvas.
    draw_stroke(page, box, [(0.12, 0.2), (0.12, 0.85)])
    draw_stroke(page, box, [(0.3, 0.2), (0.45, 0.2), (0.36, 0.85)])
    draw_stroke(page, box, [(0.66, 0.2), (0.57, 0.6), (0.72, 0.6)])
    draw_stroke(page, box, [(0.68, 0.35), (0.68, 0.85)])
    page.wait_for_function(
        "() => /Number: 174/.test(document.querySelector('.mnist-number-result').textContent)",
        timeout=30 * MS)
    log(f"number read: {result.inner_text()!r}")
    assert ink_pixels(page, ".mnist-number canvas") > 1000
    shot(page.locator(".mnist-number"), "10_draw_number.png", "09_draw_number.png")
    page.locator("button.mnist-number-clear").click()
    page.wait_for_function(
        "() => /Write a number/.test(document.querySelector('.mnist-number-result').textContent)",
        timeout=20 * MS)
    page.screenshot(path=str(OUT / "11_page_end.png"))
