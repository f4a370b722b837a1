"""Small, fair experiments for the experiments notebook (08a): train a configuration, tune a
recipe's peak learning rate on a grid (one rate more past an edge) and train it again with other
seeds, sweep two hyperparameters, and the tables and lines the notebook prints from those runs.
The speed notebook's (08b) timings live in :mod:`mnist_helpers.lab.speed` and the figures of
08a's statistics in :mod:`mnist_helpers.lab.statistics_plots`; this module offers both too, so
a notebook reaches every tool through one name.

Every run here starts from the same seed and the same data split, trains with
:func:`mnist_helpers.train.fit` (so it picks its epoch on the validation split), and only then
looks at the test set once.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import torch
from scipy.stats import binomtest
from torch import nn

from ..data import TensorBatches, TrainingData
from ..models import build_model, count_parameters
from ..profiles import Profile
from ..recipe import train_model
from .paired import compare_paired, right_answers
from .speed import (  # noqa: F401 (08b's tools, offered here with the rest)
    LADDER,
    OTHERS_LIMIT,
    CpuSnapshot,
    changed_fields,
    cpu_snapshot,
    describe_change,
    direction,
    images_by_work,
    ladder_table,
    others_share,
    others_verdict,
    rung_ratios,
    settings_table,
    step_breakdown,
    time_ladder,
)
from .statistics_plots import (  # noqa: F401 (offered here with the rest)
    plot_coin_tosses,
    plot_picture_groups,
    plot_splits,
)

if TYPE_CHECKING:
    pass


@dataclass
class RunResult:
    """What one training run measured."""

    name: str
    arch: str
    parameters: int
    epochs: int
    train_images: int
    seconds_per_epoch: float  # training only (validation not counted)
    val_accuracy: float  # of the epoch kept
    test_accuracy: float
    model: nn.Module = field(repr=False)
    test_right: torch.Tensor | None = field(default=None, repr=False)  # True: image right

    @property
    def images_per_second(self) -> float:
        """Training throughput."""
        return self.train_images / max(self.seconds_per_epoch, 1e-9)


#: Headings for ``show_table`` of a list of :class:`RunResult`.
RUN_COLUMNS = {"name": "run", "parameters": "parameters", "epochs": "epochs",
               "seconds_per_epoch": "s / epoch", "val_accuracy": "validation accuracy",
               "test_accuracy": "test accuracy"}


def train_config(name: str, profile: Profile, data: TrainingData, device: torch.device | str,
                 *, seed: int = 0) -> RunResult:
    """Train a fresh ``profile.arch`` with ``profile``'s hyperparameters on ``data.train``.

    The batch size is ``profile.batch_size`` (the batches of ``data.train`` are re-cut); the
    epoch kept is the best on ``data.val``; the test accuracy is measured once, at the end,
    and which test images the model gets right is kept (``test_right``).
    """
    train = TensorBatches(data.train.dataset, profile.batch_size, shuffle=True, seed=seed)
    trained = train_model(profile, device, seed=seed, data=replace(data, train=train))
    model, history = trained.model, trained.history
    right = right_answers(model, data.test)  # kept, for paired comparisons on the same images
    return RunResult(
        name=name, arch=profile.arch, parameters=count_parameters(model),
        epochs=len(history.epoch), train_images=len(train.dataset),
        seconds_per_epoch=sum(history.train_seconds) / max(len(history.train_seconds), 1),
        val_accuracy=history.best_val_accuracy, test_accuracy=float(right.double().mean()),
        model=model, test_right=right)


#: One line on each network, as notebook 02 introduced them (``models.py`` holds their code).
NETWORK_NOTES = {
    "logistic": "one linear layer from the 784 pixels to the 10 scores, nothing hidden",
    "mlp": "two hidden linear layers (256 and 128 units), ReLU after each",
    "classic_cnn": "PyTorch's MNIST example: two 3×3 convolutions, a max-pool, dropout, "
                   "two linear layers",
    "fast_cnn": "the course's default: three convolution blocks with batch norm, each followed "
                "by a max-pool",
    "tiny_cnn": "crops the empty border, starts with a stride-2 convolution, pools before "
                "batch norm",
    "deep_cnn": "tiny_cnn's cheap start, then two 3×3 convolutions per stage",
    "resnet_small": "blocks whose input is added to their output (residual connections)",
    "vgg_style": "pairs of 3×3 convolutions before each max-pool, as the VGG networks do",
}


def describe_networks(names: Sequence[str]) -> list[str]:
    """One line per network: its name, its parameters (counted on a freshly built one, at
    its default width) and :data:`NETWORK_NOTES`' description."""
    return [f"{name:<13} {count_parameters(build_model(name)):>9,} parameters: "
            f"{NETWORK_NOTES[name]}" for name in names]


