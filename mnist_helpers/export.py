"""Export a trained network to ONNX, so that programs without PyTorch can run it: a web page
through onnxruntime-web, a phone app, a server in another language.

An ONNX file holds the network's operations and weights, nothing else. What a program needs
to use it right travels beside it, in ``<name>.json`` (:func:`export_metadata`): the class
names, the refusal threshold, the normalisation, the input's shape and colours, and the
SHA-256 digest of the checkpoint it came from. A program that prepares pixels differently
from :mod:`mnist_helpers.preprocess` gets confident wrong answers, so the page that uses this
file must carry the same preprocessing over.

Three steps, each one function:

* :func:`export_onnx` writes the ONNX file and its metadata (with ``torch.onnx.export``'s
  ``dynamo=True`` exporter), atomically;
* :func:`compare_with_onnxruntime` runs the file with onnxruntime and measures how far its
  logits are from PyTorch's on the same images;
* :func:`quantize_int8` writes an 8-bit copy (onnxruntime's static quantisation, calibrated
  on training images): about a quarter of the size; what it costs in accuracy is measured,
  not assumed.

The exporter and onnxruntime are optional: ``pip install 'mnist-helpers[export]'``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import config
from .checkpoint import CheckpointInfo
from .errors import ConfigError, MnistError
from .files import atomic_write, resolve_target

#: How to install what exporting needs.
INSTALL_HINT = "install the exporter and onnxruntime: pip install 'mnist-helpers[export]'"
#: The names of the ONNX file's input and output.
INPUT_NAME, OUTPUT_NAME = "image", "logits"


@dataclass(frozen=True)
class Parity:
    """How far the ONNX file's logits are from PyTorch's on the same ``images`` images."""

    images: int
    max_abs_difference: float
    same_predictions: int

    @property
    def all_same(self) -> bool:
        """Whether every image gets the same most likely class from both."""
        return self.same_predictions == self.images


def _require(*modules: str) -> None:
    """Raise one line naming what to install when a module exporting needs is missing."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(f"exporting needs {', '.join(missing)}, which is not installed: "
                          f"{INSTALL_HINT}")


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 digest of a file's bytes, as hexadecimal."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def export_metadata(info: CheckpointInfo, checkpoint: str | os.PathLike) -> dict:
    """What a program needs beside the ONNX file to use the network as ``predict`` does."""
    threshold = info.metadata.get("refusal_threshold", 0.0)
    return {
        "format": 1,
        "input": {"name": INPUT_NAME, "shape": ["batch", 1, 28, 28], "dtype": "float32",
                  "pixels": "white digit on black, centred by mass in 28x28 as "
                            "mnist_helpers.preprocess does, then (value - mean) / std"},
        "output": {"name": OUTPUT_NAME, "meaning": "logits: softmax gives the probabilities"},
        "classes": list(config.CLASS_NAMES[:info.num_classes]),
        "refusal_threshold": float(threshold) if isinstance(threshold, int | float) else 0.0,
        "normalization": {"mean": float(info.normalization["mean"]),
                          "std": float(info.normalization["std"])},
        "arch": info.arch,
        "checkpoint_sha256": file_sha256(checkpoint),
        "torch": torch.__version__,
    }


def metadata_path(onnx_path: str | os.PathLike) -> Path:
    """Where the metadata of an ONNX file lives: beside it, ``<name>.json``."""
    return Path(onnx_path).with_suffix(".json")


