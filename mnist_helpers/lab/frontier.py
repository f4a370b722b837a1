"""How far can the best recipe go? Runs recorded on a lent GPU, and what each change buys.

One of these networks takes 20 to 30 minutes to train on a 2-core CPU, and a fair comparison
needs several seeds of each, so notebook 08a does not train them: it reads these records and
does the arithmetic in front of the learner. Every run was trained by
``benchmarks/recipe_variants.py`` on an NVIDIA H200 lent to the project (float32, as on a CPU),
the seeds of a variant each once; its raw output is in
``benchmarks/results/recipe_variants_h200_2026-12-04.txt``, and docs/benchmarks.md ("On a lent
GPU") describes the runs. A run's figure is the number of the 10,000 test images it got right,
alone and with *test-time augmentation* (TTA: the softmax averaged over the image and its four
one-pixel shifts). An *ensemble* is the mean of three networks' softmax; its figure is the mean
accuracy over every triple of a variant's seeds.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .experiments import separated

TEST_IMAGES = 10_000


@dataclass(frozen=True)
class Variant:
    """One recipe's runs: the test accuracy's mean, standard deviation and range over its seeds
    (in %), and, where each run was kept, the test images each seed got right."""

    name: str
    what: str
    mean: float
    sd: float
    seeds: int
    lowest: float
    highest: float
    right: tuple[int, ...] = ()  # per seed, out of TEST_IMAGES (empty: only the summary kept)
    right_tta: tuple[int, ...] = ()
    ensembles: float | None = None  # mean accuracy (%) of every 3-seed ensemble
    ensembles_tta: float | None = None

    @classmethod
    def from_runs(cls, name: str, what: str, right: Sequence[int], right_tta: Sequence[int],
                  ensembles: float, ensembles_tta: float) -> Variant:
        """A variant from its runs: each seed's images right, alone and with TTA."""
        accuracy = [100 * r / TEST_IMAGES for r in right]
        return cls(name, what, statistics.mean(accuracy), statistics.stdev(accuracy),
                   len(accuracy), min(accuracy), max(accuracy), tuple(right), tuple(right_tta),
                   ensembles, ensembles_tta)

    def accuracies(self) -> list[float]:
        """Each seed's test accuracy in % (empty when only the summary was kept)."""
        return [100 * r / TEST_IMAGES for r in self.right]


def _vgg(width: int, images: str) -> str:
    return f"vgg_style width {width}, 20 epochs, {images}"


ALL = "all 60,000 training images, last epoch kept"
HELD_OUT = "55,000 training images, epoch chosen on 5,000"

#: The runs of 2026-12-04, by the name ``benchmarks/recipe_variants.py --variants`` takes.
VARIANTS: dict[str, Variant] = {v.name: v for v in [
    Variant.from_runs("vgg24e20", _vgg(24, HELD_OUT), (9965, 9967, 9973, 9977, 9962),
                      (9971, 9967, 9972, 9971, 9966), 99.730, 99.729),
    Variant.from_runs("vgg32e20", _vgg(32, HELD_OUT), (9965, 9966, 9973, 9971, 9970),
                      (9970, 9966, 9975, 9972, 9970), 99.740, 99.754),
    Variant.from_runs("res32e20", f"resnet_small width 32, 20 epochs, {HELD_OUT}",
                      (9968, 9965, 9964, 9965, 9963), (9967, 9968, 9965, 9966, 9965),
                      99.687, 99.701),
    Variant.from_runs("vgg24e20all", _vgg(24, ALL),
                      (9966, 9963, 9966, 9970, 9965, 9966, 9969, 9973, 9971, 9970),
                      (9970, 9968, 9971, 9974, 9968, 9965, 9969, 9974, 9973, 9968),
                      99.712, 99.732),
    Variant.from_runs("vgg32e20all", _vgg(32, ALL), (9962, 9971, 9968, 9975, 9973, 9976),
                      (9965, 9971, 9970, 9975, 9974, 9976), 99.716, 99.742),
    Variant.from_runs("vgg24ls0all", _vgg(24, ALL) + ", no label smoothing",
                      (9973, 9963, 9963, 9969, 9973, 9966, 9962, 9961),
                      (9971, 9966, 9970, 9968, 9978, 9970, 9967, 9967), 99.698, 99.714),
    Variant.from_runs("vgg24lr01all", _vgg(24, ALL) + ", peak learning rate 0.1",
                      (9969, 9968, 9973, 9966, 9964, 9968, 9969, 9972),
                      (9971, 9972, 9977, 9968, 9967, 9965, 9978, 9976), 99.736, 99.760),
]}

#: The runs of 2026-11-30 on the same kind of GPU: only their summaries were kept.
EARLIER: dict[str, Variant] = {v.name: v for v in [
    Variant("w24e28", "deep_cnn width 24, 28 epochs (the best profile)", 99.673, 0.036, 7,
            99.63, 99.74, ensembles=99.729),
    Variant("w24e45", "deep_cnn width 24, 45 epochs", 99.687, 0.015, 3, 99.67, 99.70,
            ensembles=99.72),
    Variant("w32e28", "deep_cnn width 32, 28 epochs", 99.699, 0.023, 7, 99.67, 99.73,
            ensembles=99.724),
]}

