"""The command line, run as a user runs it: ``python -m mnist_helpers ...``; every careless or
hostile input gets a prediction, a refusal or one line naming the input and the fix."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_helpers import build_model, load_mnist, save_checkpoint
from mnist_helpers.checkpoint import integrity_digest
from mnist_helpers.cli import main

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str | os.PathLike, timeout: int = 300, prefix: list[str] | None = None,
            env: dict | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """``python -m mnist_helpers ARGS`` as a user types it: in this process (``main``), or in a
    process of its own when ``prefix`` must wrap it (e.g. to drop root's file permissions)."""
    full_env = {"MNIST_DEVICE": "cpu", **(env or {})}
    if prefix is not None:
        sub_env = {**os.environ, "PYTHONWARNINGS": "ignore", **full_env}
        sub_env.pop("MNIST_PROFILE", None)
        return subprocess.run([*prefix, sys.executable, "-m", "mnist_helpers",
                               *map(str, args)], cwd=cwd, env=sub_env, capture_output=True,
                              text=True, timeout=timeout, check=False)
    saved = {key: os.environ.get(key) for key in [*full_env, "MNIST_PROFILE"]}
    here = Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.environ.update(full_env)
        os.environ.pop("MNIST_PROFILE", None)
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        os.chdir(here)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def one_error_line(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """The single ``error:`` line of a failed command, checked to hold ``fragments``."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def mixed_inputs(tmp_path_factory, mnist_raw_dir, mnist_cache, photo_of):
    """Two good digit photos and four inputs that must fail, in a fixed order."""
    folder = tmp_path_factory.mktemp("cli-images")
    test = load_mnist(False, mnist_raw_dir, download=False, cache_dir=mnist_cache)
    good = []
    for index in (0, 1):
        path = folder / f"digit_{index}.png"
        photo_of(test.data[index].numpy()).save(path)
        good.append((path, int(test.targets[index])))
    blank = folder / "blank.png"
    Image.new("L", (300, 200), 255).save(blank)
    text = folder / "notes.png"
    text.write_text("hello\n")
    empty_dir = folder / "nothing_here"
    empty_dir.mkdir()
    missing = folder / "missing.jpg"
    inputs = [good[0][0], blank, text, empty_dir, good[1][0], missing]
    expected = [good[0][1], None, None, None, good[1][1], None]
    return inputs, expected


@pytest.fixture(scope="module")
def many_digits(tmp_path_factory, mnist_raw_dir, mnist_cache, photo_of):
    """A folder of 300 digit photos."""
    folder = tmp_path_factory.mktemp("many")
    test = load_mnist(False, mnist_raw_dir, download=False, cache_dir=mnist_cache)
    for index in range(300):
        photo_of(test.data[index].numpy()).save(folder / f"digit_{index:03d}.png")
    return folder


# --- evaluate and predict -------------------------------------------------------------------


def test_evaluate_prints_test_accuracy(quick_checkpoint, mnist_raw_dir):
    result = run_cli("evaluate", "--checkpoint", quick_checkpoint, "--data-dir", mnist_raw_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"test accuracy: \d+\.\d\d%", lines[-1]), lines[-1]
    assert float(lines[-1].split()[-1].rstrip("%")) > 80
    assert re.fullmatch(r"Test set: Average loss: \d+\.\d{4}, Accuracy: \d+/10000 "
                        r"\(\d+\.\d\d%\)", lines[-2]), lines[-2]
    assert lines[0].startswith(f"checkpoint: {quick_checkpoint} (fast_cnn, 1 epochs")


def test_evaluate_without_checkpoint_is_one_line_error(tmp_path, mnist_raw_dir):
    missing = tmp_path / "no_model.pt"
    result = run_cli("evaluate", "--checkpoint", missing, "--data-dir", mnist_raw_dir)
    assert result.stdout == ""
    one_error_line(result, str(missing), "train")


def test_predict_json_gives_one_line_per_input(quick_checkpoint, mixed_inputs):
    inputs, expected = mixed_inputs
    result = run_cli("predict", "--json", "--checkpoint", quick_checkpoint, *inputs)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(inputs), result.stdout
    for line, path, label in zip(lines, inputs, expected, strict=True):
        record = json.loads(line)
        assert record["path"] == str(path)
        if path.name == "blank.png":  # a blank page is an answer: not a digit
            assert record == {"path": str(path), "prediction": None, "reason": record["reason"],
                              "probabilities": None, "can_refuse": False}
            assert record["reason"].startswith("not a digit: no ink found")
        elif label is None:
            assert set(record) == {"path", "error"} and record["error"]
        else:
            assert set(record) == {"path", "prediction", "reason", "probabilities",
                                   "can_refuse"}, "one schema for every prediction line"
            assert record["prediction"] == label and record["reason"] is None
            assert record["can_refuse"] is False, "a ten-class model without a threshold"
            assert len(record["probabilities"]) == 10
            assert sum(record["probabilities"]) == pytest.approx(1.0, abs=1e-4)
            assert np.argmax(record["probabilities"]) == label
    reasons = [json.loads(line).get("error", "") for line in lines]
    assert "not an image" in reasons[2]
    assert "folder has no images" in reasons[3]
    assert "no such file" in reasons[5]


def test_predict_plain_output_and_exit_zero(quick_checkpoint, mixed_inputs, capsys):
    inputs, expected = mixed_inputs
    code = main(["predict", "--checkpoint", str(quick_checkpoint), "--device", "cpu",
                 str(inputs[0]), str(inputs[4])])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2
    for line, path, label in zip(out, (inputs[0], inputs[4]), (expected[0], expected[4]),
                                 strict=True):
        assert re.fullmatch(rf"{re.escape(str(path))}: {label} \(\d+\.\d%\) \[this model cannot "
                            r"refuse: it names a digit for any image with ink\]", line), line


def test_predict_plain_errors_go_to_stderr_and_refusals_to_stdout(quick_checkpoint,
                                                                  mixed_inputs, capsys):
    inputs, _ = mixed_inputs
    code = main(["predict", "--checkpoint", str(quick_checkpoint), "--device", "cpu",
                 str(inputs[2])])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.strip().startswith(f"{inputs[2]}: not an image file")
    code = main(["predict", "--checkpoint", str(quick_checkpoint), "--device", "cpu",
                 str(inputs[1])])
    captured = capsys.readouterr()
    assert code == 0 and captured.err == "", "refusing is an answer, not a failure"
    assert captured.out.strip() == f"{inputs[1]}: not a digit: no ink found (the image is " \
                                   "blank or has too little contrast)"


def test_predict_refuses_what_is_not_a_digit(tmp_path):
    """The shipped model has a "not a digit" class: a typed word is refused, exit status 0."""
    from mnist_helpers.nondigits import TEST_FONTS, draw_nondigit, load_fonts

    rng = np.random.default_rng(0)
    fonts = load_fonts(TEST_FONTS)
    paths = []
    for i in range(4):
        path = tmp_path / f"word_{i}.png"
        Image.fromarray((draw_nondigit("word", rng, fonts, size=160) * 255).astype(np.uint8)
                        ).save(path)
        paths.append(path)
    result = run_cli("predict", "--json", *paths)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    refused = [r for r in records if r["prediction"] is None]
    assert len(refused) >= 3, records
    for record in refused:
        assert record["reason"].startswith("not a digit (")
        assert len(record["probabilities"]) == 10


def test_predict_number_json(tmp_path, mixed_inputs):
    from mnist_helpers.images import rasterize_strokes
    from mnist_helpers.lab.pictures import STROKES

    strokes = [[(20 + 90 * i + 60 * x, 20 + 100 * y) for x, y in stroke]
               for i, digit in enumerate((2, 0, 2, 4)) for stroke in STROKES[digit]]
    path = tmp_path / "2024.png"
    Image.fromarray((rasterize_strokes(strokes, (400, 150), 10) * 255).astype(np.uint8)
                    ).save(path)
    blank = tmp_path / "blank.png"
    Image.new("L", (300, 100), 255).save(blank)
    result = run_cli("predict", "--number", "--json", path, blank, tmp_path / "missing.png")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    number, nothing, missing = (json.loads(line) for line in result.stdout.splitlines())
    assert number["number"] == "2024" and number["path"] == str(path)
    assert [d["prediction"] for d in number["digits"]] == [2, 0, 2, 4]
    assert all(len(d["probabilities"]) == 10 and len(d["box"]) == 4 for d in number["digits"])
    assert nothing == {"path": str(blank), "number": None, "digits": [],
                       "reason": "no number: no ink found (the image is blank or has too "
                                 "little contrast)"}
    assert number["reason"] is None
    assert missing["path"].endswith("missing.png") and "no such file" in missing["error"]
    plain = run_cli("predict", "--number", path)
    assert plain.stdout.strip() == f"{path}: 2024"


def test_predict_uses_the_shipped_model_by_default(mixed_inputs):
    inputs, expected = mixed_inputs
    result = run_cli("predict", "--json", inputs[0])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["prediction"] == expected[0]


# --- hostile and careless inputs: one line each, nothing lost -------------------------------


def test_a_checkpoint_with_flipped_bytes_is_refused(tmp_path, mixed_inputs):
    """2,000 flipped bytes inside the weights of the shipped model used to be used silently."""
    from mnist_helpers.config import shipped_checkpoint_path

    damaged = tmp_path / "damaged.pt"
    raw = bytearray(shipped_checkpoint_path().read_bytes())
    with zipfile.ZipFile(shipped_checkpoint_path()) as archive:
        entry = max(archive.infolist(), key=lambda e: e.file_size)
    start = entry.header_offset + 30 + len(entry.filename) + len(entry.extra) + 100
    for i in range(start, start + 2000):
        raw[i] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    result = run_cli("predict", "--json", "--checkpoint", damaged, mixed_inputs[0][0])
    assert result.stdout == ""
    one_error_line(result, str(damaged), "integrity check fails")


def test_an_unreadable_folder_does_not_stop_the_others(tmp_path, mixed_inputs, unprivileged):
    inputs, expected = mixed_inputs
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(tmp_path, 0o755)
    good = shared / "good7.png"
    good.write_bytes(inputs[0].read_bytes())
    locked = shared / "unreadable_dir"
    locked.mkdir()
    (locked / "x.png").write_bytes(inputs[4].read_bytes())
    os.chmod(shared, 0o755)
    os.chmod(good, 0o644)
    os.chmod(locked, 0)
    try:
        result = run_cli("predict", "--json", good, locked, prefix=unprivileged)
    finally:
        os.chmod(locked, 0o755)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert len(lines) == 2 and result.returncode == 1
    assert lines[0] == {**lines[0], "path": str(good), "prediction": expected[0]}
    assert lines[1]["path"] == str(locked) and "cannot read the folder" in lines[1]["error"]


def test_results_stream_and_ctrl_c_keeps_what_was_printed(many_digits):
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_helpers", "predict", "--json", str(many_digits)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "MNIST_DEVICE": "cpu"})
    first = process.stdout.readline()  # arrives while the other 299 are still to do
    assert json.loads(first)["path"].endswith("digit_000.png")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err
    assert all(json.loads(line) for line in out.splitlines())  # every line printed is whole


def test_a_closed_pipe_ends_quietly(many_digits):
    result = subprocess.run(f"{sys.executable} -m mnist_helpers predict --json {many_digits}"
                            " | head -1", shell=True, cwd=REPO, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "MNIST_DEVICE": "cpu"})
    assert len(result.stdout.splitlines()) == 1
    assert result.stderr == "", result.stderr


@pytest.mark.parametrize("args, fragments", [
    (["predict", "--checkpoint", "", "x.png"], ["checkpoint path is empty"]),
    (["evaluate", "--checkpoint", ""], ["checkpoint path is empty"]),
    (["predict", "--device", "xla", "x.png"], ["'xla' is not supported here"]),
    (["predict", "--device", "meta", "x.png"], ["'meta' is not supported here"]),
    (["predict", "--device", "cpu:1", "x.png"], ["only one cpu device"]),
    (["train", "--profile", "turbo"], ["Unknown profile 'turbo'"]),
    (["train", "--profile", "quick", "--epochs", "0"], ["epochs must be"]),
    (["train", "--profile", "quick", "--arch", "lenet"], ["Unknown architecture 'lenet'"]),
    (["train", "--profile", "quick", "--out", ""], ["--out is empty"]),
])
def test_bad_arguments_are_one_line_each(args, fragments, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in err[0]


def test_predict_empty_path_is_not_the_current_folder(tmp_path, capsys):
    Image.new("L", (50, 50), 255).save(tmp_path / "white.png")
    assert main(["predict", "--json", ""]) == 1
    record = json.loads(capsys.readouterr().out)
    assert "empty path" in record["error"]


def crafted_checkpoint(path: Path, change) -> Path:
    save_checkpoint(path, build_model("fast_cnn").state_dict(), arch="fast_cnn")
    payload = torch.load(path, weights_only=True)
    change(payload)
    payload["integrity"] = integrity_digest(payload)
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("change, fragment", [
    (lambda p: p["arch_kwargs"].update(width=6000), "width=6000 is out of range"),
    (lambda p: p.update(arch_kwargs="width"), "must be a dict"),
    (lambda p: p.update(state_dict=3), "not a mapping of names to tensors"),
    (lambda p: p.update(metadata=[1]), "'metadata' is not a dict"),
    (lambda p: p["state_dict"]["classifier.1.weight"].fill_(float("nan")), "NaN"),
])
def test_crafted_checkpoints_are_one_line_errors(tmp_path, mixed_inputs, change, fragment):
    path = crafted_checkpoint(tmp_path / "crafted.pt", change)
    result = run_cli("predict", "--json", "--checkpoint", path, mixed_inputs[0][0])
    assert result.stdout == ""
    one_error_line(result, str(path), fragment)


def test_missing_data_is_an_error_not_a_traceback(quick_checkpoint, tmp_path):
    """A named data folder without the files: one line, and nothing written into it."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("evaluate", "--checkpoint", quick_checkpoint, "--data-dir", empty,
                     env={"MNIST_WORKSPACE": str(tmp_path / "fresh-workspace")})
    one_error_line(result, f"MNIST is not in {empty}", "only read")
    assert list(empty.iterdir()) == []


def test_a_corrupted_unpacked_file_is_not_used(quick_checkpoint, mnist_raw_dir, tmp_path):
    """Zeroed labels of the right size used to give 'test accuracy: 9.94%', exit 0."""
    workspace = tmp_path / "ws"
    first = run_cli("evaluate", "--checkpoint", quick_checkpoint,
                    env={"MNIST_WORKSPACE": str(workspace), "MNIST_DATA_DIR": str(mnist_raw_dir)})
    labels = workspace / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:8] + bytes(10_000))
    second = run_cli("evaluate", "--checkpoint", quick_checkpoint,
                     env={"MNIST_WORKSPACE": str(workspace), "MNIST_DATA_DIR": str(mnist_raw_dir)})
    assert first.returncode == second.returncode == 0, second.stderr
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1]