def lr_batch_sweep(profile: Profile, data: TrainingData, device: torch.device | str, *,
                   lrs: Sequence[float], batch_sizes: Sequence[int], seed: int = 0,
                   on_result: Callable[[int, float, float], None] | None = None
                   ) -> torch.Tensor:
    """Validation accuracy for every (batch size, peak learning rate) pair.

    Returns a ``len(batch_sizes) × len(lrs)`` tensor; each cell is a fresh run of ``profile``
    with those two values changed. ``on_result(batch_size, lr, accuracy)`` is called after each.
    """
    grid = torch.zeros(len(batch_sizes), len(lrs), dtype=torch.float64)
    for i, batch_size in enumerate(batch_sizes):
        for j, lr in enumerate(lrs):
            run = train_config(f"bs {batch_size}, lr {lr:g}",
                               profile.with_overrides(batch_size=batch_size, lr=lr), data,
                               device, seed=seed)
            grid[i, j] = run.val_accuracy
            if on_result is not None:
                on_result(batch_size, lr, run.val_accuracy)
    return grid


def rate_beyond(lrs: Sequence[float], side: str) -> float:
    """One peak learning rate past an edge of the grid ``lrs``, on the 1, 3, 10, 30, ... scale
    (each value about three times the one before) that this notebook's grids use: the largest
    value of that scale at most half the lowest rate (``side="below"``), or the smallest at
    least twice the highest (``side="above"``). For 0.03, 0.1, 0.3: 0.01 below, 1 above."""
    if not lrs or min(lrs) <= 0:
        raise ValueError(f"lrs must hold at least one positive rate, got {list(lrs)!r}")
    if side not in ("below", "above"):
        raise ValueError(f"side must be 'below' or 'above', got {side!r}")
    exponent = math.floor(math.log10(min(lrs) if side == "below" else max(lrs)))
    scale = [float(f"{m}e{k}") for k in range(exponent - 2, exponent + 3) for m in (1, 3)]
    if side == "below":
        return max(value for value in scale if value <= min(lrs) / 2)
    return min(value for value in scale if value >= 2 * max(lrs))


@dataclass
class TunedRecipe:
    """One recipe tuned on a grid of peak learning rates with its first seed, then trained
    again at the rate chosen with every other seed (:func:`tune_recipe`)."""

    name: str
    grid: dict[float, float]  # validation accuracy (a fraction) at each rate tried, first seed
    lr: float  # the rate chosen, the best on validation
    runs: list[RunResult]  # one per seed, all at ``lr``; runs[0] is the grid's own run
    seeds: list[int]
    added: float | None = None  # the rate tried past an edge (the first grid's best was there)

    @property
    def at_edge(self) -> bool:
        """Whether the rate chosen is the lowest or the highest rate tried: a rate not tried,
        further out, might then suit this recipe better."""
        return self.lr in (min(self.grid), max(self.grid))

    @property
    def test_percent(self) -> list[float]:
        """Each seed's test accuracy, in %."""
        return [100 * run.test_accuracy for run in self.runs]

    @property
    def val_mean(self) -> float:
        """The mean validation accuracy over the seeds, in %: what a ranking uses."""
        return statistics.mean(100 * run.val_accuracy for run in self.runs)

    @property
    def spread(self) -> float:
        """The seed spread: highest minus lowest test accuracy over the seeds, in points."""
        return max(self.test_percent) - min(self.test_percent)

    def line(self) -> str:
        """One line: the grid's validation accuracies (the rate added past an edge marked +),
        the rate chosen, and each seed's test accuracy at it."""
        tried = ", ".join(f"{'+' if lr == self.added else ''}lr {lr:g} {100 * acc:.2f}%"
                          for lr, acc in self.grid.items())
        return (f"{self.name:<13} {tried}  -> lr {self.lr:g}; test: "
                + ", ".join(f"{a:.2f}%" for a in self.test_percent))


