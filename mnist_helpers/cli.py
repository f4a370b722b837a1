"""Command line: ``python -m mnist_helpers {train,evaluate,predict,export,run-notebooks} ...``.

Every error a user can fix is printed as one line naming the input and what to do, with exit
status 2 (1 for ``predict`` when some inputs could not be used); a traceback means a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import NoReturn

from . import config
from .checkpoint import default_checkpoint_path, load_checkpoint, read_checkpoint
from .data import TensorBatches, load_tensors
from .device import check_seed, describe_device, get_device
from .errors import CheckpointError, ConfigError, ImageError, MnistError, Terminated
from .evaluate import evaluate
from .files import ensure_writable_folder, resolve_target
from .models import build_model, count_parameters
from .number_reading import NumberReading, read_number
from .predict import Prediction, Refusal, each_image, predict_image
from .profiles import get_profile
from .recipe import prepare_training_data, train_model
from .train import check_resume

#: A signal handler as ``signal.signal`` takes and returns it: a function, ``SIG_DFL`` or
#: ``SIG_IGN``, or None (a handler not set from Python).
SignalHandler = Callable[[int, FrameType | None], object] | int | None
#: ``export`` compares the ONNX file with PyTorch on this many test images, and refuses a file
#: whose logits are further apart than the tolerance (float32 rounding is about 1e-6 here).
PARITY_IMAGES, PARITY_TOLERANCE = 1000, 1e-4
#: Training images the 8-bit copy's activation ranges are measured on.
CALIBRATION_IMAGES = 1000


def shown(text: object) -> str:
    """``text`` safe to print on one line of a terminal: control characters (a newline, an
    escape sequence that would clear the screen) written as escapes, e.g. ``\\n``."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in str(text))


def _check_data_dir(args: argparse.Namespace) -> None:
    """A ``--data-dir`` that is not a folder is one line, even when MNIST is cached elsewhere."""
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        raise ConfigError(f"--data-dir {args.data_dir} is not a folder: name the folder that "
                          "holds the four MNIST .gz files.")


def _train(args: argparse.Namespace) -> int:
    _check_data_dir(args)
    profile = get_profile(args.profile)
    if args.epochs is not None:
        profile = profile.with_overrides(epochs=args.epochs)
    if args.arch is not None:
        profile = profile.with_overrides(arch=args.arch, width=None)
    parameters = count_parameters(  # an unknown --arch fails here, before any work
        build_model(profile.arch, **profile.model_kwargs()))
    seed = None if args.seed is None else check_seed(args.seed)
    device = get_device(args.device)
    if args.out is not None and not args.out.strip():
        raise ConfigError("--out is empty: name the checkpoint file to write.")
    out = Path(args.out) if args.out else default_checkpoint_path(profile.name)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder: name a file in it, e.g. {out / 'model.pt'}")
    resolve_target(out)  # not a FIFO or a device; before minutes of training, not after
    ensure_writable_folder(out.parent)
    if args.resume is not None:
        if seed is None:  # the seed the interrupted run used
            stored = read_checkpoint(args.resume)["metadata"].get("seed")
            seed = stored if isinstance(stored, int) else 0
        check_resume(args.resume, profile, seed)
    seed = 0 if seed is None else seed
    print(f"profile: {profile.name}  device: {describe_device(device)}  seed: {seed}")
    data = prepare_training_data(profile, device, seed=seed, data_dir=args.data_dir)
    print(f"model: {profile.arch} ({parameters:,} parameters), {len(data.train.dataset):,} "
          f"training images, {profile.epochs} epoch(s)")
    started = time.perf_counter()
    trained = train_model(profile, device, seed=seed, data=data, checkpoint_path=out,
                          resume_from=args.resume, keep_resume_state=not args.no_resume_state,
                          verbose=True)
    print(f"training time: {time.perf_counter() - started:.1f} s")
    model, history, saved = trained.model, trained.history, trained.checkpoint
    if history.epoch and not history.diverged:
        print(evaluate(model, data.test).log_line())
    if saved is not None:
        link = f" (a link: the file it points to, {saved.resolve()}, was written)" if (
            saved.is_symlink()) else ""
        print(f"checkpoint: {saved}{link}")
    exit_codes: dict[str | None, int] = {"diverged": 2, "interrupted": 130, "terminated": 143}
    return exit_codes.get(history.stop_reason, 0)


