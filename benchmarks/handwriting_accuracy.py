"""Accuracy on images that look like a user's, with the naive preprocessing and with ours.

    python benchmarks/handwriting_accuracy.py [--n 300] [--checkpoint FILE ...]

Test images, all made here from data the models never trained on:
* photo      — MNIST test digits as phone photos: dark ink on light paper, uneven light,
               noise, blur, small and off-centre on the page;
* thick/thin — the same with a thicker or thinner pen;
* chalk      — light strokes on a dark board;
* pen, font  — digits drawn as pen strokes, and typed in DejaVu Sans, at random sizes,
               positions, widths and angles.
For every checkpoint, two preprocessings: the naive one of many tutorial scripts (resize the
whole picture to 28×28, invert) and MNIST's own steps (mnist_helpers.preprocess).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from mnist_helpers.checkpoint import default_checkpoint_path, load_checkpoint
from mnist_helpers.config import shipped_checkpoint_path
from mnist_helpers.lab.pictures import make_test_pictures, picture_accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="images per kind")
    parser.add_argument("--checkpoint", nargs="*", default=None)
    args = parser.parse_args()
    checkpoints = args.checkpoint or [str(p) for p in (default_checkpoint_path("default"),
                                                       shipped_checkpoint_path()) if p.is_file()]
    kinds = make_test_pictures(args.n)
    rows = []
    header = f"{'checkpoint':<28}{'preprocessing':<15}" + "".join(f"{k:>8}" for k in kinds)
    print(header + f"{'all':>8}")
    for path in checkpoints:
        model, info = load_checkpoint(path, "cpu")
        for ours in (False, True):
            method = "mnist" if ours else "naive"
            scores = {k: picture_accuracy(model, v, preprocess=method) for k, v in kinds.items()}
            overall = float(np.mean(list(scores.values())))
            name = f"{info.arch}/{info.profile.get('name', '?')}"
            cells = "".join(f"{100 * s:>7.1f}%" for s in scores.values())
            print(f"{name:<28}{method:<15}{cells}{100 * overall:>7.1f}%")
            rows.append({"checkpoint": str(path), "preprocessing": method,
                         "accuracy": scores, "overall": overall})
    print(json.dumps({"images_per_kind": args.n, "results": rows}))


if __name__ == "__main__":
    main()
