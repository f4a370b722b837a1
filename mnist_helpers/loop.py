"""The training loop, one optimizer step at a time, and what it needs: the optimizer and the
learning-rate schedule a profile names.

:func:`training_steps` is the loop every caller shares (``fit``, the benchmark, the
experiments and the playground widget): forward, loss, backward, optimizer step, schedule
step. It is a generator: it yields a :class:`Step` after each optimizer step, so a caller
watches training by reading the steps and stops it by leaving its ``for`` loop.
:func:`mnist_helpers.train.fit` adds what a real run needs around it.

What only pays on a CUDA GPU (mixed precision, cuDNN autotuning, copies that do not wait) is
kept out of the loop's way in :class:`GpuSpeedups`: the loop calls it at a few marked lines,
which on a CPU do exactly what the plain PyTorch line would. :func:`check_model` says in one
line, before any training, why a model cannot be trained here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .augment import augment_batch
from .data import Batches
from .device import GpuSettings, gpu_settings, seeded_generator
from .errors import ConfigError
from .profiles import Profile


def make_optimizer(profile: Profile, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """The optimizer ``profile.optimizer`` names, with the profile's learning rate and weight
    decay: ``sgd`` (with Nesterov momentum), ``adam``, ``adamw``, or ``adadelta`` (as PyTorch's
    MNIST example trains its network). For the default profile that is
    ``torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)``."""
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
    """The learning-rate schedule ``profile.schedule`` names, stepped once per optimizer step.

    ``onecycle``: warm up from ``lr/25`` to ``lr`` over the first 25% of the steps (at least
    1.5 steps: OneCycleLR divides by zero at exactly one), then anneal to almost zero. The
    momentum is left as the profile sets it. For the default profile (5 epochs of 430 steps)
    that is ``OneCycleLR(optimizer, max_lr=0.1, total_steps=2150, pct_start=0.25,
    cycle_momentum=False)``. ``steplr``: multiply the rate by 0.7 after every epoch, as
    PyTorch's MNIST example does: ``StepLR(optimizer, step_size=steps_per_epoch, gamma=0.7)``.
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


