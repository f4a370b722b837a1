"""How the shipped model reads real handwriting: numbers, single digits and non-digits from public
repositories, and scikit-learn's UCI digits, next to MNIST's test set.

    python benchmarks/real_handwriting.py [--data DIR] [--checkpoint FILE] [--no-uci] [--worst 10]

``--data`` is a folder laid out like ``../shared/real-handwriting`` (the default):

* ``multi/<number>_<anything>.<ext>``    a handwritten number on one line (read with
                                          ``predict --number``: right only when read exactly);
* ``single/<digit>_<anything>.<ext>``    one handwritten digit (a refusal counts as wrong);
* ``nondigit/<anything>.<ext>``          something that is not a digit (right when refused);
* ``sources.tsv`` (optional)             file, ..., note: the note's first words give the
                                          kind of picture (photo, scan, drawing) for the
                                          per-kind counts.

The UCI digits (``sklearn.datasets.load_digits``: UCI's test set, 1,797 real 8×8 digits by
13 writers) are drawn as 64×64 dark ink on light paper with bilinear upscaling, as a user's
small scan would be (``mnist_helpers.lab.uci.uci_digit_images``). These images are for
measuring only: they are never committed to the project or shipped. The benchmark prints a
table, the counts per kind, and the worst cases; it exits with status 2 when the folder is
missing.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_helpers.checkpoint import load_checkpoint
from mnist_helpers.config import shipped_checkpoint_path
from mnist_helpers.errors import ImageError
from mnist_helpers.images import IMAGE_SUFFIXES, open_image
from mnist_helpers.lab.uci import uci_digit_images
from mnist_helpers.number_reading import read_number
from mnist_helpers.predict import Refusal, predict_file, predict_image

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "real-handwriting"


@dataclass
class Case:
    """One image: what it is, what was read, and whether that is right."""

    folder: str
    file: str
    kind: str
    label: str
    read: str
    right: bool


def _kinds(data: Path) -> dict[str, str]:
    """``folder/file`` → kind of picture (the note's first words in sources.tsv)."""
    table = data / "sources.tsv"
    if not table.is_file():
        return {}
    with table.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return {row["file"]: (row.get("note") or "").split(";")[0].strip() or "?" for row in rows}


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def read_folder(data: Path, model, refusal: Refusal) -> list[Case]:
    """Every image of multi/, single/ and nondigit/, read as the command line reads it."""
    kinds = _kinds(data)
    cases = []
    for path in _images(data / "multi"):
        label = path.name.split("_")[0]
        try:
            reading = read_number(model, open_image(path, decode_size=1024), str(path), refusal)
            read = reading.number if reading.number is not None else f"- ({reading.reason})"
        except ImageError as exc:
            read = f"error ({exc.reason})"
        cases.append(Case("multi", path.name, kinds.get(f"multi/{path.name}", "?"), label, read,
                          read == label))
    for path in _images(data / "single"):
        label = path.name.split("_")[0]
        try:
            prediction = predict_file(model, path, refusal)
            read = str(prediction.digit) if prediction.digit is not None else (
                f"- ({prediction.reason})")
        except ImageError as exc:
            read = f"error ({exc.reason})"
        cases.append(Case("single", path.name, kinds.get(f"single/{path.name}", "?"), label,
                          read, read == label))
    for path in _images(data / "nondigit"):
        try:
            prediction = predict_file(model, path, refusal)
            read = "-" if prediction.digit is None else str(prediction.digit)
        except ImageError as exc:
            read = f"error ({exc.reason})"
        cases.append(Case("nondigit", path.name, kinds.get(f"nondigit/{path.name}", "?"),
                          "not a digit", read, read == "-"))
    return cases


def uci_digits(model, refusal: Refusal) -> tuple[int, int, int, int]:
    """(right, refused, likeliest digit right, total) over scikit-learn's 1,797 UCI digits."""
    images, labels = uci_digit_images()
    right = refused = likeliest = 0
    for image, label in zip(images, labels, strict=True):
        prediction = predict_image(model, image, "", refusal)
        right += prediction.digit == label
        refused += prediction.digit is None
        if prediction.probabilities is not None:
            likeliest += int(np.argmax(prediction.probabilities)) == label
    return right, refused, likeliest, len(labels)


def _share(right: int, total: int) -> str:
    return f"{right} of {total} ({100 * right / max(total, 1):.1f}%)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--checkpoint", default=None, help="default: the shipped model")
    parser.add_argument("--no-uci", action="store_true", help="skip scikit-learn's UCI digits")
    parser.add_argument("--worst", type=int, default=10, help="mistakes listed per folder")
    args = parser.parse_args()
    if not all((args.data / folder).is_dir() for folder in ("multi", "single", "nondigit")):
        print(f"error: {args.data} does not hold the folders multi/, single/ and nondigit/; "
              "name such a folder with --data", file=sys.stderr)
        return 2
    checkpoint = args.checkpoint or shipped_checkpoint_path()
    model, info = load_checkpoint(checkpoint, "cpu")
    refusal = Refusal.from_metadata(info.metadata)
    started = time.perf_counter()
    cases = read_folder(args.data, model, refusal)
    print(f"checkpoint: {checkpoint}  data: {args.data}")
    print("\n| measure | result |\n|---|---|")
    names = {"multi": "numbers read exactly (multi/)",
             "single": "single digits right, a refusal counted as wrong (single/)",
             "nondigit": "non-digits refused (nondigit/)"}
    for folder, name in names.items():
        mine = [c for c in cases if c.folder == folder]
        extra = ""
        if folder == "single":
            extra = f"; {sum(c.read.startswith('-') for c in mine)} refused"
        print(f"| {name} | {_share(sum(c.right for c in mine), len(mine))}{extra} |")
    if not args.no_uci:
        right, refused, likeliest, total = uci_digits(model, refusal)
        print(f"| UCI digits (scikit-learn), a refusal counted as wrong | {_share(right, total)};"
              f" {refused:,} refused; likeliest digit right for {_share(likeliest, total)} |")
    print(f"\n{time.perf_counter() - started:.1f} s")
    for folder in names:
        mine = [c for c in cases if c.folder == folder]
        by_kind: dict[str, Counter] = defaultdict(Counter)
        for case in mine:
            by_kind[case.kind]["right" if case.right else "wrong"] += 1
        counts = ", ".join(f"{kind}: {c['right']}/{c['right'] + c['wrong']}"
                           for kind, c in sorted(by_kind.items()))
        print(f"\n{folder}, by kind: {counts}")
        for case in [c for c in mine if not c.right][:args.worst]:
            print(f"  {case.file}  ({case.kind})  wanted {case.label}, read {case.read}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