# --- training: checks before long work, resuming -------------------------------------------


def test_a_read_only_output_folder_fails_before_training(tmp_path, mnist_raw_dir, unprivileged):
    out = tmp_path / "readonly"
    out.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(out, 0o555)
    try:
        result = run_cli("train", "--profile", "quick", "--out", out / "m.pt",
                         "--data-dir", mnist_raw_dir, prefix=unprivileged,
                         env={"MNIST_WORKSPACE": str(tmp_path / "ws")}, cwd=tmp_path)
    finally:
        os.chmod(out, 0o755)
    one_error_line(result, str(out), "permission denied")
    assert "Train Epoch" not in result.stdout, "it must fail before training starts"


def test_resuming_with_more_epochs_is_a_clear_error(tmp_path, mnist_raw_dir):
    first = tmp_path / "one.pt"
    done = run_cli("train", "--profile", "quick", "--out", first, "--data-dir", mnist_raw_dir)
    assert done.returncode == 0, done.stderr
    again = run_cli("train", "--profile", "quick", "--epochs", "2", "--resume", first, "--out",
                    tmp_path / "two.pt", "--data-dir", mnist_raw_dir)
    one_error_line(again, "planned for 1 epoch", "start a new run")
    finished = run_cli("train", "--profile", "quick", "--resume", first, "--out",
                       tmp_path / "new.pt", "--data-dir", mnist_raw_dir)
    assert finished.returncode == 0, finished.stderr
    assert "nothing left to train" in finished.stdout
    assert f"checkpoint: {tmp_path / 'new.pt'}" in finished.stdout
    assert (tmp_path / "new.pt").is_file()