def _evaluate(args: argparse.Namespace) -> int:
    _check_data_dir(args)
    device = get_device(args.device)
    checkpoint = default_checkpoint_path() if args.checkpoint is None else args.checkpoint
    model, info = load_checkpoint(checkpoint, device)
    test = load_tensors(False, args.data_dir, device=device)
    result = evaluate(model, TensorBatches(test, 1000))
    print(f"checkpoint: {shown(checkpoint)} ({shown(info.arch)}, {shown(info.epochs)} epochs, "
          f"profile {shown(info.profile.get('name', '?'))}, seed {shown(info.seed)})")
    if result.not_numbers:
        raise CheckpointError(
            f"{checkpoint}: the model's outputs are not numbers (NaN or infinity) for "
            f"{result.not_numbers:,} of {result.total:,} test images: it is broken, so no "
            "accuracy is given. Train it again.")
    print(result.log_line())
    print(f"test accuracy: {100 * result.accuracy:.2f}%")
    return 0


def _predict(args: argparse.Namespace) -> int:
    device = get_device(args.device)
    checkpoint = config.shipped_checkpoint_path() if args.checkpoint is None else args.checkpoint
    model, info = load_checkpoint(checkpoint, device)
    refusal = Refusal.from_metadata(info.metadata)
    results: Iterator[NumberReading | Prediction | ImageError]
    if args.number:
        results = each_image(args.paths, lambda image, path: read_number(
            model, image, path, refusal), decode_size=1024)
    else:
        results = each_image(args.paths, lambda image, path: predict_image(
            model, image, path, refusal))
    failed = 0
    for result in results:  # printed one by one, as soon as each image is done
        if isinstance(result, ImageError):
            failed += 1
            if args.json:
                print(json.dumps({"path": result.path, "error": result.reason}), flush=True)
            else:  # a newline or an escape sequence in a file name must not reach the terminal
                named = "" if result.path is None else f"{shown(result.path)}: "
                print(f"{named}{shown(result.reason)}", file=sys.stderr, flush=True)
        elif args.json:
            print(json.dumps(result.to_json()), flush=True)
        else:
            print(f"{shown(result.path)}: {_plain(result)}", flush=True)
    return 1 if failed else 0


def _export(args: argparse.Namespace) -> int:
    from . import export  # onnx and onnxruntime are optional: imported only when exporting

    _check_data_dir(args)
    checkpoint = config.shipped_checkpoint_path() if args.checkpoint is None else args.checkpoint
    model, info = load_checkpoint(checkpoint, "cpu")
    out = export.export_onnx(model, info, checkpoint, args.onnx)
    print(f"wrote {shown(out)} ({out.stat().st_size:,} bytes) and "
          f"{shown(export.metadata_path(out).name)} beside it")
    test = load_tensors(False, args.data_dir)
    images, labels = test.batch(slice(0, len(test)))
    parity = export.compare_with_onnxruntime(model, out, images[:PARITY_IMAGES])
    print(f"onnxruntime against PyTorch on the first {parity.images:,} MNIST test images: "
          f"largest difference of a logit {parity.max_abs_difference:.1e}, same prediction "
          f"for {parity.same_predictions:,} of {parity.images:,}")
    if parity.max_abs_difference > PARITY_TOLERANCE or not parity.all_same:
        raise CheckpointError(f"{out}: the ONNX file does not compute what the checkpoint "
                              f"does (more than {PARITY_TOLERANCE:g} apart): do not use it")
    if args.int8 is not None:
        train = load_tensors(True, args.data_dir)
        calibration, _ = train.batch(slice(0, CALIBRATION_IMAGES))
        quantized = export.quantize_int8(out, args.int8, calibration)
        before = export.onnx_accuracy(out, images, labels)
        after = export.onnx_accuracy(quantized, images, labels)
        print(f"wrote {shown(quantized)} ({quantized.stat().st_size:,} bytes, "
              f"{quantized.stat().st_size / out.stat().st_size:.0%} of the float file)")
        print(f"MNIST test accuracy ({len(labels):,} images): float {100 * before:.2f}%, "
              f"int8 {100 * after:.2f}% ({100 * (after - before):+.2f} points)")
    return 0


def _plain(result: NumberReading | Prediction) -> str:
    """A prediction or a number reading, as one line of text; a digit from a model that
    cannot refuse says so."""
    if isinstance(result, NumberReading):
        return result.number if result.number is not None else shown(result.reason)
    if result.digit is None:
        return shown(result.reason)
    caveat = "" if result.can_refuse else (
        " [this model cannot refuse: it names a digit for any image with ink]")
    return f"{result.digit} ({100 * result.confidence:.1f}%){caveat}"


