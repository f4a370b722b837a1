"""Command line: ``python -m mnist_helpers {train,evaluate,predict,run-notebooks} ...``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .checkpoint import CheckpointError, default_checkpoint_path, load_checkpoint
from .data import MNISTDataError, TensorBatches, load_tensors
from .device import describe_device, get_device, seed_everything
from .models import build_model, count_parameters
from .profiles import get_profile
from .shipped import shipped_checkpoint_path
from .train import evaluate, fit, prepare_training_data


def _train(args: argparse.Namespace) -> int:
    profile = get_profile(args.profile)
    if args.epochs is not None:
        profile = profile.with_overrides(epochs=args.epochs)
    if args.arch is not None:
        profile = profile.with_overrides(arch=args.arch, width=None)
    device = get_device(args.device)
    args.out = args.out or str(default_checkpoint_path(profile.name))
    print(f"profile: {profile.name}  device: {describe_device(device)}  seed: {args.seed}")
    data = prepare_training_data(profile, device, seed=args.seed, data_dir=args.data_dir)
    seed_everything(args.seed)
    model = build_model(profile.arch, **profile.model_kwargs())
    print(f"model: {profile.arch} ({count_parameters(model):,} parameters), "
          f"{len(data.train.dataset):,} training images, {profile.epochs} epoch(s)")
    started = time.perf_counter()
    history = fit(model, data.train, data.val, profile, device=device, seed=args.seed,
                  checkpoint_path=args.out, resume_from=args.resume, progress=False)
    print(f"training time: {time.perf_counter() - started:.1f} s")
    print(evaluate(model, data.test, device).log_line())
    print(f"checkpoint: {args.out}")
    return 130 if history.interrupted else 0


def _evaluate(args: argparse.Namespace) -> int:
    device = get_device(args.device)
    args.checkpoint = args.checkpoint or str(default_checkpoint_path())
    model, info = load_checkpoint(args.checkpoint, device)
    test = load_tensors(False, args.data_dir, device=device)
    result = evaluate(model, TensorBatches(test, 1000), device)
    print(f"checkpoint: {args.checkpoint} ({info['arch']}, {info.get('epochs', '?')} epochs, "
          f"profile {info.get('profile', {}).get('name', '?')}, seed {info.get('seed', '?')})")
    print(result.log_line())
    print(f"test accuracy: {100 * result.accuracy:.2f}%")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .predict import ImageError, predict_paths

    checkpoint = args.checkpoint or str(shipped_checkpoint_path())
    model, _ = load_checkpoint(checkpoint, get_device(args.device))
    failed = 0
    for result in predict_paths(model, args.paths):
        if isinstance(result, ImageError):
            failed += 1
            path, _, reason = str(result).partition(": ")
            if args.json:
                print(json.dumps({"path": path, "error": reason or str(result)}))
            else:
                print(f"{result}", file=sys.stderr)
        elif args.json:
            print(json.dumps(result.to_json()))
        else:
            confidence = max(result.probabilities)
            print(f"{result.path}: {result.label} ({100 * confidence:.1f}%)")
    return 1 if failed else 0


def _run_notebooks(args: argparse.Namespace) -> int:
    from .notebooks import execute_notebook

    if not args.in_place and args.out is None:
        print("give --out DIR (executed copies) or --in-place", file=sys.stderr)
        return 2
    for notebook in args.notebooks:
        target = Path(notebook) if args.in_place else Path(args.out) / Path(notebook).name
        started = time.perf_counter()
        execute_notebook(Path(notebook), target, timeout=args.timeout)
        print(f"executed {notebook} -> {target} in {time.perf_counter() - started:.1f} s",
              flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for all sub-commands."""
    parser = argparse.ArgumentParser(prog="python -m mnist_helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--device", default=None, help="cpu, cuda, mps or auto (default: auto)")
    common.add_argument("--data-dir", default=None,
                        help="folder with the MNIST .gz files (default: $MNIST_DATA_DIR or data/)")

    train = sub.add_parser("train", parents=[common], help="train a model and save a checkpoint")
    train.add_argument("--profile", default=None, help="quick, default or best ($MNIST_PROFILE)")
    train.add_argument("--out", default=None,
                       help="checkpoint file (default: models/mnist_cnn[_<profile>].pt)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    train.add_argument("--arch", default=None, help="override the profile's architecture")
    train.add_argument("--resume", default=None, help="checkpoint to continue training from")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", parents=[common], help="test accuracy of a checkpoint")
    ev.add_argument("--checkpoint", default=None,
                    help="default: the $MNIST_PROFILE profile's models/mnist_cnn[_<profile>].pt")
    ev.set_defaults(func=_evaluate)

    pr = sub.add_parser("predict", parents=[common], help="predict digits in image files")
    pr.add_argument("paths", nargs="+", help="image files or folders of images")
    pr.add_argument("--checkpoint", default=None,
                    help="default: the shipped model, mnist_helpers/weights/mnist_robust.pt")
    pr.add_argument("--json", action="store_true", help="one JSON object per input")
    pr.set_defaults(func=_predict)

    nb = sub.add_parser("run-notebooks", help="execute notebooks headless")
    nb.add_argument("notebooks", nargs="+")
    nb.add_argument("--out", default=None, help="folder for the executed copies")
    nb.add_argument("--in-place", action="store_true", help="overwrite the notebooks' outputs")
    nb.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    nb.set_defaults(func=_run_notebooks)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors a user can fix are printed as one line, not a traceback."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (MNISTDataError, CheckpointError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