def test_a_full_disk_is_named_as_such(tmp_path, mnist_raw_dir):
    """A tmpfs of 64 KB: the first checkpoint does not fit."""
    disk = tmp_path / "small"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip()})")
    try:
        result = run_cli("train", "--profile", "quick", "--out", disk / "m.pt",
                         "--data-dir", mnist_raw_dir)
    finally:
        subprocess.run(["umount", str(disk)], check=False)
    one_error_line(result, str(disk / "m.pt"), "the disk is full")


# --- run-notebooks ----------------------------------------------------------------------------


def test_run_notebooks_refuses_what_is_not_a_notebook(tmp_path, capsys):
    fake = tmp_path / "data.ipynb"
    fake.write_text(json.dumps({"not": "a notebook"}))
    assert main(["run-notebooks", "--out", str(tmp_path / "out"), str(fake)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {fake}: not a Jupyter notebook")
    assert main(["run-notebooks", "--out", str(tmp_path / "out"),
                 str(tmp_path / "missing.ipynb")]) == 2
    assert "no such notebook" in capsys.readouterr().err


def test_run_notebooks_checks_its_output_folder_first(tmp_path, unprivileged):
    import nbformat

    notebook = tmp_path / "nb" / "01_tiny.ipynb"
    notebook.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")]),
                   notebook)
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(notebook.parent, 0o755)
    os.chmod(notebook, 0o644)
    os.chmod(out, 0o555)
    try:
        result = run_cli("run-notebooks", "--out", out, notebook, prefix=unprivileged,
                         env={"MNIST_WORKSPACE": str(tmp_path / "ws")}, cwd=tmp_path)
    finally:
        os.chmod(out, 0o755)
    one_error_line(result, str(out), "permission denied")


def test_run_notebooks_runs_and_reports_one_line_each(tmp_path):
    import nbformat

    folder = tmp_path / "notebooks"
    folder.mkdir()
    for name, code in (("01_a.ipynb", "print(6 * 7)"), ("02_b.ipynb", "import os; os.getcwd()")):
        nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]),
                       folder / name)
    result = run_cli("run-notebooks", "--out", tmp_path / "out", cwd=tmp_path,
                     env={"MNIST_WORKSPACE": str(tmp_path / "ws")})
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"01_a\.ipynb: \d+\.\d s\n02_b\.ipynb: \d+\.\d s\n", result.stdout)
    assert result.stderr == "", "no kernel warnings"
    executed = nbformat.read(tmp_path / "out" / "02_b.ipynb", as_version=4)
    assert str(folder) in executed.cells[0].outputs[0]["data"]["text/plain"], \
        "each notebook runs in its own folder"


def test_a_failing_cell_is_one_line_and_the_copy_keeps_its_traceback(tmp_path, capsys):
    import nbformat

    notebook = tmp_path / "03_fails.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]),
                   notebook)
    assert main(["run-notebooks", "--out", str(tmp_path / "out"), str(notebook)]) == 2
    err = capsys.readouterr().err
    assert "ZeroDivisionError" in err and str(tmp_path / "out" / "03_fails.ipynb") in err
    saved = nbformat.read(tmp_path / "out" / "03_fails.ipynb", as_version=4)
    assert saved.cells[0].outputs[0]["output_type"] == "error"


def test_usage_errors_exit_with_argparse_code(capsys):
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "--help" in err


@pytest.mark.parametrize("args", [["train", "--seed", "1e3"], ["run-notebooks", "--timeout", "1.5"],
                                  ["predict"], ["evaluate", "--bogus"]])
def test_every_usage_mistake_is_one_line(args, capsys):
    with pytest.raises(SystemExit) as caught:
        main(args)
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