def _run_notebooks(args: argparse.Namespace) -> int:
    from .course.runner import default_notebooks, run_notebooks

    get_profile(), get_device()  # a bad MNIST_PROFILE or MNIST_DEVICE: refused before any work
    config.workspace()  # likewise MNIST_WORKSPACE
    if args.timeout < 1:
        raise ConfigError(f"--timeout {args.timeout}: give the seconds a cell may run, 1 or more.")
    notebooks = [Path(n) for n in args.notebooks] or default_notebooks()
    out = None if args.in_place else Path(args.out or config.build_dir() / "notebooks")
    run_notebooks(notebooks, out, timeout=args.timeout)
    checkpoint = default_checkpoint_path()
    if not args.in_place and checkpoint.is_file():
        args.checkpoint, args.device, args.data_dir = checkpoint, None, None
        return _evaluate(args)
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (``error: ...; see ... --help``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    parser = _Parser(prog="python -m mnist_helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    common = _Parser(add_help=False)
    common.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps or auto "
                                                       "(default: auto)")
    common.add_argument("--data-dir", default=None, help="folder with the four MNIST .gz files "
                                                         "(default: $MNIST_DATA_DIR or download)")

    train = sub.add_parser("train", parents=[common], help="train a model and save a checkpoint")
    train.add_argument("--profile", default=None,
                       help="quick, default, robust or best (default: $MNIST_PROFILE)")
    train.add_argument("--out", default=None,
                       help="checkpoint file (default: models/mnist_cnn[_<profile>].pt)")
    train.add_argument("--seed", type=int, default=None,
                       help="random seed (default 0; when resuming, the run's own)")
    train.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    train.add_argument("--arch", default=None, help="override the profile's architecture")
    train.add_argument("--no-resume-state", action="store_true",
                       help="leave out what resuming needs: a smaller file, to ship")
    train.add_argument("--resume", default=None,
                       help="checkpoint of an interrupted run of the same profile to continue")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", parents=[common], help="test accuracy of a checkpoint")
    ev.add_argument("--checkpoint", default=None,
                    help="default: the $MNIST_PROFILE profile's models/mnist_cnn[_<profile>].pt")
    ev.set_defaults(func=_evaluate)

    pr = sub.add_parser("predict", parents=[common], help="predict digits in image files")
    pr.add_argument("paths", nargs="+", help="image files or folders of images")
    pr.add_argument("--checkpoint", default=None,
                    help="default: the model shipped in the package")
    pr.add_argument("--json", action="store_true", help="one JSON object per image")
    pr.add_argument("--number", action="store_true",
                    help="read a whole number (a line of digits) in each image")
    pr.set_defaults(func=_predict)

    ex = sub.add_parser("export", help="write the model as an ONNX file, checked with onnxruntime")
    ex.add_argument("--data-dir", default=None,
                    help="folder with the four MNIST .gz files, for the check "
                         "(default: $MNIST_DATA_DIR or download)")
    ex.add_argument("--onnx", required=True, help="the ONNX file to write (its metadata goes "
                                                  "beside it, as <name>.json)")
    ex.add_argument("--checkpoint", default=None,
                    help="default: the model shipped in the package")
    ex.add_argument("--int8", default=None,
                    help="also write an 8-bit copy here and measure its test accuracy")
    ex.set_defaults(func=_export)

    nb = sub.add_parser("run-notebooks", help="execute the notebook series headless")
    nb.add_argument("notebooks", nargs="*",
                    help="default: every numbered notebook in ./notebooks (or ./)")
    nb.add_argument("--out", default=None,
                    help="folder for the executed copies (default: build/notebooks)")
    nb.add_argument("--in-place", action="store_true", help="overwrite the notebooks' outputs")
    nb.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    nb.set_defaults(func=_run_notebooks)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors a user can fix are printed as one line, not a traceback."""
    args = build_parser().parse_args(argv)
    previous = _stop_on_sigterm()
    try:
        return args.func(args)
    except MnistError as exc:
        print(f"error: {shown(exc)}", file=sys.stderr)
        return 2
    except Terminated:
        return 143  # 128 + SIGTERM, as shells report it
    except KeyboardInterrupt:
        return 130  # 128 + SIGINT
    except BrokenPipeError:
        # The reader went away (``... | head -1``): stop quietly, as command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm() -> SignalHandler:
    """Make SIGTERM (``kill``, a job scheduler, a closing terminal) stop a command as Ctrl-C
    does, so a run keeps what it has done; returns the handler it replaced (None when it
    cannot: outside the main thread)."""
    def terminate(_signum: int, _frame: object) -> None:
        raise Terminated()

    try:
        return signal.signal(signal.SIGTERM, terminate)
    except ValueError:  # not the main thread (e.g. main() called from a worker)
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
