"""Reading whole numbers and refusing what is not a digit, on pictures the project makes.

    python benchmarks/numbers_and_nondigits.py [--numbers 600] [--nondigits 700]
        [--digits 300] [--checkpoint FILE ...]

For each checkpoint (default: the model shipped in the package) it prints:

* numbers read exactly: numbers of 2 to 10 digits composed from MNIST *test* digits and pen
  drawings, photographed, scanned or drawn on a canvas, slanted, some digits touching
  (``mnist_helpers.lab.compose``); and the share of their digits read right (one minus the
  edit distance over the length);
* non-digits refused: photos of letters, words, symbols, doodles, objects, shadows and noise
  in fonts no model trained on, each predicted as one digit (refused = ``prediction`` null),
  and as a number (refused = ``number`` null);
* real single digits accepted and right: the handwriting benchmark's pictures (photos of
  MNIST test digits, thick and thin pens, chalk, pen strokes, fonts), where a refusal counts
  as a mistake.

Every picture is made from a fixed seed, so two runs measure the same pictures.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from mnist_helpers.checkpoint import load_checkpoint
from mnist_helpers.config import shipped_checkpoint_path
from mnist_helpers.data import load_tensors
from mnist_helpers.lab.compose import STYLES, make_nondigit_photos, make_number_pictures
from mnist_helpers.lab.pictures import make_test_pictures
from mnist_helpers.nondigits import KINDS
from mnist_helpers.number_reading import read_number
from mnist_helpers.predict import Refusal, predict_image


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=600)
    parser.add_argument("--nondigits", type=int, default=700)
    parser.add_argument("--digits", type=int, default=300, help="pictures per kind")
    parser.add_argument("--checkpoint", nargs="*", default=[str(shipped_checkpoint_path())])
    parser.add_argument("--seed", type=int, default=0,
                        help="shift every seed by this: another draw of pictures, to choose "
                             "rules and thresholds on without touching the reported one")
    args = parser.parse_args()
    test = load_tensors(False)
    numbers = make_number_pictures(args.numbers, seed=11 + args.seed,
                                   mnist=(test.pixels.numpy(), test.labels.numpy()))
    nondigits = make_nondigit_photos(args.nondigits, seed=12 + args.seed, kinds=KINDS)
    digits = make_test_pictures(args.digits, seed=1 + args.seed)
    results = []
    for path in args.checkpoint:
        model, info = load_checkpoint(path, "cpu")
        refusal = Refusal.from_metadata(info.metadata)
        started = time.perf_counter()
        exact, right, length = {s: [] for s in STYLES}, 0, 0
        for i, (image, truth) in enumerate(numbers):
            read = read_number(model, image, refusal=refusal).number or ""
            exact[STYLES[i % len(STYLES)]].append(read == truth)
            right += max(0, len(truth) - edit_distance(truth, read))
            length += len(truth)
        refused_digit, refused_number = {k: [] for k in KINDS}, []
        for image, kind in nondigits:
            refused_digit[kind].append(predict_image(model, image, refusal=refusal).digit is None)
            refused_number.append(read_number(model, image, refusal=refusal).number is None)
        accepted = {kind: float(np.mean([predict_image(model, image, refusal=refusal).digit
                                         == label for image, label in pictures]))
                    for kind, pictures in digits.items()}
        row = {
            "checkpoint": path, "model": f"{info.arch}, {info.num_classes} classes",
            "refusal_threshold": refusal.threshold,
            "numbers_exact": float(np.mean(sum(exact.values(), []))),
            "numbers_exact_by_style": {s: float(np.mean(v)) for s, v in exact.items()},
            "number_digits_right": right / length,
            "nondigits_refused": float(np.mean(sum(refused_digit.values(), []))),
            "nondigits_refused_by_kind": {k: float(np.mean(v)) for k, v in refused_digit.items()},
            "nondigits_refused_as_numbers": float(np.mean(refused_number)),
            "digits_accepted_and_right": float(np.mean(list(accepted.values()))),
            "digits_accepted_and_right_by_kind": accepted,
            "seconds": round(time.perf_counter() - started, 1)}
        results.append(row)
        print(f"{row['model']} ({path}), refusal threshold {refusal.threshold:.3f}")
        print(f"  numbers read exactly:           {100 * row['numbers_exact']:5.1f}% of "
              f"{len(numbers)}  (" + ", ".join(f"{s} {100 * v:.1f}%" for s, v in
                                               row["numbers_exact_by_style"].items()) + ")")
        print(f"  digits of numbers read right:   {100 * row['number_digits_right']:5.1f}%")
        print(f"  non-digits refused (one digit): {100 * row['nondigits_refused']:5.1f}% of "
              f"{len(nondigits)}  (" + ", ".join(f"{k} {100 * v:.0f}%" for k, v in
                                                 row["nondigits_refused_by_kind"].items()) + ")")
        as_numbers = row["nondigits_refused_as_numbers"]
        print(f"  non-digits refused (number):    {100 * as_numbers:5.1f}%")
        print(f"  real digits accepted and right: {100 * row['digits_accepted_and_right']:5.1f}%"
              "  (" + ", ".join(f"{k} {100 * v:.1f}%" for k, v in accepted.items()) + ")")
    print(json.dumps({"numbers": len(numbers), "nondigits": len(nondigits),
                      "digits_per_kind": args.digits, "results": results}))


if __name__ == "__main__":
    main()