def tune_recipe(name: str, profile: Profile, data: TrainingData, device: torch.device | str,
                *, lrs: Sequence[float], seeds: Sequence[int], extend: bool = True
                ) -> TunedRecipe:
    """Train ``profile`` at every peak rate of ``lrs`` with ``seeds[0]`` and keep the rate with
    the best validation accuracy. If that rate is at an edge of ``lrs`` (and ``extend``), train
    once more at :func:`rate_beyond` that edge and choose again among all the rates tried:
    the same rule for every recipe, one extra run for those whose best was at an edge. Then
    train at the chosen rate with every other seed. The test set chooses nothing."""
    if not lrs or not seeds:
        raise ValueError("give at least one rate and one seed")

    def run(lr: float, seed: int) -> RunResult:
        return train_config(name, profile.with_overrides(lr=lr), data, device, seed=seed)

    tried = {lr: run(lr, seeds[0]) for lr in lrs}
    chosen = max(tried, key=lambda lr: tried[lr].val_accuracy)  # the first of a tie
    added = None
    if extend and len(lrs) > 1 and chosen in (min(lrs), max(lrs)):
        added = rate_beyond(lrs, "below" if chosen == min(lrs) else "above")
        tried[added] = run(added, seeds[0])
        chosen = max(tried, key=lambda lr: tried[lr].val_accuracy)
    runs = [tried[chosen]] + [run(chosen, seed) for seed in seeds[1:]]
    return TunedRecipe(name=name, grid={lr: tried[lr].val_accuracy for lr in sorted(tried)},
                       lr=chosen, runs=runs, seeds=list(seeds), added=added)


def grid_warnings(tuned: Mapping[str, TunedRecipe], lrs: Sequence[float]) -> list[str]:
    """Three checks of the rates tried, one line each: whose best rate was at an edge of the
    grid ``lrs`` (and, after one rate past it, whether it still is); which runs did no better
    than guessing one digit in ten (under 12%); and which rates scored below both neighbours,
    a sign that one seed's luck, not the rate, decided."""
    edge = {name: t for name, t in tuned.items() if t.added is not None}
    lines = [f"best rate at an edge of the grid ({min(lrs):g} or {max(lrs):g}): {len(edge)} of "
             f"{len(tuned)}" + (": " + ", ".join(f"{name} (so +lr {t.added:g} tried)"
                                                 for name, t in edge.items()) if edge else "")]
    if edge:
        settled = [name for name, t in edge.items() if not t.at_edge]
        still = [f"{name} (lr {t.lr:g})" for name, t in edge.items() if t.at_edge]
        lines.append("   the edge rate still best, now inside the rates tried: "
                     + (", ".join(settled) or "none"))
        lines.append("   the added rate best, so still at an edge (not fully tuned): "
                     + (", ".join(still) or "none"))
    guessing = [f"{name} at lr {lr:g} ({100 * acc:.2f}%)" for name, t in tuned.items()
                for lr, acc in t.grid.items() if acc < 0.12]
    lines.append("runs no better than guessing one digit in ten (under 12%): "
                 + (", ".join(guessing) or "none"))
    dips = []
    for name, t in tuned.items():
        rates, accuracies = list(t.grid), list(t.grid.values())
        dips += [f"{name} lr {rates[i]:g} ({100 * accuracies[i]:.2f}%)"
                 for i in range(1, len(rates) - 1)
                 if accuracies[i] < min(accuracies[i - 1], accuracies[i + 1])]
    lines.append("a rate scoring below both of its neighbours: " + (", ".join(dips) or "none"))
    return lines


