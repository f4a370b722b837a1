"""Variants of the best recipe, several seeds each, then ensembles and test-time augmentation.

    python benchmarks/recipe_variants.py --device cuda --seeds 0 1 2 --variants w24e28 w32e28
    python benchmarks/recipe_variants.py --analyse-only --out results/   # from saved outputs

Each run trains ``train_model`` with a variant of the ``best`` profile on 55,000 training
images (5,000 held out: the epoch kept is chosen on them, never on the test set; a variant whose
name ends in ``all`` trains on all 60,000 and keeps its last epoch, choosing nothing), in float32
(no TF32, no mixed precision, as on a CPU), one process per run, all at once. Each run saves its
logits on the held-out and the test images, for the image and its four one-pixel shifts, to
``--out``. Then it prints, per variant: the test accuracy's mean and standard deviation over the
seeds, the same with test-time augmentation (the softmax averaged over the five shifts), and
the accuracy of every 3-seed ensemble (the mean of their softmax).

A 28-epoch run takes about 15 minutes on a 2-core CPU: this is for a GPU, or for patience.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import torch

from mnist_helpers.data import TensorBatches, load_tensors, split_indices
from mnist_helpers.evaluate import evaluate, shifted_logits
from mnist_helpers.profiles import Profile, get_profile
from mnist_helpers.recipe import prepare_training_data, train_model


def variants() -> dict[str, Profile]:
    """The variants by name: the ``best`` profile, wider and/or trained longer, and the same
    training for two other architectures (``vgg_style`` works at full resolution and has
    dropout; ``resnet_small`` has shortcuts and global pooling)."""
    best = get_profile("best").with_overrides(mixed_precision=False)
    return {"w24e28": best, "w24e45": best.with_overrides(epochs=45),
            "w32e28": best.with_overrides(width=32),
            "w32e45": best.with_overrides(width=32, epochs=45),
            "vgg24e20": best.with_overrides(arch="vgg_style", width=24, epochs=20),
            "vgg32e20": best.with_overrides(arch="vgg_style", width=32, epochs=20),
            "res32e20": best.with_overrides(arch="resnet_small", width=32, epochs=20),
            # Trained on all 60,000 training images; the last epoch is kept (no choice).
            "vgg24e20all": best.with_overrides(arch="vgg_style", width=24, epochs=20),
            "vgg32e20all": best.with_overrides(arch="vgg_style", width=32, epochs=20),
            # vgg24e20all with one thing changed each.
            "vgg24ls0all": best.with_overrides(arch="vgg_style", width=24, epochs=20,
                                               label_smoothing=0.0),
            "vgg24lr01all": best.with_overrides(arch="vgg_style", width=24, epochs=20, lr=0.1)}


def train_one(name: str, seed: int, device: str, data_dir: str | None, out: str) -> dict:
    """Train variant ``name`` with ``seed``; save its logits; return its figures."""
    torch.set_num_threads(1 if device.startswith("cuda") else torch.get_num_threads())
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    started = time.perf_counter()
    profile = variants()[name]
    if name.endswith("all"):
        # Every training image trains; the 5,000 usually held out are still measured after
        # each epoch (they are trained on, so they choose nothing): the last epoch is kept.
        data = prepare_training_data(profile, device, seed=seed, data_dir=data_dir)
        data.train = TensorBatches(load_tensors(True, data_dir, device=device),
                                   profile.batch_size, shuffle=True, seed=seed)
        result = train_model(profile, device, seed=seed, data=data, keep="last")
    else:
        result = train_model(profile, device, seed=seed, data_dir=data_dir)
    model, history = result.model.eval(), result.history
    np.savez_compressed(Path(out) / f"{name}_{seed}.npz",
                        val=shifted_logits(model, result.data.val).numpy(),
                        test=shifted_logits(model, result.data.test).numpy())
    row = {"name": name, "seed": seed, "test": evaluate(model, result.data.test).accuracy,
           "best_epoch": history.best_epoch, "best_val": history.best_val_accuracy,
           "seconds": round(time.perf_counter() - started, 1)}
    (Path(out) / f"{name}_{seed}.json").write_text(json.dumps(row))
    return row


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    return torch.from_numpy(logits).float().softmax(-1).numpy()


def analyse(out: str, data_dir: str | None) -> None:
    """Print each variant's figures from the saved logits."""
    test_labels = load_tensors(False, data_dir).labels.numpy()
    full = load_tensors(True, data_dir)
    val_labels = full.labels[split_indices(len(full), 5000, seed=0)[1]].numpy()
    saved: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for path in sorted(Path(out).glob("*.npz")):
        name, seed = path.stem.rsplit("_", 1)
        with np.load(path) as z:
            saved.setdefault(name, {})[int(seed)] = {"val": z["val"], "test": z["test"]}

    def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
        return 100 * float((probabilities.argmax(-1) == labels).mean())

    for name, runs in saved.items():
        seeds = sorted(runs)
        single = [accuracy(runs[s]["test"][0], test_labels) for s in seeds]
        tta = [accuracy(softmax(runs[s]["test"]).mean(0), test_labels) for s in seeds]
        val = [accuracy(runs[s]["val"][0], val_labels) for s in seeds]
        spread = statistics.stdev(single) if len(single) > 1 else float("nan")
        print(f"{name}, seeds {seeds}: test {statistics.mean(single):.3f}% ± {spread:.3f} "
              f"(lowest {min(single):.2f}, highest {max(single):.2f}); with TTA "
              f"{statistics.mean(tta):.3f}%; held-out {statistics.mean(val):.3f}%")
        triples = list(itertools.combinations(seeds, 3))
        if triples:
            ensembles = [accuracy(np.mean([softmax(runs[s]["test"][0]) for s in t], axis=0),
                                  test_labels) for t in triples]
            with_tta = [accuracy(np.mean([softmax(runs[s]["test"]).mean(0) for s in t], axis=0),
                                 test_labels) for t in triples]
            print(f"    {len(triples)} ensembles of 3: {statistics.mean(ensembles):.3f}% "
                  f"({min(ensembles):.2f} to {max(ensembles):.2f}); with TTA "
                  f"{statistics.mean(with_tta):.3f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=list(variants()), choices=variants())
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="recipe_variants")
    parser.add_argument("--parallel", type=int, default=None,
                        help="runs at once (default: all on a GPU, one on a CPU)")
    parser.add_argument("--analyse-only", action="store_true")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if not args.analyse_only:
        jobs = [(n, s) for n in args.variants for s in args.seeds]
        workers = args.parallel or (len(jobs) if args.device.startswith("cuda") else 1)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(train_one, n, s, args.device, args.data_dir, args.out)
                       for n, s in jobs]
            for future in as_completed(futures):
                r = future.result()
                print(f"{r['name']} seed {r['seed']}: test {100 * r['test']:.2f}%, held-out "
                      f"{100 * r['best_val']:.2f}% (epoch {r['best_epoch']}), {r['seconds']} s",
                      flush=True)
    analyse(args.out, args.data_dir)


if __name__ == "__main__":
    main()
