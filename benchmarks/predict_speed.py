"""Speed of preprocessing + prediction of one 1000×1000 photo of a digit, on the CPU.

    python benchmarks/predict_speed.py [--checkpoint FILE] [--repeats 50]

Prints the median and quartiles over the repeats (after warm-up), for the image as a file
(open + decode + preprocess + predict) and for the preprocessing alone.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mnist_helpers.checkpoint import load_checkpoint
from mnist_helpers.config import shipped_checkpoint_path
from mnist_helpers.data import load_tensors
from mnist_helpers.images import open_image
from mnist_helpers.lab.pictures import mnist_as_photo
from mnist_helpers.predict import predict_file
from mnist_helpers.preprocess import preprocess_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", default=str(shipped_checkpoint_path()))
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    model, _ = load_checkpoint(args.checkpoint, "cpu")
    test = load_tensors(False)
    digit = test.pixels[0].numpy()
    photo = mnist_as_photo(digit, np.random.default_rng(0), page=1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        photo.convert("RGB").save(path, quality=90)
        timings: dict[str, list[float]] = {"file -> prediction": [], "preprocess only": []}
        image = open_image(path)
        for i in range(args.repeats + 5):
            started = time.perf_counter()
            prediction = predict_file(model, path)
            middle = time.perf_counter()
            preprocess_image(image)
            done = time.perf_counter()
            if i >= 5:
                timings["file -> prediction"].append(1000 * (middle - started))
                timings["preprocess only"].append(1000 * (done - middle))
    print(f"1000x1000 JPEG photo of a {int(test.labels[0])}, predicted "
          f"{prediction.digit}; {args.repeats} repeats, {torch.get_num_threads()} threads")
    for name, values in timings.items():
        q1, median, q3 = statistics.quantiles(values, n=4)
        print(f"{name:>20}: median {median:6.2f} ms  (quartiles {q1:.2f}-{q3:.2f} ms)")


if __name__ == "__main__":
    main()
