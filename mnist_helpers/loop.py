"""The training loop, one optimizer step at a time, and what it needs: the optimizer and the
learning-rate schedule a profile names.

:func:`training_steps` is the loop every caller shares (``fit``, the benchmark, the
experiments and the playground widget). It is a generator: it yields a :class:`Step` after
each optimizer step, so a caller watches training by reading the steps and stops it by
leaving its ``for`` loop. :func:`mnist_helpers.train.fit` adds what a real run needs around it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .augment import augment_batch
from .data import Batches
from .device import GpuSettings, gpu_settings, seeded_generator
from .profiles import Profile


def make_optimizer(profile: Profile, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """``sgd`` (with Nesterov momentum), ``adam``, ``adamw``, or ``adadelta`` (as PyTorch's
    MNIST example trains its network)."""
    lr, decay = profile.lr, profile.weight_decay
    if profile.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=profile.momentum,
                               nesterov=profile.momentum > 0, weight_decay=decay)
    if profile.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    if profile.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=decay)
    return torch.optim.Adadelta(params, lr=lr, weight_decay=decay)


def make_scheduler(profile: Profile, optimizer: torch.optim.Optimizer, steps_per_epoch: int
                   ) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning-rate schedule, stepped once per optimizer step.

    ``onecycle``: warm up from ``lr/25`` to ``lr`` over the first 25% of the steps (at least
    1.5 steps: OneCycleLR divides by zero at exactly one), then anneal to almost zero. The
    momentum is left as the profile sets it. ``steplr``: multiply the rate by 0.7 after every
    epoch, as PyTorch's MNIST example does.
    """
    total = profile.epochs * steps_per_epoch
    if profile.schedule == "steplr":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=steps_per_epoch, gamma=0.7)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=profile.lr, total_steps=total,
        pct_start=min(max(0.25, 1.5 / total), 0.9), cycle_momentum=False)


def learning_rates(profile: Profile, steps_per_epoch: int) -> list[float]:
    """The learning rate of every step of a run of ``profile``, as its schedule plans it."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=profile.lr)
    scheduler = make_scheduler(profile, optimizer, steps_per_epoch)
    rates = []
    for _ in range(profile.epochs * steps_per_epoch):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@dataclass
class TrainingSetup:
    """Everything that changes the weights besides the model and the data, made once per run
    by :meth:`create`: the optimizer, the learning-rate schedule, the GPU settings (and the
    gradient scaler of mixed precision), label smoothing and augmentation."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    gpu: GpuSettings
    label_smoothing: float
    augment: torch.Generator | None  # the random numbers of augmentation, or None: no augmentation
    low_resolution: float = 0.0  # the share of augmented images that are also blurred

    @classmethod
    def create(cls, model: nn.Module, profile: Profile, steps_per_epoch: int,
               device: torch.device, seed: int = 0) -> TrainingSetup:
        """Optimizer, schedule, GPU settings and augmentation for ``profile``."""
        optimizer = make_optimizer(profile, model.parameters())
        gpu = gpu_settings(device, profile.mixed_precision)
        return cls(optimizer=optimizer,
                   scheduler=make_scheduler(profile, optimizer, steps_per_epoch),
                   scaler=gpu.grad_scaler(device), gpu=gpu,
                   label_smoothing=profile.label_smoothing,
                   augment=seeded_generator(seed + 1) if profile.augment else None,
                   low_resolution=profile.low_resolution)


@dataclass
class Step:
    """One optimizer step, as :func:`training_steps` reports it."""

    epoch: int  # 1, 2, ...
    batch: int  # 1 .. batches
    batches: int  # batches per epoch
    images: int  # images in this batch
    lr: float  # the learning rate this step used
    loss_tensor: torch.Tensor = field(repr=False)  # the batch's mean loss (on the device)
    correct_tensor: torch.Tensor = field(repr=False)  # how many it got right (on the device)

    @property
    def loss(self) -> float:
        """The batch's mean training loss (reading it waits for a GPU to finish the step)."""
        return self.loss_tensor.item()

    @property
    def accuracy(self) -> float:
        """The share of the batch the model got right (before this step's update)."""
        return self.correct_tensor.item() / self.images

    @property
    def epoch_done(self) -> bool:
        """Whether this was the last step of its epoch."""
        return self.batch == self.batches


def training_steps(model: nn.Module, batches: Batches, setup: TrainingSetup, *,
                   epochs: Iterable[int], device: torch.device | str) -> Iterator[Step]:
    """The training loop: for every batch of every epoch, forward, loss, backward, optimizer
    step and schedule step, then yield a :class:`Step`. Leave the ``for`` loop to stop."""
    device = torch.device(device)
    n_batches = len(batches)
    with torch.backends.cudnn.flags(enabled=torch.backends.cudnn.enabled,
                                    benchmark=setup.gpu.cudnn_benchmark):
        for epoch in epochs:
            model.train()
            for batch, (images, labels) in enumerate(batches, start=1):
                images = images.to(device, non_blocking=setup.gpu.non_blocking)
                labels = labels.to(device, non_blocking=setup.gpu.non_blocking)
                if setup.augment is not None:
                    images = augment_batch(images, generator=setup.augment,
                                           low_resolution=setup.low_resolution)
                with setup.gpu.autocast(device):
                    logits = model(images)
                    loss = F.cross_entropy(logits, labels,
                                           label_smoothing=setup.label_smoothing)
                setup.optimizer.zero_grad(set_to_none=True)
                setup.scaler.scale(loss).backward()
                setup.scaler.step(setup.optimizer)
                setup.scaler.update()
                lr = setup.optimizer.param_groups[0]["lr"]
                setup.scheduler.step()
                yield Step(epoch, batch, n_batches, len(labels), lr, loss.detach(),
                           (logits.argmax(1) == labels).sum())