def ranking_table(tuned: Mapping[str, TunedRecipe], order: Sequence[str]
                  ) -> list[dict[str, str]]:
    """The rows of a table of ``tuned`` in the order ``order``, one per recipe: parameters, rate
    chosen, validation mean, test accuracy per seed and mean, seed spread, seconds per epoch."""
    return [{"network": name, "parameters": f"{t.runs[0].parameters:,}",
             "peak lr (chosen)": f"{t.lr:g}" + (" (edge)" if t.at_edge else ""),
             "validation mean %": f"{t.val_mean:.2f}",
             "test % (per seed)": ", ".join(f"{a:.2f}" for a in t.test_percent),
             "test mean %": f"{statistics.mean(t.test_percent):.2f}",
             "seed spread (points)": f"{t.spread:.2f}",
             "s / epoch": f"{statistics.mean(r.seconds_per_epoch for r in t.runs):.1f}"}
            for name, t in ((name, tuned[name]) for name in order)]


def separated(first: Sequence[float], second: Sequence[float]) -> int:
    """Section 1.1's rule for two sets of runs, every run against every run of the other (not
    seed against same seed): 1 if every value of ``first`` is above every value of ``second``,
    -1 if every one is below, 0 if they overlap (or tie)."""
    if min(first) > max(second):
        return 1
    if max(first) < min(second):
        return -1
    return 0


def unpaired_half_width(p_a: float, p_b: float, images: int) -> float:
    """Half the 95% interval of ``p_a − p_b`` (fractions) if each accuracy came from its own
    test set of ``images`` images: the two variances add, 1.96 √(p_a(1 − p_a)/n +
    p_b(1 − p_b)/n)."""
    return 1.96 * math.sqrt(p_a * (1 - p_a) / images + p_b * (1 - p_b) / images)


def same_recipe_table(tuned: Mapping[str, TunedRecipe], test_images: int, *,
                      level: float = 0.05) -> tuple[list[dict[str, object]], list[str]]:
    """Each recipe's first two seeds compared on the same test images
    (:func:`~mnist_helpers.lab.paired.compare_paired`): a table row per recipe (the
    difference, its paired and unpaired 95% ±, the disagreements, McNemar's p-value), and two
    lines: for how many recipes the two seeds come out "different" (p at or below ``level``),
    and where the paired test says so although the unpaired ± is larger than the difference."""
    rows, different, disagree = [], 0, []
    for name, t in tuned.items():
        first, second = t.runs[:2]
        if first.test_right is None or second.test_right is None:
            raise ValueError(f"{name}: the runs kept no test answers (train them with "
                             "train_config, which keeps them)")
        c = compare_paired(first.test_right, second.test_right)
        u = unpaired_half_width(first.test_accuracy, second.test_accuracy, test_images)
        shown = c.p_value <= level
        different += shown
        if shown and abs(c.difference) < u:
            disagree.append(f"{name} ({100 * c.difference:+.2f} points: ± {100 * c.half_width:.2f} "
                            f"paired, ± {100 * u:.2f} unpaired, p = {c.p_value:.2g})")
        first_seed, second_seed = t.seeds[:2]
        rows.append({"network": name,
                     f"seed {first_seed} − seed {second_seed} (points)":
                         f"{100 * c.difference:+.2f}",
                     "± paired (95%)": f"{100 * c.half_width:.2f}",
                     "± unpaired (95%)": f"{100 * u:.2f}",
                     f"only seed {first_seed} right": c.only_a,
                     f"only seed {second_seed} right": c.only_b,
                     "McNemar p-value": f"{c.p_value:.2g}"})
    lines = [f"two seeds of the same recipe come out 'different' (p ≤ {level:g}) for {different} "
             f"of {len(rows)} networks",
             "'different' by the paired test although the unpaired ± is larger than the "
             "difference: " + (", ".join(disagree) or "none")]
    return rows, lines


