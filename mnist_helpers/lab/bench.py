"""Training speed, side by side: the classic way against our fast path, from scratch, in one
run (and the best recipe, with ``--best``).

    python -m mnist_helpers.lab.bench            # reference (1 seed) + fast path (3 seeds)
    python -m mnist_helpers.lab.bench --best     # ... + the best recipe (3 seeds)

Each configuration is a :class:`~mnist_helpers.profiles.Profile`. For each configuration and
seed, in a fresh process (so its peak memory is its own): train on all 60,000 training
images, and every ``check_every`` images pause the clock and measure test accuracy.
Reported: seconds of training until the test accuracy first reaches 99.0% (evaluation time
apart), the final accuracy, training images per second and the process's memory (after
``import torch``, after loading the data, and at its peak). The last line printed is one
JSON object; the lines above it say which targets this run met.

The test set is only watched here, to time when 99% is reached; no choice is made on it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from typing import TypeVar

import torch

from ..device import place_model, seed_everything
from ..evaluate import evaluate
from ..loop import TrainingSetup, training_steps
from ..models import build_model
from ..profiles import Profile, get_profile
from ..recipe import prepare_training_data

TARGET = 0.99
T = TypeVar("T")


@dataclass(frozen=True)
class BenchRun:
    """A configuration to time: a profile (trained on all 60,000 images: ``val_size`` 0) and
    how many training images pass between two test-accuracy checks."""

    name: str
    profile: Profile
    check_every: int


REFERENCE = BenchRun(
    "reference: classic DataLoader + classic_cnn, Adadelta (PyTorch's MNIST example)",
    Profile(name="reference", arch="classic_cnn", epochs=6, batch_size=64, lr=1.0,
            optimizer="adadelta", weight_decay=0.0, schedule="steplr", loader="classic",
            channels_last=False, val_size=0), check_every=15_000)
FAST = BenchRun(
    "fast path: in-memory tensors + tiny_cnn, SGD one-cycle, 1 epoch",
    Profile(name="fast", arch="tiny_cnn", epochs=1, batch_size=128, lr=0.3, val_size=0),
    check_every=2_500)
BEST = BenchRun(
    "best recipe: deep_cnn, augmentation, label smoothing, the best profile's epochs",
    get_profile("best").with_overrides(name="best-bench", val_size=0), check_every=60_000)

#: What each speed lever buys, one change at a time, from the classic way to the fast path
#: (the experiments notebook measures each rung's throughput in a fresh process).
LADDER: list[tuple[str, Profile]] = [
    ("the classic way: DataLoader + classic_cnn", REFERENCE.profile),
    ("+ data as in-memory tensors", REFERENCE.profile.with_overrides(loader="tensors")),
    ("+ fast_cnn (SGD one-cycle, batch 128)",
     FAST.profile.with_overrides(arch="fast_cnn", lr=0.1, channels_last=False)),
    ("+ channels-last layout", FAST.profile.with_overrides(arch="fast_cnn", lr=0.1)),
    ("+ tiny_cnn (the fast path)", FAST.profile),
]


def peak_memory_mib() -> float | None:
    """The largest resident memory this process has had, in MiB (None where the operating
    system does not say: the ``resource`` module is POSIX-only)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0)  # bytes / KiB


def _model_and_setup(profile: Profile, steps_per_epoch: int, seed: int
                     ) -> tuple[torch.nn.Module, TrainingSetup]:
    seed_everything(seed)
    model = build_model(profile.arch, **profile.model_kwargs())
    model = place_model(model, "cpu") if profile.channels_last else model
    return model, TrainingSetup.create(model, profile, steps_per_epoch, torch.device("cpu"), seed)


