"""Where a training step's time goes, and what each speed lever buys, for the speed notebook
(08b): a step split into its phases (:func:`step_breakdown`), a ladder of settings from the
classic way to the fast path that changes one setting per rung (:data:`LADDER`), timed in
rounds whose order alternates (:func:`time_ladder`), the tables printed from those timings, and
whether the machine was quiet enough to trust them: how much of the cores other programs took
meanwhile (:func:`cpu_snapshot`, :func:`others_share`, :func:`others_verdict`).
:mod:`mnist_helpers.lab.experiments` offers all of them too."""

from __future__ import annotations

import itertools
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields

import torch

from ..data import Batches
from ..device import place_model, seed_everything
from ..loop import TrainingSetup, training_steps
from ..models import build_model, count_multiply_adds
from ..profiles import Profile
from ..recipe import prepare_training_data
from .bench import FAST, REFERENCE, measure_throughput


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


class _Fetched:
    """Batches fetched once, in advance, and kept in memory: the loader's work is done before
    any clock starts (a list of batches, with the dataset they came from)."""

    def __init__(self, batches: Batches, count: int) -> None:
        self.dataset = batches.dataset
        self.batches = list(itertools.islice(itertools.cycle(batches), count))

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return iter(self.batches)


def step_breakdown(profile: Profile, batches: Batches,
                   device: torch.device | str, *, steps: int = 30, warmup: int = 5,
                   seed: int = 0, prefetch: bool = False,
                   optimizer_apart: bool = False) -> dict[str, float]:
    """Where a training step's time goes, in milliseconds per step: ``"fetching"`` the batch,
    the ``"forward"`` pass, and the rest (loss, backward pass, optimizer step).

    A fresh ``profile.arch`` is trained by :func:`~mnist_helpers.loop.training_steps` for
    ``warmup`` untimed steps, then ``steps`` timed ones; the batches are timed by a wrapper,
    the forward pass by a clock started and stopped around the model's ``forward`` (the
    device is synchronised there, so GPU time lands in the right phase). With ``prefetch``
    the batches are fetched before any clock starts, so the loader is out of the timings.
    With ``optimizer_apart`` the optimizer's step gets its own clock too, and the rest is
    "loss and backward" (with the schedule's step and the loop's bookkeeping).
    """
    device = torch.device(device)
    seed_everything(seed)
    model = build_model(profile.arch, **profile.model_kwargs())
    model = place_model(model, device) if profile.channels_last else model.to(device)
    timed = _TimedBatches(_Fetched(batches, warmup + steps) if prefetch else batches)
    seconds = {"forward": 0.0, "optimizer": 0.0}
    started = {"at": 0.0}

    def before(*_hook_args: object) -> None:
        _sync(device)
        started["at"] = time.perf_counter()

    def after(phase: str) -> Callable[..., None]:
        def stop(*_hook_args: object) -> None:
            _sync(device)
            seconds[phase] += time.perf_counter() - started["at"]
        return stop

    hooks = [model.register_forward_pre_hook(before),
             model.register_forward_hook(after("forward"))]
    epochs = range(1, 1 + -(-(warmup + steps) // len(timed)))
    profile = profile.with_overrides(epochs=len(epochs))
    setup = TrainingSetup.create(model, profile, len(timed), device, seed)
    if optimizer_apart:
        hooks += [setup.optimizer.register_step_pre_hook(before),
                  setup.optimizer.register_step_post_hook(after("optimizer"))]
    totals = {"fetching": 0.0, "forward": 0.0, "optimizer": 0.0, "total": 0.0}
    started_all = time.perf_counter()
    try:
        for i, _step in enumerate(training_steps(model, timed, setup, epochs=epochs,
                                                device=device)):
            _sync(device)  # the step has finished on the device too
            if i + 1 == warmup:
                timed.seconds, started_all = 0.0, time.perf_counter()
                seconds.update(forward=0.0, optimizer=0.0)
            if i + 1 == warmup + steps:
                totals = {"fetching": timed.seconds, **seconds,
                          "total": time.perf_counter() - started_all}
                break
    finally:
        for hook in hooks:
            hook.remove()
    rest = totals["total"] - totals["fetching"] - totals["forward"] - totals["optimizer"]
    per_step = {"fetching": totals["fetching"], "forward": totals["forward"]}
    if optimizer_apart:
        per_step |= {"loss and backward": rest, "optimizer": totals["optimizer"]}
    else:
        per_step["loss, backward and optimizer"] = rest
    return {phase: 1000 * value / steps for phase, value in per_step.items()}


def time_phases(setups: Sequence[tuple[str, Profile, bool]], device: torch.device | str, *,
                steps: int, rounds: int, seed: int = 0, data_dir: str | None = None
                ) -> dict[str, list[dict[str, float]]]:
    """:func:`step_breakdown` of every setup (a label, a profile, and whether its batches are
    fetched in advance), the optimizer's step timed apart, ``rounds`` times in this one
    process: ``result[label][round]``. Even rounds go through the setups in order, odd ones
    in reverse, so a drift of the machine's speed favours no setup in every round."""
    data = {label: prepare_training_data(profile, device, seed=seed, data_dir=data_dir).train
            for label, profile, _ in setups}
    times: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in setups}
    for turn in range(rounds):
        for label, profile, prefetch in (setups if turn % 2 == 0 else setups[::-1]):
            times[label].append(step_breakdown(profile, data[label], device, steps=steps,
                                               seed=seed, prefetch=prefetch,
                                               optimizer_apart=True))
    return times


def phase_speedups(before: Sequence[dict[str, float]], after: Sequence[dict[str, float]]
                   ) -> dict[str, list[float]]:
    """How many times as fast each phase ran after as before, round by round: its time
    before ÷ its time after (above 1: faster after, as with the ladder's ratios of images per
    second), and the same for the whole step ("total")."""
    def with_total(times: dict[str, float]) -> dict[str, float]:
        return {**times, "total": sum(times.values())}
    return {phase: [with_total(b)[phase] / with_total(a)[phase]
                    for b, a in zip(before, after, strict=True)]
            for phase in with_total(before[0])}


def changed_fields(before: Profile, after: Profile) -> list[str]:
    """The names of the settings in which two profiles differ (the name aside)."""
    return [f.name for f in fields(Profile)
            if f.name != "name" and getattr(before, f.name) != getattr(after, f.name)]


def describe_change(before: Profile, after: Profile) -> str:
    """"setting: old → new" for every setting in which two profiles differ (the name aside)."""
    return ", ".join(f"{name}: {getattr(before, name)} → {getattr(after, name)}"
                     for name in changed_fields(before, after))


def settings_table(setups: Sequence[tuple[str, Profile]]) -> list[dict[str, str]]:
    """A table row for every setting in which some of ``setups`` (a label and a profile each)
    differ, the name aside, with each setup's value in its own column: the settings they share
    are left out."""
    names = [f.name for f in fields(Profile) if f.name != "name"
             and len({repr(getattr(profile, f.name)) for _, profile in setups}) > 1]
    return [{"setting": name, **{label: str(getattr(profile, name)) for label, profile in setups}}
            for name in names]


def rung_ratios(speeds: Sequence[Sequence[float]]) -> dict[int, list[float]]:
    """For every rung ``i`` after the first, its images per second over rung ``i - 1``'s,
    round by round (``speeds[rung][round]``, as :func:`time_ladder` returns them)."""
    return {i: [b / a for a, b in zip(speeds[i - 1], speeds[i], strict=True)]
            for i in range(1, len(speeds))}


def direction(ratios: Sequence[float]) -> str:
    """The ladder's rule: "faster" if every round's ratio is above 1, "slower" if every one is
    below 1, else "not shown"."""
    return "faster" if min(ratios) > 1 else "slower" if max(ratios) < 1 else "not shown"


def noise_band(noise: Sequence[float]) -> tuple[float, float]:
    """How far noise alone moves a ratio, from ``noise``: the same ratio measured between two
    identical setups, round by round. The band assumes noise has no direction, so it is
    symmetric about 1: (1 / m, m), where m is how far the furthest round went from 1, either
    way (rounds of 0.97 and 1.01 give 0.97 to 1.03). A ratio whose rounds all lie outside it
    moved more than identical timings did."""
    m = max(max(noise), 1 / min(noise))
    return 1 / m, m


def verdict(ratios: Sequence[float], bands: Sequence[tuple[float, float]]) -> str:
    """A rung's verdict by the two tests: the rule (:func:`direction`) and the noise bands
    (:func:`noise_band`, one per identical pair). "faster" or "slower" only when the rule says
    so and every round lies outside every band; "unsettled" (time it again) when only the rule
    says so; else "not shown", which does not mean no effect."""
    rule = direction(ratios)
    if rule == "not shown":
        return rule
    outside = all(not low <= r <= high for r in ratios for low, high in bands)
    return rule if outside else "unsettled"


def ladder_table(ladder: Sequence[tuple[str, Profile]], speeds: Sequence[Sequence[float]]
                 ) -> list[dict[str, str]]:
    """A table row per rung of a timed ladder: what it changed, its median and range of images
    per second, its ratio to the rung above (median of the rounds' ratios, and their range),
    and the rule's verdict (:func:`direction`)."""
    ratios = rung_ratios(speeds)
    rows = []
    for i, (label, profile) in enumerate(ladder):
        row = {"rung": label,
               "changed": describe_change(ladder[i - 1][1], profile) if i else "(start)",
               "images/s (median)": f"{statistics.median(speeds[i]):,.0f}",
               "slowest to fastest": f"{min(speeds[i]):,.0f} to {max(speeds[i]):,.0f}",
               "× the rung above: median (range)": "", "every round": ""}
        if i:
            row["× the rung above: median (range)"] = (
                f"×{statistics.median(ratios[i]):.2f} ({min(ratios[i]):.2f} to "
                f"{max(ratios[i]):.2f})")
            row["every round"] = direction(ratios[i])
        rows.append(row)
    return rows


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
#: fast path: notebook 08b times every rung.
LADDER: list[tuple[str, Profile]] = _one_lever_ladder()


def with_repeat(ladder: Sequence[tuple[str, Profile]], rung: int = 0,
                label: str | None = None) -> list[tuple[str, Profile]]:
    """``ladder`` with rung ``rung`` timed twice, the copy right after it: an *identical pair*,
    a control that :func:`time_ladder` times in the same process and rounds as every rung."""
    name, profile = ladder[rung]
    return [*ladder[:rung + 1], (label or f"{name}, again", profile), *ladder[rung + 1:]]


def images_by_work(ladder: Sequence[tuple[str, Profile]], images: int,
                   reference: str | None = None) -> list[int]:
    """How many images each rung of ``ladder`` times: ``images`` for a network doing as many
    multiply-adds per image as ``reference`` (an architecture's name; by default the costliest
    network of ``ladder``), and k times as many for a network doing k times fewer (k rounded
    to a whole number). Every timing then does about the same arithmetic, so a fast rung is
    not timed over a few batches only, where noise weighs most. A fixed count worked out from
    the networks, not from a clock: nothing depends on how fast the machine is."""
    work = [count_multiply_adds(build_model(profile.arch, **profile.model_kwargs()))
            for _, profile in ladder]
    most = count_multiply_adds(build_model(reference)) if reference else max(work)
    return [images * max(1, round(most / w)) for w in work]


def time_ladder(ladder: Sequence[tuple[str, Profile]], images: int | Sequence[int],
                rounds: int, data_dir: str | None = None, *,
                warmup_rounds: int = 1) -> list[list[float]]:
    """Training images per second of every rung, ``rounds`` times: ``result[rung][round]``.

    Each round times every rung in turn (:func:`~mnist_helpers.lab.bench.measure_throughput`,
    ``images`` images after a few untimed batches, or ``images[rung]`` when it is one count per
    rung, as :func:`images_by_work` gives), so neighbouring rungs are timed one right
    after the other. The order alternates: kept rounds 0, 2, 4, ... go down the ladder, rounds
    1, 3, 5, ... up it. A machine that slowly speeds up or slows down during a round (a drift)
    then favours the later rung of a pair in one round and the earlier in the next, instead of
    always the same one, so it cannot pass for a rung's effect in every round. The first
    ``warmup_rounds`` rounds (down the ladder) are timed too but thrown away: a fresh process's
    first timings can carry its start-up costs (one committed run timed its first rung at a
    third of its later speed), and the untimed batches of one rung are too few to absorb them.
    """
    counts = [images] * len(ladder) if isinstance(images, int) else list(images)
    if len(counts) != len(ladder):
        raise ValueError(f"images must be one count, or one per rung ({len(ladder)}); "
                         f"got {len(counts)}")
    for name, value, least in (*(("images", count, 1) for count in counts),
                               ("rounds", rounds, 1), ("warmup_rounds", warmup_rounds, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")
    speeds: list[list[float]] = [[] for _ in ladder]
    for round_number in range(warmup_rounds + rounds):
        kept = round_number - warmup_rounds  # negative in a warm-up round
        order = range(len(ladder)) if kept < 0 or kept % 2 == 0 else reversed(range(len(ladder)))
        timed = {rung: measure_throughput(ladder[rung][1], counts[rung], data_dir)
                 for rung in order}
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
    timings then measure the waiting for a core too. Below it, nothing on this machine
    competed; a virtual machine cannot see other machines that share its hardware."""
    if share is None:
        return ("what other programs did meanwhile is not known here (it is read from Linux's "
                "/proc/stat): whether they competed for the cores is not known")
    said = f"other programs used {100 * share:.0f}% of the cores' time while these timings ran"
    if share > OTHERS_LIMIT:
        return (f"{said}: above {100 * OTHERS_LIMIT:.0f}%, so the timings waited for cores "
                "too; these timings are not trustworthy")
    return (f"{said}: at most {100 * OTHERS_LIMIT:.0f}%, so no sign that this machine's other "
            "programs competed for the cores (other machines sharing its hardware are not seen)")
