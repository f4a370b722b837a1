"""Small, fair experiments for notebook 06: train a configuration, sweep hyperparameters, and
split a training step's time into its phases.

Every run here starts from the same seed and the same data split, trains with
:func:`mnist_helpers.train.fit` (so it picks its epoch on the validation split), and only then
looks at the test set once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .data import TensorBatches
from .device import place_model, seed_everything
from .models import build_model, count_parameters
from .profiles import Profile
from .train import TrainingData, evaluate, fit, make_optimizer


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

    @property
    def images_per_second(self) -> float:
        """Training throughput."""
        return self.train_images / max(self.seconds_per_epoch, 1e-9)

    def row(self) -> dict:
        """The figures as a plain dict (one table row)."""
        return {"name": self.name, "arch": self.arch, "parameters": self.parameters,
                "epochs": self.epochs, "seconds/epoch": round(self.seconds_per_epoch, 1),
                "images/s": round(self.images_per_second),
                "val acc %": round(100 * self.val_accuracy, 2),
                "test acc %": round(100 * self.test_accuracy, 2)}


def train_config(name: str, profile: Profile, data: TrainingData, device: torch.device | str,
                 *, seed: int = 0) -> RunResult:
    """Train a fresh ``profile.arch`` with ``profile``'s hyperparameters on ``data.train``.

    The batch size is ``profile.batch_size`` (the batches of ``data.train`` are re-cut); the
    epoch kept is the best on ``data.val``; the test accuracy is measured once, at the end.
    """
    seed_everything(seed)
    model = build_model(profile.arch, **profile.model_kwargs())
    train = TensorBatches(data.train.dataset, profile.batch_size, shuffle=True, seed=seed)
    history = fit(model, train, data.val, profile, device=device, seed=seed, progress=False,
                  log_interval=0, log=lambda _line: None)
    return RunResult(
        name=name, arch=profile.arch, parameters=count_parameters(model),
        epochs=len(history.epoch), train_images=len(train.dataset),
        seconds_per_epoch=sum(history.train_seconds) / max(len(history.train_seconds), 1),
        val_accuracy=history.best_val_accuracy,
        test_accuracy=evaluate(model, data.test, device).accuracy, model=model,
    )


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
                               profile.with_overrides(batch_size=batch_size, lr=lr), data, device,
                               seed=seed)
            grid[i, j] = run.val_accuracy
            if on_result is not None:
                on_result(batch_size, lr, run.val_accuracy)
    return grid


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def step_breakdown(arch: str, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                   device: torch.device | str, *, steps: int = 30, warmup: int = 5,
                   channels_last: bool = True, lr: float = 0.05, seed: int = 0
                   ) -> dict[str, float]:
    """Where a training step's time goes: milliseconds per step for getting the batch,
    the forward pass (with the loss), the backward pass and the optimizer step.

    A fresh ``arch`` is trained with SGD for ``warmup`` untimed steps, then ``steps`` timed
    ones (the device is synchronised between phases, so GPU time lands in the right phase).
    """
    device = torch.device(device)
    seed_everything(seed)
    model = build_model(arch)
    model = place_model(model, device) if channels_last else model.to(device)
    model.train()
    optimizer = make_optimizer("sgd", model.parameters(), lr)
    totals = {"batch": 0.0, "forward": 0.0, "backward": 0.0, "optimizer": 0.0}
    iterator = iter(batches)
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        try:
            images, labels = next(iterator)
        except StopIteration:
            iterator = iter(batches)
            images, labels = next(iterator)
        images, labels = images.to(device), labels.to(device)
        _sync(device)
        t1 = time.perf_counter()
        loss = F.cross_entropy(model(images), labels)
        _sync(device)
        t2 = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        _sync(device)
        t3 = time.perf_counter()
        optimizer.step()
        _sync(device)
        t4 = time.perf_counter()
        if step >= warmup:
            for key, seconds in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                totals[key] += seconds
    return {key: 1000 * value / steps for key, value in totals.items()}