class GpuSpeedups:
    """What only pays on a CUDA GPU, kept in one place so that :func:`training_steps` reads as
    the plain loop it is (:mod:`mnist_helpers.device` says why each pays). The loop calls it
    at its marked lines; on a CPU, and wherever a setting is off, each does exactly what the
    plain line says:

    * :meth:`autotuning`, around the whole loop: cuDNN times its convolution algorithms once
      per input shape, then uses the fastest (nothing without cuDNN);
    * :meth:`to_device`: ``images.to(device), labels.to(device)``, copied on CUDA without
      waiting for the GPU to finish the previous step;
    * :meth:`autocast`, around the forward pass and the loss: mixed precision (float16 on a
      CUDA GPU; bfloat16 on a CPU only when a profile forces it);
    * :meth:`backward_and_step`, only when :attr:`scales_loss` (float16 mixed precision):
      ``loss.backward()`` and ``optimizer.step()`` through a gradient scaler, which multiplies
      the loss so that float16's small gradients do not round to zero, divides the gradients
      back before the step, and skips a step whose gradients overflowed.
    """

    def __init__(self, settings: GpuSettings, scaler: torch.amp.GradScaler) -> None:
        self.settings = settings
        self.scaler = scaler  # its state is saved in checkpoints, so a resumed run goes on

    @classmethod
    def for_device(cls, device: torch.device, mixed_precision: bool | None) -> GpuSpeedups:
        """All on for a CUDA GPU, all off elsewhere (``mixed_precision`` forces it)."""
        settings = gpu_settings(device, mixed_precision)
        return cls(settings, settings.grad_scaler(device))

    @property
    def scales_loss(self) -> bool:
        """Whether the backward pass and the step go through the gradient scaler."""
        return self.scaler.is_enabled()

    @contextmanager
    def autotuning(self) -> Iterator[None]:
        """cuDNN autotuning while the loop runs, when it is on."""
        with torch.backends.cudnn.flags(enabled=torch.backends.cudnn.enabled,
                                        benchmark=self.settings.cudnn_benchmark):
            yield

    def to_device(self, images: torch.Tensor, labels: torch.Tensor, device: torch.device
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch on ``device`` (a tensor already there is not copied)."""
        non_blocking = self.settings.non_blocking
        return (images.to(device, non_blocking=non_blocking),
                labels.to(device, non_blocking=non_blocking))

    def autocast(self, device: torch.device) -> AbstractContextManager[None]:
        """Mixed precision for what runs inside, when it is on."""
        return self.settings.autocast(device)

    def backward_and_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """``loss.backward()`` and ``optimizer.step()`` through the gradient scaler."""
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()


@dataclass
class TrainingSetup:
    """Everything that changes the weights besides the model and the data, made once per run
    by :meth:`create`: the optimizer, the learning-rate schedule, label smoothing,
    augmentation, and the speed-ups that only pay on a GPU."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    speedups: GpuSpeedups
    label_smoothing: float
    augment: torch.Generator | None  # the random numbers of augmentation, or None: no augmentation
    low_resolution: float = 0.0  # the share of augmented images that are also blurred
    uniform_beyond: bool = False  # labels with no output (non-digits) aim at 1/K on every output

    @classmethod
    def create(cls, model: nn.Module, profile: Profile, steps_per_epoch: int,
               device: torch.device, seed: int = 0) -> TrainingSetup:
        """Optimizer, schedule, augmentation and GPU speed-ups for ``profile``."""
        optimizer = make_optimizer(profile, model.parameters())
        return cls(optimizer=optimizer,
                   scheduler=make_scheduler(profile, optimizer, steps_per_epoch),
                   speedups=GpuSpeedups.for_device(torch.device(device),
                                                   profile.mixed_precision),
                   label_smoothing=profile.label_smoothing,
                   augment=seeded_generator(seed + 1) if profile.augment else None,
                   low_resolution=profile.low_resolution,
                   uniform_beyond=bool(profile.nondigits) and profile.nondigit_target == "uniform")


def uniform_beyond_loss(logits: torch.Tensor, labels: torch.Tensor,
                        label_smoothing: float = 0.0) -> torch.Tensor:
    """The batch's mean cross-entropy, where an image whose label has no output (a non-digit,
    label 10 or 11, shown to a ten-output network) is trained towards the same probability,
    1/K, on each of the K outputs: it should look like no digit in particular (*outlier
    exposure*, Hendrycks et al., 2019). Its cross-entropy against that target is minus the
    mean of its K log-probabilities. The other images keep their usual (smoothed) target."""
    outputs = logits.shape[1]
    beyond = labels >= outputs  # the images with no output of their own
    digit_loss = F.cross_entropy(logits, labels.clamp(max=outputs - 1), reduction="none",
                                 label_smoothing=label_smoothing)
    uniform_loss = -F.log_softmax(logits.float(), dim=1).mean(dim=1)
    return torch.where(beyond, uniform_loss, digit_loss.float()).mean()


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
    step and schedule step, then yield a :class:`Step`. Leave the ``for`` loop to stop.

    The lines marked ``GPU`` call :class:`GpuSpeedups`, speed-ups that only pay on a CUDA
    GPU; on a CPU they change nothing, and the two steps after ``else:`` are the ones taken."""
    device = torch.device(device)
    gpu = setup.speedups
    with gpu.autotuning():  # GPU: cuDNN picks its fastest convolutions (CPU: nothing)
        for epoch in epochs:
            model.train()  # training mode: dropout drops, batch norm uses each batch's statistics
            for batch, (images, labels) in enumerate(batches, start=1):
                images, labels = gpu.to_device(images, labels, device)  # GPU: to its memory
                if setup.augment is not None:  # new random variations of every image
                    images = augment_batch(images, generator=setup.augment,
                                           low_resolution=setup.low_resolution)
                with gpu.autocast(device):  # GPU: mixed precision (CPU: nothing)
                    logits = model(images)  # forward: one score per class, for every image
                    if setup.uniform_beyond:  # non-digits on ten outputs (notebook 07c)
                        loss = uniform_beyond_loss(logits, labels, setup.label_smoothing)
                    else:
                        loss = F.cross_entropy(logits, labels,
                                               label_smoothing=setup.label_smoothing)
                setup.optimizer.zero_grad()  # forget the previous batch's gradients
                if gpu.scales_loss:  # GPU, float16: the same two steps, through a scaler
                    gpu.backward_and_step(loss, setup.optimizer)
                else:
                    loss.backward()  # backward: the loss's gradient for every weight
                    setup.optimizer.step()  # every weight takes a step against its gradient
                lr = setup.optimizer.param_groups[0]["lr"]  # the rate this step used
                setup.scheduler.step()  # the learning rate of the next step
                yield Step(epoch, batch, len(batches), len(labels), lr, loss.detach(),
                           (logits.argmax(1) == labels).sum())


def check_is_network(model: object) -> nn.Module:
    """``model``, or a TypeError in one line unless it is a network (a ``torch.nn.Module``)."""
    if isinstance(model, type) and issubclass(model, nn.Module):
        raise TypeError(f"model is the class {model.__name__}, not a network: pass "
                        f"{model.__name__}() (a fresh one)")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a network (a torch.nn.Module), not a "
                        f"{type(model).__name__}")
    return model


def check_model(model: object, num_classes: int) -> None:
    """Refuse, in one line and before any training, what the loop cannot train: anything but
    a ``torch.nn.Module``, a model without weights to learn, or one that does not turn a
    batch of N×1×28×28 images into N×``num_classes`` scores (tried on two blank images)."""
    model = check_is_network(model)
    weights = list(model.parameters())
    blank = torch.zeros(2, 1, 28, 28, device=weights[0].device if weights else None)
    was_training = model.training
    try:
        with torch.no_grad():
            scores = model.eval()(blank)  # eval mode: nothing is learned from the blanks
    except Exception as exc:  # noqa: BLE001 - any failure of the network's own code
        why = " ".join(str(exc).split())[:200]
        fix = ("flatten the images before a Linear layer (nn.Flatten())"
               if "cannot be multiplied" in why else "fix its forward")
        raise ConfigError(f"The model cannot take a batch of MNIST images (N×1×28×28): "
                          f"{type(exc).__name__}: {why}; {fix}.") from exc
    finally:
        model.train(was_training)
    if not isinstance(scores, torch.Tensor) or not scores.is_floating_point():
        raise ConfigError(f"The model returns a {type(scores).__name__}, not a tensor of "
                          f"scores: its forward must return N×{num_classes} numbers (logits).")
    if tuple(scores.shape) != (2, num_classes):
        raise ConfigError(f"The model gives scores of shape {tuple(scores.shape)} for 2 images; "
                          f"training needs 2×{num_classes}, one score per class: end it with "
                          f"a layer of {num_classes} outputs, e.g. nn.Linear(..., "
                          f"{num_classes}).")
    if not any(w.requires_grad for w in model.parameters()):
        raise ConfigError("The model has no weights to learn (no parameters that require "
                          "gradients): give it layers such as nn.Conv2d or nn.Linear.")