def measure_throughput(profile: Profile, images: int = 10_000, data_dir: str | None = None,
                       seed: int = 0, warmup_batches: int = 5) -> float:
    """Training images per second of ``profile`` over ``images`` images, after
    ``warmup_batches`` untimed batches, in this process (no evaluation). The run is planned
    for exactly the epochs those images need, so nothing depends on how fast the machine is."""
    batches = prepare_training_data(profile, "cpu", seed=seed, data_dir=data_dir).train
    per_batch = profile.batch_size
    needed = warmup_batches + -(-images // per_batch)
    profile = profile.with_overrides(epochs=-(-needed // len(batches)))
    model, setup = _model_and_setup(profile, len(batches), seed)
    seen, started = 0, 0.0
    for i, step in enumerate(training_steps(model, batches, setup, device="cpu",
                                            epochs=range(1, profile.epochs + 1)), start=1):
        if i == warmup_batches:
            started = time.perf_counter()
        elif i > warmup_batches:
            seen += step.images
            if i == needed:
                break
    return seen / (time.perf_counter() - started)


def run_one(run: BenchRun, seed: int, data_dir: str | None = None) -> dict:
    """Train ``run.profile`` from scratch with ``seed`` on the CPU; return its measurements."""
    after_import = peak_memory_mib()
    # Test batches of 250: evaluating 1,000 images at once adds 20 MiB to the peak.
    data = prepare_training_data(run.profile, "cpu", seed=seed, data_dir=data_dir,
                                 eval_batch_size=250)
    train, test = data.train, data.test
    after_data = peak_memory_mib()
    model, setup = _model_and_setup(run.profile, len(train), seed)
    seen, next_check, eval_seconds, reached, checks = 0, run.check_every, 0.0, None, []
    started = time.perf_counter()

    def check() -> None:
        nonlocal eval_seconds, reached
        t0 = time.perf_counter()
        train_seconds = t0 - started - eval_seconds
        accuracy = evaluate(model, test).accuracy
        eval_seconds += time.perf_counter() - t0
        checks.append((seen, round(train_seconds, 2), accuracy))
        if accuracy >= TARGET and reached is None:
            reached = round(train_seconds, 2)

    for step in training_steps(model, train, setup, device="cpu",
                               epochs=range(1, run.profile.epochs + 1)):
        seen += step.images
        if seen >= next_check:
            next_check += run.check_every
            check()
    train_seconds = time.perf_counter() - started - eval_seconds
    if not checks or checks[-1][0] != seen:
        check()
    return {"seed": seed, "seconds_to_99": reached, "final_accuracy": checks[-1][2],
            "train_seconds": round(train_seconds, 2), "eval_seconds": round(eval_seconds, 2),
            "images_per_second": round(seen / train_seconds, 1),
            "memory_after_import_mib": after_import, "memory_after_data_mib": after_data,
            "peak_memory_mib": peak_memory_mib(), "threads": torch.get_num_threads(),
            "checks": checks}


def in_fresh_process(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` in a new Python process (so its memory peak is its own);
    ``function`` must be importable (a module-level function)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(function, *args).result()


def _fmt(value: float | None, unit: str = "s") -> str:
    return "never" if value is None else f"{value:.1f} {unit}"


def targets(results: list[dict], speedup: float | None) -> list[str]:
    """One line per target of the benchmark, saying whether this run met it."""
    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = ["", "targets (2-core CPU):"]
    fast = next((r for r in results if r["name"] == FAST.name), None)
    if fast is not None:
        times = fast["seconds_to_99"]
        ok = None not in times and max(times) <= 5.0
        lines.append(f"  fast path reaches 99.0% in <= 5 s on every seed: {verdict(ok)}")
        peak = fast["peak_memory_mib"]
        if peak is not None:
            lines.append(f"  fast path peak memory <= 1024 MiB ({peak:,.0f} MiB):"
                         f" {verdict(peak <= 1024)}")
        if speedup is not None:
            lines.append(f"  >= 40x faster than the reference ({speedup}x): "
                         f"{verdict(speedup >= 40)}")
    best = next((r for r in results if r["name"] == BEST.name), None)
    if best is not None:
        accs = best["final_accuracy"]
        minutes = max(r["train_seconds"] for r in best["runs"]) / 60
        mean = statistics.mean(accs)
        ok = max(accs) >= 0.997 and mean >= 0.9965 and minutes <= 20
        lines.append(f"  best recipe reaches >= 99.70%, mean >= 99.65%, <= 20 min each "
                     f"(best {100 * max(accs):.2f}%, mean {100 * mean:.2f}%, "
                     f"longest {minutes:.1f} min): {verdict(ok)}")
        lines.append(f"    (seeds at or above 99.70%: {sum(a >= 0.997 for a in accs)} of "
                     f"{len(accs)}; lowest {100 * min(accs):.2f}%)")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m mnist_helpers.lab.bench",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--best", action="store_true", help="also run the best recipe")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--reference-epochs", type=int, default=REFERENCE.profile.epochs)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)

    plan: list[tuple[BenchRun, list[int]]] = []
    if not args.skip_reference:
        reference_run = BenchRun(REFERENCE.name, REFERENCE.profile.with_overrides(
            epochs=args.reference_epochs), REFERENCE.check_every)
        plan.append((reference_run, args.seeds[:1]))
    plan.append((FAST, args.seeds))
    if args.best:
        plan.append((BEST, args.seeds))

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads",
          flush=True)
    results = []
    for run, seeds in plan:
        runs = []
        for seed in seeds:
            measured = in_fresh_process(run_one, run, seed, args.data_dir)
            runs.append(measured)
            memory = "/".join(_fmt(measured[k], "MiB") for k in (
                "memory_after_import_mib", "memory_after_data_mib", "peak_memory_mib"))
            print(f"{run.name} | seed {seed}: 99% after {_fmt(measured['seconds_to_99'])} of "
                  f"training, final {100 * measured['final_accuracy']:.2f}%, "
                  f"{measured['images_per_second']:,.0f} images/s, memory after import/data/"
                  f"peak {memory}, evaluation {measured['eval_seconds']:.1f} s", flush=True)
        peaks = [r["peak_memory_mib"] for r in runs if r["peak_memory_mib"] is not None]
        results.append({
            "name": run.name, "profile": asdict(run.profile),
            "seconds_to_99": [r["seconds_to_99"] for r in runs],
            "final_accuracy": [r["final_accuracy"] for r in runs],
            "images_per_second": round(statistics.median(r["images_per_second"] for r in runs), 1),
            "peak_memory_mib": max(peaks) if peaks else None, "runs": runs})

    print()
    print(f"{'configuration':<70}{'to 99.0% (s)':>22}{'final acc. (%)':>24}{'img/s':>10}"
          f"{'peak MiB':>10}")
    for row in results:
        reached = ", ".join("never" if s is None else f"{s:.1f}" for s in row["seconds_to_99"])
        finals = ", ".join(f"{100 * a:.2f}" for a in row["final_accuracy"])
        peak = "?" if row["peak_memory_mib"] is None else f"{row['peak_memory_mib']:,.0f}"
        print(f"{row['name'][:69]:<70}{reached:>22}{finals:>24}"
              f"{row['images_per_second']:>10,.0f}{peak:>10}")
    speedup = None
    reference = next((r for r in results if r["profile"]["loader"] == "classic"), None)
    fast = next((r for r in results if r["name"] == FAST.name), None)
    if reference and fast and reference["seconds_to_99"][0] is not None and None not in (
            fast["seconds_to_99"]):
        speedup = round(reference["seconds_to_99"][0] / max(fast["seconds_to_99"]), 1)
        print(f"\nspeedup to 99.0%: {speedup}x (reference / slowest fast-path seed)")
    for line in targets(results, speedup):
        print(line)
    summary = {"configs": [{**{k: row[k] for k in ("name", "seconds_to_99", "final_accuracy",
                                                   "images_per_second", "peak_memory_mib")},
                            "train_seconds": [r["train_seconds"] for r in row["runs"]]}
                           for row in results], "speedup": speedup}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