#: Each change, as (what changes, the variant without it, the variant with it).
CHANGES: list[tuple[str, str, str]] = [
    ("longer schedule: 28 → 45 epochs", "w24e28", "w24e45"),
    ("wider deep_cnn: width 24 → 32", "w24e28", "w32e28"),
    ("wider vgg_style: width 24 → 32", "vgg24e20", "vgg32e20"),
    ("vgg_style → resnet_small (width 32)", "vgg32e20", "res32e20"),
    ("all 60,000 images, last epoch (not 55,000, best epoch)", "vgg24e20", "vgg24e20all"),
    ("label smoothing 0 → 0.1", "vgg24ls0all", "vgg24e20all"),
    ("peak learning rate 0.2 → 0.1", "vgg24e20all", "vgg24lr01all"),
]


def variant(name: str) -> Variant:
    """A variant of either day by name."""
    return VARIANTS.get(name) or EARLIER[name]


@dataclass(frozen=True)
class Difference:
    """One change: the difference of the two means (points), its standard error, and 08a's
    section 1.1 rule (+1 every run of the new variant above every run of the old, −1 below,
    0 they overlap), applied to the lowest and highest runs."""

    change: str
    difference: float
    standard_error: float
    separated: int

    @property
    def in_standard_errors(self) -> float:
        """How many standard errors the difference is: below about 2, noise can make it."""
        return self.difference / self.standard_error


def compare(change: str, before: Variant, after: Variant) -> Difference:
    """``after``'s mean minus ``before``'s, with the standard error of that difference,
    √(sd₁²/n₁ + sd₂²/n₂), for runs on different seeds."""
    error = math.sqrt(before.sd ** 2 / before.seeds + after.sd ** 2 / after.seeds)
    return Difference(change, after.mean - before.mean, error,
                      separated([after.lowest, after.highest], [before.lowest, before.highest]))


def tta_gains(v: Variant) -> list[float]:
    """TTA's gain on each seed of ``v``, in points: the same network's test accuracy with
    TTA minus without."""
    return [100 * (t - r) / TEST_IMAGES for r, t in zip(v.right, v.right_tta, strict=True)]


def tta_gain(v: Variant) -> tuple[float, float]:
    """TTA's gain on ``v``: the mean and the standard deviation of :func:`tta_gains`, in
    points."""
    gains = tta_gains(v)
    return statistics.mean(gains), statistics.stdev(gains)


def plot_runs(variants: Sequence[Variant], *, target: float = 99.75,
              ensemble_target: float | None = 99.80) -> Figure:
    """Every seed of each variant as a dot (or, where only the summary was kept, a line from
    the lowest to the highest seed), its mean as a bar, its 3-seed ensembles' mean as a
    diamond (hollow: with TTA), and the targets for one network and for an ensemble as
    dashed lines."""
    fig, ax = plt.subplots(figsize=(11, 4.8))
    ranged = False
    for i, v in enumerate(variants):
        runs = v.accuracies()
        if not runs:  # only the summary was kept: its range
            ax.vlines(i, v.lowest, v.highest, color="tab:blue", linewidth=2, zorder=3,
                      label="_" if ranged else "lowest to highest seed (runs not kept)")
            ranged = True
        offsets = [(k - (len(runs) - 1) / 2) * 0.05 for k in range(len(runs))]
        ax.scatter([i + o for o in offsets], runs, s=18, color="tab:blue", zorder=3, gid="seeds",
                   label="one seed" if runs and i == len(variants) - 1 else None)
        ax.hlines(v.mean, i - 0.3, i + 0.3, color="black", linewidth=1.5,
                  label="mean of the seeds" if i == 0 else "_")
        if v.ensembles is not None:
            ax.scatter([i + 0.38], [v.ensembles], marker="D", s=28, color="tab:orange",
                       zorder=3, label="3-seed ensembles, mean" if i == 0 else None)
        if v.ensembles_tta is not None:
            ax.scatter([i + 0.38], [v.ensembles_tta], marker="D", s=28, facecolor="none",
                       edgecolor="tab:orange", zorder=3, gid="ensembles with TTA",
                       label="the same with TTA" if i == len(variants) - 1 else None)
    ax.axhline(target, color="tab:red", linestyle="--", linewidth=1,
               label=f"target for one network: {target:.2f}%")
    if ensemble_target is not None:
        ax.axhline(ensemble_target, color="tab:purple", linestyle=":", linewidth=1.2,
                   label=f"target for an ensemble: {ensemble_target:.2f}%")
    ax.set_xticks(range(len(variants)), [v.name for v in variants], rotation=20, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Each seed of each variant (10,000 test images; one image is 0.01 points)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig
