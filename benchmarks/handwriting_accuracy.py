"""Accuracy on images that look like a user's, with the seeds' preprocessing and with ours.

    python benchmarks/handwriting_accuracy.py [--n 300] [--checkpoint FILE ...]

Test images, all made here from data the models never trained on:
* photo      — MNIST test digits as phone photos: dark ink on light paper, uneven light,
               noise, blur, small and off-centre on the page;
* thick/thin — the same with a thicker or thinner pen;
* chalk      — light strokes on a dark board;
* pen, font  — digits drawn as pen strokes, and typed in DejaVu Sans, at random sizes,
               positions, widths and angles.
For every checkpoint, two preprocessings: the seeds' (resize the whole picture to 28×28,
invert) and MNIST's own steps (mnist_helpers.predict.preprocess_image).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from PIL import Image

from mnist_helpers.checkpoint import default_checkpoint_path, load_checkpoint
from mnist_helpers.data import MNIST_MEAN, MNIST_STD, load_mnist
from mnist_helpers.predict import ImageError, naive_preprocess, preprocess_image
from mnist_helpers.samples import draw_font_digit, draw_pen_digit, mnist_as_photo
from mnist_helpers.shipped import shipped_checkpoint_path


def make_test_images(n: int, seed: int = 1) -> dict[str, list[tuple[Image.Image, int]]]:
    """``n`` images of each kind (seeded; MNIST test digits for the photo kinds)."""
    rng = np.random.default_rng(seed)
    test = load_mnist(False)
    picks = rng.choice(len(test), size=n, replace=False)
    kinds: dict[str, list[tuple[Image.Image, int]]] = {
        k: [] for k in ("photo", "thick", "thin", "chalk", "pen", "font")}
    for i in picks.tolist():
        pixels, label = test.data[i].numpy(), int(test.targets[i])
        kinds["photo"].append((mnist_as_photo(pixels, rng), label))
        kinds["thick"].append((mnist_as_photo(pixels, rng, stroke=1), label))
        kinds["thin"].append((mnist_as_photo(pixels, rng, stroke=-1), label))
        kinds["chalk"].append((mnist_as_photo(pixels, rng, light_on_dark=True), label))
    for j in range(n):
        digit = j % 10
        box = (int(rng.integers(10, 80)), int(rng.integers(10, 70)), int(rng.integers(60, 140)))
        kinds["pen"].append((draw_pen_digit(digit, box=box, width=int(rng.integers(4, 16))),
                             digit))
        kinds["font"].append((draw_font_digit(
            digit, angle=float(rng.uniform(-15, 15)), font_size=int(rng.integers(60, 160)),
            offset=(int(rng.integers(-40, 40)), int(rng.integers(-40, 40)))), digit))
    return kinds


def accuracy(model: torch.nn.Module, images: list[tuple[Image.Image, int]], ours: bool) -> float:
    """Share predicted right; an image with "no digit found" counts as wrong."""
    inputs, labels = [], []
    for image, label in images:
        try:
            inputs.append(preprocess_image(image).tensor if ours else naive_preprocess(image))
        except ImageError:
            inputs.append(torch.full((1, 1, 28, 28), -MNIST_MEAN / MNIST_STD))
        labels.append(label)
    with torch.no_grad():
        predicted = model(torch.cat(inputs)).argmax(1)
    return (predicted == torch.tensor(labels)).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="images per kind")
    parser.add_argument("--checkpoint", nargs="*", default=None)
    args = parser.parse_args()
    checkpoints = args.checkpoint or [str(p) for p in (default_checkpoint_path("default"),
                                                       shipped_checkpoint_path()) if p.is_file()]
    kinds = make_test_images(args.n)
    rows = []
    header = f"{'checkpoint':<28}{'preprocessing':<15}" + "".join(f"{k:>8}" for k in kinds)
    print(header + f"{'all':>8}")
    for path in checkpoints:
        model, info = load_checkpoint(path, "cpu")
        for ours in (False, True):
            scores = {k: accuracy(model, v, ours) for k, v in kinds.items()}
            overall = float(np.mean(list(scores.values())))
            name = f"{info['arch']}/{info.get('profile', {}).get('name', '?')}"
            cells = "".join(f"{100 * s:>7.1f}%" for s in scores.values())
            method = "mnist-style" if ours else "seeds"
            print(f"{name:<28}{method:<15}{cells}{100 * overall:>7.1f}%")
            rows.append({"checkpoint": str(path), "preprocessing": "mnist" if ours else "seeds",
                         "accuracy": scores, "overall": overall})
    print(json.dumps({"images_per_kind": args.n, "results": rows}))


if __name__ == "__main__":
    main()
