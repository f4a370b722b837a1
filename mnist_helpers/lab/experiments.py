"""Small, fair experiments for the experiments notebook: train a configuration, sweep two
hyperparameters, split a training step's time into its phases, time a ladder of speed levers
that changes one setting per rung (and say whether the machine was too busy to trust the
timings), and draw the statistics the notebook uses: the equally likely ways to share ranked
runs between two recipes, the coin tosses behind McNemar's test, and the picture groups.

Every run here starts from the same seed and the same data split, trains with
:func:`mnist_helpers.train.fit` (so it picks its epoch on the validation split), and only then
looks at the test set once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ..data import Batches, TensorBatches, TrainingData
from ..device import place_model, seed_everything
from ..loop import TrainingSetup, training_steps
from ..models import build_model, count_parameters
from ..profiles import Profile
from ..recipe import train_model
from .bench import FAST, REFERENCE, measure_throughput
from .paired import right_answers

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from PIL import Image


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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class _TimedBatches:
    """Batches whose fetching time is added up (a wrapper around any batch iterable)."""

    def __init__(self, batches: Batches) -> None:
        self.batches, self.seconds = batches, 0.0

    @property
    def dataset(self) -> object:
        """The images the wrapped batches are cut from."""
        return self.batches.dataset

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        iterator = iter(self.batches)
        while True:
            started = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            self.seconds += time.perf_counter() - started
            yield batch


def step_breakdown(profile: Profile, batches: Batches,
                   device: torch.device | str, *, steps: int = 30, warmup: int = 5,
                   seed: int = 0) -> dict[str, float]:
    """Where a training step's time goes, in milliseconds per step: getting the batch, the
    forward pass, and the rest (loss, backward pass, optimizer step).

    A fresh ``profile.arch`` is trained by :func:`~mnist_helpers.loop.training_steps` for
    ``warmup`` untimed steps, then ``steps`` timed ones; the batches are timed by a wrapper,
    the forward pass by a clock started and stopped around the model's ``forward`` (the
    device is synchronised there, so GPU time lands in the right phase).
    """
    device = torch.device(device)
    seed_everything(seed)
    model = build_model(profile.arch, **profile.model_kwargs())
    model = place_model(model, device) if profile.channels_last else model.to(device)
    timed = _TimedBatches(batches)
    forward = {"seconds": 0.0, "started": 0.0}

    def before(_module: nn.Module, _inputs: object) -> None:
        _sync(device)
        forward["started"] = time.perf_counter()

    def after(_module: nn.Module, _inputs: object, _output: object) -> None:
        _sync(device)
        forward["seconds"] += time.perf_counter() - forward["started"]

    hooks = [model.register_forward_pre_hook(before), model.register_forward_hook(after)]
    epochs = range(1, 1 + -(-(warmup + steps) // len(timed)))
    profile = profile.with_overrides(epochs=len(epochs))
    setup = TrainingSetup.create(model, profile, len(timed), device, seed)
    totals = {"batch": 0.0, "forward": 0.0, "total": 0.0}
    started = time.perf_counter()
    try:
        for i, _step in enumerate(training_steps(model, timed, setup, epochs=epochs,
                                                device=device)):
            _sync(device)  # the step has finished on the device too
            if i + 1 == warmup:
                timed.seconds, forward["seconds"], started = 0.0, 0.0, time.perf_counter()
            if i + 1 == warmup + steps:
                totals = {"batch": timed.seconds, "forward": forward["seconds"],
                          "total": time.perf_counter() - started}
                break
    finally:
        for hook in hooks:
            hook.remove()
    rest = totals["total"] - totals["batch"] - totals["forward"]
    return {"batch": 1000 * totals["batch"] / steps, "forward": 1000 * totals["forward"] / steps,
            "loss, backward and optimizer": 1000 * rest / steps}


def changed_fields(before: Profile, after: Profile) -> list[str]:
    """The names of the settings in which two profiles differ (the name aside)."""
    return [f.name for f in fields(Profile)
            if f.name != "name" and getattr(before, f.name) != getattr(after, f.name)]


def _one_lever_ladder() -> list[tuple[str, Profile]]:
    """From the classic way (``bench.REFERENCE``) to the fast path (``bench.FAST``), exactly
    one setting per rung. The learning rate changes first, on its own, while the optimizer is
    still Adadelta, whose arithmetic is the same at any rate: that rung can show only the
    timings' noise. SGD then runs at the fast path's rate (momentum 0.9 is already set, and
    Adadelta ignores it)."""
    steps: list[tuple[str, dict]] = [
        ("+ data as in-memory tensors", {"loader": "tensors"}),
        (f"+ learning rate {FAST.profile.lr:g} (still Adadelta)", {"lr": FAST.profile.lr}),
        ("+ SGD with Nesterov momentum", {"optimizer": "sgd"}),
        ("+ weight decay", {"weight_decay": FAST.profile.weight_decay}),
        ("+ one-cycle schedule", {"schedule": "onecycle"}),
        ("+ batch 128", {"batch_size": FAST.profile.batch_size}),
        ("+ fast_cnn", {"arch": "fast_cnn"}),
        ("+ channels-last layout", {"channels_last": True}),
        ("+ tiny_cnn (the fast path)", {"arch": FAST.profile.arch}),
    ]
    ladder = [("the classic way: DataLoader + classic_cnn", REFERENCE.profile)]
    for label, change in steps:
        ladder.append((label, ladder[-1][1].with_overrides(**change)))
    return ladder


#: What each speed lever buys, exactly one setting at a time, from the classic way to the
#: fast path: the experiments notebook times every rung.
LADDER: list[tuple[str, Profile]] = _one_lever_ladder()


def time_ladder(ladder: Sequence[tuple[str, Profile]], images: int, rounds: int,
                data_dir: str | None = None, *, warmup_rounds: int = 1) -> list[list[float]]:
    """Training images per second of every rung, ``rounds`` times: ``result[rung][round]``.

    Each round times every rung in turn (:func:`~mnist_helpers.lab.bench.measure_throughput`,
    ``images`` images after a few untimed batches), so neighbouring rungs are timed one right
    after the other. The order alternates: kept rounds 0, 2, 4, ... go down the ladder, rounds
    1, 3, 5, ... up it. A machine that slowly speeds up or slows down during a round (a drift)
    then favours the later rung of a pair in one round and the earlier in the next, instead of
    always the same one, so it cannot pass for a rung's effect in every round. The first
    ``warmup_rounds`` rounds (down the ladder) are timed too but thrown away: a fresh process's
    first timings can carry its start-up costs (one committed run timed its first rung at a
    third of its later speed), and the untimed batches of one rung are too few to absorb them.
    """
    for name, value, least in (("images", images, 1), ("rounds", rounds, 1),
                               ("warmup_rounds", warmup_rounds, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")
    speeds: list[list[float]] = [[] for _ in ladder]
    for round_number in range(warmup_rounds + rounds):
        kept = round_number - warmup_rounds  # negative in a warm-up round
        order = range(len(ladder)) if kept < 0 or kept % 2 == 0 else reversed(range(len(ladder)))
        timed = {rung: measure_throughput(ladder[rung][1], images, data_dir) for rung in order}
        if kept >= 0:  # a warm-up round's timings are not kept
            for rung, speed in timed.items():
                speeds[rung].append(speed)
    return speeds


#: Above this share of the cores' time taken by other programs while some timings ran, the
#: timings are called not trustworthy. A chosen bar, not a law: a tenth of the machine busy
#: elsewhere can already move a timing by about as much as the smaller effects timed here.
OTHERS_LIMIT = 0.10


@dataclass(frozen=True)
class CpuSnapshot:
    """The clocks that say who used the cores, read at one moment by :func:`cpu_snapshot`."""

    wall: float  # seconds on a monotonic clock
    own: float  # CPU seconds of this process and of its children that have ended
    everyone: float | None  # CPU seconds every program on the machine used (None: unknown)


def cpu_snapshot() -> CpuSnapshot:
    """The wall clock, this process's CPU time (its children's too, once they have ended, as a
    timing run in a fresh process does) and the whole machine's busy CPU time, which Linux
    keeps in ``/proc/stat`` (elsewhere it is not known here, and stays None)."""
    times = os.times()
    own = times.user + times.system + times.children_user + times.children_system
    everyone = None
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            first = stat.readline().split()  # cpu user nice system idle iowait irq softirq steal
        ticks = [int(value) for value in first[1:9]]
        busy = sum(ticks) - ticks[3] - ticks[4]  # all but idle and waiting for a disk
        everyone = busy / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    return CpuSnapshot(wall=time.perf_counter(), own=own, everyone=everyone)


def others_share(before: CpuSnapshot, after: CpuSnapshot, cores: int | None = None
                 ) -> float | None:
    """The share of the cores' time that *other* programs used between two snapshots: the
    whole machine's busy CPU seconds minus this process's own, over the seconds that passed
    times the cores (None where the machine's total is not known)."""
    cores = cores or os.cpu_count()
    if before.everyone is None or after.everyone is None or not cores:
        return None
    seconds = after.wall - before.wall
    if seconds <= 0:
        return None
    others = (after.everyone - before.everyone) - (after.own - before.own)
    return min(max(others / (seconds * cores), 0.0), 1.0)


def others_verdict(share: float | None) -> str:
    """One line on how much of the cores other programs took while some timings ran, and
    whether the timings can be trusted: above :data:`OTHERS_LIMIT` they cannot, since the
    timings then measure the waiting for a core too."""
    if share is None:
        return ("what other programs did meanwhile is not known here (it is read from Linux's "
                "/proc/stat): whether they competed for the cores is not known")
    said = f"other programs used {100 * share:.0f}% of the cores' time while these timings ran"
    if share > OTHERS_LIMIT:
        return (f"{said}: above {100 * OTHERS_LIMIT:.0f}%, so the timings waited for cores "
                "too; these timings are not trustworthy")
    return f"{said}: at most {100 * OTHERS_LIMIT:.0f}%, so the timings had the cores to themselves"


def _extreme(split: Sequence[int], k: int) -> str | None:
    """Whether ``split`` (the ranks A holds, 0 the lowest of 2k) puts all of A's runs on top,
    all of B's, or neither (None)."""
    if min(split) == k:
        return "all A's on top"
    if max(split) == k - 1:
        return "all B's on top"
    return None


def plot_splits(splits: Sequence[Sequence[int]], *, observed: Sequence[int] | None = None,
                title: str = "Every way to share the ranked runs between A and B") -> Figure:
    """Every way of giving k of 2k ranked runs to recipe A (``splits``: the ranks A holds, 0
    the lowest accuracy), as equally likely if A and B are equally good: one strip per way, a
    square per run from the lowest accuracy (left) to the highest (right), A's filled and
    lettered. The two most extreme ways, all of A's runs on top or all of B's, are framed in
    red; the way the runs fell (``observed``, A's ranks) is labelled "seen"."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if not splits:
        raise ValueError("splits is empty: give at least one way to share the runs")
    k = len(splits[0])
    if any(len(split) != k for split in splits):
        raise ValueError("every split must give A the same number of runs")
    seen = tuple(sorted(observed)) if observed is not None else None
    columns = min(5, len(splits))
    rows = -(-len(splits) // columns)
    step_x, step_y = 2 * k + 1.5, 2.2
    width = 0.23 * columns * step_x  # inches: a square of about a fifth of an inch
    fig, ax = plt.subplots(figsize=(width, width * rows * step_y / (columns * step_x) + 0.9))
    for n, split in enumerate(splits):
        x0, y0 = (n % columns) * step_x, -(n // columns) * step_y
        for rank in range(2 * k):
            is_a = rank in split
            ax.add_patch(Rectangle((x0 + rank, y0), 0.9, 0.9, facecolor="tab:blue" if is_a
                                   else "white", edgecolor="tab:blue", lw=1))
            ax.text(x0 + rank + 0.45, y0 + 0.45, "A" if is_a else "B", ha="center",
                    va="center", fontsize=7, color="white" if is_a else "tab:blue")
        extreme = _extreme(split, k)
        caption = [extreme] if extreme else []
        if seen is not None and tuple(sorted(split)) == seen:
            caption.append("seen")
        if extreme:
            ax.add_patch(Rectangle((x0 - 0.2, y0 - 0.2), 2 * k + 0.3, 1.3, fill=False,
                                   edgecolor="tab:red", lw=2))
        if caption:
            ax.text(x0 + k - 0.05, y0 - 0.35, ", ".join(caption), ha="center", va="top",
                    fontsize=7, color="tab:red", fontweight="bold" if "seen" in caption
                    else "normal")
    ax.set(xlim=(-0.5, columns * step_x - 1.0), ylim=(-(rows - 1) * step_y - 1.1, 1.1),
           aspect="equal", title=f"{title}\neach strip: the {2 * k} runs from the lowest "
           "accuracy (left) to the highest (right)")
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_coin_tosses(heads: int, tosses: int, *,
                     title: str = "Heads in fair coin tosses") -> Figure:
    """The binomial distribution of the number of heads in ``tosses`` tosses of a fair coin
    (in McNemar's test, how ``only_a`` would fall among the disagreements if the two models
    were equally good), with ``heads`` marked, its mirror ``tosses - heads`` dashed, and the
    two tails at least that far from the middle in red: their total probability, in the
    legend, is the two-sided p-value."""
    import matplotlib.pyplot as plt
    from scipy.stats import binom

    if not 0 <= heads <= tosses or tosses < 1:
        raise ValueError(f"need 0 <= heads <= tosses and tosses >= 1, got {heads} of {tosses}")
    counts = np.arange(tosses + 1)
    chance = binom.pmf(counts, tosses, 0.5)
    low, high = min(heads, tosses - heads), max(heads, tosses - heads)
    tails = (counts <= low) | (counts >= high)
    p_value = min(1.0, float(chance[tails].sum()))
    middle, sd = tosses / 2, np.sqrt(tosses) / 2
    span = max(high - middle, 3 * sd) + 2 * sd
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    ax.bar(counts[~tails], chance[~tails], width=1.0, color="tab:gray",
           label=f"P(exactly this many heads in {tosses} fair tosses)")
    hidden = " (too low to see)" if chance[tails].max() < 0.002 * chance.max() else ""
    ax.bar(counts[tails], chance[tails], width=1.0, color="tab:red",
           label=f"at least as uneven as seen, either way{hidden}: total {p_value:.3g}, "
                 "the two-sided p-value")
    top = float(chance.max())
    mirror = tosses - heads
    for at, text, style in ((heads, f"seen\n{heads}", "-"), (mirror, f"as uneven\nthe other "
                                                              f"way\n{mirror}", "--")):
        if at == heads or mirror != heads:
            ax.axvline(at, color="tab:red", lw=1.5, ls=style)
            left = at < middle
            ax.annotate(text, (at, 1.02 * top), xytext=(-4 if left else 4, 0),
                        textcoords="offset points", color="tab:red", fontsize=8, va="top",
                        ha="right" if left else "left")
    ax.set(xlim=(max(-0.5, middle - span), min(tosses + 0.5, middle + span)),
           ylim=(0, 1.08 * top), xlabel="number of heads", ylabel="probability", title=title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    fig.tight_layout()
    return fig


def plot_picture_groups(groups: Mapping[str, Sequence[tuple[Image.Image, int]]], *,
                        per_group: int = 6, title: str = "Pictures of each group") -> Figure:
    """``per_group`` pictures of every group, one row per group with its name on the left,
    each titled with its true digit and shown as handed in (before any preparation). The
    pictures are spread evenly over each group's list, first and last included, so a group
    sorted by kind shows every kind."""
    import matplotlib.pyplot as plt

    if per_group < 1 or not groups:
        raise ValueError("need at least one group and per_group >= 1")
    fig, axes = plt.subplots(len(groups), per_group, squeeze=False,
                             figsize=(0.95 * per_group + 1.3, 1.05 * len(groups) + 0.5))
    for row, (name, pictures) in zip(axes, groups.items(), strict=True):
        if not pictures:
            raise ValueError(f"group {name!r} has no pictures")
        picks = np.linspace(0, len(pictures) - 1, min(per_group, len(pictures)))
        for column, ax in enumerate(row):
            ax.set_xticks([])
            ax.set_yticks([])
            if column >= len(picks):
                ax.axis("off")
                continue
            picture, label = pictures[round(float(picks[column]))]
            ax.imshow(np.asarray(picture.convert("L")), cmap="gray", vmin=0, vmax=255)
            ax.set_title(str(label), fontsize=9)
        row[0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