def export_onnx(model: nn.Module, info: CheckpointInfo, checkpoint: str | os.PathLike,
                out: str | os.PathLike) -> Path:
    """Write ``model`` (loaded from ``checkpoint``) to the ONNX file ``out``, any batch size,
    and its metadata beside it; both are written atomically. Returns the ONNX file's path."""
    _require("onnxscript", "onnx")
    target = resolve_target(out)  # a folder, a FIFO or a device is refused before any work
    example = torch.zeros(2, 1, 28, 28, device=next(model.parameters()).device)
    model.eval()
    try:
        program = torch.onnx.export(
            model, (example,), dynamo=True, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; one line for all
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise MnistError(f"{checkpoint}: the network could not be exported to ONNX "
                         f"({type(exc).__name__}: {first}); networks of this package's "
                         "ARCHITECTURES export, check that yours has no Python control flow "
                         "on tensor values") from exc
    if program is None:  # only with dynamo=False and an output file, which is not the case here
        raise MnistError(f"{checkpoint}: the exporter returned no ONNX program")
    with atomic_write(target) as handle:
        handle.write(program.model_proto.SerializeToString())
    with atomic_write(metadata_path(target), "w") as handle:
        json.dump(export_metadata(info, checkpoint), handle, indent=2)
        handle.write("\n")
    return target


def onnx_session(path: str | os.PathLike) -> object:
    """An onnxruntime session for the ONNX file at ``path``, on the CPU."""
    _require("onnxruntime")
    import onnxruntime

    try:
        return onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - a damaged file is one line, not a traceback
        raise MnistError(f"{path}: onnxruntime cannot read it as an ONNX model "
                         f"({type(exc).__name__}); export it again") from exc


def onnx_logits(session: object, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The logits an onnxruntime ``session`` gives for ``images`` (N×1×28×28, normalised)."""
    pixels = images.detach().cpu().numpy().astype(np.float32)
    parts = [session.run([OUTPUT_NAME], {INPUT_NAME: pixels[i:i + batch_size]})[0]  # type: ignore[attr-defined]
             for i in range(0, len(pixels), batch_size)]
    return torch.from_numpy(np.concatenate(parts))


def compare_with_onnxruntime(model: nn.Module, onnx_path: str | os.PathLike,
                             images: torch.Tensor) -> Parity:
    """Run ``images`` through ``model`` and through the ONNX file; how far apart they are."""
    model.eval()
    with torch.no_grad():
        expected = model(images.to(next(model.parameters()).device)).float().cpu()
    got = onnx_logits(onnx_session(onnx_path), images)
    return Parity(images=len(images),
                  max_abs_difference=float((expected - got).abs().max()),
                  same_predictions=int((expected.argmax(1) == got.argmax(1)).sum()))


def onnx_accuracy(onnx_path: str | os.PathLike, images: torch.Tensor,
                  labels: torch.Tensor) -> float:
    """The share of ``images`` whose most likely digit, by the ONNX file, is their label."""
    logits = onnx_logits(onnx_session(onnx_path), images)
    return float((logits[:, config.DIGIT_OUTPUTS].argmax(1) == labels.cpu()).float().mean())


def _calibration_reader(images: torch.Tensor, batch_size: int) -> object:
    """The calibration data onnxruntime's quantiser asks for: batches of ``images``."""
    from onnxruntime.quantization import CalibrationDataReader

    class Batches(CalibrationDataReader):
        """Hands out the calibration images a batch at a time, then None."""

        def __init__(self) -> None:
            pixels = images.detach().cpu().numpy().astype(np.float32)
            self._batches: Iterator[np.ndarray] = iter(
                [pixels[i:i + batch_size] for i in range(0, len(pixels), batch_size)])

        def get_next(self) -> dict | None:
            batch = next(self._batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    return Batches()


def _quantize(onnx_path: Path, calibration_images: torch.Tensor, batch_size: int) -> bytes:
    """The bytes of the 8-bit model onnxruntime's static quantiser makes of ``onnx_path``."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory() as folder:  # the quantiser writes to paths of its own
        prepared, written = Path(folder) / "prepared.onnx", Path(folder) / "int8.onnx"
        # Shapes inferred and the graph simplified first, as the quantiser asks.
        quant_pre_process(os.fspath(onnx_path), os.fspath(prepared))
        quantize_static(os.fspath(prepared), os.fspath(written),
                        _calibration_reader(calibration_images, batch_size),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
        return written.read_bytes()


def quantize_int8(onnx_path: str | os.PathLike, out: str | os.PathLike,
                  calibration_images: torch.Tensor, batch_size: int = 100) -> Path:
    """Write an 8-bit copy of the ONNX file: weights per output channel and activations in
    int8, their ranges measured on ``calibration_images`` (training images, never test ones).
    The metadata file is copied beside it. Returns the new file's path."""
    _require("onnxruntime", "onnx")
    target = resolve_target(out)
    # The quantiser warns, through the root logger, about each batch-norm weight it quantises
    # per tensor rather than per channel: expected here, so those lines are held back.
    quiet = logging.Filter("onnxruntime")  # drops records logged on the root logger itself
    logging.getLogger().addFilter(quiet)
    try:
        quantized = _quantize(Path(onnx_path), calibration_images, batch_size)
    finally:
        logging.getLogger().removeFilter(quiet)
    with atomic_write(target) as handle:
        handle.write(quantized)
    source = metadata_path(onnx_path)
    if source.exists():
        metadata = json.loads(source.read_text(encoding="utf-8"))
        metadata["quantized"] = "int8, static, per channel, QDQ"
        with atomic_write(metadata_path(target), "w") as meta:
            json.dump(metadata, meta, indent=2)
            meta.write("\n")
    return target