def exact_interval(percent: float, images: int) -> tuple[float, float]:
    """The exact (Clopper-Pearson) 95% interval of one accuracy (``percent``, in %) on
    ``images`` images, in %: computed from the binomial distribution itself, so it holds on a
    few dozen pictures, where ± 1.96 standard errors fail."""
    found = binomtest(round(percent / 100 * images), images).proportion_ci()
    return 100 * found.low, 100 * found.high


#: What :func:`compare_arms` says of a group, by :func:`separated`'s answer (0 splits in two:
#: every run of both arms equal, or runs on both sides of some run of the other arm).
ARM_VERDICTS = {1: "higher: every run above every run of the other",
                -1: "lower: every run below every run of the other",
                0: "mixed (the runs overlap)"}
TIED = "tied (every run of both arms the same)"


def compare_arms(scores: Mapping[str, Mapping[str, Sequence[float]]],
                 images: Mapping[str, int], before: str, after: str
                 ) -> tuple[list[dict[str, str]], dict[str, list[str]]]:
    """Two arms of an experiment on several groups of pictures: ``scores[arm][group]`` holds
    each seed's accuracy in %. Returns a table row per group (each arm's mean, lowest and
    highest; the exact 95% interval of ``before``'s first seed; the verdict of ``after``
    against ``before`` by :func:`separated`, or :data:`TIED` when every run of both arms is
    the same) and the groups under each verdict."""
    rows: list[dict[str, str]] = []
    by_verdict: dict[str, list[str]] = {verdict: [] for verdict in (*ARM_VERDICTS.values(), TIED)}
    for group in images:
        low, high = exact_interval(scores[before][group][0], images[group])
        runs = [*scores[after][group], *scores[before][group]]
        verdict = (TIED if min(runs) == max(runs) else
                   ARM_VERDICTS[separated(scores[after][group], scores[before][group])])
        by_verdict[verdict].append(group)
        rows.append({"pictures": group, "images": f"{images[group]:,}",
                     **{arm: f"{statistics.mean(v[group]):.1f} ({min(v[group]):.1f} to "
                             f"{max(v[group]):.1f})" for arm, v in scores.items()},
                     f"95% interval of one run ({before}, first seed)": f"{low:.1f} to {high:.1f}",
                     f"{after}, every run against every run": verdict})
    return rows, by_verdict


def turn_and_shift(pixels: torch.Tensor, degrees: float = 15.0, shift: int = 3) -> torch.Tensor:
    """Digits moved by fixed amounts, nothing random: of N×28×28 ``pixels`` (uint8, 0 the
    paper), images 0, 4, 8, ... turned ``degrees`` and shifted ``shift`` pixels right, images
    1, 5, 9, ... turned the other way and shifted left, then 2, 6, ... turned and shifted
    down, 3, 7, ... turned the other way and shifted up. Bilinear, the new corners paper."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    moves = [(degrees, [shift, 0]), (-degrees, [-shift, 0]), (degrees, [0, shift]),
             (-degrees, [0, -shift])]  # (degrees, [right, down])
    upright = pixels.unsqueeze(1)
    moved = upright.clone()
    for k, (angle, offset) in enumerate(moves):
        moved[k::4] = TF.affine(upright[k::4], angle=angle, translate=offset, scale=1.0,
                                shear=[0.0], interpolation=InterpolationMode.BILINEAR, fill=0)
    return moved.squeeze(1)
