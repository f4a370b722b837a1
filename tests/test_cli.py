"""The command line, run as a user runs it: ``python -m mnist_helpers ...``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_helpers import load_mnist
from mnist_helpers.cli import main

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str | os.PathLike, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MNIST_DEVICE": "cpu", "PYTHONWARNINGS": "ignore"}
    env.pop("MNIST_PROFILE", None)
    return subprocess.run(
        [sys.executable, "-m", "mnist_helpers", *map(str, args)], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


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
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and str(missing) in lines[0]
    assert "Traceback" not in result.stderr
    assert "train" in lines[0]


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
        if label is None:
            assert set(record) == {"path", "error"} and record["error"]
        else:
            assert set(record) == {"path", "prediction", "probabilities"}
            assert record["prediction"] == label
            assert len(record["probabilities"]) == 10
            assert sum(record["probabilities"]) == pytest.approx(1.0, abs=1e-4)
            assert np.argmax(record["probabilities"]) == label
    reasons = [json.loads(line).get("error", "") for line in lines]
    assert "no digit found" in reasons[1]
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
        assert re.fullmatch(rf"{re.escape(str(path))}: {label} \(\d+\.\d%\)", line), line


def test_predict_plain_errors_go_to_stderr(quick_checkpoint, mixed_inputs, capsys):
    inputs, _ = mixed_inputs
    code = main(["predict", "--checkpoint", str(quick_checkpoint), "--device", "cpu",
                 str(inputs[1])])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert captured.err.strip() == f"{inputs[1]}: no digit found (the image is blank or has " \
                                   "too little contrast)"


def test_predict_with_a_damaged_checkpoint(tmp_path, mixed_inputs, capsys):
    inputs, _ = mixed_inputs
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"\x80\x02garbage")
    assert main(["predict", "--checkpoint", str(broken), str(inputs[0])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "delete it" in err[0]


def test_unknown_profile_is_an_error_line(tmp_path, capsys):
    assert main(["train", "--profile", "turbo", "--out", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Unknown profile 'turbo'")
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is present")
def test_missing_cuda_is_an_error_line(quick_checkpoint, capsys):
    assert main(["evaluate", "--checkpoint", str(quick_checkpoint), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no CUDA GPU" in err[0]


def test_missing_data_is_an_error_not_a_traceback(quick_checkpoint, tmp_path, monkeypatch,
                                                  capsys):
    """No files and no network: the download error, as one ``error:`` message."""
    import mnist_helpers.data as data_module

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(data_module, "default_data_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(data_module, "prepare_mnist", partial(
        data_module.prepare_mnist, mirrors=["http://127.0.0.1:9/"]))
    code = main(["evaluate", "--checkpoint", str(quick_checkpoint), "--data-dir", str(empty)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Could not download train-images-idx3-ubyte.gz")
    assert "http://127.0.0.1:9/" in err and "Traceback" not in err


def test_run_notebooks_needs_a_destination(capsys):
    assert main(["run-notebooks", "notebooks/01_data.ipynb"]) == 2
    assert "--out" in capsys.readouterr().err


def test_usage_errors_exit_with_argparse_code(capsys):
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err
