"""Exporting the model to ONNX: the file computes what the checkpoint computes (checked with
onnxruntime on real MNIST test images), its metadata says how to use it, the 8-bit copy's cost
is measured, and every mistake is one line."""

from __future__ import annotations

import json
import os

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from test_cli import one_error_line, run_cli  # noqa: E402

from mnist_helpers import export, load_checkpoint  # noqa: E402
from mnist_helpers.config import CLASS_NAMES, shipped_checkpoint_path  # noqa: E402
from mnist_helpers.errors import ConfigError, MnistError  # noqa: E402
from mnist_helpers.predict import Refusal  # noqa: E402


@pytest.fixture(scope="module")
def shipped_onnx(tmp_path_factory: pytest.TempPathFactory):
    """The shipped model exported once for these tests: (path, model, info)."""
    model, info = load_checkpoint(shipped_checkpoint_path(), "cpu")
    out = export.export_onnx(model, info, shipped_checkpoint_path(),
                             tmp_path_factory.mktemp("onnx") / "shipped.onnx")
    return out, model, info


def test_the_onnx_file_computes_what_the_checkpoint_does(shipped_onnx, test_tensors):
    path, model, _ = shipped_onnx
    images, _ = test_tensors.batch(slice(0, 1000))
    parity = export.compare_with_onnxruntime(model, path, images)
    assert parity.images == 1000
    assert parity.max_abs_difference < 1e-4
    assert parity.all_same


def test_any_batch_size_runs(shipped_onnx, test_tensors):
    path, model, _ = shipped_onnx
    session = export.onnx_session(path)
    for size in (1, 7, 64):
        images, _ = test_tensors.batch(slice(0, size))
        assert export.onnx_logits(session, images).shape == (size, 12)


def test_the_metadata_says_how_to_use_the_file(shipped_onnx):
    path, _, info = shipped_onnx
    meta = json.loads(export.metadata_path(path).read_text(encoding="utf-8"))
    assert meta["classes"] == list(CLASS_NAMES)
    threshold = Refusal.from_metadata(info.metadata).threshold
    assert meta["refusal_threshold"] == pytest.approx(threshold)
    assert meta["normalization"] == {"mean": info.normalization["mean"],
                                     "std": info.normalization["std"]}
    assert meta["checkpoint_sha256"] == export.file_sha256(shipped_checkpoint_path())
    assert meta["input"]["shape"] == ["batch", 1, 28, 28]


def test_a_ten_class_checkpoint_exports_ten_classes(quick_checkpoint, tmp_path, test_tensors):
    model, info = load_checkpoint(quick_checkpoint, "cpu")
    path = export.export_onnx(model, info, quick_checkpoint, tmp_path / "quick.onnx")
    meta = json.loads(export.metadata_path(path).read_text(encoding="utf-8"))
    assert meta["classes"] == [str(d) for d in range(10)]
    assert meta["refusal_threshold"] == 0.0
    images, _ = test_tensors.batch(slice(0, 200))
    assert export.compare_with_onnxruntime(model, path, images).all_same


def test_the_int8_copy_is_smaller_and_its_accuracy_is_measured(shipped_onnx, train_tensors,
                                                              test_tensors, tmp_path):
    path, _, _ = shipped_onnx
    calibration, _ = train_tensors.batch(slice(0, 500))
    quantized = export.quantize_int8(path, tmp_path / "int8.onnx", calibration)
    assert quantized.stat().st_size < 0.4 * path.stat().st_size
    images, labels = test_tensors.batch(slice(0, 2000))
    before = export.onnx_accuracy(path, images, labels)
    after = export.onnx_accuracy(quantized, images, labels)
    assert before > 0.98
    assert after > before - 0.005  # 2,000 images: 0.5 points is 10 images
    meta = json.loads(export.metadata_path(quantized).read_text(encoding="utf-8"))
    assert meta["quantized"].startswith("int8")


def test_export_writes_nothing_half_done_when_the_exporter_fails(tmp_path):
    class Branchy(torch.nn.Module):
        """A network whose forward branches on a tensor's value: the exporter cannot trace it."""

        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(784, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.sum() > 0:
                return self.linear(x.flatten(1))
            return -self.linear(x.flatten(1))

    _, info = load_checkpoint(shipped_checkpoint_path(), "cpu")
    with pytest.raises(MnistError, match="could not be exported to ONNX"):
        export.export_onnx(Branchy(), info, shipped_checkpoint_path(), tmp_path / "b.onnx")
    assert not (tmp_path / "b.onnx").exists()
    assert not (tmp_path / "b.json").exists()


def test_a_missing_exporter_names_what_to_install(monkeypatch, tmp_path):
    real = export.importlib.util.find_spec
    monkeypatch.setattr(export.importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxscript" else real(name, *a))
    model, info = load_checkpoint(shipped_checkpoint_path(), "cpu")
    with pytest.raises(ConfigError, match=r"onnxscript.*pip install 'mnist-helpers\[export\]'"):
        export.export_onnx(model, info, shipped_checkpoint_path(), tmp_path / "m.onnx")


def test_a_damaged_onnx_file_is_one_line(tmp_path):
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(b"not an onnx model")
    with pytest.raises(MnistError, match="onnxruntime cannot read it"):
        export.onnx_session(damaged)


# --- the command line ------------------------------------------------------------------------


def test_export_command_checks_and_reports(tmp_path, mnist_raw_dir):
    out = tmp_path / "model.onnx"
    result = run_cli("export", "--onnx", out, "--data-dir", mnist_raw_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(f"wrote {out} (") and "model.json beside it" in lines[0]
    assert "same prediction for 1,000 of 1,000" in lines[1]
    assert float(lines[1].split("largest difference of a logit ")[1].split(",")[0]) < 1e-4
    assert out.exists() and export.metadata_path(out).exists()


def test_export_of_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path, mnist_raw_dir):
    photo = tmp_path / "photo.pt"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    result = run_cli("export", "--onnx", tmp_path / "m.onnx", "--checkpoint", photo,
                     "--data-dir", mnist_raw_dir)
    one_error_line(result, str(photo))
    assert not (tmp_path / "m.onnx").exists()


def test_export_into_a_folder_is_one_line(tmp_path, mnist_raw_dir):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    result = run_cli("export", "--onnx", folder, "--data-dir", mnist_raw_dir)
    one_error_line(result, str(folder))


def test_export_into_a_read_only_folder_is_one_line(tmp_path, mnist_raw_dir, unprivileged):
    out = tmp_path / "readonly"
    out.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(out, 0o555)
    try:
        result = run_cli("export", "--onnx", out / "m.onnx", "--data-dir", mnist_raw_dir,
                         prefix=unprivileged, env={"MNIST_WORKSPACE": str(tmp_path / "ws")},
                         cwd=tmp_path)
    finally:
        os.chmod(out, 0o755)
    one_error_line(result, str(out), "permission denied")
