"""Small, fair experiments for the experiments notebook: train a configuration, sweep two
hyperparameters, split a training step's time into its phases, and time a ladder of speed
levers that changes one setting per rung.

Every run here starts from the same seed and the same data split, trains with
:func:`mnist_helpers.train.fit` (so it picks its epoch on the validation split), and only then
looks at the test set once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace

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
    """From the classic way (``bench.REFERENCE``) to the fast path (``bench.FAST``), one
    setting per rung; a learning rate belongs to its optimizer, so those two change together."""
    steps: list[tuple[str, dict]] = [
        ("+ data as in-memory tensors", {"loader": "tensors"}),
        ("+ SGD with Nesterov momentum", {"optimizer": "sgd", "lr": FAST.profile.lr}),
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


#: What each speed lever buys, one setting at a time (the optimizer with its learning rate),
#: from the classic way to the fast path: the experiments notebook times every rung.
LADDER: list[tuple[str, Profile]] = _one_lever_ladder()


def time_ladder(ladder: Sequence[tuple[str, Profile]], images: int, rounds: int,
                data_dir: str | None = None, *, warmup_rounds: int = 1) -> list[list[float]]:
    """Training images per second of every rung, ``rounds`` times: ``result[rung][round]``.

    Each round times every rung in turn (:func:`~mnist_helpers.lab.bench.measure_throughput`,
    ``images`` images after a few untimed batches), so neighbouring rungs are timed close
    together. A slow moment of the machine falls on the rungs timed at that moment; repeated
    rounds spread it over the rungs instead of leaving it all on one. The first
    ``warmup_rounds`` rounds are timed too but thrown away: a fresh process's first timings
    can carry its start-up costs (one committed run timed its first rung at a third of its
    later speed), and the untimed batches of one rung are too few to absorb them.
    """
    for name, value, least in (("images", images, 1), ("rounds", rounds, 1),
                               ("warmup_rounds", warmup_rounds, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")
    speeds: list[list[float]] = [[] for _ in ladder]
    for round_number in range(warmup_rounds + rounds):
        for rung, (_label, profile) in enumerate(ladder):
            speed = measure_throughput(profile, images, data_dir)
            if round_number >= warmup_rounds:  # a warm-up round's timings are not kept
                speeds[rung].append(speed)
    return speeds
